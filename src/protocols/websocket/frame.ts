/**
 * WebSocket frame codec (RFC 6455 §5.2): an incremental parser that hands frames to a
 * sink in pieces, and an encoder. Pure: no state beyond the bytes of an unfinished frame.
 *
 * ```
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +-+-+-+-+-------+-+-------------+-------------------------------+
 *  |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
 *  |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
 *  |N|V|V|V|       |S|             |   (if payload len==126/127)   |
 *  | |1|2|3|       |K|             |                               |
 *  +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
 *  |     Extended payload length continued, if payload len == 127  |
 *  + - - - - - - - - - - - - - - - +-------------------------------+
 *  |                               |Masking-key, if MASK set to 1  |
 *  +-------------------------------+-------------------------------+
 *  | Masking-key (continued)       |          Payload Data         |
 *  +-------------------------------- - - - - - - - - - - - - - - - +
 * ```
 *
 * The parser checks only the wire format (length encodings). Rules that depend on the
 * role or the negotiated extensions (masking direction, RSV bits, opcodes, control-frame
 * rules) belong to the connection, which sees every header first through `onHeader`.
 *
 * Fast path (STYLE §12): a header that is complete in the input is decoded in place with
 * index arithmetic; payload pieces are subarrays of the input, unmasked in place — no copy
 * and no object per frame on the way to the sink.
 */
import { WebSocketError } from './errors.js';
import { applyMask, applyMaskBytes } from './mask.js';

/** RSV bits as they sit in the first header byte. */
export const RSV1 = 0x40;
export const RSV2 = 0x20;
export const RSV3 = 0x10;

/**
 * Receives parsed frames. Each method returns true to go on or false to stop parsing (the
 * parser then ignores all further input). Payload chunks are unmasked subarrays of the
 * input; a frame of length 0 gets no `onPayload` call.
 */
export interface FrameSink {
  /** `rsv` holds the RSV bits in place (`RSV1 | RSV2 | RSV3` mask of byte 0). */
  onHeader(fin: boolean, rsv: number, opcode: number, masked: boolean, length: number): boolean;
  onPayload(chunk: Uint8Array): boolean;
  onFrameEnd(): boolean;
  /** A wire-format error; parsing stops. */
  onError(error: WebSocketError): void;
}

const enum Phase {
  HEADER,
  PAYLOAD,
  DEAD,
}

/** Header length from its second byte: 2 + extended length + masking key. */
function headerSize(b1: number): number {
  const len = b1 & 0x7f;
  return 2 + (len === 126 ? 2 : len === 127 ? 8 : 0) + (b1 & 0x80 ? 4 : 0);
}

/**
 * Incremental frame parser. `execute` may be fed any split of the stream; it may modify
 * the input in place (unmasking) and the sink may keep subarrays of it, so the caller must
 * hand over buffers it will not reuse (a socket's data chunks qualify).
 */
export class FrameParser {
  readonly #sink: FrameSink;
  #phase = Phase.HEADER;
  /** Bytes of a header split across inputs (allocated the first time one is). */
  #head: Uint8Array | undefined;
  #headLen = 0;
  /** The masking key's octets (numbers, not a 4-byte array: see applyMaskBytes). */
  #m0 = 0;
  #m1 = 0;
  #m2 = 0;
  #m3 = 0;
  #masked = false;
  /** Payload bytes of the current frame still to come, and already delivered. */
  #remaining = 0;
  #done = 0;

  constructor(sink: FrameSink) {
    this.#sink = sink;
  }

  /** True after a sink returned false or a wire-format error: input is ignored. */
  get stopped(): boolean {
    return this.#phase === Phase.DEAD;
  }

  /** True when no partial frame is buffered (between frames). */
  get idle(): boolean {
    return this.#phase === Phase.HEADER && this.#headLen === 0;
  }

  /** Stop for good (the connection closed). */
  stop(): void {
    this.#phase = Phase.DEAD;
  }

