/**
 * Graceful shutdown for a process that runs servers and nodes (DESIGN §6).
 *
 * ```
 *   running ──(signal or shutdown())──▶ draining ──(every component settled)──▶ stopped
 *                                          │
 *                                          └──(second signal)──▶ exit(forceExitCode)
 * ```
 *
 * `shutdown()` runs the phases of the `Drainable` contract:
 * 1. `stopAccepting()` is called on every registered component before any `drain()`;
 * 2. each component's `drain()` starts as soon as its own `stopAccepting()` resolved, so a
 *    slow listener never holds another component's idle connections open;
 * 3. a component that has not drained when `deadlineMs` passes, or whose `stopAccepting`
 *    or `drain` threw, is destroyed (each `destroy()` bounded by `destroyTimeoutMs`);
 * 4. `onShutdown` hooks run once the components settled, until the deadline (or for
 *    `destroyTimeoutMs` if less than that is left).
 *
 * So `shutdown()` always settles within `deadlineMs + 2 * destroyTimeoutMs`. The exit code
 * is 0 when every component drained and every hook finished, 1 otherwise.
 *
 * With `listen()`, the first SIGTERM/SIGINT runs `shutdown()` and then `exit(exitCode)`;
 * a second signal while draining exits at once with `forceExitCode`. Nothing here throws
 * out of a signal handler.
 */
import { InvalidOptionError } from '../errors.js';
import { MAX_TIMER_MS, systemClock } from './clock.js';
import type { Clock } from './clock.js';
import { deadlineSignal, raceSignal } from './deadline.js';
import type { Drainable } from './drainable.js';
import { ShutdownInProgressError, TooManyRegistrationsError } from './errors.js';

export type ShutdownState = 'running' | 'draining' | 'stopped';

/** The logger shape the manager writes to; a pino logger fits it. */
export interface ShutdownLogger {
  info(fields: Record<string, unknown>, msg: string): void;
  warn(fields: Record<string, unknown>, msg: string): void;
  error(fields: Record<string, unknown>, msg: string): void;
}

