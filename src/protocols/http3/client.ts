/**
 * HTTP/3 client (RFC 9114 §4) through the transport's connection pool (STYLE §8: client →
 * pool → connection): QUIC connections per origin are leased like HTTP/2 connections,
 * each carrying up to `maxStreamsPerConnection` concurrent requests (each on its own
 * bidirectional stream), reused until the server sends GOAWAY or the connection closes.
 * When the server's stream limit is lower, requests wait for a stream to finish
 * (RFC 9000 §4.6) rather than fail.
 *
 * Requests the server did not process — past its GOAWAY id, or reset with
 * H3_REQUEST_REJECTED (§4.1.1, §5.2) — are retried once on a new connection.
 */
import { AbortError, GhostnetError, InvalidOptionError } from '../../errors.js';
import { ConnectionPool } from '../../transport/pool.js';
import type { Origin, PoolLease, PoolOptions, PoolStats } from '../../transport/pool.js';
import { QuicEndpoint, QuicStreamLimitError } from '../../transport/quic.js';
import type { QuicOptions, QuicStream } from '../../transport/quic.js';
import { BodyStream } from '../http/body.js';
import { ClientResponse } from '../http/client-response.js';
import { HeaderList } from '../http/headers.js';
import type { HeaderInit } from '../http/headers.js';
import { validateResponse, validateTrailers } from '../http2/fields.js';
import { FrameType, H3ErrorCode, errorCodeName } from './codes.js';
import type { Http3ConnectionError, Http3StreamError } from './errors.js';
import { encodeFrameHeader } from './frames.js';
import { MessageReader } from './message.js';
import type { FieldLine } from './qpack/index.js';
import { QuicPoolHandle } from './pool-handle.js';
import { Http3Session } from './session.js';
import type { Http3Settings } from './session.js';

export type Http3RequestBody = Uint8Array | string | AsyncIterable<Uint8Array>;

export interface Http3RequestOptions {
  url: string | URL;
  /** @default 'GET' */
  method?: string;
  headers?: HeaderInit;
  body?: Http3RequestBody;
  trailers?: HeaderInit;
  signal?: AbortSignal;
  /** From sending the request to its response head. @default client's headersTimeoutMs */
  headersTimeoutMs?: number;
}

export interface Http3ClientOptions {
  /** TLS and QUIC settings for every connection (ALPN is "h3"). */
  quic?: Omit<QuicOptions, 'alpn'>;
  settings?: Http3Settings;
  /** @default 10000 */
  connectTimeoutMs?: number;
  /** @default 300000 */
  headersTimeoutMs?: number;
  /** Response body bytes buffered before the stream is paused. @default 65536 */
  highWaterMark?: number;
  /** Largest body `bytes()`, `text()` and `json()` collect. @default 67108864 */
  maxBodyBytes?: number;
  /** Bind the client's UDP socket here. @default '127.0.0.1' for loopback targets, else '0.0.0.0' */
  localHost?: string;
  /** An endpoint to connect from instead of a private one. */
  endpoint?: QuicEndpoint;
  /** Concurrent requests per connection before the pool opens another. @default 100 */
  maxStreamsPerConnection?: number;
  /** Pool settings (connections per origin, idle timeout, queueing). */
  pool?: Omit<PoolOptions, 'maxStreamsPerConnection' | 'connectTimeoutMs'>;
}

/** A request failed at the HTTP/3 layer: the stream was reset, or the response was malformed. */
export class Http3RequestError extends GhostnetError {
  readonly wireCode: number | undefined;

  constructor(message: string, wireCode?: number, options?: { cause?: unknown }) {
    super('GN_ERR_H3_REQUEST', message, options);
    this.wireCode = wireCode;
  }
}

/** An HTTP/3 response (see ClientResponse). */
export class Http3ClientResponse extends ClientResponse {
  constructor(
    status: number,
    headers: HeaderList,
    url: string,
    informational: { status: number; headers: HeaderList }[],
    body: BodyStream,
    cancel: () => void,
  ) {
    super('3', status, headers, url, informational, body, cancel);
  }
}

