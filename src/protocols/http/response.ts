/** The engine-neutral response object (see types.ts), written through a `ResponseSink`. */
import { ResponseStateError } from './errors.js';
import { HeaderList } from './headers.js';
import { sendFile } from './static/send-file.js';
import type { SendFileOptions } from './static/send-file.js';
import type { HttpRequest, HttpResponse, ResponseSink } from './types.js';

const encoder = new TextEncoder();
/** RFC 9112 §4: reason-phrase = *( HTAB / SP / VCHAR / obs-text ). */
const VALID_REASON = /^[\t\x20-\x7e\x80-\xff]*$/;
const EMPTY = new Uint8Array(0);

/** Statuses that never carry a body (RFC 9110 §6.4.1, §15.3.5, §15.4.5). */
export function statusHasBody(status: number): boolean {
  return !(status < 200 || status === 204 || status === 304);
}

export interface ServerResponseOptions {
  /**
   * Only used by `write('')`, which reports whether the sink holds fewer bytes than this.
   * Backpressure itself follows the sink: after a refused `writeBody`, `drained()` waits
   * for the sink's drain.
   * @default 65536
   */
  highWaterMark?: number;
  /** The request this response answers; `sendFile` needs it for conditionals and ranges. */
  request?: HttpRequest;
}

export class ServerResponse implements HttpResponse {
  status = 200;
  statusMessage: string | undefined = undefined;
  readonly headers = new HeaderList();
  #trailers: HeaderList | undefined = undefined;
  #sink: ResponseSink;
  #headersSent = false;
  #finished = false;
  readonly #highWaterMark: number;
  readonly #request: HttpRequest | undefined;
  #drainWaiters: Array<() => void> = [];
  /** The sink refused the last write and has not signalled drain since. */
  #needDrain = false;
  /** The sink whose drain we listen to (registered on the first refused write). */
  #listening: ResponseSink | undefined = undefined;

  constructor(sink: ResponseSink, options: ServerResponseOptions = {}) {
    this.#sink = sink;
    this.#highWaterMark = options.highWaterMark ?? 64 * 1024;
    this.#request = options.request;
  }

  /** Trailer fields sent after the body (created on first use: most responses have none). */
  get trailers(): HeaderList {
    this.#trailers ??= new HeaderList();
    return this.#trailers;
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
    if (bytes.length === 0)
      return !this.#needDrain && this.#sink.bufferedAmount < this.#highWaterMark;
    const ok = this.#sink.writeBody(bytes, false);
    if (!ok) this.#awaitDrain();
    return ok;
  }

  end(chunk?: Uint8Array | string): void {
    if (this.#finished) return;
    this.#finished = true;
    const bytes =
      chunk === undefined ? EMPTY : typeof chunk === 'string' ? encoder.encode(chunk) : chunk;
    if (!this.#headersSent && !statusHasBody(this.status)) {
      // 1xx/204/304 never carry a body (RFC 9110 §6.4.1): the bytes are dropped.
      this.#sendHead(true);
      return;
    }
    if (!this.#headersSent) {
      // The whole body is known: frame it with Content-Length rather than chunked.
      const trailers = this.#trailers?.size ?? 0;
      if (trailers === 0 && !this.headers.has('content-length')) {
        HeaderList.setTrusted(this.headers, 'content-length', String(bytes.length));
      }
      if (bytes.length === 0 && trailers === 0) {
        this.#sendHead(true);
        return;
      }
      this.#sendHead(false);
    }
    const trailers = this.#trailers;
    if (trailers !== undefined && trailers.size > 0 && this.#sink.supportsTrailers) {
      if (bytes.length > 0) this.#sink.writeBody(bytes, false);
      this.#sink.writeTrailers(trailers.freeze());
    } else {
      this.#sink.writeBody(bytes, true);
    }
    this.#wakeDrainWaiters();
  }

  drained(): Promise<void> {
    if (this.#finished || !this.#needDrain) return Promise.resolve();
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
    if (!statusHasBody(this.status)) {
      this.end();
      return;
    }
    if (!this.headers.has('content-type')) {
      this.headers.set(
        'content-type',
        contentType ??
          (typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/octet-stream'),
      );
    }
    const bytes = typeof body === 'string' ? encoder.encode(body) : body;
    HeaderList.setTrusted(this.headers, 'content-length', String(bytes.length));
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

  sendFile(path: string, options?: SendFileOptions): Promise<void> {
    if (this.#request === undefined) {
      return Promise.reject(
        new ResponseStateError(
          'sendFile needs the request: construct the response with { request }',
        ),
      );
    }
    return sendFile(this.#request, this, path, options);
  }

  wrapSink(wrap: (inner: ResponseSink) => ResponseSink): void {
    this.#checkHeadOpen('wrap the body sink');
    this.#sink = wrap(this.#sink);
    this.#listening = undefined;
  }

  abort(err?: Error): void {
    if (this.#finished && this.#headersSent) return;
    this.#finished = true;
    this.#sink.abort(err);
    this.#wakeDrainWaiters();
  }

  #sendHead(end: boolean): void {
    if (!Number.isInteger(this.status) || this.status < 200 || this.status > 999) {
      throw new ResponseStateError(
        `Invalid final status ${this.status}: use 200-999 (1xx goes through writeInformational)`,
      );
    }
    if (this.statusMessage !== undefined && !VALID_REASON.test(this.statusMessage)) {
      throw new ResponseStateError('Invalid statusMessage: control characters are not allowed');
    }
    this.#headersSent = true;
    if (end) this.#finished = true;
    this.#sink.writeHead(this.status, this.statusMessage, this.headers.freeze(), end);
  }

  #checkHeadOpen(what: string): void {
    if (this.#headersSent) {
      throw new ResponseStateError(`Cannot ${what}: the response head was already sent`);
    }
  }

  /**
   * The sink refused a write: wait for its drain. The listener is registered only now —
   * most responses never fill the sink, and a closure per response is measurable.
   */
  #awaitDrain(): void {
    this.#needDrain = true;
    const sink = this.#sink;
    if (this.#listening === sink) return;
    this.#listening = sink;
    sink.onDrain(() => {
      if (sink !== this.#sink) return;
      this.#needDrain = false;
      this.#wakeDrainWaiters();
    });
  }

  #wakeDrainWaiters(): void {
    if (this.#drainWaiters.length === 0) return;
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const wake of waiters) wake();
  }
}
