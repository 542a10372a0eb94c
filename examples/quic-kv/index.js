// A distributed key-value store: nodes find each other through the Mainline DHT and talk
// over QUIC. Each KV node serves a QUIC endpoint and announces its port under one
// infohash; a client looks the nodes up with get_peers, places every key on two nodes by
// rendezvous hashing, writes both replicas, and reads from the first one that answers —
// so the store survives a node going away. Everything runs on loopback with a local DHT
// swarm (no public DHT) and a throwaway self-signed certificate.
//
//   node examples/quic-kv/index.js
//
// Wire protocol: one QUIC stream per request; the client sends one JSON object
// ({"op":"put","key":…,"value":…} or {"op":"get","key":…}) and ends the stream; the
// node answers with one JSON object and ends its side.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GhostnetError } from 'ghostnet';
import { DhtNode } from 'ghostnet/kademlia';
import { QuicEndpoint } from 'ghostnet/quic';

const SWARM = 6;
const KV_NODES = 3;
const REPLICAS = 2;
const MAX_MESSAGE = 64 * 1024;
const TOPIC = createHash('sha1').update('ghostnet quic-kv example').digest();

// A self-signed certificate for 127.0.0.1 that every client pins as its CA.
const dir = mkdtempSync(join(tmpdir(), 'ghostnet-quic-kv-'));
execFileSync(
  'openssl',
  [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    join(dir, 'key.pem'),
    '-out',
    join(dir, 'cert.pem'),
    '-days',
    '1',
    '-subj',
    '/CN=ghostnet-kv',
    '-addext',
    'subjectAltName=IP:127.0.0.1',
  ],
  { stdio: 'ignore' },
);
const cert = readFileSync(join(dir, 'cert.pem'));
const key = readFileSync(join(dir, 'key.pem'));
rmSync(dir, { recursive: true, force: true });
const tls = { ca: cert, alpn: ['ghostnet-kv'] };

/** Reads a whole stream (bounded) and parses it as JSON. */
function readJson(stream) {
  return new Promise((resolve, reject) => {
    const parts = [];
    let size = 0;
    stream.on('data', (d) => {
      size += d.length;
      if (size > MAX_MESSAGE)
        stream.destroy(new GhostnetError('GN_ERR_EXAMPLE', 'message too large'));
      else parts.push(d);
    });
    stream.on('end', () => {
      try {
        resolve(JSON.parse(Buffer.concat(parts).toString('utf8')));
      } catch (err) {
        reject(err);
      }
    });
    stream.on('error', reject);
  });
}

function sendJson(stream, value) {
  stream.write(Buffer.from(JSON.stringify(value)));
  stream.end();
}

/** One KV node: a QUIC endpoint with an in-memory map, announced through `dht`. */
async function startKvNode(name, dht) {
  const data = new Map();
  const endpoint = await QuicEndpoint.create({ server: { cert, key, alpn: ['ghostnet-kv'] } });
  endpoint.on('connection', (conn) => {
    conn.on('stream', (stream) => {
      readJson(stream)
        .then((req) => {
          if (req.op === 'put' && typeof req.key === 'string') {
            data.set(req.key, req.value);
            sendJson(stream, { ok: true, node: name });
          } else if (req.op === 'get' && typeof req.key === 'string') {
            sendJson(stream, { ok: data.has(req.key), value: data.get(req.key), node: name });
          } else {
            sendJson(stream, { ok: false, error: 'bad request' });
          }
        })
        .catch(() => stream.destroy());
    });
  });
  await dht.announce(TOPIC, endpoint.address.port);
  return { name, endpoint, port: endpoint.address.port, data };
}

/** The client side: KV nodes from the DHT, QUIC connections reused per node. */
class KvClient {
  constructor(endpoint, peers) {
    this.endpoint = endpoint;
    this.peers = peers;
    this.conns = new Map();
  }

