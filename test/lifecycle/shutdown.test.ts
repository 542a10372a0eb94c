import { EventEmitter } from 'node:events';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { Drainable } from '../../src/lifecycle/drainable.js';
import {
  ShutdownManager,
  type ShutdownLogger,
  type SignalSource,
} from '../../src/lifecycle/shutdown.js';
import { ManualClock, flush } from './manual-clock.js';

// Type-level checks: the real process and a pino logger fit the injected shapes.
const _processFits: SignalSource = process;
const _pinoFits: ShutdownLogger = pino({ enabled: false });
void _processFits;
void _pinoFits;

class FakeProcess extends EventEmitter implements SignalSource {
  send(signal: NodeJS.Signals): void {
    this.emit(signal, signal);
  }
}

interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
  reject: (e: Error) => void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A component whose drain finishes when the test resolves it; it logs each phase call. */
function component(
  name: string,
  log: string[],
  drain = deferred(),
): Drainable & { drain$: Deferred } {
  return {
    name,
    drain$: drain,
    stopAccepting: () => void log.push(`${name}:stop`),
    drain: () => {
      log.push(`${name}:drain`);
      return drain.promise;
    },
    destroy: () => void log.push(`${name}:destroy`),
  };
}

function setup(options: ConstructorParameters<typeof ShutdownManager>[1] = {}) {
  const clock = new ManualClock();
  const proc = new FakeProcess();
  const exits: number[] = [];
  const lines: Array<{ level: string; msg: string; fields: Record<string, unknown> }> = [];
  const logger: ShutdownLogger = {
    info: (fields, msg) => void lines.push({ level: 'info', msg, fields }),
    warn: (fields, msg) => void lines.push({ level: 'warn', msg, fields }),
    error: (fields, msg) => void lines.push({ level: 'error', msg, fields }),
  };
  const manager = new ShutdownManager(
    { clock, process: proc, exit: (code) => void exits.push(code), logger },
    { deadlineMs: 5000, ...options },
  );
  return { clock, proc, exits, lines, manager };
}

