/**
 * The HPACK Huffman code (RFC 7541 §5.2, Appendix B).
 *
 * Encoding writes each octet's code, MSB first, and pads the last octet with the most
 * significant bits of EOS (all ones). Decoding is table-driven: a state machine built at
 * module load over the code's tree consumes four bits per step (two steps an octet), so
 * no bit-by-bit tree walk happens at run time. A nibble can complete at most one symbol,
 * since the shortest code is 5 bits long.
 */
import { HpackError } from '../errors.js';

/** Appendix B, "code as hex aligned to LSB", for symbols 0–255 and EOS (256). */
// prettier-ignore
const CODES: readonly number[] = [
  0x1ff8, 0x7fffd8, 0xfffffe2, 0xfffffe3, 0xfffffe4, 0xfffffe5, 0xfffffe6, 0xfffffe7,
  0xfffffe8, 0xffffea, 0x3ffffffc, 0xfffffe9, 0xfffffea, 0x3ffffffd, 0xfffffeb, 0xfffffec,
  0xfffffed, 0xfffffee, 0xfffffef, 0xffffff0, 0xffffff1, 0xffffff2, 0x3ffffffe, 0xffffff3,
  0xffffff4, 0xffffff5, 0xffffff6, 0xffffff7, 0xffffff8, 0xffffff9, 0xffffffa, 0xffffffb,
  // ' ' (32) … '/' (47)
  0x14, 0x3f8, 0x3f9, 0xffa, 0x1ff9, 0x15, 0xf8, 0x7fa,
  0x3fa, 0x3fb, 0xf9, 0x7fb, 0xfa, 0x16, 0x17, 0x18,
  // '0' (48) … '?' (63)
  0x0, 0x1, 0x2, 0x19, 0x1a, 0x1b, 0x1c, 0x1d,
  0x1e, 0x1f, 0x5c, 0xfb, 0x7ffc, 0x20, 0xffb, 0x3fc,
  // '@' (64) … 'O' (79)
  0x1ffa, 0x21, 0x5d, 0x5e, 0x5f, 0x60, 0x61, 0x62,
  0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a,
  // 'P' (80) … '_' (95)
  0x6b, 0x6c, 0x6d, 0x6e, 0x6f, 0x70, 0x71, 0x72,
  0xfc, 0x73, 0xfd, 0x1ffb, 0x7fff0, 0x1ffc, 0x3ffc, 0x22,
  // '`' (96) … 'o' (111)
  0x7ffd, 0x3, 0x23, 0x4, 0x24, 0x5, 0x25, 0x26,
  0x27, 0x6, 0x74, 0x75, 0x28, 0x29, 0x2a, 0x7,
  // 'p' (112) … DEL (127)
  0x2b, 0x76, 0x2c, 0x8, 0x9, 0x2d, 0x77, 0x78,
  0x79, 0x7a, 0x7b, 0x7ffe, 0x7fc, 0x3ffd, 0x1ffd, 0xffffffc,
  // 128 … 143
  0xfffe6, 0x3fffd2, 0xfffe7, 0xfffe8, 0x3fffd3, 0x3fffd4, 0x3fffd5, 0x7fffd9,
  0x3fffd6, 0x7fffda, 0x7fffdb, 0x7fffdc, 0x7fffdd, 0x7fffde, 0xffffeb, 0x7fffdf,
  // 144 … 159
  0xffffec, 0xffffed, 0x3fffd7, 0x7fffe0, 0xffffee, 0x7fffe1, 0x7fffe2, 0x7fffe3,
  0x7fffe4, 0x1fffdc, 0x3fffd8, 0x7fffe5, 0x3fffd9, 0x7fffe6, 0x7fffe7, 0xffffef,
  // 160 … 175
  0x3fffda, 0x1fffdd, 0xfffe9, 0x3fffdb, 0x3fffdc, 0x7fffe8, 0x7fffe9, 0x1fffde,
  0x7fffea, 0x3fffdd, 0x3fffde, 0xfffff0, 0x1fffdf, 0x3fffdf, 0x7fffeb, 0x7fffec,
  // 176 … 191
  0x1fffe0, 0x1fffe1, 0x3fffe0, 0x1fffe2, 0x7fffed, 0x3fffe1, 0x7fffee, 0x7fffef,
  0xfffea, 0x3fffe2, 0x3fffe3, 0x3fffe4, 0x7ffff0, 0x3fffe5, 0x3fffe6, 0x7ffff1,
  // 192 … 207
  0x3ffffe0, 0x3ffffe1, 0xfffeb, 0x7fff1, 0x3fffe7, 0x7ffff2, 0x3fffe8, 0x1ffffec,
  0x3ffffe2, 0x3ffffe3, 0x3ffffe4, 0x7ffffde, 0x7ffffdf, 0x3ffffe5, 0xfffff1, 0x1ffffed,
  // 208 … 223
  0x7fff2, 0x1fffe3, 0x3ffffe6, 0x7ffffe0, 0x7ffffe1, 0x3ffffe7, 0x7ffffe2, 0xfffff2,
  0x1fffe4, 0x1fffe5, 0x3ffffe8, 0x3ffffe9, 0xffffffd, 0x7ffffe3, 0x7ffffe4, 0x7ffffe5,
  // 224 … 239
  0xfffec, 0xfffff3, 0xfffed, 0x1fffe6, 0x3fffe9, 0x1fffe7, 0x1fffe8, 0x7ffff3,
  0x3fffea, 0x3fffeb, 0x1ffffee, 0x1ffffef, 0xfffff4, 0xfffff5, 0x3ffffea, 0x7ffff4,
  // 240 … 255
  0x3ffffeb, 0x7ffffe6, 0x3ffffec, 0x3ffffed, 0x7ffffe7, 0x7ffffe8, 0x7ffffe9, 0x7ffffea,
  0x7ffffeb, 0xffffffe, 0x7ffffec, 0x7ffffed, 0x7ffffee, 0x7ffffef, 0x7fffff0, 0x3ffffee,
  // EOS (256)
  0x3fffffff,
];

