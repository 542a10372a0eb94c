/**
 * QPACK primitives (RFC 9204 §4.1): prefixed integers (§4.1.1, RFC 7541 §5.1 unchanged)
 * and string literals (§4.1.2), whose length may have a prefix shorter than HPACK's 7 bits
 * with the Huffman flag just above it (e.g. 3 bits in a Literal Field Line with Literal
 * Name). Strings are octets, mapped one to one onto latin1 code units as in the HPACK codec.
 *
 * Readers take a `Cursor` and an `end`; running out of input throws `Truncated` (not an
 * Error: an expected event on a stream split anywhere) carrying the position the input must
 * reach before the item can be read. Malformed input throws QpackError with the caller's
 * wire code.
 */
import { encodeInteger } from '../../http2/hpack/primitives.js';
import { huffmanDecode, huffmanEncode, huffmanLength } from '../../http2/hpack/huffman.js';
import { QpackError } from './errors.js';
import type { QpackErrorCode } from './errors.js';

/**
 * §4.1.1: "QPACK implementations MUST be able to decode integers up to and including 62
 * bits long". Values at or above 2^62 are refused; values above 2^53 lose precision, but
 * every such value is an index, length or stream id that fails its own check anyway.
 */
const INT_LIMIT = 2 ** 62;
/** Continuation octets after the prefix: 9 × 7 bits cover 62 bits from any prefix. */
const MAX_CONTINUATION_OCTETS = 9;
/** The longest integer encoding: the prefix octet plus the continuation octets. */
export const MAX_INT_OCTETS = 1 + MAX_CONTINUATION_OCTETS;

export type HuffmanPolicy = 'auto' | 'always' | 'never';

/** Read position within a buffer. */
export interface Cursor {
  pos: number;
}

/** The input ended inside an item; `need` is the end position the item needs at least. */
export class Truncated {
  readonly need: number;

  constructor(need: number) {
    this.need = need;
  }
}

/**
 * Reads an integer with a `prefix`-bit prefix (§4.1.1) at `src[cur.pos]`, advancing
 * `cur.pos` past it. Throws Truncated when `end` comes first, QpackError(`code`) when the
 * value reaches 2^62 or the encoding has more than 9 continuation octets.
 */
export function readInt(
  src: Uint8Array,
  end: number,
  cur: Cursor,
  prefix: number,
  code: QpackErrorCode,
): number {
  let pos = cur.pos;
  if (pos >= end) throw new Truncated(pos + 1);
  const mask = (1 << prefix) - 1;
  let value = src[pos++]! & mask;
  if (value < mask) {
    cur.pos = pos;
    return value;
  }
  let multiplier = 1;
  for (let n = 0; n < MAX_CONTINUATION_OCTETS; n++) {
    if (pos >= end) throw new Truncated(pos + 1);
    const b = src[pos++]!;
    value += (b & 0x7f) * multiplier;
    if (value >= INT_LIMIT) throw new QpackError(code, 'integer of 2^62 or more (RFC 9204 §4.1.1)');
    if ((b & 0x80) === 0) {
      cur.pos = pos;
      return value;
    }
    multiplier *= 128;
  }
  throw new QpackError(code, 'integer encoding longer than 10 octets (RFC 9204 §4.1.1)');
}

/**
 * Reads a string literal (§4.1.2) at `src[cur.pos]`: the Huffman flag is bit `prefix` of the
 * first octet and the length has a `prefix`-bit prefix. The decoded string may be at most
 * `maxLength` octets; a longer one throws `tooLong(length)` (or QpackError(`code`)) as soon
 * as its length prefix shows it, before its octets are buffered or decoded.
 *
 * `complete` says `src[.., end)` is all there is (a field section): a string running past
 * `end` is then malformed, and that is reported before the length limit. Otherwise (an
 * instruction stream) it throws Truncated.
 */
