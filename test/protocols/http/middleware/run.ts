/** A tiny onion-model chain for middleware tests (compose.ts is written elsewhere). */
import type {
  Handler,
  HttpRequest,
  HttpResponse,
  Middleware,
} from '../../../../src/protocols/http/types.js';

export function chain(middleware: Middleware[], handler: Handler = () => {}) {
  return (req: HttpRequest, res: HttpResponse): Promise<void> => {
    const dispatch = async (i: number): Promise<void> => {
      const mw = middleware[i];
      if (mw === undefined) return handler(req, res);
      let called = false;
      return mw(req, res, () => {
        if (called) throw new Error('next() called twice');
        called = true;
        return dispatch(i + 1);
      });
    };
    return dispatch(0);
  };
}

/** A Logger double recording every call. */
export function recordingLogger() {
  const records: Array<{ level: string; obj: Record<string, unknown>; msg?: string }> = [];
  const make = (bindings: Record<string, unknown>) => {
    const method =
      (level: string) =>
      (obj: object | string, msg?: string): void => {
        if (typeof obj === 'string') records.push({ level, obj: { ...bindings }, msg: obj });
        else records.push({ level, obj: { ...bindings, ...obj }, msg });
      };
    const logger = {
      debug: method('debug'),
      info: method('info'),
      warn: method('warn'),
      error: method('error'),
      child: (more: Record<string, unknown>) => make({ ...bindings, ...more }),
    };
    return logger;
  };
  return { logger: make({}), records };
}

/**
 * Waits until `cond` holds, turning the event loop; fails after `turns` turns AND at least
 * `minMs` of wall time. Turns alone are not enough: zlib works on the thread pool, and on
 * a loaded machine 10,000 quick turns can pass before it answers (a flake seen in CI).
 */
export async function until(cond: () => boolean, turns = 10_000, minMs = 10_000): Promise<void> {
  const start = Date.now();
  for (let i = 0; ; i++) {
    if (cond()) return;
    if (i >= turns && Date.now() - start >= minMs) break;
    await new Promise((resolve) => setImmediate(resolve));
  }
  throw new Error('condition not reached');
}
