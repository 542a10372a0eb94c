/**
 * What both ends of an HTTP/3 connection do (RFC 9114 §6.2, §7; RFC 9204 §4.2): open the
 * control stream with SETTINGS and the two QPACK streams, read the peer's, and enforce the
 * rules on them — one control stream whose first frame is SETTINGS, no frames that do not
 * belong there, critical streams that never close, push streams refused (we never send
 * MAX_PUSH_ID), unknown stream types read and discarded (§6.2, §9).
 *
 * Violations end the connection with CONNECTION_CLOSE carrying the H3_* code; request
 * streams are the subclasses' business (server.ts, client.ts).
 */
import { EventEmitter } from 'node:events';
import type { QuicConnection, QuicStream } from '../../transport/quic.js';
import { FrameType, H3ErrorCode, SettingId, StreamType, errorCodeName } from './codes.js';
import { Http3ConnectionError } from './errors.js';
import {
  FrameReader,
  decodeGoaway,
  decodeSettings,
  encodeGoaway,
  encodeSettings,
} from './frames.js';
import { QpackDecoder, QpackEncoder, QpackError } from './qpack/index.js';
import { decodeVarint, encodeVarint } from './varint.js';

export interface Http3Settings {
  /** SETTINGS_QPACK_MAX_TABLE_CAPACITY we advertise. @default 4096 */
  qpackMaxTableCapacity?: number;
  /** SETTINGS_QPACK_BLOCKED_STREAMS we advertise. @default 100 */
  qpackBlockedStreams?: number;
  /**
   * SETTINGS_MAX_FIELD_SECTION_SIZE (RFC 9114 §4.2.2): the largest header section we
   * accept, counted as RFC 9114 does (name + value + 32 per field). @default 65536, the
   * same budget as our HTTP/2 header list limit
   */
  maxFieldSectionSize?: number;
  /** Largest control-stream or HEADERS frame payload. @default 65536 + 1024 */
  maxFramePayload?: number;
}

export interface ResolvedHttp3Settings {
  qpackMaxTableCapacity: number;
  qpackBlockedStreams: number;
  maxFieldSectionSize: number;
  maxFramePayload: number;
}

export function resolveHttp3Settings(s: Http3Settings = {}): ResolvedHttp3Settings {
  return {
    qpackMaxTableCapacity: s.qpackMaxTableCapacity ?? 4096,
    qpackBlockedStreams: s.qpackBlockedStreams ?? 100,
    maxFieldSectionSize: s.maxFieldSectionSize ?? 65_536,
    maxFramePayload: s.maxFramePayload ?? 65_536 + 1024,
  };
}

export interface Http3SessionEvents {
  /** The peer's SETTINGS arrived. */
  settings: [settings: ReadonlyMap<number, number>];
  /** The peer sent GOAWAY with this id (RFC 9114 §5.2). */
  goaway: [id: number];
  /** The QUIC connection closed. */
  close: [err: Error | undefined];
}

/** Reads the stream-type varint at the start of a unidirectional stream (§6.2). */
class UniPreface {
  #buf = new Uint8Array(0);

  /** The type and the bytes after it, or undefined while incomplete. */
  push(chunk: Uint8Array): { type: number; rest: Uint8Array } | undefined {
    const buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    const r = decodeVarint(buf, 0);
    if (r === undefined) {
      this.#buf = Uint8Array.from(buf);
      return undefined;
    }
    return { type: r.value, rest: buf.subarray(r.next) };
  }
}

export abstract class Http3Session extends EventEmitter<Http3SessionEvents> {
  readonly quic: QuicConnection;
  readonly settings: ResolvedHttp3Settings;
  readonly encoder: QpackEncoder;
  readonly decoder: QpackDecoder;
  /** The peer's SETTINGS, once received. */
  peerSettings: ReadonlyMap<number, number> | undefined;
  /** The lowest GOAWAY id the peer sent. */
  goawayId: number | undefined;
  #control: QuicStream | undefined;
  #encoderStream: QuicStream | undefined;
  #decoderStream: QuicStream | undefined;
  readonly #peerCritical = new Set<number>();
  #closed = false;

