/** The engine-neutral response object (see types.ts), written through a `ResponseSink`. */
import { ResponseStateError } from './errors.js';
import { HeaderList } from './headers.js';
import type { HttpResponse, ResponseSink } from './types.js';

const encoder = new TextEncoder();
const EMPTY = new Uint8Array(0);

/** Statuses that never carry a body (RFC 9110 §6.4.1, §15.3.5, §15.4.5). */
export function statusHasBody(status: number): boolean {
  return !(status < 200 || status === 204 || status === 304);
}

export interface ServerResponseOptions {
  /**
   * `drained()` resolves once the sink buffers fewer bytes than this.
   * @default 65536
   */
  highWaterMark?: number;
}

export class ServerResponse implements HttpResponse {
  status = 200;
  statusMessage: string | undefined = undefined;
  readonly headers = new HeaderList();
  readonly trailers = new HeaderList();
  #sink: ResponseSink;
  #headersSent = false;
  #finished = false;
  readonly #highWaterMark: number;
  #drainWaiters: Array<() => void> = [];

  constructor(sink: ResponseSink, options: ServerResponseOptions = {}) {
    this.#sink = sink;
    this.#highWaterMark = options.highWaterMark ?? 64 * 1024;
    this.#listen(sink);
  }

  get headersSent(): boolean {
    return this.#headersSent;
  }

  get finished(): boolean {
    return this.#finished;
  }

  get bufferedAmount(): number {
    return this.#sink.bufferedAmount;
  }

  setHeader(name: string, value: string | number): this {
    this.#checkHeadOpen('set a header');
    this.headers.set(name, value);
    return this;
  }

  writeHead(status?: number, headers?: Record<string, string | number>): void {
    this.#checkHeadOpen('write the head');
    if (status !== undefined) this.status = status;
    if (headers) for (const [name, value] of Object.entries(headers)) this.headers.set(name, value);
    this.#sendHead(false);
  }

  write(chunk: Uint8Array | string): boolean {
    if (this.#finished) throw new ResponseStateError('write after end');
    const bytes = typeof chunk === 'string' ? encoder.encode(chunk) : chunk;
    if (!this.#headersSent) this.#sendHead(false);
    if (bytes.length === 0) return this.#sink.bufferedAmount < this.#highWaterMark;
    return this.#sink.writeBody(bytes, false);
  }

  end(chunk?: Uint8Array | string): void {
    if (this.#finished) return;
    this.#finished = true;
    const bytes =
      chunk === undefined ? EMPTY : typeof chunk === 'string' ? encoder.encode(chunk) : chunk;
    if (!this.#headersSent) {
      // The whole body is known: frame it with Content-Length rather than chunked.
      if (
        statusHasBody(this.status) &&
        !this.headers.has('content-length') &&
        this.trailers.size === 0
      ) {
        this.headers.set('content-length', bytes.length);
      }
      if (bytes.length === 0 && this.trailers.size === 0) {
        this.#sendHead(true);
        return;
      }
      this.#sendHead(false);
    }
    if (this.trailers.size > 0 && this.#sink.supportsTrailers) {
      if (bytes.length > 0) this.#sink.writeBody(bytes, false);
      this.#sink.writeTrailers(this.trailers.freeze());
    } else {
      this.#sink.writeBody(bytes, true);
    }
    this.#wakeDrainWaiters();
  }

  drained(): Promise<void> {
    if (this.#finished || this.#sink.bufferedAmount < this.#highWaterMark) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  writeInformational(status: number, headers?: Record<string, string>): void {
    if (status < 100 || status > 199 || status === 101) {
      throw new ResponseStateError(
        `writeInformational takes a 1xx status other than 101, got ${status}`,
      );
    }
    this.#checkHeadOpen('send an informational response');
    this.#sink.writeInformational(status, new HeaderList(headers ?? {}));
  }

  send(body: Uint8Array | string, contentType?: string): void {
    this.#checkHeadOpen('send a body');
    if (!this.headers.has('content-type')) {
      this.headers.set(
        'content-type',
        contentType ??
          (typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/octet-stream'),
      );
    }
    const bytes = typeof body === 'string' ? encoder.encode(body) : body;
    this.headers.set('content-length', bytes.length);
    this.end(bytes);
  }

  json(value: unknown, status?: number): void {
    if (status !== undefined) this.status = status;
    this.send(JSON.stringify(value), 'application/json; charset=utf-8');
  }

  text(body: string, status?: number): void {
    if (status !== undefined) this.status = status;
    this.send(body, 'text/plain; charset=utf-8');
  }

  wrapSink(wrap: (inner: ResponseSink) => ResponseSink): void {
    this.#checkHeadOpen('wrap the body sink');
    this.#sink = wrap(this.#sink);
    this.#listen(this.#sink);
  }

  abort(err?: Error): void {
    if (this.#finished && this.#headersSent) return;
    this.#finished = true;
    this.#sink.abort(err);
    this.#wakeDrainWaiters();
  }

  #sendHead(end: boolean): void {
    this.#headersSent = true;
    if (end) this.#finished = true;
    this.#sink.writeHead(this.status, this.statusMessage, this.headers.freeze(), end);
  }

  #checkHeadOpen(what: string): void {
    if (this.#headersSent) {
      throw new ResponseStateError(`Cannot ${what}: the response head was already sent`);
    }
  }

  #listen(sink: ResponseSink): void {
    sink.onDrain(() => {
      if (sink === this.#sink) this.#wakeDrainWaiters();
    });
  }

  #wakeDrainWaiters(): void {
    if (this.#drainWaiters.length === 0) return;
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const wake of waiters) wake();
  }
}
