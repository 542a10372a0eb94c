/**
 * The one application interface every HTTP engine serves (DESIGN §4): HTTP/1.1, HTTP/2 and
 * HTTP/3 call the same `Handler` with the same request and response objects, so a router,
 * middleware and application are written once.
 *
 * Engines implement `ResponseSink` (how a response reaches the wire) and build requests
 * with `createRequest`; `ServerResponse` (response.ts) does the rest.
 */
import type { SocketAddress } from '../../transport/types.js';
import type { BodyStream } from './body.js';
import type { HeaderList } from './headers.js';
import type { SendFileOptions } from './static/send-file.js';

export type HttpProtocol = 'http/1.0' | 'http/1.1' | 'h2' | 'h3';

export interface HttpRequest {
  /** Request id: the client's X-Request-Id when valid, else generated. For logs. */
  readonly id: string;
  readonly method: string;
  /** The request target as sent (origin-form `/a/b?c`, or absolute-form, or `*`). */
  readonly target: string;
  /** The path without the query, percent-encoding kept (routers decode per segment). */
  readonly path: string;
  /** The query string without `?` (empty when none). */
  readonly search: string;
  readonly query: URLSearchParams;
  readonly headers: HeaderList;
  readonly protocol: HttpProtocol;
  readonly scheme: 'http' | 'https';
  /** Host header (HTTP/1.1) or :authority (HTTP/2, HTTP/3). */
  readonly authority: string | undefined;
  readonly remoteAddress: SocketAddress | undefined;
  readonly localAddress: SocketAddress | undefined;
  readonly body: BodyStream;
  /** Aborted when the client goes away or the stream is reset before the response ends. */
  readonly signal: AbortSignal;
  /** Route parameters set by the router (`/users/:id` → `{ id }`). */
  params: Record<string, string>;
  /** Per-request state for middleware (auth result, timers, …). */
  readonly locals: Record<string, unknown>;
  /** Shorthands for `body.text()`, `body.json()`, `body.bytes()`. */
  text(): Promise<string>;
  json<T = unknown>(): Promise<T>;
  bytes(): Promise<Uint8Array>;
}

/** Receives the response as it is written. Engines transform it; filters (gzip) wrap it. */
export interface ResponseSink {
  /**
   * Status and headers. `end` is true when no body follows. The engine frames the body by
   * the Content-Length header when present, otherwise chunked (HTTP/1.1) or by DATA frames.
   */
  writeHead(status: number, reason: string | undefined, headers: HeaderList, end: boolean): void;
  /** A body chunk; false means stop until `onDrain` fires. `end` finishes the body. */
  writeBody(chunk: Uint8Array, end: boolean): boolean;
  /** Finishes the body with trailer fields (HTTP/1.1 chunked, HTTP/2 and HTTP/3 HEADERS). */
  writeTrailers(trailers: HeaderList): void;
  /** A 1xx response before the final one (100 Continue, 103 Early Hints). */
  writeInformational(status: number, headers: HeaderList): void;
  /**
   * Registers the listener for "writable again" after `writeBody` returned false. A sink
   * fires it only when a write would be accepted again, never while it is still full.
   */
  onDrain(listener: () => void): void;
  /** Bytes accepted and not yet written out. */
  readonly bufferedAmount: number;
  /** Abandons the response: resets the stream (h2, h3) or closes the connection (h1). */
  abort(err?: Error): void;
  /** The engine supports trailers for this response (chunked HTTP/1.1, h2, h3). */
  readonly supportsTrailers: boolean;
}

export interface HttpResponse {
  /** @default 200 */
  status: number;
  /** HTTP/1.1 reason phrase; ignored by HTTP/2 and HTTP/3. */
  statusMessage: string | undefined;
  /** Mutable until the head is written. */
  readonly headers: HeaderList;
  /** Sent after the body (set before `end`). */
  readonly trailers: HeaderList;
  readonly headersSent: boolean;
  /** `end()` was called. */
  readonly finished: boolean;
  /** Bytes written by `write`/`end` that the engine has not flushed yet. */
  readonly bufferedAmount: number;
  setHeader(name: string, value: string | number): this;
  /** Sends the head now (status and headers are frozen afterwards). */
  writeHead(status?: number, headers?: Record<string, string | number>): void;
  /** Streams a chunk. False: wait for `drained()` before writing more (STYLE §6). */
  write(chunk: Uint8Array | string): boolean;
  /** Finishes the response, with an optional last chunk. Idempotent after the first call. */
  end(chunk?: Uint8Array | string): void;
  /** Resolves when buffered bytes fell below the high-water mark (at once if they are). */
  drained(): Promise<void>;
  /** Sends a 1xx informational response (e.g. 103 Early Hints). */
  writeInformational(status: number, headers?: Record<string, string>): void;
  /** Sets Content-Type (when unset) and Content-Length, and ends with `body`. */
  send(body: Uint8Array | string, contentType?: string): void;
  /** JSON body with `application/json; charset=utf-8`. */
  json(value: unknown, status?: number): void;
  text(body: string, status?: number): void;
  /**
   * Streams a file with ETag/Last-Modified, conditional requests (304/412) and Range (206/416)
   * (see static/send-file.ts). Rejects with an HttpError (404, 403, 405) when it cannot.
   */
  sendFile(path: string, options?: SendFileOptions): Promise<void>;
  /**
   * Replaces the sink the body goes through (before the head is written). Compression
   * and other body filters wrap the current sink this way.
   */
  wrapSink(wrap: (inner: ResponseSink) => ResponseSink): void;
  /** Abandons the response (reset stream or close connection). */
  abort(err?: Error): void;
}

export type Handler = (req: HttpRequest, res: HttpResponse) => void | Promise<void>;

/**
 * Onion-style middleware: runs code before `next()`, awaits the rest of the chain, and runs
 * code after; it may short-circuit by answering without calling `next()`.
 */
export type Middleware = (
  req: HttpRequest,
  res: HttpResponse,
  next: () => Promise<void>,
) => void | Promise<void>;
