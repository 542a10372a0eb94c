/**
 * The msgpack memberlist and Serf speak (go-codec's default `MsgpackHandle{}`, as in
 * memberlist util.go `encode`/`decode`): GoWriter's bytes for every type — the old raw family
 * for strings and []byte (msgpack.go `writeContainerLen` with `msgpackContainerRawLegacy`),
 * nil for empty slices, the smallest unsigned form for Go uints (`EncodeUint`) and the signed
 * one for Go ints (`EncodeInt`) — skipValue on every msgpack format and at every truncation
 * point, deep nesting without recursion, decodeValue's limits and StructReader's leniency.
 */
import { describe, expect, it } from 'vitest';
import { GossipError, GossipErrorCodes } from '../../../../src/p2p/gossip/errors.js';
import {
  asStruct,
  checkSize,
  decodeValue,
  GoWriter,
  NEED_MORE,
  skipValue,
  StructReader,
} from '../../../../src/p2p/gossip/wire/msgpack.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const w = (): GoWriter => new GoWriter();
const MALFORMED = expect.objectContaining({ code: GossipErrorCodes.MALFORMED });

/** The error `fn` throws (fails the test when it returns). */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

describe('GoWriter: go-codec msgpack.go encoder bytes', () => {
  it('writeContainerLen with msgpackContainerRawLegacy: fixstr, str16, str32 — never str8 or bin', () => {
    const head = (n: number): string => hex(w().raw(new Uint8Array(n)).finish().subarray(0, 5));
    expect(head(0)).toBe('a0');
    expect(head(1)).toBe('a100');
    expect(head(31).slice(0, 2)).toBe('bf');
    expect(head(32).slice(0, 6)).toBe('da0020');
    expect(head(255).slice(0, 6)).toBe('da00ff');
    expect(head(256).slice(0, 6)).toBe('da0100');
    expect(head(65535).slice(0, 6)).toBe('daffff');
    expect(head(65536)).toBe('db00010000');
    for (let n = 0; n <= 300; n++) {
      const first = w().raw(new Uint8Array(n)).finish()[0]!;
      expect(first === 0xda || (first >= 0xa0 && first <= 0xbf), `length ${n}`).toBe(true);
    }
  });

  it('raw copies the bytes after the header, across buffer growth', () => {
    const data = new Uint8Array(70_000).map((_, i) => i * 7);
    const out = w().byte(0x01).raw(data).finish();
    expect(out.length).toBe(1 + 5 + data.length);
    expect(hex(out.subarray(0, 6))).toBe('01db00011170');
    expect(out.subarray(6)).toEqual(data);
  });

  it('EncodeStringEnc: strings are UTF-8 bytes in the raw family, lengths in bytes', () => {
    expect(hex(w().str('').finish())).toBe('a0');
    expect(hex(w().str('abc').finish())).toBe('a3616263');
    expect(hex(w().str('é').finish())).toBe('a2c3a9');
    expect(hex(w().str('😀').finish())).toBe('a4f09f9880');
    expect(hex(w().str('x'.repeat(31)).finish()).slice(0, 2)).toBe('bf');
    expect(hex(w().str('é'.repeat(16)).finish()).slice(0, 6)).toBe('da0020');
    expect(hex(w().key('SeqNo').finish())).toBe(`a5${hex(utf8('SeqNo'))}`);
  });

  it('EncodeStringBytesRaw: a nil or empty []byte is nil (0xc0), others raw', () => {
    expect(hex(w().slice(undefined).finish())).toBe('c0');
    expect(hex(w().slice(new Uint8Array(0)).finish())).toBe('c0');
    expect(hex(w().slice(Uint8Array.of(0, 255)).finish())).toBe('a200ff');
  });

  it('EncodeUint: the smallest of fixint, uint8, uint16, uint32, uint64', () => {
    const enc = (n: number): string => hex(w().uint(n).finish());
    expect(enc(0)).toBe('00');
    expect(enc(1)).toBe('01');
    expect(enc(127)).toBe('7f');
    expect(enc(128)).toBe('cc80');
    expect(enc(255)).toBe('ccff');
    expect(enc(256)).toBe('cd0100');
    expect(enc(65535)).toBe('cdffff');
    expect(enc(65536)).toBe('ce00010000');
    expect(enc(0xffffffff)).toBe('ceffffffff');
    expect(enc(2 ** 32)).toBe('cf0000000100000000');
    expect(enc(Number.MAX_SAFE_INTEGER)).toBe('cf001fffffffffffff');
    for (const bad of [-1, 1.5, Number.NaN, Infinity, 2 ** 53]) {
      expect(() => w().uint(bad), String(bad)).toThrow(RangeError);
    }
  });

  it('EncodeInt (PositiveIntUnsigned false): fixint in -32..127, else the smallest signed form', () => {
    const enc = (n: number): string => hex(w().int(n).finish());
    expect(enc(0)).toBe('00');
    expect(enc(127)).toBe('7f');
    expect(enc(128)).toBe('d10080');
    expect(enc(32767)).toBe('d17fff');
    expect(enc(32768)).toBe('d200008000');
    expect(enc(2 ** 31 - 1)).toBe('d27fffffff');
    expect(enc(2 ** 31)).toBe('d30000000080000000');
    expect(enc(-1)).toBe('ff');
    expect(enc(-32)).toBe('e0');
    expect(enc(-33)).toBe('d0df');
    expect(enc(-128)).toBe('d080');
    expect(enc(-129)).toBe('d1ff7f');
    expect(enc(-32768)).toBe('d18000');
    expect(enc(-32769)).toBe('d2ffff7fff');
    expect(enc(-(2 ** 31) - 1)).toBe('d3ffffffff7fffffff');
    expect(() => w().int(0.5)).toThrow(RangeError);
    for (const n of [0, 127, 128, 40000, 2 ** 31, -1, -33, -200, -40000, -(2 ** 40)]) {
      expect(decodeValue(w().int(n).finish()), String(n)).toBe(n);
    }
  });

  it('WriteMapStart / WriteArrayStart: fix form below 16, then map16/array16, then 32-bit', () => {
    const map = (n: number): string => hex(w().map(n).finish());
    const arr = (n: number): string => hex(w().array(n).finish());
    expect(map(0)).toBe('80');
    expect(map(15)).toBe('8f');
    expect(map(16)).toBe('de0010');
    expect(map(65535)).toBe('deffff');
    expect(map(65536)).toBe('df00010000');
    expect(arr(0)).toBe('90');
    expect(arr(15)).toBe('9f');
    expect(arr(16)).toBe('dc0010');
    expect(arr(65535)).toBe('dcffff');
    expect(arr(65536)).toBe('dd00010000');
    expect(() => w().map(-1)).toThrow(RangeError);
    expect(() => w().array(2 ** 32)).toThrow(RangeError);
  });

  it('bool, nil and a struct as a map keyed by field name', () => {
    expect(hex(w().bool(true).bool(false).nil().finish())).toBe('c3c2c0');
    // struct { A uint8; B string } {1, "x"}
    const s = w().map(2).key('A').uint(1).key('B').str('x').finish();
    expect(hex(s)).toBe('82a14101a142a178');
    expect(decodeValue(s)).toEqual({ A: 1, B: utf8('x') });
  });

  it('grows past its first buffer and finish() returns a copy', () => {
    const g = w();
    let expected = '';
    for (let i = 0; i < 1000; i++) {
      g.uint(i * 131);
      expected += hex(
        w()
          .uint(i * 131)
          .finish(),
      );
    }
    const a = g.finish();
    expect(hex(a)).toBe(expected);
    a.fill(0);
    expect(hex(g.finish())).toBe(expected);
  });
});

