import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from '../../../../src/errors.js';
import { rateLimit } from '../../../../src/protocols/http/middleware/rate-limit.js';
import type { RateLimitOptions } from '../../../../src/protocols/http/middleware/rate-limit.js';
import type { Middleware } from '../../../../src/protocols/http/types.js';
import { createExchange } from '../../../helpers/http-exchange.js';
import { chain } from './run.js';

async function hit(mw: Middleware, remoteAddress = '192.0.2.1') {
  const { req, res, sink } = createExchange({ remoteAddress });
  let ran = false;
  await chain([mw], (_rq, r) => {
    ran = true;
    r.text('ok');
  })(req, res);
  return { ran, status: sink.status, headers: sink.headers! };
}

describe('rateLimit', () => {
  function setup(extra: Partial<RateLimitOptions> = {}) {
    let t = 1_000_000;
    const mw = rateLimit({ capacity: 3, refillPerSecond: 1, now: () => t, ...extra });
    return { mw, advance: (ms: number) => (t += ms) };
  }

  it('allows a burst of capacity, then answers 429 with Retry-After', async () => {
    const { mw } = setup();
    const first = await hit(mw);
    expect(first.status).toBe(200);
    expect(first.headers.get('ratelimit-limit')).toBe('3');
    expect(first.headers.get('ratelimit-remaining')).toBe('2');
    expect(first.headers.get('ratelimit-reset')).toBe('1');
    await hit(mw);
    const third = await hit(mw);
    expect(third.headers.get('ratelimit-remaining')).toBe('0');
    expect(third.headers.get('ratelimit-reset')).toBe('3');
    const fourth = await hit(mw);
    expect(fourth.ran).toBe(false);
    expect(fourth.status).toBe(429);
    expect(fourth.headers.get('retry-after')).toBe('1');
    expect(fourth.headers.get('ratelimit-remaining')).toBe('0');
  });

  it('refills over time', async () => {
    const { mw, advance } = setup();
    for (let i = 0; i < 3; i++) await hit(mw);
    expect((await hit(mw)).status).toBe(429);
    advance(999);
    expect((await hit(mw)).status).toBe(429);
    advance(1);
    expect((await hit(mw)).status).toBe(200);
    advance(60_000);
    expect((await hit(mw)).headers.get('ratelimit-remaining')).toBe('2');
  });

  it('rounds Retry-After up for slow refill rates', async () => {
    const { mw } = setup({ capacity: 1, refillPerSecond: 0.25 });
    await hit(mw);
    const denied = await hit(mw);
    expect(denied.headers.get('retry-after')).toBe('4');
  });

  it('keeps separate buckets per client', async () => {
    const { mw } = setup({ capacity: 1 });
    expect((await hit(mw, '192.0.2.1')).status).toBe(200);
    expect((await hit(mw, '192.0.2.1')).status).toBe(429);
    expect((await hit(mw, '192.0.2.2')).status).toBe(200);
  });

  it('bounds the number of tracked keys, evicting the least recently seen', async () => {
    const { mw } = setup({ capacity: 1, maxKeys: 2 });
    await hit(mw, '10.0.0.1');
    await hit(mw, '10.0.0.2');
    await hit(mw, '10.0.0.1'); // denied, and now most recently seen
    await hit(mw, '10.0.0.3'); // evicts 10.0.0.2
    expect((await hit(mw, '10.0.0.1')).status).toBe(429);
    expect((await hit(mw, '10.0.0.2')).status).toBe(200);
  });

  it('accepts a custom key and can omit headers on allowed responses', async () => {
    const { mw } = setup({ capacity: 1, key: () => 'everyone', headers: false });
    const ok = await hit(mw, '10.0.0.1');
    expect(ok.headers.has('ratelimit-limit')).toBe(false);
    expect((await hit(mw, '10.0.0.2')).status).toBe(429);
  });

  it('ignores a clock that steps back', async () => {
    const { mw, advance } = setup({ capacity: 1 });
    await hit(mw);
    advance(-5000);
    expect((await hit(mw)).status).toBe(429);
  });

  it('validates its options', () => {
    expect(() => rateLimit({} as never)).toThrow(InvalidOptionError);
    expect(() => rateLimit({ capacity: 0, refillPerSecond: 1 })).toThrow(/capacity/);
    expect(() => rateLimit({ capacity: 1, refillPerSecond: 0 })).toThrow(/refillPerSecond/);
    expect(() => rateLimit({ capacity: 1, refillPerSecond: 1, maxKeys: Infinity })).toThrow(
      /maxKeys/,
    );
  });
});
