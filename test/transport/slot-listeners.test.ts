import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { attachSlotListeners, slotListeners } from '../../src/transport/slot-listeners.js';

const SLOT = Symbol('test.owner');

class Owner {
  readonly seen: unknown[][] = [];
  constructor(readonly name: string) {}
}

describe('slotListeners', () => {
  const listeners = slotListeners<Owner, 'data' | 'close'>(SLOT, {
    data: (o, chunk: string, extra: number) => o.seen.push(['data', o.name, chunk, extra]),
    close: (o) => o.seen.push(['close', o.name]),
  });

  it('one shared function per event finds each emitter its own owner', () => {
    const a = new EventEmitter();
    const b = new EventEmitter();
    const oa = new Owner('a');
    const ob = new Owner('b');
    attachSlotListeners(a, SLOT, oa, listeners);
    attachSlotListeners(b, SLOT, ob, listeners);
    // The same function objects on both emitters: nothing allocated per owner.
    expect(a.listeners('data')[0]).toBe(b.listeners('data')[0]);
    a.emit('data', 'x', 1);
    b.emit('data', 'y', 2);
    b.emit('close');
    expect(oa.seen).toEqual([['data', 'a', 'x', 1]]);
    expect(ob.seen).toEqual([
      ['data', 'b', 'y', 2],
      ['close', 'b'],
    ]);
  });

  it('off() with the shared function detaches one emitter only', () => {
    const a = new EventEmitter();
    const b = new EventEmitter();
    const oa = new Owner('a');
    const ob = new Owner('b');
    attachSlotListeners(a, SLOT, oa, listeners);
    attachSlotListeners(b, SLOT, ob, listeners);
    a.off('data', listeners.data);
    a.emit('data', 'x', 1);
    b.emit('data', 'y', 2);
    expect(oa.seen).toEqual([]);
    expect(ob.seen).toEqual([['data', 'b', 'y', 2]]);
  });

  it('the listener set is frozen', () => {
    expect(Object.isFrozen(listeners)).toBe(true);
  });
});
