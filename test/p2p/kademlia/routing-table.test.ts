import { describe, expect, it } from 'vitest';
import { GhostnetError } from '../../../src/errors.js';
import {
  commonPrefixLength,
  compareDistance,
  idToHex,
  randomIdWithPrefix,
} from '../../../src/p2p/kademlia/id.js';
import type { NodeId, RandomBytes } from '../../../src/p2p/kademlia/id.js';
import { RoutingTable } from '../../../src/p2p/kademlia/routing-table.js';
import type { Contact, RoutingTableOptions } from '../../../src/p2p/kademlia/routing-table.js';
import { mulberry32 } from '../../helpers/prng.js';

const MIN = 60_000;

function seededBytes(seed: number): RandomBytes {
  const next = mulberry32(seed);
  return (n) => {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = Math.floor(next() * 256);
    return out;
  };
}

let port = 1000;
function contact(id: NodeId, address = '10.0.0.1'): Contact {
  port = port >= 65000 ? 1000 : port + 1;
  return { id, address, port, family: 'IPv4' };
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof GhostnetError ? err.code : `not coded: ${String(err)}`;
  }
  return undefined;
}

/** Bucket index of each contact, as the table defines it. */
function bucketSizes(table: RoutingTable): number[] {
  const sizes = new Array<number>(table.bucketCount).fill(0);
  for (const c of table.contacts()) {
    const i = Math.min(commonPrefixLength(table.self, c.id), table.bucketCount - 1);
    sizes[i]!++;
  }
  return sizes;
}

/**
 * A table whose bucket 0 (ids differing from ours in the first bit) is full and can no
 * longer split: k nodes there, then one deeper node to split bucket 0 off.
 */
function fullBucketZero(options: RoutingTableOptions = {}, seed = 1) {
  const random = seededBytes(seed);
  const self = random(20);
  const table = new RoutingTable(self, options);
  const far: Contact[] = [];
  for (let i = 0; i < table.k; i++) {
    const c = contact(randomIdWithPrefix(self, 0, random));
    far.push(c);
    // Distinct lastSeen times: far[0] is the least recently seen.
    expect(table.heard(c, i, 'response')).toEqual({ added: true, reason: 'inserted' });
  }
  expect(table.heard(contact(randomIdWithPrefix(self, 1, random)), 0, 'response').added).toBe(true);
  expect(table.bucketCount).toBe(2);
  const newcomer = (): Contact => contact(randomIdWithPrefix(self, 0, random));
  return { table, self, far, newcomer, random };
}

describe('RoutingTable options', () => {
  it('rejects a bad self id and bad options with InvalidOptionError', () => {
    const self = new Uint8Array(20);
    expect(codeOf(() => new RoutingTable(new Uint8Array(19)))).toBe('GN_ERR_INVALID_OPTION');
    for (const bad of [
      { k: 0 },
      { k: 1.5 },
      { k: 5000 },
      { replacementCacheSize: -1 },
      { maxFailures: 0 },
      { goodForMs: 0 },
      { goodForMs: Infinity },
      { refreshIntervalMs: Number.NaN },
      { minPingIntervalMs: -1 },
    ] as RoutingTableOptions[]) {
      expect(codeOf(() => new RoutingTable(self, bad))).toBe('GN_ERR_INVALID_OPTION');
    }
    expect(new RoutingTable(self, { k: undefined }).k).toBe(8);
  });

  it('copies self, starts with one empty bucket', () => {
    const self = seededBytes(1)(20);
    const table = new RoutingTable(self);
    self[0] = self[0]! ^ 0xff;
    expect(table.self).not.toEqual(self);
    expect(table.size).toBe(0);
    expect(table.bucketCount).toBe(1);
    expect(table.closest(self)).toEqual([]);
  });
});

