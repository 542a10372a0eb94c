/**
 * Request timeout: bounds how long the rest of the chain may take.
 *
 * When the handler has not finished after `ms`:
 * - if the head was not sent yet, the answer is **503 Service Unavailable** (RFC 9110
 *   §15.6.4: the server cannot handle the request now, and may be able to later). 408 is
 *   not used: it means the *client* was too slow sending its request (§15.5.9), and
 *   browsers and proxies retry 408 on a new connection, which would just time out again;
 *   a gateway that timed out waiting on an upstream should pass `status: 504` (§15.6.5);
 * - if the head was already sent, the response is aborted (stream reset or connection
 *   closed), since a status can no longer be given.
 *
 * The handler keeps running (JavaScript cannot cancel it): `req.locals.timeoutSignal`
 * is an `AbortSignal` aborted at the deadline, which handlers should pass to their I/O.
 * Its later writes fail and its eventual error is swallowed. The timer is always cleared.
 */
import { InvalidOptionError, TimeoutError } from '../../../errors.js';
import { MAX_TIMER_MS, systemClock } from '../../../lifecycle/clock.js';
import type { Clock } from '../../../lifecycle/clock.js';
import type { Middleware } from '../types.js';
import { checkObject, integerOption, sendPlain } from './internal.js';

export interface RequestTimeoutOptions {
  /** Milliseconds the rest of the chain may take. Required. */
  ms: number;
  /**
   * Status for a timed-out request whose head was not sent: 503 or 504.
   * @default 503
   */
  status?: 503 | 504;
  /**
   * Seconds for a `Retry-After` field on the timeout answer (RFC 9110 §10.2.3).
   * @default undefined (not sent)
   */
  retryAfterSec?: number;
  /** Timer source; a manual clock in tests. @default systemClock */
  clock?: Clock;
}

const WHERE = 'requestTimeout()';

export function requestTimeout(options: RequestTimeoutOptions): Middleware {
  checkObject(WHERE, options);
  if (options.ms === undefined) {
    throw new InvalidOptionError(`${WHERE}: pass { ms }, the deadline in milliseconds`);
  }
  const ms = integerOption(WHERE, 'ms', options.ms, 0, 1, MAX_TIMER_MS);
  const status = options.status ?? 503;
  if (status !== 503 && status !== 504) {
    throw new InvalidOptionError(`${WHERE}: invalid status ${String(status)}; use 503 or 504`);
  }
  const retryAfter =
    options.retryAfterSec === undefined
      ? undefined
      : integerOption(WHERE, 'retryAfterSec', options.retryAfterSec, 0, 0, 86_400 * 365);
  const clock = options.clock ?? systemClock;
  if (typeof clock.setTimeout !== 'function' || typeof clock.clearTimeout !== 'function') {
    throw new InvalidOptionError(`${WHERE}: invalid clock; pass a lifecycle Clock`);
  }

  return function requestTimeoutMiddleware(req, res, next) {
    const controller = new AbortController();
    req.locals['timeoutSignal'] = controller.signal;
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const timer = clock.setTimeout(() => {
        if (settled) return;
        settled = true;
        const err = new TimeoutError(`The request handler did not finish within ${ms} ms`);
        controller.abort(err);
        if (res.headersSent) {
          res.abort(err);
        } else {
          try {
            sendPlain(
              res,
              status,
              'The request took too long',
              retryAfter === undefined ? undefined : { 'retry-after': retryAfter },
            );
          } catch {
            res.abort(err);
          }
        }
        resolve();
      }, ms);
      let chain: Promise<void>;
      try {
        chain = Promise.resolve(next());
      } catch (err) {
        chain = Promise.reject(err);
      }
      chain.then(
        () => {
          if (settled) return;
          settled = true;
          clock.clearTimeout(timer);
          resolve();
        },
        (err: unknown) => {
          // After the deadline the handler's failure has nobody left to answer.
          if (settled) return;
          settled = true;
          clock.clearTimeout(timer);
          reject(err);
        },
      );
    });
  };
}