/** One value of every msgpack format (msgpack spec "Formats"), as hex. */
const EVERY_FORMAT: readonly [string, string][] = [
  ['positive fixint', '05'],
  ['fixmap', '81a16101'],
  ['fixarray', '920102'],
  ['fixstr', 'a3616263'],
  ['empty fixstr', 'a0'],
  ['nil', 'c0'],
  ['false', 'c2'],
  ['true', 'c3'],
  ['bin 8', 'c403010203'],
  ['bin 16', 'c50003010203'],
  ['bin 32', 'c600000003010203'],
  ['ext 8', 'c70201abcd'],
  ['ext 16', 'c8000201abcd'],
  ['ext 32', 'c90000000201abcd'],
  ['float 32', 'ca3f800000'],
  ['float 64', 'cb3ff0000000000000'],
  ['uint 8', 'cc80'],
  ['uint 16', 'cd0100'],
  ['uint 32', 'ce00010000'],
  ['uint 64', 'cf0000000100000000'],
  ['int 8', 'd0ff'],
  ['int 16', 'd1ff00'],
  ['int 32', 'd2ffff0000'],
  ['int 64', 'd3ffffffff00000000'],
  ['fixext 1', 'd40101'],
  ['fixext 2', 'd5010102'],
  ['fixext 4', 'd60101020304'],
  ['fixext 8', 'd7010102030405060708'],
  ['fixext 16', 'd801000102030405060708090a0b0c0d0e0f'],
  ['str 8', 'd903616263'],
  ['str 16', 'da0003616263'],
  ['str 32', 'db00000003616263'],
  ['array 16', 'dc00020102'],
  ['array 32', 'dd000000020102'],
  ['map 16', 'de0001a16101'],
  ['map 32', 'df00000001a16101'],
  ['negative fixint -32', 'e0'],
  ['negative fixint -1', 'ff'],
  ['empty fixmap', '80'],
  ['empty array 32', 'dd00000000'],
  ['nested', '82a161920a81a162c0a163dc0001d90178'],
];

