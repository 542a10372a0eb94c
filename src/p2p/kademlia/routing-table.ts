/**
 * The Mainline DHT routing table (BEP 5 "Routing Table"), sans-I/O: time comes in as `now`
 * (ms), randomness as a `RandomBytes`; the table sends nothing. It tells the core which
 * nodes to ping (`heard` → `{ reason: 'ping' }`, `takeQuestionable`) and which targets to
 * look up (`takeRefreshTargets`); the core reports back with `heard` and `failed`.
 *
 * Layout. BEP 5 starts with one bucket over the whole 160-bit space and only ever splits
 * the bucket that holds our own id. So the buckets form a list by depth: bucket `i` (for
 * `i < last`) holds the nodes sharing exactly `i` leading bits with us, and the last bucket
 * holds every node sharing `last` bits or more. A node's bucket is
 * `min(commonPrefixLength(self, id), last)`: no search.
 *
 * Node states (BEP 5):
 * - good: answered one of our queries within `goodForMs` (15 min), or has answered once
 *   and queried us within `goodForMs`. A node that never answered us is never good.
 * - questionable: not good, not bad: idle for more than `goodForMs`, never answered yet
 *   (heard only through its queries), or with an unanswered query pending a retry.
 * - bad: `maxFailures` queries in a row unanswered ("fail to respond to multiple queries
 *   in a row"; BEP 5 suggests trying once more, so 2 by default, as libtorrent does).
 *
 * ```
 *            response                 idle > goodForMs, or a timeout
 *   new ──────────────────→ good ─────────────────────────────→ questionable
 *    │                       ↑ ↑                                   │    │
 *    │ query                 │ └──── response (query too, once ────┘    │ maxFailures
 *    └──→ questionable ──────┘        it has answered)                  │ timeouts in a row
 *         (never answered)  response                                    ▼
 *                                         replaced by a cached node ←── bad
 * ```
 *
 * Insertion of a node not yet in its bucket (`heard`):
 * 1. room in the bucket → inserted;
 * 2. full, and the bucket holds our id → split (BEP 5), then try again;
 * 3. full with a bad node → the bad node is replaced (BEP 5);
 * 4. full with questionable nodes → they are returned, least recently seen first, to be
 *    pinged (BEP 5), and the newcomer waits in the replacement cache: once a pinged node
 *    fails `maxFailures` times, the best cached node takes its place without a retry;
 * 5. full of good nodes → the newcomer goes to the replacement cache (BEP 5 discards it;
 *    the cache is the Kademlia paper's §4.1 refinement, as in libtorrent).
 */
import { InvalidOptionError } from '../../errors.js';
import { ID_LENGTH } from './codes.js';
import {
  commonPrefixLength,
  compareDistance,
  idEquals,
  idHead32,
  idTail32,
  isId,
  randomIdWithPrefix,
} from './id.js';
import type { NodeId, RandomBytes } from './id.js';
import { Bucket, betterCandidate, removeAt } from './bucket.js';
import type { Contact, Entry } from './bucket.js';

export type { Contact } from './bucket.js';

const ID_BITS = ID_LENGTH * 8;

export type NodeState = 'good' | 'questionable' | 'bad';

/** How the node reached us: it answered one of our queries, or it sent us a query. */
export type HeardKind = 'response' | 'query';

export interface RoutingTableOptions {
  /**
   * Bucket size. BEP 5: "Each bucket can only hold K nodes, currently eight".
   * @default 8
   */
  k?: number;
  /**
   * Replacement candidates kept per bucket while it is full.
   * @default 8
   */
  replacementCacheSize?: number;
  /**
   * BEP 5: a node is good if it answered us, or queried us after having answered once,
   * within the last 15 minutes; "after 15 minutes of inactivity, a node becomes
   * questionable". Inclusive: idle for exactly `goodForMs` is still good.
   * @default 900_000
   */
  goodForMs?: number;
  /**
   * Consecutive unanswered queries after which a node is bad. BEP 5 says "multiple" and
   * suggests trying once more before discarding a node; libtorrent also uses 2.
   * @default 2
   */
  maxFailures?: number;
  /**
   * BEP 5: "Buckets that have not been changed in 15 minutes should be refreshed".
   * @default 900_000
   */
  refreshIntervalMs?: number;
  /**
   * The table hands the same node out for pinging (from `heard` or `takeQuestionable`) at
   * most once per this interval, so a burst of newcomers does not ping it again and again.
   * Keep it above the core's query timeout.
   * @default 30_000
   */
  minPingIntervalMs?: number;
}