describe('RoutingTable.heard: insertion', () => {
  it('never inserts our own id, malformed ids or endpoints', () => {
    const random = seededBytes(2);
    const self = random(20);
    const table = new RoutingTable(self);
    expect(table.heard(contact(self.slice()), 0, 'response')).toEqual({
      added: false,
      reason: 'self',
    });
    expect(table.heard(contact(new Uint8Array(21)), 0, 'response').reason).toBe('bad-id');
    const id = random(20);
    for (const bad of [
      { id, address: '', port: 1, family: 'IPv4' },
      { id, address: '1.2.3.4', port: 0, family: 'IPv4' },
      { id, address: '1.2.3.4', port: 65536, family: 'IPv4' },
      { id, address: '1.2.3.4', port: 1.5, family: 'IPv4' },
      { id, address: '1.2.3.4', port: 1, family: 'IPX' },
    ]) {
      expect(table.heard(bad as Contact, 0, 'response').reason).toBe('bad-address');
    }
    expect(table.size).toBe(0);
    expect(table.has(self)).toBe(false);
  });

  it('stores a frozen copy of the contact', () => {
    const random = seededBytes(3);
    const table = new RoutingTable(random(20));
    const c = contact(random(20));
    const original = idToHex(c.id);
    table.heard(c, 0, 'response');
    c.id[0] = c.id[0]! ^ 1;
    const [stored] = [...table.contacts()];
    expect(idToHex(stored!.id)).toBe(original);
    expect(Object.isFrozen(stored)).toBe(true);
  });

  it('updates a known node in place', () => {
    const random = seededBytes(4);
    const table = new RoutingTable(random(20));
    const c = contact(random(20));
    expect(table.heard(c, 0, 'response').reason).toBe('inserted');
    expect(table.heard(c, 5, 'query')).toEqual({ added: true, reason: 'updated' });
    expect(table.size).toBe(1);
    expect(table.get(c.id, 5)).toMatchObject({ lastSeen: 5, lastResponse: 0, failures: 0 });
  });

  it('splits only the bucket holding our id: no other bucket exceeds k', () => {
    for (const [seed, n, k] of [
      [10, 2000, 8],
      [11, 5000, 8],
      [12, 3000, 4],
      [13, 1000, 20],
    ] as const) {
      const random = seededBytes(seed);
      const table = new RoutingTable(random(20), { k });
      for (let i = 0; i < n; i++) table.heard(contact(random(20)), i, 'response');
      const sizes = bucketSizes(table);
      expect(sizes.every((s) => s <= k)).toBe(true);
      expect(sizes.reduce((a, b) => a + b, 0)).toBe(table.size);
      // Buckets far from our id see plenty of candidates: they are full.
      const expected = Math.log2(n / k);
      for (let i = 0; i < expected - 3; i++) expect(sizes[i]).toBe(k);
      expect(table.bucketCount).toBeGreaterThanOrEqual(Math.floor(expected) - 1);
      expect(table.bucketCount).toBeLessThanOrEqual(Math.ceil(expected) + 4);
      // Every candidate that did not fit waits in a replacement cache (8 per bucket).
      expect(table.replacementCount).toBeLessThanOrEqual(8 * table.bucketCount);
    }
  });

  it('splits as deep as ids allow for ids sharing long prefixes with ours', () => {
    // Only 2^(159-d) ids share exactly d bits with ours, so the bucket holding our id stops
    // filling up (and splitting) near the bottom: at depth 159 with k = 2 (1 + 2 ids share
    // ≥ 158 bits), at depth 157 with k = 8 (1 + 2 + 4 ids share ≥ 157 bits).
    for (const [k, buckets] of [
      [2, 160],
      [8, 158],
    ] as const) {
      const random = seededBytes(14);
      const self = random(20);
      const table = new RoutingTable(self, { k });
      for (let depth = 0; depth < 160; depth++) {
        for (let j = 0; j < (depth < 150 ? k + 1 : 40); j++) {
          table.heard(contact(randomIdWithPrefix(self, depth, random)), 0, 'response');
        }
      }
      expect(table.bucketCount).toBe(buckets);
      const sizes = bucketSizes(table);
      expect(sizes.slice(0, buckets - 1).every((s) => s === k)).toBe(true);
      expect(sizes[buckets - 1]).toBe(2 ** (160 - buckets + 1) - 1);
    }
  });
});

