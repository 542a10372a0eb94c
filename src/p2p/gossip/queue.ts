/**
 * The piggyback broadcast queue (memberlist `TransmitLimitedQueue`): every message is sent
 * at most `retransmitMult × ceil(log10(N + 1))` times, least-sent first and, within the
 * same count, newest first; a packet takes as many as fit. A broadcast about a member
 * invalidates the queued ones about the same member (memberlist `Invalidates`), so only
 * the newest news about anyone travels. The queue is bounded: past `maxQueued` the oldest,
 * most-sent entries are dropped (memberlist prunes the same way).
 */

/** memberlist's `retransmitLimit`. */
/** Entries too big for the space left that `take` looks past before it gives up. */
const MAX_SKIPPED = 8;

export function retransmitLimit(mult: number, n: number): number {
  return mult * Math.ceil(Math.log10(n + 1));
}

export interface Broadcast {
  readonly msg: Uint8Array;
  /** Broadcasts with the same key replace each other (a member's name); undefined: never. */
  readonly key: string | undefined;
  /** Called once when the broadcast is done: sent `limit` times, or replaced or dropped. */
  readonly finished: ((sent: boolean) => void) | undefined;
}

interface Entry extends Broadcast {
  transmits: number;
  live: boolean;
  /** Queueing order: tiers are kept sorted by it, oldest first. */
  id: number;
}

/** Merges two tiers sorted oldest first (`a` is reused when `b` is all newer). */
function mergeByAge(a: Entry[], b: Entry[]): Entry[] {
  if (a.length === 0 || a[a.length - 1]!.id < b[0]!.id) {
    for (const e of b) a.push(e);
    return a;
  }
  const out: Entry[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) out.push(a[i]!.id < b[j]!.id ? a[i++]! : b[j++]!);
  while (i < a.length) out.push(a[i++]!);
  while (j < b.length) out.push(b[j++]!);
  return out;
}

export class BroadcastQueue {
  /** tiers[t] holds live and dead entries sent t times; the newest at the end. */
  readonly #tiers: Entry[][] = [];
  readonly #byKey = new Map<string, Entry>();
  #live = 0;
  #nextId = 0;
  readonly #maxQueued: number;

  constructor(maxQueued = 4096) {
    this.#maxQueued = maxQueued;
  }

  /** Live entries queued. */
  get length(): number {
    return this.#live;
  }

  queue(b: Broadcast): void {
    if (b.key !== undefined) {
      const old = this.#byKey.get(b.key);
      if (old !== undefined) this.#kill(old, false);
    }
    const e: Entry = { ...b, transmits: 0, live: true, id: this.#nextId++ };
    (this.#tiers[0] ??= []).push(e);
    if (b.key !== undefined) this.#byKey.set(b.key, e);
    this.#live++;
    if (this.#live > this.#maxQueued) this.#prune();
  }

  #kill(e: Entry, sent: boolean): void {
    if (!e.live) return;
    e.live = false;
    this.#live--;
    if (e.key !== undefined && this.#byKey.get(e.key) === e) this.#byKey.delete(e.key);
    e.finished?.(sent);
  }

  #prune(): void {
    for (let t = this.#tiers.length - 1; t >= 0 && this.#live > this.#maxQueued; t--) {
      const tier = this.#tiers[t];
      if (tier === undefined) continue;
      for (let i = 0; i < tier.length && this.#live > this.#maxQueued; i++) {
        this.#kill(tier[i]!, false);
      }
      this.#tiers[t] = tier.filter((e) => e.live);
    }
  }

  /**
   * Takes broadcasts totalling at most `limit` bytes, counting `overhead` per message, for
   * a cluster of `n` members, and at most `maxCount` of them (a compound message holds 255
   * parts). What is not taken stays queued with its transmit count unchanged.
   */
  take(
    overhead: number,
    limit: number,
    n: number,
    mult: number,
    maxCount = Infinity,
  ): Uint8Array[] {
    if (this.#live === 0 || maxCount <= 0) return [];
    const max = retransmitLimit(mult, n);
    const out: Uint8Array[] = [];
    const moved: Entry[] = [];
    let used = 0;
    for (
      let t = 0;
      t < this.#tiers.length && limit - used - overhead > 0 && out.length < maxCount;
      t++
    ) {
      const tier = this.#tiers[t];
      if (tier === undefined || tier.length === 0) continue;
      // Walk from the newest end; cut the walked part off and put back what did not fit.
      const skipped: Entry[] = [];
      let i = tier.length - 1;
      for (; i >= 0; i--) {
        const free = limit - used - overhead;
        if (free <= 0 || out.length >= maxCount) break;
        const e = tier[i]!;
        if (!e.live) continue;
        if (e.msg.length > free) {
          // A nearly full packet: a few more tries for a smaller message, not a walk of
          // the whole tier (memberlist finds the largest fit in a btree; this is cheaper).
          skipped.push(e);
          if (skipped.length >= MAX_SKIPPED) {
            i--; // this entry was walked (it is in `skipped`)
            break;
          }
          continue;
        }
        used += overhead + e.msg.length;
        out.push(e.msg);
        e.transmits++;
        if (e.transmits >= max) this.#kill(e, true);
        else moved.push(e);
      }
      tier.length = i + 1; // entries 0..i were not walked
      for (let j = skipped.length - 1; j >= 0; j--) tier.push(skipped[j]!);
    }
    // Re-tier after the walk so a message is not taken twice in one call, merging by age so
    // each tier stays oldest first and "newest first" holds across takes.
    moved.sort((x, y) => x.transmits - y.transmits || x.id - y.id);
    for (let i = 0; i < moved.length;) {
      const t = moved[i]!.transmits;
      let j = i;
      while (j < moved.length && moved[j]!.transmits === t) j++;
      this.#tiers[t] = mergeByAge(this.#tiers[t] ?? [], moved.slice(i, j));
      i = j;
    }
    if (this.#countEntries() > 2 * this.#live + 256) this.#compact();
    return out;
  }

  #countEntries(): number {
    let n = 0;
    for (const tier of this.#tiers) if (tier !== undefined) n += tier.length;
    return n;
  }

  #compact(): void {
    for (let t = 0; t < this.#tiers.length; t++) {
      const tier = this.#tiers[t];
      if (tier !== undefined) this.#tiers[t] = tier.filter((e) => e.live);
    }
  }

  /** Drops everything (e.g. on shutdown), calling `finished(false)`. */
  reset(): void {
    for (const tier of this.#tiers) for (const e of tier) this.#kill(e, false);
    this.#tiers.length = 0;
  }
}