/** Where signals come from; `process` fits it. */
export interface SignalSource {
  on(signal: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
  removeListener(signal: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
}

export interface ShutdownComponents {
  /**
   * Receives one line per phase and component.
   * @default a logger that discards everything
   */
  logger?: ShutdownLogger;
  /**
   * Time source for the deadline.
   * @default systemClock
   */
  clock?: Clock;
  /**
   * Ends the process after a signal-triggered shutdown.
   * @default process.exit
   */
  exit?: (code: number) => void;
  /**
   * The source `listen()` subscribes to.
   * @default process
   */
  process?: SignalSource;
}

export interface ShutdownOptions {
  /**
   * Time for stopAccepting + drain, in ms, before the rest is destroyed (1..2^31-1).
   * @default 5000
   */
  deadlineMs?: number;
  /**
   * Bound on each `destroy()` call, and the least time hooks get, in ms (0..2^31-1).
   * @default 1000
   */
  destroyTimeoutMs?: number;
  /**
   * Signals `listen()` handles.
   * @default ['SIGTERM', 'SIGINT']
   */
  signals?: readonly NodeJS.Signals[];
  /**
   * Exit code when a second signal forces exit during the drain (0..255). 130 is what a
   * shell reports for a Ctrl-C'd program (128 + SIGINT), the usual way to send the second
   * signal, and it differs from 1 (drain deadline passed) so the two can be told apart.
   * @default 130
   */
  forceExitCode?: number;
  /**
   * Most components plus hooks that may be registered at once (1..1e6).
   * @default 1000
   */
  maxRegistrations?: number;
}

export interface ComponentReport {
  readonly name: string;
  readonly outcome: 'drained' | 'destroyed';
  /** For a destroyed component: the phase that failed or ran out of time. */
  readonly phase?: 'stopAccepting' | 'drain';
  /** Why it was destroyed: the thrown error, or the `TimeoutError` of the deadline. */
  readonly error?: unknown;
  /** What `destroy()` itself threw, or its `TimeoutError`. */
  readonly destroyError?: unknown;
  readonly durationMs: number;
}

export interface HookReport {
  readonly name: string;
  readonly outcome: 'done' | 'failed' | 'timed-out';
  readonly error?: unknown;
}

export interface ShutdownReport {
  readonly reason: string;
  /** 0 when every component drained and every hook finished, else 1. */
  readonly exitCode: 0 | 1;
  readonly durationMs: number;
  readonly components: readonly ComponentReport[];
  readonly hooks: readonly HookReport[];
}

/** A hook gets a signal that aborts when its time is up. */
export type ShutdownHook = (signal: AbortSignal) => Promise<void> | void;

interface HookEntry {
  readonly name: string;
  readonly fn: ShutdownHook;
}

type Outcome = { ok: true } | { ok: false; error: unknown; timedOut: boolean };

const OK: Outcome = Object.freeze({ ok: true });

const silentLogger: ShutdownLogger = Object.freeze({
  info() {},
  warn() {},
  error() {},
});

/** Call `fn`, turning a synchronous throw into a rejection. */
async function attempt(fn: () => unknown): Promise<void> {
  await fn();
}

/** Settle `work` against `signal`; never rejects. */
async function outcome(work: Promise<void>, signal: AbortSignal): Promise<Outcome> {
  try {
    await raceSignal(work, signal);
    return OK;
  } catch (error) {
    return { ok: false, error, timedOut: signal.aborted && error === signal.reason };
  }
}

function checkMs(value: number, name: string, min: number): number {
  if (!Number.isFinite(value) || value < min || value > MAX_TIMER_MS) {
    throw new InvalidOptionError(`${name} must be a number of ms in ${min}..${MAX_TIMER_MS}`);
  }
  return value;
}

export class ShutdownManager {
  readonly #logger: ShutdownLogger;
  readonly #clock: Clock;
  readonly #exitFn: (code: number) => void;
  readonly #source: SignalSource;
  readonly #deadlineMs: number;
  readonly #destroyTimeoutMs: number;
  readonly #signals: readonly NodeJS.Signals[];
  readonly #forceExitCode: number;
  readonly #maxRegistrations: number;

  readonly #components = new Set<Drainable>();
  readonly #hooks = new Set<HookEntry>();
  #state: ShutdownState = 'running';
  #running: Promise<ShutdownReport> | undefined;
  #report: ShutdownReport | undefined;
  #listening = false;
  /** A signal asked for exit once the drain finishes. */
  #exitAfterDrain = false;
  #exited = false;

  constructor(components: ShutdownComponents = {}, options: ShutdownOptions = {}) {
    this.#logger = components.logger ?? silentLogger;
    this.#clock = components.clock ?? systemClock;
    this.#exitFn = components.exit ?? ((code: number) => process.exit(code));
    this.#source = components.process ?? process;
    this.#deadlineMs = checkMs(options.deadlineMs ?? 5000, 'deadlineMs', 1);
    this.#destroyTimeoutMs = checkMs(options.destroyTimeoutMs ?? 1000, 'destroyTimeoutMs', 0);
    const signals = options.signals ?? ['SIGTERM', 'SIGINT'];
    if (!Array.isArray(signals) || signals.some((s) => typeof s !== 'string')) {
      throw new InvalidOptionError("signals must be an array of signal names, e.g. ['SIGTERM']");
    }
    this.#signals = Object.freeze([...new Set(signals)]);
    const force = options.forceExitCode ?? 130;
    if (!Number.isInteger(force) || force < 0 || force > 255) {
      throw new InvalidOptionError('forceExitCode must be an integer exit code in 0..255');
    }
    this.#forceExitCode = force;
    const max = options.maxRegistrations ?? 1000;
    if (!Number.isInteger(max) || max < 1 || max > 1e6) {
      throw new InvalidOptionError('maxRegistrations must be an integer in 1..1000000');
    }
    this.#maxRegistrations = max;
  }

  get state(): ShutdownState {
    return this.#state;
  }

  /** The report of a finished shutdown, else undefined. */
  get report(): ShutdownReport | undefined {
    return this.#report;
  }

  /**
   * Have `shutdown()` drain `component`. Returns a function that unregisters it.
   * Throws `ShutdownInProgressError` once shutdown began: close such a late component
   * directly.
   */
  register(component: Drainable): () => void {
    if (this.#state !== 'running') throw new ShutdownInProgressError(`'${component.name}'`);
    if (!this.#components.has(component)) {
      this.#checkCapacity();
      this.#components.add(component);
    }
    return () => {
      this.#components.delete(component);
    };
  }

  /**
   * Run `fn` during shutdown, after the components settled (e.g. flush logs, close a
   * database). Its signal aborts when its time is up. Returns an unregister function.
   */
  onShutdown(fn: ShutdownHook, name = `hook-${this.#hooks.size + 1}`): () => void {
    if (this.#state !== 'running') throw new ShutdownInProgressError(`hook '${name}'`);
    this.#checkCapacity();
    const entry: HookEntry = { name, fn };
    this.#hooks.add(entry);
    return () => {
      this.#hooks.delete(entry);
    };
  }

  /** Handle the configured signals (idempotent). */
  listen(): void {
    if (this.#listening) return;
    this.#listening = true;
    for (const s of this.#signals) this.#source.on(s, this.#onSignal);
  }

  /** Stop handling signals (idempotent). */
  unlisten(): void {
    if (!this.#listening) return;
    this.#listening = false;
    for (const s of this.#signals) this.#source.removeListener(s, this.#onSignal);
  }

  /**
   * Drain every registered component (see the module comment). Idempotent: later calls
   * return the same promise. Never rejects. Does not exit the process.
   */
  shutdown(reason = 'shutdown() called'): Promise<ShutdownReport> {
    if (!this.#running) {
      this.#state = 'draining';
      this.#running = this.#run(reason).then(
        (report) => report,
        (error: unknown) => {
          // Only a bug in this file gets here; still settle with a failing report.
          this.#log('error', { err: error }, 'shutdown failed unexpectedly');
          return { reason, exitCode: 1, durationMs: 0, components: [], hooks: [] } as const;
        },
      );
      void this.#running.then((report) => {
        this.#report = report;
        this.#state = 'stopped';
        if (this.#exitAfterDrain) this.#exit(report.exitCode);
      });
    }
    return this.#running;
  }

  readonly #onSignal = (signal: NodeJS.Signals): void => {
    try {
      if (this.#state === 'running') {
        this.#log('info', { signal }, 'signal received; shutting down');
        this.#exitAfterDrain = true;
        void this.shutdown(`signal ${signal}`);
      } else if (this.#state === 'draining' && !this.#exitAfterDrain) {
        // A programmatic shutdown is running: exit when it finishes.
        this.#log('info', { signal }, 'signal received during shutdown; exiting when done');
        this.#exitAfterDrain = true;
      } else if (this.#state === 'draining') {
        this.#log('warn', { signal, code: this.#forceExitCode }, 'second signal; forcing exit');
        this.#exit(this.#forceExitCode);
      } else {
        this.#exit(this.#report?.exitCode ?? this.#forceExitCode);
      }
    } catch {
      // Never throw out of a signal handler.
    }
  };

  #checkCapacity(): void {
    if (this.#components.size + this.#hooks.size >= this.#maxRegistrations) {
      throw new TooManyRegistrationsError(this.#maxRegistrations);
    }
  }

  #exit(code: number): void {
    if (this.#exited) return;
    this.#exited = true;
    try {
      this.#exitFn(code);
    } catch (err) {
      this.#log('error', { err, code }, 'exit function threw');
    }
  }

  #log(level: keyof ShutdownLogger, fields: Record<string, unknown>, msg: string): void {
    try {
      this.#logger[level](fields, msg);
    } catch {
      // A broken logger must not break the shutdown.
    }
  }

  async #run(reason: string): Promise<ShutdownReport> {
    const start = this.#clock.now();
    const components = [...this.#components];
    const hooks = [...this.#hooks];
    this.#log(
      'info',
      { reason, components: components.map((c) => c.name), deadlineMs: this.#deadlineMs },
      'shutdown started',
    );
    const deadline = deadlineSignal(this.#deadlineMs, undefined, this.#clock);
    let reports: ComponentReport[];
    try {
      // Phase 1 starts on every component before phase 2 starts on any.
      const stopping = components.map((c) => attempt(() => c.stopAccepting()));
      reports = await Promise.all(
        components.map((c, i) => this.#settle(c, stopping[i] ?? attempt(() => {}), deadline)),
      );
    } finally {
      deadline.clear();
    }
    const hookReports = await this.#runHooks(hooks, start + this.#deadlineMs);
    const clean =
      reports.every((r) => r.outcome === 'drained') &&
      hookReports.every((h) => h.outcome === 'done');
    const report: ShutdownReport = {
      reason,
      exitCode: clean ? 0 : 1,
      durationMs: this.#clock.now() - start,
      components: reports,
      hooks: hookReports,
    };
    this.#log(
      clean ? 'info' : 'warn',
      {
        reason,
        exitCode: report.exitCode,
        durationMs: report.durationMs,
        components: reports.map((r) => ({ name: r.name, outcome: r.outcome })),
      },
      'shutdown complete',
    );
    return report;
  }

  async #settle(
    component: Drainable,
    stopping: Promise<void>,
    deadline: { signal: AbortSignal },
  ): Promise<ComponentReport> {
    const start = this.#clock.now();
    const name = component.name;
    let phase: 'stopAccepting' | 'drain' = 'stopAccepting';
    let result = await outcome(stopping, deadline.signal);
    if (result.ok) {
      phase = 'drain';
      result = await outcome(
        attempt(() => component.drain()),
        deadline.signal,
      );
    }
    if (result.ok) {
      const durationMs = this.#clock.now() - start;
      this.#log('info', { component: name, durationMs }, 'component drained');
      return { name, outcome: 'drained', durationMs };
    }
    if (result.timedOut) {
      this.#log(
        'warn',
        { component: name, phase, deadlineMs: this.#deadlineMs },
        'drain deadline passed; destroying component',
      );
    } else {
      this.#log(
        'error',
        { component: name, phase, err: result.error },
        `${phase} failed; destroying component`,
      );
    }
    const destroyError = await this.#destroy(component);
    return {
      name,
      outcome: 'destroyed',
      phase,
      error: result.error,
      ...(destroyError === undefined ? {} : { destroyError }),
      durationMs: this.#clock.now() - start,
    };
  }

  async #destroy(component: Drainable): Promise<unknown> {
    const bound = deadlineSignal(this.#destroyTimeoutMs, undefined, this.#clock);
    try {
      const result = await outcome(
        attempt(() => component.destroy()),
        bound.signal,
      );
      if (result.ok) return undefined;
      this.#log('error', { component: component.name, err: result.error }, 'destroy failed');
      return result.error;
    } finally {
      bound.clear();
    }
  }

  async #runHooks(hooks: readonly HookEntry[], deadlineAt: number): Promise<HookReport[]> {
    if (hooks.length === 0) return [];
    const budget = Math.max(deadlineAt - this.#clock.now(), this.#destroyTimeoutMs);
    const bound = deadlineSignal(Math.min(budget, MAX_TIMER_MS), undefined, this.#clock);
    try {
      return await Promise.all(
        hooks.map(async (hook): Promise<HookReport> => {
          const result = await outcome(
            attempt(() => hook.fn(bound.signal)),
            bound.signal,
          );
          if (result.ok) return { name: hook.name, outcome: 'done' };
          this.#log('error', { hook: hook.name, err: result.error }, 'shutdown hook failed');
          return {
            name: hook.name,
            outcome: result.timedOut ? 'timed-out' : 'failed',
            error: result.error,
          };
        }),
      );
    } finally {
      bound.clear();
    }
  }
}
