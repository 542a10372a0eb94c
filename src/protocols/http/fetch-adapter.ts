/**
 * Runs web-standard `(Request) => Response` applications on ghostnet's engines
 * (DESIGN §4), and the reverse: calls a ghostnet `Handler` with a `Request` and gets a
 * `Response` (handy for tests and for hosting a ghostnet app inside a fetch-style runtime).
 *
 * Bodies stream both ways with backpressure: the request body is pulled from the
 * `BodyStream` only as the application reads it, and the response body is read from the
 * `Response` only as fast as the engine flushes it (`res.write()` false → `res.drained()`).
 */
import { AbortError } from '../../errors.js';
import { BodyStream } from './body.js';
import { notFound } from './compose.js';
import { HttpError } from './errors.js';
import { HeaderList } from './headers.js';
import { ServerRequest } from './request.js';
import { ServerResponse, statusHasBody } from './response.js';
import type { Handler, HttpRequest, HttpResponse, ResponseSink } from './types.js';

/** What a fetch-style handler gets besides the `Request`. */
export interface FetchContext {
  /** The engine-neutral request (remote address, protocol, id, …). */
  readonly req: HttpRequest;
  /** Route parameters from the router. */
  readonly params: Record<string, string>;
  /** Per-request state shared with middleware. */
  readonly locals: Record<string, unknown>;
}

export type FetchHandler = (
  request: Request,
  context: FetchContext,
) => Response | Promise<Response>;

export interface FetchHandlerOptions {
  /**
   * Authority used in `request.url` when the request has none (HTTP/1.0 without Host).
   * @default 'localhost'
   */
  defaultAuthority?: string;
}

/** Methods whose requests never carry a body for `Request` (it throws if given one). */
const NO_BODY_METHODS = new Set(['GET', 'HEAD']);

/**
 * Connection-specific fields (RFC 9110 §7.6.1) describe one hop; the engine frames the
 * response itself, and HTTP/2 and HTTP/3 forbid them (RFC 9113 §8.2.2).
 */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
]);

/** Wraps a fetch-style application as a ghostnet handler. */
export function fetchHandler(app: FetchHandler, options: FetchHandlerOptions = {}): Handler {
  const defaultAuthority = options.defaultAuthority ?? 'localhost';
  return async (req, res) => {
    const request = toFetchRequest(req, defaultAuthority);
    const response = await app(request, { req, params: req.params, locals: req.locals });
    await writeFetchResponse(req, res, response);
  };
}

/** Builds a web `Request` for `req`; its body pulls from `req.body` on demand. */
export function toFetchRequest(req: HttpRequest, defaultAuthority = 'localhost'): Request {
  const url = requestUrl(req, defaultAuthority);
  const headers = new Headers();
  try {
    for (const [name, value] of req.headers) {
      // HTTP/2 and HTTP/3 pseudo-header fields are not fields (RFC 9113 §8.3).
      if (name.charCodeAt(0) !== 0x3a /* : */) headers.append(name, value);
    }
  } catch (err) {
    throw new HttpError(400, 'A request header cannot be represented as a web Header', {
      code: 'GN_ERR_HTTP_BAD_HEADER',
      cause: err,
    });
  }
  const hasBody = !NO_BODY_METHODS.has(req.method) && req.body.expectedLength !== 0;
  const init: RequestInit & { duplex?: 'half' } = {
    method: req.method,
    headers,
    signal: req.signal,
  };
  if (hasBody) {
    init.body = bodyToReadable(req.body);
    init.duplex = 'half';
  }
  return new Request(url, init);
}

/**
 * A `ReadableStream` over `body` that reads one chunk per pull: with a high-water mark of
 * zero, nothing is read from the engine until the application asks for it.
 */
export function bodyToReadable(body: BodyStream): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const chunk = await body.read();
        if (chunk === null) controller.close();
        else controller.enqueue(chunk);
      },
      cancel() {
        // Nothing to release: the engine discards the unread rest after the handler.
      },
    },
    { highWaterMark: 0 },
  );
}