const DEFAULTS: Required<RoutingTableOptions> = {
  k: 8,
  replacementCacheSize: 8,
  goodForMs: 15 * 60_000,
  maxFailures: 2,
  refreshIntervalMs: 15 * 60_000,
  minPingIntervalMs: 30_000,
};

/**
 * The outcome of `heard`. `added` is true when the node is in a bucket after the call.
 * - `inserted`: new in a bucket (room, or after a split);
 * - `replaced-bad`: took the place of a bad node;
 * - `updated`: already in its bucket; its timestamps were refreshed;
 * - `ping`: the bucket is full; ping these questionable nodes (report each answer with
 *   `heard(…, 'response')`, each timeout with `failed`). The newcomer waits in the
 *   replacement cache and is promoted when one of them turns bad;
 * - `full`: the bucket is full of good nodes (or its questionable ones were handed out for
 *   pinging recently); the newcomer waits in the replacement cache if it ranks high enough;
 * - `self`: our own id; `bad-id`: not a 20-byte id; `bad-address`: bad port/address/family;
 * - `address-mismatch`: the id is in the table, good, at another address; ignored
 *   (a good node keeps its address; a questionable or bad one moves on a response).
 */
export type InsertResult =
  | { readonly added: true; readonly reason: 'inserted' | 'replaced-bad' | 'updated' }
  | { readonly added: false; readonly reason: 'ping'; readonly ping: readonly Contact[] }
  | {
      readonly added: false;
      readonly reason: 'full' | 'self' | 'bad-id' | 'bad-address' | 'address-mismatch';
    };

/** A snapshot of what the table knows about a node in one of its buckets. */
export interface ContactInfo extends Contact {
  readonly state: NodeState;
  readonly lastSeen: number;
  /** Last time it answered one of our queries; undefined if it never has. */
  readonly lastResponse: number | undefined;
  readonly failures: number;
}

export interface ClosestOptions {
  /**
   * Only nodes that have answered at least one of our queries. Use it when answering
   * `find_node`/`get_peers`, so we never hand out nodes we could not reach.
   * @default false
   */
  verifiedOnly?: boolean;
}

const INSERTED: InsertResult = Object.freeze({ added: true, reason: 'inserted' });
const REPLACED_BAD: InsertResult = Object.freeze({ added: true, reason: 'replaced-bad' });
const UPDATED: InsertResult = Object.freeze({ added: true, reason: 'updated' });
const FULL: InsertResult = Object.freeze({ added: false, reason: 'full' });
const SELF: InsertResult = Object.freeze({ added: false, reason: 'self' });
const BAD_ID: InsertResult = Object.freeze({ added: false, reason: 'bad-id' });
const BAD_ADDRESS: InsertResult = Object.freeze({ added: false, reason: 'bad-address' });
const ADDRESS_MISMATCH: InsertResult = Object.freeze({
  added: false,
  reason: 'address-mismatch',
});

export class RoutingTable {
  readonly self: NodeId;
  readonly #k: number;
  readonly #cacheSize: number;
  readonly #goodForMs: number;
  readonly #maxFailures: number;
  readonly #refreshIntervalMs: number;
  readonly #minPingIntervalMs: number;
  /** Bucket `i` holds common prefix length `i` with self; the last one, `≥ last`. */
  readonly #buckets: Bucket[] = [new Bucket()];
  #size = 0;

