/**
 * The HPACK dynamic table (RFC 7541 §2.3.2, §4): a FIFO of fields, newest first, whose
 * size is the sum of name octets + value octets + 32 per entry (§4.1). Adding an entry
 * first evicts from the oldest end until it fits (§4.4); an entry larger than the whole
 * table empties it and is not added. Lowering the maximum size evicts likewise (§4.3).
 *
 * Both sides keep the entries in a ring buffer (power-of-two capacity, grown on demand, so
 * a large SETTINGS_HEADER_TABLE_SIZE costs nothing until entries arrive). The encoder's
 * table also keeps name → value → insertion-number maps so that finding an entry is O(1).
 */

/** §4.1: the size of an entry. Strings are latin1, one octet per code unit. */
export function entrySize(name: string, value: string): number {
  return name.length + value.length + 32;
}

const INITIAL_CAPACITY = 16;

/** The decoder's dynamic table: entries addressed by position, 0 = newest. */
export class DecoderTable {
  #names: string[] = new Array<string>(INITIAL_CAPACITY).fill('');
  #values: string[] = new Array<string>(INITIAL_CAPACITY).fill('');
  #mask = INITIAL_CAPACITY - 1;
  /** Slot the next entry goes to. */
  #head = 0;
  length = 0;
  /** §4.1 size in octets. */
  size = 0;
  /** Current maximum size, as last set by a dynamic table size update (§6.3). */
  maxSize: number;

  constructor(maxSize: number) {
    this.maxSize = maxSize;
  }

  /** Name of the entry `i` positions from the newest; the caller checks `i < length`. */
  name(i: number): string {
    return this.#names[(this.#head - 1 - i) & this.#mask]!;
  }

  value(i: number): string {
    return this.#values[(this.#head - 1 - i) & this.#mask]!;
  }

  /** §4.4: evict until the entry fits, then insert it (or empty the table if it can't fit). */
  add(name: string, value: string): void {
    const size = name.length + value.length + 32;
    if (size > this.maxSize) {
      this.#evictTo(0);
      return;
    }
    this.#evictTo(this.maxSize - size);
    if (this.length > this.#mask) this.#grow();
    const slot = this.#head;
    this.#names[slot] = name;
    this.#values[slot] = value;
    this.#head = (slot + 1) & this.#mask;
    this.length++;
    this.size += size;
  }

  /** §4.3: a new maximum size; evicts as needed. */
  setMaxSize(maxSize: number): void {
    this.maxSize = maxSize;
    this.#evictTo(maxSize);
  }

  #evictTo(target: number): void {
    while (this.size > target) {
      const slot = (this.#head - this.length) & this.#mask;
      this.size -= this.#names[slot]!.length + this.#values[slot]!.length + 32;
      this.#names[slot] = '';
      this.#values[slot] = '';
      this.length--;
    }
  }

  #grow(): void {
    const cap = this.#mask + 1;
    const names = new Array<string>(cap * 2).fill('');
    const values = new Array<string>(cap * 2).fill('');
    for (let i = 0; i < this.length; i++) {
      const slot = (this.#head - this.length + i) & this.#mask;
      names[i] = this.#names[slot]!;
      values[i] = this.#values[slot]!;
    }
    this.#names = names;
    this.#values = values;
    this.#head = this.length;
    this.#mask = cap * 2 - 1;
  }
}

/**
 * Encoder-side record of one field name: its static entries and its live dynamic entries.
 * One Map lookup by name per field finds everything the encoder needs; value matches then
 * cost a string comparison (the newest entry) or, for names with several live values, one
 * more Map lookup.
 */
export interface NameRecord {
  readonly name: string;
  /** Lowest static index with this name, or 0. */
  readonly staticIndex: number;
  /** Value of the entry at `staticIndex`. */
  readonly staticValue: string;
  /** value → index, for names with several static entries (`:method`, `:status`, …). */
  readonly staticValues: ReadonlyMap<string, number> | undefined;
  /** Live dynamic entries with this name. */
  dynCount: number;
  /** Insertion number and value of the newest of them. */
  latestSeq: number;
  latestValue: string;
  /** value → insertion number of the newest entry with it; made at the second entry. */
  values: Map<string, number> | undefined;
}

function newRecord(
  name: string,
  staticIndex: number,
  staticValue: string,
  staticValues: ReadonlyMap<string, number> | undefined,
): NameRecord {
  return {
    name,
    staticIndex,
    staticValue,
    staticValues,
    dynCount: 0,
    latestSeq: 0,
    latestValue: '',
    values: undefined,
  };
}

/**
 * The encoder's dynamic table. Every entry gets an insertion number (1, 2, …); the entry
 * inserted as number `n` has dynamic index `inserted − n` (0 = newest) while it remains.
 * The ring holds each entry's NameRecord, so eviction needs no lookup.
 */
export class EncoderTable {
  #records: (NameRecord | undefined)[] = new Array<NameRecord | undefined>(INITIAL_CAPACITY).fill(
    undefined,
  );
  #values: string[] = new Array<string>(INITIAL_CAPACITY).fill('');
  #mask = INITIAL_CAPACITY - 1;
  #head = 0;
  readonly #byName = new Map<string, NameRecord>();
  /** Entries ever inserted; the newest entry's insertion number. */
  inserted = 0;
  length = 0;
  size = 0;
  maxSize: number;

