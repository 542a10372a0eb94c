/**
 * Bencode (BEP 3 "bencoding", as used by BEP 5 KRPC and BEP 44), canonical and strict.
 *
 * Encoding always produces the canonical form: dictionary keys sorted as raw byte strings,
 * integers without leading zeros and never `-0`. Decoding accepts only the canonical form,
 * so for every input it accepts, `encode(decode(bytes))` is byte-identical to `bytes`. BEP 44
 * relies on that: signatures and targets are computed over "the verbatim bencoded
 * representation as it appeared in the message", and re-encoding a strictly decoded value
 * gives exactly those bytes.
 *
 * Value mapping:
 * - byte strings decode to `Uint8Array` (fresh copies, never views of the input); on encode a
 *   `Uint8Array` is written as is and a JS `string` as its UTF-8 bytes;
 * - integers decode to safe-integer `number`s; on encode `number` (safe integers only) and
 *   `bigint` (any size) are accepted;
 * - lists are arrays;
 * - dictionaries decode to null-prototype objects whose keys are the raw key bytes as
 *   latin1 (one char per byte, so any byte string is representable); on encode keys are
 *   written back as latin1, so keys must be chars U+0000-U+00FF. KRPC and BEP 44 keys are
 *   ASCII. Dictionary entries whose value is `undefined` are skipped on encode.
 *
 * The decoder throws only `BencodeError` (with the failing offset), whatever the input.
 */
import { InvalidOptionError } from '../../errors.js';
import { BencodeError } from './errors.js';

export type BValue = number | bigint | string | Uint8Array | BValue[] | BDict;
export interface BDict {
  [key: string]: BValue | undefined;
}

/** Bounds for `decode` (STYLE §4). */
export interface BencodeLimits {
  /**
   * Most nested lists/dicts. Capped at 1000 because the decoder recurses.
   * @default 64
   */
  maxDepth?: number;
  /**
   * Largest input accepted, in bytes: larger than any UDP datagram.
   * @default 65536
   */
  maxSize?: number;
  /**
   * Most values (integers, strings, lists, dicts and dict keys) in one input.
   * @default 10000
   */
  maxItems?: number;
}

export const DEFAULT_BENCODE_LIMITS: Readonly<Required<BencodeLimits>> = Object.freeze({
  maxDepth: 64,
  maxSize: 65536,
  maxItems: 10000,
});

const MAX_DEPTH_CAP = 1000;

const C_0 = 0x30;
const C_9 = 0x39;
const C_COLON = 0x3a;
const C_MINUS = 0x2d;
const C_D = 0x64;
const C_E = 0x65;
const C_I = 0x69;
const C_L = 0x6c;

// ---------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------

// Stateless, so sharing one instance is safe.
const utf8 = new TextEncoder();

class Writer {
  buf: Uint8Array;
  len = 0;

  constructor(capacity: number) {
    this.buf = new Uint8Array(capacity);
  }

  reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  byte(b: number): void {
    this.reserve(1);
    this.buf[this.len++] = b;
  }

