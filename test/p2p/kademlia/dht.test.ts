/**
 * DhtCore (BEP 5) on a small deterministic network: bootstrap, find_node converging on the
 * true k closest, get_peers/announce_peer with tokens, errors for malformed queries.
 */
import { describe, expect, it } from 'vitest';
import { decode, encode } from '../../../src/p2p/kademlia/bencode.js';
import type { BDict } from '../../../src/p2p/kademlia/bencode.js';
import { DhtCore } from '../../../src/p2p/kademlia/dht.js';
import type { DhtComponents, LookupResult } from '../../../src/p2p/kademlia/dht.js';
import { nodeIdForIp } from '../../../src/p2p/kademlia/bep42.js';
import type { KrpcError } from '../../../src/p2p/kademlia/errors.js';
import { nodeEd25519 } from '../../../src/p2p/kademlia/ed25519-node.js';
import { compareDistance, idToHex } from '../../../src/p2p/kademlia/id.js';
import type { NodeId } from '../../../src/p2p/kademlia/id.js';
import { Driver, randomBytes } from './dht-driver.js';
import { mulberry32 } from '../../helpers/prng.js';

function network(n: number, seed = 7, components: Partial<DhtComponents> = {}): Driver {
  const d = new Driver(seed, components);
  const first = d.add();
  for (let i = 1; i < n; i++) {
    const core = d.add();
    core.bootstrap([d.addr(first)], d.now, () => {});
    d.run(d.now + 50);
  }
  d.run(d.now + 10_000);
  return d;
}

function trueClosest(d: Driver, target: NodeId, k: number): string[] {
  return [...d.nodes.values()]
    .map((c) => c.id)
    .sort((a, b) => compareDistance(target, a, b))
    .slice(0, k)
    .map(idToHex);
}

