// DHT lookups on the simulated network (ghostnet/sim): for N nodes, the mean number of
// queries a find_node lookup sends, its virtual latency, and how often it finds the true
// k closest nodes (by global sort) — without churn, and with 10% churn and 5% loss.
// Messages are compared with log2(N), the order of Kademlia's bound, and rounds (the longest
// chain of dependent queries, LookupResult.rounds) with log2(N/k). The sim is deterministic:
// one run per N is the result.
// Usage: node bench/dht/suite.js [N ...]   (default 1000; BENCH_DHT_N="1000 3000")
// Peer comparisons are separate scripts: kademlia-dht.js (kademlia-dht on the same sim) and
// udp-compare.js (bittorrent-dht over loopback UDP); see bench/RESULTS.md.
import { DhtCore } from '../../dist/p2p/kademlia/dht.js';
import { compareDistance, idToHex } from '../../dist/p2p/kademlia/id.js';
import { Rng, SimNetwork } from '../../dist/p2p/sim/index.js';

const K = 8;
const LOOKUPS = 100;

export function build(n, seed, loss) {
  const rng = new Rng(seed);
  // DhtCore never reuses an output buffer (every datagram is freshly encoded), so the sim
  // need not copy each one (SimNetworkOptions.copyDatagrams).
  const net = new SimNetwork({ seed, loss, copyDatagrams: false });
  const nodes = [];
  for (let i = 0; i < n; i++) {
    const node = net.addNode(
      ({ rng: r, now }) => new DhtCore({ random: r.randomBytes }, { now, k: K }),
    );
    if (nodes.length > 0) {
      const s = nodes[rng.int(nodes.length)];
      node.core.bootstrap([{ ...s.address, family: 'IPv4' }], net.now, () => {});
      node.poke();
    }
    nodes.push(node);
    if (i % 20 === 19) net.runFor(1000);
  }
  net.runFor(12 * 60_000); // past the 10-minute self-lookup
  return { net, nodes, rng };
}

export function lookupStats({ net, nodes, rng }, churn) {
  let queries = 0;
  let rounds = 0;
  let exact = 0;
  let nearly = 0;
  const latencies = [];
  for (let i = 0; i < LOOKUPS; i++) {
    if (churn && i % 10 === 0) {
      for (const n of nodes) if (!n.online) n.join();
      for (const n of nodes) if (rng.chance(0.1)) n.leave();
    }
    const online = nodes.filter((n) => n.online);
    const from = online[rng.int(online.length)];
    const target = rng.bytes(20);
    let result;
    const start = net.now;
    from.core.findNode(target, net.now, (_e, r) => (result = r));
    from.poke();
    for (let j = 0; j < 600 && result === undefined; j++) net.runFor(50);
    if (result === undefined) continue;
    latencies.push(net.now - start);
    queries += result.queries;
    rounds += result.rounds;
    const want = nodes
      .filter((n) => n.online && n !== from)
      .map((n) => n.core.id)
      .sort((a, b) => compareDistance(target, a, b))
      .slice(0, K)
      .map(idToHex);
    const got = new Set(result.closest.map((c) => idToHex(c.id)));
    const hits = want.filter((h) => got.has(h)).length;
    if (hits === K) exact++;
    if (hits >= K - 1) nearly++;
  }
  latencies.sort((a, b) => a - b);
  return {
    queries: queries / LOOKUPS,
    rounds: rounds / LOOKUPS,
    exact: exact / LOOKUPS,
    nearly: nearly / LOOKUPS,
    latencyMs: latencies[Math.floor(latencies.length / 2)] ?? NaN,
  };
}

export async function run() {
  const sizes = (process.env.BENCH_DHT_N ?? process.argv.slice(2).join(' ') ?? '')
    .split(/\s+/)
    .filter(Boolean)
    .map(Number);
  const rows = [];
  for (const n of sizes.length > 0 ? sizes : [1000]) {
    const started = Date.now();
    const quiet = lookupStats(build(n, 2026, 0), false);
    const churned = lookupStats(build(n, 77, 0.05), true);
    const bound = Math.log2(n);
    console.log(
      `  ${n} nodes: ${quiet.queries.toFixed(1)} queries/lookup, ${quiet.rounds.toFixed(1)} rounds ` +
        `(log2(N/k) ${Math.log2(n / K).toFixed(1)}), ${(quiet.exact * 100).toFixed(0)}% exact, ` +
        `median ${quiet.latencyMs} ms virtual; churn 10% + loss 5%: ${churned.queries.toFixed(1)} queries, ` +
        `${churned.rounds.toFixed(1)} rounds, median ${churned.latencyMs} ms, ` +
        `${(churned.nearly * 100).toFixed(0)}% ≥ k-1 of the true k (${(churned.exact * 100).toFixed(0)}% all); ` +
        `${((Date.now() - started) / 1000).toFixed(0)} s wall`,
    );
    rows.push(
      {
        name: `dht ${n} queries/lookup`,
        ours: quiet.queries,
        theirs: bound,
        peer: 'log2(N)',
        ratio: quiet.queries / bound,
        higherIsBetter: false,
        unit: 'queries',
      },
      {
        name: `dht ${n} rounds/lookup`,
        ours: quiet.rounds,
        theirs: Math.log2(n / K),
        peer: 'log2(N/k)',
        ratio: quiet.rounds / Math.log2(n / K),
        higherIsBetter: false,
        unit: 'rounds',
      },
      {
        name: `dht ${n} exact k-closest %`,
        ours: quiet.exact * 100,
        theirs: 100,
        peer: 'ideal',
        ratio: quiet.exact,
        higherIsBetter: true,
        unit: '%',
      },
      {
        name: `dht ${n} churn success %`,
        ours: churned.nearly * 100,
        theirs: 99,
        peer: 'target',
        ratio: churned.nearly / 0.99,
        higherIsBetter: true,
        unit: '%',
      },
      {
        name: `dht ${n} churn queries/lookup`,
        ours: churned.queries,
        theirs: bound,
        peer: 'log2(N)',
        ratio: churned.queries / bound,
        higherIsBetter: false,
        unit: 'queries',
      },
    );
  }
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const r of await run())
    console.log(`${r.name.padEnd(32)} ${r.ours.toFixed(1)} vs ${r.peer} ${r.theirs.toFixed(1)}`);
}
