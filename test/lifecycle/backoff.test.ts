import { describe, expect, it, vi } from 'vitest';
import { AbortError } from '../../src/errors.js';
import { computeBackoff, withBackoff } from '../../src/lifecycle/backoff.js';
import { RetryExhaustedError } from '../../src/lifecycle/errors.js';
import { ManualClock, sequence } from './manual-clock.js';

describe('computeBackoff', () => {
  it('is random * min(max, base * factor^attempt), floored', () => {
    const opts = { baseMs: 100, maxMs: 1000, factor: 2 };
    const almostOne = () => 0.999999;
    expect(computeBackoff(0, opts, almostOne)).toBe(99);
    expect(computeBackoff(1, opts, almostOne)).toBe(199);
    expect(computeBackoff(3, opts, almostOne)).toBe(799);
    expect(computeBackoff(4, opts, almostOne)).toBe(999); // capped by maxMs
    expect(computeBackoff(4, opts, () => 0.5)).toBe(500);
    expect(computeBackoff(2, opts, () => 0)).toBe(0); // full jitter reaches zero
  });

  it('uses the defaults 100 / 30000 / 2', () => {
    expect(computeBackoff(0, {}, () => 0.5)).toBe(50);
    expect(computeBackoff(20, {}, () => 0.5)).toBe(15_000);
  });

  it('stays finite for huge attempts and a zero base, and clamps a bad RNG', () => {
    expect(computeBackoff(5000, { baseMs: 100, maxMs: 500 }, () => 0.5)).toBe(250);
    expect(computeBackoff(5000, { baseMs: 0 }, () => 0.5)).toBe(0);
    expect(computeBackoff(1, { baseMs: 100 }, () => 7)).toBe(199);
    expect(computeBackoff(1, { baseMs: 100 }, () => Number.NaN)).toBe(0);
  });

  it('validates its options', () => {
    const invalid = expect.objectContaining({ code: 'GN_ERR_INVALID_OPTION' });
    expect(() => computeBackoff(-1)).toThrow(invalid);
    expect(() => computeBackoff(0.5)).toThrow(invalid);
    expect(() => computeBackoff(0, { factor: 0.5 })).toThrow(invalid);
    expect(() => computeBackoff(0, { maxMs: Infinity })).toThrow(invalid);
    expect(() => computeBackoff(0, { baseMs: -5 })).toThrow(invalid);
  });
});

describe('withBackoff', () => {
  it('retries with full-jitter waits on the injected clock and returns the first success', async () => {
    const clock = new ManualClock();
    const calls: Array<{ attempt: number; at: number }> = [];
    const fn = vi.fn(async (attempt: number) => {
      calls.push({ attempt, at: clock.now() });
      if (attempt < 2) throw new Error(`fail ${attempt}`);
      return 'ok';
    });
    const result = withBackoff(fn, { baseMs: 100, clock, random: () => 0.5 });
    await clock.advance(49);
    expect(calls.map((c) => c.attempt)).toEqual([0]);
    await clock.advance(1); // wait 0: 0.5 * 100 = 50
    expect(calls.map((c) => c.attempt)).toEqual([0, 1]);
    await clock.advance(100); // wait 1: 0.5 * 200 = 100
    await expect(result).resolves.toBe('ok');
    const t0 = calls[0]!.at;
    expect(calls.map((c) => c.at - t0)).toEqual([0, 50, 150]);
  });

  it('gives up after maxAttempts with RetryExhaustedError carrying the last error', async () => {
    const clock = new ManualClock();
    let n = 0;
    const p = withBackoff(
      async () => {
        throw new Error(`boom ${n++}`);
      },
      { maxAttempts: 3, clock, random: () => 0.5 },
    ).catch((e: unknown) => e);
    await clock.advance(10_000);
    const err = await p;
    expect(err).toBeInstanceOf(RetryExhaustedError);
    expect((err as RetryExhaustedError).code).toBe('GN_ERR_RETRY_EXHAUSTED');
    expect((err as RetryExhaustedError).attempts).toBe(3);
    expect(((err as RetryExhaustedError).cause as Error).message).toBe('boom 2');
    expect(n).toBe(3);
  });

  it('rethrows an error shouldRetry declines, without waiting', async () => {
    const fatal = new Error('fatal');
    const fn = vi.fn(async () => {
      throw fatal;
    });
    await expect(
      withBackoff(fn, { shouldRetry: (e) => e !== fatal, clock: new ManualClock() }),
    ).rejects.toBe(fatal);
    expect(fn).toHaveBeenCalledTimes(1);
  });

  it('aborting during a wait rejects with AbortError and stops retrying', async () => {
    const clock = new ManualClock();
    const ac = new AbortController();
    const fn = vi.fn(async () => {
      throw new Error('down');
    });
    const p = withBackoff(fn, { signal: ac.signal, clock, random: sequence(0.9) }).catch(
      (e: unknown) => e,
    );
    await clock.advance(10);
    ac.abort();
    const err = await p;
    expect(err).toBeInstanceOf(AbortError);
    await clock.advance(100_000);
    expect(fn).toHaveBeenCalledTimes(1);
    expect(clock.pendingTimers).toBe(0);
  });

  it('passes the signal to fn and maps an abort during an attempt', async () => {
    const ac = new AbortController();
    const p = withBackoff(
      (_attempt, signal) =>
        new Promise<never>((_resolve, reject) => {
          signal.addEventListener('abort', () => reject(new Error('attempt cancelled')));
        }),
      { signal: ac.signal, clock: new ManualClock() },
    );
    ac.abort('shutdown');
    await expect(p).rejects.toMatchObject({ code: 'GN_ERR_ABORTED', cause: 'shutdown' });
  });

  it('rejects non-finite or invalid maxAttempts', async () => {
    for (const maxAttempts of [0, Infinity, 1.5, 20_000]) {
      await expect(withBackoff(async () => 1, { maxAttempts })).rejects.toMatchObject({
        code: 'GN_ERR_INVALID_OPTION',
      });
    }
  });

  it('a throwing onRetry stops the loop with its error', async () => {
    const stop = new Error('stop');
    await expect(
      withBackoff(
        async () => {
          throw new Error('x');
        },
        {
          clock: new ManualClock(),
          onRetry: () => {
            throw stop;
          },
        },
      ),
    ).rejects.toBe(stop);
  });
});