  constructor(
    quic: QuicConnection,
    settings: Http3Settings,
    extraSettings: ReadonlyMap<number, number>,
  ) {
    super();
    this.quic = quic;
    this.settings = resolveHttp3Settings(settings);
    // Our encoder may let up to 16 streams wait for inserts (never more than the peer's
    // SETTINGS_QPACK_BLOCKED_STREAMS): a new header then costs one insert instead of a
    // literal on every stream that carries it before the acknowledgment comes back.
    this.encoder = new QpackEncoder({ maxBlockedStreams: 16 });
    this.decoder = new QpackDecoder({
      maxTableCapacity: this.settings.qpackMaxTableCapacity,
      maxBlockedStreams: this.settings.qpackBlockedStreams,
      maxFieldSectionSize: this.settings.maxFieldSectionSize,
    });
    quic.on('stream', (s) => this.#onStream(s));
    quic.on('close', (err) => this.#onClose(err));
    if (quic.closed) {
      queueMicrotask(() => this.#onClose(quic.closeError));
      return;
    }
    try {
      // §6.2.1: each side MUST initiate a single control stream and send SETTINGS first.
      this.#control = quic.openStream({ uni: true });
      const values = new Map<number, number>([
        [SettingId.QPACK_MAX_TABLE_CAPACITY, this.settings.qpackMaxTableCapacity],
        [SettingId.QPACK_BLOCKED_STREAMS, this.settings.qpackBlockedStreams],
        [SettingId.MAX_FIELD_SECTION_SIZE, this.settings.maxFieldSectionSize],
        ...extraSettings,
      ]);
      this.#control.writev([encodeVarint(StreamType.CONTROL), encodeSettings(values)]);
      // RFC 9204 §4.2: the encoder and decoder streams.
      this.#encoderStream = quic.openStream({ uni: true });
      this.#encoderStream.write(encodeVarint(StreamType.QPACK_ENCODER));
      this.#decoderStream = quic.openStream({ uni: true });
      this.#decoderStream.write(encodeVarint(StreamType.QPACK_DECODER));
    } catch (err) {
      // The peer allows fewer than 3 unidirectional streams (§6.2: it MUST allow 3).
      this.connectionError(
        H3ErrorCode.H3_STREAM_CREATION_ERROR,
        `cannot open the critical streams: ${(err as Error).message}`,
      );
    }
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** A bidirectional stream from the peer (requests on a server; refused on a client). */
  protected abstract onRequestStream(s: QuicStream): void;
  /** Field sections of these streams can now be decoded (RFC 9204 §2.1.2). */
  protected abstract onUnblocked(streamIds: number[]): void;
  /** The connection closed. */
  protected abstract onClosed(err: Error | undefined): void;
  /** A GOAWAY arrived (already validated). */
  protected onGoaway(_id: number): void {}

  /** Ends the connection with an H3 error code (RFC 9114 §8). */
  connectionError(code: number, message: string): void {
    if (this.#closed) return;
    void this.quic.close(code, `${errorCodeName(code)}: ${message}`.slice(0, 200));
  }

  /** Encodes a field section for `streamId` and sends any encoder-stream instructions first. */
  encodeFields(streamId: number, fields: readonly (readonly [string, string])[]): Uint8Array {
    const block = this.encoder.encode(streamId, fields);
    const ins = this.encoder.takeEncoderStreamBytes();
    if (ins !== undefined) this.#encoderStream?.write(ins);
    return block;
  }

  /** Sends pending decoder-stream instructions (acknowledgments, cancellations). */
  flushDecoder(): void {
    const bytes = this.decoder.takeDecoderStreamBytes();
    if (bytes !== undefined) this.#decoderStream?.write(bytes);
  }

  /** Sends GOAWAY (§5.2) on the control stream. */
  sendGoaway(id: number): void {
    this.#control?.write(encodeGoaway(id));
  }

  #onClose(err: Error | undefined): void {
    if (this.#closed) return;
    this.#closed = true;
    this.onClosed(err);
    this.emit('close', err);
  }

  #onStream(s: QuicStream): void {
    if (!s.uni) {
      this.onRequestStream(s);
      return;
    }
    const preface = new UniPreface();
    const onData = (chunk: Uint8Array): void => {
      const r = preface.push(chunk);
      if (r === undefined) return;
      s.off('data', onData);
      this.#onUniStream(s, r.type, r.rest);
    };
    s.on('data', onData);
    s.on('error', () => {});
  }

  #onUniStream(s: QuicStream, type: number, rest: Uint8Array): void {
    switch (type) {
      case StreamType.CONTROL:
      case StreamType.QPACK_ENCODER:
      case StreamType.QPACK_DECODER: {
        // §6.2.1, RFC 9204 §4.2: only one of each; a second is H3_STREAM_CREATION_ERROR.
        if (this.#peerCritical.has(type)) {
          this.connectionError(
            H3ErrorCode.H3_STREAM_CREATION_ERROR,
            `a second stream of type ${type}`,
          );
          return;
        }
        this.#peerCritical.add(type);
        // §6.2.1: closing a critical stream is H3_CLOSED_CRITICAL_STREAM.
        const critical = (): void => {
          this.connectionError(
            H3ErrorCode.H3_CLOSED_CRITICAL_STREAM,
            `critical stream ${s.streamId} closed`,
          );
        };
        s.on('end', critical);
        s.on('close', () => {
          if (!this.quic.closed) critical();
        });
        if (type === StreamType.CONTROL) this.#readControl(s, rest);
        else if (type === StreamType.QPACK_ENCODER) this.#readQpack(s, rest, true);
        else this.#readQpack(s, rest, false);
        return;
      }
      case StreamType.PUSH:
        // §6.2.2: a client MUST NOT open push streams; we never sent MAX_PUSH_ID, so a push
        // stream to us is over the limit (§4.6: H3_ID_ERROR).
        if (this.quic.side === 'server') {
          this.connectionError(
            H3ErrorCode.H3_STREAM_CREATION_ERROR,
            'a client opened a push stream',
          );
        } else {
          this.connectionError(H3ErrorCode.H3_ID_ERROR, 'push stream without MAX_PUSH_ID');
        }
        return;
      default:
        if (this.onUnknownUniStream(s, type, rest)) return;
        // §6.2: unknown types (including grease) MUST NOT be an error; stop reading.
        s.stopSending(H3ErrorCode.H3_STREAM_CREATION_ERROR);
    }
  }

  /** Extension stream types (WebTransport); true when handled. */
  protected onUnknownUniStream(_s: QuicStream, _type: number, _rest: Uint8Array): boolean {
    return false;
  }

  #readControl(s: QuicStream, rest: Uint8Array): void {
    const reader = new FrameReader({ maxFramePayload: this.settings.maxFramePayload });
    let first = true;
    const onChunk = (chunk: Uint8Array): void => {
      try {
        reader.push(chunk);
        for (let f = reader.next(); f !== undefined; f = reader.next()) {
          if (first) {
            // §6.2.1: the first frame MUST be SETTINGS.
            if (f.type !== FrameType.SETTINGS) {
              throw new Http3ConnectionError(
                H3ErrorCode.H3_MISSING_SETTINGS,
                'the control stream did not start with SETTINGS',
              );
            }
            first = false;
            this.#applySettings(decodeSettings(f.payload!));
            continue;
          }
          switch (f.type) {
            case FrameType.SETTINGS:
              // §7.2.4: a second SETTINGS frame is H3_FRAME_UNEXPECTED.
              throw new Http3ConnectionError(
                H3ErrorCode.H3_FRAME_UNEXPECTED,
                'a second SETTINGS frame',
              );
            case FrameType.GOAWAY:
              this.#onGoawayFrame(decodeGoaway(f.payload!));
              break;
            case FrameType.MAX_PUSH_ID:
              // §7.2.7: only clients send MAX_PUSH_ID.
              if (this.quic.side === 'client') {
                throw new Http3ConnectionError(
                  H3ErrorCode.H3_FRAME_UNEXPECTED,
                  'MAX_PUSH_ID from a server',
                );
              }
              break;
            case FrameType.CANCEL_PUSH:
              // §7.2.3: we never promised or accepted pushes, so there is nothing to cancel —
              // but a push ID is only valid below MAX_PUSH_ID, which we never sent.
              if (this.quic.side === 'client') {
                throw new Http3ConnectionError(
                  H3ErrorCode.H3_ID_ERROR,
                  'CANCEL_PUSH without MAX_PUSH_ID',
                );
              }
              break;
            case FrameType.DATA:
            case FrameType.HEADERS:
            case FrameType.PUSH_PROMISE:
              // §7.2.1, §7.2.2, §7.2.5: these are request-stream frames only.
              throw new Http3ConnectionError(
                H3ErrorCode.H3_FRAME_UNEXPECTED,
                `frame type ${f.type} on the control stream`,
              );
            default:
              break; // unknown or extension frames are ignored (§9)
          }
        }
      } catch (err) {
        this.#fail(err);
      }
    };
    s.on('data', onChunk);
    if (rest.length > 0) onChunk(rest);
  }

  #readQpack(s: QuicStream, rest: Uint8Array, encoderStream: boolean): void {
    const onChunk = (chunk: Uint8Array): void => {
      try {
        if (encoderStream) {
          const unblocked = this.decoder.onEncoderStream(chunk);
          this.flushDecoder();
          if (unblocked.length > 0) this.onUnblocked(unblocked);
        } else {
          this.encoder.onDecoderStream(chunk);
        }
      } catch (err) {
        this.#fail(err);
      }
    };
    s.on('data', onChunk);
    if (rest.length > 0) onChunk(rest);
  }

  #applySettings(values: Map<number, number>): void {
    this.peerSettings = values;
    this.encoder.setPeerSettings(
      values.get(SettingId.QPACK_MAX_TABLE_CAPACITY) ?? 0,
      values.get(SettingId.QPACK_BLOCKED_STREAMS) ?? 0,
    );
    const ins = this.encoder.takeEncoderStreamBytes();
    if (ins !== undefined) this.#encoderStream?.write(ins);
    this.emit('settings', values);
  }

  #onGoawayFrame(id: number): void {
    // §5.2: a client MUST treat a GOAWAY id that is not a client-initiated bidirectional
    // stream id as H3_ID_ERROR; ids MUST NOT increase.
    if (this.quic.side === 'client' && id % 4 !== 0) {
      throw new Http3ConnectionError(
        H3ErrorCode.H3_ID_ERROR,
        `GOAWAY id ${id} is not a request stream id`,
      );
    }
    if (this.goawayId !== undefined && id > this.goawayId) {
      throw new Http3ConnectionError(
        H3ErrorCode.H3_ID_ERROR,
        `GOAWAY id grew from ${this.goawayId} to ${id}`,
      );
    }
    this.goawayId = id;
    this.onGoaway(id);
    this.emit('goaway', id);
  }

  #fail(err: unknown): void {
    if (err instanceof Http3ConnectionError) this.connectionError(err.wireCode, err.message);
    else if (err instanceof QpackError)
      this.connectionError((err as QpackError).wireCode, (err as QpackError).message);
    else this.connectionError(H3ErrorCode.H3_INTERNAL_ERROR, (err as Error).message);
  }
}
