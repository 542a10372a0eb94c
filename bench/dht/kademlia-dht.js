// Lookups on the simulated network (ghostnet/sim): ghostnet's DhtCore against kademlia-dht
// (the design card's Kademlia baseline), both on the same SimNetwork model — virtual clock,
// pairwise log-normal latency, the same seeds — both with k = 8 and α = 3. kademlia-dht
// runs through its pluggable RPC: SimRpc (sim-rpc.js) puts each node on a `net.bind()`
// endpoint with query timeouts on the virtual clock, 2000 ms like DhtCore's queryTimeoutMs.
// Each side: N nodes join 20 per virtual second through a random earlier node (suite.js
// `build`), then 100 lookups of random targets from random nodes (suite.js `lookupStats`).
// Compared: find_node queries per lookup, rounds, median virtual latency, and how often the
// result holds all / at least k−1 of the true k closest online nodes (global sort, the
// querier excluded). With --churn (or BENCH_DHT_CHURN=1) both also run the suite's churn
// (every 10 lookups all offline nodes rejoin and each node leaves with probability 0.1) on a
// network with 5 % loss per datagram.
//
// kademlia-dht declares engines { npm: "1" } and cannot install with the project (its
// .npmrc has engine-strict); it lives in bench/peers: `npm run bench:peers` first.
// Usage: node bench/dht/kademlia-dht.js [N] [--churn]   (default 1000)
import { createRequire } from 'node:module';
import { Rng, SimNetwork } from '../../dist/p2p/sim/index.js';
import { SimRpcHub } from './sim-rpc.js';
import { build, lookupStats } from './suite.js';

const K = 8;
const ALPHA = 3;
const LOOKUPS = 100;
const LOSS = 0.05;
/** DhtCore's default queryTimeoutMs (src/p2p/kademlia/dht.ts). */
const QUERY_TIMEOUT_MS = 2000;
/** Virtual time run between two turns of the event loop (kademlia-dht's nextTicks). */
const STEP_MS = 5;
/** A lookup gives up after this much virtual time, as in suite.js (600 × 50 ms). */
const LOOKUP_LIMIT_MS = 30_000;
/** After the last join, wait at most this long for bootstraps still running. */
const SETTLE_LIMIT_MS = 12 * 60_000;

const peerRequire = createRequire(new URL('../peers/package.json', import.meta.url));

function loadPeer() {
  try {
    return {
      Dht: peerRequire('kademlia-dht').Dht,
      Lookup: peerRequire('kademlia-dht/lib/lookup.js'),
      Id: peerRequire('kademlia-dht/lib/id.js'),
    };
  } catch {
    throw new Error('kademlia-dht is not installed: run `npm run bench:peers` first');
  }
}

/**
 * Run the sim `ms` further in STEP_MS steps, turning the event loop after each so that
 * kademlia-dht's process.nextTick callbacks run (they wait for the microtask queue to
 * drain, which awaiting a resolved promise does not give them). Stops early once `done()`.
 */
