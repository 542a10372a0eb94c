/**
 * The simulator's virtual clock: a discrete-event queue. Events are (time, seq, callback);
 * a binary min-heap orders them by time, and by `seq` (the order they were scheduled in)
 * among equal times, so equal-time events run first-in first-out and a run is a pure
 * function of what was scheduled.
 *
 * The heap keeps times and seqs in two Float64Arrays beside the array of events, so sifting
 * never touches an event object: with 10^5 datagrams in flight that is what keeps it fast.
 * Cancelling and rescheduling are lazy: the event records the seq it is armed under, and a
 * heap entry whose seq no longer matches is skipped when it surfaces. The heap is compacted
 * when such stale entries outnumber live ones.
 *
 * Nothing here reads the wall clock. Time is a number of virtual milliseconds; it only moves
 * when the queue runs (`step`, `runUntil`, `runFor`, `runUntilIdle`), and it jumps straight
 * to the next event. Every run takes a bound on the events it may execute, so a protocol
 * that reschedules itself forever cannot hang a test.
 */
import { InvalidOptionError } from '../../errors.js';
import { SimStateError } from './errors.js';
import type { Timers } from './timers.js';

export interface SimClockOptions {
  /**
   * Virtual time the clock starts at, in milliseconds.
   * @default 0
   */
  startTime?: number;
  /**
   * Events one `runUntil`/`runFor`/`runUntilIdle` call executes at most when the caller
   * passes no bound.
   * @default 10_000_000
   */
  maxEventsPerRun?: number;
  /**
   * Events that may be queued at once; scheduling beyond it throws `SimStateError`. A
   * finite bound (STYLE §4) that only a runaway protocol reaches.
   * @default 10_000_000
   */
  maxPendingEvents?: number;
}

export const SIM_CLOCK_DEFAULTS = Object.freeze({
  startTime: 0,
  maxEventsPerRun: 10_000_000,
  maxPendingEvents: 10_000_000,
});

/** A handle to a scheduled event. Pass it to `cancel` or `reschedule`. */
export interface SimTimer {
  /** When the event runs (or ran, or would have run). */
  readonly time: number;
  /** True while it is queued. */
  readonly pending: boolean;
}

type Callback = (a: unknown, b: unknown, c: unknown) => void;

/** An event and its handle. Monomorphic on purpose. */
class SimEvent implements SimTimer {
  time = 0;
  /** The seq of the heap entry that is this event while queued; -1 when not queued. */
  seq = -1;
  readonly fn: Callback;
  readonly a: unknown;
  readonly b: unknown;
  readonly c: unknown;

  constructor(fn: Callback, a: unknown, b: unknown, c: unknown) {
    this.fn = fn;
    this.a = a;
    this.b = b;
    this.c = c;
  }

  get pending(): boolean {
    return this.seq >= 0;
  }
}

function checkBound(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new InvalidOptionError(`${name} must be a non-negative integer, got ${String(value)}`);
  }
  return value;
}

/** Compaction is not worth it below this many stale entries. */
const MIN_STALE_TO_COMPACT = 1024;
const INITIAL_CAPACITY = 1024;

export class SimClock {
  readonly maxEventsPerRun: number;
  readonly maxPendingEvents: number;
  #now: number;
  #seq = 0;
  // The heap: entry i is (#times[i], #seqs[i], #events[i]); #events.length is its size.
  #times = new Float64Array(INITIAL_CAPACITY);
  #seqs = new Float64Array(INITIAL_CAPACITY);
  #events: SimEvent[] = [];
  /** Queued events (heap entries whose seq matches their event's). */
  #live = 0;
  #stale = 0;
  #running = false;
  #eventsRun = 0;
  #timers: Timers | undefined;

  constructor(options: SimClockOptions = {}) {
    const start = options.startTime ?? SIM_CLOCK_DEFAULTS.startTime;
    if (!Number.isFinite(start)) {
      throw new InvalidOptionError(`startTime must be a finite number, got ${String(start)}`);
    }
    this.#now = start;
    this.maxEventsPerRun = checkBound(
      'maxEventsPerRun',
      options.maxEventsPerRun,
      SIM_CLOCK_DEFAULTS.maxEventsPerRun,
    );
    this.maxPendingEvents = checkBound(
      'maxPendingEvents',
      options.maxPendingEvents,
      SIM_CLOCK_DEFAULTS.maxPendingEvents,
    );
  }