export function readString(
  src: Uint8Array,
  end: number,
  cur: Cursor,
  prefix: number,
  maxLength: number,
  code: QpackErrorCode,
  complete: boolean,
  tooLong?: (length: number) => Error,
): string {
  if (cur.pos >= end) throw new Truncated(cur.pos + 1);
  const huffman = (src[cur.pos]! & (1 << prefix)) !== 0;
  const len = readInt(src, end, cur, prefix, code);
  const start = cur.pos;
  if (complete && len > end - start) {
    throw new QpackError(code, 'string literal runs past the end of the field section');
  }
  // A Huffman code is at most 30 bits and the padding under 8 (RFC 7541 §5.2), so `len`
  // encoded octets decode to at least ⌈(8·len − 7) / 30⌉ octets.
  const shortest = huffman ? Math.max(0, Math.ceil((len * 8 - 7) / 30)) : len;
  if (shortest > maxLength) throw overLimit(shortest, maxLength, code, tooLong);
  if (len > end - start) throw new Truncated(start + len);
  cur.pos = start + len;
  if (!huffman) return latin1(src, start, len);
  const out = Buffer.allocUnsafe(Math.ceil((len * 8) / 5)) as Latin1Buffer;
  let n: number;
  try {
    n = huffmanDecode(src, start, start + len, out);
  } catch (err) {
    throw new QpackError(code, `invalid Huffman string: ${(err as Error).message}`);
  }
  if (n > maxLength) throw overLimit(n, maxLength, code, tooLong);
  return out.latin1Slice(0, n);
}

function overLimit(
  length: number,
  maxLength: number,
  code: QpackErrorCode,
  tooLong: ((length: number) => Error) | undefined,
): Error {
  return (
    tooLong?.(length) ??
    new QpackError(code, `string literal of ${length} bytes exceeds the limit of ${maxLength}`)
  );
}

function latin1(src: Uint8Array, start: number, len: number): string {
  if (len <= 8) {
    let s = '';
    for (let i = start; i < start + len; i++) s += String.fromCharCode(src[i]!);
    return s;
  }
  return (Buffer.from(src.buffer, src.byteOffset + start, len) as Latin1Buffer).latin1Slice(0, len);
}

/** `latin1Slice` is on every Buffer (node:buffer) but missing from @types/node. */
interface Latin1Buffer extends Buffer {
  latin1Slice(start: number, end: number): string;
}

/** A growable output buffer for field sections and instructions. */
export class Writer {
  #buf = new Uint8Array(64);
  #pos = 0;

  get length(): number {
    return this.#pos;
  }

  #reserve(n: number): void {
    if (this.#pos + n <= this.#buf.length) return;
    const next = new Uint8Array(Math.max(this.#buf.length * 2, this.#pos + n));
    next.set(this.#buf.subarray(0, this.#pos));
    this.#buf = next;
  }

  /** An integer with a `prefix`-bit prefix; `pattern` holds the first octet's other bits. */
  int(value: number, prefix: number, pattern: number): void {
    this.#reserve(MAX_INT_OCTETS);
    this.#pos = encodeInteger(this.#buf, this.#pos, value, prefix, pattern);
  }

  /**
   * A string literal with a `prefix`-bit length prefix and the Huffman flag at bit `prefix`
   * (§4.1.2); `pattern` holds the first octet's bits above the flag.
   */
  string(s: string, prefix: number, pattern: number, policy: HuffmanPolicy): void {
    const len = s.length;
    if (policy !== 'never' && len > 0) {
      const hlen = huffmanLength(s);
      if (policy === 'always' || hlen < len) {
        this.int(hlen, prefix, pattern | (1 << prefix));
        this.#reserve(hlen);
        this.#pos = huffmanEncode(s, this.#buf, this.#pos);
        return;
      }
    }
    this.int(len, prefix, pattern);
    this.#reserve(len);
    const buf = this.#buf;
    let pos = this.#pos;
    for (let i = 0; i < len; i++) buf[pos++] = s.charCodeAt(i) & 0xff;
    this.#pos = pos;
  }

  /** Appends raw octets. */
  bytes(b: Uint8Array): void {
    this.#reserve(b.length);
    this.#buf.set(b, this.#pos);
    this.#pos += b.length;
  }

  /** Everything written so far, as a copy; the writer is empty afterwards. */
  take(): Uint8Array {
    const out = this.#buf.slice(0, this.#pos);
    this.#pos = 0;
    return out;
  }
}