  execute(bytes: Uint8Array): void {
    const end = bytes.length;
    let pos = 0;
    while (pos < end || (this.#phase === Phase.PAYLOAD && this.#remaining === 0)) {
      if (this.#phase === Phase.HEADER) {
        if (this.#headLen === 0 && end - pos >= 2 && end - pos >= headerSize(bytes[pos + 1]!)) {
          // Whole header in the input: decode it where it is.
          const size = headerSize(bytes[pos + 1]!);
          if (!this.#header(bytes, pos)) return;
          pos += size;
          continue;
        }
        // Slow path: gather the header in the scratch buffer.
        const head = (this.#head ??= new Uint8Array(14));
        if (this.#headLen < 2) {
          head[this.#headLen++] = bytes[pos++]!;
          if (this.#headLen < 2) continue;
        }
        const size = headerSize(head[1]!);
        const take = Math.min(size - this.#headLen, end - pos);
        head.set(bytes.subarray(pos, pos + take), this.#headLen);
        this.#headLen += take;
        pos += take;
        if (this.#headLen === size) {
          this.#headLen = 0;
          if (!this.#header(head, 0)) return;
        }
      } else if (this.#phase === Phase.PAYLOAD) {
        if (this.#remaining === 0) {
          this.#phase = Phase.HEADER;
          if (!this.#sink.onFrameEnd()) return this.stop();
          continue;
        }
        const take = Math.min(this.#remaining, end - pos);
        const chunk = bytes.subarray(pos, pos + take);
        if (this.#masked) {
          applyMaskBytes(chunk, this.#m0, this.#m1, this.#m2, this.#m3, this.#done);
        }
        pos += take;
        this.#remaining -= take;
        this.#done += take;
        if (!this.#sink.onPayload(chunk)) return this.stop();
      } else {
        return;
      }
    }
  }

  /** Decode a complete header at `buf[at]` and announce it. False when parsing stopped. */
  #header(buf: Uint8Array, at: number): boolean {
    const b0 = buf[at]!;
    const b1 = buf[at + 1]!;
    const masked = (b1 & 0x80) !== 0;
    let length = b1 & 0x7f;
    let p = at + 2;
    if (length === 126) {
      length = (buf[p]! << 8) | buf[p + 1]!;
      p += 2;
      // §5.2: "the minimal number of bytes MUST be used to encode the length".
      if (length < 126) return this.#fail('NON_MINIMAL_LENGTH', '16-bit length below 126');
    } else if (length === 127) {
      const hi = ((buf[p]! << 24) | (buf[p + 1]! << 16) | (buf[p + 2]! << 8) | buf[p + 3]!) >>> 0;
      const lo =
        ((buf[p + 4]! << 24) | (buf[p + 5]! << 16) | (buf[p + 6]! << 8) | buf[p + 7]!) >>> 0;
      p += 8;
      // §5.2: "the most significant bit MUST be 0".
      if (hi & 0x80000000) return this.#fail('LENGTH_TOP_BIT', '64-bit length has its top bit set');
      // Exact up to 2^53; beyond that the value is still far above any finite limit.
      length = hi * 0x100000000 + lo;
      if (length < 0x10000) return this.#fail('NON_MINIMAL_LENGTH', '64-bit length below 65536');
    }
    if (masked) {
      this.#m0 = buf[p]!;
      this.#m1 = buf[p + 1]!;
      this.#m2 = buf[p + 2]!;
      this.#m3 = buf[p + 3]!;
    }
    this.#masked = masked;
    this.#remaining = length;
    this.#done = 0;
    this.#phase = Phase.PAYLOAD;
    if (!this.#sink.onHeader((b0 & 0x80) !== 0, b0 & 0x70, b0 & 0x0f, masked, length)) {
      this.stop();
      return false;
    }
    return true;
  }

  #fail(kind: 'NON_MINIMAL_LENGTH' | 'LENGTH_TOP_BIT', message: string): false {
    this.stop();
    this.#sink.onError(new WebSocketError(kind, message));
    return false;
  }
}

/**
 * Encode a frame header (2-14 bytes). With `mask`, the 4 key bytes are written at the end;
 * the payload must be masked separately (see `encodeFrame`). Lengths use the minimal
 * encoding (§5.2).
 */
export function encodeFrameHeader(
  fin: boolean,
  rsv: number,
  opcode: number,
  length: number,
  mask: Uint8Array | null,
): Uint8Array {
  const ext = length < 126 ? 0 : length < 0x10000 ? 2 : 8;
  const out = new Uint8Array(2 + ext + (mask ? 4 : 0));
  writeHeader(out, fin, rsv, opcode, length, mask !== null);
  if (mask) out.set(mask.subarray(0, 4), 2 + ext);
  return out;
}

/** Size of the header `writeHeader` produces. */
export function frameHeaderSize(length: number, masked: boolean): number {
  return 2 + (length < 126 ? 0 : length < 0x10000 ? 2 : 8) + (masked ? 4 : 0);
}

/**
 * Write a header into `out` at 0 and return where the masking key (if `masked`) or the
 * payload starts. The key itself is left for the caller to fill.
 */
export function writeHeader(
  out: Uint8Array,
  fin: boolean,
  rsv: number,
  opcode: number,
  length: number,
  masked: boolean,
): number {
  out[0] = (fin ? 0x80 : 0) | (rsv & 0x70) | (opcode & 0x0f);
  const m = masked ? 0x80 : 0;
  if (length < 126) {
    out[1] = m | length;
    return 2;
  }
  if (length < 0x10000) {
    out[1] = m | 126;
    out[2] = length >>> 8;
    out[3] = length & 0xff;
    return 4;
  }
  out[1] = m | 127;
  const hi = Math.floor(length / 0x100000000);
  const lo = length >>> 0;
  out[2] = hi >>> 24;
  out[3] = (hi >>> 16) & 0xff;
  out[4] = (hi >>> 8) & 0xff;
  out[5] = hi & 0xff;
  out[6] = lo >>> 24;
  out[7] = (lo >>> 16) & 0xff;
  out[8] = (lo >>> 8) & 0xff;
  out[9] = lo & 0xff;
  return 10;
}

/**
 * Encode one frame. Unmasked (server): `[header, payload]`, the payload not copied (an
 * empty payload is left out). Masked (client): one new buffer holding the header and the
 * masked copy of the payload; `payload` is left untouched. `mask` is the 4-byte key.
 */
export function encodeFrame(
  fin: boolean,
  rsv: number,
  opcode: number,
  payload: Uint8Array,
  mask: Uint8Array | null,
): Uint8Array[] {
  const n = payload.length;
  if (!mask) {
    const header = encodeFrameHeader(fin, rsv, opcode, n, null);
    return n === 0 ? [header] : [header, payload];
  }
  const out = new Uint8Array(frameHeaderSize(n, true) + n);
  const at = writeHeader(out, fin, rsv, opcode, n, true);
  out.set(mask.subarray(0, 4), at);
  out.set(payload, at + 4);
  applyMask(out.subarray(at + 4), mask, 0);
  return [out];
}