/**
 * Writes a web `Response` to `res`: status, reason, headers (each Set-Cookie kept as its
 * own field), then the body chunk by chunk, waiting for `drained()` whenever `write()`
 * returns false. If the client goes away, the body stream is cancelled.
 */
export async function writeFetchResponse(
  req: HttpRequest,
  res: HttpResponse,
  response: Response,
): Promise<void> {
  res.status = response.status;
  if (response.statusText !== '') res.statusMessage = response.statusText;
  for (const [name, value] of response.headers) {
    if (name === 'set-cookie' || HOP_BY_HOP.has(name)) continue;
    res.headers.append(name, value);
  }
  for (const cookie of response.headers.getSetCookie()) res.headers.append('set-cookie', cookie);

  const body = response.body;
  if (body === null || req.method === 'HEAD' || !statusHasBody(response.status)) {
    if (body !== null) await body.cancel().catch(() => undefined);
    // HEAD: a Content-Length the application set describes the GET body (RFC 9110 §9.3.2);
    // without one, send the head as is rather than let end() announce a length of 0.
    if (req.method === 'HEAD' && body !== null && !res.headers.has('content-length')) {
      res.writeHead();
    }
    res.end();
    return;
  }

  const reader = body.getReader();
  const signal = req.signal;
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<'aborted'>((resolve) => {
    onAbort = () => resolve('aborted');
    if (signal.aborted) resolve('aborted');
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    for (;;) {
      const next = await Promise.race([reader.read(), aborted]);
      if (next === 'aborted') {
        await reader.cancel(signal.reason).catch(() => undefined);
        return;
      }
      if (next.done) break;
      if (next.value.length === 0) continue;
      if (!res.write(next.value)) {
        if ((await Promise.race([res.drained(), aborted])) === 'aborted') {
          await reader.cancel(signal.reason).catch(() => undefined);
          return;
        }
      }
    }
    res.end();
  } catch (err) {
    await reader.cancel(err).catch(() => undefined);
    // The head may be out already: the only honest ending left is to abandon the stream.
    if (res.headersSent) res.abort(err instanceof Error ? err : undefined);
    else throw err;
  } finally {
    if (onAbort) signal.removeEventListener('abort', onAbort);
    reader.releaseLock();
  }
}

function requestUrl(req: HttpRequest, defaultAuthority: string): string {
  const target = req.target;
  if (target.charCodeAt(0) !== 0x2f /* / */ && /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(target)) {
    return target; // absolute-form (RFC 9112 §3.2.2)
  }
  const authority = req.authority ?? defaultAuthority;
  const path = target.charCodeAt(0) === 0x2f ? target : '/';
  const url = `${req.scheme}://${authority}${path}`;
  if (!URL.canParse(url)) {
    throw new HttpError(400, 'The request target and authority do not form a valid URL', {
      code: 'GN_ERR_HTTP_BAD_URL',
    });
  }
  return url;
}

// ── the reverse: a ghostnet handler behind a fetch-style function ─────────────────────

export interface ToFetchOptions {
  /**
   * Bytes of response body buffered in the `Response` stream before the handler's
   * `res.write()` returns false.
   * @default 65536
   */
  highWaterMark?: number;
}

/**
 * Wraps a ghostnet handler as `(Request) => Promise<Response>`. The `Response` resolves
 * when the handler sends the head (404 if it returns without answering); its body streams
 * as the handler writes (it may go on writing after it returned). Trailers and
 * informational responses have no place in a `Response` and are dropped.
 */
export function toFetch(
  handler: Handler,
  options: ToFetchOptions = {},
): (request: Request) => Promise<Response> {
  const highWaterMark = options.highWaterMark ?? 64 * 1024;
  return async (request) => {
    const url = new URL(request.url);
    const headers = new HeaderList();
    for (const [name, value] of request.headers) headers.append(name, value);
    if (!headers.has('host')) headers.set('host', url.host);
    const length = Number(request.headers.get('content-length') ?? Number.NaN);
    const sink = new StreamSink(highWaterMark);
    const paused: { resume?: (() => void) | undefined } = {};
    const body = new BodyStream({
      expectedLength: request.body === null ? 0 : Number.isInteger(length) ? length : undefined,
      onPull: () => paused.resume?.(),
    });
    const controller = new AbortController();
    request.signal.addEventListener('abort', () => controller.abort(request.signal.reason), {
      once: true,
    });
    const req = new ServerRequest({
      method: request.method,
      target: url.pathname + url.search,
      headers: headers.freeze(),
      protocol: 'http/1.1',
      scheme: url.protocol === 'https:' ? 'https' : 'http',
      authority: url.host,
      remoteAddress: undefined,
      localAddress: undefined,
      body,
      signal: controller.signal,
    });
    pumpRequestBody(request, body, paused);
    const res = new ServerResponse(sink, { highWaterMark });
    const done = Promise.resolve()
      .then(() => handler(req, res))
      .then(() => {
        if (!res.headersSent) notFound(res);
      });
    done.catch((err: unknown) => sink.fail(err));
    return sink.response;
  };
}

/** Feeds the `Request` body into the `BodyStream`, pausing while `push()` says so. */
function pumpRequestBody(
  request: Request,
  body: BodyStream,
  paused: { resume?: (() => void) | undefined },
): void {
  if (request.body === null) {
    body.end();
    return;
  }
  const reader = request.body.getReader();
  const pump = (): void => {
    paused.resume = undefined;
    reader.read().then(
      ({ done, value }) => {
        if (done) return body.end();
        if (body.push(value)) pump();
        else paused.resume = pump;
      },
      (err: unknown) => body.fail(err instanceof Error ? err : new AbortError()),
    );
  };
  pump();
}

/** A `ResponseSink` that turns the head into a `Response` and the body into its stream. */
class StreamSink implements ResponseSink {
  readonly supportsTrailers = false;
  readonly response: Promise<Response>;
  #resolve!: (response: Response) => void;
  #reject!: (err: unknown) => void;
  #controller: ReadableStreamDefaultController<Uint8Array> | undefined;
  #drain: Array<() => void> = [];
  #closed = false;
  readonly #highWaterMark: number;

  constructor(highWaterMark: number) {
    this.#highWaterMark = highWaterMark;
    this.response = new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
  }

  get bufferedAmount(): number {
    const desired = this.#controller?.desiredSize ?? this.#highWaterMark;
    return Math.max(0, this.#highWaterMark - (desired ?? 0));
  }

  writeHead(status: number, reason: string | undefined, headers: HeaderList, end: boolean): void {
    const init: ResponseInit = {
      status,
      headers: [...headers],
      ...(reason === undefined ? {} : { statusText: reason }),
    };
    if (end || !statusHasBody(status)) {
      this.#closed = true;
      this.#resolve(new Response(null, init));
      return;
    }
    const stream = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          this.#controller = controller;
        },
        pull: () => {
          const waiters = this.#drain;
          for (const wake of waiters) wake();
        },
        cancel: () => {
          this.#closed = true;
        },
      },
      new ByteLengthQueuingStrategy({ highWaterMark: this.#highWaterMark }),
    );
    this.#resolve(new Response(stream, init));
  }

  writeBody(chunk: Uint8Array, end: boolean): boolean {
    if (this.#closed || this.#controller === undefined) return true;
    if (chunk.length > 0) this.#controller.enqueue(chunk);
    if (end) this.#close();
    return (this.#controller.desiredSize ?? 0) > 0;
  }

  writeTrailers(_trailers: HeaderList): void {
    this.#close();
  }

  writeInformational(_status: number, _headers: HeaderList): void {}

  onDrain(listener: () => void): void {
    this.#drain.push(listener);
  }

  abort(err?: Error): void {
    this.fail(err ?? new AbortError('The handler abandoned the response'));
  }

  fail(err: unknown): void {
    this.#reject(err);
    if (this.#controller !== undefined && !this.#closed) {
      this.#closed = true;
      this.#controller.error(err);
    }
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#controller?.close();
  }
}