describe('skipValue', () => {
  it('finds the end of a value of every format, ignoring what follows', () => {
    for (const [name, h] of EVERY_FORMAT) {
      const v = unhex(h);
      expect(skipValue(v, 0), name).toBe(v.length);
      const withTail = new Uint8Array([...v, 0xc1, 0xc1]);
      expect(skipValue(withTail, 0), name).toBe(v.length);
      // At an offset, and inside a subarray (a DataView over a shared buffer).
      const shifted = new Uint8Array([0xc1, 0xc1, 0xc1, ...v, 0xc1]);
      expect(skipValue(shifted, 3), name).toBe(3 + v.length);
      expect(skipValue(shifted.subarray(3), 0), name).toBe(v.length);
    }
  });

  it('reports NEED_MORE at every truncation point of every format', () => {
    for (const [name, h] of EVERY_FORMAT) {
      const v = unhex(h);
      for (let i = 0; i < v.length; i++) {
        expect(skipValue(v.subarray(0, i), 0), `${name} cut at ${i}`).toBe(NEED_MORE);
        // The same cut inside a larger buffer whose view ends there.
        const big = new Uint8Array([7, ...v]);
        expect(skipValue(big.subarray(0, 1 + i), 1), `${name} cut at ${i}`).toBe(NEED_MORE);
      }
    }
  });

  it('walks one array holding every format, and NEED_MORE at each of its prefixes', () => {
    const parts = EVERY_FORMAT.map(([, h]) => unhex(h));
    const all = new Uint8Array([
      ...w().array(parts.length).finish(),
      ...parts.flatMap((p) => [...p]),
    ]);
    expect(skipValue(all, 0)).toBe(all.length);
    for (let i = 0; i < all.length; i++) expect(skipValue(all.subarray(0, i), 0)).toBe(NEED_MORE);
    // Values that are not ext decode to something (these samples are valid msgpack).
    for (const [name, h] of EVERY_FORMAT) {
      if (name.includes('ext')) continue;
      expect(() => decodeValue(unhex(h)), name).not.toThrow();
    }
  });

  it('skips a sequence of values one by one', () => {
    const seq = new Uint8Array(EVERY_FORMAT.flatMap(([, h]) => [...unhex(h)]));
    let at = 0;
    for (const [name, h] of EVERY_FORMAT) {
      const next = skipValue(seq, at);
      expect(next - at, name).toBe(unhex(h).length);
      at = next;
    }
    expect(at).toBe(seq.length);
    expect(skipValue(seq, seq.length)).toBe(NEED_MORE);
  });

  it('gives up at once on counts larger than what is left (no 4-billion-step loops)', () => {
    for (const h of [
      'ddffffffff00000000',
      'dfffffffff00000000',
      'dcffff00',
      'deffff00',
      'dbffffffff00',
      'c6ffffffff00',
      'c9ffffffff0100',
      'dd0000000291', // the second item of the outer array is missing
    ]) {
      expect(skipValue(unhex(h), 0), h).toBe(NEED_MORE);
    }
  });

  it('walks deep nesting iteratively (a million arrays, 100k maps) without recursion', () => {
    const depth = 1_000_000;
    const arrays = new Uint8Array(depth + 1).fill(0x91);
    arrays[depth] = 0xc0;
    expect(skipValue(arrays, 0)).toBe(arrays.length);
    expect(skipValue(arrays.subarray(0, depth), 0)).toBe(NEED_MORE);
    expect(skipValue(arrays.subarray(0, depth / 2), 0)).toBe(NEED_MORE);

    const maps = new Uint8Array(3 * 100_000 + 1);
    for (let i = 0; i < 100_000; i++) maps.set([0x81, 0xa1, 0x6b], 3 * i);
    maps[maps.length - 1] = 0x01;
    expect(skipValue(maps, 0)).toBe(maps.length);
    expect(skipValue(maps.subarray(0, maps.length - 1), 0)).toBe(NEED_MORE);

    // Wide as well as deep: array32 of 100k fixarrays of one nil each.
    const wide = new Uint8Array([...unhex('dd000186a0'), ...new Uint8Array(200_000)]);
    for (let i = 0; i < 100_000; i++) wide.set([0x91, 0xc0], 5 + 2 * i);
    expect(skipValue(wide, 0)).toBe(wide.length);
  });

  it('refuses the never-used byte 0xc1 anywhere with GN_ERR_GOSSIP_MALFORMED', () => {
    for (const h of ['c1', '91c1', '82a161c1a16201', '9301c1c0']) {
      const err = thrown(() => skipValue(unhex(h), 0));
      expect(err, h).toBeInstanceOf(GossipError);
      expect(err, h).toEqual(MALFORMED);
    }
  });
});

