import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GhostnetError, InvalidOptionError } from '../../../../src/errors.js';
import {
  LzwError,
  LzwErrorCodes,
  lzwCompress,
  lzwDecompress,
} from '../../../../src/p2p/gossip/wire/lzw.js';
import { mulberry32 } from '../../../helpers/prng.js';

interface Gen {
  seed: number;
  len: number;
  alphabet: number;
}
interface GoVector {
  name: string;
  input?: string;
  gen?: Gen;
  wire: string;
}
const { vectors } = JSON.parse(
  readFileSync(new URL('../../../vectors/gossip/lzw-go.json', import.meta.url), 'utf8'),
) as { vectors: GoVector[] };

const hex = (s: string) => new Uint8Array(Buffer.from(s, 'hex'));
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');
/** toEqual on large typed arrays is slow; compare as buffers. */
const same = (a: Uint8Array, b: Uint8Array) =>
  expect(a.length === b.length && Buffer.compare(a, b) === 0).toBe(true);
const MiB = 1 << 20;

/** The vector file's xorshift32 generator (see its `source`). */
function gen({ seed, len, alphabet }: Gen): Uint8Array {
  let x = seed >>> 0;
  const out = new Uint8Array(len);
  for (let i = 0; i < len; i++) {
    x = (x ^ (x << 13)) >>> 0;
    x = (x ^ (x >>> 17)) >>> 0;
    x = (x ^ (x << 5)) >>> 0;
    out[i] = alphabet === 256 ? x & 0xff : 97 + (x % alphabet);
  }
  return out;
}

function randomBytes(seed: number, len: number, alphabet = 256): Uint8Array {
  const rnd = mulberry32(seed);
  const out = new Uint8Array(len);
  for (let i = 0; i < len; i++) out[i] = Math.floor(rnd() * alphabet);
  return out;
}

/**
 * Packs codes LSB-first with the reader's width rules (9 bits after CLEAR, one more bit when
 * the next entry reaches 2^width, frozen at 12), to hand-craft streams Go's writer never
 * makes.
 */
function pack(codes: number[]): Uint8Array {
  const out: number[] = [];
  let bits = 0;
  let nBits = 0;
  let width = 9;
  let hi = 257;
  for (const code of codes) {
    bits |= code << nBits;
    nBits += width;
    while (nBits >= 8) {
      out.push(bits & 0xff);
      bits >>>= 8;
      nBits -= 8;
    }
    if (code === 256) {
      width = 9;
      hi = 257;
      continue;
    }
    hi++;
    if (hi >= 1 << width) {
      if (width === 12) hi--;
      else width++;
    }
  }
  if (nBits > 0) out.push(bits & 0xff);
  return new Uint8Array(out);
}

function expectLzwError(fn: () => unknown, code: string): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(LzwError);
    expect((err as LzwError).code).toBe(code);
    return;
  }
  expect.fail(`expected ${code}`);
}

describe('LZW vectors from Go compress/lzw (LSB, litWidth 8)', () => {
  for (const v of vectors) {
    const input = v.gen ? gen(v.gen) : hex(v.input ?? '');
    it(`compresses byte-exactly: ${v.name}`, () => {
      expect(toHex(lzwCompress(input))).toBe(v.wire);
    });
    it(`decompresses: ${v.name}`, () => {
      expect(toHex(lzwDecompress(hex(v.wire), input.length))).toBe(toHex(input));
    });
  }

  it('covers the width changes and the table reset', () => {
    const names = vectors.map((v) => v.name).join('\n');
    expect(names).toMatch(/9->10/);
    expect(names).toMatch(/11->12/);
    expect(names).toMatch(/table reset/);
  });
});