describe('DhtCore', () => {
  it('bootstraps 200 nodes off one and every find_node finds the true 8 closest (BEP 5)', () => {
    const d = network(200);
    const rand = randomBytes(d.rand);
    const cores = [...d.nodes.values()];
    let found = 0;
    for (let i = 0; i < 30; i++) {
      const target = rand(20);
      const from = cores[Math.floor(d.rand() * cores.length)]!;
      let result: LookupResult | undefined;
      from.findNode(target, d.now, (err, r) => {
        expect(err).toBeUndefined();
        result = r;
      });
      d.runUntil(() => result !== undefined);
      const want = trueClosest(d, target, 8).filter((h) => h !== idToHex(from.id));
      const got = result!.closest.map((n) => idToHex(n.id));
      if (want.slice(0, 7).every((h) => got.includes(h))) found++;
    }
    expect(found).toBe(30);
  });

  it('a close node whose first two queries are lost is asked a third time, sooner, and found (BEP 5: bad only after repeated failures)', () => {
    const d = network(60);
    const cores = [...d.nodes.values()];
    const from = cores[5]!;
    const x = cores[40]!;
    const xKey = `${d.addr(x).address}:${d.addr(x).port}`;
    const fromAddr = d.addr(from);
    // The lookup's find_node queries from `from` to x vanish twice; everything else flows.
    let dropped = 0;
    let asked = 0;
    const times: number[] = [];
    d.drop = (src, to, data) => {
      if (to !== xKey || src.address !== fromAddr.address) return false;
      const msg = decode(data) as BDict;
      const text = (v: unknown): string =>
        v instanceof Uint8Array ? Buffer.from(v).toString('latin1') : '';
      if (text(msg.y) !== 'q' || text(msg.q) !== 'find_node') return false;
      asked++;
      times.push(d.now);
      return dropped++ < 2;
    };
    let result: LookupResult | undefined;
    from.findNode(x.id, d.now, (_err, r) => (result = r));
    d.runUntil(() => result !== undefined);
    expect(asked).toBe(3);
    expect(result!.closest.map((n) => idToHex(n.id))).toContain(idToHex(x.id));
    // The first try gets the full query timeout (2 s); a retry only half of it.
    expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(2000);
    expect(times[1]! - times[0]!).toBeLessThan(2100);
    expect(times[2]! - times[1]!).toBeGreaterThanOrEqual(1000);
    expect(times[2]! - times[1]!).toBeLessThan(1100);
  });

  it('announce_peer with a token, then get_peers from elsewhere finds the peer (BEP 5)', () => {
    const d = network(60);
    const cores = [...d.nodes.values()];
    const infohash = randomBytes(d.rand)(20);
    let announced: number | undefined;
    cores[3]!.announce(infohash, 51413, false, d.now, (err, r) => {
      expect(err).toBeUndefined();
      announced = r!.announced;
    });
    d.runUntil(() => announced !== undefined);
    expect(announced).toBeGreaterThan(0);
    let peers: { address: string; port: number }[] | undefined;
    cores[40]!.getPeers(infohash, d.now, (_err, r) => (peers = r!.peers));
    d.runUntil(() => peers !== undefined);
    expect(peers).toContainEqual(
      expect.objectContaining({ address: d.addr(cores[3]!).address, port: 51413 }),
    );
  });

  it('answers a malformed query with 203 and an unknown method with 204 (BEP 5 errors)', () => {
    const d = new Driver(3);
    const core = d.add();
    const from = { address: '10.9.9.9', port: 1000, family: 'IPv4' as const };
    const ask = (msg: BDict): BDict => {
      core.receive(encode(msg), from, d.now);
      const [out] = core.takeOutput();
      return decode(out!.data) as BDict;
    };
    const id = new Uint8Array(20).fill(1);
    const bad = ask({ t: 'aa', y: 'q', q: 'find_node', a: { id } });
    expect(Buffer.from(bad.y as Uint8Array).toString()).toBe('e');
    expect((bad.e as unknown[])[0]).toBe(203);
    const unknown = ask({ t: 'ab', y: 'q', q: 'frobnicate', a: { id } });
    expect((unknown.e as unknown[])[0]).toBe(204);
    const shortId = ask({ t: 'ac', y: 'q', q: 'ping', a: { id: new Uint8Array(19) } });
    expect((shortId.e as unknown[])[0]).toBe(203);
    const badToken = ask({
      t: 'ad',
      y: 'q',
      q: 'announce_peer',
      a: { id, info_hash: new Uint8Array(20), port: 1, token: 'nope' },
    });
    expect((badToken.e as unknown[])[0]).toBe(203);
    const pong = ask({ t: 'ae', y: 'q', q: 'ping', a: { id } });
    expect(Buffer.from(pong.y as Uint8Array).toString()).toBe('r');
    expect(Buffer.from(pong.t as Uint8Array).toString()).toBe('ae');
  });
});

describe('DhtCore BEP 44', () => {
  it('puts an immutable item and another node gets it back, checked against its SHA-1', () => {
    const d = network(60, 11);
    const cores = [...d.nodes.values()];
    let target: Uint8Array | undefined;
    let stored = 0;
    cores[5]!.putImmutable('Hello World!', d.now, (err, r) => {
      expect(err).toBeUndefined();
      target = r!.target;
      stored = r!.stored;
    });
    d.runUntil(() => target !== undefined);
    expect(idToHex(target!)).toBe('e5f96f6f38320f0f33959cb4d3d656452117aadb'); // BEP 44 vector
    expect(stored).toBeGreaterThan(0);
    let got: unknown;
    cores[50]!.get(target!, d.now, (_e, r) => (got = r!.item?.v));
    d.runUntil(() => got !== undefined);
    expect(Buffer.from(got as Uint8Array).toString()).toBe('Hello World!');
  });

  it('puts mutable items with a salt; a lower seq is refused with 302 and a wrong cas with 301', () => {
    const d = network(60, 12, { ed25519: nodeEd25519 });
    const cores = [...d.nodes.values()];
    const seed = new Uint8Array(32).fill(7);
    const salt = Buffer.from('foobar');
    const put = (core: (typeof cores)[0], item: { v: string; seq: number; cas?: number }) => {
      let out: { codes: number[]; stored: number } | undefined;
      core.putMutable(seed, { ...item, salt }, d.now, (err, r) => {
        out =
          err !== undefined
            ? { codes: [(err as KrpcError).wireCode], stored: 0 }
            : { codes: r!.errors.map((e) => e.wireCode), stored: r!.stored };
      });
      d.runUntil(() => out !== undefined);
      return out!;
    };
    expect(put(cores[1]!, { v: 'first', seq: 1 }).stored).toBeGreaterThan(0);
    expect(put(cores[2]!, { v: 'second', seq: 2 }).stored).toBeGreaterThan(0);
    // Nodes holding seq 2 refuse a lower seq (302).
    expect(put(cores[3]!, { v: 'older', seq: 1 }).codes).toContain(302);
    let got: { v: unknown; seq?: number } | undefined;
    cores[55]!.getMutable(
      nodeEd25519.publicKeyFromSecret(seed),
      salt,
      d.now,
      (_e, r) => (got = r!.item),
    );
    d.runUntil(() => got !== undefined);
    expect(Buffer.from(got!.v as Uint8Array).toString()).toBe('second');
    expect(got!.seq).toBe(2);
    // ... and a cas that is not their seq (301).
    expect(put(cores[4]!, { v: 'cas', seq: 3, cas: 1 }).codes).toContain(301);
  });
});

