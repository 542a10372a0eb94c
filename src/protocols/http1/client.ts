/**
 * The HTTP/1.1 client binding (STYLE §8: client → pool → connection): `Http1Client`
 * (alias `Agent`) runs the sans-I/O `Http1ClientConnection` core over TCP or TLS
 * connections leased from a `ConnectionPool` keyed by origin, and owns every timer.
 *
 * - Keep-alive: a connection goes back to the pool only when the response was read to its
 *   end on the wire and both sides allow keep-alive; anything else destroys it.
 * - Pipelining (`pipelining > 1`): several requests share a connection, answered in order
 *   (RFC 9112 §9.3.2). Only for idempotent requests in practice; off by default.
 * - Request bodies: bytes and strings go with Content-Length, async iterables chunked
 *   (with optional trailers), written with backpressure (`drain`).
 * - Response bodies are async iterables; when the consumer lags by more than
 *   `highWaterMark` bytes the connection is paused (STYLE §6).
 * - Redirects (redirect.ts), cookies (cookie-jar.ts), gzip/deflate/br decoding with a
 *   bound on the decoded size, connect/headers/body timeouts and AbortSignal. An aborted or
 *   timed-out request destroys its connection; it never goes back to the pool.
 */
import { Readable, pipeline } from 'node:stream';
import type { Transform } from 'node:stream';
import {
  createBrotliDecompress,
  createGunzip,
  createInflate,
  constants as zlibConstants,
} from 'node:zlib';
import { AbortError, GhostnetError, InvalidOptionError } from '../../errors.js';
import { abortReason } from '../../lifecycle/deadline.js';
import type { Observer } from '../../monitoring/observer.js';
import { ConnectTimeoutError, ConnectionClosedError } from '../../transport/errors.js';
import { ConnectionPool } from '../../transport/pool.js';
import type { Origin, PoolLease, PoolOptions, PoolStats } from '../../transport/pool.js';
import { connectTcp } from '../../transport/tcp.js';
import { connectTls } from '../../transport/tls.js';
import type { TlsCaInput } from '../../transport/tls.js';
import type { StreamConnection } from '../../transport/types.js';
import { HeaderList } from '../http/headers.js';
import type { HeaderInit } from '../http/headers.js';
import { Http1ClientConnection, Http1ClientError } from './client-connection.js';
import type { Http1ClientEvent } from './client-connection.js';
import type { CookieJar } from './cookie-jar.js';
import type { Http1Limits } from './limits.js';
import {
  DEFAULT_MAX_REDIRECTS,
  TooManyRedirectsError,
  isRedirect,
  nextRedirect,
} from './redirect.js';
import { checkMethod, checkRequestHeaders, hostValue, originForm } from './request-serializer.js';

export { CookieJar } from './cookie-jar.js';
export { TooManyRedirectsError } from './redirect.js';
export { Http1ClientError } from './client-connection.js';

// ---------------------------------------------------------------------------------------
// Errors

/** No response head within `headersMs` (from sending the request or its last body byte). */
export class HeadersTimeoutError extends GhostnetError {
  constructor(ms: number) {
    super('GN_ERR_HTTP1_HEADERS_TIMEOUT', `No response headers within ${ms} ms`);
  }
}

/** No response body bytes for `bodyMs` while the consumer was reading. */
export class BodyTimeoutError extends GhostnetError {
  constructor(ms: number) {
    super('GN_ERR_HTTP1_BODY_TIMEOUT', `No response body data for ${ms} ms`);
  }
}

/** The decoded (or buffered) response body exceeded `maxBodyBytes`. */
export class ResponseTooLargeError extends GhostnetError {
  constructor(limit: number, what: string) {
    super('GN_ERR_HTTP1_RESPONSE_TOO_LARGE', `The ${what} exceeds maxBodyBytes (${limit} bytes)`);
  }
}

/** The response body could not be decoded (bad gzip, deflate or br data). */
export class DecompressError extends GhostnetError {
  constructor(coding: string, options?: { cause?: unknown }) {
    super('GN_ERR_HTTP1_DECOMPRESS', `The ${coding} response body is corrupt`, options);
  }
}

// ---------------------------------------------------------------------------------------
// Options

export type RequestBody = Uint8Array | string | AsyncIterable<Uint8Array>;

export interface RequestTimeouts {
  /** Getting a connection (pool wait + connect + TLS handshake). @default client's connectTimeoutMs */
  connectMs?: number;
  /** From sending the request (or its latest body chunk) to the response head. @default client's headersTimeoutMs */
  headersMs?: number;
  /** Between response body chunks while the consumer reads. @default client's bodyTimeoutMs */
  bodyMs?: number;
}

