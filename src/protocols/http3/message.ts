/**
 * Reading one HTTP message from a request stream (RFC 9114 §4.1): HEADERS, then DATA
 * frames, then optionally a trailer HEADERS. Anything else in the wrong place is
 * H3_FRAME_UNEXPECTED (§4.1, §7.2); unknown frame types are skipped by the frame reader.
 *
 * Field sections are decoded through QPACK; a section that references dynamic-table
 * entries not received yet is blocked (RFC 9204 §2.1.2): the stream is paused and the
 * reader resumes when the session reports the stream unblocked.
 */
import type { QuicStream } from '../../transport/quic.js';
import { FrameType, H3ErrorCode } from './codes.js';
import { Http3ConnectionError, Http3StreamError } from './errors.js';
import { FrameReader } from './frames.js';
import type { FieldLine, QpackDecoder } from './qpack/index.js';
import { FieldSectionTooLargeError } from './qpack/index.js';

export interface MessageHandler {
  /** A complete header section (first, or an interim 1xx on a client). */
  onHeaders(fields: FieldLine[]): void;
  /** Body bytes. Return false to pause the stream until `resume()`. */
  onData(chunk: Uint8Array): boolean;
  /** The trailer section. */
  onTrailers(fields: FieldLine[]): void;
  /** The stream ended cleanly after a complete message. */
  onEnd(): void;
  /** The header section is larger than our SETTINGS_MAX_FIELD_SECTION_SIZE. */
  onFieldsTooLarge(): void;
  /** A message-level violation (H3_MESSAGE_ERROR, H3_FRAME_UNEXPECTED, …) on this stream. */
  onStreamError(err: Http3StreamError): void;
  /** A violation that ends the connection (QPACK failure, frame encoding errors). */
  onConnectionError(err: Http3ConnectionError | Error): void;
  /** Keeps reading HEADERS after a 1xx: set by clients (and only clients). */
  readonly interimAllowed?: boolean;
}

export class MessageReader {
  readonly stream: QuicStream;
  readonly #decoder: QpackDecoder;
  readonly #handler: MessageHandler;
  readonly #flushDecoder: () => void;
  readonly #reader: FrameReader;
  /** 'headers' until the (final) header section, 'body' until trailers, then 'done'. */
  #state: 'headers' | 'body' | 'done' = 'headers';
  #blocked = false;
  #blockedIsTrailer = false;
  #ended = false;
  #failed = false;
  #dataPaused = false;

