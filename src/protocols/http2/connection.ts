/**
 * The HTTP/2 connection core (RFC 9113), client or server, with no I/O (DESIGN §2):
 * `receive(bytes, now)` parses frames and calls the handler given at construction;
 * intent methods (`sendHeaders`, `sendData`, `sendTrailers`, `resetStream`, `ping`,
 * `goaway`, `shutdown`) queue frames; `takeOutput()` hands over the bytes to write, running
 * the DATA scheduler (flow control and RFC 9218 priorities) as it does; time enters through
 * `receive`'s `now`, `nextDeadline()` and `handleTimeout(now)`.
 *
 * Errors: a connection error (§5.4.1) queues GOAWAY and calls `handler.onConnectionError`;
 * nothing is read after it and the binding closes once the output is written. A stream
 * error (§5.4.2) queues RST_STREAM and calls `handler.onStreamReset` for a stream the
 * handler knows. No exception leaves `receive`.
 *
 * Callbacks fire synchronously from `receive` (and from `takeOutput` for
 * `onStreamWritable`/`onStreamClose`); a handler may call intent methods from them.
 */
import {
  CLIENT_PREFACE,
  DEFAULT_HEADER_TABLE_SIZE,
  DEFAULT_MAX_FRAME_SIZE,
  DEFAULT_WINDOW_SIZE,
  ErrorCode,
  FRAME_HEADER_LENGTH,
  Flag,
  FrameType,
  MAX_STREAM_ID,
  MAX_WINDOW_SIZE,
  SettingId,
} from './codes.js';
import { Http2ConnectionError, Http2StreamError, HpackError } from './errors.js';
import { validateRequest, validateResponse, validateTrailers } from './fields.js';
import type { RequestFields, ResponseFields } from './fields.js';
import { FrameWriter, paddedEnd, readFrameHeader, readUint31, readUint32 } from './frame.js';
import type { FrameHeader } from './frame.js';
import { HpackDecoder, HpackEncoder } from './hpack/index.js';
import type { Http2Limits } from './limits.js';
import { resolveHttp2Limits } from './limits.js';
import { parsePriority } from './priority.js';
import { TokenBucket } from './rate-limit.js';
import { localOpen, remoteOpen, transition } from './state.js';
import type { StreamInput } from './state.js';
import { Http2Stream } from './stream.js';

export type Http2Role = 'client' | 'server';

/** The peer's settings as last received (RFC 9113 §6.5.2 defaults until then). */
export interface Http2PeerSettings {
  headerTableSize: number;
  enablePush: boolean;
  maxConcurrentStreams: number;
  initialWindowSize: number;
  maxFrameSize: number;
  maxHeaderListSize: number;
  enableConnectProtocol: boolean;
  noRfc7540Priorities: boolean;
}

/** What the core reports. The binding implements it; tests record it. */
export interface Http2ConnectionHandler {
  /** Server: a request head opened `stream` (`endStream`: no body follows). */
  onRequest?(stream: Http2Stream, head: RequestFields, endStream: boolean): void;
  /** Server: a request's header list exceeded maxHeaderListSize; the core answered 431. */
  onRequestTooLarge?(stream: Http2Stream): void;
  /** Client: a response head; `informational` for 1xx (more heads follow). */
  onResponse?(stream: Http2Stream, head: ResponseFields, endStream: boolean): void;
  /** Body bytes (padding removed). Return them with `consume()` once the application took them. */
  onData(stream: Http2Stream, chunk: Uint8Array, endStream: boolean): void;
  /** Trailers; the stream's incoming side ends with them. */
  onTrailers(stream: Http2Stream, names: string[], values: string[]): void;
  /**
   * The stream ended abnormally: reset by the peer ('remote'), by us after a stream error
   * ('local'), or not processed by a server that went away ('goaway': safe to retry).
   */
  onStreamReset(
    stream: Http2Stream,
    code: number,
    initiator: 'remote' | 'local' | 'goaway',
    err?: Error,
  ): void;
  /** The stream is closed and forgotten (both sides ended or it was reset). */
  onStreamClose?(stream: Http2Stream): void;
  /** `sendData` returned false before; the stream's queue fell below the high-water mark. */
  onStreamWritable?(stream: Http2Stream): void;
  /** The peer's SETTINGS were applied (the first time: the connection is ready). */
  onSettings?(settings: Readonly<Http2PeerSettings>): void;
  /** A PING we sent was acknowledged. */
  onPingAck?(payload: Uint8Array): void;
  /** The peer sent GOAWAY. */
  onGoaway?(lastStreamId: number, code: number, debug: Uint8Array): void;
  /** A connection error ended the connection; GOAWAY is queued. */
  onConnectionError(err: Http2ConnectionError): void;
}

export interface Http2ConnectionOptions {
  limits?: Partial<Http2Limits>;
  /** The clock reading at creation (ms), for the flood limits and the SETTINGS timeout. */
  now?: number;
  /**
   * Client: the first stream id to use (odd). Only for tests of stream-id exhaustion and
   * for resuming after an HTTP/1.1 Upgrade (which takes stream 1).
   * @default 1
   */
  firstStreamId?: number;
}

const EMPTY = new Uint8Array(0);
/** Our graceful-shutdown PING payload (§6.8: GOAWAY, PING, then the final GOAWAY). */
const SHUTDOWN_PING = new Uint8Array([0x67, 0x6e, 0x2d, 0x73, 0x68, 0x75, 0x74, 0x00]);
/** Without a PING ACK, the final GOAWAY follows this long after the first. */
const SHUTDOWN_PING_TIMEOUT_MS = 1000;
/** DATA payloads up to this size are copied into the frame slab instead of queued alone. */
const COPY_DATA_BELOW = 1024;

type ClosedReason = 'reset-sent' | 'reset-received' | 'closed';

const enum Phase {
  /** Server: waiting for the client preface. */
  Preface,
  /** The peer's first frame must be SETTINGS (§3.4). */
  FirstSettings,
  Open,
  /** A connection error was sent or received; input is ignored. */
  Dead,
}

interface HeaderBlock {
  streamId: number;
  endStream: boolean;
  /** The HEADERS priority fields made the stream depend on itself (§5.3.1). */
  selfDependent: boolean;
  chunks: Uint8Array[];
  size: number;
  frames: number;
}

export class Http2Connection {
  readonly role: Http2Role;
  readonly limits: Http2Limits;
  readonly peerSettings: Http2PeerSettings = {
    headerTableSize: 4096,
    enablePush: true,
    maxConcurrentStreams: Number.POSITIVE_INFINITY,
    initialWindowSize: DEFAULT_WINDOW_SIZE,
    maxFrameSize: DEFAULT_MAX_FRAME_SIZE,
    maxHeaderListSize: Number.POSITIVE_INFINITY,
    enableConnectProtocol: false,
    noRfc7540Priorities: false,
  };
  readonly #handler: Http2ConnectionHandler;
  readonly #streams = new Map<number, Http2Stream>();
  readonly #closed = new Map<number, ClosedReason>();
  readonly #encoder: HpackEncoder;
  readonly #decoder: HpackDecoder;
  readonly #writer = new FrameWriter();
  #out: Uint8Array[] = [];
  #outControl = 0;
  #phase: Phase;
  #prefaceSeen = 0;
  /** Incoming bytes of an incomplete frame. */
  #pending: Uint8Array[] = [];
  #pendingBytes = 0;
  #need = FRAME_HEADER_LENGTH;
  readonly #fh: FrameHeader = { length: 0, type: 0, flags: 0, streamId: 0 };
  #block: HeaderBlock | undefined = undefined;
  /** Highest stream id the peer opened (§5.1.1), and the next one we may open. */
  #lastPeerStreamId = 0;
  #nextStreamId: number;
  /** Peer-initiated streams counted against our MAX_CONCURRENT_STREAMS. */
  #peerActive = 0;
  /** Streams we opened, counted against the peer's limit. */
  #localActive = 0;
  #connSendWindow = DEFAULT_WINDOW_SIZE;
  #connRecvWindow = DEFAULT_WINDOW_SIZE;
  #connRecvUnacked = 0;
  #ready: Http2Stream[] = [];
  #writable: Http2Stream[] = [];
  #closing: Http2Stream[] = [];
  /** When our SETTINGS went out unacknowledged (for SETTINGS_TIMEOUT), else -1. */
  #settingsSentAt = -1;
  #localSettingsAcked = false;
  #peerSettingsReceived = false;
  #now: number;
  readonly #resetBucket: TokenBucket;
  readonly #controlBucket: TokenBucket;
  /** Server: GOAWAY with this last-stream-id was sent (first 2^31-1, then the real one). */
  #goawaySent = -1;
  #shutdownPingAt = -1;
  #goawayReceived = -1;
  #pendingPriorities = new Map<number, string>();
  #error: Http2ConnectionError | undefined = undefined;
  #inCallback = false;

