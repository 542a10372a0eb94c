// Lookups on 1,000 nodes: ghostnet's DhtCore on ghostnet/sim against kademlia-dht (the
// design card's Kademlia baseline) on its own in-memory MockRpc, both with k = 8 and
// α = 3, both asked for the k closest nodes to 100 random targets from random nodes.
// Compared: find_node queries per lookup and how often the result is exactly the true k
// closest (by global sort over every node id, the querier excluded). No loss, no churn:
// kademlia-dht has no retries, timeouts shorter than a hop, or bucket refresh to test.
//
// kademlia-dht declares engines { npm: "1" } and cannot install with the project (its
// .npmrc has engine-strict); it lives in bench/peers: `npm run bench:peers` first.
// With --churn (or BENCH_DHT_CHURN=1) both also run the suite's churn and loss (10 % of the
// nodes offline, renewed every 10 lookups; 5 % loss each way), kademlia-dht's injected in
// its pluggable RPC.
// Usage: node bench/dht/kademlia-dht.js [N] [--churn]   (default 1000)
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { Rng } from '../../dist/p2p/sim/index.js';
import { build, lookupStats } from './suite.js';

const K = 8;
const ALPHA = 3;
const LOOKUPS = 100;
const LOSS = 0.05;

const peerRequire = createRequire(new URL('../peers/package.json', import.meta.url));

function loadPeer() {
  try {
    return {
      kad: peerRequire('kademlia-dht'),
      Lookup: peerRequire('kademlia-dht/lib/lookup.js'),
      Id: peerRequire('kademlia-dht/lib/id.js'),
    };
  } catch {
    throw new Error('kademlia-dht is not installed: run `npm run bench:peers` first');
  }
}

const cb2promise = (fn) => new Promise((res, rej) => fn((err, v) => (err ? rej(err) : res(v))));

