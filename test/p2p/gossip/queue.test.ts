/**
 * The piggyback broadcast queue (memberlist queue.go `TransmitLimitedQueue`): the retransmit
 * limit (util.go `retransmitLimit`), least-sent first and newest first within a transmit count
 * (`limitedBroadcast.Less`), the byte budget of one take (`GetBroadcasts`), invalidation by
 * name (`NamedBroadcast`, `QueueBroadcast`), `Finished` callbacks, and the bound on queued
 * broadcasts (`Prune`: the oldest, most-sent go first).
 */
import { describe, expect, it } from 'vitest';
import { BroadcastQueue, retransmitLimit } from '../../../src/p2p/gossip/queue.js';

const msg = (text: string): Uint8Array => new TextEncoder().encode(text);
const text = (msgs: Uint8Array[]): string[] => msgs.map((m) => new TextDecoder().decode(m));

/** A queue plus a log of finished callbacks. */
function setup(maxQueued?: number): {
  q: BroadcastQueue;
  finished: [string, boolean][];
  add: (name: string, key?: string) => void;
} {
  const q = new BroadcastQueue(maxQueued);
  const finished: [string, boolean][] = [];
  return {
    q,
    finished,
    add: (name, key) =>
      q.queue({ msg: msg(name), key, finished: (sent) => finished.push([name, sent]) }),
  };
}

const BIG = 1 << 20;

describe('util.go retransmitLimit', () => {
  it('is retransmitMult × ceil(log10(n + 1))', () => {
    const table: [number, number][] = [
      [0, 0],
      [1, 1],
      [2, 1],
      [9, 1],
      [10, 2],
      [50, 2],
      [99, 2],
      [100, 3],
      [999, 3],
      [1000, 4],
      [10_000, 5],
    ];
    for (const [n, scale] of table) {
      expect(retransmitLimit(4, n), `n=${n}`).toBe(4 * scale);
      expect(retransmitLimit(3, n), `n=${n}`).toBe(3 * scale);
    }
  });
});

