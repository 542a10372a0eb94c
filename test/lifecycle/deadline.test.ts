import { describe, expect, it } from 'vitest';
import { AbortError, TimeoutError, type GhostnetError } from '../../src/errors.js';
import {
  abortReason,
  anySignal,
  deadlineSignal,
  raceSignal,
  sleep,
} from '../../src/lifecycle/deadline.js';
import { ManualClock } from './manual-clock.js';

describe('deadlineSignal', () => {
  it('aborts with a TimeoutError once the time is up, not before', async () => {
    const clock = new ManualClock();
    const { signal } = deadlineSignal(100, undefined, clock);
    await clock.advance(99);
    expect(signal.aborted).toBe(false);
    await clock.advance(1);
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBeInstanceOf(TimeoutError);
    expect((signal.reason as GhostnetError).code).toBe('GN_ERR_TIMEOUT');
    expect(clock.pendingTimers).toBe(0);
  });

  it('forwards the parent reason and stops its timer', () => {
    const clock = new ManualClock();
    const parent = new AbortController();
    const { signal } = deadlineSignal(100, parent.signal, clock);
    const reason = new AbortError('stop');
    parent.abort(reason);
    expect(signal.reason).toBe(reason);
    expect(clock.pendingTimers).toBe(0);
  });

  it('is aborted at once when the parent already is', () => {
    const parent = new AbortController();
    parent.abort('why');
    const { signal } = deadlineSignal(100, parent.signal, new ManualClock());
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBe('why');
  });

  it('clear() cancels the timer and detaches from the parent', async () => {
    const clock = new ManualClock();
    const parent = new AbortController();
    const d = deadlineSignal(100, parent.signal, clock);
    d.clear();
    d.clear();
    expect(clock.pendingTimers).toBe(0);
    parent.abort();
    await clock.advance(1000);
    expect(d.signal.aborted).toBe(false);
  });

  it('rejects delays a timer cannot honour', () => {
    for (const bad of [-1, Number.NaN, Infinity, 2 ** 31]) {
      expect(() => deadlineSignal(bad)).toThrow(
        expect.objectContaining({ code: 'GN_ERR_INVALID_OPTION' }),
      );
    }
  });
});

describe('anySignal', () => {
  it('follows the first source to abort', () => {
    const a = new AbortController();
    const b = new AbortController();
    const { signal } = anySignal([a.signal, undefined, b.signal]);
    b.abort('b');
    a.abort('a');
    expect(signal.reason).toBe('b');
  });

  it('is aborted at once when a source already is, and clear() detaches', () => {
    const a = new AbortController();
    a.abort('early');
    expect(anySignal([a.signal]).signal.reason).toBe('early');
    const b = new AbortController();
    const linked = anySignal([b.signal]);
    linked.clear();
    b.abort();
    expect(linked.signal.aborted).toBe(false);
  });
});

describe('sleep', () => {
  it('resolves after the delay on the injected clock', async () => {
    const clock = new ManualClock();
    let done = false;
    void sleep(50, undefined, clock).then(() => (done = true));
    await clock.advance(49);
    expect(done).toBe(false);
    await clock.advance(1);
    expect(done).toBe(true);
  });

  it('rejects with AbortError (cause: the reason) when aborted, and clears its timer', async () => {
    const clock = new ManualClock();
    const ac = new AbortController();
    const p = sleep(50, ac.signal, clock);
    ac.abort('user');
    const err = await p.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AbortError);
    expect((err as AbortError).cause).toBe('user');
    expect(clock.pendingTimers).toBe(0);
  });

  it('rejects with the deadline TimeoutError itself', async () => {
    const clock = new ManualClock();
    const d = deadlineSignal(10, undefined, clock);
    const p = sleep(50, d.signal, clock).catch((e: unknown) => e);
    await clock.advance(10);
    expect(await p).toBe(d.signal.reason);
  });

  it('rejects at once on an already-aborted signal', async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(sleep(10, ac.signal, new ManualClock())).rejects.toMatchObject({
      code: 'GN_ERR_ABORTED',
    });
  });
});

describe('abortReason / raceSignal', () => {
  it('maps a DOM TimeoutError to a ghostnet TimeoutError', () => {
    const ac = new AbortController();
    ac.abort(new DOMException('late', 'TimeoutError'));
    expect(abortReason(ac.signal)).toBeInstanceOf(TimeoutError);
  });

  it('settles like the promise, or rejects when the signal aborts first', async () => {
    const ac = new AbortController();
    await expect(raceSignal(Promise.resolve(7), ac.signal)).resolves.toBe(7);
    await expect(raceSignal(Promise.reject(new Error('x')), ac.signal)).rejects.toThrow('x');
    const pending = raceSignal(new Promise<never>(() => {}), ac.signal);
    ac.abort();
    await expect(pending).rejects.toBeInstanceOf(AbortError);
  });
});