  /** The REPLICAS nodes responsible for `k`: highest SHA-256(key, node) first. */
  replicas(k) {
    const score = (p) => createHash('sha256').update(`${k}\0${p.address}:${p.port}`).digest('hex');
    return [...this.peers].sort((a, b) => (score(a) < score(b) ? 1 : -1)).slice(0, REPLICAS);
  }

  async request(peer, message) {
    const id = `${peer.address}:${peer.port}`;
    let conn = this.conns.get(id);
    if (conn === undefined || conn.closed) {
      conn = await this.endpoint.connect({
        host: peer.address,
        port: peer.port,
        timeoutMs: 2000,
        ...tls,
      });
      this.conns.set(id, conn);
    }
    const stream = conn.openStream();
    const reply = readJson(stream);
    sendJson(stream, message);
    return reply;
  }

  async put(k, value) {
    const results = await Promise.allSettled(
      this.replicas(k).map((p) => this.request(p, { op: 'put', key: k, value })),
    );
    const ok = results
      .filter((r) => r.status === 'fulfilled' && r.value.ok)
      .map((r) => r.value.node);
    if (ok.length === 0) throw new GhostnetError('GN_ERR_EXAMPLE', `no replica stored ${k}`);
    return ok;
  }

  async get(k) {
    for (const peer of this.replicas(k)) {
      try {
        const r = await this.request(peer, { op: 'get', key: k });
        if (r.ok) return r;
      } catch {
        // that replica is gone: try the next
      }
    }
    throw new GhostnetError('GN_ERR_EXAMPLE', `no replica has ${k}`);
  }

  close() {
    for (const c of this.conns.values()) c.destroy();
  }
}

// A local DHT swarm.
const swarm = [await DhtNode.start()];
for (let i = 1; i < SWARM; i++) {
  swarm.push(
    await DhtNode.start({ bootstrap: [{ address: '127.0.0.1', port: swarm[0].address.port }] }),
  );
}
await Promise.all(swarm.slice(1).map((n) => new Promise((r) => n.once('ready', r))));

const kvNodes = [];
for (let i = 0; i < KV_NODES; i++) kvNodes.push(await startKvNode(`kv${i}`, swarm[1 + i]));
const clientEndpoint = await QuicEndpoint.create();
let code = 1;
try {
  const { peers } = await swarm[SWARM - 1].getPeers(TOPIC);
  console.log(
    `found ${peers.length} kv nodes through the DHT: ${peers.map((p) => p.port).join(', ')}`,
  );
  if (peers.length < KV_NODES)
    throw new GhostnetError('GN_ERR_EXAMPLE', 'not every KV node was found');
  const client = new KvClient(clientEndpoint, peers);
  const entries = {
    greeting: 'hello over QUIC',
    color: 'green',
    answer: 42,
    list: [1, 2, 3],
    nested: { a: 'b' },
  };
  for (const [k, v] of Object.entries(entries)) {
    console.log(`put ${k} -> ${(await client.put(k, v)).join(' + ')}`);
  }
  // Take one node away: every key still has a replica.
  const gone = kvNodes[0];
  await gone.endpoint.close();
  console.log(`stopped ${gone.name}`);
  let all = true;
  for (const [k, v] of Object.entries(entries)) {
    const r = await client.get(k);
    const same = JSON.stringify(r.value) === JSON.stringify(v);
    all &&= same;
    console.log(
      `get ${k} -> ${JSON.stringify(r.value)} from ${r.node}${same ? '' : ' (MISMATCH)'}`,
    );
  }
  client.close();
  console.log(all ? 'all keys read back after losing a node' : 'some keys were wrong');
  code = all ? 0 : 1;
} finally {
  await clientEndpoint.close();
  await Promise.all(kvNodes.slice(1).map((n) => n.endpoint.close()));
  await Promise.all(swarm.map((n) => n.close()));
}
process.exitCode = code;
