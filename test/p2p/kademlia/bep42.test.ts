import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from '../../../src/errors.js';
import {
  bep42Hash,
  isBep42Exempt,
  isCompliantId,
  nodeIdForIp,
} from '../../../src/p2p/kademlia/bep42.js';
import { crc32c } from '../../../src/p2p/kademlia/crc32c.js';
import { idFromHex } from '../../../src/p2p/kademlia/id.js';

interface Bep42Vector {
  ip: string;
  rand: number;
  prefix: string;
  last: string;
  id: string;
}
const { vectors } = JSON.parse(
  readFileSync(new URL('../../vectors/kademlia/bep42.json', import.meta.url), 'utf8'),
) as { vectors: Bep42Vector[] };

const hex = (s: string) => new Uint8Array(Buffer.from(s, 'hex'));
const flip = (b: Uint8Array, i: number, mask: number) => {
  b[i] = b[i]! ^ mask;
};
/** A deterministic RandomBytes that returns `fill` bytes. */
const constant =
  (fill: number) =>
  (n: number): Uint8Array =>
    new Uint8Array(n).fill(fill);

/** The 21 bits BEP 42 fixes: bytes 0-1 and the top 5 bits of byte 2. */
const top21 = (id: Uint8Array) => [id[0], id[1], id[2]! & 0xf8];

describe('crc32c', () => {
  it('matches the standard check values', () => {
    expect(crc32c(new Uint8Array(0))).toBe(0);
    expect(crc32c(new Uint8Array(Buffer.from('123456789')))).toBe(0xe3069283);
    // RFC 3720 (iSCSI) B.4
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa);
    expect(crc32c(new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43);
    expect(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i))).toBe(0x46dd794e);
  });

  it('continues a previous result', () => {
    const all = new Uint8Array(Buffer.from('hello, castagnoli'));
    expect(crc32c(all.subarray(7), crc32c(all.subarray(0, 7)))).toBe(crc32c(all));
  });
});

