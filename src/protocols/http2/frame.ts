/**
 * HTTP/2 frame codec (RFC 9113 §4, §6): the 9-octet header, and writers for every frame
 * type this stack sends. Parsing of payloads lives with the connection, which must check
 * each frame against connection state anyway; the pure pieces (header fields, padding,
 * fixed-length payloads) are here.
 *
 * Small frames are written into one reusable slab and handed out as subarrays, so a burst
 * of control frames costs one allocation; DATA payloads are never copied (the writer
 * returns the 9-octet header and the caller queues the payload after it).
 */
import { FRAME_HEADER_LENGTH, FrameType, Flag } from './codes.js';

/** The parsed frame header (RFC 9113 §4.1). */
export interface FrameHeader {
  length: number;
  type: number;
  flags: number;
  /** Stream identifier with the reserved bit cleared (§4.1: MUST be ignored on receipt). */
  streamId: number;
}

/** Reads the frame header at `offset` (caller ensures 9 octets are there). */
export function readFrameHeader(buf: Uint8Array, offset: number, out: FrameHeader): void {
  out.length = (buf[offset]! << 16) | (buf[offset + 1]! << 8) | buf[offset + 2]!;
  out.type = buf[offset + 3]!;
  out.flags = buf[offset + 4]!;
  out.streamId = readUint31(buf, offset + 5);
}

/** A 31-bit value with the top (reserved / exclusive) bit masked off. */
export function readUint31(buf: Uint8Array, offset: number): number {
  return (
    ((buf[offset]! & 0x7f) << 24) |
    (buf[offset + 1]! << 16) |
    (buf[offset + 2]! << 8) |
    buf[offset + 3]!
  );
}

export function readUint32(buf: Uint8Array, offset: number): number {
  return (
    buf[offset]! * 0x1000000 +
    ((buf[offset + 1]! << 16) | (buf[offset + 2]! << 8) | buf[offset + 3]!)
  );
}

/**
 * Strips padding (§6.1, §6.2): returns the end of the content, or -1 when the Pad Length
 * field is missing or not smaller than the rest of the payload ("If the length of the
 * padding is the length of the frame payload or greater, the recipient MUST treat this as a
 * connection error of type PROTOCOL_ERROR").
 */
export function paddedEnd(payload: Uint8Array, start: number): number {
  if (payload.length < start + 1) return -1;
  const pad = payload[start]!;
  const end = payload.length - pad;
  return end < start + 1 ? -1 : end;
}

/** The first slab of a connection (an idle connection keeps at most this much). */
const FIRST_SLAB_SIZE = 2 * 1024;
/** Slabs double up to this size while a connection keeps writing. */
const SLAB_SIZE = 16 * 1024;

/**
 * Writes frames. Everything except DATA payloads goes into a slab; `take` hands out what
 * was written since the last call as one subarray. Slabs start small (most connections
 * write a SETTINGS frame and a few small responses) and grow for busy ones.
 */
export class FrameWriter {
  #slab = new Uint8Array(0);
  #start = 0;
  #pos = 0;

