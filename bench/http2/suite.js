// HTTP/2 server throughput: ghostnet's HTTP/2 server against node:http2, h2c (prior
// knowledge) and TLS (ALPN h2), driven by h2load.
//
// h2load (`-t1 -c16 -m32`, warm-up 1 s, then DURATION seconds; pinned to CLIENT_CORE) drives
// GET /hello against each server pinned to SERVER_CORE:
//   - ghostnet:          ghostnet-server.js — `listenHttp2` with a one-route handler;
//   - ghostnet serve:    the full CLI app (`ghostnet serve`: middleware, router, metrics);
//   - node:http2:        node-server.js — the 'stream' API (node's fast path);
//   - node:http2 compat: node-server.js --compat — the req/res compatibility API.
// Servers alternate within each of ROUNDS rounds (order reversed every other round);
// medians and ratios ours / node reported. Every run must end with 0 failed, 0 errored.
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { makeCert, median, runPinned, startServer } from '../lib.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 5);
const CLIENTS = 16;
const STREAMS = 32;
const here = (p) => fileURLToPath(new URL(p, import.meta.url));

function servers(cert) {
  const tlsArgs = (tls) => (tls ? ['--tls', cert.cert, cert.key] : []);
  return {
    ghostnet: (tls) => startServer(here('./ghostnet-server.js'), tlsArgs(tls)),
    'ghostnet serve': (tls) =>
      startServer(here('../../bin/ghostnet.js'), [
        'serve',
        '--port',
        '0',
        ...(tls ? ['--tls-cert', cert.cert, '--tls-key', cert.key] : []),
      ]),
    'node:http2': (tls) => startServer(here('./node-server.js'), tlsArgs(tls)),
    'node:http2 compat': (tls) =>
      startServer(here('./node-server.js'), [...tlsArgs(tls), '--compat']),
  };
}

async function h2load(port, tls) {
  const url = `${tls ? 'https' : 'http'}://127.0.0.1:${port}/hello`;
  const args = [
    '-t1',
    `-c${CLIENTS}`,
    `-m${STREAMS}`,
    '--warm-up-time=1',
    '-D',
    String(DURATION_S),
  ];
  const out = await runPinned('h2load', [...args, url], { timeoutMs: (DURATION_S + 30) * 1000 });
  const rps = Number(/finished in [\d.]+m?s, ([\d.]+) req\/s/.exec(out)?.[1]);
  const m =
    /requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored/.exec(
      out,
    );
  if (!Number.isFinite(rps) || !m) throw new Error(`could not read h2load output:\n${out}`);
  const protocol = /Application protocol: (\S+)/.exec(out)?.[1];
  return {
    rps,
    done: Number(m[2]),
    succeeded: Number(m[3]),
    failed: Number(m[4]),
    errored: Number(m[5]),
    protocol,
  };
}

export async function run() {
  const cert = makeCert('ghostnet-bench-h2-');
  try {
    const SERVERS = servers(cert);
    const names = Object.keys(SERVERS);
    const rps = { h2c: {}, tls: {} };
    const problems = [];
    for (const mode of Object.keys(rps)) for (const n of names) rps[mode][n] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? names : [...names].reverse();
      for (const name of order) {
        for (const mode of ['h2c', 'tls']) {
          const server = await SERVERS[name](mode === 'tls');
          try {
            await new Promise((r) => setTimeout(r, 300));
            const r = await h2load(server.port, mode === 'tls');
            rps[mode][name].push(r.rps);
            console.log(
              `  round ${round + 1} ${name.padEnd(18)} ${mode.padEnd(4)} ${Math.round(r.rps)} req/s ` +
                `(${r.succeeded} succeeded, ${r.failed} failed, ${r.errored} errored, ${r.protocol})`,
            );
            if (r.failed > 0 || r.errored > 0 || r.protocol !== (mode === 'tls' ? 'h2' : 'h2c'))
              problems.push(
                `${name} ${mode}: ${r.failed} failed, ${r.errored} errored, ${r.protocol}`,
              );
          } finally {
            await server.stop();
          }
        }
      }
    }
    if (problems.length > 0) console.log(`problems: ${problems.join('; ')}`);
    const results = [];
    for (const mode of ['h2c', 'tls']) {
      for (const [ours, peer] of [
        ['ghostnet', 'node:http2'],
        ['ghostnet', 'node:http2 compat'],
        ['ghostnet serve', 'node:http2'],
      ]) {
        const o = median(rps[mode][ours]);
        const t = median(rps[mode][peer]);
        results.push({
          name: `h2 ${mode === 'tls' ? 'TLS' : 'h2c'} ${ours === 'ghostnet' ? '' : 'serve '}req/s`,
          peer,
          higherIsBetter: true,
          unit: 'req/s',
          ours: o,
          theirs: t,
          ratio: o / t,
          oursRuns: rps[mode][ours],
          theirsRuns: rps[mode][peer],
        });
      }
    }
    return results;
  } finally {
    rmSync(cert.dir, { recursive: true, force: true });
  }
}
