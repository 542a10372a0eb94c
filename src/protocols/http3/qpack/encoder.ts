/**
 * QPACK encoder (RFC 9204 §2.1, §4.3, §4.5).
 *
 * Strategy: static-table matches first; otherwise a field worth remembering is inserted
 * into the dynamic table (on the encoder stream) and sent as a literal this time, and is
 * referenced by later sections once the decoder has acknowledged the insert. A section
 * therefore never references an entry the decoder may not have, so no stream is ever
 * blocked (§2.1.2 allows it; we choose not to), and the peer's blocked-streams limit is
 * respected trivially.
 *
 * Eviction safety (§2.1.1): an entry is evicted only when no unacknowledged section
 * references it; when no room can be made, the field goes as a literal.
 * Sensitive fields (authorization, cookies) are never inserted and carry the N bit (§7.1.3).
 */
import { DynamicTable, entrySize } from './dynamic-table.js';
import { QpackError, QpackErrorCode } from './errors.js';
import { Truncated, Writer, readInt } from './primitives.js';
import type { Cursor } from './primitives.js';
import { STATIC_EXACT, STATIC_NAME } from './static-table.js';
import type { FieldLine } from './decoder.js';

export interface QpackEncoderOptions {
  /** Huffman-code strings when shorter ('auto'), always, or never. @default 'auto' */
  huffman?: 'auto' | 'always' | 'never';
  /** Our own cap on the dynamic table we use. @default 4096 */
  maxTableCapacity?: number;
}

const SENSITIVE = new Set(['authorization', 'proxy-authorization', 'cookie', 'set-cookie']);
/** Fields whose values change too often to be worth a table entry. */
const NOT_INDEXED = new Set([
  ':path',
  'content-length',
  'date',
  'etag',
  'last-modified',
  'if-none-match',
  'x-request-id',
]);
const DSE = QpackErrorCode.QPACK_DECODER_STREAM_ERROR;

export class QpackEncoder {
  readonly #huffman: 'auto' | 'always' | 'never';
  readonly #ownMax: number;
  readonly #table = new DynamicTable();
  readonly #ins = new Writer();
  /** `name\0value` → absolute index of the newest copy, and name → index. */
  readonly #exact = new Map<string, number>();
  readonly #names = new Map<string, number>();
  /** Unacknowledged sections per stream, oldest first: their RIC and lowest reference. */
  readonly #sections = new Map<number, { ric: number; minRef: number }[]>();
  #known = 0;
  #maxEntries = 0;
  #pending: Uint8Array = new Uint8Array(0);

  constructor(options: QpackEncoderOptions = {}) {
    this.#huffman = options.huffman ?? 'auto';
    this.#ownMax = options.maxTableCapacity ?? 4096;
  }

  get tableSize(): number {
    return this.#table.size;
  }

  get insertCount(): number {
    return this.#table.insertCount;
  }

  get knownReceivedCount(): number {
    return this.#known;
  }