describe('RoutingTable.closest', () => {
  function bruteForce(
    table: RoutingTable,
    target: NodeId,
    n: number,
    now: number,
    verifiedOnly = false,
  ) {
    return [...table.contacts()]
      .filter((c) => table.state(c.id, now) !== 'bad')
      .filter((c) => !verifiedOnly || table.get(c.id, now)?.lastResponse !== undefined)
      .sort((a, b) => compareDistance(target, a.id, b.id))
      .slice(0, n)
      .map((c) => idToHex(c.id));
  }

  it('equals a global sort for random tables and targets (200 seeded cases)', () => {
    for (let seed = 100; seed < 300; seed++) {
      const random = seededBytes(seed);
      const next = mulberry32(seed);
      const self = random(20);
      const k = 1 + Math.floor(next() * 10);
      const table = new RoutingTable(self, { k });
      const n = Math.floor(next() * 400);
      for (let i = 0; i < n; i++) {
        // A mix of uniform ids and ids close to ours, to grow deep buckets.
        const id =
          next() < 0.5 ? random(20) : randomIdWithPrefix(self, Math.floor(next() * 40), random);
        const kind = next() < 0.8 ? 'response' : 'query';
        table.heard(contact(id), 0, kind);
      }
      // Some nodes go bad: closest must skip them.
      for (const c of [...table.contacts()]) {
        if (next() < 0.15) {
          table.failed(c.id, 1);
          table.failed(c.id, 2);
        }
      }
      const known = [...table.contacts()];
      for (let t = 0; t < 10; t++) {
        const pick = next();
        const target =
          pick < 0.3
            ? random(20)
            : pick < 0.6
              ? randomIdWithPrefix(self, Math.floor(next() * 60), random)
              : pick < 0.7
                ? self.slice()
                : known.length > 0
                  ? known[Math.floor(next() * known.length)]!.id.slice()
                  : random(20);
        const count = 1 + Math.floor(next() * 24);
        const got = table.closest(target, count).map((c) => idToHex(c.id));
        expect(got).toEqual(bruteForce(table, target, count, 3));
        const gotVerified = table
          .closest(target, count, { verifiedOnly: true })
          .map((c) => idToHex(c.id));
        expect(gotVerified).toEqual(bruteForce(table, target, count, 3, true));
      }
    }
  });

  it('defaults to k results and handles n ≤ 0', () => {
    const random = seededBytes(5);
    const table = new RoutingTable(random(20));
    for (let i = 0; i < 500; i++) table.heard(contact(random(20)), 0, 'response');
    expect(table.closest(random(20))).toHaveLength(8);
    expect(table.closest(random(20), 0)).toEqual([]);
    expect(table.closest(random(20), 1000)).toHaveLength(table.size);
    expect(codeOf(() => table.closest(new Uint8Array(3)))).toBe('GN_ERR_INVALID_OPTION');
  });

  it('matches a global sort on a table 158 buckets deep', () => {
    const random = seededBytes(6);
    const self = random(20);
    const table = new RoutingTable(self);
    for (let depth = 0; depth < 160; depth++) {
      for (let j = 0; j < (depth < 150 ? 9 : 40); j++) {
        table.heard(contact(randomIdWithPrefix(self, depth, random)), 0, 'response');
      }
    }
    expect(table.bucketCount).toBe(158);
    for (let t = 0; t < 300; t++) {
      const target = t % 2 === 0 ? random(20) : randomIdWithPrefix(self, t % 160, random);
      const n = 1 + (t % 40);
      expect(table.closest(target, n).map((c) => idToHex(c.id))).toEqual(
        bruteForce(table, target, n, 0),
      );
    }
  });
});