describe('decodeValue', () => {
  it('decodes raw strings as bytes (they may not be UTF-8) and map keys as strings', () => {
    expect(decodeValue(unhex('a3fffefd'))).toEqual(Uint8Array.of(0xff, 0xfe, 0xfd));
    expect(decodeValue(unhex('81a14ba2c3a9'))).toEqual({ K: utf8('é') });
    expect(decodeValue(unhex('c403010203'))).toEqual(Uint8Array.of(1, 2, 3));
    expect(decodeValue(unhex('93c0c3cd0100'))).toEqual([null, true, 256]);
  });

  it('bounds raw/str/bin lengths by maxBytes (default 1 MiB)', () => {
    const at = (n: number): Uint8Array => w().raw(new Uint8Array(n)).finish();
    expect((decodeValue(at(1 << 20)) as Uint8Array).length).toBe(1 << 20);
    expect(thrown(() => decodeValue(at((1 << 20) + 1)))).toEqual(MALFORMED);
    expect(decodeValue(at(4), { maxBytes: 4 })).toEqual(new Uint8Array(4));
    expect(thrown(() => decodeValue(at(5), { maxBytes: 4 }))).toEqual(MALFORMED);
    expect(thrown(() => decodeValue(unhex('c40500000000'), { maxBytes: 4 }))).toEqual(MALFORMED);
    // A map key is a string too.
    expect(thrown(() => decodeValue(unhex('81a56b6b6b6b6b01'), { maxBytes: 4 }))).toEqual(
      MALFORMED,
    );
    // A length beyond the limit is refused from the header alone.
    expect(thrown(() => decodeValue(unhex('dbffffffff'), { maxBytes: 10 }))).toEqual(MALFORMED);
  });

  it('bounds array and map sizes by maxItems (default 65536)', () => {
    const nils = (n: number): Uint8Array =>
      new Uint8Array([...w().array(n).finish(), ...new Uint8Array(n).fill(0xc0)]);
    expect((decodeValue(nils(65536)) as unknown[]).length).toBe(65536);
    expect(thrown(() => decodeValue(nils(65537)))).toEqual(MALFORMED);
    expect(decodeValue(nils(2), { maxItems: 2 })).toEqual([null, null]);
    expect(thrown(() => decodeValue(nils(3), { maxItems: 2 }))).toEqual(MALFORMED);
    const map3 = w().map(3).key('a').nil().key('b').nil().key('c').nil().finish();
    expect(decodeValue(map3, { maxItems: 3 })).toEqual({ a: null, b: null, c: null });
    expect(thrown(() => decodeValue(map3, { maxItems: 2 }))).toEqual(MALFORMED);
    // Counts are refused before any item is read.
    expect(thrown(() => decodeValue(unhex('ddffffffff')))).toEqual(MALFORMED);
  });

  it('works with many limit combinations (its decoder cache is bounded, not wrong)', () => {
    for (let maxBytes = 1; maxBytes < 40; maxBytes++) {
      const ok = w().raw(new Uint8Array(maxBytes)).finish();
      const big = w()
        .raw(new Uint8Array(maxBytes + 1))
        .finish();
      expect((decodeValue(ok, { maxBytes }) as Uint8Array).length).toBe(maxBytes);
      expect(() => decodeValue(big, { maxBytes })).toThrow(GossipError);
    }
  });

  it('wraps every failure in GossipError MALFORMED with the cause', () => {
    for (const h of [
      '', // nothing
      'c1', // never used
      '0101', // trailing bytes
      'a36162', // truncated str
      '92c0', // truncated array
      'd40101', // ext (maxExtLength 0)
      'c70201abcd',
      '81c403010203c0', // a bin map key
      '81a95f5f70726f746f5f5f01', // "__proto__"
    ]) {
      const err = thrown(() => decodeValue(unhex(h)));
      expect(err, h).toBeInstanceOf(GossipError);
      expect(err, h).toEqual(MALFORMED);
      expect((err as Error).cause, h).toBeDefined();
    }
  });

  it('decodes deep nesting without recursion', () => {
    const depth = 100_000;
    const deep = new Uint8Array(depth + 1).fill(0x91);
    deep[depth] = 0x07;
    let v = decodeValue(deep);
    let levels = 0;
    while (Array.isArray(v)) {
      levels++;
      v = (v as unknown[])[0];
    }
    expect(levels).toBe(depth);
    expect(v).toBe(7);
  });
});

