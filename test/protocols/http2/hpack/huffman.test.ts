/** RFC 7541 §5.2 / Appendix B: the Huffman code transcription, encoder and decoder. */
import { describe, expect, it } from 'vitest';
import { HpackError } from '../../../../src/protocols/http2/errors.js';
import {
  EOS,
  HUFFMAN_CODES,
  HUFFMAN_LENGTHS,
  huffmanDecode,
  huffmanEncode,
  huffmanLength,
} from '../../../../src/protocols/http2/hpack/huffman.js';
import { fromHex, prng, toHex } from './vectors.js';

function encode(s: string): Uint8Array {
  const out = new Uint8Array(s.length * 4 + 8);
  return out.slice(0, huffmanEncode(s, out, 0));
}

function decode(bytes: Uint8Array): string {
  const out = new Uint8Array(Math.floor((bytes.length * 8) / 5) + 1);
  return Buffer.from(out.subarray(0, huffmanDecode(bytes, 0, bytes.length, out))).toString(
    'latin1',
  );
}

describe('Appendix B transcription', () => {
  it('has 257 codes, each fitting its length', () => {
    expect(HUFFMAN_CODES.length).toBe(257);
    expect(HUFFMAN_LENGTHS.length).toBe(257);
    for (let s = 0; s <= EOS; s++) {
      expect(HUFFMAN_LENGTHS[s]).toBeGreaterThanOrEqual(5);
      expect(HUFFMAN_LENGTHS[s]).toBeLessThanOrEqual(30);
      expect(HUFFMAN_CODES[s]).toBeLessThan(2 ** HUFFMAN_LENGTHS[s]!);
    }
  });

  // Appendix B: "a canonical Huffman code" — codes follow from the lengths alone, in
  // (length, symbol) order. A typo in any code or length breaks this.
  it('is the canonical code of its lengths, and complete (Kraft sum 1)', () => {
    const order = [...Array(257).keys()].sort(
      (a, b) => HUFFMAN_LENGTHS[a]! - HUFFMAN_LENGTHS[b]! || a - b,
    );
    let code = 0;
    let prevLen = HUFFMAN_LENGTHS[order[0]!]!;
    let kraft = 0;
    for (const s of order) {
      const len = HUFFMAN_LENGTHS[s]!;
      code *= 2 ** (len - prevLen);
      prevLen = len;
      expect(HUFFMAN_CODES[s], `symbol ${s}`).toBe(code);
      code++;
      kraft += 2 ** -len;
    }
    expect(kraft).toBe(1);
    expect(HUFFMAN_CODES[EOS]).toBe(0x3fffffff);
  });
});

describe('Huffman coding (§5.2)', () => {
  it('encodes the RFC examples', () => {
    expect(toHex(encode('www.example.com'))).toBe('f1e3c2e5f23a6ba0ab90f4ff');
    expect(toHex(encode('no-cache'))).toBe('a8eb10649cbf');
    expect(toHex(encode('custom-key'))).toBe('25a849e95ba97d7f');
    expect(toHex(encode('302'))).toBe('6402');
    expect(huffmanLength('www.example.com')).toBe(12);
  });

  it('round-trips every octet, alone and in random strings', () => {
    for (let c = 0; c < 256; c++) {
      const s = String.fromCharCode(c);
      expect(decode(encode(s))).toBe(s);
      expect(encode(s).length).toBe(huffmanLength(s));
    }
    const rand = prng(7);
    for (let n = 0; n < 500; n++) {
      let s = '';
      const len = Math.floor(rand() * 64);
      for (let i = 0; i < len; i++) s += String.fromCharCode(Math.floor(rand() * 256));
      const bytes = encode(s);
      expect(bytes.length).toBe(huffmanLength(s));
      expect(decode(bytes)).toBe(s);
    }
  });

  it('accepts up to 7 bits of EOS-prefix padding', () => {
    expect(decode(fromHex('1f'))).toBe('a'); // 00011 + 111
    expect(decode(fromHex('6402'))).toBe('302');
    expect(decode(fromHex(''))).toBe('');
  });

  it('refuses the EOS symbol in a string', () => {
    expect(() => decode(fromHex('ffffffff'))).toThrow(HpackError);
    expect(() => decode(fromHex('ffffffff'))).toThrow(/EOS/);
    // 'a' then EOS (30 ones) then one more padding bit of 1: 5 + 30 + 5 = 40 bits.
    expect(() => decode(fromHex('1fffffffff'))).toThrow(/contains EOS/);
  });

  it('refuses padding longer than 7 bits', () => {
    expect(() => decode(fromHex('ff'))).toThrow(HpackError); // 8 bits of padding
    expect(() => decode(fromHex('1fff'))).toThrow(/padding/); // 'a' + 11 bits of ones
  });

  it('refuses padding that is not the most significant bits of EOS', () => {
    expect(() => decode(fromHex('18'))).toThrow(/padding/); // 'a' + 000
    expect(() => decode(fromHex('1e'))).toThrow(/padding/); // 'a' + 110
    expect(() => decode(fromHex('00'))).toThrow(/padding/); // '0' + 000
  });
});