describe('RoutingTable node states (BEP 5)', () => {
  const GOOD_FOR = 15 * MIN;

  it('a node that answered is good for 15 minutes, then questionable', () => {
    const random = seededBytes(20);
    const table = new RoutingTable(random(20));
    const c = contact(random(20));
    table.heard(c, 1000, 'response');
    expect(table.state(c.id, 1000)).toBe('good');
    expect(table.state(c.id, 1000 + GOOD_FOR)).toBe('good');
    expect(table.state(c.id, 1000 + GOOD_FOR + 1)).toBe('questionable');
    // Answering again makes it good again.
    table.heard(c, 1000 + 20 * MIN, 'response');
    expect(table.state(c.id, 1000 + 30 * MIN)).toBe('good');
    expect(table.state(c.id, 1000 + 35 * MIN + 1)).toBe('questionable');
  });

  it('a query keeps a node good only if it has answered us before', () => {
    const random = seededBytes(21);
    const table = new RoutingTable(random(20));
    const answered = contact(random(20));
    const queried = contact(random(20));
    table.heard(answered, 0, 'response');
    table.heard(queried, 0, 'query');
    expect(table.state(queried.id, 0)).toBe('questionable');
    expect(table.get(queried.id, 0)?.lastResponse).toBeUndefined();

    table.heard(answered, 14 * MIN, 'query');
    table.heard(queried, 14 * MIN, 'query');
    expect(table.state(answered.id, 28 * MIN)).toBe('good');
    expect(table.state(answered.id, 29 * MIN + 1)).toBe('questionable');
    expect(table.state(queried.id, 14 * MIN)).toBe('questionable');
    // After an answer, its queries count.
    table.heard(queried, 15 * MIN, 'response');
    table.heard(queried, 25 * MIN, 'query');
    expect(table.state(queried.id, 40 * MIN)).toBe('good');
  });

  it('unanswered queries make a node questionable, then bad; an answer clears them', () => {
    const random = seededBytes(22);
    const table = new RoutingTable(random(20), { maxFailures: 3 });
    const c = contact(random(20));
    table.heard(c, 0, 'response');
    table.failed(c.id, 1);
    expect(table.state(c.id, 1)).toBe('questionable');
    // A query from it does not clear the failure (it may not be reachable).
    table.heard(c, 2, 'query');
    expect(table.state(c.id, 2)).toBe('questionable');
    table.failed(c.id, 3);
    expect(table.get(c.id, 3)).toMatchObject({ state: 'questionable', failures: 2 });
    table.failed(c.id, 4);
    expect(table.get(c.id, 4)).toMatchObject({ state: 'bad', failures: 3 });
    expect(table.closest(c.id)).toEqual([]);
    // Still in the bucket (no replacement), so it can come back.
    expect(table.size).toBe(1);
    table.heard(c, 5, 'response');
    expect(table.get(c.id, 5)).toMatchObject({ state: 'good', failures: 0 });
  });

  it('unknown ids have no state; failed/remove on them are no-ops', () => {
    const random = seededBytes(23);
    const table = new RoutingTable(random(20));
    const id = random(20);
    expect(table.state(id, 0)).toBeUndefined();
    expect(table.get(id, 0)).toBeUndefined();
    table.failed(id, 0);
    table.remove(id);
    table.failed(new Uint8Array(2), 0);
    expect(table.size).toBe(0);
  });

  it('a good node keeps its address; a questionable one moves on a response only', () => {
    const random = seededBytes(24);
    const table = new RoutingTable(random(20));
    const c = contact(random(20), '10.0.0.1');
    table.heard(c, 0, 'response');
    const moved = { ...c, address: '10.9.9.9' };
    expect(table.heard(moved, 1, 'response')).toEqual({ added: false, reason: 'address-mismatch' });
    expect(table.get(c.id, 1)?.address).toBe('10.0.0.1');
    table.failed(c.id, 2);
    expect(table.heard(moved, 3, 'query').reason).toBe('address-mismatch');
    expect(table.heard(moved, 4, 'response').reason).toBe('updated');
    expect(table.get(c.id, 4)).toMatchObject({ address: '10.9.9.9', state: 'good' });
  });
});

