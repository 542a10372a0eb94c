/**
 * An iterative Kademlia lookup (BEP 5 "find_node"/"get_peers", BEP 44 "get"), as a state
 * machine the DHT core drives: at most α queries in flight, always to the closest
 * unqueried candidates; it converges when the k closest candidates that did not fail
 * have all answered (or the query budget is spent).
 *
 * Candidates without a known id (bootstrap addresses) are queried first; their answer
 * tells their id.
 */
import type { Family, NodeInfo } from './compact.js';
import { compareDistance, idEquals, idTail32 } from './id.js';
import type { NodeId } from './id.js';

export type CandidateState = 'new' | 'inflight' | 'responded' | 'failed';

export interface Candidate {
  id: NodeId | undefined;
  address: string;
  port: number;
  family: Family;
  state: CandidateState;
  /** get_peers / get: the write token the node gave us (for announce_peer / put). */
  token: Uint8Array | undefined;
  /** Times this candidate was asked again after a timeout. */
  retries?: number;
  /**
   * Which round of the lookup can ask it: 1 for nodes we knew at the start, one more than
   * the node whose answer named it otherwise.
   */
  round?: number;
}

export interface LookupOptions {
  k: number;
  alpha: number;
  /** Queries one lookup may send. */
  maxQueries: number;
  /** Candidates kept (closest first); farther ones are forgotten. */
  maxCandidates: number;
  /** Extra attempts after a timeout. */
  retries: number;
}

export class Lookup {
  readonly target: NodeId;
  readonly options: LookupOptions;
  /** Known-id candidates, sorted by distance to the target. */
  readonly candidates: Candidate[] = [];
  /** Bootstrap candidates (id unknown), queried first. */
  readonly #unknown: Candidate[] = [];
  #inflight = 0;
  #queries = 0;
  /** Ids seen, ours included. */
  readonly #seen = new IdSet();
  /** Bootstrap addresses seen (`address|port`). */
  readonly #seenAddresses = new Set<string>();

  constructor(target: NodeId, options: LookupOptions, self: NodeId | undefined) {
    this.target = target;
    this.options = options;
    if (self !== undefined) this.#seen.add(self);
  }

  get inflight(): number {
    return this.#inflight;
  }

  get queries(): number {
    return this.#queries;
  }

  /**
   * Rounds: the longest chain of queries that each needed the one before to name their
   * target — the lookup's depth, which Kademlia bounds by about log2(N/k) (with α in
   * parallel, the latency is rounds × one round trip).
   */
  get rounds(): number {
    let max = 0;
    for (const list of [this.candidates, this.#unknown]) {
      for (const c of list) if (c.state === 'responded' && (c.round ?? 1) > max) max = c.round ?? 1;
    }
    return max;
  }

  addAddress(address: string, port: number, family: Family): void {
    const key = `${address}|${port}`;
    if (this.#seenAddresses.has(key)) return;
    this.#seenAddresses.add(key);
    this.#unknown.push({
      id: undefined,
      address,
      port,
      family,
      state: 'new',
      token: undefined,
      round: 1,
    });
  }