describe('BEP 42 node ids', () => {
  it.each(vectors)('vector $ip rand $rand: generated id matches prefix and last byte', (v) => {
    for (const fill of [0x00, 0xff, 0x5a]) {
      const id = nodeIdForIp(v.ip, v.rand, constant(fill));
      expect(id.length).toBe(20);
      expect(top21(id)).toEqual(top21(hex(v.prefix)));
      expect(id[19]).toBe(hex(v.last)[0]);
      // The free bits come from the injected randomness.
      expect(id[2]! & 0x07).toBe(fill & 0x07);
      expect(id.subarray(3, 19).every((b) => b === fill)).toBe(true);
      expect(isCompliantId(id, v.ip)).toBe(true);
    }
  });

  it.each(vectors)('vector $ip: the BEP example id is compliant', (v) => {
    expect(isCompliantId(idFromHex(v.id), v.ip)).toBe(true);
    // The same id, with the address given as bytes or IPv4-mapped IPv6.
    expect(isCompliantId(idFromHex(v.id), Uint8Array.from(v.ip.split('.').map(Number)))).toBe(true);
    expect(isCompliantId(idFromHex(v.id), `::ffff:${v.ip}`)).toBe(true);
  });

  it.each(vectors)('vector $ip: ids off by one fixed bit, or another r, are not', (v) => {
    const id = idFromHex(v.id);
    for (const bit of [0, 7, 8, 15, 16, 20]) {
      const bad = id.slice();
      flip(bad, bit >>> 3, 0x80 >>> (bit & 7));
      expect(isCompliantId(bad, v.ip)).toBe(false);
    }
    // Bits 21-23 and bytes 3-18 are free.
    const free = id.slice();
    flip(free, 2, 0x07);
    flip(free, 10, 0xff);
    expect(isCompliantId(free, v.ip)).toBe(true);
    // The last byte's low 3 bits select r: changing them invalidates the prefix
    // (checked for these vectors; a collision of 21 bits is possible in general).
    const otherR = id.slice();
    flip(otherR, 19, 0x01);
    expect(isCompliantId(otherR, v.ip)).toBe(false);
    // Its high 5 bits are free.
    const highBits = id.slice();
    flip(highBits, 19, 0xf8);
    expect(isCompliantId(highBits, v.ip)).toBe(true);
  });

  it('computes the hash as the BEP describes: crc32c of the masked big-endian IP', () => {
    // BEP 42: crc32c((ip & 0x030f3fff) | (r << 29)); 124.31.75.21 = 0x7c1f4b15, r = 1.
    const masked = ((0x7c1f4b15 & 0x030f3fff) | (1 << 29)) >>> 0;
    const be = new Uint8Array(4);
    new DataView(be.buffer).setUint32(0, masked);
    expect(bep42Hash(hex('7c1f4b15'), 1)).toBe(crc32c(be));
    // IPv6: the high 64 bits masked with 0x0103070f1f3f7fff, r << 61; the low 64 ignored.
    const ip6 = hex('20010db8aabbccdd0011223344556677');
    const m6 = (BigInt('0x20010db8aabbccdd') & 0x0103070f1f3f7fffn) | (5n << 61n);
    const be6 = new Uint8Array(8);
    new DataView(be6.buffer).setBigUint64(0, m6);
    expect(bep42Hash(ip6, 5)).toBe(crc32c(be6));
  });

  it('generates and validates IPv6 ids (BEP 32 addresses)', () => {
    const ip = '2001:db8:aabb:ccdd:11:2233:4455:6677';
    for (let rand = 0; rand < 256; rand += 37) {
      const id = nodeIdForIp(ip, rand, constant(rand));
      expect(id[19]).toBe(rand);
      expect(isCompliantId(id, ip)).toBe(true);
      // Only the high 64 bits count.
      expect(isCompliantId(id, '2001:db8:aabb:ccdd::1')).toBe(true);
      expect(isCompliantId(id, '2001:db8:aabb:ccde::1')).toBe(
        top21(nodeIdForIp('2001:db8:aabb:ccde::1', rand, constant(0))).every(
          (b, i) => b === top21(id)[i],
        ),
      );
    }
  });

  it('rejects other ids and addresses', () => {
    const v = vectors[0]!;
    const id = idFromHex(v.id);
    expect(isCompliantId(id, vectors[1]!.ip)).toBe(false);
    expect(isCompliantId(id.subarray(0, 19), v.ip)).toBe(false);
    expect(isCompliantId(id, 'not an ip')).toBe(false);
    expect(isCompliantId(id, '1.2.3')).toBe(false);
    expect(isCompliantId(id, new Uint8Array(5))).toBe(false);
  });

  it('validates its arguments', () => {
    expect(() => nodeIdForIp('nope', 1, constant(0))).toThrow(InvalidOptionError);
    expect(() => nodeIdForIp('1.2.3.4', 256, constant(0))).toThrow(InvalidOptionError);
    expect(() => nodeIdForIp('1.2.3.4', -1, constant(0))).toThrow(InvalidOptionError);
    expect(() => nodeIdForIp('1.2.3.4', 1.5, constant(0))).toThrow(InvalidOptionError);
    expect(() => nodeIdForIp('1.2.3.4', 1, () => new Uint8Array(3))).toThrow(InvalidOptionError);
  });

  it('does not keep or modify the randomness it was given', () => {
    const pool = new Uint8Array(20).fill(7);
    const id = nodeIdForIp('1.2.3.4', 9, () => pool);
    expect(pool.every((b) => b === 7)).toBe(true);
    id[5] = 0;
    expect(pool[5]).toBe(7);
  });
});

describe('BEP 42 exemptions (local networks)', () => {
  const anyId = new Uint8Array(20).fill(0xab);

  it.each([
    '10.0.0.1',
    '10.255.255.255',
    '172.16.0.1',
    '172.31.255.254',
    '192.168.1.1',
    '169.254.10.10',
    '127.0.0.1',
    '127.255.0.1',
    '::ffff:192.168.0.1',
    '::1',
    'fe80::1',
    'febf::1',
    'fc00::1',
    'fd12:3456::1',
  ])('%s is exempt: any id is accepted', (ip) => {
    expect(isBep42Exempt(ip)).toBe(true);
    expect(isCompliantId(anyId, ip)).toBe(true);
  });

  it.each([
    '9.255.255.255',
    '11.0.0.0',
    '172.15.255.255',
    '172.32.0.0',
    '192.167.1.1',
    '192.169.0.1',
    '169.253.0.1',
    '128.0.0.1',
    '8.8.8.8',
    '::2',
    'fec0::1',
    'fe00::1',
    '2001:db8::1',
    'garbage',
  ])('%s is not exempt', (ip) => {
    expect(isBep42Exempt(ip)).toBe(false);
    expect(isCompliantId(anyId, ip)).toBe(false);
  });

  it('accepts byte addresses', () => {
    expect(isBep42Exempt(Uint8Array.of(10, 1, 2, 3))).toBe(true);
    expect(isBep42Exempt(Uint8Array.of(11, 1, 2, 3))).toBe(false);
  });
});
