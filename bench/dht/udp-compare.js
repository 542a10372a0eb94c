// Lookups over real UDP on loopback: a swarm of N = 100 ghostnet DhtNode instances against
// a swarm of N = 100 bittorrent-dht nodes, alternating (ours, theirs, ours, theirs) in one
// process, same host, same conditions. Never leaves 127.0.0.1: no default bootstrap on
// either side, every node joins through a random earlier node of its own swarm.
//
// Per round: start N nodes one after the other (each waits for its bootstrap lookup),
// then one self-lookup per node in turn (the refresh both implementations do periodically;
// it lets the early nodes learn the late ones), then 2 s of quiet. Then LOOKUPS get_peers
// lookups (bittorrent-dht's public `lookup()`, ours `getPeers()`) for random targets from
// random nodes, one at a time. Per lookup:
// - queries: datagrams the querier sends that are KRPC queries naming the lookup's target
//   (its outgoing socket sends are wrapped and decoded, for both sides alike);
// - wall time from the call to its callback (performance.now());
// - bytes the querier received meanwhile;
// - exact: the 8 closest ids in the result (ours: `closest`; theirs: the table
//   `lookup()` leaves in `dht._tables`, `closest(target, 8)`) are the true 8 closest by
//   XOR over every node id of the swarm, the querier excluded (it cannot return itself).
// Bounded: a lookup that has not finished in LOOKUP_TIMEOUT_MS counts as failed (not
// exact, time = the timeout); nothing new starts after the global DEADLINE_MS; all sockets
// are closed at the end.
//
// Both libraries run with their defaults (ours k = 8, α = 3; bittorrent-dht via k-rpc:
// k = 20, 16 queries in flight per node) except one: all 100 of our nodes share the source
// IP 127.0.0.1 here, so our per-IP rate limit (50 queries/s, meant for distinct hosts) is
// raised; bittorrent-dht has none. `--peer-k 8` runs bittorrent-dht with k = 8 too.
//
// Usage: node bench/dht/udp-compare.js [--n 100] [--lookups 50] [--rounds 2] [--peer-k K]
// (also `node bench/run.js dht-udp`).
import { randomBytes } from 'node:crypto';
import DHT from 'bittorrent-dht';
import { decode } from '../../dist/p2p/kademlia/bencode.js';
import { compareDistance, idToHex } from '../../dist/p2p/kademlia/id.js';
import { DhtNode } from '../../dist/p2p/kademlia/node.js';

const K = 8;
const HOST = '127.0.0.1';
const LOOKUP_TIMEOUT_MS = 10_000;
const JOIN_TIMEOUT_MS = 10_000;
const SETTLE_MS = 2_000;
const DEADLINE_MS = 180_000;

function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0 || i + 1 >= process.argv.length) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v <= 0) throw new Error(`--${name} wants a positive integer`);
  return v;
}

const sleep = (ms) =>
  new Promise((resolve) => {
    setTimeout(resolve, ms);
  });