async function buildTheirs(kad, n) {
  const nodes = [];
  for (let i = 0; i < n; i++) {
    const rpc = await cb2promise((cb) => kad.MockRpc.spawn(`node-${i}`, cb));
    const seeds =
      nodes.length === 0 ? [] : [nodes[Math.floor(Math.random() * nodes.length)].rpc.endpoint];
    const dht = await cb2promise((cb) =>
      kad.Dht.spawn(rpc, seeds, { bucketSize: K, concurrency: ALPHA }, cb),
    );
    nodes.push(dht);
  }
  return nodes;
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

/** kademlia-dht's own lookup from `from`; resolves with the contacts it returns. */
function lookupTheirs(Lookup, from, id) {
  return new Promise((res) => {
    const seeds = from._routes.find(id, ALPHA);
    Lookup.proceed(id, seeds, from._lookupOpts, (_err, c) => res(c ?? []));
  });
}

/** How many of the true K closest (among `candidates`, `from` excluded) `contacts` holds. */
function hitsOfTrueClosest(candidates, from, target, contacts) {
  const want = candidates
    .filter((d) => d !== from)
    .map((d) => d._routes.id._buf)
    .sort(xorCompare(target))
    .slice(0, K)
    .map((b) => b.toString('hex'));
  const got = new Set(contacts.map((c) => c.id._buf.toString('hex')));
  return want.filter((h) => got.has(h)).length;
}

async function lookupsTheirs({ kad, Lookup, Id }, nodes) {
  let findNodes = 0;
  const send = kad.MockRpc.prototype.send;
  kad.MockRpc.prototype.send = function (message, ...rest) {
    if (message === 'findNode') findNodes++;
    return send.call(this, message, ...rest);
  };
  let queries = 0;
  let exact = 0;
  try {
    for (let i = 0; i < LOOKUPS; i++) {
      const from = nodes[Math.floor(Math.random() * nodes.length)];
      const target = randomBytes(20);
      const id = new Id(target);
      const before = findNodes;
      const contacts = await lookupTheirs(Lookup, from, id);
      queries += findNodes - before;
      if (hitsOfTrueClosest(nodes, from, target, contacts) === K) exact++;
    }
  } finally {
    kad.MockRpc.prototype.send = send;
  }
  return { queries: queries / LOOKUPS, exact: exact / LOOKUPS };
}

/**
 * The same lookups under the suite's churn and loss: every 10 lookups a fresh 10 % of the
 * nodes is offline, and each query or its answer is lost with 5 % probability. Injected in
 * kademlia-dht's pluggable RPC (MockRpc.send): a query to an offline node, or a lost one,
 * is not delivered and the caller sees MockRpc's timeout — what a lost datagram does.
 * Success as in suite.js: at least k−1 of the true k closest online nodes.
 */
async function churnTheirs({ kad, Lookup, Id }, nodes, seed) {
  const rng = new Rng(seed);
  const rand = () => rng.next();
  const offline = new Set();
  let findNodes = 0;
  const send = kad.MockRpc.prototype.send;
  kad.MockRpc.prototype.send = function (message, endpoint, payload, cb) {
    if (message === 'findNode') findNodes++;
    const lost = rand() < LOSS || rand() < LOSS; // the query, then the answer
    if (offline.has(endpoint) || offline.has(this.endpoint) || lost) {
      setTimeout(() => {
        const err = new Error('mock rpc timeout');
        err.code = 'ETIMEDOUT';
        cb(err);
      }, kad.MockRpc.TIMEOUT);
      return;
    }
    return send.call(this, message, endpoint, payload, cb);
  };
  let queries = 0;
  let nearly = 0;
  const latencies = [];
  try {
    for (let i = 0; i < LOOKUPS; i++) {
      if (i % 10 === 0) {
        offline.clear();
        for (const d of nodes) if (rand() < 0.1) offline.add(d.rpc.endpoint);
      }
      const online = nodes.filter((d) => !offline.has(d.rpc.endpoint));
      const from = online[Math.floor(rand() * online.length)];
      const target = randomBytes(20);
      const id = new Id(target);
      const before = findNodes;
      const started = performance.now();
      const contacts = await lookupTheirs(Lookup, from, id);
      latencies.push(performance.now() - started);
      queries += findNodes - before;
      if (hitsOfTrueClosest(online, from, target, contacts) >= K - 1) nearly++;
    }
  } finally {
    kad.MockRpc.prototype.send = send;
  }
  latencies.sort((a, b) => a - b);
  return {
    queries: queries / LOOKUPS,
    nearly: nearly / LOOKUPS,
    latencyMs: latencies[Math.floor(latencies.length / 2)],
  };
}

export async function run() {
  const peer = loadPeer();
  const n = Number(
    process.env.BENCH_DHT_N ?? process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 1000,
  );
  const started = Date.now();
  const ours = lookupStats(build(n, 2026, 0), false);
  const theirNodes = await buildTheirs(peer.kad, n);
  const theirs = await lookupsTheirs(peer, theirNodes);
  const churn = process.argv.includes('--churn') || process.env.BENCH_DHT_CHURN === '1';
  const oursChurn = churn ? lookupStats(build(n, 77, LOSS), true) : undefined;
  const theirsChurn = churn ? await churnTheirs(peer, theirNodes, 77) : undefined;
  for (const d of theirNodes) d.close?.();
  if (oursChurn !== undefined && theirsChurn !== undefined) {
    console.log(
      `  churn 10% + loss 5%: ghostnet ${oursChurn.queries.toFixed(1)} queries/lookup, ` +
        `${(oursChurn.nearly * 100).toFixed(0)}% ≥ k−1 of the true k; kademlia-dht ` +
        `${theirsChurn.queries.toFixed(1)} queries/lookup, ${(theirsChurn.nearly * 100).toFixed(0)}% ` +
        `(median ${theirsChurn.latencyMs.toFixed(0)} ms wall with MockRpc's 500 ms timeout)`,
    );
  }
  console.log(
    `  ${n} nodes, k=${K}, α=${ALPHA}: ghostnet ${ours.queries.toFixed(1)} queries/lookup, ` +
      `${(ours.exact * 100).toFixed(0)}% exact; kademlia-dht ${theirs.queries.toFixed(1)} ` +
      `queries/lookup, ${(theirs.exact * 100).toFixed(0)}% exact (${((Date.now() - started) / 1000).toFixed(0)} s wall)`,
  );
  return [
    {
      name: `dht ${n} queries/lookup vs kademlia-dht`,
      ours: ours.queries,
      theirs: theirs.queries,
      peer: 'kademlia-dht',
      ratio: ours.queries / theirs.queries,
      higherIsBetter: false,
      unit: 'queries',
    },
    {
      name: `dht ${n} exact k-closest % vs kademlia-dht`,
      ours: ours.exact * 100,
      theirs: theirs.exact * 100,
      peer: 'kademlia-dht',
      ratio: theirs.exact === 0 ? Infinity : ours.exact / theirs.exact,
      higherIsBetter: true,
      unit: '%',
    },
  ];
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const r of await run()) {
    console.log(`${r.name.padEnd(40)} ${r.ours.toFixed(1)} vs ${r.peer} ${r.theirs.toFixed(1)}`);
  }
}
