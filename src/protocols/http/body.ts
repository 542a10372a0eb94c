/**
 * A request body as the application sees it: an async-iterable byte stream with
 * backpressure, plus `bytes()`, `text()` and `json()` helpers bounded by a size limit.
 *
 * The engine pushes chunks with `push()`; when it returns false the engine stops reading
 * from the transport (pauses the socket, or withholds HTTP/2 WINDOW_UPDATEs) until
 * `onPull` is called. So a handler that reads slowly never makes the server buffer more
 * than about `highWaterMark` bytes of its body.
 */
import { GhostnetError } from '../../errors.js';
import { BodyTooLargeError, HttpError } from './errors.js';
import type { HeaderList } from './headers.js';

export interface BodyStreamOptions {
  /**
   * Bytes buffered before `push` returns false and the engine pauses its input.
   * @default 65536
   */
  highWaterMark?: number;
  /**
   * Largest body `bytes()`, `text()` and `json()` collect; beyond it they reject with a 413
   * `BodyTooLargeError`. The body-limit middleware lowers it per route.
   * @default 1048576 (1 MiB)
   */
  limit?: number;
  /** Content-Length announced by the client, if any. */
  expectedLength?: number;
  /** Called when the consumer wants more after `push` returned false. */
  onPull?: () => void;
  /** Called once, when the application first reads (HTTP/1.1 sends `100 Continue` then). */
  onFirstRead?: () => void;
}

export const DEFAULT_BODY_HIGH_WATER_MARK = 64 * 1024;
export const DEFAULT_BODY_LIMIT = 1024 * 1024;

/**
 * Hard bound on what an engine may push past the high-water mark before the stream fails:
 * engines must pause on false; this catches one that does not, instead of growing forever.
 */
const OVERRUN_FACTOR = 4;

type Waiter = {
  resolve: (chunk: Uint8Array | null) => void;
  reject: (err: Error) => void;
};

export class BodyStream implements AsyncIterable<Uint8Array> {
  readonly #highWaterMark: number;
  readonly #onPull: (() => void) | undefined;
  #onFirstRead: (() => void) | undefined;
  readonly expectedLength: number | undefined;
  #limit: number;
  #chunks: Uint8Array[] = [];
  #buffered = 0;
  #received = 0;
  #ended = false;
  #error: Error | undefined;
  #waiter: Waiter | undefined;
  #wantsPull = false;
  #trailers: HeaderList | undefined;
  #consumed = false;

  constructor(options: BodyStreamOptions = {}) {
    this.#highWaterMark = options.highWaterMark ?? DEFAULT_BODY_HIGH_WATER_MARK;
    this.#limit = options.limit ?? DEFAULT_BODY_LIMIT;
    this.expectedLength = options.expectedLength;
    this.#onPull = options.onPull;
    this.#onFirstRead = options.onFirstRead;
  }

  /**
   * The empty, already-ended body (GET, HEAD, …). One instance is shared: an ended empty
   * body has no state left to change (reads return null, `fail` is a no-op, and reading it
   * twice is allowed).
   */
  static empty(): BodyStream {
    return EMPTY_BODY;
  }

  // ── engine side ──────────────────────────────────────────────────────────────

