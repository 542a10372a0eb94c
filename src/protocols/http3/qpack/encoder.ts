/**
 * QPACK encoder (RFC 9204 §2.1, §4.3, §4.5).
 *
 * One encoder per connection. Until the peer's SETTINGS arrive (`setPeerSettings`) it uses
 * only the static table and literals (§3.2.3: the maximum capacity is 0 until then).
 *
 * Per field:
 *  1. name + value in the static table → Indexed Field Line (§4.5.2).
 *  2. Sensitive fields (`authorization`, `proxy-authorization`, `cookie` values shorter than
 *     20 octets: guessable through a compression oracle, §7.1) → a literal with the N bit
 *     set (§4.5.4, §4.5.6), never inserted, never taken from the table (§7.1.3).
 *  3. name + value in the dynamic table, usable (see below) → Indexed Field Line.
 *  4. Otherwise, when worth it, the field is inserted (§4.3.2 with a static or dynamic name
 *     reference, else §4.3.3) and referenced if usable. Not worth it: fields that name one
 *     message or resource (`content-length`, `etag`, `if-*`, `location`, `age`,
 *     `set-cookie`, a `:path` with a query or seen for the first time — the HPACK
 *     encoder's policy), and entries over half the table.
 *  5. Otherwise a literal, with a static name reference, else a usable dynamic one, else a
 *     literal name.
 *
 * Usable: an entry the decoder has acknowledged (below the Known Received Count, §2.1.4),
 * or any entry when this section may block its stream — the stream may be blocked already,
 * or fewer streams than the peer's SETTINGS_QPACK_BLOCKED_STREAMS (and our own
 * `maxBlockedStreams`, 0 by default) may be (§2.1.2). Base is the
 * insert count once the section's inserts are made, so every reference is a relative index
 * below Base; post-base forms are never needed.
 *
 * Eviction (§2.1.1): an entry is evicted only when acknowledged and referenced by no
 * unacknowledged section (including the one being encoded); if room can't be made that
 * way, the field goes as a literal. Acknowledgment before eviction also keeps every
 * reference within MaxEntries of the decoder's insert count, which the Required Insert
 * Count encoding needs (§4.5.1.1).
 *
 * Draining (§2.1.1.1): once less than a quarter of the table is free, the oldest entries
 * that the next quarter's worth of inserts would evict are no longer referenced by new
 * sections — a field matching one is re-inserted with Duplicate (§4.3.4) instead — so
 * that they become evictable once the sections in flight are acknowledged. Without this, a
 * popular entry at the old end, referenced by every section, would keep a full table from
 * ever taking a new entry.
 */
import { InvalidOptionError } from '../../../errors.js';
import { DynamicTable, ENTRY_OVERHEAD, entrySize } from './dynamic-table.js';
import { QpackError, QpackErrorCode } from './errors.js';
import { MAX_INT_OCTETS, Truncated, Writer, readInt } from './primitives.js';
import type { Cursor, HuffmanPolicy } from './primitives.js';
import { STATIC_EXACT, STATIC_NAME, fieldKey } from './static-table.js';
import type { FieldLine } from './decoder.js';

export interface QpackEncoderOptions {
  /** Huffman-code strings when shorter ('auto'), always, or never. @default 'auto' */
  huffman?: HuffmanPolicy;
  /** Our own cap on the dynamic table we use, whatever the peer allows. @default 4096 */
  maxTableCapacity?: number;
  /**
   * Our own cap on the streams whose sections may wait at the decoder for inserts, on top
   * of the peer's SETTINGS_QPACK_BLOCKED_STREAMS (§2.1.2). With 0 a section references
   * only entries the decoder has acknowledged, so a new entry goes as a literal the first
   * time and no stream ever waits on the encoder stream. @default 0
   */
  maxBlockedStreams?: number;
}

const DSE = QpackErrorCode.QPACK_DECODER_STREAM_ERROR;

