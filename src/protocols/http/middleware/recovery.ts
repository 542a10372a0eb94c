/**
 * Recovery: turns an error thrown (or rejected) by the rest of the chain into a response,
 * so one failing handler never takes the process down.
 *
 * - An `HttpError` answers with its status and headers; its message is sent only when
 *   `expose` is true (by default, for 4xx). Anything else is a 500 with a generic message.
 * - Headers the handler set that describe the failed body (Content-Type, Content-Length,
 *   Content-Encoding, ETag, …) are removed; the others (CORS, security headers,
 *   X-Request-Id, rate-limit fields, Vary) are kept, so error answers still carry them.
 * - When the head was already sent, a clean error answer is impossible: the response is
 *   aborted (the engine resets the stream or closes the connection) instead.
 * - It never rethrows. Put it first (outermost) in the chain.
 */
import { InvalidOptionError } from '../../../errors.js';
import type { Logger } from '../../../monitoring/logger.js';
import { DONE } from '../compose.js';
import { HttpError } from '../errors.js';
import type { HttpRequest, HttpResponse, Middleware } from '../types.js';
import { checkObject, sendPlain, statusText } from './internal.js';

export interface RecoveryOptions {
  /**
   * Where failures are logged, with the request id as `req`. 5xx failures are logged at
   * `error` (with the error), client errors (`HttpError` 4xx) at `debug`.
   * @default undefined (nothing is logged)
   */
  logger?: Logger;
}

/** Representation headers that described the body the handler did not finish. */
const REPRESENTATION_HEADERS = [
  'content-type',
  'content-length',
  'content-encoding',
  'content-language',
  'content-location',
  'content-range',
  'content-disposition',
  'etag',
  'last-modified',
  'transfer-encoding',
];

export function recovery(options: RecoveryOptions = {}): Middleware {
  checkObject('recovery()', options);
  const logger = options.logger;
  if (logger !== undefined && (typeof logger !== 'object' || typeof logger.error !== 'function')) {
    throw new InvalidOptionError('recovery(): invalid logger; pass a pino logger or a Logger');
  }

  return function recoveryMiddleware(req, res, next) {
    let done: Promise<void>;
    try {
      done = next();
    } catch (err) {
      // A foreign next() may throw instead of rejecting.
      handleFailure(err, req, res, logger);
      return;
    }
    // The rest of the chain finished synchronously and without error: nothing to wait for.
    if (done === DONE) return;
    return recoverAsync(done, req, res, logger);
  };
}

async function recoverAsync(
  done: Promise<void>,
  req: HttpRequest,
  res: HttpResponse,
  logger: Logger | undefined,
): Promise<void> {
  try {
    await done;
  } catch (err) {
    handleFailure(err, req, res, logger);
  }
}

function handleFailure(
  err: unknown,
  req: HttpRequest,
  res: HttpResponse,
  logger: Logger | undefined,
): void {
  const httpError = err instanceof HttpError && validStatus(err.status) ? err : undefined;
  const status = httpError?.status ?? 500;
  try {
    if (logger) {
      const fields = { req: req.id, method: req.method, path: req.path, status, err };
      if (status >= 500) logger.error(fields, 'request failed');
      else logger.debug(fields, 'request rejected');
    }
  } catch {
    // A broken logger must not turn recovery into a crash.
  }

  const error = err instanceof Error ? err : undefined;
  if (res.headersSent) {
    res.abort(error);
    return;
  }
  try {
    for (const name of REPRESENTATION_HEADERS) res.headers.delete(name);
    res.trailers.clear();
    const message = httpError?.expose ? httpError.message : statusText(status);
    sendPlain(res, status, message, httpError?.headers);
  } catch {
    // The error's own headers were invalid, or the response is in a state that cannot be
    // answered: give up on this response, not on the process.
    res.abort(error);
  }
}

function validStatus(status: number): boolean {
  return Number.isInteger(status) && status >= 400 && status <= 599;
}