describe('RoutingTable full buckets and the replacement cache', () => {
  it('keeps a newcomer in the cache when the bucket is full of good nodes', () => {
    const { table, newcomer } = fullBucketZero();
    const size = table.size;
    const c = newcomer();
    expect(table.heard(c, 10, 'response')).toEqual({ added: false, reason: 'full' });
    expect(table.size).toBe(size);
    expect(table.has(c.id)).toBe(false);
    expect(table.replacementCount).toBe(1);
  });

  it('promotes the cached node when a node goes bad', () => {
    const { table, far, newcomer } = fullBucketZero();
    const c = newcomer();
    table.heard(c, 10, 'response');
    table.failed(far[3]!.id, 11);
    expect(table.has(c.id)).toBe(false);
    table.failed(far[3]!.id, 12);
    expect(table.has(far[3]!.id)).toBe(false);
    expect(table.get(c.id, 12)).toMatchObject({ state: 'good', lastSeen: 10 });
    expect(table.replacementCount).toBe(0);
    expect(table.size).toBe(table.k + 1);
  });

  it('promotes verified candidates before unverified, then the most recent', () => {
    const { table, far, newcomer } = fullBucketZero();
    const unverified = newcomer();
    const older = newcomer();
    const newer = newcomer();
    table.heard(unverified, 30, 'query');
    table.heard(older, 10, 'response');
    table.heard(newer, 20, 'response');
    expect(table.replacementCount).toBe(3);
    for (const [i, expected] of [
      [0, newer],
      [1, older],
      [2, unverified],
    ] as const) {
      table.failed(far[i]!.id, 40);
      table.failed(far[i]!.id, 40);
      expect(table.has(expected.id)).toBe(true);
    }
    // Nothing left to promote: the bad node stays until a newcomer replaces it.
    table.failed(far[3]!.id, 41);
    table.failed(far[3]!.id, 41);
    expect(table.state(far[3]!.id, 41)).toBe('bad');
    const c = newcomer();
    expect(table.heard(c, 42, 'query')).toEqual({ added: true, reason: 'replaced-bad' });
    expect(table.has(far[3]!.id)).toBe(false);
    expect(table.has(c.id)).toBe(true);
  });

  it('caps the cache, dropping the worst candidate', () => {
    const { table, far, newcomer } = fullBucketZero({ replacementCacheSize: 2 });
    const a = newcomer();
    const b = newcomer();
    const unverified = newcomer();
    const late = newcomer();
    table.heard(a, 10, 'response');
    table.heard(b, 11, 'response');
    table.heard(unverified, 12, 'query'); // worse than both verified ones: dropped
    expect(table.replacementCount).toBe(2);
    table.heard(late, 13, 'response'); // a (oldest) dropped
    expect(table.replacementCount).toBe(2);
    for (const f of far.slice(0, 3)) {
      table.failed(f.id, 20);
      table.failed(f.id, 20);
    }
    expect([a, b, unverified, late].map((c) => table.has(c.id))).toEqual([
      false,
      true,
      false,
      true,
    ]);
  });

  it('drops a cached candidate that fails, and updates one heard again', () => {
    const { table, far, newcomer } = fullBucketZero();
    const c = newcomer();
    table.heard(c, 10, 'query');
    table.heard(c, 11, 'response'); // verified while cached
    table.failed(c.id, 12);
    table.failed(c.id, 13);
    expect(table.replacementCount).toBe(0);
    const d = newcomer();
    table.heard(d, 14, 'response');
    table.remove(far[0]!.id);
    expect(table.has(far[0]!.id)).toBe(false);
    expect(table.has(d.id)).toBe(true);
    expect(table.size).toBe(table.k + 1);
    table.remove(d.id);
    expect(table.size).toBe(table.k);
    const e = newcomer();
    table.heard(e, 15, 'response'); // room again
    expect(table.has(e.id)).toBe(true);
    const f = newcomer();
    table.heard(f, 16, 'response');
    table.remove(f.id); // from the cache
    expect(table.replacementCount).toBe(0);
  });

  it('returns questionable nodes to ping, least recently seen first, at most once per interval', () => {
    const { table, far, newcomer } = fullBucketZero({ minPingIntervalMs: 30_000 });
    const t = 16 * MIN; // everyone idle for more than 15 minutes
    table.heard(far[5]!, t - 1, 'response'); // still good
    const c = newcomer();
    const r = table.heard(c, t, 'response');
    expect(r.added).toBe(false);
    expect(r.reason).toBe('ping');
    const ping = r.reason === 'ping' ? r.ping.map((x) => idToHex(x.id)) : [];
    const expected = far.filter((_, i) => i !== 5).map((x) => idToHex(x.id));
    expect(ping).toEqual(expected); // far[i] last seen at i: oldest first
    expect(table.replacementCount).toBe(1);

    // Another newcomer right away: the same nodes are not handed out twice.
    const d = newcomer();
    expect(table.heard(d, t + 1000, 'response').reason).toBe('full');

    // far[0] answers the ping; far[1] times out twice and is replaced by a newcomer.
    table.heard(far[0]!, t + 2000, 'response');
    table.failed(far[1]!.id, t + 3000);
    expect(table.has(far[1]!.id)).toBe(true);
    table.failed(far[1]!.id, t + 40_000);
    expect(table.has(far[1]!.id)).toBe(false);
    expect(table.has(d.id)).toBe(true); // d was seen more recently than c

    // After the interval, the remaining questionable nodes are handed out again.
    const e = newcomer();
    const again = table.heard(e, t + 31_000, 'response');
    expect(again.reason).toBe('ping');
    expect(again.reason === 'ping' && again.ping.map((x) => idToHex(x.id))).toEqual(
      far.filter((_, i) => i >= 2 && i !== 5).map((x) => idToHex(x.id)),
    );
  });

  it('takeQuestionable hands out questionable nodes oldest first, with a limit and backoff', () => {
    const random = seededBytes(30);
    const self = random(20);
    const table = new RoutingTable(self, { minPingIntervalMs: 10_000 });
    const nodes = Array.from({ length: 5 }, () => contact(random(20)));
    nodes.forEach((c, i) => table.heard(c, i * 1000, 'response'));
    expect(table.takeQuestionable(10 * MIN)).toEqual([]);
    const unverified = contact(random(20));
    table.heard(unverified, 10 * MIN, 'query'); // never answered: questionable at once
    expect(table.takeQuestionable(20 * MIN, 0)).toEqual([]);
    const now = 15 * MIN + 2500; // nodes 0-2 idle for more than 15 min
    expect(table.takeQuestionable(now).map((c) => idToHex(c.id))).toEqual(
      [...nodes.slice(0, 3), unverified].map((c) => idToHex(c.id)),
    );
    expect(table.takeQuestionable(now + 1)).toEqual([]);
    // Later: all five are idle; the four handed out above are past their backoff.
    const later = 20 * MIN;
    const first = table.takeQuestionable(later, 2).map((c) => idToHex(c.id));
    expect(first).toEqual(nodes.slice(0, 2).map((c) => idToHex(c.id)));
    expect(table.takeQuestionable(later).map((c) => idToHex(c.id))).toEqual(
      [nodes[2]!, nodes[3]!, nodes[4]!, unverified].map((c) => idToHex(c.id)),
    );
    // Bad nodes are not pinged.
    table.failed(nodes[0]!.id, later);
    table.failed(nodes[0]!.id, later);
    expect(table.takeQuestionable(later + 60_000).map((c) => idToHex(c.id))).not.toContain(
      idToHex(nodes[0]!.id),
    );
  });
});

