// WebSocket echo: ghostnet's WebSocketServer (on listenHttp1) against the `ws` package's
// server with bufferutil, both driven by the same client program (echo-client.js, the `ws`
// client) pinned to CLIENT_CORE while the server runs pinned to SERVER_CORE.
//
// Per round and server (order alternating between rounds): a plain server takes 64
// connections × one 32-byte binary message in flight, then 64 × one 16 KiB message; a
// permessage-deflate server takes 64 × one 16 KiB JSON-like text message. Each run warms up
// for 1 s, then measures for DURATION. Then, per round, RSS of a fresh server before and
// after 10,000 idle connections (hold-connections.js) → KB per connection.
// Medians of ROUNDS runs per side; ratios ours / ws.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { median, rssMiB, runPinned, spawnReporter, startServer } from '../lib.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const DURATION_MS = parseDuration(process.env.BENCH_DURATION ?? '5s');
const CONNECTIONS = 64;
const HELD_CONNECTIONS = Number(process.env.BENCH_HELD ?? 10_000);
const CLOCK_TICKS = 100; // USER_HZ, for /proc/PID/stat
const here = (p) => fileURLToPath(new URL(p, import.meta.url));

const SERVERS = {
  ghostnet: (deflate) =>
    startServer(here('./ghostnet-echo-server.js'), deflate ? ['--deflate'] : []),
  ws: (deflate) => startServer(here('./ws-echo-server.js'), deflate ? ['--deflate'] : []),
};

const SCENARIOS = [
  { key: '32B', label: '32 B echo', size: 32, kind: 'binary', deflate: false },
  { key: '16KiB', label: '16 KiB echo', size: 16_384, kind: 'binary', deflate: false },
  { key: 'deflate', label: 'deflate 16 KiB JSON', size: 16_384, kind: 'json', deflate: true },
];

function parseDuration(text) {
  const m = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(String(text).trim());
  if (!m) throw new Error(`BENCH_DURATION: cannot parse ${text}`);
  return Math.round(Number(m[1]) * (m[2] === 'ms' ? 1 : 1000));
}

/** User + system CPU seconds a process has used, from /proc (Linux). */
function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

async function echo(server, scenario) {
  const args = [here('./echo-client.js'), String(server.port), String(CONNECTIONS)];
  args.push(String(scenario.size), String(DURATION_MS), scenario.kind);
  if (scenario.deflate) args.push('--deflate');
  const cpu0 = cpuSeconds(server.pid);
  const t0 = performance.now();
  const out = await runPinned(process.execPath, args, { timeoutMs: DURATION_MS + 45_000 });
  const serverCpuPct = ((cpuSeconds(server.pid) - cpu0) / ((performance.now() - t0) / 1000)) * 100;
  const r = JSON.parse(out.trim().split('\n').pop());
  if (!(r.messages > 0)) throw new Error(`no messages echoed: ${out}`);
  return { ...r, serverCpuPct };
}

/** Runs hold-connections.js pinned to CLIENT_CORE; resolves once it reports. */
function holdConnections(port) {
  return spawnReporter(here('./hold-connections.js'), [String(port), String(HELD_CONNECTIONS)]);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function idleMemory(name) {
  const server = await SERVERS[name](false);
  let holder;
  try {
    await sleep(500);
    const beforeMiB = rssMiB(server.pid);
    holder = holdConnections(server.port);
    const { held, failed } = await holder.report;
    await sleep(1_000);
    const afterMiB = rssMiB(server.pid);
    return { held, failed, beforeMiB, afterMiB, kbPerConn: ((afterMiB - beforeMiB) * 1024) / held };
  } finally {
    await holder?.stop();
    await server.stop();
  }
}

export async function run() {
  const names = Object.keys(SERVERS);
  const runs = {};
  const memory = { ghostnet: [], ws: [] };
  for (const s of SCENARIOS) runs[s.key] = { ghostnet: [], ws: [] };
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? names : [...names].reverse();
    for (const name of order) {
      for (const deflate of [false, true]) {
        const server = await SERVERS[name](deflate);
        try {
          for (const s of SCENARIOS.filter((x) => x.deflate === deflate)) {
            const r = await echo(server, s);
            runs[s.key][name].push(r);
            console.log(
              `  round ${round + 1} ${name.padEnd(8)} ${s.label.padEnd(20)} ` +
                `${Math.round(r.messagesPerSec)} msg/s, ${r.mbPerSec.toFixed(1)} MB/s, ` +
                `p50 ${r.p50Ms.toFixed(3)} ms, p99 ${r.p99Ms.toFixed(3)} ms, ` +
                `server CPU ${r.serverCpuPct.toFixed(0)} %, client CPU ${r.clientCpuPct.toFixed(0)} %` +
                (r.errors || r.badEchoes ? `, errors ${r.errors}, bad echoes ${r.badEchoes}` : ''),
            );
          }
        } finally {
          await server.stop();
        }
      }
    }
    for (const name of order) {
      const m = await idleMemory(name);
      memory[name].push(m);
      console.log(
        `  round ${round + 1} ${name.padEnd(8)} ${m.held} idle connections (${m.failed} failed): ` +
          `RSS ${m.beforeMiB.toFixed(1)} → ${m.afterMiB.toFixed(1)} MiB, ${m.kbPerConn.toFixed(1)} KB each`,
      );
    }
  }

  const results = [];
  const row = (name, higherIsBetter, oursRuns, theirsRuns) =>
    results.push({
      name,
      peer: 'ws',
      higherIsBetter,
      ours: median(oursRuns),
      theirs: median(theirsRuns),
      ratio: median(oursRuns) / median(theirsRuns),
      oursRuns,
      theirsRuns,
    });
  for (const s of SCENARIOS) {
    const pick = (name, field) => runs[s.key][name].map((r) => r[field]);
    row(
      `ws ${s.label} msg/s`,
      true,
      pick('ghostnet', 'messagesPerSec'),
      pick('ws', 'messagesPerSec'),
    );
    if (s.deflate)
      row(`ws ${s.label} MB/s`, true, pick('ghostnet', 'mbPerSec'), pick('ws', 'mbPerSec'));
    row(`ws ${s.label} p50 ms`, false, pick('ghostnet', 'p50Ms'), pick('ws', 'p50Ms'));
    row(`ws ${s.label} p99 ms`, false, pick('ghostnet', 'p99Ms'), pick('ws', 'p99Ms'));
    row(
      `ws ${s.label} server CPU %`,
      false,
      pick('ghostnet', 'serverCpuPct'),
      pick('ws', 'serverCpuPct'),
    );
  }
  const mem = (name, field) => memory[name].map((m) => m[field]);
  row('ws RSS idle (MiB)', false, mem('ghostnet', 'beforeMiB'), mem('ws', 'beforeMiB'));
  row(
    `ws RSS ${HELD_CONNECTIONS} idle conns (MiB)`,
    false,
    mem('ghostnet', 'afterMiB'),
    mem('ws', 'afterMiB'),
  );
  row('ws KB per idle connection', false, mem('ghostnet', 'kbPerConn'), mem('ws', 'kbPerConn'));
  return results;
}