  constructor(
    stream: QuicStream,
    decoder: QpackDecoder,
    handler: MessageHandler,
    flushDecoder: () => void,
    maxFramePayload: number,
    initial?: Uint8Array,
  ) {
    this.stream = stream;
    this.#decoder = decoder;
    this.#handler = handler;
    this.#flushDecoder = flushDecoder;
    this.#reader = new FrameReader({ maxFramePayload });
    stream.on('data', (chunk) => {
      if (this.#failed) return;
      this.#reader.push(chunk);
      this.#drain();
    });
    stream.on('end', () => {
      this.#ended = true;
      this.#drain();
    });
    if (initial !== undefined && initial.length > 0) {
      this.#reader.push(initial);
      queueMicrotask(() => this.#drain());
    }
  }

  get blocked(): boolean {
    return this.#blocked;
  }

  /** The message was read to its end (onEnd was called), or reading failed or was cancelled. */
  get settled(): boolean {
    return this.#failed || this.#state === 'done';
  }

  /** The session says this stream's blocked section can be decoded now. */
  unblock(): void {
    if (!this.#blocked || this.#failed) return;
    let fields: FieldLine[];
    try {
      fields = this.#decoder.resume(this.stream.streamId);
      this.#flushDecoder();
    } catch (err) {
      this.#fieldError(err);
      return;
    }
    this.#blocked = false;
    this.#deliver(fields, this.#blockedIsTrailer);
    if (!this.#dataPaused) this.stream.resume();
    this.#drain();
  }

  /** The consumer wants more body. */
  resume(): void {
    if (!this.#dataPaused) return;
    this.#dataPaused = false;
    if (!this.#blocked) this.stream.resume();
    this.#drain();
  }

  /** Stop reading (the exchange was abandoned); forget a blocked section. */
  cancel(): void {
    this.#failed = true;
    if (this.#blocked) {
      this.#blocked = false;
      this.#decoder.cancelStream(this.stream.streamId);
      this.#flushDecoder();
    }
  }

  #drain(): void {
    if (this.#failed) return;
    try {
      while (!this.#blocked && !this.#dataPaused) {
        const f = this.#reader.next();
        if (f === undefined) break;
        this.#frame(f);
        if (this.#failed) return;
      }
    } catch (err) {
      this.#fail(err);
      return;
    }
    if (this.#ended && !this.#blocked && !this.#dataPaused && !this.#failed) {
      if (!this.#reader.idle) {
        // §7.1: a frame cut short by the end of the stream is H3_FRAME_ERROR.
        this.#fail(
          new Http3ConnectionError(H3ErrorCode.H3_FRAME_ERROR, 'the stream ended inside a frame'),
        );
        return;
      }
      if (this.#state === 'headers') {
        // §4.1: a request stream that ends before a complete message.
        this.#fail(
          new Http3StreamError(
            this.stream.streamId,
            H3ErrorCode.H3_REQUEST_INCOMPLETE,
            'the stream ended before the header section',
          ),
        );
        return;
      }
      this.#state = 'done';
      this.#ended = false; // report once
      this.#handler.onEnd();
    }
  }

  #frame(f: { type: number; payload?: Uint8Array; chunk?: Uint8Array }): void {
    switch (f.type) {
      case FrameType.HEADERS: {
        if (this.#state === 'done') {
          throw new Http3StreamError(
            this.stream.streamId,
            H3ErrorCode.H3_FRAME_UNEXPECTED,
            'HEADERS after the trailer section',
          );
        }
        const trailer = this.#state === 'body';
        let r;
        try {
          r = this.#decoder.decode(this.stream.streamId, f.payload!);
          this.#flushDecoder();
        } catch (err) {
          this.#fieldError(err);
          return;
        }
        if (r === 'blocked') {
          this.#blocked = true;
          this.#blockedIsTrailer = trailer;
          this.stream.pause();
          return;
        }
        this.#deliver(r, trailer);
        return;
      }
      case FrameType.DATA: {
        // §4.1: DATA before HEADERS, or after trailers, is H3_FRAME_UNEXPECTED.
        if (this.#state !== 'body') {
          throw new Http3StreamError(
            this.stream.streamId,
            H3ErrorCode.H3_FRAME_UNEXPECTED,
            `DATA ${this.#state === 'headers' ? 'before HEADERS' : 'after trailers'}`,
          );
        }
        const chunk = f.chunk ?? f.payload!;
        if (chunk.length > 0 && !this.#handler.onData(chunk)) {
          this.#dataPaused = true;
          this.stream.pause();
        }
        return;
      }
      case FrameType.PUSH_PROMISE:
        // §7.2.5: a server MUST treat PUSH_PROMISE as H3_FRAME_UNEXPECTED; a client that
        // never sent MAX_PUSH_ID sees an invalid push ID (H3_ID_ERROR).
        if (this.#handler.interimAllowed === true) {
          throw new Http3ConnectionError(
            H3ErrorCode.H3_ID_ERROR,
            'PUSH_PROMISE without MAX_PUSH_ID',
          );
        }
        throw new Http3ConnectionError(
          H3ErrorCode.H3_FRAME_UNEXPECTED,
          'PUSH_PROMISE from a client',
        );
      case FrameType.SETTINGS:
      case FrameType.GOAWAY:
      case FrameType.MAX_PUSH_ID:
      case FrameType.CANCEL_PUSH:
        // §7.2: control-stream frames on a request stream are a connection error.
        throw new Http3ConnectionError(
          H3ErrorCode.H3_FRAME_UNEXPECTED,
          `frame type ${f.type} on a request stream`,
        );
      default:
        return; // unknown frame types are ignored (§9)
    }
  }

  #deliver(fields: FieldLine[], trailer: boolean): void {
    if (trailer) {
      this.#state = 'done';
      this.#handler.onTrailers(fields);
      return;
    }
    const status = fields[0]?.[0] === ':status' ? Number(fields[0][1]) : 0;
    if (this.#handler.interimAllowed === true && status >= 100 && status < 200) {
      this.#handler.onHeaders(fields); // interim: stay in 'headers'
      return;
    }
    this.#state = 'body';
    this.#handler.onHeaders(fields);
  }

  #fieldError(err: unknown): void {
    if (err instanceof FieldSectionTooLargeError) {
      this.#failed = true;
      this.#decoder.cancelStream(this.stream.streamId);
      this.#flushDecoder();
      this.#handler.onFieldsTooLarge();
      return;
    }
    // RFC 9204 §2.2: a decoding failure is QPACK_DECOMPRESSION_FAILED, a connection error.
    this.#fail(err);
  }

  #fail(err: unknown): void {
    this.#failed = true;
    if (err instanceof Http3StreamError) this.#handler.onStreamError(err);
    else this.#handler.onConnectionError(err as Error);
  }
}
