/**
 * Request logger: one structured line per request — method, path (without the query, which
 * often carries tokens), status, duration in milliseconds, body bytes sent and request id —
 * and an `X-Request-Id` response header carrying that id.
 *
 * `req.id` already honours a valid client X-Request-Id (request.ts), so a caller's id flows
 * through to the logs and back. Bytes are counted on the sink as the engine receives them,
 * so they are the bytes on the wire after any compression placed inside this middleware.
 * The line is written once the chain has returned and the response has finished (or was
 * aborted), so streamed and compressed bodies are counted whole.
 *
 * `req.locals.log` is set to a child logger bound to the request id, for handlers.
 */
import { InvalidOptionError } from '../../../errors.js';
import type { Logger } from '../../../monitoring/logger.js';
import { HttpError } from '../errors.js';
import type { HeaderList } from '../headers.js';
import type { Middleware, ResponseSink } from '../types.js';
import { booleanOption, checkObject, functionOption } from './internal.js';

export type RequestLogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface RequestLogRecord {
  req: string;
  method: string;
  path: string;
  status: number;
  durationMs: number;
  bytes: number;
  /** True when the response was aborted instead of finished. */
  aborted?: boolean;
}

export interface RequestLoggerOptions {
  /** Where the lines go (a pino logger or any `Logger`). Required. */
  logger: Logger;
  /**
   * Milliseconds from an arbitrary epoch; inject a fake clock in tests.
   * @default performance.now
   */
  now?: () => number;
  /**
   * Level per response status.
   * @default 5xx → 'error', 4xx → 'warn', others → 'info'
   */
  level?: (status: number) => RequestLogLevel;
  /**
   * Set `X-Request-Id: <req.id>` on the response.
   * @default true
   */
  setRequestIdHeader?: boolean;
}

const defaultLevel = (status: number): RequestLogLevel =>
  status >= 500 ? 'error' : status >= 400 ? 'warn' : 'info';

export function requestLogger(options: RequestLoggerOptions): Middleware {
  checkObject('requestLogger()', options);
  const logger = options.logger;
  if (logger === null || typeof logger !== 'object' || typeof logger.info !== 'function') {
    throw new InvalidOptionError('requestLogger(): pass { logger } (a pino logger or a Logger)');
  }
  const now =
    functionOption<() => number>('requestLogger()', 'now', options.now) ??
    (() => performance.now());
  const level =
    functionOption<(status: number) => RequestLogLevel>(
      'requestLogger()',
      'level',
      options.level,
    ) ?? defaultLevel;
  const setHeader = booleanOption(
    'requestLogger()',
    'setRequestIdHeader',
    options.setRequestIdHeader,
    true,
  );

  return async function requestLoggerMiddleware(req, res, next) {
    const start = now();
    const id = req.id;
    req.locals['log'] = logger.child({ req: id });
    let meter: MeteringSink | undefined;
    if (!res.headersSent) {
      if (setHeader) res.headers.set('x-request-id', id);
      res.wrapSink((inner) => (meter = new MeteringSink(inner)));
    }
    let failure: unknown;
    let failed = false;
    try {
      await next();
    } catch (err) {
      failed = true;
      failure = err;
      throw err;
    } finally {
      let written = false;
      const write = (): void => {
        if (written) return;
        written = true;
        req.signal.removeEventListener('abort', write);
        let status = meter?.status ?? res.status;
        // The error goes on to an outer recovery middleware, which answers with this status.
        if (failed && meter?.status === undefined) {
          status = failure instanceof HttpError ? failure.status : 500;
        }
        const record: RequestLogRecord = {
          req: id,
          method: req.method,
          path: req.path,
          status,
          durationMs: Math.max(0, Math.round((now() - start) * 1000) / 1000),
          bytes: meter?.bytes ?? 0,
        };
        if (meter?.aborted || (req.signal.aborted && !meter?.done)) record.aborted = true;
        emit(logger, level(status), record, `${req.method} ${req.path} ${status}`);
      };
      if (!meter || failed || meter.done) write();
      else {
        // Also when the client goes away and the engine drops the response without
        // telling this sink.
        meter.onDone(write);
        if (req.signal.aborted) write();
        else req.signal.addEventListener('abort', write, { once: true });
      }
    }
  };
}

function emit(logger: Logger, level: RequestLogLevel, record: RequestLogRecord, msg: string) {
  try {
    logger[level](record, msg);
  } catch {
    // Logging must never fail a request.
  }
}

/** A pass-through sink that records the status and counts body bytes. */
class MeteringSink implements ResponseSink {
  readonly #inner: ResponseSink;
  status: number | undefined;
  bytes = 0;
  done = false;
  aborted = false;
  #onDone: (() => void) | undefined;

  constructor(inner: ResponseSink) {
    this.#inner = inner;
  }

  get bufferedAmount(): number {
    return this.#inner.bufferedAmount;
  }

  get supportsTrailers(): boolean {
    return this.#inner.supportsTrailers;
  }

  onDone(fn: () => void): void {
    this.#onDone = fn;
  }

  writeHead(status: number, reason: string | undefined, headers: HeaderList, end: boolean): void {
    this.status = status;
    this.#inner.writeHead(status, reason, headers, end);
    if (end) this.#finish();
  }

  writeBody(chunk: Uint8Array, end: boolean): boolean {
    this.bytes += chunk.length;
    const ok = this.#inner.writeBody(chunk, end);
    if (end) this.#finish();
    return ok;
  }

  writeTrailers(trailers: HeaderList): void {
    this.#inner.writeTrailers(trailers);
    this.#finish();
  }

  writeInformational(status: number, headers: HeaderList): void {
    this.#inner.writeInformational(status, headers);
  }

  onDrain(listener: () => void): void {
    this.#inner.onDrain(listener);
  }

  abort(err?: Error): void {
    this.aborted = true;
    this.#inner.abort(err);
    this.#finish();
  }

  #finish(): void {
    if (this.done) return;
    this.done = true;
    const fn = this.#onDone;
    this.#onDone = undefined;
    fn?.();
  }
}
