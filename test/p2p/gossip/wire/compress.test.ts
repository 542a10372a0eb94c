import { encode } from '@msgpack/msgpack';
import { describe, expect, it } from 'vitest';
import {
  COMPRESS_MSG_TYPE,
  GossipCompressError,
  GossipCompressErrorCodes,
  compressPayload,
  decodeCompressBody,
  decompressPayload,
} from '../../../../src/p2p/gossip/wire/compress.js';
import { LzwError, lzwCompress } from '../../../../src/p2p/gossip/wire/lzw.js';
import { mulberry32 } from '../../../helpers/prng.js';

const hex = (s: string) => new Uint8Array(Buffer.from(s, 'hex'));
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const ascii = (s: string) => toHex(new TextEncoder().encode(s));
const MiB = 1 << 20;
/** `[9] fixmap(2) "Algo" 0 "Buf"` as go-codec writes it. */
const PREFIX = `09 82 a4${ascii('Algo')} 00 a3${ascii('Buf')}`.replace(/ /g, '');

function expectCode(fn: () => unknown, code: string): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(GossipCompressError);
    expect((err as GossipCompressError).code).toBe(code);
    return;
  }
  expect.fail(`expected ${code}`);
}

describe('compressPayload writes what memberlist (go-codec MsgpackHandle{}) writes', () => {
  it('empty message: Buf is a fixstr raw of the 3 LZW bytes', () => {
    expect(toHex(compressPayload(new Uint8Array(0)))).toBe(`${PREFIX}a3000302`);
  });

  it('uses fixstr below 32 bytes, str16 (0xda, never str8) up to 65535, str32 above', () => {
    const rnd = mulberry32(4);
    const random = (n: number) => Uint8Array.from({ length: n }, () => Math.floor(rnd() * 256));
    const seen = new Set<string>();
    // Random data grows ~1.4x under LZW: 10 → fixstr, 100 and 40 000 → str16, 50 000 → str32.
    for (const size of [10, 100, 40_000, 50_000]) {
      const msg = random(size);
      const lzw = lzwCompress(msg);
      const out = compressPayload(msg);
      const n = lzw.length;
      const rawHeader =
        n < 32
          ? (0xa0 | n).toString(16)
          : n < 0x10000
            ? `da${n.toString(16).padStart(4, '0')}`
            : `db${n.toString(16).padStart(8, '0')}`;
      seen.add(n < 32 ? 'fixstr' : rawHeader.slice(0, 2));
      expect(toHex(out.subarray(0, PREFIX.length / 2 + rawHeader.length / 2))).toBe(
        PREFIX + rawHeader,
      );
      expect(toHex(out.subarray(out.length - lzw.length))).toBe(toHex(lzw));
      expect(decompressPayload(out.subarray(1), size)).toEqual(msg);
    }
    expect([...seen].sort()).toEqual(['da', 'db', 'fixstr']);
  });
});

describe('decompressPayload', () => {
  const msg = new TextEncoder().encode('ping ping ping ping ping');
  const lzw = lzwCompress(msg);

  it('reads the body after the compressMsg type byte', () => {
    const out = compressPayload(msg);
    expect(out[0]).toBe(COMPRESS_MSG_TYPE);
    expect(decompressPayload(out.subarray(1), 1000)).toEqual(msg);
  });

  it('is as lenient as go-codec: bin or str Buf, any key order, extra keys, trailing bytes', () => {
    const bodies = [
      encode({ Algo: 0, Buf: lzw }), // bin 0xc4
      encode({ Buf: lzw, Extra: [1, 2, { x: 'y' }], Algo: 0 }),
      encode({ Buf: lzw }), // missing Algo is Go's zero value, lzwAlgo
      encode([0, lzw]), // a struct as an array of fields
      encode({ Algo: 0, Buf: Array.from(lzw) }), // []byte as an array of uint8
      new Uint8Array([...encode({ Algo: 0, Buf: lzw }), 0xc0, 0xc1]),
    ];
    for (const body of bodies) expect(decompressPayload(body, 1000)).toEqual(msg);
  });

  it('rejects an unknown algorithm', () => {
    expectCode(
      () => decompressPayload(encode({ Algo: 1, Buf: lzw }), 1000),
      GossipCompressErrorCodes.UNKNOWN_ALGORITHM,
    );
    expect(decodeCompressBody(encode({ Algo: 7, Buf: lzw })).algo).toBe(7);
  });

  it('rejects malformed bodies', () => {
    for (const body of [
      new Uint8Array(0),
      hex('c1'),
      hex('82a4416c676f'), // truncated map
      encode('a string'),
      encode(42),
      encode({ Algo: -1, Buf: lzw }),
      encode({ Algo: 256, Buf: lzw }),
      encode({ Algo: 'lzw', Buf: lzw }),
      encode({ Algo: 0, Buf: 12 }),
      encode({ Algo: 0, Buf: [1, 300] }),
    ]) {
      expectCode(() => decompressPayload(body, 1000), GossipCompressErrorCodes.MALFORMED);
    }
  });

  it('passes LZW errors through: nil Buf, garbage, bombs', () => {
    expect(() => decompressPayload(encode({ Algo: 0, Buf: null }), 1000)).toThrow(LzwError);
    expect(() => decompressPayload(encode({ Algo: 0, Buf: hex('ffffffff') }), 1000)).toThrow(
      LzwError,
    );
    const bomb = compressPayload(new Uint8Array(8 * MiB));
    expect(bomb.length).toBeLessThan(8000);
    expect(() => decompressPayload(bomb.subarray(1), MiB)).toThrow(LzwError);
  });
});