  constructor(
    role: Http2Role,
    handler: Http2ConnectionHandler,
    options: Http2ConnectionOptions = {},
  ) {
    this.role = role;
    this.limits = resolveHttp2Limits(options.limits);
    this.#handler = handler;
    this.#now = options.now ?? 0;
    this.#encoder = new HpackEncoder({ maxTableSize: this.limits.encoderTableSize });
    // Until the peer acknowledges our SETTINGS its encoder may use the protocol default
    // (RFC 7541 §4.2, RFC 9113 §6.5.3); our own HEADER_TABLE_SIZE applies from the ACK.
    this.#decoder = new HpackDecoder({
      maxTableSize: DEFAULT_HEADER_TABLE_SIZE,
      maxHeaderListSize: this.limits.maxHeaderListSize,
    });
    this.#resetBucket = new TokenBucket(
      this.limits.streamResetBurst,
      this.limits.streamResetRate,
      this.#now,
    );
    this.#controlBucket = new TokenBucket(
      this.limits.controlFrameBurst,
      this.limits.controlFrameRate,
      this.#now,
    );
    this.#nextStreamId = role === 'client' ? (options.firstStreamId ?? 1) : 2;
    this.#phase = role === 'server' ? Phase.Preface : Phase.FirstSettings;
    if (role === 'client') this.#out.push(CLIENT_PREFACE);
    this.#sendInitialSettings();
  }

  // ---------------------------------------------------------------- accessors

  /** Open streams (either side not yet closed). */
  get streamCount(): number {
    return this.#streams.size;
  }

  /** The peer's SETTINGS arrived (a client may send requests before that, §3.4). */
  get ready(): boolean {
    return this.#peerSettingsReceived;
  }

  /** A connection error happened; nothing more is read or sent except queued output. */
  get dead(): boolean {
    return this.#phase === Phase.Dead;
  }

  get error(): Http2ConnectionError | undefined {
    return this.#error;
  }

  /** Output queued and not yet taken (control frames and headers; DATA waits in streams). */
  get hasOutput(): boolean {
    return this.#out.length > 0 || this.#writer.pending > 0 || this.#readyToSend();
  }

  /** GOAWAY was sent or received: no new streams. */
  get goingAway(): boolean {
    return this.#goawaySent >= 0 || this.#goawayReceived >= 0;
  }

  /**
   * Nothing is left to do: a GOAWAY went out (the final one, after graceful shutdown's
   * PING round trip) or came in, and no stream is open. The binding closes the transport.
   */
  get finished(): boolean {
    if (this.#streams.size > 0) return false;
    return this.#goawayReceived >= 0 || (this.#goawaySent >= 0 && this.#shutdownPingAt < 0);
  }

  /** Highest stream id the peer initiated that we processed. */
  get lastPeerStreamId(): number {
    return this.#lastPeerStreamId;
  }

  /** Client: a new stream may be opened now (limits, GOAWAY and ids permitting). */
  get canOpenStream(): boolean {
    return (
      this.#phase !== Phase.Dead &&
      this.#goawayReceived < 0 &&
      this.#goawaySent < 0 &&
      this.#nextStreamId <= MAX_STREAM_ID &&
      this.#localActive < this.peerSettings.maxConcurrentStreams
    );
  }

  /** Stream ids left for us to open (client). */
  get streamIdsLeft(): number {
    return this.#nextStreamId > MAX_STREAM_ID
      ? 0
      : Math.floor((MAX_STREAM_ID - this.#nextStreamId) / 2) + 1;
  }

  getStream(id: number): Http2Stream | undefined {
    return this.#streams.get(id);
  }

  // ---------------------------------------------------------------- input

  /** Feeds received bytes. Never throws: violations become GOAWAY or RST_STREAM. */
  receive(data: Uint8Array, now: number): void {
    if (this.#phase === Phase.Dead || data.length === 0) return;
    this.#now = now;
    try {
      this.#receive(data);
    } catch (err) {
      this.#fail(err);
    }
  }

  #receive(data: Uint8Array): void {
    if (this.#phase === Phase.Preface) {
      data = this.#checkPreface(data);
      if (data.length === 0) return;
    }
    let buf = data;
    let pos = 0;
    if (this.#pendingBytes > 0) {
      if (this.#pendingBytes + data.length < this.#need) {
        this.#pending.push(data);
        this.#pendingBytes += data.length;
        return;
      }
      this.#pending.push(data);
      buf = Buffer.concat(this.#pending, this.#pendingBytes + data.length);
      this.#pending = [];
      this.#pendingBytes = 0;
    }
    const fh = this.#fh;
    const maxFrame = this.limits.maxFrameSize;
    const end = buf.length;
    while (end - pos >= FRAME_HEADER_LENGTH) {
      readFrameHeader(buf, pos, fh);
      // §4.2: a frame larger than our SETTINGS_MAX_FRAME_SIZE is a FRAME_SIZE_ERROR; a
      // connection error for any frame that can change connection state, and we treat
      // every such frame that way (we cannot skip it without reading it into memory).
      if (fh.length > maxFrame) {
        throw new Http2ConnectionError(
          ErrorCode.FRAME_SIZE_ERROR,
          `frame of ${fh.length} octets exceeds SETTINGS_MAX_FRAME_SIZE ${maxFrame} (§4.2)`,
        );
      }
      const total = FRAME_HEADER_LENGTH + fh.length;
      if (end - pos < total) {
        this.#need = total;
        break;
      }
      const payload = buf.subarray(pos + FRAME_HEADER_LENGTH, pos + total);
      pos += total;
      this.#frame(fh.type, fh.flags, fh.streamId, payload);
      if (this.#phase === Phase.Dead) return;
      this.#need = FRAME_HEADER_LENGTH;
    }
    if (pos < end) {
      this.#pending.push(pos === 0 ? buf : buf.subarray(pos));
      this.#pendingBytes = end - pos;
    }
  }

  /** Matches the client preface (§3.4); returns what follows it. */
  #checkPreface(data: Uint8Array): Uint8Array {
    let i = 0;
    while (i < data.length && this.#prefaceSeen < CLIENT_PREFACE.length) {
      if (data[i] !== CLIENT_PREFACE[this.#prefaceSeen]) {
        // §3.4: an invalid preface is a connection error of type PROTOCOL_ERROR.
        throw new Http2ConnectionError(
          ErrorCode.PROTOCOL_ERROR,
          'invalid connection preface (§3.4)',
        );
      }
      i++;
      this.#prefaceSeen++;
    }
    if (this.#prefaceSeen === CLIENT_PREFACE.length) this.#phase = Phase.FirstSettings;
    return data.subarray(i);
  }

  #frame(type: number, flags: number, streamId: number, payload: Uint8Array): void {
    if (this.#phase === Phase.FirstSettings) {
      // §3.4: the first frame of each side's preface is SETTINGS (not an ACK).
      if (type !== FrameType.SETTINGS || (flags & Flag.ACK) !== 0) {
        throw new Http2ConnectionError(
          ErrorCode.PROTOCOL_ERROR,
          'the connection preface must start with a SETTINGS frame (§3.4)',
        );
      }
      this.#phase = Phase.Open;
    }
    // §6.10: a header block is contiguous: only CONTINUATION on the same stream may follow.
    if (
      this.#block !== undefined &&
      (type !== FrameType.CONTINUATION || streamId !== this.#block.streamId)
    ) {
      throw new Http2ConnectionError(
        ErrorCode.PROTOCOL_ERROR,
        'expected CONTINUATION for the open header block (§6.10)',
      );
    }
    switch (type) {
      case FrameType.DATA:
        return this.#onData(flags, streamId, payload);
      case FrameType.HEADERS:
        return this.#onHeaders(flags, streamId, payload);
      case FrameType.PRIORITY:
        return this.#onPriority(streamId, payload);
      case FrameType.RST_STREAM:
        return this.#onRstStream(streamId, payload);
      case FrameType.SETTINGS:
        return this.#onSettings(flags, streamId, payload);
      case FrameType.PUSH_PROMISE:
        // §8.4: a client MUST NOT send PUSH_PROMISE; we disable push (ENABLE_PUSH=0), so a
        // server sending one violates §6.5.2 too.
        throw new Http2ConnectionError(
          ErrorCode.PROTOCOL_ERROR,
          this.role === 'server'
            ? 'PUSH_PROMISE from a client (§8.4)'
            : 'PUSH_PROMISE although SETTINGS_ENABLE_PUSH is 0 (§6.6)',
        );
      case FrameType.PING:
        return this.#onPing(flags, streamId, payload);
      case FrameType.GOAWAY:
        return this.#onGoaway(streamId, payload);
      case FrameType.WINDOW_UPDATE:
        return this.#onWindowUpdate(streamId, payload);
      case FrameType.CONTINUATION:
        return this.#onContinuation(flags, streamId, payload);
      case FrameType.PRIORITY_UPDATE:
        return this.#onPriorityUpdate(streamId, payload);
      default:
        // §4.1, §5.5: unknown frame types MUST be ignored.
        return;
    }
  }

  // ---------------------------------------------------------------- frames in

  #onData(flags: number, streamId: number, payload: Uint8Array): void {
    // §6.1: DATA on stream 0 is a connection error of type PROTOCOL_ERROR.
    if (streamId === 0) {
      throw new Http2ConnectionError(ErrorCode.PROTOCOL_ERROR, 'DATA on stream 0 (§6.1)');
    }
    const length = payload.length;
    let start = 0;
    let end = length;
    if ((flags & Flag.PADDED) !== 0) {
      end = paddedEnd(payload, 0);
      if (end < 0) {
        throw new Http2ConnectionError(ErrorCode.PROTOCOL_ERROR, 'DATA padding too long (§6.1)');
      }
      start = 1;
    }
    // §6.9.1: the whole frame payload (padding included) counts against both windows.
    if (length > this.#connRecvWindow) {
      throw new Http2ConnectionError(
        ErrorCode.FLOW_CONTROL_ERROR,
        'DATA exceeds the connection flow-control window (§6.9.1)',
      );
    }
    this.#connRecvWindow -= length;
    const endStream = (flags & Flag.END_STREAM) !== 0;
    const stream = this.#streams.get(streamId);
    if (stream === undefined) {
      // Not delivered: return the connection window at once (§6.9: DATA on closed streams
      // still counts toward the connection window).
      this.#releaseConnection(length);
      this.#onFrameForUnknownStream(streamId, 'DATA');
      return;
    }
    if (!remoteOpen(stream.state) || (this.role === 'client' && !stream.finalHeadReceived)) {
      this.#releaseConnection(length);
      if (!remoteOpen(stream.state)) {
        // §5.1 half-closed (remote): frames other than WINDOW_UPDATE, PRIORITY and
        // RST_STREAM are a stream error of type STREAM_CLOSED.
        this.#streamError(stream, ErrorCode.STREAM_CLOSED, 'DATA after END_STREAM (§5.1)');
      } else {
        this.#streamError(stream, ErrorCode.PROTOCOL_ERROR, 'DATA before the response head (§8.1)');
      }
      return;
    }
    if (length > stream.recvWindow) {
      this.#releaseConnection(length);
      this.#streamError(
        stream,
        ErrorCode.FLOW_CONTROL_ERROR,
        'DATA exceeds the stream flow-control window (§6.9.1)',
      );
      return;
    }
    stream.recvWindow -= length;
    const content = end - start;
    if (length - content > 0) this.consume(stream, length - content);
    if (content === 0 && !endStream && !this.#controlBucket.take(this.#now)) {
      throw new Http2ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, 'empty DATA frame flood');
    }
    stream.received += content;
    // §8.1.1: content-length must match the DATA received.
    if (stream.expectedLength >= 0) {
      if (
        stream.received > stream.expectedLength ||
        (endStream && stream.received !== stream.expectedLength)
      ) {
        this.#streamError(
          stream,
          ErrorCode.PROTOCOL_ERROR,
          'DATA length does not match content-length (§8.1.1)',
        );
        return;
      }
    }
    if (endStream) this.#apply(stream, 'recv-end-stream');
    if (content > 0 || endStream) {
      this.#handler.onData(
        stream,
        content === length ? payload : payload.subarray(start, end),
        endStream,
      );
    }
    if (stream.state === 'closed') this.#forget(stream, 'closed');
  }

  #onHeaders(flags: number, streamId: number, payload: Uint8Array): void {
    // §6.2: HEADERS on stream 0 is a connection error of type PROTOCOL_ERROR.
    if (streamId === 0) {
      throw new Http2ConnectionError(ErrorCode.PROTOCOL_ERROR, 'HEADERS on stream 0 (§6.2)');
    }
    let start = 0;
    let end = payload.length;
    if ((flags & Flag.PADDED) !== 0) {
      end = paddedEnd(payload, 0);
      if (end < 0) {
        throw new Http2ConnectionError(ErrorCode.PROTOCOL_ERROR, 'HEADERS padding too long (§6.2)');
      }
      start = 1;
    }
    let selfDependent = false;
    if ((flags & Flag.PRIORITY) !== 0) {
      if (end - start < 5) {
        throw new Http2ConnectionError(
          ErrorCode.FRAME_SIZE_ERROR,
          'HEADERS priority fields truncated (§6.2)',
        );
      }
      // §5.3.1: a stream cannot depend on itself (stream error PROTOCOL_ERROR). RFC 7540
      // priorities are otherwise parsed and ignored (§5.3.2).
      selfDependent = readUint31(payload, start) === streamId;
      start += 5;
    }
    const block: HeaderBlock = {
      streamId,
      endStream: (flags & Flag.END_STREAM) !== 0,
      selfDependent,
      chunks: [payload.subarray(start, end)],
      size: end - start,
      frames: 1,
    };
    if ((flags & Flag.END_HEADERS) !== 0) this.#headerBlock(block);
    else this.#checkBlockSize(block);
  }

  #onContinuation(flags: number, streamId: number, payload: Uint8Array): void {
    const block = this.#block;
    if (block === undefined) {
      // §6.10: CONTINUATION not preceded by HEADERS/CONTINUATION without END_HEADERS.
      throw new Http2ConnectionError(
        ErrorCode.PROTOCOL_ERROR,
        'CONTINUATION without a header block (§6.10)',
      );
    }
    if (streamId === 0) {
      throw new Http2ConnectionError(ErrorCode.PROTOCOL_ERROR, 'CONTINUATION on stream 0 (§6.10)');
    }
    block.chunks.push(payload);
    block.size += payload.length;
    block.frames++;
    // The limits hold for the last CONTINUATION too (the one with END_HEADERS).
    this.#checkBlockSize(block);
    if ((flags & Flag.END_HEADERS) !== 0) {
      this.#block = undefined;
      this.#headerBlock(block);
    }
  }

  /** CONTINUATION flood guard: block size and frame count are bounded (STYLE §4). */
  #checkBlockSize(block: HeaderBlock): void {
    this.#block = block;
    if (
      block.size > this.limits.maxHeaderBlockSize ||
      block.frames > this.limits.maxContinuationFrames + 1
    ) {
      throw new Http2ConnectionError(
        ErrorCode.ENHANCE_YOUR_CALM,
        `header block over ${this.limits.maxHeaderBlockSize} octets or ${this.limits.maxContinuationFrames} CONTINUATION frames`,
      );
    }
  }

  #headerBlock(block: HeaderBlock): void {
    const bytes =
      block.chunks.length === 1 ? block.chunks[0]! : Buffer.concat(block.chunks, block.size);
    // Every header block is decoded, even one we will refuse: the HPACK context is shared
    // by the connection (§4.3). A decoding error is a COMPRESSION_ERROR connection error.
    let decoded;
    try {
      decoded = this.#decoder.decode(bytes);
    } catch (err) {
      if (err instanceof HpackError) {
        throw new Http2ConnectionError(ErrorCode.COMPRESSION_ERROR, err.message);
      }
      throw err;
    }
    const id = block.streamId;
    if (this.role === 'server')
      this.#serverHeaders(id, block, decoded.names, decoded.values, decoded.oversized);
    else this.#clientHeaders(id, block, decoded.names, decoded.values, decoded.oversized);
  }

  #serverHeaders(
    id: number,
    block: HeaderBlock,
    names: string[],
    values: string[],
    oversized: boolean,
  ): void {
    const stream = this.#streams.get(id);
    if (stream !== undefined) {
      if (!remoteOpen(stream.state)) {
        this.#streamError(stream, ErrorCode.STREAM_CLOSED, 'HEADERS after END_STREAM (§5.1)');
        return;
      }
      // A second HEADERS on an open request stream carries trailers; it MUST end the
      // stream (§8.1).
      if (!block.endStream) {
        this.#streamError(stream, ErrorCode.PROTOCOL_ERROR, 'trailers without END_STREAM (§8.1)');
        return;
      }
      this.#trailers(stream, names, values, oversized);
      return;
    }
    // §5.1.1: clients open odd-numbered streams.
    if ((id & 1) === 0) {
      throw new Http2ConnectionError(
        ErrorCode.PROTOCOL_ERROR,
        `client opened even stream ${id} (§5.1.1)`,
      );
    }
    if (id <= this.#lastPeerStreamId) {
      this.#onFrameForUnknownStream(id, 'HEADERS');
      return;
    }
    this.#lastPeerStreamId = id;
    // After the final GOAWAY, new streams are ignored (§6.8) — their header block was
    // decoded above, which keeps HPACK in step.
    if (this.#goawaySent >= 0 && id > this.#goawaySent) {
      // §6.8: frames on streams above the last stream id we sent are ignored; remembering
      // the id as reset keeps its DATA/WINDOW_UPDATE from drawing RST_STREAM.
      this.#remember(id, 'reset-sent');
      return;
    }
    const created = this.#openPeerStream(id);
    if (block.selfDependent) {
      this.#streamError(created, ErrorCode.PROTOCOL_ERROR, 'stream depends on itself (§5.3.1)');
      return;
    }
    if (this.#peerActive > this.limits.maxConcurrentStreams) {
      // §5.1.2: streams beyond our MAX_CONCURRENT_STREAMS: PROTOCOL_ERROR or REFUSED_STREAM;
      // REFUSED_STREAM tells the client the request was not processed and may be retried.
      this.#streamError(
        created,
        ErrorCode.REFUSED_STREAM,
        'MAX_CONCURRENT_STREAMS exceeded (§5.1.2)',
      );
      return;
    }
    if (oversized) {
      // RFC 9113 §10.5.1: answer 431 to a field section larger than we accept.
      this.#apply(created, 'recv-headers');
      if (block.endStream) this.#apply(created, 'recv-end-stream');
      this.#handler.onRequestTooLarge?.(created);
      if (localOpen(created.state)) {
        this.sendHeaders(created, [':status', 'content-length'], ['431', '0'], true);
        // §8.1: a complete response before the request ended: RST_STREAM(NO_ERROR) tells
        // the client to stop sending the body.
        if (this.#streams.has(created.id)) this.resetStream(created, ErrorCode.NO_ERROR);
      }
      return;
    }
    const head = validateRequest(names, values, this.limits.enableConnectProtocol);
    if (typeof head === 'string') {
      this.#streamError(created, ErrorCode.PROTOCOL_ERROR, `malformed request: ${head}`);
      return;
    }
    created.expectedLength = head.contentLength;
    if (block.endStream && head.contentLength > 0) {
      this.#streamError(created, ErrorCode.PROTOCOL_ERROR, 'content-length without DATA (§8.1.1)');
      return;
    }
    const pending = this.#pendingPriorities.get(id);
    if (pending !== undefined) {
      this.#pendingPriorities.delete(id);
      parsePriority(pending, created);
    } else {
      for (let i = 0; i < head.names.length; i++) {
        if (head.names[i] === 'priority') parsePriority(head.values[i]!, created);
      }
    }
    this.#apply(created, 'recv-headers');
    if (block.endStream) this.#apply(created, 'recv-end-stream');
    this.#handler.onRequest?.(created, head, block.endStream);
  }

  #clientHeaders(
    id: number,
    block: HeaderBlock,
    names: string[],
    values: string[],
    oversized: boolean,
  ): void {
    const stream = this.#streams.get(id);
    if (stream === undefined) {
      // Servers open no streams (push is disabled): an even id is a PROTOCOL_ERROR.
      if ((id & 1) === 0) {
        throw new Http2ConnectionError(
          ErrorCode.PROTOCOL_ERROR,
          `server opened stream ${id} (§5.1.1, §8.4)`,
        );
      }
      this.#onFrameForUnknownStream(id, 'HEADERS');
      return;
    }
    if (!remoteOpen(stream.state)) {
      this.#streamError(stream, ErrorCode.STREAM_CLOSED, 'HEADERS after END_STREAM (§5.1)');
      return;
    }
    if (block.selfDependent) {
      this.#streamError(stream, ErrorCode.PROTOCOL_ERROR, 'stream depends on itself (§5.3.1)');
      return;
    }
    if (oversized) {
      this.#streamError(
        stream,
        ErrorCode.PROTOCOL_ERROR,
        'response header list exceeds maxHeaderListSize',
        'library',
      );
      return;
    }
    if (stream.finalHeadReceived) {
      if (!block.endStream) {
        this.#streamError(stream, ErrorCode.PROTOCOL_ERROR, 'trailers without END_STREAM (§8.1)');
        return;
      }
      this.#trailers(stream, names, values, false);
      return;
    }
    const head = validateResponse(names, values);
    if (typeof head === 'string') {
      this.#streamError(stream, ErrorCode.PROTOCOL_ERROR, `malformed response: ${head}`);
      return;
    }
    if (head.status < 200) {
      // §8.1: an informational response with END_STREAM is malformed; 101 is not allowed
      // in HTTP/2 (§8.6).
      if (block.endStream || head.status === 101) {
        this.#streamError(
          stream,
          ErrorCode.PROTOCOL_ERROR,
          `malformed ${head.status} response (§8.1, §8.6)`,
        );
        return;
      }
      this.#apply(stream, 'recv-headers');
      this.#handler.onResponse?.(stream, head, false);
      return;
    }
    stream.finalHeadReceived = true;
    stream.expectedLength = head.contentLength;
    this.#apply(stream, 'recv-headers');
    if (block.endStream) this.#apply(stream, 'recv-end-stream');
    this.#handler.onResponse?.(stream, head, block.endStream);
    if (stream.state === 'closed') this.#forget(stream, 'closed');
  }

  #trailers(stream: Http2Stream, names: string[], values: string[], oversized: boolean): void {
    if (oversized) {
      this.#streamError(
        stream,
        ErrorCode.PROTOCOL_ERROR,
        'trailer list exceeds maxHeaderListSize',
        'library',
      );
      return;
    }
    const t = validateTrailers(names, values);
    if (typeof t === 'string') {
      this.#streamError(stream, ErrorCode.PROTOCOL_ERROR, `malformed trailers: ${t}`);
      return;
    }
    if (stream.expectedLength >= 0 && stream.received !== stream.expectedLength) {
      this.#streamError(
        stream,
        ErrorCode.PROTOCOL_ERROR,
        'DATA length does not match content-length (§8.1.1)',
      );
      return;
    }
    this.#apply(stream, 'recv-headers');
    this.#apply(stream, 'recv-end-stream');
    this.#handler.onTrailers(stream, t.names, t.values);
    if (stream.state === 'closed') this.#forget(stream, 'closed');
  }

  /**
   * A frame for a stream we do not hold (§5.1): idle → connection error PROTOCOL_ERROR;
   * closed by our RST_STREAM → ignored; otherwise closed → stream error STREAM_CLOSED.
   */
  #onFrameForUnknownStream(id: number, what: string): void {
    if (this.#isIdle(id)) {
      throw new Http2ConnectionError(
        ErrorCode.PROTOCOL_ERROR,
        `${what} on idle stream ${id} (§5.1)`,
      );
    }
    const reason = this.#closed.get(id);
    if (reason === 'reset-sent') return;
    if (reason === undefined && what === 'HEADERS' && this.role === 'server') {
      // A new stream id below one already used (§5.1.1): PROTOCOL_ERROR.
      throw new Http2ConnectionError(
        ErrorCode.PROTOCOL_ERROR,
        `stream ${id} is lower than stream ${this.#lastPeerStreamId} already opened (§5.1.1)`,
      );
    }
    this.#queueRst(id, ErrorCode.STREAM_CLOSED);
    this.#remember(id, 'reset-sent');
  }

  #isIdle(id: number): boolean {
    const peerInitiated = this.role === 'server' ? (id & 1) === 1 : (id & 1) === 0;
    return peerInitiated ? id > this.#lastPeerStreamId : id >= this.#nextStreamId;
  }

  #onPriority(streamId: number, payload: Uint8Array): void {
    // §6.3: PRIORITY on stream 0 → PROTOCOL_ERROR; wrong length → FRAME_SIZE_ERROR (a
    // stream error).
    if (streamId === 0) {
      throw new Http2ConnectionError(ErrorCode.PROTOCOL_ERROR, 'PRIORITY on stream 0 (§6.3)');
    }
    if (!this.#controlBucket.take(this.#now)) {
      throw new Http2ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, 'PRIORITY frame flood');
    }
    if (payload.length !== 5) {
      this.#rstById(streamId, ErrorCode.FRAME_SIZE_ERROR, 'PRIORITY length is not 5 (§6.3)');
      return;
    }
    // §5.3.1: a stream cannot depend on itself.
    if (readUint31(payload, 0) === streamId) {
      this.#rstById(streamId, ErrorCode.PROTOCOL_ERROR, 'stream depends on itself (§5.3.1)');
    }
    // Otherwise RFC 7540 priorities are ignored (RFC 9113 §5.3.2; we send
    // SETTINGS_NO_RFC7540_PRIORITIES).
  }

  /**
   * A stream error found by a PRIORITY frame, which may name a stream in any state: an
   * open one is reset; an idle one cannot be (§6.4: RST_STREAM MUST NOT be sent on an idle
   * stream), so the error becomes a connection error; a closed one is ignored.
   */
  #rstById(id: number, code: number, message: string): void {
    const stream = this.#streams.get(id);
    if (stream !== undefined) {
      this.#streamError(stream, code, message);
    } else if (this.#isIdle(id)) {
      throw new Http2ConnectionError(code, message);
    }
  }

  #onRstStream(streamId: number, payload: Uint8Array): void {
    // §6.4: length other than 4 → FRAME_SIZE_ERROR; stream 0 or idle → PROTOCOL_ERROR.
    if (payload.length !== 4) {
      throw new Http2ConnectionError(
        ErrorCode.FRAME_SIZE_ERROR,
        'RST_STREAM length is not 4 (§6.4)',
      );
    }
    if (streamId === 0) {
      throw new Http2ConnectionError(ErrorCode.PROTOCOL_ERROR, 'RST_STREAM on stream 0 (§6.4)');
    }
    // CVE-2023-44487: resets are rate limited (nghttp2's burst and rate).
    if (!this.#resetBucket.take(this.#now)) {
      throw new Http2ConnectionError(
        ErrorCode.ENHANCE_YOUR_CALM,
        'stream reset flood (rapid reset)',
      );
    }
    const code = readUint32(payload, 0);
    const stream = this.#streams.get(streamId);
    if (stream === undefined) {
      if (this.#isIdle(streamId)) {
        throw new Http2ConnectionError(
          ErrorCode.PROTOCOL_ERROR,
          `RST_STREAM on idle stream ${streamId} (§6.4)`,
        );
      }
      return;
    }
    this.#apply(stream, 'recv-reset');
    this.#dropQueued(stream);
    this.#forget(stream, 'reset-received');
    this.#handler.onStreamReset(stream, code, 'remote');
  }

  #onSettings(flags: number, streamId: number, payload: Uint8Array): void {
    // §6.5: SETTINGS on a stream → PROTOCOL_ERROR; length not a multiple of 6, or an ACK
    // with a payload → FRAME_SIZE_ERROR.
    if (streamId !== 0) {
      throw new Http2ConnectionError(ErrorCode.PROTOCOL_ERROR, 'SETTINGS on a stream (§6.5)');
    }
    if ((flags & Flag.ACK) !== 0) {
      if (payload.length !== 0) {
        throw new Http2ConnectionError(
          ErrorCode.FRAME_SIZE_ERROR,
          'SETTINGS ACK with a payload (§6.5)',
        );
      }
      if (this.#settingsSentAt < 0) return;
      this.#settingsSentAt = -1;
      if (!this.#localSettingsAcked) {
        this.#localSettingsAcked = true;
        this.#decoder.setMaxTableSize(this.limits.headerTableSize);
      }
      return;
    }
    if (payload.length % 6 !== 0) {
      throw new Http2ConnectionError(
        ErrorCode.FRAME_SIZE_ERROR,
        'SETTINGS length not a multiple of 6 (§6.5)',
      );
    }
    if (this.#peerSettingsReceived && !this.#controlBucket.take(this.#now)) {
      throw new Http2ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, 'SETTINGS frame flood');
    }
    this.#applySettings(payload);
    this.#peerSettingsReceived = true;
    // §6.5.3: acknowledge at once.
    this.#writer.settingsAck(this.#out);
    this.#countControl();
    this.#handler.onSettings?.(this.peerSettings);
  }

  /** Applies a SETTINGS payload in order (§6.5.3), checking each value (§6.5.2). */
  #applySettings(payload: Uint8Array): void {
    if (payload.length % 6 !== 0) {
      throw new Http2ConnectionError(
        ErrorCode.PROTOCOL_ERROR,
        'SETTINGS payload length not a multiple of 6',
      );
    }
    const s = this.peerSettings;
    for (let p = 0; p < payload.length; p += 6) {
      const id = (payload[p]! << 8) | payload[p + 1]!;
      const value = readUint32(payload, p + 2);
      switch (id) {
        case SettingId.HEADER_TABLE_SIZE:
          s.headerTableSize = value;
          this.#encoder.setPeerMaxTableSize(value);
          break;
        case SettingId.ENABLE_PUSH:
          // §6.5.2: only 0 or 1; a server MUST NOT send 1.
          if (value > 1) {
            throw new Http2ConnectionError(
              ErrorCode.PROTOCOL_ERROR,
              'SETTINGS_ENABLE_PUSH not 0 or 1 (§6.5.2)',
            );
          }
          if (value === 1 && this.role === 'client') {
            throw new Http2ConnectionError(
              ErrorCode.PROTOCOL_ERROR,
              'server sent SETTINGS_ENABLE_PUSH 1 (§6.5.2)',
            );
          }
          s.enablePush = value === 1;
          break;
        case SettingId.MAX_CONCURRENT_STREAMS:
          s.maxConcurrentStreams = value;
          break;
        case SettingId.INITIAL_WINDOW_SIZE:
          // §6.5.2: above 2^31-1 → FLOW_CONTROL_ERROR.
          if (value > MAX_WINDOW_SIZE) {
            throw new Http2ConnectionError(
              ErrorCode.FLOW_CONTROL_ERROR,
              'SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1 (§6.5.2)',
            );
          }
          this.#applyInitialWindow(value);
          break;
        case SettingId.MAX_FRAME_SIZE:
          // §6.5.2: between 2^14 and 2^24-1.
          if (value < DEFAULT_MAX_FRAME_SIZE || value > 16777215) {
            throw new Http2ConnectionError(
              ErrorCode.PROTOCOL_ERROR,
              'SETTINGS_MAX_FRAME_SIZE out of range (§6.5.2)',
            );
          }
          s.maxFrameSize = value;
          break;
        case SettingId.MAX_HEADER_LIST_SIZE:
          s.maxHeaderListSize = value;
          break;
        case SettingId.ENABLE_CONNECT_PROTOCOL:
          // RFC 8441 §3: 0 or 1, and never back to 0 once 1.
          if (value > 1 || (s.enableConnectProtocol && value === 0 && this.#peerSettingsReceived)) {
            throw new Http2ConnectionError(
              ErrorCode.PROTOCOL_ERROR,
              'invalid SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441 §3)',
            );
          }
          s.enableConnectProtocol = value === 1;
          break;
        case SettingId.NO_RFC7540_PRIORITIES:
          // RFC 9218 §2.1: 0 or 1, and it MUST NOT change after the first SETTINGS.
          if (
            value > 1 ||
            (this.#peerSettingsReceived && s.noRfc7540Priorities !== (value === 1))
          ) {
            throw new Http2ConnectionError(
              ErrorCode.PROTOCOL_ERROR,
              'invalid SETTINGS_NO_RFC7540_PRIORITIES (RFC 9218 §2.1)',
            );
          }
          s.noRfc7540Priorities = value === 1;
          break;
        default:
          // §6.5.2: unknown settings MUST be ignored.
          break;
      }
    }
  }

  /** §6.9.2: a new SETTINGS_INITIAL_WINDOW_SIZE changes every open stream's send window. */
  #applyInitialWindow(value: number): void {
    const delta = value - this.peerSettings.initialWindowSize;
    this.peerSettings.initialWindowSize = value;
    if (delta === 0) return;
    for (const stream of this.#streams.values()) {
      const next = stream.sendWindow + delta;
      if (next > MAX_WINDOW_SIZE) {
        throw new Http2ConnectionError(
          ErrorCode.FLOW_CONTROL_ERROR,
          'SETTINGS_INITIAL_WINDOW_SIZE change overflows a stream window (§6.9.2)',
        );
      }
      stream.sendWindow = next;
      // Only streams with body bytes waiting: one that already sent END_STREAM (outEnd
      // still set) must not be scheduled again, or it would send a second END_STREAM.
      if (delta > 0 && stream.outBytes > 0) this.#markReady(stream);
    }
  }

  #onPing(flags: number, streamId: number, payload: Uint8Array): void {
    // §6.7: PING on a stream → PROTOCOL_ERROR; length other than 8 → FRAME_SIZE_ERROR.
    if (streamId !== 0) {
      throw new Http2ConnectionError(ErrorCode.PROTOCOL_ERROR, 'PING on a stream (§6.7)');
    }
    if (payload.length !== 8) {
      throw new Http2ConnectionError(ErrorCode.FRAME_SIZE_ERROR, 'PING length is not 8 (§6.7)');
    }
    if ((flags & Flag.ACK) !== 0) {
      if (this.#shutdownPingAt >= 0 && equal8(payload, SHUTDOWN_PING)) {
        this.#finalGoaway();
        return;
      }
      this.#handler.onPingAck?.(payload);
      return;
    }
    if (!this.#controlBucket.take(this.#now)) {
      throw new Http2ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, 'PING frame flood');
    }
    // §6.7: receivers of a PING without ACK MUST send one with ACK and the same payload.
    this.#writer.ping(this.#out, payload, true);
    this.#countControl();
  }

  #onGoaway(streamId: number, payload: Uint8Array): void {
    // §6.8: GOAWAY on a stream → PROTOCOL_ERROR.
    if (streamId !== 0) {
      throw new Http2ConnectionError(ErrorCode.PROTOCOL_ERROR, 'GOAWAY on a stream (§6.8)');
    }
    if (payload.length < 8) {
      throw new Http2ConnectionError(
        ErrorCode.FRAME_SIZE_ERROR,
        'GOAWAY shorter than 8 octets (§6.8)',
      );
    }
    const last = readUint31(payload, 0);
    const code = readUint32(payload, 4);
    const debug = payload.subarray(8);
    this.#goawayReceived = last;
    // Streams we opened above `last` were not processed: the caller may retry them.
    const unprocessed: Http2Stream[] = [];
    for (const stream of this.#streams.values()) {
      const ours = this.role === 'client' ? (stream.id & 1) === 1 : (stream.id & 1) === 0;
      if (ours && stream.id > last) unprocessed.push(stream);
    }
    for (const stream of unprocessed) {
      stream.state = 'closed';
      this.#dropQueued(stream);
      this.#forget(stream, 'reset-received');
      this.#handler.onStreamReset(stream, ErrorCode.REFUSED_STREAM, 'goaway');
    }
    this.#handler.onGoaway?.(last, code, debug);
  }

  #onWindowUpdate(streamId: number, payload: Uint8Array): void {
    // §6.9: length other than 4 → FRAME_SIZE_ERROR (connection error).
    if (payload.length !== 4) {
      throw new Http2ConnectionError(
        ErrorCode.FRAME_SIZE_ERROR,
        'WINDOW_UPDATE length is not 4 (§6.9)',
      );
    }
    const increment = readUint31(payload, 0);
    if (streamId === 0) {
      // §6.9: an increment of 0 → PROTOCOL_ERROR; §6.9.1: beyond 2^31-1 → FLOW_CONTROL_ERROR.
      if (increment === 0) {
        throw new Http2ConnectionError(
          ErrorCode.PROTOCOL_ERROR,
          'WINDOW_UPDATE increment 0 (§6.9)',
        );
      }
      // An update is useful when something waits for window; useless ones are rate limited.
      const wasBlocked = this.#ready.length > 0;
      if (this.#connSendWindow + increment > MAX_WINDOW_SIZE) {
        throw new Http2ConnectionError(
          ErrorCode.FLOW_CONTROL_ERROR,
          'connection flow-control window above 2^31-1 (§6.9.1)',
        );
      }
      this.#connSendWindow += increment;
      if (!wasBlocked && !this.#controlBucket.take(this.#now)) {
        throw new Http2ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, 'WINDOW_UPDATE flood');
      }
      return;
    }
    const stream = this.#streams.get(streamId);
    if (stream === undefined) {
      if (this.#isIdle(streamId)) {
        throw new Http2ConnectionError(
          ErrorCode.PROTOCOL_ERROR,
          `WINDOW_UPDATE on idle stream ${streamId} (§5.1)`,
        );
      }
      // §5.1: WINDOW_UPDATE may arrive on a stream that just closed; ignored.
      return;
    }
    if (increment === 0) {
      this.#streamError(stream, ErrorCode.PROTOCOL_ERROR, 'WINDOW_UPDATE increment 0 (§6.9)');
      return;
    }
    if (stream.sendWindow + increment > MAX_WINDOW_SIZE) {
      this.#streamError(
        stream,
        ErrorCode.FLOW_CONTROL_ERROR,
        'stream flow-control window above 2^31-1 (§6.9.1)',
      );
      return;
    }
    const wasBlocked = stream.sendWindow <= 0 && stream.outBytes > 0;
    stream.sendWindow += increment;
    if (wasBlocked) this.#markReady(stream);
    else if (stream.outBytes === 0 && !this.#controlBucket.take(this.#now)) {
      throw new Http2ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, 'WINDOW_UPDATE flood');
    }
  }

  #onPriorityUpdate(streamId: number, payload: Uint8Array): void {
    // RFC 9218 §7.1: only on stream 0; only clients send it; prioritized id 0 is an error.
    if (streamId !== 0) {
      throw new Http2ConnectionError(
        ErrorCode.PROTOCOL_ERROR,
        'PRIORITY_UPDATE on a stream (RFC 9218 §7.1)',
      );
    }
    if (this.role === 'client') {
      throw new Http2ConnectionError(
        ErrorCode.PROTOCOL_ERROR,
        'PRIORITY_UPDATE from a server (RFC 9218 §7.1)',
      );
    }
    if (payload.length < 4) {
      throw new Http2ConnectionError(
        ErrorCode.FRAME_SIZE_ERROR,
        'PRIORITY_UPDATE shorter than 4 octets',
      );
    }
    if (!this.#controlBucket.take(this.#now)) {
      throw new Http2ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, 'PRIORITY_UPDATE flood');
    }
    const id = readUint31(payload, 0);
    if (id === 0) {
      throw new Http2ConnectionError(
        ErrorCode.PROTOCOL_ERROR,
        'PRIORITY_UPDATE for stream 0 (RFC 9218 §7.1)',
      );
    }
    const value = Buffer.from(payload.buffer, payload.byteOffset + 4, payload.length - 4).toString(
      'latin1',
    );
    const stream = this.#streams.get(id);
    if (stream !== undefined) {
      parsePriority(value, stream);
      return;
    }
    if (this.#isIdle(id) && this.#pendingPriorities.size < this.limits.maxPendingPriorityUpdates) {
      // §7.1: kept for a stream that is not open yet (bounded).
      this.#pendingPriorities.set(id, value);
    }
  }

  // ---------------------------------------------------------------- intents

  /**
   * Client: opens a stream with a request head. `names` are lowercase, pseudo-headers
   * first. Throws Http2ConnectionError(REFUSED_STREAM) when `canOpenStream` is false.
   */
  request(names: string[], values: string[], endStream: boolean): Http2Stream {
    if (this.role !== 'client' || !this.canOpenStream) {
      throw new Http2ConnectionError(
        ErrorCode.REFUSED_STREAM,
        this.#nextStreamId > MAX_STREAM_ID
          ? 'stream ids exhausted (§5.1.1)'
          : 'cannot open a stream now',
        'local',
      );
    }
    const id = this.#nextStreamId;
    this.#nextStreamId += 2;
    const stream = new Http2Stream(id, this.peerSettings.initialWindowSize, this.#localWindow());
    this.#streams.set(id, stream);
    this.#localActive++;
    this.sendHeaders(stream, names, values, endStream);
    return stream;
  }

  /** Sends a header block (a response head, a 1xx, or a request head) on `stream`. */
  sendHeaders(stream: Http2Stream, names: string[], values: string[], endStream: boolean): void {
    if (this.#phase === Phase.Dead || !this.#canSend(stream)) return;
    this.#apply(stream, 'send-headers');
    if (this.role === 'server' && names[0] === ':status' && values[0]!.charCodeAt(0) !== 0x31) {
      stream.finalHeadSent = true;
    }
    this.#writeHeaderBlock(stream.id, names, values, endStream);
    if (endStream) this.#finishLocal(stream);
  }

  /**
   * Client, h2c Upgrade (RFC 7540 §3.2): the HTTP/1.1 request that carried the Upgrade
   * becomes stream 1, half-closed (local); its response arrives on it. Call right after
   * construction, once the server answered 101.
   */
  adoptUpgradedRequest(): Http2Stream {
    if (this.role !== 'client' || this.#nextStreamId !== 1) {
      throw new Http2ConnectionError(ErrorCode.INTERNAL_ERROR, 'stream 1 is taken', 'local');
    }
    this.#nextStreamId = 3;
    const stream = new Http2Stream(1, this.peerSettings.initialWindowSize, this.#localWindow());
    stream.state = 'half-closed-local';
    this.#streams.set(1, stream);
    this.#localActive++;
    return stream;
  }

  /**
   * Server, h2c Upgrade (RFC 7540 §3.2): applies the client's HTTP2-Settings payload (a
   * SETTINGS payload, not acknowledged) and opens stream 1 half-closed (remote) for the
   * request that carried the Upgrade.
   */
  adoptUpgradeStream(settings: Uint8Array): Http2Stream {
    if (this.role !== 'server' || this.#lastPeerStreamId !== 0) {
      throw new Http2ConnectionError(ErrorCode.INTERNAL_ERROR, 'stream 1 is taken', 'local');
    }
    this.#applySettings(settings);
    this.#lastPeerStreamId = 1;
    const stream = this.#openPeerStream(1);
    stream.state = 'half-closed-remote';
    return stream;
  }

  /**
   * Queues body bytes. Returns false once the stream holds `streamHighWaterMark` bytes the
   * peer's window has not let out; `onStreamWritable` follows. The chunk is not copied:
   * do not modify it afterwards.
   */
  sendData(stream: Http2Stream, chunk: Uint8Array, endStream: boolean): boolean {
    if (this.#phase === Phase.Dead || !this.#canSend(stream) || stream.outEnd) return false;
    if (chunk.length > 0) {
      stream.outQueue.push(chunk);
      stream.outBytes += chunk.length;
    }
    if (endStream) stream.outEnd = true;
    this.#markReady(stream);
    if (stream.outBytes >= this.limits.streamHighWaterMark) {
      stream.needDrain = true;
      return false;
    }
    return true;
  }

  /** Ends the stream with a trailer block, after any queued body bytes. */
  sendTrailers(stream: Http2Stream, names: string[], values: string[]): void {
    if (this.#phase === Phase.Dead || !this.#canSend(stream) || stream.outEnd) return;
    stream.outTrailers = [names, values];
    stream.outEnd = true;
    this.#markReady(stream);
  }

  /** Bytes queued on `stream` waiting for flow-control window. */
  bufferedAmount(stream: Http2Stream): number {
    return stream.outBytes;
  }

  /** Resets `stream` (RST_STREAM with `code`), dropping what it had queued. */
  resetStream(stream: Http2Stream, code: number = ErrorCode.CANCEL): void {
    if (stream.state === 'closed' || this.#phase === Phase.Dead) return;
    this.#apply(stream, 'send-reset');
    this.#dropQueued(stream);
    this.#queueRst(stream.id, code);
    this.#forget(stream, 'reset-sent');
  }

  /**
   * The application consumed `n` body bytes of `stream`: return them to the peer's
   * windows. WINDOW_UPDATE goes out once half a window is owed, so a steady reader costs
   * two updates per window, not one per DATA frame.
   */
  consume(stream: Http2Stream, n: number): void {
    if (n <= 0 || this.#phase === Phase.Dead) return;
    this.#releaseConnection(n);
    if (!remoteOpen(stream.state) || !this.#streams.has(stream.id)) return;
    stream.recvUnacked += n;
    if (stream.recvUnacked >= this.limits.initialWindowSize >>> 1) {
      stream.recvWindow += stream.recvUnacked;
      this.#writer.windowUpdate(this.#out, stream.id, stream.recvUnacked);
      stream.recvUnacked = 0;
    }
  }

  /** Sends PING with an 8-octet payload (RTT measurement, liveness). */
  ping(payload: Uint8Array): void {
    if (this.#phase === Phase.Dead) return;
    this.#writer.ping(this.#out, payload, false);
  }

  /**
   * Graceful shutdown (§6.8): GOAWAY with 2^31-1 and a PING; when its ACK returns (or after
   * a second) the final GOAWAY names the last stream we will process. Streams already
   * open finish; the binding closes once `streamCount` is 0.
   */
  shutdown(now: number): void {
    if (this.#phase === Phase.Dead || this.#goawaySent >= 0) return;
    this.#now = now;
    if (this.role === 'client') {
      this.#sendGoaway(this.#lastPeerStreamId, ErrorCode.NO_ERROR, EMPTY);
      return;
    }
    this.#sendGoaway(MAX_STREAM_ID, ErrorCode.NO_ERROR, EMPTY);
    this.#writer.ping(this.#out, SHUTDOWN_PING, false);
    this.#shutdownPingAt = now;
  }

  /**
   * GOAWAY now. NO_ERROR: no new streams, open ones finish. Any other code is a
   * connection error we raise: every stream is reset and nothing more is read.
   */
  goaway(code: number = ErrorCode.NO_ERROR, message = ''): void {
    if (this.#phase === Phase.Dead) return;
    if (code !== ErrorCode.NO_ERROR) {
      this.#fail(new Http2ConnectionError(code, message, 'local'));
      return;
    }
    this.#shutdownPingAt = -1;
    this.#sendGoaway(this.#lastPeerStreamId, code, Buffer.from(message, 'utf8').subarray(0, 256));
  }

  // ---------------------------------------------------------------- time

  /** The next time `handleTimeout` must run, or undefined. */
  nextDeadline(): number | undefined {
    let d: number | undefined;
    if (this.#settingsSentAt >= 0) d = this.#settingsSentAt + this.limits.settingsTimeoutMs;
    if (this.#shutdownPingAt >= 0) {
      const s = this.#shutdownPingAt + SHUTDOWN_PING_TIMEOUT_MS;
      if (d === undefined || s < d) d = s;
    }
    return d;
  }

  handleTimeout(now: number): void {
    if (this.#phase === Phase.Dead) return;
    this.#now = now;
    if (this.#shutdownPingAt >= 0 && now >= this.#shutdownPingAt + SHUTDOWN_PING_TIMEOUT_MS) {
      this.#finalGoaway();
    }
    if (this.#settingsSentAt >= 0 && now >= this.#settingsSentAt + this.limits.settingsTimeoutMs) {
      // §6.5.3: no ACK in time → connection error SETTINGS_TIMEOUT.
      this.#fail(
        new Http2ConnectionError(ErrorCode.SETTINGS_TIMEOUT, 'no SETTINGS ACK (§6.5.3)', 'library'),
      );
    }
  }

  // ---------------------------------------------------------------- output

  /**
   * Everything to write, in order, for one `writev`. Runs the DATA scheduler: each ready
   * stream sends what its window and the connection window allow, most urgent first
   * (RFC 9218: lower urgency first; non-incremental streams one after another by id,
   * incremental ones round-robin a frame at a time).
   */
  takeOutput(): Uint8Array[] {
    if (this.#ready.length > 0 && this.#phase !== Phase.Dead) {
      // DESIGN §2: no exception leaves the core; a scheduler fault is a connection error.
      try {
        this.#schedule();
      } catch (err) {
        this.#fail(err);
      }
    }
    this.#writer.take(this.#out);
    const out = this.#out;
    this.#out = [];
    this.#outControl = 0;
    this.#fireDeferred();
    return out;
  }

  #schedule(): void {
    const ready = this.#ready;
    if (ready.length > 1) ready.sort(byPriority);
    const maxFrame = this.peerSettings.maxFrameSize;
    let i = 0;
    while (i < ready.length) {
      const urgency = ready[i]!.urgency;
      let j = i;
      while (j < ready.length && ready[j]!.urgency === urgency) j++;
      // Non-incremental streams of this urgency, in id order, each as far as it can go.
      for (let k = i; k < j; k++) {
        const s = ready[k]!;
        if (!s.incremental) this.#drain(s, Number.POSITIVE_INFINITY, maxFrame);
      }
      // Incremental ones share: one frame each per round.
      let progress = true;
      while (progress) {
        progress = false;
        for (let k = i; k < j; k++) {
          const s = ready[k]!;
          if (s.incremental && s.queued && this.#drain(s, 1, maxFrame)) progress = true;
        }
      }
      i = j;
    }
    this.#ready = ready.filter((s) => s.queued);
  }

  /**
   * Sends up to `frames` DATA frames of `stream`. Returns true when it sent something and
   * may send more. Clears `queued` once the stream has nothing sendable.
   */
  #drain(stream: Http2Stream, frames: number, maxFrame: number): boolean {
    let sent = false;
    while (frames-- > 0) {
      if (stream.outBytes > 0) {
        const n = Math.min(stream.outBytes, stream.sendWindow, this.#connSendWindow, maxFrame);
        if (n <= 0) {
          // Blocked on flow control; a WINDOW_UPDATE or SETTINGS re-queues the stream.
          // Blocked by the connection window only: stay in the ready list. Blocked by the
          // stream window: a WINDOW_UPDATE on the stream re-queues it.
          stream.queued = this.#connSendWindow <= 0 && stream.sendWindow > 0;
          return false;
        }
        const last = n === stream.outBytes;
        const end = last && stream.outEnd && stream.outTrailers === undefined;
        this.#writeData(stream, n, end);
        sent = true;
        if (stream.needDrain && stream.outBytes < this.limits.streamHighWaterMark) {
          stream.needDrain = false;
          this.#writable.push(stream);
        }
        if (end) {
          this.#finishLocal(stream);
          return false;
        }
        if (!last) continue;
      }
      // Queue empty.
      if (stream.outTrailers !== undefined) {
        const [names, values] = stream.outTrailers;
        stream.outTrailers = undefined;
        this.#writeHeaderBlock(stream.id, names, values, true);
        this.#finishLocal(stream);
        return false;
      }
      if (stream.outEnd && !sent) {
        this.#writer.header(this.#out, 0, FrameType.DATA, Flag.END_STREAM, stream.id);
        this.#finishLocal(stream);
        return false;
      }
      stream.queued = false;
      return sent;
    }
    return sent;
  }

  #writeData(stream: Http2Stream, n: number, end: boolean): void {
    const flags = end ? Flag.END_STREAM : 0;
    stream.sendWindow -= n;
    this.#connSendWindow -= n;
    stream.outBytes -= n;
    const q = stream.outQueue;
    const first = q[0]!;
    const avail = first.length - stream.outOffset;
    if (n <= avail) {
      const slice =
        stream.outOffset === 0 && n === first.length
          ? first
          : first.subarray(stream.outOffset, stream.outOffset + n);
      if (n === avail) {
        q.shift();
        stream.outOffset = 0;
      } else {
        stream.outOffset += n;
      }
      if (n < COPY_DATA_BELOW) {
        this.#writer.frame(this.#out, FrameType.DATA, flags, stream.id, slice);
      } else {
        this.#writer.header(this.#out, n, FrameType.DATA, flags, stream.id);
        this.#writer.take(this.#out);
        this.#out.push(slice);
      }
      return;
    }
    // The frame spans several queued chunks.
    this.#writer.header(this.#out, n, FrameType.DATA, flags, stream.id);
    this.#writer.take(this.#out);
    let left = n;
    while (left > 0) {
      const c = q[0]!;
      const have = c.length - stream.outOffset;
      if (have <= left) {
        this.#out.push(stream.outOffset === 0 ? c : c.subarray(stream.outOffset));
        q.shift();
        stream.outOffset = 0;
        left -= have;
      } else {
        this.#out.push(c.subarray(stream.outOffset, stream.outOffset + left));
        stream.outOffset += left;
        left = 0;
      }
    }
  }

  #finishLocal(stream: Http2Stream): void {
    stream.queued = false;
    this.#apply(stream, 'send-end-stream');
    if (stream.state === 'closed') this.#forget(stream, 'closed');
    else if (stream.resetWhenSent) this.resetStream(stream, ErrorCode.NO_ERROR);
  }

  #fireDeferred(): void {
    if (this.#inCallback) return;
    this.#inCallback = true;
    try {
      while (this.#writable.length > 0 || this.#closing.length > 0) {
        const w = this.#writable;
        this.#writable = [];
        for (const s of w) if (this.#streams.has(s.id)) this.#handler.onStreamWritable?.(s);
        const c = this.#closing;
        this.#closing = [];
        for (const s of c) this.#handler.onStreamClose?.(s);
      }
    } finally {
      this.#inCallback = false;
    }
  }

  #readyToSend(): boolean {
    for (const s of this.#ready) {
      if (s.outBytes === 0 || (s.sendWindow > 0 && this.#connSendWindow > 0)) return true;
    }
    return false;
  }

  // ---------------------------------------------------------------- helpers

  #sendInitialSettings(): void {
    const l = this.limits;
    this.#writer.settings(this.#out, initialSettings(l, this.role));
    this.#settingsSentAt = this.#now;
    if (l.connectionWindowSize > DEFAULT_WINDOW_SIZE) {
      const inc = l.connectionWindowSize - DEFAULT_WINDOW_SIZE;
      this.#writer.windowUpdate(this.#out, 0, inc);
      this.#connRecvWindow += inc;
    }
  }

  /** The receive window a new stream starts with. */
  #localWindow(): number {
    // Until the peer acknowledged our SETTINGS it may still use the default window.
    return this.#localSettingsAcked
      ? this.limits.initialWindowSize
      : Math.max(this.limits.initialWindowSize, DEFAULT_WINDOW_SIZE);
  }

  #openPeerStream(id: number): Http2Stream {
    const stream = new Http2Stream(id, this.peerSettings.initialWindowSize, this.#localWindow());
    this.#streams.set(id, stream);
    this.#peerActive++;
    return stream;
  }

  #canSend(stream: Http2Stream): boolean {
    return stream.state === 'idle' || localOpen(stream.state);
  }

  #apply(stream: Http2Stream, input: StreamInput): void {
    const next = transition(stream.state, input);
    if (next === undefined) {
      throw new Http2ConnectionError(
        ErrorCode.INTERNAL_ERROR,
        `stream ${stream.id}: ${input} not allowed in state ${stream.state}`,
        'library',
      );
    }
    stream.state = next;
  }

  #markReady(stream: Http2Stream): void {
    if (stream.queued) return;
    stream.queued = true;
    this.#ready.push(stream);
  }

  #dropQueued(stream: Http2Stream): void {
    stream.outQueue = [];
    stream.outBytes = 0;
    stream.outOffset = 0;
    stream.outTrailers = undefined;
    stream.queued = false;
    const i = this.#ready.indexOf(stream);
    if (i >= 0) this.#ready.splice(i, 1);
  }

  #writeHeaderBlock(streamId: number, names: string[], values: string[], endStream: boolean): void {
    const block = this.#encoder.encode(names, values);
    const max = this.peerSettings.maxFrameSize;
    const es = endStream ? Flag.END_STREAM : 0;
    if (block.length <= max) {
      this.#writer.frame(this.#out, FrameType.HEADERS, es | Flag.END_HEADERS, streamId, block);
      return;
    }
    // §4.3: a block larger than a frame continues in CONTINUATION frames, back to back.
    this.#writer.frame(this.#out, FrameType.HEADERS, es, streamId, block.subarray(0, max));
    for (let p = max; p < block.length; p += max) {
      const last = p + max >= block.length;
      this.#writer.frame(
        this.#out,
        FrameType.CONTINUATION,
        last ? Flag.END_HEADERS : 0,
        streamId,
        block.subarray(p, Math.min(p + max, block.length)),
      );
    }
  }

  #queueRst(id: number, code: number): void {
    this.#writer.rstStream(this.#out, id, code);
    this.#countControl();
  }

  #countControl(): void {
    // Outbound control frames that a peer can make us queue without reading: bounded.
    if (++this.#outControl > this.limits.maxQueuedControlFrames) {
      throw new Http2ConnectionError(
        ErrorCode.ENHANCE_YOUR_CALM,
        'too many queued control frames (the peer does not read its answers)',
      );
    }
  }

  #releaseConnection(n: number): void {
    this.#connRecvUnacked += n;
    if (this.#connRecvUnacked >= this.limits.connectionWindowSize >>> 1) {
      this.#connRecvWindow += this.#connRecvUnacked;
      this.#writer.windowUpdate(this.#out, 0, this.#connRecvUnacked);
      this.#connRecvUnacked = 0;
    }
  }

  #streamError(
    stream: Http2Stream,
    code: number,
    message: string,
    initiator: 'remote' | 'library' = 'remote',
  ): void {
    // CVE-2025-8671 ("MadeYouReset"): resets the peer provokes with invalid frames cost us
    // what its own RST_STREAMs cost, so they draw on the same rapid-reset allowance.
    if (initiator === 'remote' && !this.#resetBucket.take(this.#now)) {
      throw new Http2ConnectionError(
        ErrorCode.ENHANCE_YOUR_CALM,
        'stream errors provoked too fast (MadeYouReset)',
      );
    }
    if (stream.state !== 'closed') {
      stream.state = 'closed';
      this.#dropQueued(stream);
      this.#queueRst(stream.id, code);
    }
    this.#forget(stream, 'reset-sent');
    this.#handler.onStreamReset(
      stream,
      code,
      'local',
      new Http2StreamError(stream.id, code, message, initiator),
    );
  }

  /** Removes a closed stream and remembers how it closed (§5.1 closed-state rules). */
  #forget(stream: Http2Stream, reason: ClosedReason): void {
    if (!this.#streams.delete(stream.id)) return;
    stream.state = 'closed';
    const peerInitiated = this.role === 'server' ? (stream.id & 1) === 1 : (stream.id & 1) === 0;
    if (peerInitiated) this.#peerActive--;
    else this.#localActive--;
    this.#remember(stream.id, reason);
    // Reported from takeOutput, after the frames that closed it are queued.
    this.#closing.push(stream);
  }

  #remember(id: number, reason: ClosedReason): void {
    const memory = this.limits.closedStreamMemory;
    if (memory === 0) return;
    this.#closed.set(id, reason);
    if (this.#closed.size > memory) {
      const oldest = this.#closed.keys().next().value as number;
      this.#closed.delete(oldest);
    }
  }

  #sendGoaway(last: number, code: number, debug: Uint8Array): void {
    // §6.8: "Endpoints MUST NOT increase the value they send in the last stream identifier".
    if (this.#goawaySent >= 0 && last > this.#goawaySent) last = this.#goawaySent;
    this.#goawaySent = last;
    this.#writer.goaway(this.#out, last, code, debug);
  }

  #finalGoaway(): void {
    this.#shutdownPingAt = -1;
    this.#sendGoaway(this.#lastPeerStreamId, ErrorCode.NO_ERROR, EMPTY);
  }

  /** A connection error: GOAWAY with its code, then nothing more is read. */
  #fail(err: unknown): void {
    if (this.#phase === Phase.Dead) return;
    const e =
      err instanceof Http2ConnectionError
        ? err
        : new Http2ConnectionError(
            ErrorCode.INTERNAL_ERROR,
            `internal error: ${err instanceof Error ? err.message : String(err)}`,
            'library',
          );
    this.#phase = Phase.Dead;
    this.#error = e;
    this.#block = undefined;
    this.#pending = [];
    this.#pendingBytes = 0;
    const debug = Buffer.from(e.message, 'utf8').subarray(0, 256);
    // §6.8: never above a last stream id already sent (streams past it were ignored).
    const last =
      this.#goawaySent >= 0
        ? Math.min(this.#goawaySent, this.#lastPeerStreamId)
        : this.#lastPeerStreamId;
    this.#writer.goaway(this.#out, last, e.wireCode, debug);
    this.#goawaySent = last;
    const streams = [...this.#streams.values()];
    this.#streams.clear();
    this.#ready = [];
    for (const s of streams) {
      s.state = 'closed';
      this.#handler.onStreamReset(s, e.wireCode, 'local', e);
    }
    this.#handler.onConnectionError(e);
  }
}

/** The SETTINGS we send first (§3.4), from our limits. */
export function initialSettings(l: Http2Limits, role: Http2Role): [number, number][] {
  const pairs: [number, number][] = [
    [SettingId.MAX_CONCURRENT_STREAMS, l.maxConcurrentStreams],
    [SettingId.INITIAL_WINDOW_SIZE, l.initialWindowSize],
    [SettingId.MAX_HEADER_LIST_SIZE, l.maxHeaderListSize],
    [SettingId.NO_RFC7540_PRIORITIES, 1],
  ];
  if (l.headerTableSize !== 4096) pairs.push([SettingId.HEADER_TABLE_SIZE, l.headerTableSize]);
  if (l.maxFrameSize !== DEFAULT_MAX_FRAME_SIZE) {
    pairs.push([SettingId.MAX_FRAME_SIZE, l.maxFrameSize]);
  }
  if (role === 'client') pairs.unshift([SettingId.ENABLE_PUSH, 0]);
  else if (l.enableConnectProtocol) pairs.push([SettingId.ENABLE_CONNECT_PROTOCOL, 1]);
  return pairs;
}

/** A SETTINGS payload (§6.5.1): what the HTTP2-Settings header carries (RFC 7540 §3.2.1). */
export function settingsPayload(pairs: readonly (readonly [number, number])[]): Uint8Array {
  const out = new Uint8Array(pairs.length * 6);
  pairs.forEach(([id, value], i) => {
    const view = new DataView(out.buffer, i * 6, 6);
    view.setUint16(0, id);
    view.setUint32(2, value);
  });
  return out;
}

function byPriority(a: Http2Stream, b: Http2Stream): number {
  return a.urgency - b.urgency || a.id - b.id;
}

function equal8(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < 8; i++) if (a[i] !== b[i]) return false;
  return true;
}