export interface RequestOptions {
  url: string | URL;
  /** @default 'GET' (with no body) */
  method?: string;
  headers?: HeaderInit;
  /** Bytes/strings are sent with Content-Length; an async iterable is sent chunked. */
  body?: RequestBody;
  /** Trailer fields after a chunked (iterable) body (RFC 9112 §7.1.2). */
  trailers?: HeaderInit;
  signal?: AbortSignal;
  timeouts?: RequestTimeouts;
  /** Redirects to follow; 0 returns the 3xx. @default client's maxRedirects */
  maxRedirects?: number;
  /** Decode gzip/deflate/br and send Accept-Encoding. @default client's decompress */
  decompress?: boolean;
  /** Store Set-Cookie and send Cookie. @default client's cookieJar */
  cookieJar?: CookieJar;
}

export interface Http1ClientOptions {
  /** @default 10000 */
  connectTimeoutMs?: number;
  /** @default 300000 (undici's headersTimeout) */
  headersTimeoutMs?: number;
  /** @default 300000 (undici's bodyTimeout) */
  bodyTimeoutMs?: number;
  /** @default 20 (as fetch) */
  maxRedirects?: number;
  /** @default true */
  decompress?: boolean;
  /**
   * Largest decoded response body (decompression) and largest body `bytes()`, `text()` and
   * `json()` buffer. A bigger one fails with `ResponseTooLargeError`. Raw streamed bodies are
   * bounded by `limits.maxBodySize` instead.
   * @default 67108864 (64 MiB)
   */
  maxBodyBytes?: number;
  /**
   * Response bytes queued for a slow consumer before the connection is paused.
   * @default 65536
   */
  highWaterMark?: number;
  /**
   * Requests in flight per connection. 1 disables pipelining.
   * @default 1
   */
  pipelining?: number;
  /** Response parser limits (head size, body size, trailers). */
  limits?: Partial<Http1Limits>;
  /** Pool options (connections per origin, idle timeout, …). */
  pool?: Omit<PoolOptions, 'maxStreamsPerConnection' | 'connectTimeoutMs'>;
  /** TLS settings for https origins. */
  tls?: {
    /** Trusted CAs instead of the system store. */
    ca?: TlsCaInput;
    /** @default true */
    rejectUnauthorized?: boolean;
  };
  /** Headers added to every request unless it sets them (e.g. User-Agent). */
  headers?: HeaderInit;
  /** A jar shared by every request that does not pass its own. */
  cookieJar?: CookieJar;
}

export interface Http1ClientComponents {
  /** Opens a connection (tests inject memory pipes). @default TCP or TLS by scheme */
  connect?: (origin: Origin, signal: AbortSignal) => Promise<StreamConnection>;
  observer?: Observer;
}

const DEFAULTS = {
  connectTimeoutMs: 10_000,
  headersTimeoutMs: 300_000,
  bodyTimeoutMs: 300_000,
  maxRedirects: DEFAULT_MAX_REDIRECTS,
  maxBodyBytes: 64 * 1024 * 1024,
  highWaterMark: 65_536,
  pipelining: 1,
};
const MAX_MS = 2 ** 31 - 1;
/** Bytes of an unwanted body (a redirect's) read to keep the connection; more → destroy. */
const MAX_DUMP_BYTES = 65_536;
/** Attempts to lease a usable connection before giving up (stale keep-alive races). */
const MAX_LEASE_ATTEMPTS = 3;
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

function checkInt(
  name: string,
  v: number | undefined,
  d: number,
  min: number,
  max: number,
): number {
  if (v === undefined) return d;
  if (!Number.isSafeInteger(v) || v < min || v > max) {
    throw new InvalidOptionError(`${name} must be an integer in ${min}..${max}, got ${String(v)}`);
  }
  return v;
}

// ---------------------------------------------------------------------------------------
// Response body

/**
 * The raw body of one response: a bounded queue between the connection and the consumer.
 * `push` pauses the connection above `highWaterMark`; reading below half of it resumes.
 */
class BodyQueue implements AsyncIterable<Uint8Array> {
  readonly #hwm: number;
  readonly #pressure: (paused: boolean) => void;
  readonly #cancel: (err: GhostnetError) => void;
  #chunks: Uint8Array[] = [];
  #bytes = 0;
  #paused = false;
  #ended = false;
  #error: Error | undefined;
  #waiter: { resolve: () => void } | undefined;
  #iterated = false;
  trailers: HeaderList | undefined;

  constructor(
    hwm: number,
    pressure: (paused: boolean) => void,
    cancel: (err: GhostnetError) => void,
  ) {
    this.#hwm = hwm;
    this.#pressure = pressure;
    this.#cancel = cancel;
  }

  get ended(): boolean {
    return this.#ended;
  }

  get settled(): boolean {
    return this.#ended || this.#error !== undefined;
  }

  get paused(): boolean {
    return this.#paused;
  }