  /** Current virtual time in milliseconds. */
  get now(): number {
    return this.#now;
  }

  /** Events queued. */
  get pending(): number {
    return this.#live;
  }

  /** Time of the next queued event, or undefined when idle. */
  get nextEventTime(): number | undefined {
    this.#dropStaleTop();
    return this.#events.length > 0 ? this.#times[0] : undefined;
  }

  /** Events executed since construction. */
  get eventsRun(): number {
    return this.#eventsRun;
  }

  /** This clock as injectable `Timers` (virtual `now`, `setTimeout`, `clearTimeout`). */
  get timers(): Timers {
    this.#timers ??= Object.freeze({
      now: () => this.#now,
      setTimeout: (fn: () => void, ms: number): unknown => this.schedule(ms >= 0 ? ms : 0, fn),
      clearTimeout: (handle: unknown): void => {
        if (handle instanceof SimEvent) this.cancel(handle);
      },
    });
    return this.#timers;
  }

  /** Run `fn` after `delayMs` virtual milliseconds (0 = after what is already due now). */
  schedule(delayMs: number, fn: () => void): SimTimer {
    return this.scheduleCall(this.#now + delayMs, fn as Callback, undefined);
  }

  /** Run `fn` at virtual time `time`; a time in the past means now. */
  scheduleAt(time: number, fn: () => void): SimTimer {
    return this.scheduleCall(time, fn as Callback, undefined);
  }

  /**
   * Run `fn(a, b, c)` at `time`. The allocation-light form the network uses for every
   * datagram: one shared callback, the per-event state in up to three arguments, no closure.
   */
  scheduleCall<A, B = undefined, C = undefined>(
    time: number,
    fn: (a: A, b: B, c: C) => void,
    a: A,
    b?: B,
    c?: C,
  ): SimTimer {
    const event = new SimEvent(fn as Callback, a, b, c);
    this.#arm(event, time);
    return event;
  }

  /** A timer `fn(arg)` not queued yet; arm it with `reschedule`. Reusable after it fires. */
  createTimer<T>(fn: (arg: T) => void, arg: T): SimTimer {
    return new SimEvent(fn as Callback, arg, undefined, undefined);
  }

  /**
   * Move `timer` to `time` (a time in the past means now), queueing it if it was not. It
   * then runs after everything already scheduled for that time, as a new event would.
   */
  reschedule(timer: SimTimer, time: number): void {
    const event = this.#own(timer);
    if (event.seq >= 0) {
      event.seq = -1;
      this.#live--;
      this.#stale++;
    }
    this.#arm(event, time);
  }

  /** Dequeue `timer`. Returns false when it was not queued (already ran or cancelled). */
  cancel(timer: SimTimer): boolean {
    const event = this.#own(timer);
    if (event.seq < 0) return false;
    event.seq = -1;
    this.#live--;
    this.#stale++;
    return true;
  }

  /** Run the next event, if any. Returns whether one ran. */
  step(): boolean {
    return this.#run(Infinity, 1) === 1;
  }

  /**
   * Run every event due at or before `time`, then set the clock to `time`. Stops early after
   * `maxEvents` events (the clock then stays at the last event's time). Returns how many ran.
   */
  runUntil(time: number, maxEvents: number = this.maxEventsPerRun): number {
    if (Number.isNaN(time)) throw new InvalidOptionError('runUntil(time) needs a number, got NaN');
    const ran = this.#run(time, maxEvents);
    const next = this.nextEventTime;
    if ((next === undefined || next > time) && time > this.#now && time !== Infinity) {
      this.#now = time;
    }
    return ran;
  }

  /** `runUntil(now + ms)`. */
  runFor(ms: number, maxEvents: number = this.maxEventsPerRun): number {
    return this.runUntil(this.#now + ms, maxEvents);
  }

  /**
   * Run until the queue is empty or `maxEvents` ran. Protocols with periodic timers never go
   * idle; the bound ends the run. Returns how many ran.
   */
  runUntilIdle(maxEvents: number = this.maxEventsPerRun): number {
    return this.#run(Infinity, maxEvents);
  }

  #run(until: number, maxEvents: number): number {
    if (this.#running) {
      throw new SimStateError('The sim clock was run from inside one of its own events');
    }
    this.#running = true;
    const events = this.#events;
    let ran = 0;
    try {
      while (ran < maxEvents && events.length > 0) {
        const time = this.#times[0]!;
        if (time > until) break;
        const seq = this.#seqs[0]!;
        const event = events[0]!;
        this.#popTop();
        if (event.seq !== seq) {
          this.#stale--;
          continue;
        }
        event.seq = -1;
        this.#live--;
        this.#now = time;
        ran++;
        event.fn(event.a, event.b, event.c);
      }
    } finally {
      this.#running = false;
      this.#eventsRun += ran;
    }
    return ran;
  }

  #checkTime(time: number): number {
    if (!(time === time && time !== Infinity && time !== -Infinity)) {
      throw new InvalidOptionError(`event time must be a finite number, got ${String(time)}`);
    }
    return time < this.#now ? this.#now : time;
  }

  #arm(event: SimEvent, time: number): void {
    const at = this.#checkTime(time);
    if (this.#live >= this.maxPendingEvents) {
      throw new SimStateError(
        `More than maxPendingEvents (${this.maxPendingEvents}) events queued; ` +
          'a protocol is probably scheduling without bound',
      );
    }
    if (this.#stale > MIN_STALE_TO_COMPACT && this.#stale > this.#live) this.#compact();
    const seq = this.#seq++;
    event.time = at;
    event.seq = seq;
    this.#live++;
    this.#push(at, seq, event);
  }

  #own(timer: SimTimer): SimEvent {
    if (!(timer instanceof SimEvent)) {
      throw new InvalidOptionError('not a timer handle from SimClock.schedule*');
    }
    return timer;
  }

  #dropStaleTop(): void {
    const events = this.#events;
    while (events.length > 0 && events[0]!.seq !== this.#seqs[0]) {
      this.#popTop();
      this.#stale--;
    }
  }

  #push(time: number, seq: number, event: SimEvent): void {
    const events = this.#events;
    let i = events.length;
    if (i === this.#times.length) this.#grow();
    events.push(event);
    const times = this.#times;
    const seqs = this.#seqs;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const pt = times[p]!;
      if (pt < time || (pt === time && seqs[p]! < seq)) break;
      times[i] = pt;
      seqs[i] = seqs[p]!;
      events[i] = events[p]!;
      i = p;
    }
    times[i] = time;
    seqs[i] = seq;
    events[i] = event;
  }

  /** Remove the root: move the last entry there and sift it down. */
  #popTop(): void {
    const events = this.#events;
    const last = events.pop()!;
    const n = events.length;
    if (n === 0) return;
    this.#siftDown(0, this.#times[n]!, this.#seqs[n]!, last);
  }

  /** Place (time, seq, event) at hole `i` or below it. */
  #siftDown(i: number, time: number, seq: number, event: SimEvent): void {
    const times = this.#times;
    const seqs = this.#seqs;
    const events = this.#events;
    const n = events.length;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      let ct = times[c]!;
      const r = c + 1;
      if (r < n) {
        const rt = times[r]!;
        if (rt < ct || (rt === ct && seqs[r]! < seqs[c]!)) {
          c = r;
          ct = rt;
        }
      }
      if (time < ct || (time === ct && seq < seqs[c]!)) break;
      times[i] = ct;
      seqs[i] = seqs[c]!;
      events[i] = events[c]!;
      i = c;
    }
    times[i] = time;
    seqs[i] = seq;
    events[i] = event;
  }

  #grow(): void {
    const size = this.#times.length * 2;
    const times = new Float64Array(size);
    times.set(this.#times);
    const seqs = new Float64Array(size);
    seqs.set(this.#seqs);
    this.#times = times;
    this.#seqs = seqs;
  }

  /** Drop every stale entry and rebuild the heap (Floyd's bottom-up heapify). */
  #compact(): void {
    const times = this.#times;
    const seqs = this.#seqs;
    const events = this.#events;
    let n = 0;
    for (let i = 0; i < events.length; i++) {
      const event = events[i]!;
      if (event.seq !== seqs[i]) continue;
      times[n] = times[i]!;
      seqs[n] = seqs[i]!;
      events[n] = event;
      n++;
    }
    events.length = n;
    this.#stale = 0;
    for (let i = (n >> 1) - 1; i >= 0; i--) {
      this.#siftDown(i, times[i]!, seqs[i]!, events[i]!);
    }
  }
}