describe('ShutdownManager', () => {
  it('stops accepting everywhere before draining anywhere, and reports a clean drain', async () => {
    const { manager } = setup();
    const log: string[] = [];
    const a = component('a', log);
    const b = component('b', log);
    manager.register(a);
    manager.register(b);
    expect(manager.state).toBe('running');
    const p = manager.shutdown('test');
    expect(manager.state).toBe('draining');
    await flush();
    expect(log.slice(0, 2).sort()).toEqual(['a:stop', 'b:stop']);
    expect(log.slice(2).sort()).toEqual(['a:drain', 'b:drain']);
    a.drain$.resolve();
    b.drain$.resolve();
    const report = await p;
    expect(report.exitCode).toBe(0);
    expect(report.reason).toBe('test');
    expect(report.components.map((c) => [c.name, c.outcome])).toEqual([
      ['a', 'drained'],
      ['b', 'drained'],
    ]);
    expect(manager.state).toBe('stopped');
    expect(log).not.toContain('a:destroy');
    expect(manager.shutdown()).toBe(p);
  });

  it('destroys what has not drained when the deadline passes; exit code 1', async () => {
    const { manager, clock } = setup({ deadlineMs: 1000 });
    const log: string[] = [];
    const fast = component('fast', log);
    const stuck = component('stuck', log);
    manager.register(fast);
    manager.register(stuck);
    const p = manager.shutdown();
    fast.drain$.resolve();
    await clock.advance(999);
    expect(log).not.toContain('stuck:destroy');
    await clock.advance(1);
    const report = await p;
    expect(log).toContain('stuck:destroy');
    expect(log).not.toContain('fast:destroy');
    expect(report.exitCode).toBe(1);
    const stuckReport = report.components.find((c) => c.name === 'stuck');
    expect(stuckReport).toMatchObject({ outcome: 'destroyed', phase: 'drain' });
    expect(stuckReport?.error).toMatchObject({ code: 'GN_ERR_TIMEOUT' });
    expect(clock.pendingTimers).toBe(0);
  });

  it('a component whose stopAccepting or drain throws is logged and destroyed at once', async () => {
    const { manager, lines } = setup();
    const log: string[] = [];
    manager.register({
      name: 'bad-stop',
      stopAccepting: () => {
        throw new Error('stop boom');
      },
      drain: async () => void log.push('bad-stop:drain'),
      destroy: () => void log.push('bad-stop:destroy'),
    });
    manager.register({
      name: 'bad-drain',
      stopAccepting: () => {},
      drain: () => Promise.reject(new Error('drain boom')),
      destroy: () => void log.push('bad-drain:destroy'),
    });
    const report = await manager.shutdown(); // no clock advance needed: nothing waits
    expect(log.sort()).toEqual(['bad-drain:destroy', 'bad-stop:destroy']);
    expect(report.exitCode).toBe(1);
    expect(report.components).toEqual([
      expect.objectContaining({ name: 'bad-stop', outcome: 'destroyed', phase: 'stopAccepting' }),
      expect.objectContaining({ name: 'bad-drain', outcome: 'destroyed', phase: 'drain' }),
    ]);
    expect(lines.filter((l) => l.level === 'error').map((l) => l.fields.component)).toEqual(
      expect.arrayContaining(['bad-stop', 'bad-drain']),
    );
  });

  it('bounds a hanging destroy() by destroyTimeoutMs', async () => {
    const { manager, clock } = setup({ deadlineMs: 100, destroyTimeoutMs: 200 });
    manager.register({
      name: 'hang',
      stopAccepting: () => {},
      drain: () => new Promise(() => {}),
      destroy: () => new Promise(() => {}),
    });
    const p = manager.shutdown();
    await clock.advance(100);
    let settled = false;
    void p.then(() => (settled = true));
    await clock.advance(199);
    expect(settled).toBe(false);
    await clock.advance(1);
    const report = await p;
    expect(report.components[0]?.destroyError).toMatchObject({ code: 'GN_ERR_TIMEOUT' });
  });

  it('first signal shuts down then exits with the report code; listen() is idempotent', async () => {
    const { manager, proc, exits } = setup();
    const log: string[] = [];
    const c = component('srv', log);
    manager.register(c);
    manager.listen();
    manager.listen();
    expect(proc.listenerCount('SIGTERM')).toBe(1);
    expect(proc.listenerCount('SIGINT')).toBe(1);
    proc.send('SIGTERM');
    expect(manager.state).toBe('draining');
    await flush();
    expect(exits).toEqual([]);
    c.drain$.resolve();
    await flush();
    expect(exits).toEqual([0]);
    manager.unlisten();
    expect(proc.listenerCount('SIGTERM')).toBe(0);
  });

  it('a second signal during the drain forces exit with forceExitCode, once', async () => {
    const { manager, proc, exits, clock } = setup();
    manager.register(component('srv', []));
    manager.listen();
    proc.send('SIGTERM');
    await flush();
    proc.send('SIGINT');
    expect(exits).toEqual([130]);
    await clock.advance(10_000); // the deadline path completes but does not exit again
    expect(manager.state).toBe('stopped');
    expect(exits).toEqual([130]);
  });

  it('a signal during a programmatic shutdown exits when it completes', async () => {
    const { manager, proc, exits } = setup({ forceExitCode: 1 });
    const c = component('srv', []);
    manager.register(c);
    manager.listen();
    const p = manager.shutdown();
    proc.send('SIGTERM');
    expect(exits).toEqual([]);
    c.drain$.resolve();
    await p;
    await flush();
    expect(exits).toEqual([0]);
  });

  it('never throws out of a signal handler, even with a throwing logger and exit', async () => {
    const clock = new ManualClock();
    const proc = new FakeProcess();
    const throwing = () => {
      throw new Error('broken');
    };
    const manager = new ShutdownManager(
      {
        clock,
        process: proc,
        exit: throwing,
        logger: { info: throwing, warn: throwing, error: throwing },
      },
      {},
    );
    manager.listen();
    expect(() => proc.send('SIGTERM')).not.toThrow();
    expect(() => proc.send('SIGTERM')).not.toThrow();
    const report = await manager.shutdown();
    expect(report.exitCode).toBe(0);
  });

  it('runs hooks after the components, bounded, and a failing hook makes exit code 1', async () => {
    const { manager, clock } = setup({ deadlineMs: 1000, destroyTimeoutMs: 300 });
    const order: string[] = [];
    const c = component('srv', order);
    manager.register(c);
    manager.onShutdown(() => void order.push('hook:flush'), 'flush');
    let hookSignal: AbortSignal | undefined;
    manager.onShutdown((signal) => {
      hookSignal = signal;
      return new Promise(() => {});
    }, 'hangs');
    const p = manager.shutdown();
    await flush();
    expect(order).not.toContain('hook:flush');
    c.drain$.resolve();
    await flush();
    expect(order.at(-1)).toBe('hook:flush');
    await clock.advance(1000);
    const report = await p;
    expect(hookSignal?.aborted).toBe(true);
    expect(report.hooks).toEqual([
      { name: 'flush', outcome: 'done' },
      expect.objectContaining({ name: 'hangs', outcome: 'timed-out' }),
    ]);
    expect(report.exitCode).toBe(1);
  });

  it('unregister removes a component; registering after shutdown began throws a coded error', async () => {
    const { manager } = setup();
    const log: string[] = [];
    const off = manager.register(component('gone', log));
    off();
    const report = await manager.shutdown();
    expect(report.components).toEqual([]);
    expect(log).toEqual([]);
    expect(() => manager.register(component('late', []))).toThrow(
      expect.objectContaining({ code: 'GN_ERR_SHUTDOWN_IN_PROGRESS' }),
    );
  });

  it('enforces maxRegistrations and validates options', () => {
    const { manager } = setup({ maxRegistrations: 2 });
    manager.register(component('a', []));
    manager.onShutdown(() => {});
    expect(() => manager.register(component('c', []))).toThrow(
      expect.objectContaining({ code: 'GN_ERR_TOO_MANY_REGISTRATIONS' }),
    );
    const invalid = expect.objectContaining({ code: 'GN_ERR_INVALID_OPTION' });
    expect(() => new ShutdownManager({}, { deadlineMs: 0 })).toThrow(invalid);
    expect(() => new ShutdownManager({}, { deadlineMs: Infinity })).toThrow(invalid);
    expect(() => new ShutdownManager({}, { forceExitCode: 300 })).toThrow(invalid);
  });
});