  push(chunk: Uint8Array): void {
    if (this.settled) return;
    this.#chunks.push(chunk);
    this.#bytes += chunk.length;
    if (!this.#paused && this.#bytes >= this.#hwm) {
      this.#paused = true;
      this.#pressure(true);
    }
    this.#wake();
  }

  end(): void {
    if (this.settled) return;
    this.#ended = true;
    this.#unpause();
    this.#wake();
  }

  fail(err: Error): void {
    if (this.settled) return;
    this.#error = err;
    this.#unpause();
    this.#wake();
  }

  #unpause(): void {
    if (this.#paused) {
      this.#paused = false;
      this.#pressure(false);
    }
  }

  #wake(): void {
    const w = this.#waiter;
    this.#waiter = undefined;
    w?.resolve();
  }

  async #next(): Promise<IteratorResult<Uint8Array>> {
    for (;;) {
      const chunk = this.#chunks.shift();
      if (chunk !== undefined) {
        this.#bytes -= chunk.length;
        if (this.#paused && this.#bytes <= this.#hwm / 2) this.#unpause();
        return { value: chunk, done: false };
      }
      if (this.#error !== undefined) throw this.#error;
      if (this.#ended) return { value: undefined, done: true };
      await new Promise<void>((resolve) => (this.#waiter = { resolve }));
    }
  }

  /** The consumer gave up: drop the queue and destroy the exchange unless it ended. */
  cancel(): void {
    this.#chunks = [];
    this.#bytes = 0;
    if (!this.settled) {
      const err = new AbortError('The response body was cancelled');
      this.fail(err);
      this.#cancel(err);
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    if (this.#iterated) {
      throw new GhostnetError('GN_ERR_HTTP1_BODY_USED', 'The response body can be read only once');
    }
    this.#iterated = true;
    return {
      next: () => this.#next(),
      return: async () => {
        this.cancel();
        return { value: undefined, done: true };
      },
    };
  }
}

/** The codings of Content-Encoding this client decodes, or undefined (leave it as is). */
function decodableCodings(header: string | undefined): string[] | undefined {
  if (header === undefined) return undefined;
  const codings = header
    .split(',')
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c !== '' && c !== 'identity');
  if (codings.length === 0 || codings.length > 3) return undefined;
  for (const c of codings) {
    if (c !== 'gzip' && c !== 'x-gzip' && c !== 'deflate' && c !== 'br') return undefined;
  }
  return codings;
}

function decoderFor(coding: string): Transform {
  // Flush modes that tolerate a body truncated at a block boundary (as browsers do);
  // corrupt data still errors.
  if (coding === 'br') {
    return createBrotliDecompress({ finishFlush: zlibConstants.BROTLI_OPERATION_FLUSH });
  }
  const opts = { finishFlush: zlibConstants.Z_SYNC_FLUSH };
  // RFC 9110 §8.4.1.2: "deflate" is the zlib format (RFC 1950).
  return coding === 'deflate' ? createInflate(opts) : createGunzip(opts);
}

/** Decodes `raw` through each coding in reverse order (RFC 9110 §8.4), bounded by `max`. */
async function* decodeBody(
  raw: BodyQueue,
  codings: string[],
  max: number,
): AsyncGenerator<Uint8Array> {
  const decoders = [...codings].reverse().map(decoderFor);
  const source = Readable.from(raw, { objectMode: false });
  const streams = [source, ...decoders] as const;
  const last = decoders[decoders.length - 1]!;
  pipeline(streams as unknown as [Readable, ...Transform[]], () => {});
  let total = 0;
  try {
    for await (const chunk of last as AsyncIterable<Buffer>) {
      total += chunk.length;
      // A decompression bomb: stop before handing out more than `max` bytes.
      if (total > max) throw new ResponseTooLargeError(max, 'decoded response body');
      yield chunk;
    }
  } catch (err) {
    if (err instanceof GhostnetError) throw err;
    throw new DecompressError(codings.join(', '), { cause: err });
  } finally {
    for (const s of streams) s.destroy();
  }
}

/** A response: status, headers, a streamed body, and bounded collectors. */
export class ClientResponse implements AsyncIterable<Uint8Array> {
  readonly status: number;
  readonly statusText: string;
  readonly headers: HeaderList;
  /** `'1.1'` or `'1.0'`. */
  readonly httpVersion: string;
  /** The URL of this response (after redirects). */
  readonly url: string;
  /** Whether a redirect was followed to get here. */
  readonly redirected: boolean;
  /** The body, decoded when `decompress` applied. Iterate once. */
  readonly body: AsyncIterable<Uint8Array>;
  readonly #raw: BodyQueue;
  readonly #maxBodyBytes: number;
  #used = false;

  /** @internal */
  constructor(
    init: {
      status: number;
      statusText: string;
      headers: HeaderList;
      httpVersion: string;
      url: string;
      redirected: boolean;
      decoded: AsyncIterable<Uint8Array> | undefined;
      maxBodyBytes: number;
    },
    raw: BodyQueue,
  ) {
    this.status = init.status;
    this.statusText = init.statusText;
    this.headers = init.headers.freeze();
    this.httpVersion = init.httpVersion;
    this.url = init.url;
    this.redirected = init.redirected;
    this.#raw = raw;
    this.#maxBodyBytes = init.maxBodyBytes;
    this.body = init.decoded ?? raw;
  }

  /** Trailer fields of a chunked response, once the body was read to the end. */
  get trailers(): HeaderList | undefined {
    return this.#raw.trailers;
  }

  /** True once the body was read (or cancelled). */
  get bodyUsed(): boolean {
    return this.#used;
  }

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    this.#used = true;
    return this.body[Symbol.asyncIterator]();
  }

  /** The whole body, at most `maxBodyBytes` (else `ResponseTooLargeError`). */
  async bytes(maxBytes = this.#maxBodyBytes): Promise<Uint8Array> {
    const chunks: Uint8Array[] = [];
    let total = 0;
    for await (const chunk of this) {
      total += chunk.length;
      if (total > maxBytes) throw new ResponseTooLargeError(maxBytes, 'response body');
      chunks.push(chunk);
    }
    return Buffer.concat(chunks, total);
  }

  /** The body as UTF-8 text (bounded like `bytes()`). */
  async text(maxBytes?: number): Promise<string> {
    return new TextDecoder().decode(await this.bytes(maxBytes));
  }

  /** The body parsed as JSON (bounded like `bytes()`). */
  async json(maxBytes?: number): Promise<unknown> {
    const text = await this.text(maxBytes);
    try {
      return JSON.parse(text) as unknown;
    } catch (err) {
      throw new GhostnetError('GN_ERR_HTTP1_INVALID_JSON', 'The response body is not JSON', {
        cause: err,
      });
    }
  }

  /** Stop reading: the connection is destroyed unless the body had already ended. */
  cancel(): void {
    this.#used = true;
    this.#raw.cancel();
  }

  /**
   * Read and discard a small rest of the body so the connection can be reused; a body
   * larger than `maxBytes` is cancelled instead.
   * @internal
   */
  async dump(maxBytes = MAX_DUMP_BYTES): Promise<void> {
    if (this.#used) return;
    this.#used = true;
    let total = 0;
    try {
      for await (const chunk of this.#raw) {
        total += chunk.length;
        if (total > maxBytes) break;
      }
    } catch {
      // The connection is gone; nothing to save.
    }
  }
}

// ---------------------------------------------------------------------------------------
// One connection: the core and the exchanges in flight on it

interface Exchange {
  readonly requestId: number;
  onResponse(ev: Extract<Http1ClientEvent, { type: 'response' }>): void;
  onData(data: Uint8Array): void;
  onTrailers(trailers: HeaderList): void;
  onEnd(keepAlive: boolean): void;
  fail(err: Error): void;
}

class ConnDriver {
  readonly conn: StreamConnection;
  readonly core: Http1ClientConnection;
  /** Exchanges whose response has not ended, in request order. */
  readonly #exchanges = new Map<number, Exchange>();
  readonly #pausers = new Set<Exchange>();
  #writeChain: Promise<void> = Promise.resolve();
  #dead = false;
  /** Requests started on this connection (a reused connection may be stale). */
  requests = 0;

  constructor(conn: StreamConnection, limits: Partial<Http1Limits> | undefined) {
    this.conn = conn;
    this.core = new Http1ClientConnection({ limits });
    conn.on('data', (chunk) => this.#dispatch(this.core.receive(chunk)));
    conn.on('end', () => this.#dispatch(this.core.finish()));
    conn.on('error', (err) => this.#failAll(err));
    conn.on('close', () =>
      this.#failAll(new ConnectionClosedError('The connection closed before the response ended')),
    );
  }

  /** Usable for a new request now. */
  get usable(): boolean {
    return !this.#dead && !this.conn.closed && this.conn.writable && this.core.canSend;
  }

  /** Run `task` after every earlier request finished writing (pipelining order). */
  serialize(task: () => Promise<void>): Promise<void> {
    const run = this.#writeChain.then(task, task);
    this.#writeChain = run.catch(() => {});
    return run;
  }

  add(ex: Exchange): void {
    this.#exchanges.set(ex.requestId, ex);
  }

  remove(ex: Exchange): void {
    this.#exchanges.delete(ex.requestId);
    this.setPaused(ex, false);
  }

  /** Write what the core queued; false means wait for `drain`. */
  flush(): boolean {
    const out = this.core.takeOutput();
    if (out.length === 0) return true;
    if (!this.conn.writable) {
      throw new ConnectionClosedError('The connection is no longer writable');
    }
    return out.length === 1 ? this.conn.write(out[0]!) : this.conn.writev(out);
  }

  /** Resolves on `drain`, or when the connection closes (the caller checks its state). */
  waitDrain(): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        this.conn.off('drain', done);
        this.conn.off('close', done);
        resolve();
      };
      this.conn.on('drain', done);
      this.conn.on('close', done);
    });
  }

  setPaused(ex: Exchange, paused: boolean): void {
    const before = this.#pausers.size;
    if (paused) this.#pausers.add(ex);
    else this.#pausers.delete(ex);
    if (before === 0 && this.#pausers.size > 0) this.conn.pause();
    else if (before > 0 && this.#pausers.size === 0) this.conn.resume();
  }

  destroy(err: Error): void {
    this.#dead = true;
    this.conn.destroy(err);
  }

  #dispatch(events: Http1ClientEvent[]): void {
    for (const ev of events) {
      if (ev.type === 'error') {
        this.#dead = true;
        this.#failAll(ev.error);
        this.conn.destroy(ev.error);
        return;
      }
      if (ev.type === 'informational') continue;
      const ex = this.#exchanges.get(ev.requestId);
      if (ex === undefined) continue;
      switch (ev.type) {
        case 'response':
          ex.onResponse(ev);
          break;
        case 'data':
          ex.onData(ev.data);
          break;
        case 'trailers':
          ex.onTrailers(ev.trailers);
          break;
        case 'end':
          this.remove(ex);
          ex.onEnd(ev.keepAlive);
          break;
      }
    }
    if (this.core.closing) this.#dead = true;
  }

  #failAll(err: Error): void {
    this.#dead = true;
    const all = [...this.#exchanges.values()];
    this.#exchanges.clear();
    this.#pausers.clear();
    for (const ex of all) ex.fail(err);
  }
}

/** A request found its reused connection closed before any response byte. */
class StaleConnectionError extends GhostnetError {
  constructor(cause: Error) {
    super('GN_ERR_HTTP1_STALE_CONNECTION', 'The kept-alive connection was closed by the server', {
      cause,
    });
  }
}

// ---------------------------------------------------------------------------------------
// The client

interface ResolvedClientOptions {
  connectTimeoutMs: number;
  headersTimeoutMs: number;
  bodyTimeoutMs: number;
  maxRedirects: number;
  decompress: boolean;
  maxBodyBytes: number;
  highWaterMark: number;
  pipelining: number;
}

interface Attempt {
  url: URL;
  method: string;
  headers: HeaderList;
  body: Uint8Array | AsyncIterable<Uint8Array> | undefined;
  trailers: HeaderList | undefined;
  signal: AbortSignal | undefined;
  connectMs: number;
  headersMs: number;
  bodyMs: number;
  decompress: boolean;
  redirected: boolean;
}

export class Http1Client {
  readonly #pool: ConnectionPool;
  readonly #options: ResolvedClientOptions;
  readonly #limits: Partial<Http1Limits> | undefined;
  readonly #defaultHeaders: HeaderList;
  readonly #cookieJar: CookieJar | undefined;
  readonly #drivers = new WeakMap<StreamConnection, ConnDriver>();

  constructor(components: Http1ClientComponents = {}, options: Http1ClientOptions = {}) {
    const o: ResolvedClientOptions = {
      connectTimeoutMs: checkInt(
        'connectTimeoutMs',
        options.connectTimeoutMs,
        DEFAULTS.connectTimeoutMs,
        1,
        MAX_MS,
      ),
      headersTimeoutMs: checkInt(
        'headersTimeoutMs',
        options.headersTimeoutMs,
        DEFAULTS.headersTimeoutMs,
        1,
        MAX_MS,
      ),
      bodyTimeoutMs: checkInt(
        'bodyTimeoutMs',
        options.bodyTimeoutMs,
        DEFAULTS.bodyTimeoutMs,
        1,
        MAX_MS,
      ),
      maxRedirects: checkInt('maxRedirects', options.maxRedirects, DEFAULTS.maxRedirects, 0, 1000),
      decompress: options.decompress ?? true,
      maxBodyBytes: checkInt(
        'maxBodyBytes',
        options.maxBodyBytes,
        DEFAULTS.maxBodyBytes,
        1,
        Number.MAX_SAFE_INTEGER,
      ),
      highWaterMark: checkInt(
        'highWaterMark',
        options.highWaterMark,
        DEFAULTS.highWaterMark,
        1,
        2 ** 30,
      ),
      pipelining: checkInt('pipelining', options.pipelining, DEFAULTS.pipelining, 1, 16),
    };
    this.#options = o;
    this.#limits = options.limits;
    this.#defaultHeaders = new HeaderList(options.headers);
    this.#cookieJar = options.cookieJar;
    const tls = options.tls ?? {};
    const connect =
      components.connect ??
      (async (origin: Origin, signal: AbortSignal): Promise<StreamConnection> => {
        const host = origin.host.replace(/^\[(.*)\]$/, '$1');
        if (origin.scheme === 'https') {
          const conn = await connectTls({
            host,
            port: origin.port,
            signal,
            connectTimeoutMs: o.connectTimeoutMs,
            alpnProtocols: ['http/1.1'],
            ...(tls.ca !== undefined ? { ca: tls.ca } : {}),
            rejectUnauthorized: tls.rejectUnauthorized ?? true,
          });
          // RFC 7301 §3.2: the server picked a protocol we did not offer.
          if (conn.alpnProtocol && conn.alpnProtocol !== 'http/1.1') {
            const err = new GhostnetError(
              'GN_ERR_HTTP1_ALPN',
              `The server selected ALPN protocol '${conn.alpnProtocol}', not http/1.1`,
            );
            conn.destroy(err);
            throw err;
          }
          return conn;
        }
        return connectTcp({
          host,
          port: origin.port,
          signal,
          connectTimeoutMs: o.connectTimeoutMs,
        });
      });
    this.#pool = new ConnectionPool(
      { connect, ...(components.observer ? { observer: components.observer } : {}) },
      {
        name: 'http1-client',
        ...options.pool,
        connectTimeoutMs: o.connectTimeoutMs,
        maxStreamsPerConnection: o.pipelining,
      },
    );
  }

  /** Pool statistics (connections per origin, idle, busy, pending). */
  stats(): PoolStats {
    return this.#pool.stats();
  }

  /** Stop taking requests, let the ones in flight finish, close every connection. */
  close(): Promise<void> {
    return this.#pool.close();
  }

  /** Destroy every connection now. */
  destroy(): void {
    this.#pool.destroy();
  }

  /**
   * Send a request and resolve with the response once its head arrived (after following
   * redirects). Read or `cancel()` the body: the connection is held until then.
   */
  async request(options: RequestOptions): Promise<ClientResponse> {
    const o = this.#options;
    let url = new URL(options.url);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new InvalidOptionError(`url must be http: or https:, got ${url.protocol}`);
    }
    if (url.username !== '' || url.password !== '') {
      throw new InvalidOptionError('credentials in the URL are not supported; send Authorization');
    }
    let method = options.method ?? 'GET';
    checkMethod(method);
    const headers = new HeaderList(options.headers);
    checkRequestHeaders(headers);
    for (const [name, value] of this.#defaultHeaders) {
      if (!headers.has(name)) headers.append(name, value);
    }
    const decompress = options.decompress ?? o.decompress;
    if (decompress && !headers.has('accept-encoding')) {
      headers.set('Accept-Encoding', 'gzip, deflate, br');
    }
    let body: Uint8Array | AsyncIterable<Uint8Array> | undefined =
      typeof options.body === 'string' ? Buffer.from(options.body, 'utf8') : options.body;
    const trailers = options.trailers !== undefined ? new HeaderList(options.trailers) : undefined;
    const maxRedirects = checkInt('maxRedirects', options.maxRedirects, o.maxRedirects, 0, 1000);
    const jar = options.cookieJar ?? this.#cookieJar;
    const t = options.timeouts ?? {};
    const connectMs = checkInt('timeouts.connectMs', t.connectMs, o.connectTimeoutMs, 1, MAX_MS);
    const headersMs = checkInt('timeouts.headersMs', t.headersMs, o.headersTimeoutMs, 1, MAX_MS);
    const bodyMs = checkInt('timeouts.bodyMs', t.bodyMs, o.bodyTimeoutMs, 1, MAX_MS);
    let redirected = false;

    for (let redirects = 0; ; redirects++) {
      const sent = headers.clone();
      if (jar !== undefined) {
        const cookie = jar.cookieHeader(url);
        if (cookie !== undefined) {
          const own = sent.get('cookie');
          sent.set('Cookie', own === undefined ? cookie : `${own}; ${cookie}`);
        }
      }
      const res = await this.#attemptWithRetry({
        url,
        method,
        headers: sent,
        body,
        trailers,
        signal: options.signal,
        connectMs,
        headersMs,
        bodyMs,
        decompress,
        redirected,
      });
      if (jar !== undefined) jar.setCookies(res.headers.getAll('set-cookie'), url);
      if (maxRedirects === 0 || !isRedirect(res.status)) return res;
      const step = nextRedirect({
        status: res.status,
        location: res.headers.get('location'),
        url,
        method,
        headers,
        hasBody: body !== undefined,
        bodyReplayable: body === undefined || body instanceof Uint8Array,
      });
      if (step === undefined) return res;
      await res.dump();
      if (redirects >= maxRedirects) throw new TooManyRedirectsError(maxRedirects, step.url.href);
      url = step.url;
      method = step.method;
      headers.clear();
      headers.appendAll(step.headers);
      if (!step.keepBody) body = undefined;
      redirected = true;
    }
  }

  async #attemptWithRetry(a: Attempt): Promise<ClientResponse> {
    try {
      return await this.#attempt(a);
    } catch (err) {
      // A kept-alive connection the server closed as we reused it: retry once on a fresh
      // one when repeating the request is safe (RFC 9110 §9.2.2 idempotent, replayable body).
      const replayable = a.body === undefined || a.body instanceof Uint8Array;
      if (
        err instanceof StaleConnectionError &&
        IDEMPOTENT.has(a.method.toUpperCase()) &&
        replayable
      ) {
        return this.#attempt(a);
      }
      throw err instanceof StaleConnectionError ? (err.cause as Error) : err;
    }
  }

  async #lease(a: Attempt, origin: Origin): Promise<{ lease: PoolLease; driver: ConnDriver }> {
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, a.connectMs);
    const onAbort = (): void => controller.abort(a.signal?.reason);
    a.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      for (let i = 0; ; i++) {
        if (a.signal?.aborted) throw abortReason(a.signal);
        let lease: PoolLease;
        try {
          lease = await this.#pool.acquire(origin, { signal: controller.signal });
        } catch (err) {
          if (timedOut) throw new ConnectTimeoutError(a.connectMs);
          if (a.signal?.aborted) throw abortReason(a.signal);
          throw err;
        }
        let driver = this.#drivers.get(lease.connection);
        if (driver === undefined) {
          driver = new ConnDriver(lease.connection, this.#limits);
          this.#drivers.set(lease.connection, driver);
        }
        if (
          driver.usable ||
          (this.#options.pipelining > 1 && !driver.core.closing && !lease.connection.closed)
        ) {
          return { lease, driver };
        }
        lease.destroy();
        if (i + 1 >= MAX_LEASE_ATTEMPTS) {
          throw new ConnectionClosedError('No usable connection to ' + origin.host);
        }
      }
    } finally {
      clearTimeout(timer);
      a.signal?.removeEventListener('abort', onAbort);
    }
  }

  async #attempt(a: Attempt): Promise<ClientResponse> {
    if (a.signal?.aborted) throw abortReason(a.signal);
    const url = a.url;
    const secure = url.protocol === 'https:';
    const origin: Origin = {
      scheme: secure ? 'https' : 'http',
      host: url.hostname,
      port: url.port === '' ? (secure ? 443 : 80) : Number(url.port),
      ...(secure ? { alpn: 'http/1.1' } : {}),
    };
    const { lease, driver } = await this.#lease(a, origin);
    driver.requests++;
    const reused = driver.requests > 1;
    return new ExchangeImpl(this.#options, a, lease, driver, reused).run();
  }
}

