/**
 * The msgpack that memberlist and Serf speak. Both encode with go-codec's default
 * `MsgpackHandle{}`: structs are maps keyed by field name (in declaration order, `omitempty`
 * fields left out), `[]byte` and `string` are the *old* msgpack "raw" family (fixstr, str16,
 * str32 — never str8 nor bin, since `WriteExt` is false), nil slices are nil, integers use
 * their smallest encoding. {@link GoWriter} writes exactly that. Decoding goes through
 * `@msgpack/msgpack` with `rawStrings` (a raw field can hold bytes that are not UTF-8) and
 * size limits; {@link skipValue} finds where one value ends, for stream framing and for the
 * raw bytes that follow msgpack values in push-pull and user streams.
 */
import { Decoder } from '@msgpack/msgpack';
import { GossipError, GossipErrorCodes, malformed } from '../errors.js';

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder();

/** Writes go-codec-compatible msgpack into a growing buffer. */
export class GoWriter {
  #buf = new Uint8Array(256);
  #view = new DataView(this.#buf.buffer);
  #at = 0;

  #reserve(n: number): void {
    if (this.#at + n <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < this.#at + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#buf.subarray(0, this.#at));
    this.#buf = next;
    this.#view = new DataView(next.buffer);
  }

  byte(b: number): this {
    this.#reserve(1);
    this.#buf[this.#at++] = b;
    return this;
  }

  bytes(data: Uint8Array): this {
    this.#reserve(data.length);
    this.#buf.set(data, this.#at);
    this.#at += data.length;
    return this;
  }

  /** A map header for `n` entries (fixmap, map16, map32 as go-codec picks them). */
  map(n: number): this {
    return this.#container(0x80, 0xde, n);
  }

  /** An array header for `n` items (fixarray, array16, array32 as go-codec picks them). */
  array(n: number): this {
    return this.#container(0x90, 0xdc, n);
  }

  /** go-codec `writeContainerLen`: fix form below 16, then the 16-bit, then the 32-bit one. */
  #container(fix: number, b16: number, n: number): this {
    if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) {
      throw new RangeError(`not a container length: ${n}`);
    }
    if (n < 16) return this.byte(fix | n);
    this.#reserve(5);
    if (n < 0x10000) {
      this.#buf[this.#at++] = b16;
      this.#view.setUint16(this.#at, n);
      this.#at += 2;
    } else {
      this.#buf[this.#at++] = b16 + 1;
      this.#view.setUint32(this.#at, n);
      this.#at += 4;
    }
    return this;
  }

  /** A non-negative integer, smallest encoding. */
  uint(n: number): this {
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`not a uint: ${n}`);
    this.#reserve(9);
    if (n < 0x80) {
      this.#buf[this.#at++] = n;
    } else if (n < 0x100) {
      this.#buf[this.#at++] = 0xcc;
      this.#buf[this.#at++] = n;
    } else if (n < 0x10000) {
      this.#buf[this.#at++] = 0xcd;
      this.#view.setUint16(this.#at, n);
      this.#at += 2;
    } else if (n < 0x100000000) {
      this.#buf[this.#at++] = 0xce;
      this.#view.setUint32(this.#at, n);
      this.#at += 4;
    } else {
      this.#buf[this.#at++] = 0xcf;
      this.#view.setBigUint64(this.#at, BigInt(n));
      this.#at += 8;
    }
    return this;
  }

  /**
   * A Go `int` (go-codec `EncodeInt`): a fixint in -32..127, otherwise the smallest signed
   * form — so 128 is int16 `d1 00 80`, not uint8 (memberlist's `Nodes`, `UserStateLen` and
   * `UserMsgLen` are Go ints).
   */
  int(n: number): this {
    if (!Number.isSafeInteger(n)) throw new RangeError(`not an int: ${n}`);
    this.#reserve(9);
    if (n >= -32 && n <= 0x7f) {
      this.#buf[this.#at++] = n & 0xff;
    } else if (n >= -0x80 && n < 0) {
      this.#buf[this.#at++] = 0xd0;
      this.#buf[this.#at++] = n & 0xff;
    } else if (n >= -0x8000 && n <= 0x7fff) {
      this.#buf[this.#at++] = 0xd1;
      this.#view.setInt16(this.#at, n);
      this.#at += 2;
    } else if (n >= -0x80000000 && n <= 0x7fffffff) {
      this.#buf[this.#at++] = 0xd2;
      this.#view.setInt32(this.#at, n);
      this.#at += 4;
    } else {
      this.#buf[this.#at++] = 0xd3;
      this.#view.setBigInt64(this.#at, BigInt(n));
      this.#at += 8;
    }
    return this;
  }

  bool(b: boolean): this {
    return this.byte(b ? 0xc3 : 0xc2);
  }

  nil(): this {
    return this.byte(0xc0);
  }

  /** Raw bytes in the old-spec raw family (what go-codec writes for []byte and string). */
  raw(data: Uint8Array): this {
    const n = data.length;
    this.#reserve(5 + n);
    if (n < 32) {
      this.#buf[this.#at++] = 0xa0 | n;
    } else if (n < 0x10000) {
      this.#buf[this.#at++] = 0xda;
      this.#view.setUint16(this.#at, n);
      this.#at += 2;
    } else {
      this.#buf[this.#at++] = 0xdb;
      this.#view.setUint32(this.#at, n);
      this.#at += 4;
    }
    return this.bytes(data);
  }

  /** A byte slice: nil when empty (a Go nil slice), else raw. */
  slice(data: Uint8Array | undefined): this {
    return data === undefined || data.length === 0 ? this.nil() : this.raw(data);
  }

  str(s: string): this {
    return this.raw(utf8.encode(s));
  }

  /** A map key followed by nothing: the caller writes the value next. */
  key(name: string): this {
    return this.str(name);
  }

  finish(): Uint8Array {
    return this.#buf.slice(0, this.#at);
  }
}

