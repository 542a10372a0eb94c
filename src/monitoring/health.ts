/**
 * Named health checks with liveness and readiness reports (DESIGN §6).
 *
 * The report follows the IETF draft "Health Check Response Format for HTTP APIs"
 * (draft-inadarei-api-health-check) where it fits: `status` is `pass`, `warn` or `fail`,
 * `checks` is keyed by check name, and a binding serves it as `application/health+json`
 * with HTTP 200 for pass/warn and 503 for fail (`httpStatus`). Each check entry is one
 * object (the draft allows an array per key; we never report more than one result).
 *
 * - Liveness asks "should this process be restarted?" and readiness "should it get
 *   traffic?"; a check declares which of them it belongs to (`kind`).
 * - Checks of a report run concurrently; each is bounded by its `timeoutMs`: a check that
 *   hangs is reported as `fail` with a timeout error and its AbortSignal is aborted, so the
 *   report itself always completes. A throwing or rejecting check reports `fail` with its
 *   message.
 * - A failing `critical: false` check makes the overall status `warn` (degraded), not
 *   `fail`. A check may also return `{ status: 'warn' }` itself.
 * - `setReady(false)` fails readiness on purpose, for draining: the shutdown manager flips
 *   it before it stops accepting connections so load balancers move traffic away.
 * - Concurrent calls for the same kind share one run, so a probe storm cannot pile up
 *   check executions.
 */
import { InvalidOptionError, TimeoutError } from '../errors.js';

export type HealthStatus = 'pass' | 'warn' | 'fail';

export type HealthCheckKind = 'liveness' | 'readiness' | 'both';

/** What a check may return; returning nothing means `pass`. */
export interface HealthCheckOutcome {
  /** @default 'pass' */
  status?: HealthStatus;
  /** Extra JSON-serialisable data shown in the report (an observed value, a version). */
  details?: unknown;
}

export type HealthCheck = (
  signal: AbortSignal,
) => Promise<void | HealthCheckOutcome> | void | HealthCheckOutcome;

export interface HealthCheckOptions {
  /**
   * Which report the check belongs to.
   * @default 'both'
   */
  kind?: HealthCheckKind;
  /**
   * How long the check may run before it is reported as failed and its signal aborted.
   * An integer from 1 to 300000.
   * @default 2000
   */
  timeoutMs?: number;
  /**
   * Whether a failure fails the whole report. A non-critical failure only degrades the
   * overall status to `warn`.
   * @default true
   */
  critical?: boolean;
}

export interface HealthCheckResult {
  readonly status: HealthStatus;
  /** Wall time the check took, in milliseconds, as measured by the clock. */
  readonly durationMs: number;
  /** Why the check failed or warned (an error message, a timeout). */
  readonly error?: string;
  readonly details?: unknown;
  /** Present (false) only for non-critical checks. */
  readonly critical?: false;
}

export interface HealthReport {
  readonly status: HealthStatus;
  readonly checks: Readonly<Record<string, HealthCheckResult>>;
  /** When the report was produced, ISO 8601. */
  readonly time: string;
}

/** A clock in milliseconds since the epoch (for `time` and `durationMs`). */
export interface HealthClock {
  now(): number;
}

export interface HealthChecksOptions {
  /**
   * The clock for report times and durations.
   * @default Date
   */
  clock?: HealthClock;
  /**
   * The most checks that may be registered.
   * @default 64
   */
  maxChecks?: number;
}

/** The media type of a health report (IETF health check draft). */
export const HEALTH_CONTENT_TYPE = 'application/health+json';

/** The name under which `setReady(false)` shows up in the readiness report. */
export const READY_CHECK_NAME = 'ready';

/** Error messages in a report are cut to this many characters. */
const MAX_ERROR_LENGTH = 1024;
const MAX_NAME_LENGTH = 128;
const MAX_TIMEOUT_MS = 300_000;
const NAME = /^[\x21-\x7e]+$/;

/** The HTTP status a binding should answer a report with: 200 pass/warn, 503 fail. */
export function httpStatus(report: Pick<HealthReport, 'status'>): 200 | 503 {
  return report.status === 'fail' ? 503 : 200;
}

interface Registered {
  readonly check: HealthCheck;
  readonly kind: HealthCheckKind;
  readonly timeoutMs: number;
  readonly critical: boolean;
}

type ReportKind = 'liveness' | 'readiness';

export class HealthChecks {
  readonly #checks = new Map<string, Registered>();
  readonly #clock: HealthClock;
  readonly #maxChecks: number;
  readonly #inflight = new Map<ReportKind, Promise<HealthReport>>();
  #ready = true;
  #notReadyReason = 'marked not ready';

  constructor(options: HealthChecksOptions = {}) {
    this.#clock = options.clock ?? Date;
    const max = options.maxChecks ?? 64;
    if (!Number.isInteger(max) || max < 1 || max > 10_000) {
      throw new InvalidOptionError(
        `Invalid maxChecks ${String(max)}: use an integer from 1 to 10000`,
      );
    }
    this.#maxChecks = max;
  }