/** Appendix B, "len in bits", for symbols 0–255 and EOS (256). */
// prettier-ignore
const LENGTHS: readonly number[] = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28,
  28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
  6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6,
  5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
  13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
  7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,
  15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5,
  6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,
  20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23,
  24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,
  22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23,
  21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
  26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25,
  19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
  20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23,
  26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
  30,
];

/** The EOS symbol (§5.2): never encoded; its code's leading bits are the padding. */
export const EOS = 256;

/** Appendix B as data, for tests that check the transcription. */
export const HUFFMAN_CODES: readonly number[] = CODES;
export const HUFFMAN_LENGTHS: readonly number[] = LENGTHS;

// Encoder tables, indexed by octet. ENC_PACKED holds code << 5 | length for the codes of
// at most 24 bits (all printable ASCII, most of what is sent): one load per octet.
const ENC_CODE = Uint32Array.from(CODES.slice(0, 256));
const ENC_LEN = Uint8Array.from(LENGTHS.slice(0, 256));
const ENC_PACKED = Uint32Array.from(CODES.slice(0, 256), (code, i) =>
  LENGTHS[i]! <= 24 ? (code << 5) | LENGTHS[i]! : 0,
);

// Decoder state machine. States are the tree's internal nodes (256 of them for 257
// leaves); state 0 is the root. An entry of DECODE_TABLE, indexed by state × 16 + nibble:
//   bits 0–7   next state
//   bit  8     a symbol was completed during this nibble; it is in bits 16–23
//   bit  9     EOS was decoded: an error (§5.2)
const EMIT = 0x100;
const FAIL = 0x200;
const DECODE_TABLE = new Uint32Array(256 * 16);
/**
 * ACCEPT[state] is 1 when a string may end in that state (§5.2): the bits read since the
 * last symbol are fewer than 8 and all ones, i.e. a prefix of EOS used as padding.
 */
const ACCEPT = new Uint8Array(256);