// Field policies (see above).
const INDEX = 0; // insert when it fits
const PLAIN = 1; // literal, not inserted: values that rarely repeat
const NEVER = 2; // literal with the N bit: sensitive
const COOKIE = 3; // NEVER below SHORT_COOKIE octets, else INDEX
const PATH = 4; // PLAIN with a query or the first time seen, else INDEX
const POLICIES: ReadonlyMap<string, number> = new Map([
  ['authorization', NEVER],
  ['proxy-authorization', NEVER],
  ['cookie', COOKIE],
  [':path', PATH],
  ['age', PLAIN],
  ['content-length', PLAIN],
  ['etag', PLAIN],
  ['if-modified-since', PLAIN],
  ['if-none-match', PLAIN],
  ['location', PLAIN],
  ['set-cookie', PLAIN],
]);
/** nghttp2's rule: `cookie` values shorter than this are sent never indexed. */
const SHORT_COOKIE = 20;
/** Most `:path` values remembered as seen once (then forgotten all at once). */
const MAX_SEEN_PATHS = 256;

// Field line kinds, written once the section's Base is known.
const STATIC = 0; // Indexed Field Line, static (§4.5.2)
const DYNAMIC = 1; // Indexed Field Line, dynamic (§4.5.2)
const STATIC_NAME_REF = 2; // Literal Field Line with static Name Reference (§4.5.4)
const DYNAMIC_NAME_REF = 3; // Literal Field Line with dynamic Name Reference (§4.5.4)
const LITERAL = 4; // Literal Field Line with Literal Name (§4.5.6)
/** [kind, static index or absolute index, name (LITERAL only), value, N bit]. */
type Line = [kind: number, index: number, name: string, value: string, never: boolean];

/** An encoded section with dynamic references, not yet acknowledged (§2.1.1). */
interface Section {
  ric: number;
  /** Lowest absolute index it references. */
  minRef: number;
}

export class QpackEncoder {
  readonly #huffman: HuffmanPolicy;
  readonly #ownMaxCapacity: number;
  readonly #ownMaxBlocked: number;
  readonly #table = new DynamicTable();
  /** Encoder-stream instructions not yet taken. */
  readonly #ins = new Writer();
  /** fieldKey(name, value) → absolute index of the newest entry with it. */
  readonly #exact = new Map<string, number>();
  /** name → absolute index of the newest entry with that name. */
  readonly #names = new Map<string, number>();
  /** Unacknowledged sections with dynamic references, per stream, oldest first. */
  readonly #sections = new Map<number, Section[]>();
  /** Known Received Count (§2.1.4). */
  #known = 0;
  #settings = false;
  /** §4.5.1.1: floor(peer's SETTINGS_QPACK_MAX_TABLE_CAPACITY / 32). */
  #maxEntries = 0;
  /** Peer's SETTINGS_QPACK_BLOCKED_STREAMS (§2.1.2), capped by our `maxBlockedStreams`. */
  #maxBlockedStreams = 0;
  #seenPaths = new Set<string>();
  /** A partial decoder instruction carried over from the last chunk. */
  #pending: Uint8Array = new Uint8Array(0);

  constructor(options: QpackEncoderOptions = {}) {
    const huffman = options.huffman ?? 'auto';
    if (huffman !== 'auto' && huffman !== 'always' && huffman !== 'never') {
      throw new InvalidOptionError(
        `huffman must be 'auto', 'always' or 'never', got ${String(huffman)}`,
      );
    }
    const cap = options.maxTableCapacity ?? 4096;
    if (!Number.isInteger(cap) || cap < 0 || cap > 2 ** 32) {
      throw new InvalidOptionError(
        `maxTableCapacity must be an integer from 0 to ${2 ** 32}, got ${options.maxTableCapacity}`,
      );
    }
    const blocked = options.maxBlockedStreams ?? 0;
    if (!Number.isInteger(blocked) || blocked < 0 || blocked > 2 ** 32) {
      throw new InvalidOptionError(
        `maxBlockedStreams must be an integer from 0 to ${2 ** 32}, got ${options.maxBlockedStreams}`,
      );
    }
    this.#huffman = huffman;
    this.#ownMaxCapacity = cap;
    this.#ownMaxBlocked = blocked;
  }

  /** Entries ever inserted (§3.2.4). */
  get insertCount(): number {
    return this.#table.insertCount;
  }

  /** Inserts the decoder is known to have received (§2.1.4). */
  get knownReceivedCount(): number {
    return this.#known;
  }

  /** Current dynamic table size in octets (§3.2.1). */
  get tableSize(): number {
    return this.#table.size;
  }