/** Returned by {@link skipValue} when the buffer ends inside the value. */
export const NEED_MORE = -1;

/**
 * The offset just past the msgpack value starting at `offset`, or {@link NEED_MORE} when
 * `buf` ends first. Iterative (no recursion), so any nesting is safe. Throws GossipError
 * MALFORMED for the never-used byte 0xc1.
 */
export function skipValue(buf: Uint8Array, offset: number): number {
  let at = offset;
  let pending = 1;
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  while (pending > 0) {
    if (at >= buf.length) return NEED_MORE;
    // Each pending item takes at least one byte: a count beyond what is left cannot finish.
    if (pending > buf.length - at) return NEED_MORE;
    const b = buf[at++]!;
    pending--;
    let skip = 0;
    if (b <= 0x7f || b >= 0xe0 || (b >= 0xc2 && b <= 0xc3) || b === 0xc0) skip = 0;
    else if (b >= 0x80 && b <= 0x8f) pending += 2 * (b & 0x0f);
    else if (b >= 0x90 && b <= 0x9f) pending += b & 0x0f;
    else if (b >= 0xa0 && b <= 0xbf) skip = b & 0x1f;
    else {
      const need = (n: number): boolean => at + n <= buf.length;
      switch (b) {
        case 0xc4:
        case 0xd9:
          if (!need(1)) return NEED_MORE;
          skip = 1 + buf[at]!;
          break;
        case 0xc5:
        case 0xda:
          if (!need(2)) return NEED_MORE;
          skip = 2 + view.getUint16(at);
          break;
        case 0xc6:
        case 0xdb:
          if (!need(4)) return NEED_MORE;
          skip = 4 + view.getUint32(at);
          break;
        case 0xc7:
          if (!need(1)) return NEED_MORE;
          skip = 2 + buf[at]!;
          break;
        case 0xc8:
          if (!need(2)) return NEED_MORE;
          skip = 3 + view.getUint16(at);
          break;
        case 0xc9:
          if (!need(4)) return NEED_MORE;
          skip = 5 + view.getUint32(at);
          break;
        case 0xca:
          skip = 4;
          break;
        case 0xcb:
          skip = 8;
          break;
        case 0xcc:
        case 0xd0:
          skip = 1;
          break;
        case 0xcd:
        case 0xd1:
          skip = 2;
          break;
        case 0xce:
        case 0xd2:
          skip = 4;
          break;
        case 0xcf:
        case 0xd3:
          skip = 8;
          break;
        case 0xd4:
          skip = 2;
          break;
        case 0xd5:
          skip = 3;
          break;
        case 0xd6:
          skip = 5;
          break;
        case 0xd7:
          skip = 9;
          break;
        case 0xd8:
          skip = 17;
          break;
        case 0xdc:
          if (!need(2)) return NEED_MORE;
          at += 2;
          pending += view.getUint16(at - 2);
          break;
        case 0xdd:
          if (!need(4)) return NEED_MORE;
          at += 4;
          pending += view.getUint32(at - 4);
          break;
        case 0xde:
          if (!need(2)) return NEED_MORE;
          at += 2;
          pending += 2 * view.getUint16(at - 2);
          break;
        case 0xdf:
          if (!need(4)) return NEED_MORE;
          at += 4;
          pending += 2 * view.getUint32(at - 4);
          break;
        default:
          throw malformed(`invalid msgpack byte 0x${b.toString(16)}`);
      }
    }
    at += skip;
  }
  return at <= buf.length ? at : NEED_MORE;
}

