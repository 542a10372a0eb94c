import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from '../../../src/errors.js';
import {
  asDict,
  asInt,
  asList,
  bstr,
  decode,
  encode,
  getBytes,
  getDict,
  getInt,
  getList,
  getString,
} from '../../../src/p2p/kademlia/bencode.js';
import type { BDict, BValue } from '../../../src/p2p/kademlia/bencode.js';
import { BencodeError } from '../../../src/p2p/kademlia/errors.js';
import { mulberry32 } from '../../helpers/prng.js';

const latin1 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'latin1'));
const text = (b: Uint8Array): string => Buffer.from(b).toString('latin1');
const enc = (v: BValue): string => text(encode(v));

/** The decode error for `input`, asserting it is a BencodeError. */
function decodeError(
  input: Uint8Array | string,
  limits?: Parameters<typeof decode>[1],
): BencodeError {
  try {
    decode(typeof input === 'string' ? latin1(input) : input, limits);
  } catch (err) {
    expect(err).toBeInstanceOf(BencodeError);
    return err as BencodeError;
  }
  throw new Error(`decoded without error: ${String(input)}`);
}

const prng = mulberry32;

/** A random bencodable value of decoded shape (byte strings, safe ints, lists, dicts). */
function randomValue(rnd: () => number, depth = 0, asciiKeys = false): BValue {
  const pick = Math.floor(rnd() * (depth > 3 ? 2 : 4));
  const int = (n: number) => Math.floor(rnd() * n);
  if (pick === 0) {
    const kind = int(4);
    if (kind === 0) return 0;
    if (kind === 1) return int(100) - 50;
    if (kind === 2) return (int(2) ? -1 : 1) * Math.floor(rnd() * Number.MAX_SAFE_INTEGER);
    return int(2) ? Number.MAX_SAFE_INTEGER : -Number.MAX_SAFE_INTEGER;
  }
  if (pick === 1) {
    const b = new Uint8Array(int(3) === 0 ? 0 : int(40));
    for (let i = 0; i < b.length; i++) b[i] = int(256);
    return b;
  }
  if (pick === 2) {
    const n = int(5);
    return Array.from({ length: n }, () => randomValue(rnd, depth + 1, asciiKeys));
  }
  const d: BDict = Object.create(null) as BDict;
  const n = int(5);
  for (let i = 0; i < n; i++) {
    let key = '';
    const len = int(6);
    for (let j = 0; j < len; j++) {
      key += String.fromCharCode(asciiKeys ? 0x20 + int(0x5f) : int(256));
    }
    d[key] = randomValue(rnd, depth + 1, asciiKeys);
  }
  return d;
}

describe('bencode encode', () => {
  it('encodes each type canonically', () => {
    expect(enc(0)).toBe('i0e');
    expect(enc(-0)).toBe('i0e');
    expect(enc(42)).toBe('i42e');
    expect(enc(-42)).toBe('i-42e');
    expect(enc(Number.MAX_SAFE_INTEGER)).toBe('i9007199254740991e');
    expect(enc(-(2n ** 63n))).toBe('i-9223372036854775808e');
    expect(enc(0x7fffffffffffffffn)).toBe('i9223372036854775807e');
    expect(enc(new Uint8Array([0, 0xff]))).toBe('2:\x00\xff');
    expect(enc('')).toBe('0:');
    expect(enc('spam')).toBe('4:spam');
    expect(enc('hé')).toBe('3:h\xc3\xa9'); // JS strings are UTF-8
    expect(enc([])).toBe('le');
    expect(enc(['spam', 'eggs', 1])).toBe('l4:spam4:eggsi1ee');
    expect(enc({})).toBe('de');
    expect(enc({ cow: 'moo', spam: 'eggs' })).toBe('d3:cow3:moo4:spam4:eggse');
  });

  it('sorts dictionary keys as raw byte strings (BEP 3)', () => {
    expect(enc({ b: 1, a: 2, B: 3, ab: 4, '': 5 })).toBe('d0:i5e1:Bi3e1:ai2e2:abi4e1:bi1ee');
    expect(enc({ '\xff': 1, '\x00': 2, z: 3 })).toBe('d1:\x00i2e1:zi3e1:\xffi1ee');
  });

  it('writes keys as latin1 and skips undefined values', () => {
    expect(enc({ '\xe9': 1 })).toBe('d1:\xe9i1ee');
    expect(enc({ a: undefined, b: 1 })).toBe('d1:bi1ee');
  });

  it('accepts null-prototype dicts and nested structures', () => {
    const d = Object.create(null) as BDict;
    d.y = 'q';
    d.a = { id: new Uint8Array(20), target: [1, [2, { x: 'y' }]] };
    expect(enc(d)).toBe(`d1:ad2:id20:${'\x00'.repeat(20)}6:targetli1eli2ed1:x1:yeeee1:y1:qe`);
  });

  it.each([
    ['a fraction', 1.5],
    ['NaN', NaN],
    ['Infinity', Infinity],
    ['an unsafe integer', 2 ** 53],
    ['null', null],
    ['a boolean', true],
    ['undefined', undefined],
    ['undefined in a list', [1, undefined]],
    ['a Map', new Map()],
    ['a Uint16Array', new Uint16Array(2)],
    ['a key above U+00FF', { ā: 1 }],
  ])('rejects %s with BencodeError', (_name, v) => {
    expect(() => encode(v as BValue)).toThrow(BencodeError);
  });

  it('rejects a cyclic value with BencodeError', () => {
    const a: BValue[] = [];
    a.push(a);
    expect(() => encode(a)).toThrow(BencodeError);
  });
});