describe('asStruct / StructReader: go-codec decoding into a Go struct', () => {
  it('reads a map by field name, or an array by field order (missing trailing fields zero)', () => {
    const m = asStruct({ A: 1, B: utf8('x') }, 's', ['A', 'B']);
    expect([m.uint('A', 10), m.string('B')]).toEqual([1, 'x']);
    const a = asStruct([2], 's', ['A', 'B']);
    expect([a.uint('A', 10), a.string('B'), a.has('B')]).toEqual([2, '', false]);
    for (const bad of [null, 1, 'x', true, utf8('x')]) {
      expect(
        thrown(() => asStruct(bad, 'thing', ['A'])),
        String(bad),
      ).toEqual(MALFORMED);
    }
  });

  it('missing and nil fields are zero values; has() tells them apart', () => {
    const r = new StructReader({ N: null }, 's');
    expect(r.has('N')).toBe(false);
    expect(r.has('X')).toBe(false);
    expect([r.uint('N', 5), r.uint('X', 5), r.int('X', 5)]).toEqual([0, 0, 0]);
    expect([r.bool('N'), r.bool('X')]).toEqual([false, false]);
    expect([r.bytes('N'), r.bytes('X')]).toEqual([new Uint8Array(0), new Uint8Array(0)]);
    expect([r.string('N'), r.string('X')]).toEqual(['', '']);
    expect(r.value('X')).toBeUndefined();
    expect(new StructReader({ N: 0 }, 's').has('N')).toBe(true);
  });

  it('accepts what go-codec accepts: bigint and any integer form, str/bin/byte arrays', () => {
    const r = new StructReader(
      { Big: 5n, Str: 'hé', Bytes: utf8('hé'), Arr: [104, 255], Flag: true },
      's',
    );
    expect(r.uint('Big', 10)).toBe(5);
    expect(r.string('Str')).toBe('hé');
    expect(r.string('Bytes')).toBe('hé');
    expect(r.bytes('Str')).toEqual(utf8('hé'));
    expect(r.bytes('Arr')).toEqual(Uint8Array.of(104, 255));
    expect(r.bool('Flag')).toBe(true);
  });

  it('refuses wrong types and out-of-range integers with GN_ERR_GOSSIP_MALFORMED', () => {
    const r = new StructReader(
      { Neg: -1, Frac: 1.5, Big: 11, Str: 'x', Num: 3, Arr: [1, 256], Map: {}, Bool: 1 },
      's',
    );
    for (const f of ['Neg', 'Frac', 'Big', 'Str', 'Map']) {
      expect(
        thrown(() => r.uint(f, 10)),
        f,
      ).toEqual(MALFORMED);
    }
    expect(thrown(() => r.int('Neg', 10))).toEqual(MALFORMED);
    expect(thrown(() => r.bool('Bool'))).toEqual(MALFORMED);
    expect(thrown(() => r.bytes('Num'))).toEqual(MALFORMED);
    expect(thrown(() => r.bytes('Arr'))).toEqual(MALFORMED);
    expect(thrown(() => r.string('Num'))).toEqual(MALFORMED);
    expect(thrown(() => r.string('Map'))).toEqual(MALFORMED);
    expect((thrown(() => r.uint('Big', 10)) as Error).message).toMatch(/s\.Big/);
  });

  it('checkSize throws GN_ERR_GOSSIP_TOO_LARGE past the limit', () => {
    expect(() => checkSize(10, 10, 'x')).not.toThrow();
    expect(thrown(() => checkSize(11, 10, 'x'))).toEqual(
      expect.objectContaining({ code: GossipErrorCodes.TOO_LARGE }),
    );
  });
});
