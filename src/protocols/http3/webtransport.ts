/**
 * WebTransport over HTTP/3 (draft-ietf-webtrans-http3), server side, with HTTP Datagrams
 * (RFC 9297) and extended CONNECT (RFC 9220).
 *
 * A session is an extended CONNECT request with `:protocol: webtransport`; its stream ID
 * is the session ID. Streams of the session start with a signal: a bidirectional stream
 * with the frame type WEBTRANSPORT_STREAM (0x41) and the session ID, a unidirectional one
 * with the stream type 0x54 and the session ID. Datagrams are QUIC DATAGRAM frames whose
 * payload starts with the quarter stream ID of the session (RFC 9297 §2.1). The session
 * ends when its CONNECT stream ends, optionally after a CLOSE_WEBTRANSPORT_SESSION capsule
 * (type 0x2843: a 32-bit code and a UTF-8 message of at most 1024 bytes).
 *
 * The peer's streams and datagrams reach the application as the QUIC streams themselves
 * (`StreamConnection`), after the signal bytes.
 */
import { EventEmitter } from 'node:events';
import type { QuicConnection, QuicStream } from '../../transport/quic.js';
import { FrameType, StreamType } from './codes.js';
import { encodeFrameHeader } from './frames.js';
import { decodeVarint, encodeVarint, varintLength } from './varint.js';

/** Capsule types (RFC 9297 §3.2; WebTransport). */
export const CapsuleType = {
  DATAGRAM: 0x00,
  CLOSE_WEBTRANSPORT_SESSION: 0x2843,
  DRAIN_WEBTRANSPORT_SESSION: 0x78ae,
} as const;

/** Stream and session error code for "the session is gone" (WebTransport). */
export const WT_SESSION_GONE = 0x170d7b68;
/** Largest capsule we buffer on a CONNECT stream. */
const MAX_CAPSULE = 64 * 1024;

export interface WebTransportSessionEvents {
  /** The peer opened a stream of this session (bidirectional or unidirectional). */
  stream: [stream: QuicStream];
  /** A datagram of this session arrived (without its quarter-stream-ID prefix). */
  datagram: [data: Uint8Array];
  /** The session ended: by the peer's capsule or FIN, by `close()`, or with the connection. */
  close: [info: { code: number; reason: string }];
}

export function encodeCapsule(type: number, value: Uint8Array): Uint8Array {
  const out = new Uint8Array(varintLength(type) + varintLength(value.length) + value.length);
  encodeVarint(type, out, 0);
  encodeVarint(value.length, out, varintLength(type));
  out.set(value, varintLength(type) + varintLength(value.length));
  return out;
}

export function encodeCloseSession(code: number, reason: string): Uint8Array {
  const msg = new TextEncoder().encode(reason).subarray(0, 1024);
  const value = new Uint8Array(4 + msg.length);
  new DataView(value.buffer).setUint32(0, code >>> 0);
  value.set(msg, 4);
  return encodeCapsule(CapsuleType.CLOSE_WEBTRANSPORT_SESSION, value);
}

/** Reads capsules from the CONNECT stream's DATA (RFC 9297 §3.2), bounded. */
export class CapsuleReader {
  #buf = new Uint8Array(0);

  push(chunk: Uint8Array): { type: number; value: Uint8Array }[] {
    const buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    const out: { type: number; value: Uint8Array }[] = [];
    let at = 0;
    for (;;) {
      const t = decodeVarint(buf, at);
      const l = t === undefined ? undefined : decodeVarint(buf, t.next);
      if (t === undefined || l === undefined) break;
      if (l.value > MAX_CAPSULE)
        throw new RangeError(`capsule of ${l.value} bytes exceeds ${MAX_CAPSULE}`);
      if (l.next + l.value > buf.length) break;
      out.push({ type: t.value, value: buf.slice(l.next, l.next + l.value) });
      at = l.next + l.value;
    }
    this.#buf = buf.slice(at);
    if (this.#buf.length > MAX_CAPSULE + 16) throw new RangeError('capsule too large');
    return out;
  }
}

export class WebTransportSession extends EventEmitter<WebTransportSessionEvents> {
  /** The CONNECT stream's ID (RFC 9297: the quarter of it prefixes datagrams). */
  readonly id: number;
  readonly path: string;
  readonly quic: QuicConnection;
  readonly #connect: QuicStream;
  readonly #streams = new Set<QuicStream>();
  readonly #prefix: Uint8Array;
  #closed = false;

  constructor(quic: QuicConnection, connect: QuicStream, path: string) {
    super();
    this.quic = quic;
    this.#connect = connect;
    this.id = connect.streamId;
    this.path = path;
    this.#prefix = encodeVarint(this.id / 4);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Opens a stream of this session; its first bytes are the WebTransport signal. */
  openStream(options: { uni?: boolean } = {}): QuicStream {
    const s = this.quic.openStream({ uni: options.uni === true });
    const signal =
      options.uni === true
        ? encodeVarint(StreamType.WEBTRANSPORT_UNI)
        : encodeVarint(FrameType.WEBTRANSPORT_STREAM);
    s.writev([signal, encodeVarint(this.id)]);
    this.adopt(s);
    return s;
  }

  /** Sends a datagram (RFC 9297 §2.1). False when the queue is full; RangeError when too big. */
  sendDatagram(data: Uint8Array): boolean {
    const d = new Uint8Array(this.#prefix.length + data.length);
    d.set(this.#prefix);
    d.set(data, this.#prefix.length);
    return this.quic.sendDatagram(d);
  }

  /** Ends the session with CLOSE_WEBTRANSPORT_SESSION and FIN on the CONNECT stream. */
  close(code = 0, reason = ''): void {
    if (this.#closed) return;
    if (this.#connect.writable) {
      const capsule = encodeCloseSession(code, reason);
      this.#connect.writev([encodeFrameHeader(FrameType.DATA, capsule.length), capsule]);
      this.#connect.end();
    }
    this.terminate(code, reason);
  }

  // ---- driven by the HTTP/3 session ----

  /** A stream of this session (ours or the peer's): reset with the session. */
  adopt(s: QuicStream): void {
    this.#streams.add(s);
    s.once('close', () => this.#streams.delete(s));
  }

  /** A peer stream arrived with `rest` bytes after its signal. */
  deliverStream(s: QuicStream, rest: Uint8Array): void {
    this.adopt(s);
    this.emit('stream', s);
    if (rest.length > 0) s.emit('data', rest);
  }

  deliverDatagram(payload: Uint8Array): void {
    this.emit('datagram', payload);
  }

  terminate(code: number, reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const s of this.#streams) {
      s.destroyCode = WT_SESSION_GONE;
      s.destroy();
    }
    this.#streams.clear();
    this.emit('close', { code, reason });
  }
}
