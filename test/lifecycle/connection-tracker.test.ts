import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import {
  ConnectionTracker,
  serverDrainable,
  type TrackableConnection,
} from '../../src/lifecycle/connection-tracker.js';
import type { StreamConnection } from '../../src/transport/types.js';
import { flush } from './manual-clock.js';

/** A connection whose graceful close completes when the test says so (like a FIN/ACK). */
class FakeConn extends EventEmitter<{ close: [] }> {
  closeCalls = 0;
  destroyed = false;
  #gone = false;

  close(): void {
    this.closeCalls++;
  }

  destroy(): void {
    this.destroyed = true;
    this.finishClose();
  }

  /** The peer acknowledged; the connection is gone. */
  finishClose(): void {
    if (this.#gone) return;
    this.#gone = true;
    this.emit('close');
  }
}

describe('ConnectionTracker', () => {
  it('counts idle and busy connections and forgets closed ones', () => {
    const t = new ConnectionTracker<FakeConn>();
    const a = new FakeConn();
    const b = new FakeConn();
    t.track(a);
    t.track(b);
    t.track(b);
    expect([t.size, t.busy, t.idle]).toEqual([2, 0, 2]);
    expect(t.markBusy(a)).toBe(true);
    expect(t.markBusy(a)).toBe(true); // two requests in flight (pipelining, streams)
    expect([t.busy, t.idle]).toEqual([1, 1]);
    t.markIdle(a);
    expect(t.isBusy(a)).toBe(true);
    t.markIdle(a);
    expect(t.isBusy(a)).toBe(false);
    expect(t.markIdle(a)).toBe(false);
    b.finishClose();
    expect([t.size, t.busy, t.idle]).toEqual([1, 0, 1]);
    expect(t.markBusy(b)).toBe(false);
  });

  it('drain closes idle connections at once and busy ones only when idle', async () => {
    const t = new ConnectionTracker<FakeConn>();
    const idle = new FakeConn();
    const busy = new FakeConn();
    t.track(idle);
    t.track(busy);
    t.markBusy(busy);
    let drained = false;
    const p = t.drain().then(() => (drained = true));
    expect(idle.closeCalls).toBe(1);
    expect(busy.closeCalls).toBe(0);
    idle.finishClose();
    await flush();
    expect(drained).toBe(false);
    t.markIdle(busy);
    expect(busy.closeCalls).toBe(1);
    await flush();
    expect(drained).toBe(false); // still waiting for the close to complete
    busy.finishClose();
    await p;
    expect(drained).toBe(true);
    expect(t.size).toBe(0);
  });

  it('drain resolves at once with nothing tracked, and is idempotent', async () => {
    const t = new ConnectionTracker();
    const p = t.drain();
    expect(t.drain()).toBe(p);
    await expect(p).resolves.toBeUndefined();
  });

  it('a connection tracked during a drain is closed at once', () => {
    const t = new ConnectionTracker<FakeConn>();
    void t.drain();
    const late = new FakeConn();
    t.track(late);
    expect(late.closeCalls).toBe(1);
  });

  it('destroyAll destroys everything and resolves a pending drain', async () => {
    const t = new ConnectionTracker<FakeConn>();
    const a = new FakeConn();
    t.track(a);
    t.markBusy(a);
    const p = t.drain();
    t.destroyAll();
    await p;
    expect(a.destroyed).toBe(true);
    expect([t.size, t.busy]).toEqual([0, 0]);
    const late = new FakeConn();
    t.track(late);
    expect(late.destroyed).toBe(true);
  });

  it('survives a connection that emits close synchronously from close()', async () => {
    const t = new ConnectionTracker<FakeConn>();
    const conns = [new FakeConn(), new FakeConn(), new FakeConn()];
    for (const c of conns) {
      c.close = () => c.finishClose();
      t.track(c);
    }
    await t.drain();
    expect(t.size).toBe(0);
  });

  it('serverDrainable wires a server and a tracker to the Drainable phases', async () => {
    const calls: string[] = [];
    const server = {
      stopAccepting: () => void calls.push('stopAccepting'),
      destroy: async () => void calls.push('destroy'),
    };
    const t = new ConnectionTracker<FakeConn>();
    const c = new FakeConn();
    t.track(c);
    t.markBusy(c);
    const d = serverDrainable('srv', server, t);
    expect(d.name).toBe('srv');
    await d.stopAccepting();
    const draining = d.drain();
    await d.destroy();
    await draining;
    expect(calls).toEqual(['stopAccepting', 'destroy']);
    expect(c.destroyed).toBe(true);
  });
});

// Type-level check: every transport's StreamConnection can be tracked.
const _streamConnectionFits: TrackableConnection = {} as StreamConnection;
void _streamConnectionFits;

describe('ConnectionTracker.untrack', () => {
  it('forgets a connection without closing it, so drain no longer waits for it', async () => {
    class Conn extends EventEmitter {
      closed = 0;
      close(): void {
        this.closed++;
      }
      destroy(): void {
        this.closed++;
      }
    }
    const tracker = new ConnectionTracker<Conn>();
    const kept = new Conn();
    const other = new Conn();
    tracker.track(kept);
    tracker.track(other);
    tracker.markBusy(kept);
    tracker.untrack(kept);
    expect(tracker.size).toBe(1);
    expect(tracker.busy).toBe(0);
    const drained = tracker.drain();
    expect(other.closed).toBe(1); // idle: closed at once
    other.emit('close');
    await drained;
    expect(kept.closed).toBe(0); // never touched after untrack
  });
});