describe('RoutingTable refresh (BEP 5)', () => {
  const REFRESH = 15 * MIN;

  it('returns one target per idle bucket, in that bucket’s range, and marks it', () => {
    const random = seededBytes(40);
    const self = random(20);
    const table = new RoutingTable(self);
    // A new table: its only bucket never changed, so it is due at once.
    expect(table.nextRefreshAt()).toBe(-Infinity);
    const first = table.takeRefreshTargets(0, random);
    expect(first).toHaveLength(1);
    expect(table.takeRefreshTargets(0, random)).toEqual([]);

    for (let i = 0; i < 3000; i++) table.heard(contact(random(20)), 1000, 'response');
    const buckets = table.bucketCount;
    expect(buckets).toBeGreaterThan(5);
    table.takeRefreshTargets(1000, random); // buckets created empty by splits
    expect(table.nextRefreshAt()).toBe(1000 + REFRESH);
    expect(table.takeRefreshTargets(1000 + REFRESH - 1, random)).toEqual([]);

    const targets = table.takeRefreshTargets(1000 + REFRESH, random);
    expect(targets).toHaveLength(buckets);
    targets.forEach((t, i) => expect(commonPrefixLength(self, t)).toBe(i));
    expect(table.takeRefreshTargets(1000 + REFRESH, random)).toEqual([]);

    // A response in bucket 2 counts as a change; a query does not.
    const inBucket2 = [...table.contacts()].find((c) => commonPrefixLength(self, c.id) === 2)!;
    const inBucket3 = [...table.contacts()].find((c) => commonPrefixLength(self, c.id) === 3)!;
    table.heard(inBucket2, 1000 + 20 * MIN, 'response');
    table.heard(inBucket3, 1000 + 20 * MIN, 'query');
    const due = table.takeRefreshTargets(1000 + 2 * REFRESH, random);
    expect(due.map((t) => commonPrefixLength(self, t))).toEqual(
      Array.from({ length: buckets }, (_, i) => i).filter((i) => i !== 2),
    );
    expect(table.nextRefreshAt()).toBe(1000 + 20 * MIN + REFRESH);
  });

  it('a node added or replaced marks its bucket changed', () => {
    const { table, far, newcomer, random } = fullBucketZero({ refreshIntervalMs: 100 });
    table.takeRefreshTargets(1000, random);
    table.heard(newcomer(), 1050, 'response'); // full: cached, no change
    expect(table.takeRefreshTargets(1100, random)).toHaveLength(2);
    table.failed(far[0]!.id, 1150);
    table.failed(far[0]!.id, 1150); // replaced by the cached node: a change
    const due = table.takeRefreshTargets(1200, random);
    expect(due.map((t) => commonPrefixLength(table.self, t))).toEqual([1]);
  });
});

describe('RoutingTable contacts/size', () => {
  it('size counts bucket contacts only; contacts() yields them all', () => {
    const random = seededBytes(50);
    const table = new RoutingTable(random(20));
    for (let i = 0; i < 1000; i++)
      table.heard(contact(random(20)), i, i % 2 ? 'response' : 'query');
    expect([...table.contacts()]).toHaveLength(table.size);
    const ids = new Set([...table.contacts()].map((c) => idToHex(c.id)));
    expect(ids.size).toBe(table.size);
  });
});
