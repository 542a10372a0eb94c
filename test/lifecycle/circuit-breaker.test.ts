import { describe, expect, it } from 'vitest';
import {
  CIRCUIT_TRANSITIONS,
  CircuitBreaker,
  type CircuitState,
} from '../../src/lifecycle/circuit-breaker.js';
import { CircuitOpenError } from '../../src/lifecycle/errors.js';
import { ManualClock } from './manual-clock.js';

const fail = (): Promise<never> => Promise.reject(new Error('down'));
const succeed = (): Promise<string> => Promise.resolve('up');

function recordTransitions(b: CircuitBreaker): Array<[CircuitState, CircuitState]> {
  const seen: Array<[CircuitState, CircuitState]> = [];
  b.on('stateChange', (to, from) => seen.push([from, to]));
  return seen;
}

async function failTimes(b: CircuitBreaker, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await b.execute(fail).catch(() => {});
}

describe('CircuitBreaker', () => {
  it('opens after failureThreshold consecutive failures and then rejects at once', async () => {
    const clock = new ManualClock();
    const b = new CircuitBreaker({ clock }, { failureThreshold: 3, openMs: 1000 });
    await failTimes(b, 2);
    expect(b.state).toBe('closed');
    await failTimes(b, 1);
    expect(b.state).toBe('open');
    let called = false;
    const err = await b
      .execute(async () => {
        called = true;
      })
      .catch((e: unknown) => e);
    expect(called).toBe(false);
    expect(err).toBeInstanceOf(CircuitOpenError);
    expect((err as CircuitOpenError).code).toBe('GN_ERR_CIRCUIT_OPEN');
    expect((err as CircuitOpenError).retryAfterMs).toBe(1000);
  });

  it('a success resets the consecutive count', async () => {
    const b = new CircuitBreaker(
      { clock: new ManualClock() },
      { failureThreshold: 3, minimumRequests: 1000 },
    );
    await failTimes(b, 2);
    await b.execute(succeed);
    await failTimes(b, 2);
    expect(b.state).toBe('closed');
    expect(b.stats().consecutiveFailures).toBe(2);
  });

  it('goes half-open after openMs; a probe success closes it', async () => {
    const clock = new ManualClock();
    const b = new CircuitBreaker({ clock }, { failureThreshold: 1, openMs: 500 });
    const seen = recordTransitions(b);
    await failTimes(b, 1);
    await clock.advance(499);
    expect(b.state).toBe('open');
    await clock.advance(1);
    expect(b.state).toBe('half-open');
    await expect(b.execute(succeed)).resolves.toBe('up');
    expect(b.state).toBe('closed');
    expect(seen).toEqual([
      ['closed', 'open'],
      ['open', 'half-open'],
      ['half-open', 'closed'],
    ]);
  });

  it('a probe failure reopens it for another openMs', async () => {
    const clock = new ManualClock();
    const b = new CircuitBreaker({ clock }, { failureThreshold: 1, openMs: 500 });
    await failTimes(b, 1);
    await clock.advance(500);
    await failTimes(b, 1);
    expect(b.state).toBe('open');
    await clock.advance(499);
    expect(b.state).toBe('open');
    await clock.advance(1);
    expect(b.state).toBe('half-open');
  });

  it('admits only halfOpenMaxCalls probes and needs all to succeed', async () => {
    const clock = new ManualClock();
    const b = new CircuitBreaker(
      { clock },
      { failureThreshold: 1, openMs: 100, halfOpenMaxCalls: 2 },
    );
    await failTimes(b, 1);
    await clock.advance(100);
    const resolvers: Array<() => void> = [];
    const probe = () => new Promise<void>((resolve) => resolvers.push(resolve));
    const p1 = b.execute(probe);
    const p2 = b.execute(probe);
    const third = await b.execute(probe).catch((e: unknown) => e);
    expect(third).toBeInstanceOf(CircuitOpenError);
    expect((third as CircuitOpenError).retryAfterMs).toBeUndefined();
    expect(resolvers).toHaveLength(2);
    resolvers[0]!();
    await p1;
    expect(b.state).toBe('half-open');
    resolvers[1]!();
    await p2;
    expect(b.state).toBe('closed');
  });

  it('opens on the failure rate once minimumRequests are in the window', async () => {
    const clock = new ManualClock();
    const b = new CircuitBreaker(
      { clock },
      { failureThreshold: 100, failureRateThreshold: 0.5, minimumRequests: 10, windowMs: 10_000 },
    );
    // 5 successes and 4 failures interleaved: 9 requests, below minimumRequests.
    for (let i = 0; i < 4; i++) {
      await b.execute(succeed);
      await failTimes(b, 1);
    }
    await b.execute(succeed);
    expect(b.state).toBe('closed');
    await failTimes(b, 1); // 10 requests, 5 failures: rate 0.5
    expect(b.state).toBe('open');
  });

  it('forgets failures that slid out of the window', async () => {
    const clock = new ManualClock();
    const b = new CircuitBreaker(
      { clock },
      { failureThreshold: 100, minimumRequests: 4, windowMs: 1000, failureRateThreshold: 0.5 },
    );
    await failTimes(b, 3);
    await clock.advance(1000); // the failures leave the window
    await b.execute(succeed);
    await b.execute(succeed);
    await b.execute(succeed);
    await failTimes(b, 1); // 4 in window, 1 failure: 25 %
    expect(b.state).toBe('closed');
    expect(b.stats()).toMatchObject({ windowRequests: 4, windowFailures: 1 });
  });

  it('ignores the late result of a call admitted before the state changed', async () => {
    const clock = new ManualClock();
    const b = new CircuitBreaker({ clock }, { failureThreshold: 1, openMs: 100 });
    let rejectSlow: (e: Error) => void = () => {};
    const slow = b.execute(() => new Promise<never>((_r, reject) => (rejectSlow = reject)));
    await failTimes(b, 1);
    expect(b.state).toBe('open');
    await clock.advance(100);
    expect(b.state).toBe('half-open');
    rejectSlow(new Error('late'));
    await slow.catch(() => {});
    expect(b.state).toBe('half-open');
  });

  it('isFailure lets some errors count as successes', async () => {
    const b = new CircuitBreaker(
      { clock: new ManualClock() },
      { failureThreshold: 1, isFailure: (e) => (e as Error).message !== 'not found' },
    );
    await b.execute(() => Promise.reject(new Error('not found'))).catch(() => {});
    expect(b.state).toBe('closed');
  });

  it('reset() closes it from open', async () => {
    const b = new CircuitBreaker({ clock: new ManualClock() }, { failureThreshold: 1 });
    await failTimes(b, 1);
    b.reset();
    expect(b.state).toBe('closed');
    await expect(b.execute(succeed)).resolves.toBe('up');
  });

  it('a synchronous throw counts as a failure and still rejects', async () => {
    const b = new CircuitBreaker({ clock: new ManualClock() }, { failureThreshold: 1 });
    await expect(
      b.execute(() => {
        throw new Error('sync');
      }),
    ).rejects.toThrow('sync');
    expect(b.state).toBe('open');
  });

  it('the transition table covers exactly the documented edges', () => {
    expect(CIRCUIT_TRANSITIONS).toEqual({
      closed: { trip: 'open' },
      open: { 'cooldown-elapsed': 'half-open', reset: 'closed' },
      'half-open': { 'probe-succeeded': 'closed', 'probe-failed': 'open', reset: 'closed' },
    });
  });

  it('validates options', () => {
    const invalid = expect.objectContaining({ code: 'GN_ERR_INVALID_OPTION' });
    expect(() => new CircuitBreaker({}, { failureThreshold: 0 })).toThrow(invalid);
    expect(() => new CircuitBreaker({}, { failureRateThreshold: 1.5 })).toThrow(invalid);
    expect(() => new CircuitBreaker({}, { failureRateThreshold: 0 })).toThrow(invalid);
    expect(() => new CircuitBreaker({}, { openMs: Infinity })).toThrow(invalid);
    expect(() => new CircuitBreaker({}, { windowMs: Infinity })).toThrow(invalid);
    expect(() => new CircuitBreaker({}, { windowBuckets: 10_000 })).toThrow(invalid);
    expect(() => new CircuitBreaker({}, { halfOpenMaxCalls: 0 })).toThrow(invalid);
  });
});
