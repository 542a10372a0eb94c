/**
 * HTTP/3 frames (RFC 9114 §7): `type (varint) | length (varint) | payload`.
 *
 * `FrameReader` is incremental and bounded: DATA payloads stream through as they arrive
 * (a 64 MiB body is never buffered), unknown frame types are skipped without buffering
 * their payload (§9), and every other payload is buffered whole up to `maxFramePayload`
 * — beyond it the frame is H3_EXCESSIVE_LOAD (§10.5: an endpoint MAY limit frame sizes;
 * the limit covers HEADERS, whose size SETTINGS_MAX_FIELD_SECTION_SIZE also bounds).
 * Reserved HTTP/2 frame types are H3_FRAME_UNEXPECTED (§7.2.8).
 */
import { FrameType, H3ErrorCode, RESERVED_H2_FRAME_TYPES, RESERVED_H2_SETTINGS } from './codes.js';
import { Http3ConnectionError } from './errors.js';
import { decodeVarint, encodeVarint, varintLength } from './varint.js';

export interface Frame {
  type: number;
  /** Whole payload (every type except DATA). */
  payload?: Uint8Array;
  /** A piece of a DATA payload, as it arrived. */
  chunk?: Uint8Array;
}

export function encodeFrameHeader(type: number, length: number): Uint8Array {
  const out = new Uint8Array(varintLength(type) + varintLength(length));
  encodeVarint(type, out, 0);
  encodeVarint(length, out, varintLength(type));
  return out;
}

export function encodeFrame(type: number, payload: Uint8Array): Uint8Array {
  const head = encodeFrameHeader(type, payload.length);
  const out = new Uint8Array(head.length + payload.length);
  out.set(head);
  out.set(payload, head.length);
  return out;
}

function varintsPayload(values: readonly number[]): Uint8Array {
  let n = 0;
  for (const v of values) n += varintLength(v);
  const out = new Uint8Array(n);
  let at = 0;
  for (const v of values) {
    encodeVarint(v, out, at);
    at += varintLength(v);
  }
  return out;
}

/** SETTINGS (§7.2.4): identifier/value pairs. */
export function encodeSettings(values: ReadonlyMap<number, number>): Uint8Array {
  const flat: number[] = [];
  for (const [k, v] of values) flat.push(k, v);
  return encodeFrame(FrameType.SETTINGS, varintsPayload(flat));
}

export function encodeGoaway(id: number): Uint8Array {
  return encodeFrame(FrameType.GOAWAY, varintsPayload([id]));
}

export function encodeMaxPushId(id: number): Uint8Array {
  return encodeFrame(FrameType.MAX_PUSH_ID, varintsPayload([id]));
}

export function encodeCancelPush(id: number): Uint8Array {
  return encodeFrame(FrameType.CANCEL_PUSH, varintsPayload([id]));
}

export function encodeData(chunk: Uint8Array): Uint8Array {
  return encodeFrame(FrameType.DATA, chunk);
}

export function encodeHeaders(block: Uint8Array): Uint8Array {
  return encodeFrame(FrameType.HEADERS, block);
}

/** One varint filling the whole payload (GOAWAY, MAX_PUSH_ID, CANCEL_PUSH): §7.1 else H3_FRAME_ERROR. */
function singleVarint(payload: Uint8Array, what: string): number {
  const r = decodeVarint(payload, 0);
  if (r === undefined || r.next !== payload.length || r.tooLarge === true) {
    throw new Http3ConnectionError(H3ErrorCode.H3_FRAME_ERROR, `malformed ${what} frame`);
  }
  return r.value;
}

export function decodeGoaway(payload: Uint8Array): number {
  return singleVarint(payload, 'GOAWAY');
}

export function decodeMaxPushId(payload: Uint8Array): number {
  return singleVarint(payload, 'MAX_PUSH_ID');
}

export function decodeCancelPush(payload: Uint8Array): number {
  return singleVarint(payload, 'CANCEL_PUSH');
}

/**
 * SETTINGS payload (§7.2.4): a repeated identifier and HTTP/2's identifiers are
 * H3_SETTINGS_ERROR (§7.2.4, §7.2.4.1); unknown identifiers are kept (callers ignore them).
 */