async function advance(net, ms, done = () => false) {
  const end = net.now + ms;
  while (net.now < end && !done()) {
    net.runUntil(Math.min(end, net.now + STEP_MS));
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** suite.js `build` for kademlia-dht: same seeds, same join rate, ids from the sim's Rng. */
async function buildTheirs({ Dht, Id }, n, seed, loss) {
  const rng = new Rng(seed);
  const ids = rng.child('kademlia-dht ids');
  const net = new SimNetwork({ seed, loss, copyDatagrams: false });
  const hub = new SimRpcHub(net, { timeoutMs: QUERY_TIMEOUT_MS });
  const nodes = [];
  let joining = 0;
  for (let i = 0; i < n; i++) {
    const rpc = hub.spawn();
    // Dht.spawn would draw the id from crypto.randomBytes (off the virtual clock); the
    // constructor takes one, and bootstrap() is what spawn runs next.
    const dht = new Dht(rpc, new Id(Buffer.from(ids.bytes(20))), {
      bucketSize: K,
      concurrency: ALPHA,
    });
    if (nodes.length > 0) {
      const s = nodes[rng.int(nodes.length)];
      joining++;
      dht.bootstrap([s.rpc.endpoint], () => joining--);
    }
    nodes.push(dht);
    if (i % 20 === 19) await advance(net, 1000);
  }
  // kademlia-dht has no refresh timers to wait for (suite.js runs 12 minutes past the
  // DhtCore's self-lookup); only the last joins' bootstrap lookups.
  await advance(net, SETTLE_LIMIT_MS, () => joining === 0);
  return { net, hub, nodes, rng };
}

function xorCompare(target) {
  return (a, b) => {
    for (let i = 0; i < 20; i++) {
      const x = a[i] ^ target[i];
      const y = b[i] ^ target[i];
      if (x !== y) return x - y;
    }
    return 0;
  };
}

/**
 * kademlia-dht's own lookup (Lookup.proceed with the node's options, as Dht#_lookupKey
 * does) from `from`. Its findNode is wrapped only to measure rounds the way DhtCore's
 * LookupResult.rounds does: a seed is round 1, a contact first named by an answer from
 * round r is round r + 1, and rounds is the highest round that answered.
 */
function lookupTheirs(Lookup, from, id, done) {
  const round = new Map();
  const key = (c) => c.id._buf.toString('hex');
  let rounds = 0;
  const opts = {
    ...from._lookupOpts,
    findNode: (contact, targetId, cb) => {
      const r = round.get(key(contact)) ?? 1;
      from._lookupOpts.findNode(contact, targetId, (err, contacts) => {
        if (!err) {
          if (r > rounds) rounds = r;
          for (const c of contacts) if (!round.has(key(c))) round.set(key(c), r + 1);
        }
        cb(err, contacts);
      });
    },
  };
  const seeds = from._routes.find(id, ALPHA);
  Lookup.proceed(id, seeds, opts, (_err, contacts) => done(contacts ?? [], rounds));
}

/** suite.js `lookupStats` for kademlia-dht: the same schedule, churn and success test. */
async function lookupStatsTheirs({ Lookup, Id }, { net, hub, nodes, rng }, churn) {
  let queries = 0;
  let rounds = 0;
  let exact = 0;
  let nearly = 0;
  const latencies = [];
  for (let i = 0; i < LOOKUPS; i++) {
    if (churn && i % 10 === 0) {
      for (const d of nodes) if (!d.rpc.node.online) d.rpc.node.join();
      for (const d of nodes) if (rng.chance(0.1)) d.rpc.node.leave();
    }
    const online = nodes.filter((d) => d.rpc.node.online);
    const from = online[rng.int(online.length)];
    const target = Buffer.from(rng.bytes(20));
    const before = hub.sent.findNode;
    const start = net.now;
    let result;
    lookupTheirs(Lookup, from, new Id(target), (contacts, r) => {
      // Rounded up to suite.js's 50 ms polling step, so both sides are timed the same way.
      result = { contacts, rounds: r, latency: Math.ceil((net.now - start) / 50) * 50 };
    });
    await advance(net, LOOKUP_LIMIT_MS, () => result !== undefined);
    if (result === undefined) continue;
    latencies.push(result.latency);
    queries += hub.sent.findNode - before;
    rounds += result.rounds;
    const want = online
      .filter((d) => d !== from)
      .map((d) => d._routes.id._buf)
      .sort(xorCompare(target))
      .slice(0, K)
      .map((b) => b.toString('hex'));
    const got = new Set(result.contacts.map((c) => c.id._buf.toString('hex')));
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

async function theirsOn(peer, n, seed, loss, churn) {
  const network = await buildTheirs(peer, n, seed, loss);
  const stats = await lookupStatsTheirs(peer, network, churn);
  for (const d of network.nodes) d.close();
  return stats;
}

function timed(label, fn) {
  const started = Date.now();
  const settle = (v) => {
    console.log(`  ${label}: ${((Date.now() - started) / 1000).toFixed(1)} s wall`);
    return v;
  };
  const v = fn();
  return v instanceof Promise ? v.then(settle) : settle(v);
}

function line(name, s) {
  return (
    `${name.padEnd(12)} ${s.queries.toFixed(1).padStart(5)} queries/lookup, ` +
    `${s.rounds.toFixed(1)} rounds, median ${String(Math.round(s.latencyMs)).padStart(5)} ms ` +
    `virtual, ${(s.nearly * 100).toFixed(0)}% ≥ k−1 of the true k (${(s.exact * 100).toFixed(0)}% all)`
  );
}

/** A bench/run.js row comparing ours with kademlia-dht (ratio ours/theirs). */
function row(name, ours, theirs, higherIsBetter, unit) {
  const ratio = higherIsBetter && theirs === 0 ? Infinity : ours / theirs;
  return {
    name: `${name} vs kademlia-dht`,
    ours,
    theirs,
    peer: 'kademlia-dht',
    ratio,
    higherIsBetter,
    unit,
  };
}

export async function run() {
  const peer = loadPeer();
  const n = Number(
    process.env.BENCH_DHT_N ?? process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 1000,
  );
  const churn = process.argv.includes('--churn') || process.env.BENCH_DHT_CHURN === '1';
  const ours = timed('ghostnet quiet', () => lookupStats(build(n, 2026, 0), false));
  const theirs = await timed('kademlia-dht quiet', () => theirsOn(peer, n, 2026, 0, false));
  console.log(`  ${n} nodes, k=${K}, α=${ALPHA}, quiet network:`);
  console.log(`    ${line('ghostnet', ours)}`);
  console.log(`    ${line('kademlia-dht', theirs)}`);
  const rows = [
    row(`dht ${n} queries/lookup`, ours.queries, theirs.queries, false, 'queries'),
    row(`dht ${n} exact k-closest %`, ours.exact * 100, theirs.exact * 100, true, '%'),
    row(`dht ${n} median lookup ms`, ours.latencyMs, theirs.latencyMs, false, 'ms'),
  ];
  if (churn) {
    const oursC = timed('ghostnet churn', () => lookupStats(build(n, 77, LOSS), true));
    const theirsC = await timed('kademlia-dht churn', () => theirsOn(peer, n, 77, LOSS, true));
    console.log(`  churn 10% + loss 5%:`);
    console.log(`    ${line('ghostnet', oursC)}`);
    console.log(`    ${line('kademlia-dht', theirsC)}`);
    rows.push(
      row(`dht ${n} churn queries/lookup`, oursC.queries, theirsC.queries, false, 'queries'),
      row(`dht ${n} churn success %`, oursC.nearly * 100, theirsC.nearly * 100, true, '%'),
      row(`dht ${n} churn median lookup ms`, oursC.latencyMs, theirsC.latencyMs, false, 'ms'),
    );
  }
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const r of await run()) {
    console.log(`${r.name.padEnd(46)} ${r.ours.toFixed(1)} vs ${r.peer} ${r.theirs.toFixed(1)}`);
  }
}