/** Limits applied to every decoded msgpack value. */
export interface DecodeLimits {
  /** Longest raw/str/bin field. Default 1 MiB. */
  readonly maxBytes?: number;
  /** Most entries in an array or map. Default 65536. */
  readonly maxItems?: number;
}

const decoders = new Map<string, Decoder>();

function decoderFor(limits: DecodeLimits): Decoder {
  const maxBytes = limits.maxBytes ?? 1 << 20;
  const maxItems = limits.maxItems ?? 65536;
  const key = `${maxBytes}:${maxItems}`;
  let d = decoders.get(key);
  if (d === undefined) {
    d = new Decoder({
      rawStrings: true,
      maxStrLength: maxBytes,
      maxBinLength: maxBytes,
      maxArrayLength: maxItems,
      maxMapLength: maxItems,
      maxExtLength: 0,
    });
    if (decoders.size < 16) decoders.set(key, d);
  }
  return d;
}

/**
 * Decodes exactly one msgpack value from `buf` (trailing bytes are an error: callers slice
 * with {@link skipValue} first). Any failure is a GossipError MALFORMED.
 */
export function decodeValue(buf: Uint8Array, limits: DecodeLimits = {}): unknown {
  try {
    return decoderFor(limits).decode(buf);
  } catch (err) {
    if (err instanceof GossipError) throw err;
    throw malformed('invalid msgpack', err);
  }
}

/**
 * A decoded go-codec struct: a map keyed by field name. go-codec also accepts a struct as
 * an array of its fields in order; `fields` gives that order for such input.
 */
export function asStruct(value: unknown, what: string, fields: readonly string[]): StructReader {
  if (Array.isArray(value)) {
    const map: Record<string, unknown> = {};
    fields.forEach((f, i) => {
      if (i < value.length) map[f] = value[i];
    });
    return new StructReader(map, what);
  }
  if (value === null || typeof value !== 'object' || value instanceof Uint8Array) {
    throw malformed(`${what} is not a msgpack map`);
  }
  return new StructReader(value as Record<string, unknown>, what);
}

/** Typed, go-codec-lenient field access (a missing field is its zero value). */
export class StructReader {
  constructor(
    readonly map: Record<string, unknown>,
    readonly what: string,
  ) {}

  has(field: string): boolean {
    return Object.hasOwn(this.map, field) && this.map[field] !== null;
  }

  uint(field: string, max: number): number {
    const v = Object.hasOwn(this.map, field) ? this.map[field] : 0;
    if (v === null) return 0;
    const n = typeof v === 'bigint' ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > max) {
      throw malformed(`${this.what}.${field} is not an integer in 0..${max}`);
    }
    return n;
  }

  /** A signed Go int: negative values are refused here (memberlist refuses them too). */
  int(field: string, max: number): number {
    return this.uint(field, max);
  }

  bool(field: string): boolean {
    const v = Object.hasOwn(this.map, field) ? this.map[field] : false;
    if (v === null) return false;
    if (typeof v !== 'boolean') throw malformed(`${this.what}.${field} is not a bool`);
    return v;
  }

  bytes(field: string): Uint8Array {
    const v = Object.hasOwn(this.map, field) ? this.map[field] : null;
    if (v === null || v === undefined) return new Uint8Array(0);
    if (v instanceof Uint8Array) return v;
    if (typeof v === 'string') return utf8.encode(v);
    if (Array.isArray(v) && v.every((b) => Number.isInteger(b) && b >= 0 && b <= 255)) {
      return Uint8Array.from(v as number[]);
    }
    throw malformed(`${this.what}.${field} is not a byte string`);
  }

  string(field: string): string {
    const v = Object.hasOwn(this.map, field) ? this.map[field] : null;
    if (v === null || v === undefined) return '';
    if (typeof v === 'string') return v;
    if (v instanceof Uint8Array) return utf8Decoder.decode(v);
    throw malformed(`${this.what}.${field} is not a string`);
  }

  value(field: string): unknown {
    return Object.hasOwn(this.map, field) ? this.map[field] : undefined;
  }
}

/** Throws TOO_LARGE when `n` exceeds `max`. */
export function checkSize(n: number, max: number, what: string): void {
  if (n > max) {
    throw new GossipError(GossipErrorCodes.TOO_LARGE, `${what} is ${n} bytes; the limit is ${max}`);
  }
}