describe('queue.go TransmitLimitedQueue', () => {
  it('takes nothing from an empty queue', () => {
    const { q } = setup();
    expect(q.take(2, BIG, 10, 4)).toEqual([]);
    expect(q.length).toBe(0);
  });

  it('newest first among broadcasts sent equally often', () => {
    const { q, add } = setup();
    for (const n of ['a', 'b', 'c']) add(n);
    expect(q.length).toBe(3);
    expect(text(q.take(2, BIG, 10, 4))).toEqual(['c', 'b', 'a']);
  });

  it('least-sent first, then newest first within each transmit count', () => {
    const { q, add } = setup();
    for (const n of ['a', 'b', 'c']) add(n);
    q.take(2, BIG, 10, 4); // a, b, c sent once
    add('d');
    expect(text(q.take(2, BIG, 10, 4))).toEqual(['d', 'c', 'b', 'a']);
    add('e');
    // e: 0 sends; d: 1; a, b, c: 2.
    expect(text(q.take(2, BIG, 10, 4))).toEqual(['e', 'd', 'c', 'b', 'a']);
  });

  it('keeps the newest-first order when a tier is sent across several takes', () => {
    const { q, add } = setup();
    for (const n of ['a', 'b', 'c', 'd']) add(n);
    // Room for one message (2 overhead + 1 byte) per take: d, c, b, a in turn.
    expect(text(q.take(2, 3, 10, 4))).toEqual(['d']);
    expect(text(q.take(2, 3, 10, 4))).toEqual(['c']);
    expect(text(q.take(2, 3, 10, 4))).toEqual(['b']);
    expect(text(q.take(2, 3, 10, 4))).toEqual(['a']);
    // All sent once now: newest first again, not in the order they were sent.
    expect(text(q.take(2, BIG, 10, 4))).toEqual(['d', 'c', 'b', 'a']);
  });

  it('never takes a broadcast twice in one take', () => {
    const { q, add } = setup();
    add('only');
    expect(text(q.take(2, BIG, 1000, 10))).toEqual(['only']);
  });

  it('GetBroadcasts: the messages plus overhead each fit the byte limit', () => {
    const { q, add } = setup();
    for (const n of ['a'.repeat(10), 'b'.repeat(10), 'c'.repeat(10)]) add(n);
    // 3 × (2 + 10) = 36
    expect(q.take(2, 35, 10, 4)).toHaveLength(2);
    expect(q.take(2, 36, 10, 4)).toHaveLength(3);
    expect(q.take(2, 12, 10, 4)).toHaveLength(1);
    expect(q.take(2, 11, 10, 4)).toHaveLength(0);
    expect(q.take(0, 10, 10, 4)).toHaveLength(1);
  });

  it('looks past a broadcast too big for the space left to smaller, older ones', () => {
    const { q, add } = setup();
    add('small');
    add('x'.repeat(50));
    add('tiny');
    // 'tiny' fits, the 50-byte one does not; 'small' (older) still fits behind it.
    expect(text(q.take(2, 20, 10, 4))).toEqual(['tiny', 'small']);
    expect(q.length).toBe(3);
    // The big one is still there, first in line at its transmit count.
    expect(text(q.take(2, 100, 10, 4))).toEqual(['x'.repeat(50), 'tiny', 'small']);
  });

  it('each broadcast is sent retransmitLimit times, then finished(true)', () => {
    const { q, add, finished } = setup();
    add('a');
    // n = 9 members, mult = 2: limit 2.
    expect(text(q.take(2, BIG, 9, 2))).toEqual(['a']);
    expect(finished).toEqual([]);
    expect(text(q.take(2, BIG, 9, 2))).toEqual(['a']);
    expect(finished).toEqual([['a', true]]);
    expect(q.length).toBe(0);
    expect(q.take(2, BIG, 9, 2)).toEqual([]);
    // With n = 0 the limit is 0: memberlist still sends once (transmits+1 >= limit).
    add('b');
    expect(text(q.take(2, BIG, 0, 4))).toEqual(['b']);
    expect(finished).toEqual([
      ['a', true],
      ['b', true],
    ]);
  });

  it('the limit follows the cluster size at each take', () => {
    const { q, add, finished } = setup();
    add('a');
    q.take(2, BIG, 1000, 1); // limit 4: 1 sent
    q.take(2, BIG, 1000, 1); // 2 sent
    expect(finished).toEqual([]);
    q.take(2, BIG, 5, 1); // the cluster shrank: limit 1, and 3 >= 1
    expect(finished).toEqual([['a', true]]);
  });

  it('a named broadcast invalidates the queued one of the same name (finished(false))', () => {
    const { q, add, finished } = setup();
    add('alive a#1', 'a');
    add('alive b#1', 'b');
    add('suspect a', 'a');
    expect(finished).toEqual([['alive a#1', false]]);
    expect(q.length).toBe(2);
    expect(text(q.take(2, BIG, 10, 4))).toEqual(['suspect a', 'alive b#1']);
    // A sent one is invalidated as well.
    add('dead a', 'a');
    expect(finished).toEqual([
      ['alive a#1', false],
      ['suspect a', false],
    ]);
    expect(text(q.take(2, BIG, 10, 4))).toEqual(['dead a', 'alive b#1']);
  });

  it('unnamed broadcasts (user messages) never invalidate each other', () => {
    const { q, add, finished } = setup();
    add('u1');
    add('u1');
    add('u2', 'u1'); // a key equal to nothing queued
    expect(q.length).toBe(3);
    expect(finished).toEqual([]);
  });

  it('a finished broadcast is not finished again when its name is reused', () => {
    const { q, add, finished } = setup();
    add('a1', 'a');
    q.take(2, BIG, 1, 1); // limit 1: finished(true)
    add('a2', 'a');
    expect(finished).toEqual([['a1', true]]);
    expect(text(q.take(2, BIG, 10, 4))).toEqual(['a2']);
  });

  it('thousands of invalidations leave one live broadcast', () => {
    const { q, add, finished } = setup();
    for (let i = 0; i < 10_000; i++) add(`v${i}`, 'same');
    expect(q.length).toBe(1);
    expect(finished).toHaveLength(9999);
    expect(text(q.take(2, BIG, 10, 4))).toEqual(['v9999']);
  });

  it('maxQueued bounds the queue: the most-sent, then oldest, are dropped (finished(false))', () => {
    const { q, add, finished } = setup(3);
    for (const n of ['a', 'b', 'c']) add(n);
    q.take(2, BIG, 10, 4); // a, b, c sent once
    add('d');
    expect(q.length).toBe(3);
    expect(finished).toEqual([['a', false]]);
    add('e');
    expect(finished).toEqual([
      ['a', false],
      ['b', false],
    ]);
    expect(text(q.take(2, BIG, 10, 4))).toEqual(['e', 'd', 'c']);
    // Among unsent ones, the oldest go.
    const fresh = setup(2);
    for (const n of ['x', 'y', 'z']) fresh.add(n);
    expect(fresh.finished).toEqual([['x', false]]);
    expect(text(fresh.q.take(2, BIG, 10, 4))).toEqual(['z', 'y']);
  });

  it('reset() drops everything with finished(false)', () => {
    const { q, add, finished } = setup();
    add('a');
    add('b', 'k');
    q.take(2, BIG, 10, 4);
    q.reset();
    expect(q.length).toBe(0);
    expect(finished.sort()).toEqual([
      ['a', false],
      ['b', false],
    ]);
    expect(q.take(2, BIG, 10, 4)).toEqual([]);
  });
});
