/**
 * The QPACK dynamic table (RFC 9204 §3.2): a FIFO of entries addressed by absolute index
 * (§3.2.4: 0 for the first entry ever inserted, one more for each insert), each sized as
 * name + value + 32 octets (§3.2.1). The decoder mirrors the peer encoder's table and the
 * encoder keeps its own copy; eviction policy is theirs (§3.2.2), this is only storage.
 */

/** Octets an entry costs on top of its name and value (§3.2.1). */
export const ENTRY_OVERHEAD = 32;

export function entrySize(name: string, value: string): number {
  return name.length + value.length + ENTRY_OVERHEAD;
}

export class DynamicTable {
  /** Live entries, oldest (absolute index `#dropped`) at array index `#head`. */
  #names: string[] = [];
  #values: string[] = [];
  #head = 0;
  #dropped = 0;
  #size = 0;
  /** The current capacity (§3.2.3), set by Set Dynamic Table Capacity (§4.3.1). */
  capacity = 0;

  /** Entries ever inserted: the absolute index the next insert gets (§3.2.4). */
  get insertCount(): number {
    return this.#dropped + this.#names.length - this.#head;
  }

  /** Absolute index of the oldest live entry (equal to insertCount when empty). */
  get firstIndex(): number {
    return this.#dropped;
  }

  /** Sum of the entries' sizes (§3.2.1). */
  get size(): number {
    return this.#size;
  }

  get length(): number {
    return this.#names.length - this.#head;
  }

  /** Whether absolute index `abs` is a live entry. */
  has(abs: number): boolean {
    return abs >= this.#dropped && abs < this.insertCount;
  }

  /** The name at a live absolute index (the caller has checked `has`). */
  name(abs: number): string {
    return this.#names[this.#head + abs - this.#dropped]!;
  }

  /** The value at a live absolute index (the caller has checked `has`). */
  value(abs: number): string {
    return this.#values[this.#head + abs - this.#dropped]!;
  }

  /** Size of the live entry at `abs`. */
  entrySize(abs: number): number {
    return entrySize(this.name(abs), this.value(abs));
  }

  /** Drops the oldest entry (the table must not be empty). */
  evictOldest(): void {
    this.#size -= this.entrySize(this.#dropped);
    this.#head++;
    this.#dropped++;
    // Compact now and then so the arrays don't grow with every insert ever made.
    if (this.#head >= 64 && this.#head * 2 >= this.#names.length) {
      this.#names = this.#names.slice(this.#head);
      this.#values = this.#values.slice(this.#head);
      this.#head = 0;
    }
  }

  /** Appends an entry; the caller has made room (size + entry ≤ capacity). */
  push(name: string, value: string): void {
    this.#names.push(name);
    this.#values.push(value);
    this.#size += entrySize(name, value);
  }
}
