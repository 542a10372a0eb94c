/**
 * The lookup state machine on its own: rounds (the depth of dependent queries that
 * Kademlia's analysis bounds by about log2(N/k)), retries after timeouts (a lost datagram is
 * not a dead node, BEP 5) and convergence on the k closest.
 */
import { describe, expect, it } from 'vitest';
import { Lookup } from '../../../src/p2p/kademlia/lookup.js';
import type { NodeInfo } from '../../../src/p2p/kademlia/compact.js';

const target = new Uint8Array(20);
/** A node whose id has `zeros` leading zero bytes then 0xff: more zeros, closer to target. */
function node(zeros: number, port: number): NodeInfo {
  const id = new Uint8Array(20).fill(0x11);
  id.fill(0, 0, zeros);
  id[zeros] = 0xff;
  return { id, address: '10.0.0.1', port, family: 'IPv4' };
}

describe('Lookup', () => {
  it('counts rounds as the longest chain of queries that named the next one', () => {
    const l = new Lookup(
      target,
      { k: 1, alpha: 3, maxQueries: 100, maxCandidates: 64, retries: 0 },
      undefined,
    );
    expect(l.rounds).toBe(0);
    l.add([node(1, 1)]); // from the routing table: round 1
    let [c] = l.next();
    l.responded(c!, node(1, 1).id, undefined);
    expect(l.rounds).toBe(1);
    l.add([node(2, 2)], c); // named by the round-1 node: round 2
    [c] = l.next();
    l.responded(c!, node(2, 2).id, undefined);
    l.add([node(3, 3)], c); // round 3
    [c] = l.next();
    l.responded(c!, node(3, 3).id, undefined);
    expect(l.rounds).toBe(3);
    expect(l.finished).toBe(true);
    expect(l.queries).toBe(3);
  });

  it('a bootstrap address is round 1 and the nodes it names round 2', () => {
    const l = new Lookup(
      target,
      { k: 1, alpha: 1, maxQueries: 100, maxCandidates: 64, retries: 0 },
      undefined,
    );
    l.addAddress('10.0.0.9', 6881, 'IPv4');
    let [c] = l.next();
    l.responded(c!, node(1, 9).id, undefined);
    l.add([node(4, 4)], c);
    [c] = l.next();
    l.responded(c!, node(4, 4).id, undefined);
    expect(l.rounds).toBe(2);
  });

  it('asks a timed-out node again up to `retries` times before it has failed', () => {
    const l = new Lookup(
      target,
      { k: 1, alpha: 1, maxQueries: 100, maxCandidates: 64, retries: 2 },
      undefined,
    );
    l.add([node(2, 2)]);
    for (let attempt = 0; attempt < 3; attempt++) {
      const [c] = l.next();
      expect(c?.port).toBe(2);
      l.failed(c!);
    }
    expect(l.next()).toEqual([]);
    expect(l.finished).toBe(true);
    expect(l.closestResponded(1)).toEqual([]);
    expect(l.queries).toBe(3);
  });
});