  constructor(self: NodeId, options: RoutingTableOptions = {}) {
    if (!isId(self)) {
      throw new InvalidOptionError('self must be a 20-byte node id (Uint8Array of length 20)');
    }
    const o = { ...DEFAULTS, ...definedOnly(options) };
    checkInteger('k', o.k, 1, 1024);
    checkInteger('replacementCacheSize', o.replacementCacheSize, 0, 1024);
    checkInteger('maxFailures', o.maxFailures, 1, 1000);
    checkDuration('goodForMs', o.goodForMs, 1);
    checkDuration('refreshIntervalMs', o.refreshIntervalMs, 1);
    checkDuration('minPingIntervalMs', o.minPingIntervalMs, 0);
    this.self = self.slice();
    this.#k = o.k;
    this.#cacheSize = o.replacementCacheSize;
    this.#goodForMs = o.goodForMs;
    this.#maxFailures = o.maxFailures;
    this.#refreshIntervalMs = o.refreshIntervalMs;
    this.#minPingIntervalMs = o.minPingIntervalMs;
  }

  /** Bucket size k. */
  get k(): number {
    return this.#k;
  }

  /** Contacts in buckets (not in replacement caches). */
  get size(): number {
    return this.#size;
  }

  get bucketCount(): number {
    return this.#buckets.length;
  }

