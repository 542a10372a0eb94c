/**
 * Mainline DHT interop with libtorrent 2.0 (Debian python3-libtorrent), the DHT of
 * qBittorrent, Deluge and most of the swarm, on 127.0.0.1:
 *
 * - four ghostnet nodes bootstrapped together; a libtorrent session with no routers joins
 *   through one of them (its loopback restrictions turned off, see the fixture);
 * - get_peers/announce_peer both ways;
 * - BEP 44 immutable items (put on each side, got on the other) and mutable items with and
 *   without salt, including an update where libtorrent reads ghostnet's seq and bumps it.
 *
 * libtorrent runs in fixtures/libtorrent_dht.py, a JSON line-protocol server on stdin/stdout
 * driven by this file. A missing python3-libtorrent fails every test (never skipped).
 */
import { spawn } from 'node:child_process';
import type { ChildProcessByStdio } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encode } from '../../src/p2p/kademlia/bencode.js';
import { immutableTarget, mutableTarget } from '../../src/p2p/kademlia/bep44.js';
import { nodeEd25519 } from '../../src/p2p/kademlia/ed25519-node.js';
import { DhtNode } from '../../src/p2p/kademlia/node.js';

const PYTHON = '/usr/bin/python3';
const SCRIPT = fileURLToPath(new URL('./fixtures/libtorrent_dht.py', import.meta.url));
const MISSING = 'python3-libtorrent is missing: run scripts/install-peers.sh';
const HOST = '127.0.0.1';
const GHOST_COUNT = 4;
/** The script's own waits are 20 s; ours are longer so its error message wins. */
const WAIT_MS = 30_000;

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function withTimeout<T>(promise: Promise<T>, what: string, ms = WAIT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Retries `attempt` until it returns a value; fails with `what` after `ms`. */
async function eventually<T>(
  what: string,
  attempt: () => Promise<T | undefined>,
  ms = WAIT_MS,
): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const r = await attempt();
    if (r !== undefined) return r;
    if (Date.now() > until) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

// ── the libtorrent process ────────────────────────────────────────────────────────────────

type Reply = Record<string, unknown> & { id?: number; error?: string };

class Libtorrent {
  readonly #proc: ChildProcessByStdio<Writable, Readable, Readable>;
  readonly #waiting = new Map<number, (r: Reply) => void>();
  #nextId = 1;
  #stderr = '';
  #exited: Promise<number | null>;
  port = 0;
  version = '';

  constructor() {
    this.#proc = spawn(PYTHON, [SCRIPT], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.#proc.stderr.on('data', (d: Buffer) => {
      this.#stderr = (this.#stderr + d.toString()).slice(-8192);
    });
    this.#exited = new Promise((resolve) => this.#proc.once('exit', (code) => resolve(code)));
    createInterface({ input: this.#proc.stdout }).on('line', (line) => {
      let r: Reply;
      try {
        r = JSON.parse(line) as Reply;
      } catch {
        return; // not ours
      }
      const id = r.event === 'ready' ? 0 : (r.id ?? -1);
      this.#waiting.get(id)?.(r);
      this.#waiting.delete(id);
    });
  }

  #reply(id: number, what: string, ms = WAIT_MS): Promise<Reply> {
    const got = new Promise<Reply>((resolve) => this.#waiting.set(id, resolve));
    const died = this.#exited.then((code) => {
      throw new Error(`libtorrent_dht.py exited (${code}) during ${what}:\n${this.#stderr}`);
    });
    return withTimeout(Promise.race([got, died]), `libtorrent ${what}`, ms);
  }

  async ready(): Promise<void> {
    const r = await this.#reply(0, 'start');
    this.port = r.port as number;
    this.version = r.version as string;
  }

  /** Sends a command; resolves with its reply, rejects with the script's error. */
  async cmd(cmd: string, args: Record<string, unknown> = {}): Promise<Reply> {
    const id = this.#nextId++;
    const reply = this.#reply(id, cmd);
    this.#proc.stdin.write(`${JSON.stringify({ cmd, id, ...args })}\n`);
    const r = await reply;
    if (r.error !== undefined) {
      throw new Error(`libtorrent ${cmd} failed: ${r.error}\nstderr:\n${this.#stderr}`);
    }
    return r;
  }

  async quit(): Promise<void> {
    if (this.#proc.exitCode !== null) return;
    try {
      await this.cmd('quit');
      await withTimeout(this.#exited, 'libtorrent_dht.py to exit', 10_000);
    } catch {
      this.#proc.kill('SIGKILL');
    }
  }
}

// ── the network ───────────────────────────────────────────────────────────────────────────

/** Defaults otherwise (the per-IP rate limit too, though every node here is 127.0.0.1). */
const GHOSTNET_OPTIONS = { host: HOST, port: 0 };

const ghost: DhtNode[] = [];
let lt: Libtorrent | undefined;
/** Set when the peer is absent: every test then fails with it (never skipped). */
let missing: Error | undefined;

function peer(): Libtorrent {
  if (missing) throw missing;
  return lt!;
}

beforeAll(async () => {
  const probe = spawn(PYTHON, ['-c', 'import libtorrent'], { stdio: 'ignore' });
  const code = await withTimeout(
    new Promise<number | null>((resolve) => {
      probe.once('exit', resolve);
      probe.once('error', () => resolve(-1));
    }),
    'python3 probe',
  );
  if (code !== 0) {
    missing = new Error(MISSING);
    return;
  }

  ghost.push(await DhtNode.start(GHOSTNET_OPTIONS));
  for (let i = 1; i < GHOST_COUNT; i++) {
    const node = await DhtNode.start({ ...GHOSTNET_OPTIONS, bootstrap: [ghost[0]!.address] });
    await withTimeout(
      new Promise<void>((resolve) => node.once('ready', () => resolve())),
      'ghostnet bootstrap',
    );
    ghost.push(node);
  }

  lt = new Libtorrent();
  await lt.ready();
  await lt.cmd('add_node', { host: HOST, port: ghost[1]!.address.port });
  // libtorrent announces and puts only to nodes in its table: wait until it holds them all.
  await lt.cmd('wait_nodes', { min: GHOST_COUNT });
});

afterAll(async () => {
  await lt?.quit();
  await Promise.all(ghost.map((g) => g.close()));
});

describe('ghostnet ⇄ libtorrent DHT on loopback', () => {
  it('libtorrent joins through ghostnet; ghostnet nodes add libtorrent to their tables', async () => {
    const l = peer();
    expect(l.version).toMatch(/^2\./);
    const r = await l.cmd('wait_nodes', { min: GHOST_COUNT });
    expect(r.nodes).toBeGreaterThanOrEqual(GHOST_COUNT);
    await eventually('every ghostnet node to add libtorrent', () => {
      const held = ghost.every((g) =>
        [...g.core.table4.contacts()].some((c) => c.address === HOST && c.port === l.port),
      );
      return Promise.resolve(held ? true : undefined);
    });
  });

  it('libtorrent announces; ghostnet getPeers finds it (implied_port: the DHT port)', async () => {
    const l = peer();
    const ih = randomBytes(20);
    const r = await l.cmd('announce', { ih: hex(ih) });
    // libtorrent announces its torrent on its own schedule: ask until the peer shows up.
    const found = await eventually('ghostnet getPeers to find libtorrent’s announce', async () => {
      const got = await withTimeout(ghost[3]!.getPeers(ih), 'ghostnet getPeers');
      return got.peers.find((p) => p.address === HOST && p.port === r.port);
    });
    expect(found).toMatchObject({ address: HOST, port: l.port });
  });

  it('ghostnet announces; libtorrent dht_get_peers finds the peer', async () => {
    const l = peer();
    const ih = randomBytes(20);
    const port = 7002;
    const a = await withTimeout(ghost[0]!.announce(ih, port), 'ghostnet announce');
    expect(a.announced).toBeGreaterThan(0);
    const r = await l.cmd('get_peers', { ih: hex(ih) });
    expect(r.peers).toContainEqual([HOST, port]);
  });

  it.each([
    ['a byte string', Buffer.from(`libtorrent immutable ${hex(randomBytes(8))}`)],
    ['a dictionary', { n: 42, l: [Buffer.from('a'), 7], s: Buffer.from(hex(randomBytes(8))) }],
  ])('BEP 44 immutable: libtorrent put of %s, ghostnet get', async (_label, value) => {
    const l = peer();
    const bencoded = encode(value);
    const r = await l.cmd('put_immutable', { v: hex(bencoded) });
    expect(r.target).toBe(hex(immutableTarget(value)));
    expect(r.success).toBeGreaterThan(0);
    for (const g of ghost) {
      const got = await withTimeout(g.get(Buffer.from(r.target as string, 'hex')), 'ghostnet get');
      expect(got.item, 'ghostnet found the item').toBeDefined();
      expect(hex(encode(got.item!.v))).toBe(hex(bencoded));
    }
  });

  it('BEP 44 immutable: ghostnet putImmutable, libtorrent get', async () => {
    const l = peer();
    const v = Buffer.from(`ghostnet immutable ${hex(randomBytes(8))}`);
    const put = await withTimeout(ghost[2]!.putImmutable(v), 'ghostnet putImmutable');
    expect(put.errors).toEqual([]);
    // The other ghostnet nodes and libtorrent.
    expect(put.stored).toBe(GHOST_COUNT);
    const r = await l.cmd('get_immutable', { target: hex(put.target) });
    expect(r.v, 'libtorrent found the item').toBe(hex(v));
  });

  describe.each([
    ['without salt', ''],
    ['with salt', 'ghostnet-salt'],
  ])('BEP 44 mutable, %s', (_label, saltText) => {
    const salt = saltText === '' ? undefined : Buffer.from(saltText);

    it('ghostnet putMutable, libtorrent get (verifies the signature)', async () => {
      const l = peer();
      const seed = randomBytes(32);
      const k = nodeEd25519.publicKeyFromSecret(seed);
      const v = Buffer.from(`ghostnet mutable ${hex(randomBytes(8))}`);
      const put = await withTimeout(
        ghost[0]!.putMutable(seed, { v, seq: 3, ...(salt ? { salt } : {}) }),
        'ghostnet putMutable',
      );
      expect(put.errors).toEqual([]);
      expect(put.stored).toBe(GHOST_COUNT);
      const r = await l.cmd('get_mutable', { pk: hex(k), salt: saltText });
      expect(r.v, 'libtorrent found and verified the item').toBe(hex(v));
      expect(r.seq).toBe(3);
    });

    it('libtorrent put (its own signing), ghostnet getMutable', async () => {
      const l = peer();
      const seed = randomBytes(32);
      const k = nodeEd25519.publicKeyFromSecret(seed);
      const text = `libtorrent mutable ${hex(randomBytes(8))}`;
      const r = await l.cmd('put_mutable', {
        seed: hex(seed),
        pk: hex(k),
        v: text,
        salt: saltText,
      });
      expect(r.seq).toBe(1);
      expect(r.success).toBeGreaterThan(0);
      for (const g of ghost) {
        const got = await withTimeout(g.getMutable(k, salt), 'ghostnet getMutable');
        expect(got.item, 'ghostnet found and verified the item').toBeDefined();
        expect(Buffer.from(got.item!.v as Uint8Array).toString()).toBe(text);
        expect(got.item!.seq).toBe(1);
        expect(hex(got.item!.k!)).toBe(hex(k));
      }
    });

    it('an update crosses sides: ghostnet seq 7, libtorrent reads it and puts seq 8', async () => {
      const l = peer();
      const seed = randomBytes(32);
      const k = nodeEd25519.publicKeyFromSecret(seed);
      const put = await withTimeout(
        ghost[1]!.putMutable(seed, { v: Buffer.from('seven'), seq: 7, ...(salt ? { salt } : {}) }),
        'ghostnet putMutable',
      );
      expect(hex(put.target)).toBe(hex(mutableTarget(k, salt)));
      expect(put.stored).toBe(GHOST_COUNT);
      const r = await l.cmd('put_mutable', {
        seed: hex(seed),
        pk: hex(k),
        v: 'eight',
        salt: saltText,
      });
      expect(r.seq).toBe(8);
      const got = await withTimeout(ghost[3]!.getMutable(k, salt), 'ghostnet getMutable');
      expect(got.item?.seq).toBe(8);
      expect(Buffer.from(got.item!.v as Uint8Array).toString()).toBe('eight');
      // And libtorrent's get sees the new value too.
      const back = await l.cmd('get_mutable', { pk: hex(k), salt: saltText });
      expect(back.seq).toBe(8);
      expect(back.v).toBe(hex(Buffer.from('eight')));
    });
  });
});