export function decodeSettings(payload: Uint8Array): Map<number, number> {
  const out = new Map<number, number>();
  let at = 0;
  while (at < payload.length) {
    const id = decodeVarint(payload, at);
    const value = id === undefined ? undefined : decodeVarint(payload, id.next);
    if (id === undefined || value === undefined) {
      throw new Http3ConnectionError(H3ErrorCode.H3_FRAME_ERROR, 'truncated SETTINGS frame');
    }
    at = value.next;
    if (id.tooLarge === true) continue; // an identifier past 2^53 is unknown to us
    if (out.has(id.value)) {
      throw new Http3ConnectionError(
        H3ErrorCode.H3_SETTINGS_ERROR,
        `setting 0x${id.value.toString(16)} repeated`,
      );
    }
    if (RESERVED_H2_SETTINGS.has(id.value)) {
      throw new Http3ConnectionError(
        H3ErrorCode.H3_SETTINGS_ERROR,
        `HTTP/2 setting 0x${id.value.toString(16)} in HTTP/3 SETTINGS`,
      );
    }
    out.set(id.value, value.tooLarge === true ? Number.MAX_SAFE_INTEGER : value.value);
  }
  return out;
}

export interface FrameReaderOptions {
  /** Largest non-DATA payload buffered. @default 65536 */
  maxFramePayload?: number;
}

const EMPTY = new Uint8Array(0);

export class FrameReader {
  readonly #max: number;
  #buf: Uint8Array = EMPTY;
  #at = 0;
  /** The current frame's header was read: its type and the payload bytes still to come. */
  #type = -1;
  #remaining = 0;
  /** The current frame is skipped (unknown type). */
  #skip = false;

  constructor(options: FrameReaderOptions = {}) {
    this.#max = options.maxFramePayload ?? 65_536;
  }

  /** No frame is partly read. */
  get idle(): boolean {
    return this.#type === -1 && this.#at >= this.#buf.length;
  }

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    if (this.#at >= this.#buf.length) {
      this.#buf = chunk;
    } else {
      const rest = this.#buf.subarray(this.#at);
      const merged = new Uint8Array(rest.length + chunk.length);
      merged.set(rest);
      merged.set(chunk, rest.length);
      this.#buf = merged;
    }
    this.#at = 0;
  }

  /** The next frame (or DATA piece), or undefined until more bytes arrive. */
  next(): Frame | undefined {
    for (;;) {
      if (this.#type === -1) {
        const t = decodeVarint(this.#buf, this.#at);
        if (t === undefined) return this.#keepTail();
        const l = decodeVarint(this.#buf, t.next);
        if (l === undefined) return this.#keepTail();
        if (l.tooLarge === true) {
          throw new Http3ConnectionError(H3ErrorCode.H3_FRAME_ERROR, 'frame length beyond 2^53');
        }
        const type = t.tooLarge === true ? -2 : t.value; // -2: an unknown (huge) type
        if (RESERVED_H2_FRAME_TYPES.has(type)) {
          throw new Http3ConnectionError(
            H3ErrorCode.H3_FRAME_UNEXPECTED,
            `reserved HTTP/2 frame type 0x${type.toString(16)} (§7.2.8)`,
          );
        }
        this.#at = l.next;
        this.#type = type;
        this.#remaining = l.value;
        this.#skip = !KNOWN.has(type);
        if (!this.#skip && type !== FrameType.DATA && l.value > this.#max) {
          throw new Http3ConnectionError(
            H3ErrorCode.H3_EXCESSIVE_LOAD,
            `frame type 0x${type.toString(16)} of ${l.value} bytes exceeds ${this.#max}`,
          );
        }
        if (type === FrameType.DATA && l.value === 0) {
          this.#type = -1;
          continue; // an empty DATA frame carries nothing
        }
      }
      const avail = this.#buf.length - this.#at;
      if (this.#skip || this.#type === FrameType.DATA) {
        if (this.#remaining > 0 && avail === 0) return undefined;
        const n = Math.min(avail, this.#remaining);
        const piece = this.#buf.subarray(this.#at, this.#at + n);
        this.#at += n;
        this.#remaining -= n;
        const type = this.#type;
        if (this.#remaining === 0) this.#type = -1;
        if (this.#skip) continue;
        return { type, chunk: piece };
      }
      if (avail < this.#remaining) return this.#keepTail();
      const payload = this.#buf.subarray(this.#at, this.#at + this.#remaining);
      this.#at += this.#remaining;
      const type = this.#type;
      this.#type = -1;
      return { type, payload };
    }
  }

  /** Keeps the unread tail (copied, so the caller's chunk is not pinned) and waits. */
  #keepTail(): undefined {
    if (this.#at > 0 || this.#buf.length > 64) {
      this.#buf = this.#buf.slice(this.#at);
      this.#at = 0;
    }
    return undefined;
  }
}

const KNOWN: ReadonlySet<number> = new Set([
  FrameType.DATA,
  FrameType.HEADERS,
  FrameType.CANCEL_PUSH,
  FrameType.SETTINGS,
  FrameType.PUSH_PROMISE,
  FrameType.GOAWAY,
  FrameType.MAX_PUSH_ID,
]);
