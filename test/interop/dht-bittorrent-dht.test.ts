/**
 * Mainline DHT interop with webtorrent's bittorrent-dht (an independent BEP 5/44
 * implementation on k-rpc), all on 127.0.0.1 with bootstrap disabled on both sides:
 *
 * - a mixed network: a ghostnet seed, three bittorrent-dht nodes joining through it, two
 *   more ghostnet nodes joining through a bittorrent-dht node;
 * - find_node both ways (ghostnet finds bittorrent-dht ids; bittorrent-dht's routing table
 *   and its own find_node traversal hold ghostnet ids);
 * - get_peers/announce_peer both ways;
 * - BEP 44 immutable and mutable items (with and without salt) put on each side and got on
 *   the other, a mutable update (higher seq) crossing sides, and the refusals (302 seq too
 *   low, 301 cas mismatch) answered and understood by both.
 *
 * bittorrent-dht ships no types, so it is loaded through a non-literal import and used
 * through the narrow interface below.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DhtNode } from '../../src/p2p/kademlia/node.js';
import { nodeEd25519 } from '../../src/p2p/kademlia/ed25519-node.js';
import { immutableTarget, mutableTarget } from '../../src/p2p/kademlia/bep44.js';

const WAIT_MS = 30_000;
const HOST = '127.0.0.1';
const BT_COUNT = 3;

// ── bittorrent-dht's surface (untyped package) ────────────────────────────────────────────

interface BtNode {
  id: Buffer;
  host: string;
  port: number;
}
interface BtGetResult {
  v: Buffer;
  k?: Buffer;
  seq?: number;
  sig?: Buffer;
}
interface BtPutOptions {
  v: Buffer;
  k?: Buffer;
  seq?: number;
  salt?: Buffer;
  cas?: number;
  sign?: (buf: Buffer) => Buffer;
}
type BtCallback<T> = (err: Error | null, value: T) => void;
interface BtMessage {
  r?: { id?: Buffer; [key: string]: unknown };
}
interface BtDht {
  nodeId: Buffer;
  nodes: { toArray(): BtNode[] };
  listen(port: number, host: string, cb: () => void): void;
  address(): { address: string; port: number };
  addNode(node: { host: string; port: number }): void;
  lookup(infohash: Buffer, cb: (err: Error | null, n: number) => void): () => void;
  announce(infohash: Buffer, port: number, cb: (err: Error | null, n: number) => void): void;
  put(opts: BtPutOptions, cb: (err: Error | null, key: Buffer, n: number) => void): Buffer;
  get(
    key: Buffer,
    opts: { salt?: Buffer; cache?: boolean },
    cb: BtCallback<BtGetResult | null>,
  ): void;
  destroy(cb: () => void): void;
  on(
    event: 'peer',
    fn: (peer: { host: string; port: number }, ih: Buffer, from: unknown) => void,
  ): void;
  on(event: 'announce', fn: (peer: { host: string; port: number }, ih: Buffer) => void): void;
  on(event: 'put', fn: (key: Buffer, v: Buffer) => void): void;
  on(event: 'warning' | 'error', fn: (err: Error) => void): void;
  removeAllListeners(event: string): void;
  /** k-rpc, for a find_node traversal (bittorrent-dht has no public find_node). */
  _rpc: {
    closest(
      target: Buffer,
      message: { q: string; a: Record<string, unknown> },
      visit: (res: BtMessage, peer: { address: string; port: number }) => boolean | void,
      cb: (err: Error | null, n: number) => void,
    ): void;
    query(
      node: { host: string; port: number },
      message: { q: string; a: Record<string, unknown> },
      cb: (err: Error | null, res: BtMessage) => void,
    ): void;
  };
}
type BtDhtCtor = new (opts: Record<string, unknown>) => BtDht;

const BITTORRENT_DHT = 'bittorrent-dht'; // a variable: no types to resolve at compile time

// ── helpers ───────────────────────────────────────────────────────────────────────────────