describe('bencode decode', () => {
  it('decodes each type', () => {
    expect(decode(latin1('i0e'))).toBe(0);
    expect(decode(latin1('i-7e'))).toBe(-7);
    expect(decode(latin1('i9007199254740991e'))).toBe(Number.MAX_SAFE_INTEGER);
    expect(decode(latin1('i-9007199254740991e'))).toBe(-Number.MAX_SAFE_INTEGER);
    expect(decode(latin1('0:'))).toEqual(new Uint8Array(0));
    expect(decode(latin1('4:spam'))).toEqual(latin1('spam'));
    expect(decode(latin1('l4:spami3ee'))).toEqual([latin1('spam'), 3]);
    const d = decode(latin1('d3:cow3:moo4:spaml1:a1:bee')) as BDict;
    expect(Object.getPrototypeOf(d)).toBe(null);
    expect(Object.keys(d)).toEqual(['cow', 'spam']);
    expect(d.cow).toEqual(latin1('moo'));
    expect(d.spam).toEqual([latin1('a'), latin1('b')]);
  });

  it('decodes keys as latin1, any byte representable, and keeps __proto__ an own key', () => {
    const d = decode(latin1('d1:\x00i1e9:__proto__i2e1:\xffi3ee')) as BDict;
    expect(Object.keys(d)).toEqual(['\x00', '__proto__', '\xff']);
    expect(d['__proto__']).toBe(2);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('returns byte strings as copies, also from a view with an offset', () => {
    const backing = latin1('xx4:spamxx');
    const view = backing.subarray(2, 8);
    const s = decode(view) as Uint8Array;
    expect(s).toEqual(latin1('spam'));
    expect(s.constructor).toBe(Uint8Array);
    backing[5] = 0x21;
    expect(text(s)).toBe('spam');
    expect(decode(Buffer.from('d1:ai1ee'))).toEqual(Object.assign(Object.create(null), { a: 1 }));
  });

  // Every strictness rule, with the offset the error must report.
  it.each([
    ['empty input', '', 0],
    ['trailing data', 'i1ei2e', 3],
    ['trailing data after a string', '1:ab', 3],
    ['unknown type byte', 'x', 0],
    ['unknown type byte in a list', 'lxe', 1],
    ['integer with no digits', 'ie', 0],
    ['negative with no digits', 'i-e', 0],
    ['negative zero', 'i-0e', 0],
    ['leading zero', 'i03e', 0],
    ['negative leading zero', 'i-03e', 0],
    ['plus sign', 'i+3e', 1],
    ['double minus', 'i--3e', 2],
    ['space in integer', 'i 3e', 1],
    ['fraction', 'i1.5e', 2],
    ['exponent', 'i1e5e', 3],
    ['unterminated integer', 'i12', 3],
    ['unsafe integer', 'i9007199254740992e', 0],
    ['unsafe negative integer', 'i-9007199254740992e', 0],
    ['huge integer', 'i123456789012345678901234567890e', 0],
    ['string length with a leading zero', '01:a', 0],
    ['string length 00', '00:', 0],
    ['negative string length', '-1:a', 0],
    ['string length without colon', '3abc', 1],
    ['truncated string', '5:abc', 0],
    ['huge string length', '99999999999:a', 0],
    ['truncated after length', '3', 1],
    ['unterminated list', 'li1e', 4],
    ['unterminated dict', 'd1:ai1e', 7],
    ['dict key missing value', 'd1:ae', 4],
    ['integer dict key', 'di1ei2ee', 1],
    ['list dict key', 'dlei2ee', 1],
    ['unsorted keys', 'd1:bi1e1:ai2ee', 7],
    ['unsorted keys by byte (B < a)', 'd1:ai1e1:Bi2ee', 7],
    ['unsorted keys, prefix after longer', 'd2:abi1e1:ai2ee', 8],
    ['duplicate keys', 'd1:ai1e1:ai2ee', 7],
    ['only an end marker', 'e', 0],
  ])('rejects %s', (_name, input, offset) => {
    expect(decodeError(input).offset).toBe(offset);
  });

  it('reports errors with code GN_ERR_BENCODE and the offset in the message', () => {
    const err = decodeError('i-0e');
    expect(err.code).toBe('GN_ERR_BENCODE');
    expect(err.message).toContain('(at byte 0)');
  });

  it('accepts empty keys and values at every position', () => {
    expect(decode(latin1('d0:0:e'))).toEqual(
      Object.assign(Object.create(null), { '': new Uint8Array(0) }),
    );
    expect(decode(latin1('lledee'))).toEqual([[], Object.create(null)]);
  });

  describe('bounds', () => {
    it('maxDepth: 64 nested lists decode, 65 do not', () => {
      expect(() => decode(latin1('l'.repeat(64) + 'e'.repeat(64)))).not.toThrow();
      expect(decodeError('l'.repeat(65) + 'e'.repeat(65)).offset).toBe(64);
      expect(decodeError('d1:a'.repeat(65) + 'e'.repeat(65)).message).toContain('maxDepth');
      expect(() => decode(latin1('lle' + 'e'), { maxDepth: 2 })).not.toThrow();
      expect(decodeError('llle' + 'ee', { maxDepth: 2 }).offset).toBe(2);
    });

    it('maxDepth: a very deep input is a BencodeError, not a stack overflow', () => {
      expect(decodeError('l'.repeat(100_000), { maxSize: 200_000 }).message).toContain('maxDepth');
    });

    it('maxSize: 64 KiB by default', () => {
      const ok = latin1(`65529:${'a'.repeat(65529)}`);
      expect(ok.length).toBe(65535);
      expect(() => decode(ok)).not.toThrow();
      const big = latin1(`65530:${'a'.repeat(65530)}`);
      expect(big.length).toBe(65536);
      expect(() => decode(big)).not.toThrow();
      const tooBig = latin1(`65531:${'a'.repeat(65531)}`);
      expect(decodeError(tooBig).offset).toBe(65536);
      expect(decodeError('4:spam', { maxSize: 5 }).message).toContain('maxSize');
    });

    it('maxItems: 10000 values by default, keys count', () => {
      const list = (n: number) => latin1(`l${'i0e'.repeat(n - 1)}e`);
      expect(() => decode(list(10000))).not.toThrow();
      expect(decodeError(list(10001)).message).toContain('maxItems');
      // d + key + value = 3 items
      expect(() => decode(latin1('d1:ai1ee'), { maxItems: 3 })).not.toThrow();
      expect(decodeError('d1:ai1ee', { maxItems: 2 }).message).toContain('maxItems');
    });

    it('rejects bad limits with InvalidOptionError', () => {
      expect(() => decode(latin1('i1e'), { maxDepth: 0 })).toThrow(InvalidOptionError);
      expect(() => decode(latin1('i1e'), { maxDepth: 1001 })).toThrow(InvalidOptionError);
      expect(() => decode(latin1('i1e'), { maxSize: 1.5 })).toThrow(InvalidOptionError);
      expect(() => decode(latin1('i1e'), { maxItems: -1 })).toThrow(InvalidOptionError);
    });

    it('rejects a non-Uint8Array input with BencodeError', () => {
      expect(() => decode('i1e' as unknown as Uint8Array)).toThrow(BencodeError);
    });
  });
});

describe('bencode round trips', () => {
  it('decode(encode(v)) equals v and encode(decode(b)) equals b for random values', () => {
    const rnd = prng(1);
    for (let i = 0; i < 2000; i++) {
      const v = randomValue(rnd);
      const bytes = encode(v);
      const back = decode(bytes, { maxSize: 1 << 20 });
      expect(back).toEqual(v);
      expect(encode(back)).toEqual(bytes);
    }
  });

  it('round-trips KRPC-shaped messages', () => {
    const msg = {
      t: 'aa',
      y: 'q',
      q: 'get_peers',
      a: { id: new Uint8Array(20).fill(1), info_hash: new Uint8Array(20).fill(2) },
    };
    const bytes = encode(msg);
    expect(text(bytes)).toBe(
      `d1:ad2:id20:${'\x01'.repeat(20)}9:info_hash20:${'\x02'.repeat(20)}e1:q9:get_peers1:t2:aa1:y1:qe`,
    );
    const d = asDict(decode(bytes))!;
    expect(getString(d, 'q')).toBe('get_peers');
    expect(getBytes(getDict(d, 'a')!, 'id')).toEqual(msg.a.id);
  });
});

describe('bencode accessors', () => {
  const d = decode(latin1('d1:ai7e1:bd1:ci1ee1:ll1:xe1:s3:abce')) as BDict;

  it('return the typed value or undefined', () => {
    expect(getInt(d, 'a')).toBe(7);
    expect(getInt(d, 's')).toBeUndefined();
    expect(getBytes(d, 's')).toEqual(latin1('abc'));
    expect(getBytes(d, 'a')).toBeUndefined();
    expect(getString(d, 's')).toBe('abc');
    expect(getString(d, 'missing')).toBeUndefined();
    expect(getDict(d, 'b')).toEqual(Object.assign(Object.create(null), { c: 1 }));
    expect(getDict(d, 'l')).toBeUndefined();
    expect(getList(d, 'l')).toEqual([latin1('x')]);
    expect(getList(d, 'b')).toBeUndefined();
    expect(bstr(d.s)).toEqual(latin1('abc'));
    expect(bstr(d.a)).toBeUndefined();
    expect(asInt(d.a)).toBe(7);
    expect(asList(d.a)).toBeUndefined();
    expect(asDict(d.l)).toBeUndefined();
  });

  it('ignore inherited properties', () => {
    const plain: BDict = { a: 1 };
    expect(getDict(plain, 'constructor')).toBeUndefined();
    expect(getString(plain, 'toString')).toBeUndefined();
  });
});

describe('bencode fuzz', () => {
  it('decode returns or throws BencodeError on 5000 random and mutated inputs', () => {
    const rnd = prng(0xbe9c0de);
    const int = (n: number) => Math.floor(rnd() * n);
    const alphabet = latin1('ilde0123456789:-ae');
    let accepted = 0;
    for (let i = 0; i < 5000; i++) {
      let input: Uint8Array;
      if (i % 4 === 0) {
        // Random bytes, biased towards bencode's syntax bytes.
        input = new Uint8Array(int(64));
        for (let j = 0; j < input.length; j++) {
          input[j] = int(2) ? alphabet[int(alphabet.length)]! : int(256);
        }
      } else {
        const valid = Array.from(encode(randomValue(rnd)));
        const edits = 1 + int(3);
        for (let e = 0; e < edits; e++) {
          const at = int(valid.length + 1);
          const op = int(4);
          if (op === 0 && valid.length > 0) valid[Math.min(at, valid.length - 1)] = int(256);
          else if (op === 1) valid.splice(at, 0, alphabet[int(alphabet.length)]!);
          else if (op === 2) valid.splice(at, 1);
          else valid.length = at;
        }
        input = Uint8Array.from(valid);
      }
      let out: BValue | undefined;
      try {
        out = decode(input);
      } catch (err) {
        if (!(err instanceof BencodeError)) throw err;
        expect(err.offset).toBeGreaterThanOrEqual(0);
        expect(err.offset).toBeLessThanOrEqual(input.length);
        continue;
      }
      accepted++;
      // Strictness means decoding is injective: what we accept re-encodes byte for byte.
      expect(encode(out)).toEqual(input);
    }
    expect(accepted).toBeGreaterThan(50);
  });
});

describe('bencode cross-check with the bencode npm package', async () => {
  // Tests only: an independent implementation (webtorrent/node-bencode, no types shipped).
  const specifier = 'bencode';
  const theirs = (
    (await import(specifier)) as {
      default: { encode(v: unknown): Uint8Array; decode(b: Uint8Array): unknown };
    }
  ).default;

  /** Their decode gives plain-prototype dicts; compare by normalising ours. */
  const plain = (v: BValue | undefined): unknown => {
    if (Array.isArray(v)) return v.map(plain);
    if (v instanceof Uint8Array || typeof v !== 'object') return v;
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  };

  it('our encode equals theirs, and each decodes the other, for 1000 random values', () => {
    const rnd = prng(44);
    for (let i = 0; i < 1000; i++) {
      // ASCII keys: that package decodes keys as UTF-8.
      const v = randomValue(rnd, 0, true);
      const ours = encode(v);
      const their = new Uint8Array(theirs.encode(v));
      expect(text(ours)).toBe(text(their));
      expect(plain(decode(their, { maxSize: 1 << 20 }))).toEqual(plain(v));
      expect(theirs.decode(ours)).toEqual(plain(v));
    }
  });
});
