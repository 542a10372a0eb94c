// HTTP/1.1 server throughput: `ghostnet serve` against node:http and against a raw node:net
// server that writes a canned response per request head (the runtime's ceiling).
//
// wrk (pinned to CLIENT_CORE) drives GET /hello for DURATION on 64 keep-alive connections,
// with and without pipelining (depth 16, pipeline.lua); each server runs pinned to
// SERVER_CORE. Servers alternate within each of ROUNDS rounds; medians and ratios reported.
// Then: idle RSS, RSS after the load runs (>100k requests each), and RSS with 10,000
// keep-alive connections held open.
import { fileURLToPath } from 'node:url';
import { median, rssMiB, runPinned, spawnReporter, startServer } from '../lib.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const DURATION = process.env.BENCH_DURATION ?? '5s';
const CONNECTIONS = 64;
const HELD_CONNECTIONS = Number(process.env.BENCH_HELD ?? 10_000);
const here = (p) => fileURLToPath(new URL(p, import.meta.url));

const SERVERS = {
  ghostnet: () => startServer(here('../../bin/ghostnet.js'), ['serve', '--port', '0']),
  'node:http': () => startServer(here('./node-http-server.js')),
  raw: () => startServer(here('./raw-server.js')),
};

async function wrk(port, pipelined) {
  const args = ['-t1', `-c${CONNECTIONS}`, `-d${DURATION}`];
  if (pipelined) args.push('-s', here('./pipeline.lua'));
  args.push(`http://127.0.0.1:${port}/hello`);
  if (pipelined) args.push('--', '16');
  const out = await runPinned('wrk', args, { timeoutMs: 60_000 });
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const total = Number(/(\d+) requests in/.exec(out)?.[1]);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const errors = /Socket errors: (.*)/.exec(out)?.[1];
  if (!Number.isFinite(rps)) throw new Error(`could not read wrk output:\n${out}`);
  return { rps, total, non2xx, errors };
}

/** Opens the connections and keeps them open; measure once `report` has resolved. */
function holdConnections(port) {
  return spawnReporter(here('./hold-connections.js'), [String(port), String(HELD_CONNECTIONS)]);
}

export async function run() {
  const names = Object.keys(SERVERS);
  const rps = { keepalive: {}, pipelined: {} };
  const memory = {};
  const problems = [];
  for (const name of names) {
    rps.keepalive[name] = [];
    rps.pipelined[name] = [];
  }
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? names : [...names].reverse();
    for (const name of order) {
      const server = await SERVERS[name]();
      try {
        await new Promise((r) => setTimeout(r, 300));
        if (round === 0) memory[name] = { idleMiB: rssMiB(server.pid) };
        for (const mode of ['keepalive', 'pipelined']) {
          const r = await wrk(server.port, mode === 'pipelined');
          rps[mode][name].push(r.rps);
          if (r.non2xx > 0 || r.errors)
            problems.push(`${name} ${mode}: non-2xx ${r.non2xx}, errors ${r.errors ?? 'none'}`);
        }
        if (round === 0) memory[name].afterLoadMiB = rssMiB(server.pid);
      } finally {
        await server.stop();
      }
    }
  }
  for (const name of ['ghostnet', 'node:http']) {
    const server = await SERVERS[name]();
    try {
      // Measured while the connections are open: both servers close idle keep-alive
      // connections after 5 s, so the holder reports as soon as every response arrived.
      const holder = holdConnections(server.port);
      try {
        const held = await holder.report;
        memory[name].heldMiB = rssMiB(server.pid);
        memory[name].heldConnections = held.held;
      } finally {
        await holder.stop();
      }
    } finally {
      await server.stop();
    }
  }

  const med = (mode, name) => median(rps[mode][name]);
  const results = [];
  for (const mode of ['keepalive', 'pipelined']) {
    for (const peer of ['node:http', 'raw']) {
      results.push({
        name: `http1 ${mode === 'keepalive' ? 'keep-alive' : 'pipelined x16'} req/s`,
        peer,
        higherIsBetter: true,
        ours: med(mode, 'ghostnet'),
        theirs: med(mode, peer),
        ratio: med(mode, 'ghostnet') / med(mode, peer),
        oursRuns: rps[mode].ghostnet,
        theirsRuns: rps[mode][peer],
      });
    }
  }
  for (const key of ['idleMiB', 'afterLoadMiB', 'heldMiB']) {
    results.push({
      name: `http1 RSS ${key.replace('MiB', '')} (MiB)`,
      peer: 'node:http',
      higherIsBetter: false,
      ours: memory.ghostnet[key],
      theirs: memory['node:http'][key],
      ratio: memory.ghostnet[key] / memory['node:http'][key],
    });
  }
  results.push({
    name: 'http1 connections held',
    peer: 'node:http',
    higherIsBetter: true,
    ours: memory.ghostnet.heldConnections,
    theirs: memory['node:http'].heldConnections,
    ratio: memory.ghostnet.heldConnections / memory['node:http'].heldConnections,
  });
  if (problems.length > 0) console.log(`problems: ${problems.join('; ')}`);
  return results;
}