/** Resolves with the promise's value, or with `onTimeout` after `ms`. */
function withTimeout(promise, ms, onTimeout) {
  let timer;
  const timeout = new Promise((resolve) => {
    timer = setTimeout(() => resolve(onTimeout), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const eq = (a, b) => a !== undefined && Buffer.from(a).equals(Buffer.from(b));

/** True when a datagram is a KRPC query whose target (or info_hash) is `target`. */
function isQueryFor(datagram, target) {
  let msg;
  try {
    msg = decode(datagram);
  } catch {
    return false;
  }
  if (msg === null || typeof msg !== 'object' || !(msg.y instanceof Uint8Array)) return false;
  if (msg.y.length !== 1 || msg.y[0] !== 0x71 /* 'q' */) return false;
  const a = msg.a;
  return a !== undefined && (eq(a.target, target) || eq(a.info_hash, target));
}

/**
 * Watches one node's traffic while a lookup runs: `onSend(datagram)` and
 * `onReceive(datagram)` are called by the per-implementation hooks below.
 */
function makeProbe() {
  return {
    target: undefined,
    queries: 0,
    bytesIn: 0,
    onSend(datagram) {
      if (this.target !== undefined && isQueryFor(datagram, this.target)) this.queries++;
    },
    onReceive(datagram) {
      if (this.target !== undefined) this.bytesIn += datagram.length;
    },
  };
}

function trueClosest(ids, target, querier) {
  return ids
    .filter((id) => !eq(id, querier))
    .sort((a, b) => compareDistance(target, a, b))
    .slice(0, K)
    .map(idToHex);
}

// ------------------------------------------------------------------ ghostnet

const ours = {
  name: 'ghostnet',
  async start(n, deadline) {
    const nodes = [];
    try {
      for (let i = 0; i < n && Date.now() < deadline; i++) {
        const node = await DhtNode.start({ host: HOST, rateLimitPerIp: 1_000_000 });
        node.on('error', () => {});
        const probe = makeProbe();
        const send = node.endpoint.send.bind(node.endpoint);
        node.endpoint.send = (data, to) => {
          probe.onSend(data);
          return send(data, to);
        };
        node.endpoint.on('message', (data) => probe.onReceive(data));
        if (nodes.length > 0) {
          const seed = nodes[Math.floor(Math.random() * nodes.length)].node.address;
          await withTimeout(
            node.bootstrap([{ address: HOST, port: seed.port, family: 'IPv4' }]).catch(() => {}),
            JOIN_TIMEOUT_MS,
          );
        }
        nodes.push({ node, probe, id: node.id });
      }
      for (const { node } of nodes) {
        if (Date.now() >= deadline) break;
        await withTimeout(
          node.findNode(node.id).catch(() => {}),
          JOIN_TIMEOUT_MS,
        );
      }
    } catch (err) {
      await ours.stop(nodes);
      throw err;
    }
    return nodes;
  },
  async lookup({ node }, target) {
    const r = await node.getPeers(target);
    return r.closest.map((c) => c.id);
  },
  tableSize: ({ node }) => node.stats().nodes,
  async stop(nodes) {
    await Promise.all(nodes.map(({ node }) => node.close().catch(() => {})));
  },
};

// ------------------------------------------------------------------ bittorrent-dht

function startPeer(seed, peerK) {
  const dht = new DHT({
    bootstrap: seed === undefined ? false : [`${HOST}:${seed}`],
    ...(peerK !== undefined ? { k: peerK } : {}),
  });
  dht.on('error', () => {});
  dht.on('warning', () => {});
  const probe = makeProbe();
  // k-rpc-socket sends through its dgram socket: `socket.send(buf, 0, len, port, host, cb)`.
  const socket = dht._rpc.socket.socket;
  const send = socket.send.bind(socket);
  socket.send = (buf, ...rest) => {
    probe.onSend(buf);
    return send(buf, ...rest);
  };
  socket.on('message', (buf) => probe.onReceive(buf));
  // Bind before the bootstrap (it starts on the next tick; sends queue until bound).
  dht.listen(0, HOST);
  const ready = new Promise((resolve) => dht.once('ready', resolve));
  const listening = new Promise((resolve) => dht.once('listening', resolve));
  return { dht, probe, id: dht.nodeId, ready: Promise.all([ready, listening]) };
}

const theirs = (peerK) => ({
  name: peerK === undefined ? 'bittorrent-dht' : `bittorrent-dht k=${peerK}`,
  async start(n, deadline) {
    const nodes = [];
    try {
      for (let i = 0; i < n && Date.now() < deadline; i++) {
        const seed =
          nodes.length > 0
            ? nodes[Math.floor(Math.random() * nodes.length)].dht.address().port
            : undefined;
        const peer = startPeer(seed, peerK);
        nodes.push(peer);
        await withTimeout(peer.ready, JOIN_TIMEOUT_MS);
      }
      for (const { dht } of nodes) {
        if (Date.now() >= deadline) break;
        const id = dht._rpc.id;
        const refreshed = new Promise((resolve) => {
          dht._rpc.populate(id, { q: 'find_node', a: { id, target: id } }, resolve);
        });
        await withTimeout(refreshed, JOIN_TIMEOUT_MS);
      }
    } catch (err) {
      await this.stop(nodes);
      throw err;
    }
    return nodes;
  },
  async lookup({ dht }, target) {
    const hash = Buffer.from(target);
    await new Promise((resolve, reject) => {
      dht.lookup(hash, (err) => (err ? reject(err) : resolve()));
    });
    const table = dht._tables.get(hash.toString('hex'));
    return table === undefined ? [] : table.closest(hash, K).map((c) => c.id);
  },
  tableSize: ({ dht }) => dht.nodes.count(),
  async stop(nodes) {
    await Promise.all(
      nodes.map(
        ({ dht }) =>
          new Promise((resolve) => {
            dht.destroy(() => resolve());
          }),
      ),
    );
  },
});

// ------------------------------------------------------------------ one round

async function round(impl, n, lookups, deadline) {
  const started = performance.now();
  const nodes = await impl.start(n, deadline);
  const joinMs = performance.now() - started;
  const ids = nodes.map((x) => x.id);
  const samples = [];
  let tables = [];
  try {
    await sleep(SETTLE_MS);
    tables = nodes.map((x) => impl.tableSize(x)).sort((a, b) => a - b);
    for (let i = 0; i < lookups && Date.now() + LOOKUP_TIMEOUT_MS < deadline; i++) {
      const from = nodes[Math.floor(Math.random() * nodes.length)];
      const target = new Uint8Array(randomBytes(20));
      from.probe.target = target;
      from.probe.queries = 0;
      from.probe.bytesIn = 0;
      const t0 = performance.now();
      const got = await withTimeout(
        impl.lookup(from, target).catch(() => []),
        LOOKUP_TIMEOUT_MS,
        undefined,
      );
      const ms = performance.now() - t0;
      from.probe.target = undefined;
      const want = trueClosest(ids, target, from.id);
      const have = new Set((got ?? []).map(idToHex));
      const hits = want.filter((h) => have.has(h)).length;
      samples.push({
        queries: from.probe.queries,
        ms,
        bytesIn: from.probe.bytesIn,
        exact: got !== undefined && hits === K,
        hits,
        timedOut: got === undefined,
      });
    }
  } finally {
    await impl.stop(nodes);
  }
  return {
    impl: impl.name,
    n: nodes.length,
    joinMs,
    tableMedian: tables[Math.floor(tables.length / 2)],
    samples,
  };
}

// ------------------------------------------------------------------ statistics

const mean = (xs) => (xs.length === 0 ? NaN : xs.reduce((a, b) => a + b, 0) / xs.length);
function quantile(xs, q) {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}

function summarize(samples) {
  return {
    lookups: samples.length,
    queries: mean(samples.map((s) => s.queries)),
    msMedian: quantile(
      samples.map((s) => s.ms),
      0.5,
    ),
    msMean: mean(samples.map((s) => s.ms)),
    msP90: quantile(
      samples.map((s) => s.ms),
      0.9,
    ),
    kibIn: mean(samples.map((s) => s.bytesIn)) / 1024,
    exact: mean(samples.map((s) => (s.exact ? 1 : 0))),
    hits: mean(samples.map((s) => s.hits)),
    timeouts: samples.filter((s) => s.timedOut).length,
  };
}

function row(label, r, s) {
  return (
    `${label.padEnd(26)} ${String(r?.n ?? '').padStart(4)} ${String(s.lookups).padStart(7)} ` +
    `${s.queries.toFixed(1).padStart(9)} ${s.msMedian.toFixed(2).padStart(8)} ` +
    `${s.msMean.toFixed(2).padStart(8)} ${s.msP90.toFixed(2).padStart(8)} ` +
    `${s.kibIn.toFixed(1).padStart(7)} ${`${(s.exact * 100).toFixed(0)}%`.padStart(6)} ` +
    `${s.hits.toFixed(2).padStart(5)} ${String(s.timeouts).padStart(4)}` +
    (r === undefined
      ? ''
      : `  (join ${(r.joinMs / 1000).toFixed(1)} s, median table ${r.tableMedian})`)
  );
}

export async function run() {
  const n = option('n', 100);
  const lookups = option('lookups', 50);
  const rounds = option('rounds', 2);
  const peerK = option('peer-k', undefined);
  const deadline = Date.now() + DEADLINE_MS;
  const peer = theirs(peerK);
  console.log(
    `  dht-udp: ${n} nodes per swarm on ${HOST}, ${lookups} get_peers lookups per round, ` +
      `${rounds} rounds each, alternating; one process`,
  );
  const results = [];
  for (let i = 0; i < rounds; i++) {
    for (const impl of [ours, peer]) {
      if (Date.now() + LOOKUP_TIMEOUT_MS >= deadline) {
        console.log(`  global deadline reached: ${impl.name} round ${i + 1} not run`);
        continue;
      }
      results.push(await round(impl, n, lookups, deadline));
    }
  }
  const header =
    `${'round'.padEnd(26)} ${'N'.padStart(4)} ${'lookups'.padStart(7)} ${'queries'.padStart(9)} ` +
    `${'ms p50'.padStart(8)} ${'ms mean'.padStart(8)} ${'ms p90'.padStart(8)} ` +
    `${'KiB in'.padStart(7)} ${'exact'.padStart(6)} ${'hits'.padStart(5)} ${'t/o'.padStart(4)}`;
  console.log(header);
  results.forEach((r, i) =>
    console.log(row(`${r.impl} #${Math.floor(i / 2) + 1}`, r, summarize(r.samples))),
  );
  const pooled = (name) =>
    summarize(results.filter((r) => r.impl === name).flatMap((r) => r.samples));
  const a = pooled(ours.name);
  const b = pooled(peer.name);
  console.log(row(`${ours.name} (all)`, undefined, a));
  console.log(row(`${peer.name} (all)`, undefined, b));
  console.log(
    `  ours/theirs: queries/lookup ${(a.queries / b.queries).toFixed(3)}, ` +
      `ms/lookup p50 ${(a.msMedian / b.msMedian).toFixed(3)}, mean ${(a.msMean / b.msMean).toFixed(3)}, ` +
      `KiB in/lookup ${(a.kibIn / b.kibIn).toFixed(3)}; exact k: ours ${(a.exact * 100).toFixed(0)}%, ` +
      `theirs ${(b.exact * 100).toFixed(0)}%`,
  );
  const common = { peer: peer.name };
  return [
    {
      name: `dht-udp ${n} queries/lookup`,
      ours: a.queries,
      theirs: b.queries,
      ratio: a.queries / b.queries,
      higherIsBetter: false,
      unit: 'queries',
      ...common,
    },
    {
      name: `dht-udp ${n} ms/lookup (median)`,
      ours: a.msMedian,
      theirs: b.msMedian,
      ratio: a.msMedian / b.msMedian,
      higherIsBetter: false,
      unit: 'ms',
      ...common,
    },
    {
      name: `dht-udp ${n} KiB received/lookup`,
      ours: a.kibIn,
      theirs: b.kibIn,
      ratio: a.kibIn / b.kibIn,
      higherIsBetter: false,
      unit: 'KiB',
      ...common,
    },
    {
      name: `dht-udp ${n} exact k-closest %`,
      ours: a.exact * 100,
      theirs: b.exact * 100,
      ratio: b.exact > 0 ? a.exact / b.exact : NaN,
      higherIsBetter: true,
      unit: '%',
      ...common,
    },
  ];
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const started = Date.now();
  await run();
  console.log(`  ${((Date.now() - started) / 1000).toFixed(0)} s wall`);
}