describe('lzwCompress / lzwDecompress round trips', () => {
  const sizes = [0, 1, 2, 3, 7, 255, 256, 257, 511, 512, 1000, 3837, 3838, 3839, 4096, 20_000];
  for (const alphabet of [1, 2, 5, 26, 256]) {
    it(`random data over an alphabet of ${alphabet}, many sizes`, () => {
      for (const size of sizes) {
        const data = randomBytes(size * 31 + alphabet, size, alphabet);
        const wire = lzwCompress(data);
        same(lzwDecompress(wire, size), data);
      }
    });
  }

  it('structured data: text, runs and repeats', () => {
    const text = new TextEncoder().encode(
      'SWIM: Scalable Weakly-consistent Infection-style Process Group Membership Protocol. '.repeat(
        400,
      ),
    );
    const runs = new Uint8Array(50_000);
    for (let i = 0; i < runs.length; i++) runs[i] = Math.floor(i / 97) & 0xff;
    const ramp = new Uint8Array(70_000).map((_, i) => i & 0xff);
    for (const data of [text, runs, ramp]) {
      const wire = lzwCompress(data);
      expect(wire.length).toBeLessThan(data.length);
      same(lzwDecompress(wire, data.length), data);
    }
  });

  it('a single-byte run long enough to fill the 12-bit table and reset it', () => {
    // A run of n bytes needs ~sqrt(2n) codes; 8 MiB is ~4100 codes, past the 3837 entries.
    const data = new Uint8Array(8 * MiB);
    const wire = lzwCompress(data);
    expect(wire.length).toBeLessThan(8_000);
    const out = lzwDecompress(wire, data.length);
    expect(out.length).toBe(data.length);
    expect(Buffer.compare(out, data)).toBe(0);
  });

  it('empty input is CLEAR EOF, as Go writes it', () => {
    expect(toHex(lzwCompress(new Uint8Array(0)))).toBe('000302');
    expect(lzwDecompress(hex('000302'), 0)).toEqual(new Uint8Array(0));
  });

  it('a stream with no CLEAR at all, or just EOF, decodes (Go reader starts cleared)', () => {
    expect(lzwDecompress(pack([0x41, 0x42, 258, 257]), 10)).toEqual(hex('41424142'));
    expect(lzwDecompress(pack([257]), 0)).toEqual(new Uint8Array(0));
  });

  it('ignores bytes after EOF, as Go does', () => {
    const wire = new Uint8Array([...lzwCompress(hex('0102')), 0xde, 0xad]);
    expect(lzwDecompress(wire, 2)).toEqual(hex('0102'));
  });

  it('decodes a full table frozen without CLEAR, including entry 4095 (Go reader)', () => {
    // 3839 literals define entries 258..4095 (entry 257+j = L[j-1] L[j]), then the table
    // is full and frozen: code 4095 = L[3837] L[3838], code 4000 = L[3742] L[3743].
    const lits = Array.from({ length: 3839 }, (_, j) => (j * 7) & 0xff);
    const wire = pack([256, ...lits, 4095, 4000, 0x55, 257]);
    const expected = [...lits, lits[3837]!, lits[3838]!, lits[3742]!, lits[3743]!, 0x55];
    expect([...lzwDecompress(wire, 10_000)]).toEqual(expected);
    // A CLEAR after the freeze starts over at 9 bits.
    const again = pack([256, ...lits, 256, 0x10, 0x11, 258, 257]);
    expect([...lzwDecompress(again, 10_000)]).toEqual([...lits, 0x10, 0x11, 0x10, 0x11]);
  });
});

describe('lzwDecompress is bounded', () => {
  it('stops a decompression bomb at maxOutput', () => {
    const bomb = lzwCompress(new Uint8Array(8 * MiB)); // ~6 KB on the wire
    expectLzwError(() => lzwDecompress(bomb, MiB), LzwErrorCodes.OUTPUT_TOO_LARGE);
  });

  it('accepts output of exactly maxOutput and rejects one byte more', () => {
    const data = randomBytes(9, 5000, 3);
    const wire = lzwCompress(data);
    expect(lzwDecompress(wire, 5000)).toEqual(data);
    expectLzwError(() => lzwDecompress(wire, 4999), LzwErrorCodes.OUTPUT_TOO_LARGE);
    expectLzwError(() => lzwDecompress(lzwCompress(hex('00')), 0), LzwErrorCodes.OUTPUT_TOO_LARGE);
  });

  it('rejects a maxOutput that is not a finite non-negative integer', () => {
    for (const bad of [-1, 1.5, Infinity, NaN]) {
      expect(() => lzwDecompress(hex('000302'), bad)).toThrow(InvalidOptionError);
    }
  });
});

describe('lzwDecompress rejects invalid input', () => {
  it('a code beyond the next table entry', () => {
    expectLzwError(
      () => lzwDecompress(pack([256, 0x41, 300, 257]), 100),
      LzwErrorCodes.INVALID_CODE,
    );
  });

  it('a non-literal first code after CLEAR', () => {
    expectLzwError(() => lzwDecompress(pack([256, 258, 257]), 100), LzwErrorCodes.INVALID_CODE);
  });

  it('input that ends before EOF', () => {
    expectLzwError(() => lzwDecompress(new Uint8Array(0), 100), LzwErrorCodes.TRUNCATED);
    expectLzwError(() => lzwDecompress(pack([256, 0x41, 0x42]), 100), LzwErrorCodes.TRUNCATED);
    const wire = lzwCompress(randomBytes(3, 1000));
    for (let cut = 0; cut < wire.length - 1; cut += 37) {
      expectLzwError(() => lzwDecompress(wire.subarray(0, cut), 2000), LzwErrorCodes.TRUNCATED);
    }
  });

  it('garbage and mutated streams throw only LzwError, never crash or overrun', () => {
    const rnd = mulberry32(0x1a2b);
    const valid = lzwCompress(randomBytes(77, 3000, 4));
    let errors = 0;
    for (let round = 0; round < 3000; round++) {
      let input: Uint8Array;
      if (round % 2 === 0) {
        input = randomBytes(round, Math.floor(rnd() * 300));
      } else {
        input = valid.slice();
        for (let k = 0; k < 1 + Math.floor(rnd() * 4); k++) {
          input[Math.floor(rnd() * input.length)] = Math.floor(rnd() * 256);
        }
      }
      try {
        const out = lzwDecompress(input, 4096);
        expect(out.length).toBeLessThanOrEqual(4096);
      } catch (err) {
        expect(err).toBeInstanceOf(GhostnetError);
        expect(err).toBeInstanceOf(LzwError);
        errors++;
      }
    }
    expect(errors).toBeGreaterThan(1000);
  });
});