  /** Registers a named check. Names are unique printable ASCII without spaces. */
  register(name: string, check: HealthCheck, options: HealthCheckOptions = {}): void {
    if (typeof name !== 'string' || name.length > MAX_NAME_LENGTH || !NAME.test(name)) {
      throw new InvalidOptionError(
        `Invalid health check name ${JSON.stringify(name)}: use 1 to ${MAX_NAME_LENGTH} printable ASCII characters without spaces`,
      );
    }
    if (name === READY_CHECK_NAME) {
      throw new InvalidOptionError(
        `The health check name '${READY_CHECK_NAME}' is reserved for setReady(): choose another`,
      );
    }
    if (this.#checks.has(name)) {
      throw new InvalidOptionError(
        `A health check named ${JSON.stringify(name)} is already registered: unregister it first`,
      );
    }
    if (typeof check !== 'function') {
      throw new InvalidOptionError('Invalid health check: pass a function (signal) => result');
    }
    if (this.#checks.size >= this.#maxChecks) {
      throw new InvalidOptionError(
        `Too many health checks (maxChecks is ${this.#maxChecks}): raise maxChecks or combine checks`,
      );
    }
    const kind = options.kind ?? 'both';
    if (kind !== 'liveness' && kind !== 'readiness' && kind !== 'both') {
      throw new InvalidOptionError(
        `Invalid health check kind ${JSON.stringify(kind)}: use 'liveness', 'readiness' or 'both'`,
      );
    }
    const timeoutMs = options.timeoutMs ?? 2000;
    if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > MAX_TIMEOUT_MS) {
      throw new InvalidOptionError(
        `Invalid timeoutMs ${String(timeoutMs)}: use an integer from 1 to ${MAX_TIMEOUT_MS}`,
      );
    }
    this.#checks.set(name, { check, kind, timeoutMs, critical: options.critical ?? true });
  }

  /** Removes a check; true when it existed. */
  unregister(name: string): boolean {
    return this.#checks.delete(name);
  }

  /** The registered check names, in registration order. */
  get names(): string[] {
    return [...this.#checks.keys()];
  }

  /** Whether readiness is currently allowed to pass (see `setReady`). */
  get ready(): boolean {
    return this.#ready;
  }

  /**
   * Sets the manual readiness flag. While false, readiness reports `fail` with a `ready`
   * entry carrying `reason`, whatever the checks say. Liveness is unaffected.
   */
  setReady(ready: boolean, reason = 'marked not ready'): void {
    this.#ready = ready;
    this.#notReadyReason = String(reason).slice(0, MAX_ERROR_LENGTH);
  }

  /** Runs the liveness checks (kind 'liveness' or 'both'). Never rejects. */
  liveness(): Promise<HealthReport> {
    return this.#report('liveness');
  }

  /** Runs the readiness checks (kind 'readiness' or 'both') and applies `setReady`. Never rejects. */
  readiness(): Promise<HealthReport> {
    return this.#report('readiness');
  }

  #report(kind: ReportKind): Promise<HealthReport> {
    const running = this.#inflight.get(kind);
    if (running !== undefined) return running;
    const run = this.#run(kind).finally(() => {
      this.#inflight.delete(kind);
    });
    this.#inflight.set(kind, run);
    return run;
  }

  async #run(kind: ReportKind): Promise<HealthReport> {
    const selected = [...this.#checks].filter(([, c]) => c.kind === kind || c.kind === 'both');
    const results = await Promise.all(selected.map(([, c]) => this.#runOne(c)));
    const checks: Record<string, HealthCheckResult> = {};
    let status: HealthStatus = 'pass';
    selected.forEach(([name, registered], i) => {
      const result = results[i] as HealthCheckResult;
      checks[name] = result;
      if (result.status === 'fail' && registered.critical) status = 'fail';
      else if (result.status !== 'pass' && status === 'pass') status = 'warn';
    });
    if (kind === 'readiness' && !this.#ready) {
      checks[READY_CHECK_NAME] = { status: 'fail', durationMs: 0, error: this.#notReadyReason };
      status = 'fail';
    }
    return { status, checks, time: new Date(this.#clock.now()).toISOString() };
  }

  async #runOne(registered: Registered): Promise<HealthCheckResult> {
    const started = this.#clock.now();
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), registered.timeoutMs);
    });
    const extra = registered.critical ? {} : { critical: false as const };
    try {
      const outcome = await Promise.race([
        Promise.resolve().then(() => registered.check(controller.signal)),
        timedOut,
      ]);
      const durationMs = Math.max(0, this.#clock.now() - started);
      if (outcome === 'timeout') {
        const error = `timed out after ${registered.timeoutMs} ms`;
        controller.abort(new TimeoutError(`Health check ${error}`));
        return { status: 'fail', durationMs, error, ...extra };
      }
      return { ...interpret(outcome), durationMs, ...extra };
    } catch (err) {
      const durationMs = Math.max(0, this.#clock.now() - started);
      return { status: 'fail', durationMs, error: describe(err), ...extra };
    } finally {
      clearTimeout(timer);
    }
  }
}

function interpret(outcome: void | HealthCheckOutcome): Omit<HealthCheckResult, 'durationMs'> {
  if (outcome === undefined || outcome === null) return { status: 'pass' };
  if (typeof outcome !== 'object') {
    return { status: 'fail', error: 'the check returned neither nothing nor an object' };
  }
  const status = outcome.status ?? 'pass';
  const details = outcome.details === undefined ? {} : { details: outcome.details };
  if (status !== 'pass' && status !== 'warn' && status !== 'fail') {
    return {
      status: 'fail',
      error: `the check returned an invalid status ${JSON.stringify(String(status)).slice(0, 64)}`,
      ...details,
    };
  }
  return { status, ...details };
}

function describe(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return (message.length > 0 ? message : 'the check failed').slice(0, MAX_ERROR_LENGTH);
}
