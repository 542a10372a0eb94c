// A key-value store on the Mainline DHT (BEP 44 mutable items): each key is the salt of an
// item signed with one ed25519 key, so anyone with the public key can read it and only the
// holder of the secret can write it.
//
//   node examples/dht-kv/index.js            starts 8 nodes on loopback, puts three keys
//                                            from one node, gets them from another, exits 0
//
// The same with the CLI against running nodes:
//   ghostnet dht put hello --secret-key <64 hex> --salt greeting --seq 1 --bootstrap 127.0.0.1:6881
//   ghostnet dht get --public-key <64 hex> --salt greeting --bootstrap 127.0.0.1:6881
import { randomBytes } from 'node:crypto';
import { GhostnetError } from 'ghostnet';
import { DhtNode, nodeEd25519 } from 'ghostnet/kademlia';

const NODES = 8;

/** A tiny store: put/get by key, versions counted per key. */
class DhtKv {
  #node;
  #secret;
  #seq = new Map();

  constructor(node, secret) {
    this.#node = node;
    this.#secret = secret;
  }

  get publicKey() {
    return nodeEd25519.publicKeyFromSecret(this.#secret);
  }

  async put(key, value) {
    const seq = (this.#seq.get(key) ?? 0) + 1;
    this.#seq.set(key, seq);
    const r = await this.#node.putMutable(this.#secret, { v: value, seq, salt: Buffer.from(key) });
    if (r.stored === 0) throw new GhostnetError('GN_ERR_EXAMPLE', `no node stored ${key}`);
    return r.stored;
  }

  static async get(node, publicKey, key) {
    const { item } = await node.getMutable(publicKey, Buffer.from(key));
    return item === undefined ? undefined : Buffer.from(item.v).toString('utf8');
  }
}

const nodes = [await DhtNode.start()];
for (let i = 1; i < NODES; i++) {
  nodes.push(
    await DhtNode.start({ bootstrap: [{ address: '127.0.0.1', port: nodes[0].address.port }] }),
  );
}
await Promise.all(nodes.slice(1).map((n) => new Promise((r) => n.once('ready', r))));
console.log(`${NODES} DHT nodes on 127.0.0.1 (first on udp port ${nodes[0].address.port})`);

try {
  const writer = new DhtKv(nodes[1], randomBytes(32));
  const entries = { greeting: 'hello, DHT', answer: '42', color: 'blue' };
  for (const [key, value] of Object.entries(entries)) {
    const stored = await writer.put(key, value);
    console.log(`put ${key} = ${JSON.stringify(value)} (stored on ${stored} nodes)`);
  }
  await writer.put('color', 'green'); // a newer version replaces the old one
  let ok = true;
  for (const key of Object.keys(entries)) {
    const value = await DhtKv.get(nodes[NODES - 1], writer.publicKey, key);
    console.log(`get ${key} -> ${JSON.stringify(value)}`);
    const expected = key === 'color' ? 'green' : entries[key];
    if (value !== expected) ok = false;
  }
  console.log(ok ? 'all keys read back' : 'MISMATCH');
  process.exitCode = ok ? 0 : 1;
} finally {
  await Promise.all(nodes.map((n) => n.close()));
}
