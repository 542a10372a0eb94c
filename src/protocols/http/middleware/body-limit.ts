/**
 * Body limit: caps the request body a route accepts.
 *
 * - Sets `req.body.setLimit(maxBytes)`, so `req.bytes()`, `req.text()` and `req.json()`
 *   reject with a 413 `BodyTooLargeError` past it (chunked bodies included).
 * - Answers 413 Content Too Large at once, without reading the body (and so without
 *   sending 100 Continue), when the announced Content-Length already exceeds the limit
 *   (RFC 9110 §15.5.14). Over HTTP/1.x it adds `Connection: close`: the unread body would
 *   otherwise have to be read and dropped to keep the connection usable.
 *
 * Handlers that stream the body with `for await (const chunk of req.body)` are not cut off
 * by the limit; they must count bytes themselves.
 */
import { InvalidOptionError } from '../../../errors.js';
import type { Middleware } from '../types.js';
import { checkObject, sendPlain } from './internal.js';

export interface BodyLimitOptions {
  /** The largest request body accepted, in bytes (0 allows only empty bodies). Required. */
  maxBytes: number;
}

export function bodyLimit(options: BodyLimitOptions): Middleware {
  checkObject('bodyLimit()', options);
  const maxBytes = options.maxBytes;
  if (typeof maxBytes !== 'number' || !Number.isSafeInteger(maxBytes) || maxBytes < 0) {
    throw new InvalidOptionError(
      `bodyLimit(): invalid maxBytes ${String(maxBytes)}; use a non-negative integer byte count`,
    );
  }

  return async function bodyLimitMiddleware(req, res, next) {
    req.body.setLimit(maxBytes);
    const announced = req.body.expectedLength;
    if (announced !== undefined && announced > maxBytes) {
      if (req.protocol === 'http/1.1' || req.protocol === 'http/1.0') {
        res.headers.set('connection', 'close');
      }
      sendPlain(res, 413, `Request body exceeds ${maxBytes} bytes`);
      return;
    }
    await next();
  };
}