  /**
   * @param statics the static table by name: lowest index and value → index (Appendix A)
   * @param staticValues value by static index
   */
  constructor(
    maxSize: number,
    statics: ReadonlyMap<
      string,
      { readonly index: number; readonly values: ReadonlyMap<string, number> }
    >,
    staticValues: readonly string[],
  ) {
    this.maxSize = maxSize;
    for (const [name, entry] of statics) {
      const several = entry.values.size > 1 ? entry.values : undefined;
      this.#byName.set(name, newRecord(name, entry.index, staticValues[entry.index]!, several));
    }
  }

  /** The record of `name`: static entries, live dynamic entries; undefined if neither. */
  lookup(name: string): NameRecord | undefined {
    return this.#byName.get(name);
  }

  /** Insertion number of a live entry `record.name: value`, or 0. */
  find(record: NameRecord, value: string): number {
    if (record.dynCount === 0) return 0;
    if (value === record.latestValue) return record.latestSeq;
    const values = record.values;
    if (values === undefined) return 0;
    return values.get(value) ?? 0;
  }

  /**
   * §4.4: evict until the entry fits, then insert it (or empty the table if it can't fit).
   * `record` is `lookup(name)` if the caller has it.
   */
  add(name: string, value: string, record: NameRecord | undefined): void {
    const size = name.length + value.length + 32;
    if (size > this.maxSize) {
      this.#evictTo(0);
      return;
    }
    this.#evictTo(this.maxSize - size);
    // Eviction may have dropped the record (its last entry, no static entry): look again.
    if (record === undefined || (record.dynCount === 0 && record.staticIndex === 0)) {
      record = this.#byName.get(name);
      if (record === undefined) {
        record = newRecord(name, 0, '', undefined);
        this.#byName.set(name, record);
      }
    }
    if (this.length > this.#mask) this.#grow();
    const slot = this.#head;
    this.#records[slot] = record;
    this.#values[slot] = value;
    this.#head = (slot + 1) & this.#mask;
    this.length++;
    this.size += size;
    const seq = ++this.inserted;
    if (record.dynCount++ > 0) {
      let values = record.values;
      if (values === undefined) {
        values = record.values = new Map<string, number>();
        values.set(record.latestValue, record.latestSeq);
      }
      values.set(value, seq);
    }
    record.latestSeq = seq;
    record.latestValue = value;
  }

  setMaxSize(maxSize: number): void {
    this.maxSize = maxSize;
    this.#evictTo(maxSize);
  }

  #evictTo(target: number): void {
    while (this.size > target) {
      const slot = (this.#head - this.length) & this.#mask;
      const record = this.#records[slot]!;
      const value = this.#values[slot]!;
      const seq = this.inserted - this.length + 1;
      this.size -= record.name.length + value.length + 32;
      this.#records[slot] = undefined;
      this.#values[slot] = '';
      this.length--;
      // Entries leave oldest first: the newest entry with a name is the last to go.
      if (--record.dynCount === 0) {
        record.values = undefined;
        record.latestSeq = 0;
        record.latestValue = '';
        if (record.staticIndex === 0) this.#byName.delete(record.name);
      } else if (record.values !== undefined && record.values.get(value) === seq) {
        record.values.delete(value);
      }
    }
  }

  #grow(): void {
    const cap = this.#mask + 1;
    const records = new Array<NameRecord | undefined>(cap * 2).fill(undefined);
    const values = new Array<string>(cap * 2).fill('');
    for (let i = 0; i < this.length; i++) {
      const slot = (this.#head - this.length + i) & this.#mask;
      records[i] = this.#records[slot];
      values[i] = this.#values[slot]!;
    }
    this.#records = records;
    this.#values = values;
    this.#head = this.length;
    this.#mask = cap * 2 - 1;
  }
}