  /** The peer's SETTINGS_QPACK_MAX_TABLE_CAPACITY and BLOCKED_STREAMS (§3.2.3, §5). */
  setPeerSettings(maxTableCapacity: number, _maxBlockedStreams: number): void {
    if (this.#maxEntries !== 0) return; // SETTINGS arrive once
    this.#maxEntries = Math.floor(maxTableCapacity / 32);
    const cap = Math.min(maxTableCapacity, this.#ownMax);
    if (cap > 0) {
      this.#table.capacity = cap;
      this.#ins.int(cap, 5, 0x20); // Set Dynamic Table Capacity (§4.3.1)
    }
  }

  takeEncoderStreamBytes(): Uint8Array | undefined {
    return this.#ins.pos === 0 ? undefined : this.#ins.take();
  }

  encode(streamId: number, fields: readonly FieldLine[]): Uint8Array {
    const w = new Writer();
    const t = this.#table;
    // Only acknowledged entries are referenced, so Base = RIC and every reference is a
    // relative (pre-base) index.
    let maxRef = -1;
    let minRef = Infinity;
    const lines: (() => void)[] = [];
    let base = 0;
    for (const [name, value] of fields) {
      const key = `${name}\0${value}`;
      const s = STATIC_EXACT.get(key);
      if (s !== undefined) {
        lines.push(() => w.int(s, 6, 0xc0));
        continue;
      }
      const d = this.#exact.get(key);
      if (d !== undefined && d < this.#known && t.has(d)) {
        maxRef = Math.max(maxRef, d);
        minRef = Math.min(minRef, d);
        lines.push(() => w.int(base - 1 - d, 6, 0x80));
        continue;
      }
      const sensitive = SENSITIVE.has(name);
      const n = sensitive ? 0x20 : 0;
      if (!sensitive && !NOT_INDEXED.has(name)) this.#maybeInsert(name, value);
      const sn = STATIC_NAME.get(name);
      if (sn !== undefined) {
        lines.push(() => {
          w.int(sn, 4, 0x50 | n);
          w.string(value, 7, 0, this.#huffman);
        });
        continue;
      }
      const dn = this.#names.get(name);
      if (dn !== undefined && dn < this.#known && t.has(dn)) {
        maxRef = Math.max(maxRef, dn);
        minRef = Math.min(minRef, dn);
        lines.push(() => {
          w.int(base - 1 - dn, 4, 0x40 | n);
          w.string(value, 7, 0, this.#huffman);
        });
        continue;
      }
      lines.push(() => {
        w.string(name, 3, 0x20 | (n >> 1), this.#huffman);
        w.string(value, 7, 0, this.#huffman);
      });
    }
    const ric = maxRef + 1;
    base = ric;
    // Prefix (§4.5.1): encoded Required Insert Count, then sign 0 and Delta Base 0.
    w.int(ric === 0 ? 0 : (ric % (2 * this.#maxEntries)) + 1, 8, 0);
    w.int(0, 7, 0);
    for (const line of lines) line();
    if (ric > 0) {
      const list = this.#sections.get(streamId) ?? [];
      list.push({ ric, minRef });
      this.#sections.set(streamId, list);
    }
    return w.take();
  }

  #maybeInsert(name: string, value: string): void {
    const t = this.#table;
    if (t.capacity === 0) return;
    const key = `${name}\0${value}`;
    const existing = this.#exact.get(key);
    if (existing !== undefined && t.has(existing)) return; // already there (maybe unacked)
    const size = entrySize(name, value);
    if (size > t.capacity / 4) return; // a big value would flush the table
    // Make room only by evicting entries no outstanding section references (§2.1.1).
    const pinned = this.#lowestPinned();
    let free = t.capacity - t.size;
    let evict = 0;
    for (let abs = t.firstIndex; free < size; abs++) {
      if (abs >= pinned || abs >= t.insertCount) return;
      free += entrySize(t.name(abs), t.value(abs));
      evict++;
    }
    for (let i = 0; i < evict; i++) {
      const abs = t.firstIndex;
      const k = `${t.name(abs)}\0${t.value(abs)}`;
      if (this.#exact.get(k) === abs) this.#exact.delete(k);
      if (this.#names.get(t.name(abs)) === abs) this.#names.delete(t.name(abs));
      t.evictOldest();
    }
    const abs = t.insertCount;
    const sn = STATIC_NAME.get(name);
    if (sn !== undefined) {
      this.#ins.int(sn, 6, 0xc0); // Insert with Name Reference, static (§4.3.2)
    } else {
      this.#ins.string(name, 5, 0x40, this.#huffman); // Insert with Literal Name (§4.3.3)
    }
    this.#ins.string(value, 7, 0, this.#huffman);
    t.push(name, value);
    this.#exact.set(key, abs);
    this.#names.set(name, abs);
  }

  /** The lowest absolute index an unacknowledged section references (Infinity if none). */
  #lowestPinned(): number {
    let min = Infinity;
    for (const list of this.#sections.values())
      for (const s of list) if (s.minRef < min) min = s.minRef;
    return min;
  }

  /** Decoder-stream bytes (split anywhere): acknowledgments, cancellations, increments. */
  onDecoderStream(chunk: Uint8Array): void {
    let buf = chunk;
    if (this.#pending.length > 0) {
      buf = new Uint8Array(this.#pending.length + chunk.length);
      buf.set(this.#pending);
      buf.set(chunk, this.#pending.length);
    }
    const cur: Cursor = { pos: 0 };
    let done = 0;
    try {
      while (cur.pos < buf.length) {
        const b = buf[cur.pos]!;
        if ((b & 0x80) !== 0) {
          // Section Acknowledgment (§4.4.1)
          const id = readInt(buf, buf.length, cur, 7, DSE);
          const list = this.#sections.get(id);
          const s = list?.shift();
          if (s === undefined)
            throw new QpackError(
              DSE,
              `acknowledgment for stream ${id} with no outstanding section`,
            );
          if (list!.length === 0) this.#sections.delete(id);
          if (s.ric > this.#known) this.#known = s.ric;
        } else if ((b & 0x40) !== 0) {
          // Stream Cancellation (§4.4.2)
          this.#sections.delete(readInt(buf, buf.length, cur, 6, DSE));
        } else {
          // Insert Count Increment (§4.4.3): 0 or past the inserts sent is an error.
          const inc = readInt(buf, buf.length, cur, 6, DSE);
          if (inc === 0 || this.#known + inc > this.#table.insertCount) {
            throw new QpackError(DSE, `invalid Insert Count Increment ${inc}`);
          }
          this.#known += inc;
        }
        done = cur.pos;
      }
    } catch (err) {
      if (!(err instanceof Truncated)) throw err;
    }
    this.#pending = buf.slice(done);
    if (this.#pending.length > 16) throw new QpackError(DSE, 'decoder instruction too long');
  }
}
