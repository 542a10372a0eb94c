/**
 * Onion-model middleware composition (the model koa made familiar), shared by every
 * engine: each middleware gets a `next()` that runs the rest of the chain and resolves when
 * it is done, so code before `next()` sees the request on the way in and code after it sees
 * the response on the way out.
 *
 * Errors are not caught here: they propagate to the caller, where the recovery middleware
 * turns them into a response (500, or the status of an `HttpError`).
 */
import { GhostnetError, InvalidOptionError } from '../../errors.js';
import type { Handler, HttpRequest, HttpResponse, Middleware } from './types.js';

/** A middleware called its `next()` more than once. */
export class NextCalledTwiceError extends GhostnetError {
  constructor() {
    super('GN_ERR_HTTP_NEXT_CALLED_TWICE', 'next() was called more than once by one middleware');
  }
}

/**
 * @internal The settled promise a step that finished synchronously stands for. It is shared
 * (awaiting a settled promise never changes it), so a chain of synchronous middleware
 * allocates no promise per request (STYLE §12); callers may compare against it to skip
 * an asynchronous continuation.
 */
export const DONE: Promise<void> = Promise.resolve();

const NOOP_NEXT = (): Promise<void> => DONE;

/** A middleware's result as a promise: `DONE` when it returned synchronously. */
export function settle(result: void | Promise<void>): Promise<void> {
  return result === undefined ? DONE : Promise.resolve(result);
}

/**
 * Chains `middleware` into one middleware whose last `next()` continues with the outer
 * chain's `next`. Routers use it to run per-route stacks that can fall through.
 */
export function chain(middleware: readonly Middleware[]): Middleware {
  const stack = [...middleware];
  for (const fn of stack) {
    if (typeof fn !== 'function') {
      throw new InvalidOptionError(`Middleware must be a function, got ${typeof fn}`);
    }
  }
  if (stack.length === 0) return (_req, _res, next) => next();
  if (stack.length === 1) return single(stack[0]!);
  return (req, res, next) => run(stack, 0, req, res, next);
}

/**
 * Composes `middleware` (and an optional `final` handler) into one `Handler`.
 *
 * - Each middleware's `next()` runs the rest of the chain; calling it a second time
 *   rejects with `NextCalledTwiceError` (`GN_ERR_HTTP_NEXT_CALLED_TWICE`).
 * - A middleware short-circuits by answering without calling `next()`.
 * - Errors (thrown or rejected) propagate to the caller of the returned handler.
 * - When the whole chain has returned and the response was not started, it answers
 *   `404 Not Found`. The check runs after the chain unwinds, so middleware that answer on
 *   the way out (a mounted router's 405) still get to. Handlers must therefore return
 *   (or await) any asynchronous work that writes the response.
 */
export function compose(middleware: readonly Middleware[], final?: Handler): Handler {
  const fns = final === undefined ? [...middleware] : [...middleware, handlerAsMiddleware(final)];
  const composed = chain(fns);
  return (req, res) => {
    let result: void | Promise<void>;
    try {
      result = composed(req, res, NOOP_NEXT);
      if (result === undefined || result === DONE) {
        // The chain finished synchronously: answer now, and return no promise at all.
        if (!res.headersSent) notFound(res);
        return;
      }
    } catch (err) {
      return Promise.reject(err);
    }
    return finishAsync(result, res);
  };
}

async function finishAsync(result: Promise<void>, res: HttpResponse): Promise<void> {
  await result;
  if (!res.headersSent) notFound(res);
}

/** Writes the default 404 answer (used by `compose` and the router in handler mode). */
export function notFound(res: HttpResponse): void {
  res.status = 404;
  res.text('Not Found');
}

/** Adapts a handler to the middleware shape (it never calls `next`). */
export function handlerAsMiddleware(handler: Handler): Middleware {
  return (req, res) => handler(req, res);
}

function single(fn: Middleware): Middleware {
  // A handler that declares no `next` parameter (a plain `(req, res)` route handler) gets
  // the outer `next` as is: it cannot call it twice, so the guard and its per-request
  // closure are skipped (STYLE §12).
  if (fn.length < 3) return fn;
  return (req, res, next) => {
    let called = false;
    return fn(req, res, () => {
      if (called) return Promise.reject(new NextCalledTwiceError());
      called = true;
      return next();
    });
  };
}

function run(
  stack: readonly Middleware[],
  index: number,
  req: HttpRequest,
  res: HttpResponse,
  last: () => Promise<void>,
): Promise<void> {
  if (index === stack.length) return last();
  const fn = stack[index]!;
  let called = false;
  const next = (): Promise<void> => {
    if (called) return Promise.reject(new NextCalledTwiceError());
    called = true;
    return run(stack, index + 1, req, res, last);
  };
  try {
    return settle(fn(req, res, next));
  } catch (err) {
    return Promise.reject(err);
  }
}