  /**
   * Adds nodes (from the routing table, or from the answer of `from`); duplicates and
   * ourselves ignored.
   */
  add(nodes: readonly NodeInfo[], from?: Candidate): void {
    const round = (from?.round ?? 0) + 1;
    const max = this.options.maxCandidates;
    for (const n of nodes) {
      if (!this.#seen.add(n.id)) continue;
      const c: Candidate = {
        id: n.id,
        address: n.address,
        port: n.port,
        family: n.family,
        state: 'new',
        token: undefined,
        round,
      };
      // Insertion into the sorted list (short lists: linear from the end is cheap).
      const list = this.candidates;
      let i = list.length;
      while (i > 0 && compareDistance(this.target, n.id, list[i - 1]!.id!) < 0) i--;
      if (i >= max) continue;
      list.splice(i, 0, c);
      if (list.length > max) {
        const dropped = list.pop()!;
        if (dropped.state === 'inflight') {
          // Keep in-flight ones accounted: put it back (rare: only when max is tiny).
          list.push(dropped);
        }
      }
    }
  }

  /** Candidates to query now; they are marked in flight. */
  next(): Candidate[] {
    const out: Candidate[] = [];
    const { alpha, k, maxQueries } = this.options;
    while (this.#inflight < alpha && this.#queries < maxQueries) {
      let pick: Candidate | undefined = this.#unknown.find((c) => c.state === 'new');
      if (pick === undefined) {
        // The closest unqueried among the k closest live candidates.
        let live = 0;
        for (const c of this.candidates) {
          if (c.state === 'failed') continue;
          if (live++ >= k) break;
          if (c.state === 'new') {
            pick = c;
            break;
          }
        }
      }
      if (pick === undefined) break;
      pick.state = 'inflight';
      this.#inflight++;
      this.#queries++;
      out.push(pick);
    }
    return out;
  }

  /** The candidate answered (with its id, which fills in a bootstrap candidate's). */
  responded(c: Candidate, id: NodeId, token: Uint8Array | undefined): void {
    if (c.state !== 'inflight') return;
    this.#inflight--;
    c.state = 'responded';
    c.token = token;
    if (c.id === undefined) {
      c.id = id;
      const list = this.candidates;
      if (this.#seen.add(id)) {
        let i = list.length;
        while (i > 0 && compareDistance(this.target, id, list[i - 1]!.id!) < 0) i--;
        list.splice(i, 0, c);
      } else {
        // A bootstrap node we also knew by id (from the routing table): it has answered
        // now, so it takes the place of its not yet asked twin instead of being asked twice.
        const at = list.findIndex((x) => x.state === 'new' && idEquals(x.id!, id));
        if (at >= 0) list[at] = c;
      }
    } else if (!idEquals(c.id, id)) {
      // Answered with another id than the one we were told: do not trust it as the closest.
      c.state = 'failed';
    }
  }

  /**
   * The query timed out. A known-id candidate is asked once more (a lost datagram is not a
   * dead node — BEP 5 tries a node twice before calling it bad); then it has failed.
   */
  failed(c: Candidate): void {
    if (c.state !== 'inflight') return;
    this.#inflight--;
    if ((c.retries ?? 0) < this.options.retries) {
      c.retries = (c.retries ?? 0) + 1;
      c.state = 'new';
      return;
    }
    c.state = 'failed';
  }

  /**
   * Finished: nothing in flight, and either the k closest live candidates all answered,
   * or nothing is left to ask (no candidate, or the query budget is spent).
   */
  get finished(): boolean {
    if (this.#inflight > 0) return false;
    if (this.#unknown.some((c) => c.state === 'new'))
      return this.#queries >= this.options.maxQueries;
    if (this.#queries >= this.options.maxQueries) return true;
    let live = 0;
    for (const c of this.candidates) {
      if (c.state === 'failed') continue;
      if (c.state === 'new') return false;
      if (++live >= this.options.k) break;
    }
    return true;
  }

  /** The `n` closest candidates that answered, closest first. */
  closestResponded(n: number): Candidate[] {
    const out: Candidate[] = [];
    for (const c of this.candidates) {
      if (c.state === 'responded') out.push(c);
      if (out.length >= n) break;
    }
    return out;
  }
}

/**
 * A set of ids, keyed by their last 32 bits (no string per id); ids sharing those are told
 * apart byte by byte.
 */
class IdSet {
  readonly #map = new Map<number, NodeId | NodeId[]>();

  /** Adds `id` (kept by reference); false when it was there already. */
  add(id: NodeId): boolean {
    const tail = idTail32(id);
    const had = this.#map.get(tail);
    if (had === undefined) {
      this.#map.set(tail, id);
      return true;
    }
    if (Array.isArray(had)) {
      for (const x of had) if (idEquals(x, id)) return false;
      had.push(id);
      return true;
    }
    if (idEquals(had, id)) return false;
    this.#map.set(tail, [had, id]);
    return true;
  }
}
