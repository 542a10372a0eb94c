/**
 * One k-bucket of the Mainline DHT routing table (BEP 5 "Routing Table"): at most k live
 * entries plus a small replacement cache of candidates that were heard while the bucket was
 * full (the Kademlia paper §4.1; libtorrent and bittorrent-dht keep one too).
 *
 * The bucket is a plain container: the table (routing-table.ts) decides when nodes enter,
 * leave or are promoted. Buckets are tiny (k = 8), so linear scans beat any index.
 */
import { idEquals, idTail32 } from './id.js';
import type { NodeId } from './id.js';

/** A DHT node as the routing table knows it. Stored contacts are frozen; do not mutate `id`. */
export interface Contact {
  readonly id: NodeId;
  readonly address: string;
  readonly port: number;
  /** BEP 32: IPv4 and IPv6 nodes live in separate tables (one per family) in the core. */
  readonly family: 'IPv4' | 'IPv6';
}

/** What the table tracks per node. Never handed out: callers get copies. */
export interface Entry {
  contact: Contact;
  /**
   * `idHead32` and `idTail32` of the contact's id (which never changes for an entry): kept
   * inline, so scans and sorts of a bucket rarely have to read the id's bytes.
   */
  readonly head: number;
  readonly tail: number;
  /** Last time (ms) the node answered us or queried us. */
  lastSeen: number;
  /** Last time (ms) the node answered one of our queries; -Infinity if it never has. */
  lastResponse: number;
  /** Consecutive queries it left unanswered; reset by a response. */
  failures: number;
  /** Last time (ms) the table handed the node out to be pinged; -Infinity if never. */
  pingedAt: number;
}

export class Bucket {
  /** Live entries, at most k. Order carries no meaning. */
  readonly nodes: Entry[] = [];
  /** Replacement candidates, at most `replacementCacheSize`. Order carries no meaning. */
  readonly cache: Entry[] = [];
  /**
   * BEP 5: "Each bucket should maintain a 'last changed' property": a node added, replaced,
   * or a node in it answering. -Infinity until the first change, so a new bucket is due
   * for refresh at once.
   */
  lastChanged: number;

  constructor(lastChanged = -Infinity) {
    this.lastChanged = lastChanged;
  }

  indexOf(id: NodeId): number {
    return find(this.nodes, id);
  }

  cacheIndexOf(id: NodeId): number {
    return find(this.cache, id);
  }

  /** Removes and returns the best replacement candidate (see `betterCandidate`). */
  takeBestCached(): Entry | undefined {
    const cache = this.cache;
    if (cache.length === 0) return undefined;
    let best = 0;
    for (let i = 1; i < cache.length; i++) if (betterCandidate(cache[i]!, cache[best]!)) best = i;
    return removeAt(cache, best);
  }

  /**
   * Adds (or keeps) `entry` in the replacement cache; when that overflows `max`, the worst
   * candidate is dropped, which may be `entry` itself.
   */
  addToCache(entry: Entry, max: number): void {
    const cache = this.cache;
    if (!cache.includes(entry)) cache.push(entry);
    if (cache.length <= max) return;
    let worst = 0;
    for (let i = 1; i < cache.length; i++) if (betterCandidate(cache[worst]!, cache[i]!)) worst = i;
    removeAt(cache, worst);
  }
}

/**
 * True when `a` should be promoted before `b`: a node that has answered us (and has no
 * pending failures) beats one we never verified, then the more recently seen wins.
 */
export function betterCandidate(a: Entry, b: Entry): boolean {
  const va = a.failures === 0 && a.lastResponse !== -Infinity;
  const vb = b.failures === 0 && b.lastResponse !== -Infinity;
  if (va !== vb) return va;
  if (a.failures !== b.failures) return a.failures < b.failures;
  return a.lastSeen > b.lastSeen;
}

function find(list: readonly Entry[], id: NodeId): number {
  const tail = idTail32(id);
  for (let i = 0; i < list.length; i++) {
    const e = list[i]!;
    if (e.tail === tail && idEquals(e.contact.id, id)) return i;
  }
  return -1;
}

/** Removes index `i` by swapping in the last element (order is not kept). */
export function removeAt<T>(list: T[], i: number): T {
  const item = list[i]!;
  const last = list.pop()!;
  if (i < list.length) list[i] = last;
  return item;
}