  /** Reserves `n` octets and returns the offset to write at (may move to a new slab). */
  #reserve(n: number, flushTo: Uint8Array[]): number {
    if (this.#pos + n > this.#slab.length) {
      this.take(flushTo);
      const next =
        this.#slab.length === 0 ? FIRST_SLAB_SIZE : Math.min(this.#slab.length * 2, SLAB_SIZE);
      this.#slab = new Uint8Array(Math.max(next, n));
      this.#start = 0;
      this.#pos = 0;
    }
    const at = this.#pos;
    this.#pos += n;
    return at;
  }

  /** Appends what was written since the last `take` to `out`. */
  take(out: Uint8Array[]): void {
    if (this.#pos > this.#start) {
      out.push(this.#slab.subarray(this.#start, this.#pos));
      this.#start = this.#pos;
    }
  }

  /** Bytes written and not yet taken. */
  get pending(): number {
    return this.#pos - this.#start;
  }

  header(out: Uint8Array[], length: number, type: number, flags: number, streamId: number): void {
    const at = this.#reserve(FRAME_HEADER_LENGTH, out);
    writeHeader(this.#slab, at, length, type, flags, streamId);
  }

  /** A frame whose payload is copied in (HEADERS blocks, small DATA). */
  frame(
    out: Uint8Array[],
    type: number,
    flags: number,
    streamId: number,
    payload: Uint8Array,
  ): void {
    const at = this.#reserve(FRAME_HEADER_LENGTH + payload.length, out);
    writeHeader(this.#slab, at, payload.length, type, flags, streamId);
    this.#slab.set(payload, at + FRAME_HEADER_LENGTH);
  }

  /** SETTINGS with `(id, value)` pairs (§6.5). */
  settings(out: Uint8Array[], pairs: readonly (readonly [number, number])[]): void {
    const len = pairs.length * 6;
    const at = this.#reserve(FRAME_HEADER_LENGTH + len, out);
    const s = this.#slab;
    writeHeader(s, at, len, FrameType.SETTINGS, 0, 0);
    let p = at + FRAME_HEADER_LENGTH;
    for (const [id, value] of pairs) {
      s[p] = id >>> 8;
      s[p + 1] = id & 0xff;
      writeUint32(s, p + 2, value);
      p += 6;
    }
  }

  settingsAck(out: Uint8Array[]): void {
    this.header(out, 0, FrameType.SETTINGS, Flag.ACK, 0);
  }

  /** PING (§6.7) with an 8-octet payload. */
  ping(out: Uint8Array[], payload: Uint8Array, ack: boolean): void {
    const at = this.#reserve(FRAME_HEADER_LENGTH + 8, out);
    writeHeader(this.#slab, at, 8, FrameType.PING, ack ? Flag.ACK : 0, 0);
    this.#slab.set(payload.subarray(0, 8), at + FRAME_HEADER_LENGTH);
  }

  /** RST_STREAM (§6.4). */
  rstStream(out: Uint8Array[], streamId: number, code: number): void {
    const at = this.#reserve(FRAME_HEADER_LENGTH + 4, out);
    writeHeader(this.#slab, at, 4, FrameType.RST_STREAM, 0, streamId);
    writeUint32(this.#slab, at + FRAME_HEADER_LENGTH, code);
  }

  /** WINDOW_UPDATE (§6.9) on a stream, or on the connection with stream 0. */
  windowUpdate(out: Uint8Array[], streamId: number, increment: number): void {
    const at = this.#reserve(FRAME_HEADER_LENGTH + 4, out);
    writeHeader(this.#slab, at, 4, FrameType.WINDOW_UPDATE, 0, streamId);
    writeUint32(this.#slab, at + FRAME_HEADER_LENGTH, increment & 0x7fffffff);
  }

  /** GOAWAY (§6.8) with optional debug data. */
  goaway(out: Uint8Array[], lastStreamId: number, code: number, debug: Uint8Array): void {
    const len = 8 + debug.length;
    const at = this.#reserve(FRAME_HEADER_LENGTH + len, out);
    const s = this.#slab;
    writeHeader(s, at, len, FrameType.GOAWAY, 0, 0);
    writeUint32(s, at + FRAME_HEADER_LENGTH, lastStreamId & 0x7fffffff);
    writeUint32(s, at + FRAME_HEADER_LENGTH + 4, code);
    s.set(debug, at + FRAME_HEADER_LENGTH + 8);
  }

  /** PRIORITY_UPDATE (RFC 9218 §7.1), sent by clients on stream 0. */
  priorityUpdate(out: Uint8Array[], streamId: number, fieldValue: Uint8Array): void {
    const len = 4 + fieldValue.length;
    const at = this.#reserve(FRAME_HEADER_LENGTH + len, out);
    writeHeader(this.#slab, at, len, FrameType.PRIORITY_UPDATE, 0, 0);
    writeUint32(this.#slab, at + FRAME_HEADER_LENGTH, streamId);
    this.#slab.set(fieldValue, at + FRAME_HEADER_LENGTH + 4);
  }
}

export function writeHeader(
  buf: Uint8Array,
  at: number,
  length: number,
  type: number,
  flags: number,
  streamId: number,
): void {
  buf[at] = length >>> 16;
  buf[at + 1] = (length >>> 8) & 0xff;
  buf[at + 2] = length & 0xff;
  buf[at + 3] = type;
  buf[at + 4] = flags;
  writeUint32(buf, at + 5, streamId & 0x7fffffff);
}

export function writeUint32(buf: Uint8Array, at: number, value: number): void {
  buf[at] = value >>> 24;
  buf[at + 1] = (value >>> 16) & 0xff;
  buf[at + 2] = (value >>> 8) & 0xff;
  buf[at + 3] = value & 0xff;
}