  bytes(b: Uint8Array): void {
    this.reserve(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  /** ASCII text (digits, '-'), one byte per char. */
  ascii(s: string): void {
    this.reserve(s.length);
    for (let i = 0; i < s.length; i++) this.buf[this.len++] = s.charCodeAt(i);
  }
}

/** A plain object (or null-prototype object, as `decode` makes): a bencode dictionary. */
function isDict(v: unknown): v is BDict {
  if (typeof v !== 'object' || v === null) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

function encodeKey(key: string, w: Writer): void {
  for (let i = 0; i < key.length; i++) {
    if (key.charCodeAt(i) > 0xff) {
      throw new BencodeError(
        `dictionary key ${JSON.stringify(key)} has a char above U+00FF; keys are byte strings written as latin1`,
        w.len,
      );
    }
  }
  w.ascii(String(key.length));
  w.byte(C_COLON);
  w.ascii(key); // latin1: each char is one byte
}

function encodeInto(v: BValue, w: Writer, depth: number): void {
  if (depth > MAX_DEPTH_CAP) throw new BencodeError('value nested too deeply to encode', w.len);
  if (v instanceof Uint8Array) {
    w.ascii(String(v.length));
    w.byte(C_COLON);
    w.bytes(v);
  } else if (typeof v === 'string') {
    if (isShortAscii(v)) {
      // KRPC's own strings ('q', 'r', method names): one byte per char, no TextEncoder.
      w.ascii(String(v.length));
      w.byte(C_COLON);
      w.ascii(v);
    } else {
      const b = utf8.encode(v);
      w.ascii(String(b.length));
      w.byte(C_COLON);
      w.bytes(b);
    }
  } else if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) {
      throw new BencodeError(
        `cannot encode ${v}: integers must be safe integers (or bigint)`,
        w.len,
      );
    }
    w.byte(C_I);
    w.ascii(String(v)); // String(-0) is "0"
    w.byte(C_E);
  } else if (typeof v === 'bigint') {
    w.byte(C_I);
    w.ascii(v.toString());
    w.byte(C_E);
  } else if (Array.isArray(v)) {
    w.byte(C_L);
    for (const item of v) {
      if (item === undefined) throw new BencodeError('cannot encode undefined in a list', w.len);
      encodeInto(item, w, depth + 1);
    }
    w.byte(C_E);
  } else if (isDict(v)) {
    // BEP 3: keys sorted as raw strings. Keys are latin1, so UTF-16 code unit order is
    // byte order.
    const keys = Object.keys(v).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    w.byte(C_D);
    for (const key of keys) {
      const item = v[key];
      if (item === undefined) continue;
      encodeKey(key, w);
      encodeInto(item, w, depth + 1);
    }
    w.byte(C_E);
  } else {
    throw new BencodeError(`cannot encode a value of type ${typeof v}`, w.len);
  }
}

function isShortAscii(s: string): boolean {
  if (s.length > 32) return false;
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

/** The scratch writer keeps at most this much between calls; a larger one is dropped. */
const SCRATCH_MAX = 4096;
// Intentionally module-level: one scratch buffer reused by every `encode` call (each KRPC
// message would otherwise allocate one, and grow it, before copying out the result).
// `encode` is synchronous and never re-entered (it calls no user code), and it resets the
// writer first, so an encode that threw leaves nothing behind. Only the copy escapes.
let scratch = new Writer(1024);

/**
 * Canonical bencoding of `value`. Throws BencodeError for values bencode cannot express
 * (non-integer or unsafe numbers, booleans, null, undefined outside a dict, keys with chars
 * above U+00FF).
 */
export function encode(value: BValue): Uint8Array {
  const w = encodeScratch(value);
  const out = w.buf.slice(0, w.len);
  if (w.buf.length > SCRATCH_MAX) scratch = new Writer(1024);
  return out;
}

/**
 * `encode`, into a Buffer from Node's allocation pool: for short-lived output such as a
 * KRPC datagram, where a fresh ArrayBuffer per message costs several times the copy. The
 * result is a `Buffer`, whose `slice` is a view: copy it (`Uint8Array.prototype.slice`)
 * before keeping a part of it.
 */
export function encodePooled(value: BValue): Uint8Array {
  const w = encodeScratch(value);
  const out = Buffer.allocUnsafe(w.len);
  out.set(w.buf.subarray(0, w.len));
  if (w.buf.length > SCRATCH_MAX) scratch = new Writer(1024);
  return out;
}

function encodeScratch(value: BValue): Writer {
  const w = scratch;
  w.len = 0;
  encodeInto(value, w, 0);
  return w;
}

// ---------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------

function checkLimit(name: string, v: unknown, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > max) {
    throw new InvalidOptionError(`${name} must be an integer from 1 to ${max}, got ${String(v)}`);
  }
  return v;
}

class Decoder {
  readonly #b: Uint8Array;
  readonly #maxDepth: number;
  readonly #maxItems: number;
  #at = 0;
  #items = 0;
  /** End of the string `#span` just read. */
  #end = 0;

  constructor(b: Uint8Array, maxDepth: number, maxItems: number) {
    this.#b = b;
    this.#maxDepth = maxDepth;
    this.#maxItems = maxItems;
  }

