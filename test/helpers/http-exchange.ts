/**
 * Builds a request and response pair on an in-memory recording sink, so router, middleware
 * and static-file tests run without any engine or socket.
 */
import { BodyStream } from '../../src/protocols/http/body.js';
import { HeaderList } from '../../src/protocols/http/headers.js';
import { ServerRequest } from '../../src/protocols/http/request.js';
import { ServerResponse } from '../../src/protocols/http/response.js';
import type { HttpProtocol, ResponseSink } from '../../src/protocols/http/types.js';

export class RecordingSink implements ResponseSink {
  status: number | undefined;
  reason: string | undefined;
  headers: HeaderList | undefined;
  informational: Array<{ status: number; headers: HeaderList }> = [];
  chunks: Uint8Array[] = [];
  trailers: HeaderList | undefined;
  ended = false;
  aborted: Error | true | undefined;
  /** When set, writeBody returns false once this many bytes are buffered. */
  capacity = Infinity;
  buffered = 0;
  readonly supportsTrailers: boolean;
  #drain: Array<() => void> = [];

  constructor(options: { supportsTrailers?: boolean } = {}) {
    this.supportsTrailers = options.supportsTrailers ?? true;
  }

  writeHead(status: number, reason: string | undefined, headers: HeaderList, end: boolean): void {
    if (this.status !== undefined) throw new Error('head written twice');
    this.status = status;
    this.reason = reason;
    this.headers = headers;
    if (end) this.ended = true;
  }

  writeBody(chunk: Uint8Array, end: boolean): boolean {
    if (this.ended) throw new Error('body written after end');
    if (chunk.length > 0) this.chunks.push(chunk);
    this.buffered += chunk.length;
    if (end) this.ended = true;
    return this.buffered < this.capacity;
  }

  writeTrailers(trailers: HeaderList): void {
    this.trailers = trailers;
    this.ended = true;
  }

  writeInformational(status: number, headers: HeaderList): void {
    this.informational.push({ status, headers });
  }

  onDrain(listener: () => void): void {
    this.#drain.push(listener);
  }

  get bufferedAmount(): number {
    return this.buffered;
  }

  abort(err?: Error): void {
    this.aborted = err ?? true;
  }

  /** Simulates the engine flushing everything: buffered drops to 0 and drain fires. */
  flush(): void {
    this.buffered = 0;
    for (const listener of this.#drain) listener();
  }

  body(): Buffer {
    return Buffer.concat(this.chunks);
  }

  text(): string {
    return this.body().toString('utf8');
  }
}

export interface ExchangeInit {
  method?: string;
  target?: string;
  headers?: Record<string, string> | Array<[string, string]>;
  /** The request body, delivered in these chunks (then ended). Omit for an empty body. */
  body?: Array<Uint8Array | string> | string;
  protocol?: HttpProtocol;
  scheme?: 'http' | 'https';
  remoteAddress?: string;
  supportsTrailers?: boolean;
  /** The response's high-water mark (see ServerResponseOptions). */
  highWaterMark?: number;
}

export function createExchange(init: ExchangeInit = {}) {
  const headers = new HeaderList(init.headers ?? {});
  const chunks =
    init.body === undefined ? [] : typeof init.body === 'string' ? [init.body] : init.body;
  const bytes = chunks.map((c) => (typeof c === 'string' ? new TextEncoder().encode(c) : c));
  const length = bytes.reduce((n, c) => n + c.length, 0);
  const body = new BodyStream({ expectedLength: length });
  for (const chunk of bytes) body.push(chunk);
  body.end();
  const controller = new AbortController();
  const req = new ServerRequest({
    method: init.method ?? 'GET',
    target: init.target ?? '/',
    headers: headers.freeze(),
    protocol: init.protocol ?? 'http/1.1',
    scheme: init.scheme ?? 'http',
    authority: headers.get('host') ?? 'localhost',
    remoteAddress: { address: init.remoteAddress ?? '127.0.0.1', port: 50000, family: 'IPv4' },
    localAddress: { address: '127.0.0.1', port: 8080, family: 'IPv4' },
    body,
    signal: controller.signal,
  });
  const sink = new RecordingSink({ supportsTrailers: init.supportsTrailers ?? true });
  const res = new ServerResponse(sink, {
    request: req,
    ...(init.highWaterMark === undefined ? {} : { highWaterMark: init.highWaterMark }),
  });
  return { req, res, sink, abort: (reason?: unknown) => controller.abort(reason) };
}