(function buildDecoder(): void {
  // The tree: child[node * 2 + bit] is an internal node id (≥ 0) or -(symbol + 1).
  const child = new Int32Array(256 * 2);
  let nodes = 1;
  for (let sym = 0; sym <= EOS; sym++) {
    const code = CODES[sym]!;
    const len = LENGTHS[sym]!;
    let node = 0;
    for (let i = len - 1; i > 0; i--) {
      const bit = (code >>> i) & 1;
      let next = child[node * 2 + bit]!;
      if (next === 0) {
        next = nodes++;
        child[node * 2 + bit] = next;
      }
      node = next;
    }
    child[node * 2 + (code & 1)] = -(sym + 1);
  }
  // Depth and "all ones so far" of every internal node, for ACCEPT.
  const depth = new Uint8Array(256);
  const ones = new Uint8Array(256);
  ones[0] = 1;
  for (let node = 0; node < nodes; node++) {
    for (let bit = 0; bit < 2; bit++) {
      const next = child[node * 2 + bit]!;
      if (next > 0) {
        depth[next] = depth[node]! + 1;
        ones[next] = ones[node]! & bit;
      }
    }
  }
  for (let node = 0; node < nodes; node++) ACCEPT[node] = ones[node]! && depth[node]! <= 7 ? 1 : 0;
  for (let state = 0; state < nodes; state++) {
    for (let nibble = 0; nibble < 16; nibble++) {
      let node = state;
      let entry = 0;
      for (let i = 3; i >= 0; i--) {
        const next = child[node * 2 + ((nibble >>> i) & 1)]!;
        if (next > 0) {
          node = next;
          continue;
        }
        const sym = -next - 1;
        if (sym === EOS) entry |= FAIL;
        else entry |= EMIT | (sym << 16);
        node = 0;
      }
      DECODE_TABLE[state * 16 + nibble] = entry | node;
    }
  }
})();

/** Octets the Huffman encoding of `s` (latin1, one octet per code unit) takes. */
export function huffmanLength(s: string): number {
  let bits = 0;
  for (let i = 0; i < s.length; i++) bits += ENC_LEN[s.charCodeAt(i) & 0xff]!;
  return (bits + 7) >>> 3;
}

/**
 * Writes the Huffman encoding of `s` at `out[pos]`; returns the position after it, or −1
 * as soon as that would pass `limit` (then `out` past `pos` holds garbage). `out` must have
 * room up to `limit`, or for 30 bits an octet of `s` when `limit` is Infinity.
 */
export function huffmanEncode(s: string, out: Uint8Array, pos: number, limit = Infinity): number {
  let acc = 0; // pending bits, fewer than 8 between symbols
  let bits = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i) & 0xff;
    const packed = ENC_PACKED[c]!;
    if (packed !== 0) {
      // ≤ 7 pending + ≤ 24 new bits fit a 31-bit integer.
      const len = packed & 0x1f;
      acc = (acc << len) | (packed >>> 5);
      bits += len;
    } else {
      const len = ENC_LEN[c]!;
      const code = ENC_CODE[c]!;
      acc = (acc << (len - 16)) | (code >>> 16);
      bits += len - 16;
      while (bits >= 8) {
        bits -= 8;
        out[pos++] = acc >>> bits;
      }
      acc = ((acc & ((1 << bits) - 1)) << 16) | (code & 0xffff);
      bits += 16;
    }
    if (bits >= 8) {
      do {
        bits -= 8;
        out[pos++] = acc >>> bits;
      } while (bits >= 8);
      if (pos > limit) return -1;
      acc &= (1 << bits) - 1;
    }
  }
  // §5.2: pad with the most significant bits of EOS (ones).
  if (bits > 0) out[pos++] = (acc << (8 - bits)) | (0xff >>> bits);
  return pos > limit ? -1 : pos;
}

/**
 * Decodes `src[start, end)` into `out` from index 0; returns the decoded length. `out`
 * must hold at least ⌊(end − start) × 8 / 5⌋ octets. Throws HpackError when the string
 * holds EOS, or its padding is longer than 7 bits or not a prefix of EOS (§5.2).
 */
export function huffmanDecode(
  src: Uint8Array,
  start: number,
  end: number,
  out: Uint8Array,
): number {
  let state = 0;
  let n = 0;
  for (let i = start; i < end; i++) {
    const b = src[i]!;
    let e = DECODE_TABLE[(state << 4) | (b >>> 4)]!;
    if (e > 0xff) {
      if ((e & FAIL) !== 0) throw new HpackError('Huffman string contains EOS (RFC 7541 §5.2)');
      out[n++] = e >>> 16;
    }
    state = e & 0xff;
    e = DECODE_TABLE[(state << 4) | (b & 0xf)]!;
    if (e > 0xff) {
      if ((e & FAIL) !== 0) throw new HpackError('Huffman string contains EOS (RFC 7541 §5.2)');
      out[n++] = e >>> 16;
    }
    state = e & 0xff;
  }
  if (ACCEPT[state] !== 1) {
    throw new HpackError(
      'Huffman padding longer than 7 bits or not the most significant bits of EOS (RFC 7541 §5.2)',
    );
  }
  return n;
}
