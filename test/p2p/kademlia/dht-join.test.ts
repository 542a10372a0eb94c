/**
 * Joining through a node that knows too little (Kademlia §2.3: a joiner looks up its own id
 * through one known node). A bootstrap lookup that found fewer than k nodes is done again
 * through the same bootstrap nodes: first a minute later, then less and less often.
 */
import { describe, expect, it } from 'vitest';
import { decode } from '../../../src/p2p/kademlia/bencode.js';
import type { BDict } from '../../../src/p2p/kademlia/bencode.js';
import type { DhtCore, LookupResult } from '../../../src/p2p/kademlia/dht.js';
import { Lookup } from '../../../src/p2p/kademlia/lookup.js';
import { compareDistance, idToHex } from '../../../src/p2p/kademlia/id.js';
import { Driver, randomBytes } from './dht-driver.js';

/** Records when `core.bootstrap` runs (the core's own maintenance calls it too). */
function spyBootstrap(d: Driver, core: DhtCore): number[] {
  const times: number[] = [];
  const bootstrap = core.bootstrap.bind(core);
  core.bootstrap = (addresses, now, done): void => {
    times.push(d.now);
    bootstrap(addresses, now, done);
  };
  return times;
}

/** 40 nodes joined through the first one. */
function healthy(seed: number): { d: Driver; first: DhtCore; members: Set<string> } {
  const d = new Driver(seed);
  const first = d.add();
  for (let i = 0; i < 40; i++) {
    d.add().bootstrap([d.addr(first)], d.now, () => {});
    d.run(d.now + 50);
  }
  d.run(d.now + 10_000);
  const members = new Set([...d.nodes.values()].map((c) => idToHex(c.id)));
  return { d, first, members };
}

function knownMembers(core: DhtCore, members: Set<string>): number {
  let n = 0;
  for (const c of core.table4.contacts()) if (members.has(idToHex(c.id))) n++;
  return n;
}

describe('DhtCore join', () => {
  it('joins again when its join found fewer than k nodes, and so leaves a group that knows only itself', () => {
    const { d, first, members } = healthy(11);
    // `late` has not joined yet when `joiner` joins through it: that join finds only `late`.
    const late = d.add();
    const joiner = d.add();
    const calls = spyBootstrap(d, joiner);
    let thin: LookupResult | undefined;
    joiner.bootstrap([d.addr(late)], d.now, (_e, r) => (thin = r));
    d.runUntil(() => thin !== undefined);
    expect(thin!.closest.length).toBe(1);
    // Ten more join through `joiner`: a group of twelve that only know each other, and the
    // joiner now has more than k nodes in its table (so it is not short of nodes).
    for (let i = 0; i < 10; i++) {
      d.add().bootstrap([d.addr(joiner)], d.now, () => {});
      d.run(d.now + 50);
    }
    d.run(d.now + 5000);
    expect(joiner.table4.size).toBeGreaterThan(8);
    expect(knownMembers(joiner, members)).toBe(0);
    // Then `late` joins the network properly.
    late.bootstrap([d.addr(first)], d.now, () => {});
    d.run(d.now + 10_000);
    expect(knownMembers(late, members)).toBeGreaterThan(8);
    // The joiner's next maintenance (a minute after it started) joins again through `late`
    // and learns the network: its lookups now find the true k closest of all nodes.
    d.run(d.now + 60_000);
    expect(calls.length).toBe(2);
    expect(knownMembers(joiner, members)).toBeGreaterThan(0);
    for (let i = 0; i < 5; i++) {
      const target = randomBytes(d.rand)(20);
      let r: LookupResult | undefined;
      joiner.findNode(target, d.now, (_e, res) => (r = res));
      d.runUntil(() => r !== undefined);
      const want = [...d.nodes.values()]
        .filter((c) => c !== joiner)
        .map((c) => c.id)
        .sort((a, b) => compareDistance(target, a, b))
        .slice(0, 8)
        .map(idToHex);
      expect(r!.closest.map((c) => idToHex(c.id))).toEqual(want);
    }
    // That join found k nodes: no further one.
    d.run(d.now + 5 * 60_000);
    expect(calls.length).toBe(2);
  });

  it('joins again less and less often while its joins stay thin (1, 2, 4, 8, 16 minutes)', () => {
    const { d, first } = healthy(12);
    const joiner = d.add();
    // Only `first` ever answers the joiner's lookups of its own id (its joins); every other
    // query is answered as usual, so its table fills up and it is never short of nodes.
    const src = d.addr(joiner);
    const selfLookups = new Set<string>();
    d.drop = (from, to, data): boolean => {
      const msg = decode(data) as BDict;
      const t = idToHex(msg.t as Uint8Array);
      const q = msg.q instanceof Uint8Array ? Buffer.from(msg.q).toString() : '';
      const a = msg.a as BDict | undefined;
      if (from.address === src.address && q === 'find_node' && a?.target instanceof Uint8Array) {
        const firstKey = `${d.addr(first).address}:${d.addr(first).port}`;
        if (to !== firstKey && idToHex(a.target) === idToHex(joiner.id))
          selfLookups.add(`${to}|${t}`);
        return false;
      }
      const key = `${from.address}:${from.port}|${t}`;
      return to === `${src.address}:${src.port}` && selfLookups.has(key);
    };
    const calls = spyBootstrap(d, joiner);
    joiner.bootstrap([d.addr(first)], d.now, () => {});
    d.run(d.now + 40 * 60_000);
    expect(joiner.table4.size).toBeGreaterThanOrEqual(8);
    // Maintenance runs once a minute, so each wait ends on the next tick after it.
    const gaps = calls.slice(1).map((t, i) => Math.round((t - calls[i]!) / 60_000));
    expect(gaps).toEqual([1, 2, 4, 8, 16]);
  });
});

describe('Lookup of a join', () => {
  it('asks a bootstrap node that is also in the routing table once, not twice', () => {
    const target = new Uint8Array(20);
    const id = new Uint8Array(20).fill(7);
    const l = new Lookup(
      target,
      { k: 8, alpha: 1, maxQueries: 100, maxCandidates: 64, retries: 0 },
      undefined,
    );
    // The same node as a bootstrap address (id unknown) and as a routing-table contact.
    l.addAddress('10.0.0.5', 6881, 'IPv4');
    l.add([{ id, address: '10.0.0.5', port: 6881, family: 'IPv4' }]);
    const [boot] = l.next();
    expect(boot!.id).toBeUndefined();
    l.responded(boot!, id, undefined);
    expect(l.next()).toEqual([]);
    expect(l.finished).toBe(true);
    expect(l.queries).toBe(1);
    expect(l.closestResponded(8).map((c) => c.address)).toEqual(['10.0.0.5']);
  });
});
