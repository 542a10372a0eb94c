/**
 * The QPACK dynamic table (RFC 9204 §3.2): a FIFO of entries addressed by absolute index
 * (0 for the first entry ever inserted), sized as name + value + 32 octets (§3.2.1).
 */

export const ENTRY_OVERHEAD = 32;

export function entrySize(name: string, value: string): number {
  return name.length + value.length + ENTRY_OVERHEAD;
}

export class DynamicTable {
  /** Entries from the oldest live one (absolute index `#dropped`) to the newest. */
  #names: string[] = [];
  #values: string[] = [];
  #head = 0;
  #dropped = 0;
  #size = 0;
  capacity = 0;

  /** Entries ever inserted (the next absolute index). */
  get insertCount(): number {
    return this.#dropped + (this.#names.length - this.#head);
  }

  /** Absolute index of the oldest entry still in the table. */
  get firstIndex(): number {
    return this.#dropped;
  }

  get size(): number {
    return this.#size;
  }

  get length(): number {
    return this.#names.length - this.#head;
  }

  has(abs: number): boolean {
    return abs >= this.#dropped && abs < this.insertCount;
  }

  name(abs: number): string {
    return this.#names[this.#head + abs - this.#dropped]!;
  }

  value(abs: number): string {
    return this.#values[this.#head + abs - this.#dropped]!;
  }

  /** Size of the oldest entry. */
  oldestSize(): number {
    return entrySize(this.#names[this.#head]!, this.#values[this.#head]!);
  }

  evictOldest(): void {
    this.#size -= this.oldestSize();
    this.#head++;
    this.#dropped++;
    if (this.#head > 1024 && this.#head * 2 > this.#names.length) {
      this.#names = this.#names.slice(this.#head);
      this.#values = this.#values.slice(this.#head);
      this.#head = 0;
    }
  }

  /** Appends; the caller has made room. */
  push(name: string, value: string): void {
    this.#names.push(name);
    this.#values.push(value);
    this.#size += entrySize(name, value);
  }
}