  /** Candidates waiting in replacement caches. */
  get replacementCount(): number {
    let n = 0;
    for (const b of this.#buckets) n += b.cache.length;
    return n;
  }

  /**
   * We heard from a node: it answered one of our queries (`'response'`: the core matched
   * the transaction and read the node's id from the reply) or sent us a query. See the file
   * header for what happens when its bucket is full. BEP 42 id checks and BEP 43 read-only
   * nodes are the caller's business: only call this for nodes you would route through.
   */
  heard(contact: Contact, now: number, kind: HeardKind): InsertResult {
    if (!isId(contact.id)) return BAD_ID;
    if (!validEndpoint(contact)) return BAD_ADDRESS;
    if (idEquals(contact.id, this.self)) return SELF;

    let bucket: Bucket;
    for (;;) {
      const index = this.#indexOf(contact.id);
      bucket = this.#buckets[index]!;
      const at = bucket.indexOf(contact.id);
      if (at >= 0) return this.#update(bucket, bucket.nodes[at]!, contact, now, kind);
      if (bucket.nodes.length < this.#k) {
        const entry = this.#candidate(bucket, contact, now, kind);
        if (entry === undefined) return ADDRESS_MISMATCH;
        const cached = bucket.cache.indexOf(entry);
        if (cached >= 0) removeAt(bucket.cache, cached);
        bucket.nodes.push(entry);
        bucket.lastChanged = now;
        this.#size++;
        return INSERTED;
      }
      // BEP 5: a full bucket may only be split if our own id falls within its range.
      if (index === this.#buckets.length - 1 && this.#buckets.length < ID_BITS) {
        this.#split();
        continue;
      }
      break;
    }

    const entry = this.#candidate(bucket, contact, now, kind);
    if (entry === undefined) return ADDRESS_MISMATCH;
    // BEP 5: "If any nodes in the bucket are known to have become bad, then one is replaced
    // by the new node."
    const bad = this.#worstBad(bucket);
    if (bad >= 0) {
      const cached = bucket.cache.indexOf(entry);
      if (cached >= 0) removeAt(bucket.cache, cached);
      bucket.nodes[bad] = entry;
      bucket.lastChanged = now;
      return REPLACED_BAD;
    }
    // BEP 5: "If there are any questionable nodes in the bucket …, the least recently seen
    // node is pinged." We hand out all of them, least recently seen first; the newcomer
    // waits in the replacement cache.
    const ping = this.#questionableIn(bucket, now);
    bucket.addToCache(entry, this.#cacheSize);
    if (ping.length === 0) return FULL;
    ping.sort((a, b) => a.lastSeen - b.lastSeen);
    const contacts = ping.map((e) => {
      e.pingedAt = now;
      return e.contact;
    });
    return Object.freeze({ added: false, reason: 'ping', ping: Object.freeze(contacts) });
  }

  /**
   * A query to this node timed out. After `maxFailures` in a row it is bad and, if its
   * bucket's replacement cache holds a candidate, replaced by the best one (a node that has
   * answered us before one that never did, then the most recently seen). A bad node with
   * no replacement stays until a newcomer takes its place (BEP 5), but is never returned
   * by `closest`. A candidate in a replacement cache is dropped once it is bad.
   */
  failed(id: NodeId, now: number): void {
    if (!isId(id)) return;
    const bucket = this.#buckets[this.#indexOf(id)]!;
    const at = bucket.indexOf(id);
    if (at >= 0) {
      const entry = bucket.nodes[at]!;
      entry.failures++;
      if (entry.failures < this.#maxFailures) return;
      const replacement = bucket.takeBestCached();
      if (replacement === undefined) return;
      bucket.nodes[at] = replacement;
      bucket.lastChanged = now;
      return;
    }
    const cached = bucket.cacheIndexOf(id);
    if (cached < 0) return;
    const entry = bucket.cache[cached]!;
    entry.failures++;
    if (entry.failures >= this.#maxFailures) removeAt(bucket.cache, cached);
  }

  /** Forgets a node (e.g. it failed BEP 42 checks), promoting a cached candidate if any. */
  remove(id: NodeId): void {
    if (!isId(id)) return;
    const bucket = this.#buckets[this.#indexOf(id)]!;
    const at = bucket.indexOf(id);
    if (at >= 0) {
      const replacement = bucket.takeBestCached();
      if (replacement === undefined) {
        removeAt(bucket.nodes, at);
        this.#size--;
      } else {
        bucket.nodes[at] = replacement;
      }
      return;
    }
    const cached = bucket.cacheIndexOf(id);
    if (cached >= 0) removeAt(bucket.cache, cached);
  }

  /**
   * Up to `n` contacts closest to `target` by XOR distance, closest first, among good and
   * questionable nodes (never bad ones), whatever their state otherwise.
   *
   * No global sort: with `c = commonPrefixLength(self, target)`, every node in bucket `c`
   * is closer to the target than any node in buckets `> c`, which are all closer than any
   * in bucket `c-1`, then `c-2`, … (the first differing bit decides). So we sort one group
   * at a time and stop as soon as `n` are collected: typically one or two buckets.
   */
  closest(target: NodeId, n: number = this.#k, options: ClosestOptions = {}): Contact[] {
    if (!isId(target)) throw new InvalidOptionError('target must be a 20-byte id');
    const out: Contact[] = [];
    if (n <= 0) return out;
    const verifiedOnly = options.verifiedOnly === true;
    const last = this.#buckets.length - 1;
    const c = Math.min(commonPrefixLength(this.self, target), last);
    // `keys[i]` is the first 32 bits of out[i]'s distance: most comparisons end there.
    const keys: number[] = [];
    const t32 = idHead32(target);
    this.#closestIn(this.#buckets[c]!, target, t32, n, verifiedOnly, out, keys);
    if (out.length >= n) return out;
    for (let i = c + 1; i <= last; i++) {
      this.#closestIn(this.#buckets[i]!, target, t32, n, verifiedOnly, out, keys);
    }
    if (out.length >= n) return out;
    for (let i = c - 1; i >= 0; i--) {
      this.#closestIn(this.#buckets[i]!, target, t32, n, verifiedOnly, out, keys);
      if (out.length >= n) return out;
    }
    return out;
  }

  /** What the table knows about a node in one of its buckets (not replacement caches). */
  get(id: NodeId, now: number): ContactInfo | undefined {
    const entry = this.#find(id);
    if (entry === undefined) return undefined;
    const c = entry.contact;
    return {
      id: c.id,
      address: c.address,
      port: c.port,
      family: c.family,
      state: this.#state(entry, now),
      lastSeen: entry.lastSeen,
      lastResponse: entry.lastResponse === -Infinity ? undefined : entry.lastResponse,
      failures: entry.failures,
    };
  }

  has(id: NodeId): boolean {
    return this.#find(id) !== undefined;
  }

  /** The BEP 5 state of a node in one of the buckets; undefined if it is not there. */
  state(id: NodeId, now: number): NodeState | undefined {
    const entry = this.#find(id);
    return entry === undefined ? undefined : this.#state(entry, now);
  }

  /**
   * BEP 5: "Buckets that have not been changed in 15 minutes should be refreshed … by
   * picking a random ID in the range of the bucket and performing a find_nodes search on
   * it." Returns one target per due bucket (unchanged for `refreshIntervalMs` or more,
   * including buckets that never changed and empty ones), and marks those buckets changed
   * at `now`. Targets share exactly `i` leading bits with our id for bucket `i`, so they
   * fall in its range (for the last bucket: in its half away from our id, since the self
   * lookup covers the rest).
   */
  takeRefreshTargets(now: number, random: RandomBytes): NodeId[] {
    const targets: NodeId[] = [];
    const buckets = this.#buckets;
    for (let i = 0; i < buckets.length; i++) {
      const bucket = buckets[i]!;
      if (now - bucket.lastChanged < this.#refreshIntervalMs) continue;
      targets.push(randomIdWithPrefix(this.self, i, random));
      bucket.lastChanged = now;
    }
    return targets;
  }

  /**
   * When `takeRefreshTargets` will next return something: the earliest bucket change plus
   * `refreshIntervalMs`. `-Infinity` while some bucket has never changed (due now).
   */
  nextRefreshAt(): number {
    let min = Infinity;
    for (const b of this.#buckets) min = Math.min(min, b.lastChanged);
    return min + this.#refreshIntervalMs;
  }

  /**
   * Questionable nodes to ping now, least recently seen first, at most `limit` (default k).
   * A node is handed out at most once per `minPingIntervalMs` (by this method or by
   * `heard`), so the core can call this on every tick. Report answers with
   * `heard(…, 'response')` and timeouts with `failed`.
   */
  takeQuestionable(now: number, limit: number = this.#k): Contact[] {
    if (limit <= 0) return [];
    const due: Entry[] = [];
    for (const b of this.#buckets) due.push(...this.#questionableIn(b, now));
    due.sort((a, b) => a.lastSeen - b.lastSeen);
    if (due.length > limit) due.length = limit;
    return due.map((e) => {
      e.pingedAt = now;
      return e.contact;
    });
  }

  /** Every contact in a bucket, bucket by bucket (bad ones included). */
  *contacts(): IterableIterator<Contact> {
    for (const b of this.#buckets) for (const e of b.nodes) yield e.contact;
  }

  #indexOf(id: NodeId): number {
    return Math.min(commonPrefixLength(this.self, id), this.#buckets.length - 1);
  }

  #find(id: NodeId): Entry | undefined {
    if (!isId(id)) return undefined;
    const bucket = this.#buckets[this.#indexOf(id)]!;
    const at = bucket.indexOf(id);
    return at >= 0 ? bucket.nodes[at] : undefined;
  }

  #state(entry: Entry, now: number): NodeState {
    if (entry.failures >= this.#maxFailures) return 'bad';
    if (entry.failures > 0 || entry.lastResponse === -Infinity) return 'questionable';
    return now - entry.lastSeen <= this.#goodForMs ? 'good' : 'questionable';
  }

  /** Records what we heard on an entry; false if it must be ignored (address clash). */
  #touch(entry: Entry, contact: Contact, now: number, kind: HeardKind): boolean {
    const c = entry.contact;
    if (c.address !== contact.address || c.port !== contact.port || c.family !== contact.family) {
      // A good node keeps its address: an id showing up elsewhere is more likely spoofed
      // than moved. A node that is not good may move, but only on a verified response.
      if (kind !== 'response' || this.#state(entry, now) === 'good') return false;
      entry.contact = freezeContact(contact);
    }
    if (now > entry.lastSeen) entry.lastSeen = now;
    if (kind === 'response') {
      if (now > entry.lastResponse) entry.lastResponse = now;
      entry.failures = 0;
    }
    return true;
  }

  #update(bucket: Bucket, entry: Entry, contact: Contact, now: number, kind: HeardKind) {
    if (!this.#touch(entry, contact, now, kind)) return ADDRESS_MISMATCH;
    // BEP 5: "When a node in a bucket is pinged and it responds … last changed".
    if (kind === 'response') bucket.lastChanged = now;
    return UPDATED;
  }

  /** The cached entry for `contact`, updated, or a new one; undefined on address clash. */
  #candidate(bucket: Bucket, contact: Contact, now: number, kind: HeardKind): Entry | undefined {
    const at = bucket.cacheIndexOf(contact.id);
    if (at >= 0) {
      const entry = bucket.cache[at]!;
      return this.#touch(entry, contact, now, kind) ? entry : undefined;
    }
    const frozen = freezeContact(contact);
    return {
      contact: frozen,
      head: idHead32(frozen.id),
      tail: idTail32(frozen.id),
      lastSeen: now,
      lastResponse: kind === 'response' ? now : -Infinity,
      failures: 0,
      pingedAt: -Infinity,
    };
  }

  #worstBad(bucket: Bucket): number {
    let worst = -1;
    const nodes = bucket.nodes;
    for (let i = 0; i < nodes.length; i++) {
      const e = nodes[i]!;
      if (e.failures < this.#maxFailures) continue;
      if (worst < 0 || betterCandidate(nodes[worst]!, e)) worst = i;
    }
    return worst;
  }

  #questionableIn(bucket: Bucket, now: number): Entry[] {
    const out: Entry[] = [];
    for (const e of bucket.nodes) {
      if (now - e.pingedAt < this.#minPingIntervalMs) continue;
      if (this.#state(e, now) === 'questionable') out.push(e);
    }
    return out;
  }

  /**
   * Inserts the bucket's usable contacts into `out`, kept sorted by distance to `target`
   * and at most `n` long (an insertion sort: buckets hold k nodes). Every node of a group
   * `closest` visits later is farther than every node of an earlier one, so they land
   * behind them.
   */
  #closestIn(
    bucket: Bucket,
    target: NodeId,
    t32: number,
    n: number,
    verifiedOnly: boolean,
    out: Contact[],
    keys: number[],
  ): void {
    for (const e of bucket.nodes) {
      if (e.failures >= this.#maxFailures) continue;
      if (verifiedOnly && e.lastResponse === -Infinity) continue;
      const contact = e.contact;
      const id = contact.id;
      const key = (e.head ^ t32) >>> 0;
      let i = out.length;
      if (i >= n) {
        const lk = keys[n - 1]!;
        if (key > lk || (key === lk && compareDistance(target, id, out[n - 1]!.id) > 0)) continue;
        i = n - 1;
      } else {
        out.push(contact);
        keys.push(key);
      }
      while (i > 0) {
        const pk = keys[i - 1]!;
        if (key > pk || (key === pk && compareDistance(target, id, out[i - 1]!.id) > 0)) break;
        out[i] = out[i - 1]!;
        keys[i] = pk;
        i--;
      }
      out[i] = contact;
      keys[i] = key;
    }
  }

  /**
   * Splits the last bucket (the one holding our id, depth `d`): nodes sharing exactly `d`
   * bits with us stay, the rest move to a new last bucket of depth `d + 1`. Both keep the
   * old bucket's last-changed time; replacement candidates follow their ids (in practice
   * there are none: only a full bucket that cannot split keeps candidates, and the bucket
   * holding our id splits whenever it is full; near the bottom, where fewer than k + 1 ids
   * share its prefix, it can no longer fill up).
   */
  #split(): void {
    const depth = this.#buckets.length - 1;
    const old = this.#buckets[depth]!;
    const next = new Bucket(old.lastChanged);
    const move = (list: Entry[], into: Entry[]): void => {
      for (let i = list.length - 1; i >= 0; i--) {
        if (commonPrefixLength(this.self, list[i]!.contact.id) > depth) {
          into.push(removeAt(list, i));
        }
      }
    };
    move(old.nodes, next.nodes);
    move(old.cache, next.cache);
    this.#buckets.push(next);
  }
}

function validEndpoint(c: Contact): boolean {
  return (
    typeof c.address === 'string' &&
    c.address.length > 0 &&
    Number.isInteger(c.port) &&
    c.port > 0 &&
    c.port <= 0xffff &&
    (c.family === 'IPv4' || c.family === 'IPv6')
  );
}

/** A frozen copy, so callers can neither change our entry nor see later changes. */
function freezeContact(c: Contact): Contact {
  return Object.freeze({ id: c.id.slice(), address: c.address, port: c.port, family: c.family });
}

function definedOnly<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [key, value] of Object.entries(o)) {
    if (value !== undefined) (out as Record<string, unknown>)[key] = value;
  }
  return out;
}

function checkInteger(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new InvalidOptionError(`${name} must be an integer from ${min} to ${max}, got ${value}`);
  }
}

function checkDuration(name: string, value: number, min: number): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
    throw new InvalidOptionError(
      `${name} must be a finite number of milliseconds ≥ ${min}, got ${value}`,
    );
  }
}
