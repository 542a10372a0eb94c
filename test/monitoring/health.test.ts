import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { GhostnetError, hasCode } from '../../src/errors.js';
import { HealthChecks, READY_CHECK_NAME, httpStatus } from '../../src/monitoring/health.js';
import type { HealthCheckOptions, HealthClock } from '../../src/monitoring/health.js';

/** A clock that only moves when the test says so. */
class FakeClock implements HealthClock {
  ms = Date.UTC(2024, 0, 2, 3, 4, 5);
  now(): number {
    return this.ms;
  }
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof GhostnetError ? err.code : `not coded: ${String(err)}`;
  }
  return undefined;
}

let clock: FakeClock;
let health: HealthChecks;

beforeEach(() => {
  vi.useFakeTimers();
  clock = new FakeClock();
  health = new HealthChecks({ clock });
});

afterEach(() => {
  vi.useRealTimers();
});

describe('HealthChecks reports', () => {
  it('pass with no checks, stamped with the clock', async () => {
    const report = await health.liveness();
    expect(report).toEqual({ status: 'pass', checks: {}, time: '2024-01-02T03:04:05.000Z' });
    expect(httpStatus(report)).toBe(200);
  });

  it('report each check with its status, duration and details', async () => {
    health.register('db', async () => {
      clock.ms += 12;
      return { details: { pool: 4 } };
    });
    health.register('disk', () => ({ status: 'warn', details: { freeBytes: 10 } }));
    const report = await health.readiness();
    expect(report.status).toBe('warn');
    expect(httpStatus(report)).toBe(200);
    expect(report.checks.db).toEqual({ status: 'pass', durationMs: 12, details: { pool: 4 } });
    // Checks run concurrently on one clock, so only the shape of this one is exact.
    expect(report.checks.disk).toMatchObject({ status: 'warn', details: { freeBytes: 10 } });
    expect(report.checks.disk?.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('fail when a critical check throws or rejects, with its message', async () => {
    health.register('sync', () => {
      throw new Error('sync broke');
    });
    health.register('async', () => Promise.reject(new GhostnetError('GN_ERR_X', 'async broke')));
    health.register('odd', () => Promise.reject('a bare string'));
    const report = await health.liveness();
    expect(report.status).toBe('fail');
    expect(httpStatus(report)).toBe(503);
    expect(report.checks.sync).toMatchObject({ status: 'fail', error: 'sync broke' });
    expect(report.checks.async).toMatchObject({ status: 'fail', error: 'async broke' });
    expect(report.checks.odd).toMatchObject({ status: 'fail', error: 'a bare string' });
  });

  it('treat a returned fail status and invalid results as failures', async () => {
    health.register('explicit', () => ({ status: 'fail', details: 'replica lag' }));
    health.register('bogus', () => ({ status: 'ok' as 'pass' }));
    health.register('number', () => 42 as unknown as void);
    const report = await health.readiness();
    expect(report.status).toBe('fail');
    expect(report.checks.explicit).toMatchObject({ status: 'fail', details: 'replica lag' });
    expect(report.checks.bogus?.status).toBe('fail');
    expect(report.checks.bogus?.error).toContain('invalid status');
    expect(report.checks.number?.status).toBe('fail');
  });

  it('degrade to warn, not fail, when only non-critical checks fail', async () => {
    health.register(
      'cache',
      () => {
        throw new Error('cache down');
      },
      { critical: false },
    );
    health.register('core', () => undefined);
    const report = await health.readiness();
    expect(report.status).toBe('warn');
    expect(report.checks.cache).toEqual({
      status: 'fail',
      durationMs: 0,
      error: 'cache down',
      critical: false,
    });
    expect(httpStatus(report)).toBe(200);
  });

  it('time out a hanging check, abort its signal and still finish the report', async () => {
    let seen: AbortSignal | undefined;
    health.register(
      'hangs',
      (signal) => {
        seen = signal;
        return new Promise<void>(() => {});
      },
      { timeoutMs: 500 },
    );
    health.register('quick', () => undefined);
    let settled = false;
    const pending = health.liveness().then((r) => {
      settled = true;
      return r;
    });
    await vi.advanceTimersByTimeAsync(499);
    expect(settled).toBe(false);
    expect(seen?.aborted).toBe(false);
    clock.ms += 500;
    await vi.advanceTimersByTimeAsync(1);
    const report = await pending;
    expect(report.status).toBe('fail');
    expect(report.checks.hangs).toEqual({
      status: 'fail',
      durationMs: 500,
      error: 'timed out after 500 ms',
    });
    expect(report.checks.quick?.status).toBe('pass');
    expect(seen?.aborted).toBe(true);
    expect(hasCode(seen?.reason, 'GN_ERR_TIMEOUT')).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('uses the default 2000 ms timeout', async () => {
    health.register('hangs', () => new Promise<void>(() => {}));
    const pending = health.readiness();
    await vi.advanceTimersByTimeAsync(1999);
    let done = false;
    void pending.then(() => {
      done = true;
    });
    await vi.advanceTimersByTimeAsync(0);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect((await pending).checks.hangs?.error).toBe('timed out after 2000 ms');
  });

  it('clears timers of checks that finish in time', async () => {
    health.register('fast', async () => undefined, { timeoutMs: 100_000 });
    await health.liveness();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('selects checks by kind', async () => {
    const ran: string[] = [];
    const check = (name: string, options: HealthCheckOptions) =>
      health.register(name, () => void ran.push(name), options);
    check('live', { kind: 'liveness' });
    check('ready-only', { kind: 'readiness' });
    check('both', {});
    const live = await health.liveness();
    expect(Object.keys(live.checks)).toEqual(['live', 'both']);
    ran.length = 0;
    const ready = await health.readiness();
    expect(Object.keys(ready.checks)).toEqual(['ready-only', 'both']);
    expect(ran).toEqual(['ready-only', 'both']);
  });

  it('shares one run between concurrent calls of the same kind', async () => {
    let runs = 0;
    health.register('slow', async () => {
      runs += 1;
      await new Promise((resolve) => setTimeout(resolve, 100));
    });
    const a = health.readiness();
    const b = health.readiness();
    await vi.advanceTimersByTimeAsync(100);
    expect(await a).toBe(await b);
    expect(runs).toBe(1);
    const again = health.readiness();
    await vi.advanceTimersByTimeAsync(100);
    expect(await again).not.toBe(await a);
    expect(runs).toBe(2);
  });
});

describe('setReady', () => {
  it('fails readiness while draining and leaves liveness alone', async () => {
    health.register('core', () => undefined);
    expect(health.ready).toBe(true);
    health.setReady(false, 'draining');
    expect(health.ready).toBe(false);
    const ready = await health.readiness();
    expect(ready.status).toBe('fail');
    expect(ready.checks[READY_CHECK_NAME]).toEqual({
      status: 'fail',
      durationMs: 0,
      error: 'draining',
    });
    expect(ready.checks.core?.status).toBe('pass');
    expect(httpStatus(ready)).toBe(503);
    const live = await health.liveness();
    expect(live.status).toBe('pass');
    expect(live.checks).not.toHaveProperty(READY_CHECK_NAME);
    health.setReady(true);
    expect((await health.readiness()).status).toBe('pass');
  });
});

describe('register', () => {
  it('validates names, options and the check count with coded errors', () => {
    health.register('ok', () => undefined);
    const bad = 'GN_ERR_INVALID_OPTION';
    expect(codeOf(() => health.register('ok', () => undefined))).toBe(bad);
    expect(codeOf(() => health.register(READY_CHECK_NAME, () => undefined))).toBe(bad);
    expect(codeOf(() => health.register('', () => undefined))).toBe(bad);
    expect(codeOf(() => health.register('has space', () => undefined))).toBe(bad);
    expect(codeOf(() => health.register('x'.repeat(129), () => undefined))).toBe(bad);
    expect(codeOf(() => health.register('f', 'nope' as never))).toBe(bad);
    expect(codeOf(() => health.register('t0', () => undefined, { timeoutMs: 0 }))).toBe(bad);
    expect(codeOf(() => health.register('t1', () => undefined, { timeoutMs: Infinity }))).toBe(bad);
    expect(codeOf(() => health.register('k', () => undefined, { kind: 'startup' as 'both' }))).toBe(
      bad,
    );
    expect(codeOf(() => new HealthChecks({ maxChecks: 0 }))).toBe(bad);
    const small = new HealthChecks({ maxChecks: 1 });
    small.register('one', () => undefined);
    expect(codeOf(() => small.register('two', () => undefined))).toBe(bad);
    expect(health.names).toEqual(['ok']);
  });

  it('unregister removes a check', async () => {
    health.register('gone', () => {
      throw new Error('x');
    });
    expect(health.unregister('gone')).toBe(true);
    expect(health.unregister('gone')).toBe(false);
    expect((await health.liveness()).status).toBe('pass');
  });
});

describe('httpStatus', () => {
  it.each([
    ['pass', 200],
    ['warn', 200],
    ['fail', 503],
  ] as const)('%s → %d', (status, code) => {
    expect(httpStatus({ status })).toBe(code);
  });
});
