// QUIC: ghostnet's endpoint (quiche's sans-I/O API driven by ghostnet) against
// @matrixai/quic's QUICServer/QUICClient (its JavaScript layer over the same quiche
// binding), with TCP + TLS 1.3 from node:tls as the reference. Server pinned to
// SERVER_CORE, client to CLIENT_CORE, separate processes, loopback. 3 rounds alternating
// ghostnet and the baseline; medians. Metrics:
//   - one-stream bulk: 64 MiB on one stream, MiB/s until the server's 8-byte reply;
//   - 50 concurrent streams × 1 MiB on one connection, aggregate MiB/s;
//   - connection setup: 100 sequential handshakes (to established), median ms;
//   - CPU per MiB: client + server CPU time (ms) for the bulk transfer, per MiB.
// Usage: node bench/quic/suite.js   (also `node bench/run.js quic`)
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { makeCert, alternate, median, runPinned, startServer } from '../lib.js';
import { cpuMs } from './common.js';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const BULK_MIB = 64;
const STREAMS = 50;
const STREAM_MIB = 1;
const SETUPS = 100;

async function measure(impl, certs, mode, args) {
  const server = await startServer(here(`./${impl}-server.js`), certs);
  try {
    const cpu0 = cpuMs(server.pid);
    const out = await runPinned(
      process.execPath,
      [here(`./${impl}-client.js`), String(server.port), mode, ...args.map(String)],
      { timeoutMs: 180_000 },
    );
    const r = JSON.parse(out.trim().split('\n').pop());
    r.serverCpuMs = cpuMs(server.pid) - cpu0;
    return r;
  } finally {
    await server.stop();
  }
}

export async function run() {
  const { dir, cert, key } = makeCert('ghostnet-bench-quic-');
  const certs = [cert, key];
  const results = [];
  try {
    const pick = (f) => (runs) => runs.map(f);
    const cases = [
      ['one-stream bulk MiB/s', 'bulk', [BULK_MIB], (r) => r.mibPerS, true],
      [`${STREAMS} streams MiB/s`, 'streams', [STREAMS, STREAM_MIB], (r) => r.mibPerS, true],
      ['connection setup median ms', 'setup', [SETUPS], (r) => r.medianMs, false],
      [
        'CPU ms per MiB (bulk)',
        'bulk',
        [BULK_MIB],
        (r) => (r.clientCpuMs + r.serverCpuMs) / r.mib,
        false,
      ],
    ];
    for (const [name, mode, args, value, higherIsBetter] of cases) {
      const tlsRuns = [];
      const r = await alternate(
        3,
        async () => value(await measure('ghostnet', certs, mode, args)),
        async () => {
          tlsRuns.push(value(await measure('tls', certs, mode, args)));
          return value(await measure('matrixai', certs, mode, args));
        },
      );
      const fmt = pick((x) => x.toFixed(2));
      console.log(
        `  ${name}: ghostnet ${fmt(r.oursRuns).join(', ')}; @matrixai/quic ${fmt(r.theirsRuns).join(', ')}; TCP+TLS ${fmt(tlsRuns).join(', ')}`,
      );
      results.push({
        name: `quic ${name}`,
        ours: r.ours,
        theirs: r.theirs,
        peer: '@matrixai/quic',
        ratio: r.ratio,
        higherIsBetter,
        reference: { name: 'TCP+TLS (node:tls)', median: median(tlsRuns) },
      });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return results;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const r of await run()) {
    console.log(
      `${r.name}: ghostnet ${r.ours.toFixed(2)} vs ${r.peer} ${r.theirs.toFixed(2)} (ratio ${r.ratio.toFixed(2)}); TCP+TLS ${r.reference.median.toFixed(2)}`,
    );
  }
}