  /** The dynamic table capacity in use (§3.2.3). */
  get tableCapacity(): number {
    return this.#table.capacity;
  }

  /** Streams whose unacknowledged sections may be blocked at the decoder (§2.1.2). */
  get blockingStreams(): number {
    let n = 0;
    for (const list of this.#sections.values()) if (this.#isBlocking(list)) n++;
    return n;
  }

  /** Absolute index of the oldest entry still in our table. */
  get oldestEntry(): number {
    return this.#table.firstIndex;
  }

  /**
   * The peer's SETTINGS_QPACK_MAX_TABLE_CAPACITY and SETTINGS_QPACK_BLOCKED_STREAMS (§5);
   * later calls are ignored (SETTINGS come once). With a non-zero capacity (capped by our
   * own `maxTableCapacity`) it queues Set Dynamic Table Capacity (§4.3.1) and starts
   * inserting.
   */
  setPeerSettings(maxTableCapacity: number, maxBlockedStreams: number): void {
    if (this.#settings) return;
    for (const [name, v] of [
      ['maxTableCapacity', maxTableCapacity],
      ['maxBlockedStreams', maxBlockedStreams],
    ] as const) {
      if (!Number.isInteger(v) || v < 0) {
        throw new InvalidOptionError(`${name} must be a non-negative integer, got ${v}`);
      }
    }
    this.#settings = true;
    this.#maxEntries = Math.floor(maxTableCapacity / ENTRY_OVERHEAD);
    this.#maxBlockedStreams = Math.min(maxBlockedStreams, this.#ownMaxBlocked);
    const capacity = Math.min(maxTableCapacity, this.#ownMaxCapacity);
    if (capacity > 0) {
      this.#table.capacity = capacity;
      this.#ins.int(capacity, 5, 0x20); // Set Dynamic Table Capacity: 001 Capacity(5+)
    }
  }

  /** Bytes to write on our encoder stream (before the sections that need them), if any. */
  takeEncoderStreamBytes(): Uint8Array | undefined {
    return this.#ins.length === 0 ? undefined : this.#ins.take();
  }

  /**
   * Encodes a field section for `streamId`: returns the HEADERS payload, and may queue
   * inserts for `takeEncoderStreamBytes`. Names and values are latin1 (one octet per code
   * unit); the caller validates them.
   */
  encode(streamId: number, fields: readonly FieldLine[]): Uint8Array {
    const t = this.#table;
    const known = this.#known;
    const mayBlock = this.#mayBlock(streamId);
    const draining = this.#drainBoundary();
    let maxRef = -1;
    let minRef = Infinity;
    /** Whether a section may reference entry `abs` (in the table, not draining). */
    const usable = (abs: number): boolean => abs >= draining && (abs < known || mayBlock);
    const reference = (abs: number): void => {
      if (abs > maxRef) maxRef = abs;
      if (abs < minRef) minRef = abs;
    };
    const lines: Line[] = [];
    for (const [name, value] of fields) {
      const key = fieldKey(name, value);
      const s = STATIC_EXACT.get(key);
      if (s !== undefined) {
        lines.push([STATIC, s, '', '', false]);
        continue;
      }
      const policy = this.#policy(name, value);
      if (policy !== NEVER) {
        let abs = this.#exact.get(key);
        // Insert when missing; Duplicate when the entry is draining.
        if ((abs === undefined || abs < draining) && policy === INDEX) {
          abs = this.#insert(name, value, key, minRef);
        }
        if (abs !== undefined && usable(abs)) {
          reference(abs);
          lines.push([DYNAMIC, abs, '', '', false]);
          continue;
        }
      }
      const never = policy === NEVER;
      const sn = STATIC_NAME.get(name);
      if (sn !== undefined) {
        lines.push([STATIC_NAME_REF, sn, '', value, never]);
        continue;
      }
      const dn = this.#names.get(name);
      if (dn !== undefined && usable(dn)) {
        reference(dn);
        lines.push([DYNAMIC_NAME_REF, dn, '', value, never]);
        continue;
      }
      lines.push([LITERAL, 0, name, value, never]);
    }

    const w = new Writer();
    const h = this.#huffman;
    // Field section prefix (§4.5.1): Required Insert Count = largest reference + 1, encoded
    // modulo 2 × MaxEntries (§4.5.1.1); Base = insert count, so Sign 0 and Delta Base =
    // Base − Required Insert Count (§4.5.1.2).
    const ric = maxRef + 1;
    const base = t.insertCount;
    if (ric === 0) {
      w.int(0, 8, 0);
      w.int(0, 7, 0);
    } else {
      w.int((ric % (2 * this.#maxEntries)) + 1, 8, 0);
      w.int(base - ric, 7, 0);
    }
    for (const [kind, index, name, value, never] of lines) {
      switch (kind) {
        case STATIC: // 1 T=1 Index(6+)
          w.int(index, 6, 0xc0);
          break;
        case DYNAMIC: // 1 T=0 relative Index(6+)
          w.int(base - 1 - index, 6, 0x80);
          break;
        case STATIC_NAME_REF: // 01 N T=1 Index(4+), value
          w.int(index, 4, never ? 0x70 : 0x50);
          w.string(value, 7, 0, h);
          break;
        case DYNAMIC_NAME_REF: // 01 N T=0 relative Index(4+), value
          w.int(base - 1 - index, 4, never ? 0x60 : 0x40);
          w.string(value, 7, 0, h);
          break;
        default: // 001 N H NameLength(3+) name, value
          w.string(name, 3, never ? 0x30 : 0x20, h);
          w.string(value, 7, 0, h);
      }
    }
    if (ric > 0) {
      const list = this.#sections.get(streamId);
      if (list === undefined) this.#sections.set(streamId, [{ ric, minRef }]);
      else list.push({ ric, minRef });
    }
    return w.take();
  }

  #policy(name: string, value: string): number {
    switch (POLICIES.get(name)) {
      case undefined:
        return INDEX;
      case NEVER:
        return NEVER;
      case COOKIE:
        return value.length < SHORT_COOKIE ? NEVER : INDEX;
      case PATH:
        if (value.includes('?')) return PLAIN;
        if (this.#seenPaths.has(value)) return INDEX;
        if (this.#seenPaths.size >= MAX_SEEN_PATHS) this.#seenPaths.clear();
        this.#seenPaths.add(value);
        return PLAIN;
      default:
        return PLAIN;
    }
  }

  /** Whether a section on `streamId` may reference entries the decoder may not have (§2.1.2). */
  #mayBlock(streamId: number): boolean {
    if (this.#maxBlockedStreams === 0) return false;
    let blocking = 0;
    for (const [id, list] of this.#sections) {
      if (!this.#isBlocking(list)) continue;
      if (id === streamId) return true;
      blocking++;
    }
    return blocking < this.#maxBlockedStreams;
  }

  #isBlocking(list: readonly Section[]): boolean {
    for (const s of list) if (s.ric > this.#known) return true;
    return false;
  }

  /**
   * The absolute index below which entries are draining: the oldest entries that inserts
   * of a quarter of the capacity, on top of the free space, would evict.
   */
  #drainBoundary(): number {
    const t = this.#table;
    let budget = t.capacity / 4 - (t.capacity - t.size);
    let abs = t.firstIndex;
    while (budget > 0 && abs < t.insertCount) budget -= t.entrySize(abs++);
    return abs;
  }

  /**
   * Inserts name + value if it fits without evicting anything still needed (§2.1.1) —
   * with Duplicate (§4.3.4) when the table has it already; returns its absolute index, or
   * undefined. `sectionMinRef` is the lowest entry the section being encoded references
   * so far.
   */
  #insert(name: string, value: string, key: string, sectionMinRef: number): number | undefined {
    const t = this.#table;
    const size = entrySize(name, value);
    if (size * 2 > t.capacity) return undefined; // also when capacity is 0
    // Evictable: acknowledged, and older than every entry an unacknowledged section uses.
    let limit = Math.min(this.#known, sectionMinRef);
    for (const list of this.#sections.values()) {
      for (const s of list) if (s.minRef < limit) limit = s.minRef;
    }
    let free = t.capacity - t.size;
    let evictTo = t.firstIndex;
    while (free < size) {
      if (evictTo >= limit) return undefined;
      free += t.entrySize(evictTo++);
    }
    // References are resolved before evicting: the decoder reads the referenced entry
    // before it evicts to make room, so it may be one this insert evicts (§3.2.2).
    const dup = this.#exact.get(key);
    const sn = STATIC_NAME.get(name);
    const dn = sn === undefined ? this.#names.get(name) : undefined;
    const ref = dup ?? dn;
    const relative = ref === undefined ? 0 : t.insertCount - 1 - ref;
    while (t.firstIndex < evictTo) this.#evictOldest();
    if (dup !== undefined) {
      this.#ins.int(relative, 5, 0x00); // Duplicate (§4.3.4): 000 relative Index(5+)
    } else if (sn !== undefined) {
      this.#ins.int(sn, 6, 0xc0); // Insert with Name Reference, static (§4.3.2): 1 T=1 Index(6+)
    } else if (dn !== undefined) {
      this.#ins.int(relative, 6, 0x80); // dynamic: 1 T=0 relative Index(6+)
    } else {
      this.#ins.string(name, 5, 0x40, this.#huffman); // Insert with Literal Name (§4.3.3)
    }
    if (dup === undefined) this.#ins.string(value, 7, 0, this.#huffman);
    const abs = t.insertCount;
    t.push(name, value);
    this.#exact.set(key, abs);
    this.#names.set(name, abs);
    return abs;
  }

  #evictOldest(): void {
    const t = this.#table;
    const abs = t.firstIndex;
    const name = t.name(abs);
    const key = fieldKey(name, t.value(abs));
    if (this.#exact.get(key) === abs) this.#exact.delete(key);
    if (this.#names.get(name) === abs) this.#names.delete(name);
    t.evictOldest();
  }

  /**
   * Bytes from the peer's decoder stream, split anywhere: Section Acknowledgment (§4.4.1),
   * Stream Cancellation (§4.4.2), Insert Count Increment (§4.4.3). Throws QpackError
   * QPACK_DECODER_STREAM_ERROR on an invalid instruction.
   */
  onDecoderStream(chunk: Uint8Array): void {
    let src = chunk;
    if (this.#pending.length > 0) {
      src = new Uint8Array(this.#pending.length + chunk.length);
      src.set(this.#pending);
      src.set(chunk, this.#pending.length);
    }
    const end = src.length;
    const cur: Cursor = { pos: 0 };
    let done = 0;
    try {
      while (done < end) {
        this.#instruction(src, end, cur);
        done = cur.pos;
      }
    } catch (err) {
      if (!(err instanceof Truncated)) throw err;
    }
    // Decoder instructions are one integer each, so a partial one is a few octets.
    this.#pending = done === end ? new Uint8Array(0) : src.slice(done);
    if (this.#pending.length > MAX_INT_OCTETS) {
      throw new QpackError(DSE, 'decoder instruction longer than an integer can be');
    }
  }

  #instruction(src: Uint8Array, end: number, cur: Cursor): void {
    const b = src[cur.pos]!;
    if ((b & 0x80) !== 0) {
      // Section Acknowledgment (§4.4.1): 1 Stream ID(7+). It acknowledges the stream's
      // oldest unacknowledged section with dynamic references.
      const id = readInt(src, end, cur, 7, DSE);
      const list = this.#sections.get(id);
      const section = list?.shift();
      if (section === undefined) {
        throw new QpackError(
          DSE,
          `Section Acknowledgment for stream ${id}, which has no unacknowledged field section (RFC 9204 §4.4.1)`,
        );
      }
      if (list!.length === 0) this.#sections.delete(id);
      if (section.ric > this.#known) this.#known = section.ric; // §2.1.4
    } else if ((b & 0x40) !== 0) {
      // Stream Cancellation (§4.4.2): 01 Stream ID(6+). Its sections reference nothing now.
      this.#sections.delete(readInt(src, end, cur, 6, DSE));
    } else {
      // Insert Count Increment (§4.4.3): 00 Increment(6+). Zero, or past what we inserted,
      // is an error.
      const increment = readInt(src, end, cur, 6, DSE);
      if (increment === 0 || increment > this.#table.insertCount - this.#known) {
        throw new QpackError(
          DSE,
          `Insert Count Increment of ${increment} with ${this.#table.insertCount - this.#known} unacknowledged inserts (RFC 9204 §4.4.3)`,
        );
      }
      this.#known += increment;
    }
  }
}