  /** Adds a chunk. False: stop reading input until `onPull`. */
  push(chunk: Uint8Array): boolean {
    if (this.#ended || this.#error) return false;
    if (chunk.length === 0) return this.#buffered < this.#highWaterMark;
    this.#received += chunk.length;
    if (this.#waiter) {
      const waiter = this.#waiter;
      this.#waiter = undefined;
      waiter.resolve(chunk);
      return true;
    }
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    if (this.#buffered > this.#highWaterMark * OVERRUN_FACTOR) {
      this.fail(
        new GhostnetError(
          'GN_ERR_HTTP_BODY_OVERRUN',
          'The engine kept pushing body bytes after backpressure was signalled',
        ),
      );
      return false;
    }
    if (this.#buffered >= this.#highWaterMark) {
      this.#wantsPull = true;
      return false;
    }
    return true;
  }

  /** The body is complete; `trailers` are the HTTP/1.1 chunked or HTTP/2 trailer fields. */
  end(trailers?: HeaderList): void {
    if (this.#ended || this.#error) return;
    this.#ended = true;
    this.#trailers = trailers?.freeze();
    if (this.#waiter && this.#chunks.length === 0) {
      const waiter = this.#waiter;
      this.#waiter = undefined;
      waiter.resolve(null);
    }
  }

  /** The body cannot complete (client went away, stream reset, protocol error). */
  fail(err: Error): void {
    if (this.#ended || this.#error) return;
    this.#error = err;
    this.#chunks = [];
    this.#buffered = 0;
    if (this.#waiter) {
      const waiter = this.#waiter;
      this.#waiter = undefined;
      waiter.reject(err);
    }
  }

  // ── application side ─────────────────────────────────────────────────────────

  /** Bytes received from the client so far. */
  get received(): number {
    return this.#received;
  }

  get bufferedAmount(): number {
    return this.#buffered;
  }

  /** True once the whole body arrived (it may still be buffered). */
  get complete(): boolean {
    return this.#ended;
  }

  /** Trailer fields, available after the body was read to its end. */
  get trailers(): HeaderList | undefined {
    return this.#trailers;
  }

  get limit(): number {
    return this.#limit;
  }

  /**
   * Sets the limit for `bytes()`/`text()`/`json()`. They reject with 413 as soon as they
   * start when the announced Content-Length exceeds it, else once the limit is crossed.
   */
  setLimit(limit: number): void {
    if (this === EMPTY_BODY) return; // shared and empty: nothing to limit
    this.#limit = limit;
  }

  /** The next chunk, or null at the end. Rejects if the body failed. */
  read(): Promise<Uint8Array | null> {
    this.#firstRead();
    if (this.#chunks.length > 0) {
      const chunk = this.#chunks.shift()!;
      this.#buffered -= chunk.length;
      this.#maybePull();
      return Promise.resolve(chunk);
    }
    if (this.#error) return Promise.reject(this.#error);
    if (this.#ended) return Promise.resolve(null);
    if (this.#waiter) {
      return Promise.reject(
        new GhostnetError(
          'GN_ERR_HTTP_CONCURRENT_READ',
          'Only one read() may be pending at a time',
        ),
      );
    }
    this.#maybePull();
    return new Promise((resolve, reject) => {
      this.#waiter = { resolve, reject };
    });
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    for (;;) {
      const chunk = await this.read();
      if (chunk === null) return;
      yield chunk;
    }
  }

  /** The whole body, up to `limit` bytes (413 beyond). Can be called once. */
  async bytes(): Promise<Uint8Array> {
    if (this.#ended && this.#received === 0) return new Uint8Array(0);
    if (this.#consumed) {
      throw new GhostnetError('GN_ERR_HTTP_BODY_CONSUMED', 'The request body was already read');
    }
    this.#consumed = true;
    const limit = this.#limit;
    if (this.expectedLength !== undefined && this.expectedLength > limit) {
      this.fail(new BodyTooLargeError(limit));
      throw new BodyTooLargeError(limit);
    }
    const parts: Uint8Array[] = [];
    let total = 0;
    for (;;) {
      const chunk = await this.read();
      if (chunk === null) break;
      total += chunk.length;
      if (total > limit) {
        this.fail(new BodyTooLargeError(limit));
        throw new BodyTooLargeError(limit);
      }
      parts.push(chunk);
    }
    if (parts.length === 1) return parts[0]!;
    const out = new Uint8Array(total);
    let offset = 0;
    for (const part of parts) {
      out.set(part, offset);
      offset += part.length;
    }
    return out;
  }

  /** The whole body decoded as UTF-8 (invalid sequences → 400). */
  async text(): Promise<string> {
    const bytes = await this.bytes();
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch (err) {
      throw new HttpError(400, 'The request body is not valid UTF-8', { cause: err });
    }
  }

  /** The whole body parsed as JSON (malformed → 400). */
  async json<T = unknown>(): Promise<T> {
    const text = await this.text();
    try {
      return JSON.parse(text) as T;
    } catch (err) {
      throw new HttpError(400, 'The request body is not valid JSON', {
        code: 'GN_ERR_HTTP_INVALID_JSON',
        cause: err,
      });
    }
  }

  /**
   * Reads and drops the rest of the body (engines call this after the handler finished
   * without reading it, to keep an HTTP/1.1 connection usable). Resolves false if the
   * body failed instead.
   */
  async discard(): Promise<boolean> {
    this.#consumed = true;
    try {
      while ((await this.read()) !== null);
      return true;
    } catch {
      return false;
    }
  }

  #firstRead(): void {
    if (this.#onFirstRead) {
      const fn = this.#onFirstRead;
      this.#onFirstRead = undefined;
      fn();
    }
  }

  #maybePull(): void {
    if (this.#wantsPull && this.#buffered < this.#highWaterMark) {
      this.#wantsPull = false;
      this.#onPull?.();
    }
  }
}

const EMPTY_BODY = new BodyStream({ expectedLength: 0 });
EMPTY_BODY.end();