function withTimeout<T>(promise: Promise<T>, what: string, ms = WAIT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Polls `check` until it returns true; fails with `what` (and the last detail) after `ms`. */
async function waitFor(what: string, check: () => boolean | string, ms = WAIT_MS): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    const r = check();
    if (r === true) return;
    if (Date.now() > until) {
      throw new Error(
        `timed out after ${ms} ms waiting for ${what}${typeof r === 'string' ? `: ${r}` : ''}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** bittorrent-dht's `verify(sig, msg, pubkey)` on node:crypto, through our wrapper. */
const btVerify = (sig: Uint8Array, msg: Uint8Array, pk: Uint8Array): boolean =>
  nodeEd25519.verify(sig, msg, pk);

/** bittorrent-dht's `sign(buf)` for a mutable put, through our wrapper. */
const btSign =
  (seed: Uint8Array) =>
  (buf: Buffer): Buffer =>
    Buffer.from(nodeEd25519.sign(buf, seed));

function btGet(
  node: BtDht,
  key: Uint8Array,
  opts: { salt?: Buffer } = {},
): Promise<BtGetResult | null> {
  return withTimeout(
    new Promise((resolve, reject) =>
      // cache: false — never answer from the getter's own store, always ask the network.
      node.get(Buffer.from(key), { ...opts, cache: false }, (err, v) =>
        err ? reject(err) : resolve(v),
      ),
    ),
    `bittorrent-dht get ${hex(key)}`,
  );
}

function btPut(node: BtDht, opts: BtPutOptions): Promise<{ key: Buffer; n: number }> {
  return withTimeout(
    new Promise((resolve, reject) => {
      node.put(opts, (err, key, n) => (err ? reject(err) : resolve({ key, n })));
    }),
    'bittorrent-dht put',
  );
}

/** A single get query from bittorrent-dht's k-rpc to one node (what that node stores). */
function btQueryGet(node: BtDht, to: { address: string; port: number }, target: Uint8Array) {
  return withTimeout(
    new Promise<BtMessage>((resolve, reject) =>
      node._rpc.query(
        { host: to.address, port: to.port },
        { q: 'get', a: { id: node.nodeId, target: Buffer.from(target) } },
        (err, res) => (err ? reject(err) : resolve(res)),
      ),
    ),
    `get to ${to.address}:${to.port}`,
  );
}

// ── the mixed network ─────────────────────────────────────────────────────────────────────

/** Defaults otherwise (the per-IP rate limit too, though every node here is 127.0.0.1). */
const GHOSTNET_OPTIONS = { host: HOST, port: 0 };

const ghost: DhtNode[] = [];
const bt: BtDht[] = [];
const btWarnings: Error[] = [];

async function startBt(DHT: BtDhtCtor, seed: { address: string; port: number }): Promise<BtDht> {
  const node = new DHT({ bootstrap: false, verify: btVerify });
  node.on('warning', (err) => btWarnings.push(err));
  node.on('error', (err) => btWarnings.push(err));
  await withTimeout(
    new Promise<void>((resolve) => node.listen(0, HOST, resolve)),
    'bittorrent-dht listen',
  );
  // bootstrap: false leaves k-rpc with no bootstrap list; addNode pings the seed and adds it.
  node.addNode({ host: seed.address, port: seed.port });
  await waitFor('bittorrent-dht to add the seed node', () => node.nodes.toArray().length > 0);
  // A lookup of its own id fills the routing table (every responder is added).
  await withTimeout(
    new Promise<void>((resolve, reject) =>
      node.lookup(node.nodeId, (err) => (err ? reject(err) : resolve())),
    ),
    'bittorrent-dht join lookup',
  );
  return node;
}

async function startGhost(bootstrap: { address: string; port: number }[]): Promise<DhtNode> {
  const node = await DhtNode.start({ ...GHOSTNET_OPTIONS, bootstrap });
  if (bootstrap.length > 0) {
    await withTimeout(
      new Promise<void>((resolve) => node.once('ready', () => resolve())),
      'ghostnet bootstrap',
    );
  }
  return node;
}

beforeAll(async () => {
  const { default: DHT } = (await import(BITTORRENT_DHT)) as { default: BtDhtCtor };
  ghost.push(await startGhost([]));
  const seed = ghost[0]!.address;
  for (let i = 0; i < BT_COUNT; i++) bt.push(await startBt(DHT, seed));
  const btSeed = { address: HOST, port: bt[0]!.address().port };
  ghost.push(await startGhost([btSeed]));
  ghost.push(await startGhost([btSeed]));
});

afterAll(async () => {
  await Promise.all(ghost.map((g) => g.close()));
  await Promise.all(
    bt.map((b) => withTimeout(new Promise<void>((resolve) => b.destroy(resolve)), 'destroy')),
  );
});

describe('ghostnet ⇄ bittorrent-dht on loopback', () => {
  it('routing tables: each side holds the other side’s nodes', async () => {
    const ghostIds = ghost.map((g) => hex(g.id));
    const btIds = bt.map((b) => hex(b.nodeId));
    for (const [i, b] of bt.entries()) {
      await waitFor(`bittorrent-dht node ${i} to hold every ghostnet node`, () => {
        const held = b.nodes.toArray().map((n) => hex(n.id));
        const lacking = ghostIds.filter((id) => !held.includes(id));
        return lacking.length === 0 || `lacks ${lacking.join(', ')}`;
      });
    }
    for (const [i, g] of ghost.entries()) {
      const held = [...g.core.table4.contacts()].map((c) => hex(c.id));
      expect(held, `ghostnet node ${i} holds bittorrent-dht nodes`).toEqual(
        expect.arrayContaining(btIds),
      );
    }
  });

  it('ghostnet findNode finds each bittorrent-dht node id as the closest', async () => {
    for (const b of bt) {
      const r = await withTimeout(ghost[1]!.findNode(b.nodeId), 'ghostnet findNode');
      expect(r.closest.length).toBeGreaterThan(0);
      expect(hex(r.closest[0]!.id)).toBe(hex(b.nodeId));
      expect(r.closest[0]!).toMatchObject({ address: HOST, port: b.address().port });
      expect(r.closest.map((n) => hex(n.id))).toEqual(
        expect.arrayContaining(bt.map((x) => hex(x.nodeId))),
      );
    }
  });

  it('a bittorrent-dht find_node traversal reaches each ghostnet node', async () => {
    const b = bt[2]!;
    for (const g of ghost) {
      const answered: string[] = [];
      await withTimeout(
        new Promise<void>((resolve, reject) =>
          b._rpc.closest(
            Buffer.from(g.id),
            { q: 'find_node', a: { id: b.nodeId, target: Buffer.from(g.id) } },
            (res) => {
              if (res.r?.id !== undefined) answered.push(hex(res.r.id));
              return true;
            },
            (err) => (err ? reject(err) : resolve()),
          ),
        ),
        'bittorrent-dht find_node traversal',
      );
      expect(answered).toContain(hex(g.id));
    }
  });

  it('bittorrent-dht announces; ghostnet getPeers finds the peer', async () => {
    const ih = randomBytes(20);
    const port = 6881;
    const n = await withTimeout(
      new Promise<number>((resolve, reject) =>
        bt[0]!.announce(ih, port, (err, count) => (err ? reject(err) : resolve(count))),
      ),
      'bittorrent-dht announce',
    );
    expect(n).toBeGreaterThan(0);
    for (const g of ghost) {
      const r = await withTimeout(g.getPeers(ih), 'ghostnet getPeers');
      expect(r.peers).toContainEqual(expect.objectContaining({ address: HOST, port }));
    }
  });

  it('ghostnet announces; bittorrent-dht accepts announce_peer and its lookup emits the peer', async () => {
    const ih = randomBytes(20);
    const port = 7001;
    const stored = new Set<number>();
    bt.forEach((b, i) =>
      b.on('announce', (peer, infohash) => {
        if (infohash.equals(ih) && peer.port === port) stored.add(i);
      }),
    );
    const r = await withTimeout(ghost[0]!.announce(ih, port), 'ghostnet announce');
    expect(r.announced).toBeGreaterThan(0);
    await waitFor(
      'bittorrent-dht nodes to store ghostnet’s announce',
      () => stored.size === BT_COUNT,
    );

    const b = bt[1]!;
    const remote: { host: string; port: number }[] = [];
    b.on('peer', (peer, infohash, from) => {
      // `from` is null for the lookup node's own store: only count peers from the wire.
      if (infohash.equals(ih) && from !== null) remote.push(peer);
    });
    await withTimeout(
      new Promise<void>((resolve, reject) =>
        b.lookup(ih, (err) => (err ? reject(err) : resolve())),
      ),
      'bittorrent-dht lookup',
    );
    b.removeAllListeners('peer');
    expect(remote).toContainEqual({ host: HOST, port });
  });

  it('BEP 44 immutable: bittorrent-dht put, ghostnet get (and ghostnet nodes store it)', async () => {
    const v = Buffer.from(`bittorrent-dht immutable ${hex(randomBytes(8))}`);
    const { key, n } = await btPut(bt[0]!, { v });
    expect(n).toBeGreaterThan(0);
    for (const g of ghost) {
      const got = await withTimeout(g.get(key), 'ghostnet get');
      expect(got.item, 'ghostnet found the item').toBeDefined();
      expect(Buffer.from(got.item!.v as Uint8Array)).toEqual(v);
      // Each ghostnet node stored it: a direct get from bittorrent-dht's k-rpc returns v.
      const res = await btQueryGet(bt[1]!, g.address, key);
      expect(Buffer.from(res.r!.v as Uint8Array)).toEqual(v);
    }
  });

  it('BEP 44 immutable: ghostnet putImmutable, bittorrent-dht get', async () => {
    const v = Buffer.from(`ghostnet immutable ${hex(randomBytes(8))}`);
    const target = Buffer.from(immutableTarget(v));
    const stores = new Set<number>();
    bt.forEach((b, i) => b.on('put', (key) => key.equals(target) && stores.add(i)));
    const put = await withTimeout(ghost[2]!.putImmutable(v), 'ghostnet putImmutable');
    expect(hex(put.target)).toBe(hex(target));
    expect(put.errors).toEqual([]);
    expect(put.stored).toBe(ghost.length - 1 + BT_COUNT);
    await waitFor('every bittorrent-dht node to store the put', () => stores.size === BT_COUNT);
    for (const b of bt) {
      const got = await btGet(b, put.target);
      expect(got, 'bittorrent-dht found the item').not.toBeNull();
      expect(Buffer.from(got!.v)).toEqual(v);
    }
  });

  describe.each([
    ['without salt', undefined],
    ['with salt', Buffer.from('ghostnet-salt')],
  ])('BEP 44 mutable, %s', (_label, salt) => {
    it('ghostnet putMutable, bittorrent-dht get (verifies the signature)', async () => {
      const seed = randomBytes(32);
      const k = Buffer.from(nodeEd25519.publicKeyFromSecret(seed));
      const v = Buffer.from(`ghostnet mutable ${hex(randomBytes(8))}`);
      const put = await withTimeout(
        ghost[0]!.putMutable(seed, { v, seq: 1, ...(salt ? { salt } : {}) }),
        'ghostnet putMutable',
      );
      expect(put.errors).toEqual([]);
      expect(put.stored).toBeGreaterThan(0);
      expect(hex(put.target)).toBe(hex(mutableTarget(k, salt)));
      for (const b of bt) {
        const got = await btGet(b, put.target, salt ? { salt } : {});
        expect(got, 'bittorrent-dht found and verified the item').not.toBeNull();
        expect(Buffer.from(got!.v)).toEqual(v);
        expect(got!.seq).toBe(1);
        expect(Buffer.from(got!.k!)).toEqual(k);
      }
    });

    it('bittorrent-dht put (signed with our ed25519), ghostnet getMutable', async () => {
      const seed = randomBytes(32);
      const k = Buffer.from(nodeEd25519.publicKeyFromSecret(seed));
      const v = Buffer.from(`bittorrent-dht mutable ${hex(randomBytes(8))}`);
      const { key, n } = await btPut(bt[1]!, {
        k,
        seq: 5,
        v,
        sign: btSign(seed),
        ...(salt ? { salt } : {}),
      });
      expect(n).toBeGreaterThan(0);
      expect(hex(key)).toBe(hex(mutableTarget(k, salt)));
      for (const g of ghost) {
        const got = await withTimeout(g.getMutable(k, salt), 'ghostnet getMutable');
        expect(got.item, 'ghostnet found and verified the item').toBeDefined();
        expect(Buffer.from(got.item!.v as Uint8Array)).toEqual(v);
        expect(got.item!.seq).toBe(5);
        expect(Buffer.from(got.item!.k!)).toEqual(k);
      }
    });

    it('an update crosses sides: ghostnet seq 1, bittorrent-dht seq 2, both get seq 2', async () => {
      const seed = randomBytes(32);
      const k = Buffer.from(nodeEd25519.publicKeyFromSecret(seed));
      const v1 = Buffer.from('first');
      const v2 = Buffer.from('second');
      const put = await withTimeout(
        ghost[1]!.putMutable(seed, { v: v1, seq: 1, ...(salt ? { salt } : {}) }),
        'ghostnet putMutable seq 1',
      );
      expect(put.stored).toBeGreaterThan(0);
      const { n } = await btPut(bt[2]!, {
        k,
        seq: 2,
        v: v2,
        sign: btSign(seed),
        ...(salt ? { salt } : {}),
      });
      expect(n).toBe(ghost.length + BT_COUNT - 1);
      const g = await withTimeout(ghost[2]!.getMutable(k, salt), 'ghostnet getMutable');
      expect(g.item?.seq).toBe(2);
      expect(Buffer.from(g.item!.v as Uint8Array)).toEqual(v2);
      const b = await btGet(bt[0]!, put.target, salt ? { salt } : {});
      expect(b?.seq).toBe(2);
      expect(Buffer.from(b!.v)).toEqual(v2);
    });
  });

  it('BEP 44 refusals cross sides: 302 (seq too low) and 301 (cas mismatch)', async () => {
    const seed = randomBytes(32);
    const k = Buffer.from(nodeEd25519.publicKeyFromSecret(seed));
    // Stored by every node but ghost[0]: a putter does not store its own item.
    const put = await withTimeout(
      ghost[0]!.putMutable(seed, { v: Buffer.from('five'), seq: 5 }),
      'ghostnet putMutable seq 5',
    );
    expect(put.stored).toBe(ghost.length - 1 + BT_COUNT);

    // ghostnet puts an older seq: the nodes holding seq 5 (ghost[2] and every
    // bittorrent-dht node) answer 302; ghost[0], holding nothing, stores it.
    const low = await withTimeout(
      ghost[1]!.putMutable(seed, { v: Buffer.from('three'), seq: 3 }),
      'ghostnet putMutable seq 3',
    );
    expect(low.stored).toBe(1);
    expect(low.errors.map((e) => e.wireCode)).toEqual(Array(BT_COUNT + 1).fill(302));

    // bittorrent-dht puts with a stale cas: every node answers 301 (ghost[0] holds seq 3,
    // the others seq 5, none 4), and bittorrent-dht's put fails with it.
    const cas = await btPut(bt[0]!, {
      k,
      seq: 6,
      cas: 4,
      v: Buffer.from('six'),
      sign: btSign(seed),
    }).then(
      (r) => r,
      (err: Error & { code?: number }) => err,
    );
    expect(cas, 'bittorrent-dht put with cas 4 was refused').toBeInstanceOf(Error);
    expect((cas as Error & { code?: number }).code).toBe(301);

    // The highest seq on the network is still 5.
    const got = await btGet(bt[2]!, put.target);
    expect(got?.seq).toBe(5);
    expect(Buffer.from(got!.v).toString()).toBe('five');
  });
});
