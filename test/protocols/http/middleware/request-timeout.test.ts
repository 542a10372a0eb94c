import { describe, expect, it } from 'vitest';
import { InvalidOptionError, TimeoutError } from '../../../../src/errors.js';
import { requestTimeout } from '../../../../src/protocols/http/middleware/request-timeout.js';
import { createExchange } from '../../../helpers/http-exchange.js';
import { ManualClock, flush } from '../../../lifecycle/manual-clock.js';
import { chain } from './run.js';

function deferred() {
  let resolve!: () => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<void>((a, b) => {
    resolve = a;
    reject = b;
  });
  return { promise, resolve, reject };
}

describe('requestTimeout', () => {
  it('answers 503 when the handler is too slow, and aborts its signal', async () => {
    const clock = new ManualClock();
    const { req, res, sink } = createExchange();
    const gate = deferred();
    let signal: AbortSignal | undefined;
    const done = chain([requestTimeout({ ms: 1000, clock })], async (rq, r) => {
      signal = rq.locals['timeoutSignal'] as AbortSignal;
      await gate.promise;
      r.text('late'); // throws: the head was sent; the error is swallowed
    })(req, res);
    await clock.advance(999);
    expect(sink.status).toBeUndefined();
    await clock.advance(1);
    await done;
    expect(sink.status).toBe(503);
    expect(signal?.aborted).toBe(true);
    expect(signal?.reason).toBeInstanceOf(TimeoutError);
    gate.resolve();
    await flush();
    expect(sink.text()).toBe('The request took too long\n');
  });

  it('clears its timer when the handler finishes in time', async () => {
    const clock = new ManualClock();
    const { req, res, sink } = createExchange();
    await chain([requestTimeout({ ms: 1000, clock })], (_rq, r) => r.text('fast'))(req, res);
    expect(clock.pendingTimers).toBe(0);
    expect(sink.status).toBe(200);
  });

  it('passes a handler error through and clears the timer', async () => {
    const clock = new ManualClock();
    const { req, res } = createExchange();
    await expect(
      chain([requestTimeout({ ms: 1000, clock })], () => {
        throw new Error('fail');
      })(req, res),
    ).rejects.toThrow('fail');
    expect(clock.pendingTimers).toBe(0);
  });

  it('aborts the response when the head was already sent', async () => {
    const clock = new ManualClock();
    const { req, res, sink } = createExchange();
    const gate = deferred();
    const done = chain([requestTimeout({ ms: 50, clock })], async (_rq, r) => {
      r.writeHead(200);
      await gate.promise;
    })(req, res);
    await clock.advance(50);
    await done;
    expect(sink.status).toBe(200);
    expect(sink.aborted).toBeInstanceOf(TimeoutError);
    gate.reject(new Error('after the deadline'));
    await flush();
  });

  it('supports 504 and Retry-After', async () => {
    const clock = new ManualClock();
    const { req, res, sink } = createExchange();
    const done = chain(
      [requestTimeout({ ms: 10, clock, status: 504, retryAfterSec: 5 })],
      () => new Promise<void>(() => {}),
    )(req, res);
    await clock.advance(10);
    await done;
    expect(sink.status).toBe(504);
    expect(sink.headers?.get('retry-after')).toBe('5');
  });

  it('validates its options', () => {
    expect(() => requestTimeout({} as never)).toThrow(/pass \{ ms \}/);
    expect(() => requestTimeout({ ms: 0 })).toThrow(InvalidOptionError);
    expect(() => requestTimeout({ ms: 2 ** 31 })).toThrow(InvalidOptionError);
    expect(() => requestTimeout({ ms: 10, status: 408 as never })).toThrow(/503 or 504/);
  });
});