/** Alias in undici's vocabulary: the per-origin connection manager. */
export const Agent = Http1Client;
export type Agent = Http1Client;

// ---------------------------------------------------------------------------------------
// One request/response exchange on a leased connection

class ExchangeImpl implements Exchange {
  requestId = -1;
  readonly #o: ResolvedClientOptions;
  readonly #a: Attempt;
  readonly #lease: PoolLease;
  readonly #driver: ConnDriver;
  readonly #reused: boolean;
  #resolve!: (res: ClientResponse) => void;
  #reject!: (err: Error) => void;
  #raw: BodyQueue | undefined;
  #headersTimer: ReturnType<typeof setTimeout> | undefined;
  #bodyTimer: ReturnType<typeof setTimeout> | undefined;
  #done = false;
  #gotBytes = false;
  #onAbort: (() => void) | undefined;

  constructor(
    o: ResolvedClientOptions,
    a: Attempt,
    lease: PoolLease,
    driver: ConnDriver,
    reused: boolean,
  ) {
    this.#o = o;
    this.#a = a;
    this.#lease = lease;
    this.#driver = driver;
    this.#reused = reused;
  }

  run(): Promise<ClientResponse> {
    const promise = new Promise<ClientResponse>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    const signal = this.#a.signal;
    if (signal !== undefined) {
      this.#onAbort = () => this.#destroy(abortReason(signal));
      signal.addEventListener('abort', this.#onAbort, { once: true });
    }
    this.#driver
      .serialize(() => this.#send())
      .catch((err: unknown) => {
        this.fail(err instanceof Error ? err : new AbortError(String(err)));
      });
    return promise;
  }

  async #send(): Promise<void> {
    if (this.#done) return;
    const { core } = this.#driver;
    const a = this.#a;
    if (!core.canSend) {
      // Pipelined behind a response that closes the connection: give the lease back (the
      // exchanges ahead still finish on it) and let the caller retry on another one.
      this.#finish();
      this.#lease.release();
      this.#reject(
        new StaleConnectionError(
          new ConnectionClosedError('The connection cannot take another request'),
        ),
      );
      return;
    }
    const body = a.body;
    this.requestId = core.sendRequest({
      method: a.method,
      target: originForm(a.url),
      host: hostValue(a.url),
      headers: a.headers,
      bodyLength: body === undefined ? 0 : body instanceof Uint8Array ? body.length : null,
    });
    this.#driver.add(this);
    this.#armHeadersTimer();
    if (body instanceof Uint8Array) {
      if (body.length > 0) {
        core.sendBody(body);
        core.endBody();
      }
      if (!this.#driver.flush()) await this.#driver.waitDrain();
      return;
    }
    if (!this.#driver.flush()) await this.#driver.waitDrain();
    if (body === undefined) return;
    try {
      for await (const chunk of body) {
        if (this.#done || !core.sendingBody) return;
        if (!(chunk instanceof Uint8Array)) {
          throw new InvalidOptionError('request body iterables must yield Uint8Array chunks');
        }
        core.sendBody(chunk);
        this.#armHeadersTimer();
        if (!this.#driver.flush()) await this.#driver.waitDrain();
      }
      if (this.#done || !core.sendingBody) return;
      core.endBody(a.trailers);
      this.#driver.flush();
      this.#armHeadersTimer();
    } catch (err) {
      core.abandonBody();
      throw err;
    }
  }

  #armHeadersTimer(): void {
    if (this.#done || this.#raw !== undefined) return;
    clearTimeout(this.#headersTimer);
    const ms = this.#a.headersMs;
    this.#headersTimer = setTimeout(() => this.#destroy(new HeadersTimeoutError(ms)), ms);
  }

  #armBodyTimer(): void {
    clearTimeout(this.#bodyTimer);
    this.#bodyTimer = undefined;
    const raw = this.#raw;
    // The timer runs only while we wait for the server, not while the consumer lags.
    if (this.#done || raw === undefined || raw.settled || raw.paused) return;
    const ms = this.#a.bodyMs;
    this.#bodyTimer = setTimeout(() => this.#destroy(new BodyTimeoutError(ms)), ms);
  }

  onResponse(ev: Extract<Http1ClientEvent, { type: 'response' }>): void {
    this.#gotBytes = true;
    clearTimeout(this.#headersTimer);
    const raw = new BodyQueue(
      this.#o.highWaterMark,
      (paused) => {
        this.#driver.setPaused(this, paused);
        this.#armBodyTimer();
      },
      (err) => this.#destroy(err),
    );
    this.#raw = raw;
    const codings =
      this.#a.decompress && !ev.bodyless
        ? decodableCodings(ev.headers.get('content-encoding'))
        : undefined;
    const res = new ClientResponse(
      {
        status: ev.status,
        statusText: ev.reason,
        headers: ev.headers,
        httpVersion: `1.${ev.versionMinor}`,
        url: this.#a.url.href,
        redirected: this.#a.redirected,
        decoded: codings ? decodeBody(raw, codings, this.#o.maxBodyBytes) : undefined,
        maxBodyBytes: this.#o.maxBodyBytes,
      },
      raw,
    );
    this.#armBodyTimer();
    this.#resolve(res);
  }

  onData(data: Uint8Array): void {
    this.#raw?.push(data);
    this.#armBodyTimer();
  }

  onTrailers(trailers: HeaderList): void {
    if (this.#raw !== undefined) this.#raw.trailers = trailers.freeze();
  }

  onEnd(keepAlive: boolean): void {
    if (this.#done) return;
    this.#finish();
    this.#raw?.end();
    // Released only now: the response was read to its end and both sides keep it alive.
    if (keepAlive) this.#lease.release();
    else this.#lease.destroy();
  }

  fail(err: Error): void {
    if (this.#done) return;
    const stale =
      this.#reused &&
      !this.#gotBytes &&
      (err instanceof ConnectionClosedError ||
        (err instanceof Http1ClientError && err.kind === 'RESPONSE_INCOMPLETE'));
    this.#destroy(stale ? new StaleConnectionError(err) : err);
  }

  #finish(): void {
    this.#done = true;
    clearTimeout(this.#headersTimer);
    clearTimeout(this.#bodyTimer);
    if (this.#onAbort !== undefined) this.#a.signal?.removeEventListener('abort', this.#onAbort);
  }

  /** Fail this exchange and destroy its connection (never back to the pool). */
  #destroy(err: Error): void {
    if (this.#done) return;
    this.#finish();
    this.#driver.remove(this);
    if (this.#raw !== undefined) this.#raw.fail(err);
    else this.#reject(err);
    this.#driver.destroy(err);
    this.#lease.destroy(err);
  }
}
