import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from '../../../src/errors.js';
import { SimClock } from '../../../src/p2p/sim/clock.js';
import { SimStateError } from '../../../src/p2p/sim/errors.js';
import { Rng } from '../../../src/p2p/sim/rng.js';
import type { SimTimer } from '../../../src/p2p/sim/clock.js';

describe('SimClock', () => {
  it('runs events in time order and FIFO among equal times', () => {
    const clock = new SimClock();
    const log: string[] = [];
    clock.scheduleAt(10, () => log.push('a10'));
    clock.scheduleAt(5, () => log.push('b5'));
    for (let i = 0; i < 20; i++) clock.scheduleAt(7, () => log.push(`c7-${i}`));
    clock.scheduleAt(5, () => log.push('d5'));
    clock.schedule(0, () => log.push('e0'));
    expect(clock.runUntilIdle()).toBe(24);
    expect(log).toEqual([
      'e0',
      'b5',
      'd5',
      ...Array.from({ length: 20 }, (_, i) => `c7-${i}`),
      'a10',
    ]);
    expect(clock.now).toBe(10);
    expect(clock.pending).toBe(0);
    expect(clock.eventsRun).toBe(24);
  });

  it('an event scheduled for now from inside an event runs after the ones already due', () => {
    const clock = new SimClock();
    const log: string[] = [];
    clock.scheduleAt(1, () => {
      log.push('first');
      clock.schedule(0, () => log.push('nested'));
    });
    clock.scheduleAt(1, () => log.push('second'));
    clock.runUntilIdle();
    expect(log).toEqual(['first', 'second', 'nested']);
  });

  it('orders a random workload like a stable sort, with cancels and reschedules', () => {
    const rng = new Rng(42);
    const clock = new SimClock();
    const expected: { time: number; seq: number; id: number }[] = [];
    const timers: SimTimer[] = [];
    const fired: number[] = [];
    let seq = 0;
    for (let id = 0; id < 5000; id++) {
      const time = rng.int(1000);
      timers.push(clock.scheduleAt(time, () => fired.push(id)));
      expected.push({ time, seq: seq++, id });
    }
    // Cancel a third, move another third (a move counts as scheduling anew).
    for (let id = 0; id < 5000; id++) {
      const r = rng.int(3);
      if (r === 0) {
        expect(clock.cancel(timers[id]!)).toBe(true);
        expect(clock.cancel(timers[id]!)).toBe(false);
        expected[id] = { time: -1, seq: -1, id };
      } else if (r === 1) {
        const time = rng.int(1000);
        clock.reschedule(timers[id]!, time);
        expected[id] = { time, seq: seq++, id };
      }
    }
    const order = expected
      .filter((e) => e.time >= 0)
      .sort((a, b) => a.time - b.time || a.seq - b.seq)
      .map((e) => e.id);
    clock.runUntilIdle();
    expect(fired).toEqual(order);
  });

  it('runUntil runs what is due, then sets the clock to the target', () => {
    const clock = new SimClock({ startTime: 100 });
    const log: number[] = [];
    clock.schedule(10, () => log.push(clock.now));
    clock.schedule(30, () => log.push(clock.now));
    expect(clock.runUntil(120)).toBe(1);
    expect(clock.now).toBe(120);
    expect(clock.nextEventTime).toBe(130);
    expect(clock.runFor(10)).toBe(1);
    expect(clock.now).toBe(130);
    expect(log).toEqual([110, 130]);
    expect(clock.runUntil(50)).toBe(0);
    expect(clock.now).toBe(130);
  });

  it('bounds every run, so a self-rescheduling event cannot spin forever', () => {
    const clock = new SimClock({ maxEventsPerRun: 1000 });
    let n = 0;
    const tick = (): void => {
      n++;
      clock.schedule(0, tick); // zero delay: virtual time never advances
    };
    clock.schedule(0, tick);
    expect(clock.runUntilIdle()).toBe(1000);
    expect(clock.runUntilIdle(10)).toBe(10);
    expect(clock.runUntil(5, 7)).toBe(7);
    expect(clock.now).toBe(0); // stopped by the bound: time did not jump to 5
    expect(n).toBe(1017);
    expect(clock.step()).toBe(true);
  });

  it('step runs exactly one event', () => {
    const clock = new SimClock();
    expect(clock.step()).toBe(false);
    const log: number[] = [];
    clock.schedule(3, () => log.push(1));
    clock.schedule(4, () => log.push(2));
    expect(clock.step()).toBe(true);
    expect(log).toEqual([1]);
    expect(clock.now).toBe(3);
  });

  it('clamps past times to now and rejects non-finite ones', () => {
    const clock = new SimClock({ startTime: 50 });
    const t = clock.scheduleAt(10, () => {});
    expect(t.time).toBe(50);
    expect(() => clock.schedule(Number.NaN, () => {})).toThrow(InvalidOptionError);
    expect(() => clock.scheduleAt(Infinity, () => {})).toThrow(InvalidOptionError);
    expect(() => clock.cancel({ time: 1, pending: true })).toThrow(InvalidOptionError);
  });

  it('refuses to run from inside its own event', () => {
    const clock = new SimClock();
    clock.schedule(1, () => clock.runUntilIdle());
    expect(() => clock.runUntilIdle()).toThrow(SimStateError);
    // The guard resets after the throw.
    clock.schedule(1, () => {});
    expect(clock.runUntilIdle()).toBe(1);
  });

  it('bounds the queue', () => {
    const clock = new SimClock({ maxPendingEvents: 3 });
    for (let i = 0; i < 3; i++) clock.schedule(i, () => {});
    expect(() => clock.schedule(1, () => {})).toThrow(SimStateError);
  });

  it('createTimer + reschedule reuse one handle', () => {
    const clock = new SimClock();
    const fired: number[] = [];
    const timer = clock.createTimer((arg: string) => fired.push(clock.now + arg.length), 'xx');
    expect(timer.pending).toBe(false);
    clock.reschedule(timer, 10);
    clock.reschedule(timer, 5);
    clock.reschedule(timer, 8);
    expect(clock.pending).toBe(1);
    clock.runUntilIdle();
    expect(fired).toEqual([10]);
    clock.reschedule(timer, 20);
    clock.runUntilIdle();
    expect(fired).toEqual([10, 22]);
  });

  it('compacts stale entries left by many reschedules and cancels', () => {
    const clock = new SimClock();
    const rng = new Rng(8);
    const fired: string[] = [];
    const timers = Array.from({ length: 10 }, (_, i) =>
      clock.createTimer((id: number) => fired.push(`t${id}@${clock.now}`), i),
    );
    const finalTime = new Map<number, number>();
    for (let k = 0; k < 100_000; k++) {
      const id = rng.int(10);
      const at = 1 + rng.int(1_000_000);
      clock.reschedule(timers[id]!, at);
      finalTime.set(id, at);
    }
    clock.cancel(timers[0]!);
    finalTime.delete(0);
    const once = clock.schedule(5, () => fired.push(`once@${clock.now}`));
    expect(clock.pending).toBe(10);
    expect(clock.nextEventTime).toBe(5);
    expect(clock.runUntilIdle()).toBe(10);
    const expected = [
      [5, 'once'] as const,
      ...[...finalTime].map(([id, at]) => [at, `t${id}`] as const),
    ].sort((a, b) => a[0] - b[0]);
    expect(fired).toEqual(expected.map(([at, name]) => `${name}@${at}`));
    expect(once.pending).toBe(false);
    expect(clock.pending).toBe(0);
  });

  it('exposes virtual Timers', () => {
    const clock = new SimClock({ startTime: 1000 });
    const timers = clock.timers;
    const log: number[] = [];
    timers.setTimeout(() => log.push(timers.now()), 250);
    const h = timers.setTimeout(() => log.push(-1), 100);
    timers.setTimeout(() => log.push(timers.now()), -5); // negative means 0
    timers.clearTimeout(h);
    timers.clearTimeout(undefined);
    timers.clearTimeout(12345);
    clock.runUntilIdle();
    expect(log).toEqual([1000, 1250]);
    expect(clock.timers).toBe(timers);
  });
});
