/**
 * DhtCore.receive under hostile input (seeded, bounded): random bytes, mutated valid
 * queries and responses, wrong types in every field. The core must never throw, must
 * answer only with well-formed KRPC, and must stay usable (a ping still gets its pong).
 */
import { describe, expect, it } from 'vitest';
import { decode, encode } from '../../../src/p2p/kademlia/bencode.js';
import type { BDict, BValue } from '../../../src/p2p/kademlia/bencode.js';
import { DhtCore } from '../../../src/p2p/kademlia/dht.js';
import { nodeEd25519 } from '../../../src/p2p/kademlia/ed25519-node.js';
import { mulberry32 } from '../../helpers/prng.js';
import { randomBytes } from './dht-driver.js';

const from = { address: '10.7.7.7', port: 7777, family: 'IPv4' as const };

function templates(id: Uint8Array, rand: () => number): BDict[] {
  const b = randomBytes(rand);
  return [
    { t: 'aa', y: 'q', q: 'ping', a: { id } },
    { t: 'ab', y: 'q', q: 'find_node', a: { id, target: b(20), want: ['n4', 'n6'] } },
    { t: 'ac', y: 'q', q: 'get_peers', a: { id, info_hash: b(20) } },
    {
      t: 'ad',
      y: 'q',
      q: 'announce_peer',
      a: { id, info_hash: b(20), port: 6881, token: b(8), implied_port: 1 },
    },
    { t: 'ae', y: 'q', q: 'get', a: { id, target: b(20), seq: 3 } },
    { t: 'af', y: 'q', q: 'put', a: { id, token: b(8), v: 'value' } },
    {
      t: 'ag',
      y: 'q',
      q: 'put',
      a: { id, token: b(8), v: 'x', k: b(32), sig: b(64), seq: 1, salt: 's', cas: 0 },
    },
    {
      t: 'ah',
      y: 'r',
      r: { id, nodes: b(26 * 3), nodes6: b(38), values: [b(6), b(18)], token: b(8) },
    },
    { t: 'ai', y: 'e', e: [201, 'error'] },
  ];
}

const JUNK: BValue[] = [
  0,
  -1,
  2 ** 40,
  '',
  'x',
  new Uint8Array(0),
  new Uint8Array(300),
  [],
  [[[]]],
  {},
];

function mutate(msg: BDict, rand: () => number): Uint8Array {
  const m = structuredClone(msg) as BDict;
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const dicts: BDict[] = [m];
  for (const v of Object.values(m))
    if (v && typeof v === 'object' && !(v instanceof Uint8Array) && !Array.isArray(v))
      dicts.push(v as BDict);
  const d = pick(dicts);
  const keys = Object.keys(d);
  switch (Math.floor(rand() * 4)) {
    case 0:
      if (keys.length > 0) delete d[pick(keys)];
      break;
    case 1:
      if (keys.length > 0) d[pick(keys)] = pick(JUNK);
      break;
    case 2:
      d[pick(['id', 'target', 'info_hash', 'token', 'port', 'v', 'k', 'seq', 'zz'])] = pick(JUNK);
      break;
    default: {
      const bytes = encode(m);
      const out = bytes.slice();
      for (let i = 0; i < 3; i++) out[Math.floor(rand() * out.length)] = Math.floor(rand() * 256);
      return out;
    }
  }
  return encode(m);
}

describe('DhtCore under hostile input', () => {
  it('never throws on 5,000 mutated or random datagrams and keeps answering', () => {
    const rand = mulberry32(99);
    const core = new DhtCore(
      { random: randomBytes(rand), ed25519: nodeEd25519 },
      { rateLimitPerIp: 1e6 },
    );
    const id = randomBytes(rand)(20);
    const msgs = templates(id, rand);
    let now = 0;
    for (let i = 0; i < 5000; i++) {
      const data =
        i % 10 === 0
          ? randomBytes(rand)(Math.floor(rand() * 200))
          : mutate(msgs[Math.floor(rand() * msgs.length)]!, rand);
      now += 1;
      expect(() => core.receive(data, from, now)).not.toThrow();
      expect(() => core.handleTimeout(now)).not.toThrow();
      for (const out of core.takeOutput()) {
        const m = decode(out.data) as BDict; // our output is always valid bencode
        expect(m.t).toBeInstanceOf(Uint8Array);
        expect(['q', 'r', 'e']).toContain(Buffer.from(m.y as Uint8Array).toString());
      }
    }
    core.receive(encode({ t: 'zz', y: 'q', q: 'ping', a: { id } }), from, now + 1);
    const replies = core.takeOutput().map((o) => decode(o.data) as BDict);
    expect(replies.some((r) => Buffer.from(r.y as Uint8Array).toString() === 'r')).toBe(true);
  });

  it('never throws when the answers to its own queries are mutated', () => {
    const rand = mulberry32(7);
    const b = randomBytes(rand);
    const core = new DhtCore({ random: b, ed25519: nodeEd25519 }, { rateLimitPerIp: 1e6 });
    let now = 0;
    let finished = 0;
    for (let round = 0; round < 300; round++) {
      now += 10;
      const kind = round % 4;
      const target = b(20);
      const done = (): void => void finished++;
      if (kind === 0) core.bootstrap([from], now, done);
      else if (kind === 1) core.getPeers(target, now, done);
      else if (kind === 2) core.get(target, now, done);
      else core.announce(target, 1234, false, now, done);
      // Answer every query it sends (a few rounds deep) with a mutated response.
      for (let depth = 0; depth < 4; depth++) {
        for (const out of core.takeOutput()) {
          const q = decode(out.data) as BDict;
          if (Buffer.from(q.y as Uint8Array).toString() !== 'q') continue;
          const good: BDict = {
            t: q.t as Uint8Array,
            y: 'r',
            r: {
              id: b(20),
              nodes: b(26 * 2),
              token: b(8),
              values: [b(6)],
              v: 'item',
              seq: 1,
              k: b(32),
              sig: b(64),
            },
          };
          const data = rand() < 0.2 ? encode(good) : mutate(good, rand);
          expect(() =>
            core.receive(data, { address: out.to.address, port: out.to.port, family: 'IPv4' }, now),
          ).not.toThrow();
        }
      }
      now += 5000;
      expect(() => core.handleTimeout(now)).not.toThrow();
      core.takeOutput();
    }
    expect(finished).toBeGreaterThan(0);
  });
});