describe('DhtCore BEP 42 node-id policy', () => {
  const publicIp = '124.31.75.21'; // BEP 42's first example address
  const rand = randomBytes(() => 0.5);
  const ask = (core: DhtCore, id: Uint8Array, address: string, t: string): void => {
    core.receive(
      encode({ t, y: 'q', q: 'ping', a: { id } }),
      { address, port: 6881, family: 'IPv4' },
      0,
    );
    // Answer the verification ping the core sends to a node new to it.
    for (const out of core.takeOutput()) {
      const m = decode(out.data) as BDict;
      if (Buffer.from(m.y as Uint8Array).toString() === 'q') {
        core.receive(
          encode({ t: m.t as Uint8Array, y: 'r', r: { id } }),
          { address, port: 6881, family: 'IPv4' },
          1,
        );
      }
    }
  };

  it("'require' keeps ids that do not match their IP out of the table; compliant and local ones get in", () => {
    const core = new DhtCore({ random: rand }, { nodeIdPolicy: 'require' });
    const compliant = nodeIdForIp(publicIp, 1, rand);
    const random = Uint8Array.from({ length: 20 }, (_, i) => (i * 37 + 11) & 0xff);
    ask(core, random, publicIp, 'aa');
    expect(core.table4.has(random)).toBe(false);
    ask(core, compliant, publicIp, 'ab');
    expect(core.table4.has(compliant)).toBe(true);
    // BEP 42: local networks are exempt.
    const local = Uint8Array.from({ length: 20 }, (_, i) => (i * 53 + 7) & 0xff);
    ask(core, local, '192.168.1.9', 'ac');
    expect(core.table4.has(local)).toBe(true);
  });

  it("'off' (the default) accepts any id", () => {
    const core = new DhtCore({ random: rand });
    const random = Uint8Array.from({ length: 20 }, (_, i) => (i * 37 + 11) & 0xff);
    ask(core, random, publicIp, 'aa');
    expect(core.table4.has(random)).toBe(true);
  });

  it("'prefer' keeps non-compliant nodes but hands out only compliant ones in nodes", () => {
    const core = new DhtCore({ random: rand }, { nodeIdPolicy: 'prefer' });
    const compliant = nodeIdForIp(publicIp, 1, rand);
    const other = Uint8Array.from({ length: 20 }, (_, i) => (i * 37 + 11) & 0xff);
    ask(core, other, '8.8.8.8', 'aa');
    ask(core, compliant, publicIp, 'ab');
    expect(core.table4.has(other)).toBe(true);
    core.receive(
      encode({
        t: 'fn',
        y: 'q',
        q: 'find_node',
        a: { id: new Uint8Array(20).fill(9), target: other },
      }),
      { address: '10.1.1.1', port: 1, family: 'IPv4' },
      2,
    );
    const answer = decode(core.takeOutput()[0]!.data) as BDict;
    const nodes = (answer.r as BDict).nodes as Uint8Array;
    expect(nodes.length).toBe(26);
    expect(idToHex(nodes.subarray(0, 20))).toBe(idToHex(compliant));
  });
});