const encoder = new TextEncoder();

function split(fields: readonly FieldLine[]): [string[], string[]] {
  const names: string[] = [];
  const values: string[] = [];
  for (const [n, v] of fields) {
    names.push(n);
    values.push(v);
  }
  return [names, values];
}

/** Request fields that are connection-specific and not sent over HTTP/3 (§4.2). */
const DROPPED = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'host',
]);

class ClientExchange {
  readonly session: ClientSession;
  readonly stream: QuicStream;
  readonly url: string;
  readonly reader: MessageReader;
  readonly informational: { status: number; headers: HeaderList }[] = [];
  readonly #resolve: (r: Http3ClientResponse) => void;
  readonly #reject: (err: Error) => void;
  readonly #head: string;
  body: BodyStream | undefined;
  settled = false;
  #expected = -1;
  #received = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    session: ClientSession,
    stream: QuicStream,
    url: string,
    method: string,
    headersTimeoutMs: number,
    resolve: (r: Http3ClientResponse) => void,
    reject: (err: Error) => void,
  ) {
    this.session = session;
    this.stream = stream;
    this.url = url;
    this.#head = method;
    this.#resolve = resolve;
    this.#reject = reject;
    stream.destroyCode = H3ErrorCode.H3_REQUEST_CANCELLED;
    this.reader = new MessageReader(
      stream,
      session.decoder,
      {
        interimAllowed: true,
        onHeaders: (f) => this.#onHead(f),
        onData: (c) => this.#onData(c),
        onTrailers: (f) => this.#onTrailers(f),
        onEnd: () => this.#onEnd(),
        onFieldsTooLarge: () =>
          this.fail(
            new Http3RequestError(
              'response header section exceeds maxFieldSectionSize',
              H3ErrorCode.H3_EXCESSIVE_LOAD,
            ),
          ),
        onStreamError: (e) => this.#streamError(e),
        onConnectionError: (e) => session.fail(e),
      },
      () => session.flushDecoder(),
      session.settings.maxFramePayload,
    );
    stream.on('close', () => this.#closed());
    stream.on('error', () => {});
    if (headersTimeoutMs > 0) {
      this.#timer = setTimeout(
        () => this.fail(new Http3RequestError(`no response head within ${headersTimeoutMs} ms`)),
        headersTimeoutMs,
      );
      this.#timer.unref();
    }
  }

  #onHead(fields: FieldLine[]): void {
    const [names, values] = split(fields);
    const r = validateResponse(names, values);
    if (typeof r === 'string') {
      this.#streamError({ wireCode: H3ErrorCode.H3_MESSAGE_ERROR, message: r });
      return;
    }
    const headers = HeaderList.fromTrusted(r.names, r.names.slice(), r.values);
    if (r.status < 200) {
      this.informational.push({ status: r.status, headers });
      return;
    }
    clearTimeout(this.#timer);
    const noBody = this.#head === 'HEAD' || r.status === 204 || r.status === 304;
    this.#expected = noBody ? 0 : r.contentLength;
    const c = this.session.client;
    this.body = new BodyStream({
      highWaterMark: c.highWaterMark,
      limit: c.maxBodyBytes,
      ...(r.contentLength >= 0 && !noBody ? { expectedLength: r.contentLength } : {}),
      onPull: () => this.reader.resume(),
    });
    this.settled = true;
    this.#resolve(
      new Http3ClientResponse(r.status, headers, this.url, this.informational, this.body, () =>
        this.#cancel(),
      ),
    );
  }

  #onData(chunk: Uint8Array): boolean {
    this.#received += chunk.length;
    if (this.#expected >= 0 && this.#received > this.#expected) {
      this.#streamError({
        wireCode: H3ErrorCode.H3_MESSAGE_ERROR,
        message: 'response body longer than content-length',
      });
      return true;
    }
    return this.body?.push(chunk) ?? true;
  }

  #onTrailers(fields: FieldLine[]): void {
    const [names, values] = split(fields);
    const t = validateTrailers(names, values);
    if (typeof t === 'string') {
      this.#streamError({ wireCode: H3ErrorCode.H3_MESSAGE_ERROR, message: t });
      return;
    }
    this.body?.end(HeaderList.fromTrusted(t.names, t.names.slice(), t.values));
  }

  #onEnd(): void {
    if (this.#expected >= 0 && this.#received !== this.#expected) {
      this.#streamError({
        wireCode: H3ErrorCode.H3_MESSAGE_ERROR,
        message: 'response body shorter than content-length',
      });
      return;
    }
    this.body?.end();
    if (this.#lingering) this.#release();
  }

  #streamError(e: Pick<Http3StreamError, 'wireCode' | 'message'>): void {
    this.reader.cancel();
    this.stream.reset(e.wireCode);
    this.stream.stopSending(e.wireCode);
    this.fail(new Http3RequestError(`malformed response: ${e.message}`, e.wireCode));
  }

  #cancel(): void {
    this.reader.cancel();
    this.stream.destroy();
  }

  /** Released when the stream closes (the pool counts one lease per request). */
  lease: PoolLease | undefined;

  #released = false;
  #lingering = false;

  #closed(): void {
    if (
      this.stream.peerResetCode === undefined &&
      this.session.quic.closeError === undefined &&
      !this.reader.settled
    ) {
      // The FIN arrived, but frames before it still wait in the reader: a header section
      // blocked on the encoder stream (RFC 9204 §2.1.2), or body the consumer has not pulled.
      // The exchange ends when the reader does (#onEnd), fails, or the connection closes.
      this.#lingering = true;
      return;
    }
    this.#release();
  }

  #release(): void {
    if (this.#released) return;
    this.#released = true;
    this.#lingering = false;
    clearTimeout(this.#timer);
    this.reader.cancel();
    this.session.exchanges.delete(this);
    this.session.client.streamFreed();
    // §5.2: after GOAWAY the pool closes the connection once its last lease is back.
    this.lease?.release();
    this.lease = undefined;
    const code = this.stream.peerResetCode;
    if (this.body !== undefined && this.body.complete) return;
    const reason =
      code !== undefined
        ? new Http3RequestError(`the server reset the stream with ${errorCodeName(code)}`, code)
        : (this.session.quic.closeError ??
          new Http3RequestError('the stream closed before the response was complete'));
    this.fail(reason);
  }

  fail(err: Error): void {
    clearTimeout(this.#timer);
    if (!this.settled) {
      this.settled = true;
      this.#reject(err);
      this.#cancel();
    } else if (this.body !== undefined && !this.body.complete) this.body.fail(err);
    if (this.#lingering) this.#release();
  }
}

class ClientSession extends Http3Session {
  readonly client: Http3Client;
  readonly handle: QuicPoolHandle;
  readonly exchanges = new Set<ClientExchange>();

  constructor(client: Http3Client, handle: QuicPoolHandle) {
    super(handle.quic, client.options.settings ?? {}, new Map());
    this.client = client;
    this.handle = handle;
  }

  get usable(): boolean {
    return !this.closed && !this.quic.closed && this.goawayId === undefined;
  }

  protected onRequestStream(s: QuicStream): void {
    // §6.1: clients MUST NOT accept server-initiated bidirectional streams.
    this.connectionError(
      H3ErrorCode.H3_STREAM_CREATION_ERROR,
      `server-initiated bidirectional stream ${s.streamId}`,
    );
  }

  protected onUnblocked(ids: number[]): void {
    for (const ex of this.exchanges) if (ids.includes(ex.stream.streamId)) ex.reader.unblock();
  }

  protected override onGoaway(id: number): void {
    this.handle.goaway();
    // §5.2: requests on streams at or past the id were not processed; they may be retried.
    for (const ex of this.exchanges) {
      if (ex.stream.streamId >= id)
        ex.fail(
          new Http3RequestError(
            'the server sent GOAWAY before processing the request',
            H3ErrorCode.H3_REQUEST_REJECTED,
          ),
        );
    }
  }

  protected onClosed(err: Error | undefined): void {
    for (const ex of [...this.exchanges])
      ex.fail(err ?? new Http3RequestError('the connection closed'));
  }

  fail(err: Http3ConnectionError | Error): void {
    const code = (err as Http3ConnectionError).wireCode;
    this.connectionError(
      typeof code === 'number' ? code : H3ErrorCode.H3_INTERNAL_ERROR,
      err.message,
    );
  }
}

export class Http3Client {
  readonly options: Readonly<Http3ClientOptions>;
  readonly highWaterMark: number;
  readonly maxBodyBytes: number;
  readonly #sessions = new Map<QuicPoolHandle, ClientSession>();
  readonly #pool: ConnectionPool;
  readonly #quicOptions: QuicOptions;
  #endpoint: Promise<QuicEndpoint> | undefined;
  #waiters: (() => void)[] = [];
  #closed = false;

  constructor(options: Http3ClientOptions = {}) {
    this.options = options;
    this.highWaterMark = options.highWaterMark ?? 64 * 1024;
    this.maxBodyBytes = options.maxBodyBytes ?? 64 * 1024 * 1024;
    this.#quicOptions = { ...options.quic, alpn: ['h3'] };
    this.#pool = new ConnectionPool(
      { connect: (origin, signal) => this.#connect(origin, signal) },
      {
        maxConnectionsPerOrigin: 1,
        ...options.pool,
        maxStreamsPerConnection: options.maxStreamsPerConnection ?? 100,
        connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
        name: 'h3-pool',
      },
    );
  }

  /** The pool's view: connections per origin, idle, busy, pending. */
  stats(): PoolStats {
    return this.#pool.stats();
  }

  async #connect(origin: Origin, signal: AbortSignal): Promise<QuicPoolHandle> {
    const endpoint = await this.#getEndpoint(origin.host);
    const quic = await endpoint.connect({
      ...this.#quicOptions,
      host: origin.host,
      port: origin.port,
      timeoutMs: this.options.connectTimeoutMs ?? 10_000,
      signal,
    });
    const handle = new QuicPoolHandle(quic);
    const session = new ClientSession(this, handle);
    this.#sessions.set(handle, session);
    quic.once('close', () => this.#sessions.delete(handle));
    return handle;
  }

  async request(options: Http3RequestOptions): Promise<Http3ClientResponse> {
    try {
      return await this.#request(options);
    } catch (err) {
      // §4.1.1, §5.2: a request the server rejected unprocessed is safe to retry once.
      if (
        err instanceof Http3RequestError &&
        err.wireCode === H3ErrorCode.H3_REQUEST_REJECTED &&
        options.body === undefined
      ) {
        return this.#request(options);
      }
      throw err;
    }
  }

  async #request(options: Http3RequestOptions): Promise<Http3ClientResponse> {
    if (this.#closed) throw new Http3RequestError('the client is closed');
    const url = new URL(options.url);
    if (url.protocol !== 'https:')
      throw new InvalidOptionError(`HTTP/3 needs an https: URL, got ${url.protocol}`);
    options.signal?.throwIfAborted();
    const method = (options.method ?? 'GET').toUpperCase();
    const origin: Origin = {
      scheme: 'https',
      host: url.hostname.replace(/^\[|\]$/g, ''),
      port: url.port === '' ? 443 : Number(url.port),
      alpn: 'h3',
    };
    const lease = await this.#pool.acquire(
      origin,
      options.signal !== undefined ? { signal: options.signal } : {},
    );
    const session = this.#sessions.get(lease.connection as QuicPoolHandle);
    let stream: QuicStream;
    try {
      if (session === undefined)
        throw new Http3RequestError('the connection closed', H3ErrorCode.H3_REQUEST_REJECTED);
      stream = await this.#openStream(session, options.signal);
    } catch (err) {
      lease.release();
      throw err;
    }
    const authority = url.host;
    const fields: FieldLine[] = [
      [':method', method],
      [':scheme', 'https'],
      [':authority', authority],
      [':path', `${url.pathname}${url.search}`],
    ];
    const headers = new HeaderList(options.headers);
    for (let i = 0; i < headers.size; i++) {
      const name = headers.lowerNameAt(i);
      if (!DROPPED.has(name)) fields.push([name, headers.valueAt(i)]);
    }
    let body = options.body;
    if (typeof body === 'string') body = encoder.encode(body);
    if (body instanceof Uint8Array && !headers.has('content-length'))
      fields.push(['content-length', String(body.length)]);
    return new Promise<Http3ClientResponse>((resolve, reject) => {
      const ex = new ClientExchange(
        session,
        stream,
        url.href,
        method,
        options.headersTimeoutMs ?? this.options.headersTimeoutMs ?? 300_000,
        resolve,
        reject,
      );
      session.exchanges.add(ex);
      ex.lease = lease;
      if (options.signal !== undefined) {
        const onAbort = (): void =>
          ex.fail(new AbortError('The request was aborted', { cause: options.signal!.reason }));
        options.signal.addEventListener('abort', onAbort, { once: true });
        stream.once('close', () => options.signal!.removeEventListener('abort', onAbort));
      }
      const block = session.encodeFields(stream.streamId, fields);
      stream.writev([encodeFrameHeader(FrameType.HEADERS, block.length), block]);
      void this.#sendBody(session, stream, body, options.trailers).catch((err: unknown) =>
        ex.fail(err as Error),
      );
    });
  }

  async #sendBody(
    session: ClientSession,
    stream: QuicStream,
    body: Uint8Array | AsyncIterable<Uint8Array> | undefined,
    trailers: HeaderInit | undefined,
  ): Promise<void> {
    const send = async (chunk: Uint8Array): Promise<void> => {
      if (chunk.length === 0 || !stream.writable) return;
      if (!stream.writev([encodeFrameHeader(FrameType.DATA, chunk.length), chunk])) {
        await new Promise<void>((resolve) => {
          const done = (): void => {
            stream.off('drain', done);
            stream.off('close', done);
            resolve();
          };
          stream.on('drain', done);
          stream.on('close', done);
        });
      }
    };
    if (body instanceof Uint8Array) await send(body);
    else if (body !== undefined) for await (const chunk of body) await send(chunk);
    if (!stream.writable) return;
    if (trailers !== undefined) {
      const t = new HeaderList(trailers);
      const fields: FieldLine[] = [];
      for (let i = 0; i < t.size; i++) fields.push([t.lowerNameAt(i), t.valueAt(i)]);
      const block = session.encodeFields(stream.streamId, fields);
      stream.writev([encodeFrameHeader(FrameType.HEADERS, block.length), block]);
    }
    stream.end();
  }

  async #openStream(session: ClientSession, signal: AbortSignal | undefined): Promise<QuicStream> {
    for (;;) {
      if (!session.usable)
        throw new Http3RequestError(
          'the connection is going away',
          H3ErrorCode.H3_REQUEST_REJECTED,
        );
      try {
        return session.quic.openStream();
      } catch (err) {
        if (!(err instanceof QuicStreamLimitError)) throw err;
      }
      // Wait for a stream to finish (the server then raises MAX_STREAMS), bounded.
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 50);
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
      signal?.throwIfAborted();
    }
  }

  /** A request stream closed: waiters for stream credit may try again. */
  streamFreed(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) setTimeout(f, 1);
  }

  #getEndpoint(host: string): Promise<QuicEndpoint> {
    if (this.options.endpoint !== undefined) return Promise.resolve(this.options.endpoint);
    const v6 = host.includes(':');
    const loopback = host === 'localhost' || host.startsWith('127.') || host === '::1';
    this.#endpoint ??= QuicEndpoint.create({
      host:
        this.options.localHost ??
        (v6 ? (loopback ? '::1' : '::') : loopback ? '127.0.0.1' : '0.0.0.0'),
    });
    return this.#endpoint;
  }

  /** Closes every connection (H3_NO_ERROR) and the client's own endpoint. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const s of this.#sessions.values()) s.quic.destroy(H3ErrorCode.H3_NO_ERROR);
    this.#sessions.clear();
    this.#pool.destroy();
    if (this.#endpoint !== undefined) await (await this.#endpoint).close(H3ErrorCode.H3_NO_ERROR);
  }
}
