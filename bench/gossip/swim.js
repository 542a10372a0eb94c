// SWIM on the simulated network (ghostnet/sim) with memberlist's default LAN settings
// (probe 1 s, probe timeout 500 ms, 3 indirect checks, suspicion mult 4 / max 6, gossip
// 200 ms to 3 members, retransmit mult 4, push-pull 30 s), 10 ms one-way latency.
// For each N: form the cluster by joins (each newcomer through a random member), let the
// broadcast queues drain, then measure
//   - dissemination: a metadata update (an alive message, re-gossiped by every receiver)
//     until every member reported member-update: virtual time, gossip rounds (200 ms),
//     and packets sent per member meanwhile;
//   - load: packets and bytes sent per member per second over 30 quiet virtual seconds;
//   - detection: a member killed; time to the first member-failed and until all report it;
//   - false positives: 60 virtual seconds at 5% loss on a fresh cluster (member-failed
//     events about live members).
// The simulator is deterministic: one run per N is the result.
// Usage: node bench/gossip/swim.js [N ...]   (default 10 100 1000; BENCH_GOSSIP_N)
import { GossipSimCluster, suspicionTimeout } from '../../dist/p2p/gossip/index.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import { SimNetwork, constantLatency } from '../../dist/p2p/sim/index.js';
import { plotSvg } from './plot.js';

function form(n, seed, loss = 0) {
  const net = new SimNetwork({ seed, latency: constantLatency(10), loss });
  const c = new GossipSimCluster(net);
  for (let i = 0; i < n; i++) {
    const m = c.add(`n${i}`);
    if (i > 0) c.join(m, c.members[Math.floor(net.rng.next() * i)]);
    net.runFor(20);
  }
  const formedIn = c.runUntil(() => c.converged(), 600_000, 1000);
  c.runUntil(() => c.members.every((m) => m.core.stats().queued === 0), 600_000, 1000);
  return { net, c, formedIn };
}

const sent = (c) => c.members.reduce((s, m) => s + m.core.stats().packetsOut, 0);
const bytes = (c) => c.members.reduce((s, m) => s + m.core.stats().bytesOut, 0);

/** Members other than `name` itself that reported `type` about `name` since event `from`. */
function reportedBy(c, from, type, name) {
  const nodes = new Set();
  for (let i = from; i < c.events.length; i++) {
    const e = c.events[i];
    if (e.event.type === type && e.event.member?.name === name && e.node !== name)
      nodes.add(e.node);
  }
  return nodes;
}

function measure(n) {
  const started = Date.now();
  const { net, c, formedIn } = form(n, 2026);
  // Dissemination.
  const origin = c.members[0];
  let from = c.events.length;
  let p0 = sent(c);
  origin.core.setMeta(new TextEncoder().encode('v2'), net.now);
  origin.node.poke();
  const dissem = c.runUntil(
    () => reportedBy(c, from, 'member-update', origin.name).size === n - 1,
    60_000,
    50,
  );
  const dissemPackets = (sent(c) - p0) / n;
  // Quiet load.
  c.runUntil(() => c.members.every((m) => m.core.stats().queued === 0), 60_000, 500);
  p0 = sent(c);
  const b0 = bytes(c);
  net.runFor(30_000);
  const load = (sent(c) - p0) / n / 30;
  const loadBytes = (bytes(c) - b0) / n / 30;
  // Detection.
  const victim = c.members[n - 1];
  from = c.events.length;
  const k0 = net.now;
  c.kill(victim);
  const all = c.runUntil(
    () => reportedBy(c, from, 'member-failed', victim.name).size === n - 1,
    300_000,
    100,
  );
  const first = c.events.slice(from).find((e) => e.event.type === 'member-failed');
  const firstMs = first === undefined ? NaN : first.time - k0;
  // False positives at 5% loss on a fresh cluster.
  const lossy = form(n, 77, 0.05);
  const f0 = lossy.c.events.length;
  lossy.net.runFor(60_000);
  const falsePositives = lossy.c.events
    .slice(f0)
    .filter((e) => e.event.type === 'member-failed').length;
  return {
    n,
    formedIn,
    dissem,
    rounds: dissem / 200,
    dissemPackets,
    load,
    loadBytes,
    firstMs,
    all,
    falsePositives,
    suspicionMin: suspicionTimeout(4, n, 1000),
    wallS: (Date.now() - started) / 1000,
  };
}

export async function run() {
  const sizes = (process.env.BENCH_GOSSIP_N ?? process.argv.slice(2).join(' '))
    .split(/\s+/)
    .filter(Boolean)
    .map(Number);
  const rows = [];
  const measured = [];
  for (const n of sizes.length > 0 ? sizes : [10, 100, 1000]) {
    const r = measure(n);
    measured.push(r);
    console.log(
      `  ${n} members: formed in ${r.formedIn} ms; update to all in ${r.dissem} ms = ${r.rounds.toFixed(1)} rounds ` +
        `(2·log2 N = ${(2 * Math.log2(n)).toFixed(1)}), ${r.dissemPackets.toFixed(1)} packets/member; ` +
        `load ${r.load.toFixed(2)} packets/s/member (${r.loadBytes.toFixed(0)} B/s); ` +
        `kill detected first after ${r.firstMs} ms, by all after ${r.all} ms (suspicion min ${r.suspicionMin} ms, max ${6 * r.suspicionMin} ms); ` +
        `false positives at 5% loss over 60 s: ${r.falsePositives}; ${r.wallS.toFixed(0)} s wall`,
    );
    rows.push(
      {
        name: `gossip ${n} dissemination rounds`,
        ours: r.rounds,
        theirs: 2 * Math.log2(n),
        peer: '2·log2(N) target',
        ratio: r.rounds / (2 * Math.log2(n)),
        higherIsBetter: false,
        unit: 'rounds',
      },
      {
        name: `gossip ${n} detection by all (s)`,
        ours: r.all / 1000,
        theirs: (6 * r.suspicionMin) / 1000,
        peer: 'max suspicion timeout',
        ratio: r.all / (6 * r.suspicionMin),
        higherIsBetter: false,
        unit: 's',
      },
      {
        name: `gossip ${n} load (packets/s/member)`,
        ours: r.load,
        theirs: r.load,
        peer: 'self',
        ratio: 1,
        higherIsBetter: false,
        unit: 'packets/s',
      },
      {
        name: `gossip ${n} false positives at 5% loss`,
        ours: r.falsePositives,
        theirs: 0,
        peer: 'target',
        ratio: r.falsePositives === 0 ? 1 : Infinity,
        higherIsBetter: false,
        unit: 'events',
      },
    );
  }
  mkdirSync(new URL('../out/', import.meta.url), { recursive: true });
  writeFileSync(
    new URL('../out/gossip-swim.json', import.meta.url),
    `${JSON.stringify(measured, null, 2)}\n`,
  );
  writeFileSync(new URL('./swim.svg', import.meta.url), plotSvg(measured));
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const r of await run())
    console.log(`${r.name.padEnd(40)} ${r.ours.toFixed(2)} vs ${r.peer} ${r.theirs.toFixed(2)}`);
}