  run(): BValue {
    if (this.#b.length === 0) throw new BencodeError('empty input', 0);
    const v = this.#value(0);
    if (this.#at !== this.#b.length) {
      throw new BencodeError(`${this.#b.length - this.#at} bytes of trailing data`, this.#at);
    }
    return v;
  }

  #count(): void {
    if (++this.#items > this.#maxItems) {
      throw new BencodeError(`more than maxItems (${this.#maxItems}) values`, this.#at);
    }
  }

  #peek(): number {
    const c = this.#b[this.#at];
    if (c === undefined) throw new BencodeError('truncated input', this.#at);
    return c;
  }

  #value(depth: number): BValue {
    const c = this.#peek();
    if (c === C_I) return this.#int();
    if (c >= C_0 && c <= C_9) return this.#bytes();
    if (c === C_L || c === C_D) {
      if (depth >= this.#maxDepth) {
        throw new BencodeError(`nested deeper than maxDepth (${this.#maxDepth})`, this.#at);
      }
      return c === C_L ? this.#list(depth) : this.#dict(depth);
    }
    throw new BencodeError(`unexpected byte 0x${c.toString(16).padStart(2, '0')}`, this.#at);
  }

  #int(): number {
    this.#count();
    const start = this.#at;
    this.#at++; // 'i'
    let neg = false;
    if (this.#peek() === C_MINUS) {
      neg = true;
      this.#at++;
    }
    const digits = this.#at;
    let n = 0;
    for (;;) {
      const c = this.#peek();
      if (c === C_E) break;
      if (c < C_0 || c > C_9) {
        throw new BencodeError(`bad integer: unexpected byte 0x${c.toString(16)}`, this.#at);
      }
      // 16 digits hold every safe integer; stop before precision is lost.
      if (this.#at - digits >= 16) throw new BencodeError('integer out of safe range', start);
      n = n * 10 + (c - C_0);
      this.#at++;
    }
    const len = this.#at - digits;
    // BEP 3: "i-0e" is invalid; all encodings with a leading zero, other than "i0e", are
    // invalid.
    if (len === 0) throw new BencodeError('integer has no digits', start);
    if (this.#b[digits] === C_0 && (len > 1 || neg)) {
      throw new BencodeError('non-canonical integer (leading zero or -0)', start);
    }
    if (!Number.isSafeInteger(n)) throw new BencodeError('integer out of safe range', start);
    this.#at++; // 'e'
    return neg ? -n : n;
  }

  /** Reads `<len>:` and returns the start of the string's bytes; `#end` is its end. */
  #span(): number {
    const start = this.#at;
    let len = 0;
    for (;;) {
      const c = this.#peek();
      if (c === C_COLON) break;
      if (c < C_0 || c > C_9) {
        throw new BencodeError(`bad string length: unexpected byte 0x${c.toString(16)}`, this.#at);
      }
      if (this.#at - start >= 9) throw new BencodeError('string length too large', start);
      len = len * 10 + (c - C_0);
      this.#at++;
    }
    if (this.#at === start) throw new BencodeError('string length has no digits', start);
    if (this.#b[start] === C_0 && this.#at - start > 1) {
      throw new BencodeError('non-canonical string length (leading zero)', start);
    }
    this.#at++; // ':'
    const from = this.#at;
    if (len > this.#b.length - from) {
      throw new BencodeError(`truncated string: ${len} bytes declared`, start);
    }
    this.#at = from + len;
    this.#end = from + len;
    return from;
  }

  #bytes(): Uint8Array {
    this.#count();
    const from = this.#span();
    return new Uint8Array(this.#b.subarray(from, this.#end));
  }

  #list(depth: number): BValue[] {
    this.#count();
    this.#at++; // 'l'
    const out: BValue[] = [];
    while (this.#peek() !== C_E) out.push(this.#value(depth + 1));
    this.#at++;
    return out;
  }

  #dict(depth: number): BDict {
    this.#count();
    this.#at++; // 'd'
    const out = Object.create(null) as BDict;
    let prevFrom = -1;
    let prevTo = -1;
    while (this.#peek() !== C_E) {
      const keyAt = this.#at;
      const c = this.#peek();
      if (c < C_0 || c > C_9) throw new BencodeError('dictionary key is not a string', keyAt);
      this.#count();
      const from = this.#span();
      const to = this.#end;
      // BEP 3: keys must appear in sorted order (sorted as raw strings, not alphanumerics).
      if (prevFrom >= 0) {
        const cmp = compareBytes(this.#b, prevFrom, prevTo, from, to);
        if (cmp === 0) throw new BencodeError('duplicate dictionary key', keyAt);
        if (cmp > 0) throw new BencodeError('dictionary keys not sorted', keyAt);
      }
      prevFrom = from;
      prevTo = to;
      const key = to - from === 1 ? ONE_BYTE_KEYS[this.#b[from]!]! : latin1(this.#b, from, to);
      out[key] = this.#value(depth + 1);
    }
    this.#at++;
    return out;
  }
}

/** Every one-byte key as a string: KRPC's `t`, `y`, `q`, `a`, `r`, `e`, `v` need no slicing. */
const ONE_BYTE_KEYS: readonly string[] = Array.from({ length: 256 }, (_, i) =>
  String.fromCharCode(i),
);

function compareBytes(b: Uint8Array, af: number, at: number, bf: number, bt: number): number {
  const n = Math.min(at - af, bt - bf);
  for (let i = 0; i < n; i++) {
    const d = b[af + i]! - b[bf + i]!;
    if (d !== 0) return d;
  }
  return at - af - (bt - bf);
}

function latin1(b: Uint8Array, from: number, to: number): string {
  return Buffer.from(b.buffer, b.byteOffset + from, to - from).toString('latin1');
}

/**
 * Decodes exactly one canonical bencoded value filling all of `bytes`. Throws BencodeError
 * (never anything else) for any input that is not canonical bencode or exceeds `limits`;
 * throws InvalidOptionError for bad `limits`.
 */
export function decode(bytes: Uint8Array, limits?: BencodeLimits): BValue {
  let maxDepth = DEFAULT_BENCODE_LIMITS.maxDepth;
  let maxSize = DEFAULT_BENCODE_LIMITS.maxSize;
  let maxItems = DEFAULT_BENCODE_LIMITS.maxItems;
  if (limits !== undefined) {
    const l = { ...DEFAULT_BENCODE_LIMITS, ...limits };
    maxDepth = checkLimit('maxDepth', l.maxDepth, MAX_DEPTH_CAP);
    maxSize = checkLimit('maxSize', l.maxSize, Number.MAX_SAFE_INTEGER);
    maxItems = checkLimit('maxItems', l.maxItems, Number.MAX_SAFE_INTEGER);
  }
  if (!(bytes instanceof Uint8Array)) throw new BencodeError('input is not a Uint8Array', 0);
  if (bytes.length > maxSize) {
    throw new BencodeError(`input of ${bytes.length} bytes exceeds maxSize (${maxSize})`, maxSize);
  }
  return new Decoder(bytes, maxDepth, maxItems).run();
}

// ---------------------------------------------------------------------------------------
// Typed accessors for decoded messages (the KRPC layer)
// ---------------------------------------------------------------------------------------

/** `v` when it is a byte string, else undefined. */
export function bstr(v: BValue | undefined): Uint8Array | undefined {
  return v instanceof Uint8Array ? v : undefined;
}

/** `v` when it is a dictionary, else undefined. */
export function asDict(v: BValue | undefined): BDict | undefined {
  return isDict(v) ? v : undefined;
}

/** `v` when it is a list, else undefined. */
export function asList(v: BValue | undefined): BValue[] | undefined {
  return Array.isArray(v) ? v : undefined;
}

/** `v` when it is a safe integer (decoded integers always are), else undefined. */
export function asInt(v: BValue | undefined): number | undefined {
  return typeof v === 'number' && Number.isSafeInteger(v) ? v : undefined;
}

function own(dict: BDict, key: string): BValue | undefined {
  return Object.prototype.hasOwnProperty.call(dict, key) ? dict[key] : undefined;
}

/** The byte string at `dict[key]`, or undefined when absent or of another type. */
export function getBytes(dict: BDict, key: string): Uint8Array | undefined {
  return bstr(own(dict, key));
}

/** The byte string at `dict[key]` as latin1 text (lossless, one char per byte). */
export function getString(dict: BDict, key: string): string | undefined {
  const b = getBytes(dict, key);
  return b === undefined ? undefined : latin1(b, 0, b.length);
}

/** The integer at `dict[key]`, or undefined when absent or of another type. */
export function getInt(dict: BDict, key: string): number | undefined {
  return asInt(own(dict, key));
}

/** The dictionary at `dict[key]`, or undefined when absent or of another type. */
export function getDict(dict: BDict, key: string): BDict | undefined {
  return asDict(own(dict, key));
}

/** The list at `dict[key]`, or undefined when absent or of another type. */
export function getList(dict: BDict, key: string): BValue[] | undefined {
  return asList(own(dict, key));
}
