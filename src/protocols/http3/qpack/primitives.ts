/**
 * QPACK primitives (RFC 9204 §4.1): HPACK's prefixed integers (§4.1.1) and string literals
 * whose length has a prefix of any size with the Huffman flag just above it (§4.1.2).
 * Strings are octets; like HPACK here they map one octet to one latin1 code unit.
 */
import type { HpackError } from '../../http2/errors.js';
import { encodeInteger } from '../../http2/hpack/primitives.js';
import { huffmanDecode, huffmanEncode, huffmanLength } from '../../http2/hpack/huffman.js';
import { QpackError } from './errors.js';

export { encodeInteger };

/** Integers above this are refused (every QPACK index or length fits). */
export const MAX_QPACK_INT = 2 ** 32;

export interface Cursor {
  pos: number;
}

/** Thrown internally when an instruction is cut short; encoder-stream readers retry later. */
export class Truncated extends Error {}

/** Reads an N-bit-prefix integer; throws Truncated when `end` comes first. */
export function readInt(
  src: Uint8Array,
  end: number,
  cur: Cursor,
  prefix: number,
  code: number,
): number {
  if (cur.pos >= end) throw new Truncated();
  const mask = (1 << prefix) - 1;
  let pos = cur.pos;
  let value = src[pos++]! & mask;
  if (value < mask) {
    cur.pos = pos;
    return value;
  }
  let mul = 1;
  for (;;) {
    if (pos >= end) throw new Truncated();
    const b = src[pos++]!;
    value += (b & 0x7f) * mul;
    if (value > MAX_QPACK_INT) throw new QpackError(code, 'integer too large (RFC 9204 §4.1.1)');
    if ((b & 0x80) === 0) break;
    mul *= 128;
  }
  cur.pos = pos;
  return value;
}

/**
 * Reads a string literal whose Huffman flag is bit `prefix` of the first octet and whose
 * length has a `prefix`-bit prefix. `maxLength` bounds the decoded length.
 */
export function readString(
  src: Uint8Array,
  end: number,
  cur: Cursor,
  prefix: number,
  maxLength: number,
  code: number,
  tooLong?: (length: number) => Error,
): string {
  if (cur.pos >= end) throw new Truncated();
  const huffman = (src[cur.pos]! & (1 << prefix)) !== 0;
  const len = readInt(src, end, cur, prefix, code);
  // An encoded length past the limit is refused before any bytes are buffered or decoded.
  if (len > maxLength) {
    throw (
      tooLong?.(len) ?? new QpackError(code, `string literal of ${len} bytes exceeds ${maxLength}`)
    );
  }
  if (cur.pos + len > end) throw new Truncated();
  const start = cur.pos;
  cur.pos += len;
  if (!huffman) return latin1(src, start, start + len);
  const out = new Uint8Array(Math.ceil((len * 8) / 5));
  let n: number;
  try {
    n = huffmanDecode(src, start, start + len, out);
  } catch (err) {
    throw new QpackError(code, `invalid Huffman string: ${(err as HpackError).message}`);
  }
  if (n > maxLength) {
    throw tooLong?.(n) ?? new QpackError(code, `string literal of ${n} bytes exceeds ${maxLength}`);
  }
  return latin1(out, 0, n);
}

function latin1(b: Uint8Array, start: number, end: number): string {
  return Buffer.from(b.buffer, b.byteOffset + start, end - start).toString('latin1');
}

/** Growable output for instructions and field sections. */
export class Writer {
  buf = new Uint8Array(256);
  pos = 0;

  reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.pos + n));
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  int(value: number, prefix: number, pattern: number): void {
    this.reserve(8);
    this.pos = encodeInteger(this.buf, this.pos, value, prefix, pattern);
  }

  /** A string literal: H flag at bit `prefix`, length with a `prefix`-bit prefix. */
  string(s: string, prefix: number, pattern: number, huffman: 'auto' | 'always' | 'never'): void {
    const hlen = huffman === 'never' || s.length === 0 ? Infinity : huffmanLength(s);
    if (huffman === 'always' || hlen < s.length) {
      this.int(hlen, prefix, pattern | (1 << prefix));
      this.reserve(hlen + 8);
      this.pos = huffmanEncode(s, this.buf, this.pos);
      return;
    }
    this.int(s.length, prefix, pattern);
    this.reserve(s.length);
    for (let i = 0; i < s.length; i++) this.buf[this.pos++] = s.charCodeAt(i) & 0xff;
  }

  take(): Uint8Array {
    const out = this.buf.slice(0, this.pos);
    this.pos = 0;
    return out;
  }
}
