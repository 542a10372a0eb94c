import { describe, expect, it, vi } from 'vitest';
import { RetryBudgetExhaustedError, RetryExhaustedError } from '../../src/lifecycle/errors.js';
import { RetryBudget, retry } from '../../src/lifecycle/retry.js';
import { ManualClock } from './manual-clock.js';

describe('RetryBudget', () => {
  it('allows the reserve, then ratio retries per request', async () => {
    const clock = new ManualClock();
    const budget = new RetryBudget(
      { clock },
      { ratio: 0.1, minRetriesPerSecond: 0.1, ttlMs: 10_000 },
    );
    // Reserve: 0.1/s * 10 s = 1 retry.
    expect(budget.tryWithdraw()).toBe(true);
    expect(budget.tryWithdraw()).toBe(false);
    for (let i = 0; i < 30; i++) budget.recordRequest();
    // 30 requests * 0.1 = 3 more retries.
    expect([1, 2, 3, 4].map(() => budget.tryWithdraw())).toEqual([true, true, true, false]);
  });

  it('refills as old withdrawals slide out of the ttl window', async () => {
    const clock = new ManualClock();
    const budget = new RetryBudget(
      { clock },
      { ratio: 0, minRetriesPerSecond: 0.2, ttlMs: 10_000 },
    );
    expect(budget.tryWithdraw()).toBe(true);
    expect(budget.tryWithdraw()).toBe(true);
    expect(budget.tryWithdraw()).toBe(false);
    await clock.advance(10_000);
    expect(budget.balance).toBe(2);
    expect(budget.tryWithdraw()).toBe(true);
  });

  it('validates options', () => {
    const invalid = expect.objectContaining({ code: 'GN_ERR_INVALID_OPTION' });
    expect(() => new RetryBudget({}, { ratio: -1 })).toThrow(invalid);
    expect(() => new RetryBudget({}, { ttlMs: 10 })).toThrow(invalid);
    expect(() => new RetryBudget({}, { minRetriesPerSecond: Infinity })).toThrow(invalid);
  });
});

describe('retry', () => {
  it('retries while the budget allows and returns the success', async () => {
    const clock = new ManualClock();
    const budget = new RetryBudget({ clock }, { ratio: 0, minRetriesPerSecond: 1 });
    const p = retry(
      async (attempt) => {
        if (attempt < 2) throw new Error('flaky');
        return attempt;
      },
      { budget, clock, random: () => 0 },
    );
    await clock.advance(0);
    await expect(p).resolves.toBe(2);
    expect(budget.balance).toBe(8); // 10 reserve - 2 retries
  });

  it('stops with RetryBudgetExhaustedError once the budget is empty', async () => {
    const clock = new ManualClock();
    const budget = new RetryBudget({ clock }, { ratio: 0, minRetriesPerSecond: 0.1 }); // 1 retry
    const fn = vi.fn(async () => {
      throw new Error('down');
    });
    const p = retry(fn, { budget, clock, random: () => 0, maxAttempts: 5 }).catch(
      (e: unknown) => e,
    );
    await clock.advance(0);
    const err = await p;
    expect(err).toBeInstanceOf(RetryBudgetExhaustedError);
    expect((err as RetryBudgetExhaustedError).code).toBe('GN_ERR_RETRY_BUDGET_EXHAUSTED');
    expect((err as RetryBudgetExhaustedError).attempts).toBe(2);
    expect(((err as Error).cause as Error).message).toBe('down');
    expect(fn).toHaveBeenCalledTimes(2);
  });

  it('still honours maxAttempts when the budget is ample', async () => {
    const clock = new ManualClock();
    const budget = new RetryBudget({ clock });
    const p = retry(
      async () => {
        throw new Error('down');
      },
      { budget, clock, random: () => 0, maxAttempts: 2 },
    ).catch((e: unknown) => e);
    await clock.advance(0);
    expect(await p).toBeInstanceOf(RetryExhaustedError);
  });

  it('needs a budget', async () => {
    await expect(
      retry(async () => 1, { budget: undefined as unknown as RetryBudget }),
    ).rejects.toMatchObject({ code: 'GN_ERR_INVALID_OPTION' });
  });
});