describe('DhtCore serving limits', () => {
  const id = new Uint8Array(20).fill(3);
  const from = { address: '10.4.4.4', port: 4444, family: 'IPv4' as const };
  const y = (out: { data: Uint8Array }): string =>
    Buffer.from((decode(out.data) as BDict).y as Uint8Array).toString();

  it('answers at most rateLimitPerIp per second per source IP (burst twice that)', () => {
    const core = new DhtCore({ random: randomBytes(() => 0.3) }, { rateLimitPerIp: 50 });
    let answered = 0;
    for (let i = 0; i < 150; i++) {
      core.receive(encode({ t: `t${i}`, y: 'q', q: 'ping', a: { id } }), from, 0);
      answered += core.takeOutput().filter((o) => y(o) === 'r').length;
    }
    expect(answered).toBe(100);
    // Another IP is not affected; and after a second the first is allowed again.
    core.receive(
      encode({ t: 'x', y: 'q', q: 'ping', a: { id } }),
      { ...from, address: '10.4.4.5' },
      0,
    );
    expect(core.takeOutput().filter((o) => y(o) === 'r')).toHaveLength(1);
    core.receive(encode({ t: 'y', y: 'q', q: 'ping', a: { id } }), from, 1000);
    expect(core.takeOutput().filter((o) => y(o) === 'r')).toHaveLength(1);
    expect(core.stats().rateLimited).toBe(50);
  });

  it('accepts announce tokens up to 10 minutes old and refuses older ones (BEP 5)', () => {
    const core = new DhtCore({ random: randomBytes(mulberry32(5)) });
    const infohash = new Uint8Array(20).fill(8);
    const tokenAt = (now: number): Uint8Array => {
      core.receive(
        encode({ t: 'gp', y: 'q', q: 'get_peers', a: { id, info_hash: infohash } }),
        from,
        now,
      );
      const r = decode(core.takeOutput().find((o) => y(o) === 'r')!.data) as BDict;
      return (r.r as BDict).token as Uint8Array;
    };
    const announce = (token: Uint8Array, now: number): string => {
      core.receive(
        encode({
          t: 'an',
          y: 'q',
          q: 'announce_peer',
          a: { id, info_hash: infohash, port: 9, token },
        }),
        from,
        now,
      );
      return y(core.takeOutput().find((o) => y(o) !== 'q')!);
    };
    const t0 = tokenAt(0);
    expect(announce(t0, 9 * 60_000)).toBe('r'); // within 10 minutes
    const t1 = tokenAt(10 * 60_000);
    expect(announce(t1, 10 * 60_000 + 1)).toBe('r');
    expect(announce(t0, 11 * 60_000)).toBe('e'); // older than 10 minutes: 203
    // A token given to another IP is not valid for this one.
    expect(
      announce(
        tokenAt(11 * 60_000).map((b) => b ^ 1),
        11 * 60_000,
      ),
    ).toBe('e');
  });
});

describe('DhtCore BEP 43 read-only mode', () => {
  const id = new Uint8Array(20).fill(4);
  const from = { address: '10.6.6.6', port: 6666, family: 'IPv4' as const };

  it('a read-only node marks its queries ro=1 and answers none', () => {
    const core = new DhtCore({ random: randomBytes(mulberry32(2)) }, { readOnly: true });
    core.ping(from, 0, () => {});
    const [query] = core.takeOutput();
    expect((decode(query!.data) as BDict).ro).toBe(1);
    core.receive(encode({ t: 'pp', y: 'q', q: 'ping', a: { id } }), from, 1);
    expect(core.takeOutput()).toHaveLength(0);
  });

  it('a query marked ro=1 is answered, but its sender is not added to the routing table', () => {
    const core = new DhtCore({ random: randomBytes(mulberry32(3)) });
    core.receive(encode({ t: 'pp', y: 'q', q: 'ping', a: { id }, ro: 1 }), from, 0);
    const out = core.takeOutput();
    expect(out).toHaveLength(1); // the answer, and no verification ping
    expect(core.table4.has(id)).toBe(false);
    core.receive(encode({ t: 'pq', y: 'q', q: 'ping', a: { id } }), from, 1);
    expect(core.table4.has(id)).toBe(true);
  });
});
