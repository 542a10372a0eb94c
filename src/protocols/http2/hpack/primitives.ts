/**
 * HPACK primitive types (RFC 7541 §5): prefixed integers (§5.1) and string literals (§5.2).
 */
import { HpackError } from '../errors.js';
import { huffmanEncode, huffmanLength } from './huffman.js';

/**
 * The largest integer accepted (§5.1, §7.4: "an implementation has to set a limit for the
 * values it accepts for integers, as well as for the encoded length"). 2^31 − 1 covers every
 * index, length and table size HTTP/2 can express.
 */
export const MAX_INTEGER = 0x7fffffff;
/** Continuation octets after the prefix: 5 × 7 bits past the prefix reach 2^31 − 1. */
const MAX_CONTINUATION_OCTETS = 5;

/** Read position within a block, shared by the primitive readers. */
export interface Cursor {
  pos: number;
}

/**
 * Reads an integer with an N-bit prefix (§5.1) at `src[cur.pos]`, advancing `cur.pos`.
 * The octet at `cur.pos` must exist (the caller has read its pattern bits). Throws
 * HpackError when truncated, longer than five continuation octets, or above 2^31 − 1.
 */
export function decodeInteger(
  src: Uint8Array,
  end: number,
  cur: Cursor,
  prefixBits: number,
): number {
  const mask = (1 << prefixBits) - 1;
  let pos = cur.pos;
  let value = src[pos++]! & mask;
  if (value < mask) {
    cur.pos = pos;
    return value;
  }
  let multiplier = 1;
  for (let n = 0; n < MAX_CONTINUATION_OCTETS; n++) {
    if (pos >= end) throw new HpackError('truncated integer (RFC 7541 §5.1)');
    const b = src[pos++]!;
    value += (b & 0x7f) * multiplier;
    if (value > MAX_INTEGER) throw new HpackError('integer above 2^31-1 (RFC 7541 §5.1, §7.4)');
    if ((b & 0x80) === 0) {
      cur.pos = pos;
      return value;
    }
    multiplier *= 128;
  }
  throw new HpackError('integer encoding too long (RFC 7541 §5.1, §7.4)');
}

/**
 * Writes `value` with an N-bit prefix (§5.1) at `out[pos]`; `pattern` holds the bits above
 * the prefix in the first octet. Returns the position after it. `out` must have room for
 * six octets.
 */
export function encodeInteger(
  out: Uint8Array,
  pos: number,
  value: number,
  prefixBits: number,
  pattern: number,
): number {
  const mask = (1 << prefixBits) - 1;
  if (value < mask) {
    out[pos++] = pattern | value;
    return pos;
  }
  out[pos++] = pattern | mask;
  value -= mask;
  while (value >= 128) {
    out[pos++] = (value & 0x7f) | 0x80;
    value = Math.floor(value / 128);
  }
  out[pos++] = value;
  return pos;
}

/** Huffman-code string literals when shorter, always, or never. */
export type HuffmanPolicy = 'auto' | 'always' | 'never';

/**
 * Writes the string literal `s` (§5.2; latin1, one octet per code unit) at `out[pos]`,
 * Huffman-coded according to `policy`. Returns the position after it. `out` must have room
 * for 6 + `s.length` octets (6 + 4 × `s.length` with policy 'always').
 */
export function encodeString(
  out: Uint8Array,
  pos: number,
  s: string,
  policy: HuffmanPolicy,
): number {
  const len = s.length;
  if (policy === 'auto' && len < 0x7f) {
    // One pass: Huffman-code after a one-octet length, giving up once it is not shorter.
    // (A single octet never gets shorter: the shortest code is 5 bits.)
    const end = len > 1 ? huffmanEncode(s, out, pos + 1, pos + len) : -1;
    if (end >= 0) {
      out[pos] = 0x80 | (end - pos - 1);
      return end;
    }
  } else if (policy !== 'never' && len > 0) {
    const hlen = huffmanLength(s);
    if (policy === 'always' || hlen < len) {
      pos = encodeInteger(out, pos, hlen, 7, 0x80);
      return huffmanEncode(s, out, pos);
    }
  }
  pos = encodeInteger(out, pos, len, 7, 0);
  for (let i = 0; i < len; i++) out[pos++] = s.charCodeAt(i);
  return pos;
}
