/**
 * QPACK decoder (RFC 9204 §2.2, §3.2, §4.3, §4.4, §4.5).
 *
 * One decoder per connection. It applies the peer encoder's instructions (§4.3) to its copy
 * of the dynamic table, decodes field sections (§4.5), holds back sections whose Required
 * Insert Count is not reached yet — at most `maxBlockedStreams` streams at once (§2.1.2,
 * §2.2.1) — and writes the decoder-stream instructions (§4.4):
 *  - Section Acknowledgment after every section that referenced the dynamic table;
 *  - Stream Cancellation when a stream is abandoned;
 *  - Insert Count Increment for inserts no acknowledgment covers, queued as soon as the
 *    inserts arrive, so the peer's encoder learns early that it may reference them without
 *    blocking and may evict what it no longer needs.
 *
 * Errors (§6): QpackError QPACK_ENCODER_STREAM_ERROR for a bad encoder instruction,
 * QPACK_DECOMPRESSION_FAILED for a bad field section; both end the connection. A section
 * that decodes fine but exceeds `maxFieldSectionSize` is FieldSectionTooLargeError.
 *
 * Bounds: a partial encoder instruction is buffered only after its string lengths passed
 * the capacity check (§3.2.2), so the buffer holds at most ~4 × maxTableCapacity octets;
 * blocked sections are copies of whole HEADERS payloads, at most `maxBlockedStreams`.
 */
import { GhostnetError, InvalidOptionError } from '../../../errors.js';
import { DynamicTable, ENTRY_OVERHEAD, entrySize } from './dynamic-table.js';
import { FieldSectionTooLargeError, QpackError, QpackErrorCode } from './errors.js';
import { MAX_INT_OCTETS, Truncated, Writer, readInt, readString } from './primitives.js';
import type { Cursor } from './primitives.js';
import { STATIC_TABLE } from './static-table.js';

/** One field: name and value, as latin1 strings (one character per octet). */
export type FieldLine = readonly [name: string, value: string];

export interface QpackDecoderOptions {
  /** Our SETTINGS_QPACK_MAX_TABLE_CAPACITY: the most the peer's encoder may use. @default 4096 */
  maxTableCapacity?: number;
  /** Our SETTINGS_QPACK_BLOCKED_STREAMS: streams that may wait for inserts at once. @default 100 */
  maxBlockedStreams?: number;
  /**
   * Largest decoded field section, counted as name + value + 32 octets per field (RFC 9114
   * §4.2.2, our SETTINGS_MAX_FIELD_SECTION_SIZE); larger ones throw
   * FieldSectionTooLargeError. @default 65536
   */
  maxFieldSectionSize?: number;
}

const ENC = QpackErrorCode.QPACK_ENCODER_STREAM_ERROR;
const DEC = QpackErrorCode.QPACK_DECOMPRESSION_FAILED;

/** A section waiting for inserts: its bytes and its decoded prefix (§4.5.1). */
interface Held {
  block: Uint8Array;
  /** Where the field lines start. */
  start: number;
  ric: number;
  base: number;
}

function option(name: string, value: number | undefined, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new InvalidOptionError(`${name} must be an integer from 0 to ${max}, got ${value}`);
  }
  return value;
}

export class QpackDecoder {
  readonly maxTableCapacity: number;
  readonly maxBlockedStreams: number;
  readonly maxFieldSectionSize: number;
  readonly #table = new DynamicTable();
  /** §4.5.1.1: MaxEntries = floor(MaxTableCapacity / 32). */
  readonly #maxEntries: number;
  /** Longest partial encoder instruction that can still be valid (see the file comment). */
  readonly #maxPending: number;
  /** The partial encoder instruction carried over from the last chunk. */
  #pending = new Uint8Array(0);
  #pendingLength = 0;
  /** Octets the partial instruction needs at least before parsing it again is worthwhile. */
  #need = 0;
  /** Decoder-stream instructions not yet taken. */
  readonly #out = new Writer();
  /** What the peer's encoder knows we have received (§2.1.4, the Known Received Count). */
  #known = 0;
  /** Sections whose Required Insert Count is above the insert count, by stream. */
  readonly #blocked = new Map<number, Held>();
  /** Formerly blocked sections, decodable now, waiting for `resume`. */
  readonly #ready = new Map<number, Held>();

  constructor(options: QpackDecoderOptions = {}) {
    this.maxTableCapacity = option('maxTableCapacity', options.maxTableCapacity, 4096, 2 ** 32);
    this.maxBlockedStreams = option('maxBlockedStreams', options.maxBlockedStreams, 100, 2 ** 32);
    this.maxFieldSectionSize = option(
      'maxFieldSectionSize',
      options.maxFieldSectionSize,
      65_536,
      2 ** 53,
    );
    this.#maxEntries = Math.floor(this.maxTableCapacity / ENTRY_OVERHEAD);
    // Three integers, then name + value whose Huffman encodings take at most 30/8 octets per
    // octet of the ≤ capacity − 32 they decode to.
    this.#maxPending = 3 * MAX_INT_OCTETS + Math.ceil((this.maxTableCapacity * 30) / 8) + 2;
  }

  /** Inserts received on the encoder stream so far (§3.2.4). */
  get insertCount(): number {
    return this.#table.insertCount;
  }

  /** Streams whose section waits for inserts (§2.2.1). */
  get blockedStreams(): number {
    return this.#blocked.size;
  }

  /** Current dynamic table size in octets (§3.2.1). */
  get tableSize(): number {
    return this.#table.size;
  }

  /** Current dynamic table capacity, as last set by the peer's encoder (§4.3.1). */
  get tableCapacity(): number {
    return this.#table.capacity;
  }

  /** Entries currently in the dynamic table. */
  get tableLength(): number {
    return this.#table.length;
  }

  /** The entry at absolute index `abs` (§3.2.4), or undefined if it is not in the table. */
  entry(abs: number): FieldLine | undefined {
    const t = this.#table;
    return t.has(abs) ? [t.name(abs), t.value(abs)] : undefined;
  }

  /**
   * Bytes from the peer's encoder stream, split anywhere. Returns the streams whose blocked
   * section became decodable (call `resume` for each). Throws QpackError
   * QPACK_ENCODER_STREAM_ERROR on an invalid instruction.
   */
  onEncoderStream(chunk: Uint8Array): number[] {
    const before = this.#table.insertCount;
    if (chunk.length > 0) this.#feed(chunk);
    const after = this.#table.insertCount;
    if (after > this.#known) {
      // Insert Count Increment (§4.4.3): 00 Increment(6+).
      this.#out.int(after - this.#known, 6, 0x00);
      this.#known = after;
    }
    if (after === before || this.#blocked.size === 0) return [];
    const unblocked: number[] = [];
    for (const [id, held] of this.#blocked) {
      if (held.ric <= after) {
        unblocked.push(id);
        this.#blocked.delete(id);
        this.#ready.set(id, held);
      }
    }
    return unblocked;
  }

  /** Parses whole instructions from the carried-over bytes and `chunk`; keeps the rest. */
  #feed(chunk: Uint8Array): void {
    let src = chunk;
    let end = chunk.length;
    if (this.#pendingLength > 0) {
      this.#append(chunk);
      if (this.#pendingLength < this.#need) return;
      src = this.#pending;
      end = this.#pendingLength;
    }
    const cur: Cursor = { pos: 0 };
    let done = 0;
    this.#need = 0;
    try {
      while (done < end) {
        this.#instruction(src, end, cur);
        done = cur.pos;
      }
    } catch (err) {
      if (!(err instanceof Truncated)) throw err;
      this.#need = err.need - done;
    }
    const rest = end - done;
    if (rest > this.#maxPending) {
      throw new QpackError(ENC, `encoder instruction longer than ${this.#maxPending} bytes`);
    }
    if (src === this.#pending) {
      this.#pending.copyWithin(0, done, end);
      this.#pendingLength = rest;
    } else {
      this.#pendingLength = 0;
      if (rest > 0) this.#append(chunk.subarray(done));
    }
  }

  #append(bytes: Uint8Array): void {
    const length = this.#pendingLength + bytes.length;
    if (length > this.#pending.length) {
      const next = new Uint8Array(Math.max(length, this.#pending.length * 2, 64));
      next.set(this.#pending.subarray(0, this.#pendingLength));
      this.#pending = next;
    }
    this.#pending.set(bytes, this.#pendingLength);
    this.#pendingLength = length;
  }

  /**
   * One encoder instruction (§4.3) at `src[cur.pos]`. The table changes only once the whole
   * instruction is read, so a Truncated partway leaves no trace and the instruction is read
   * again from its start when more bytes arrive.
   */
  #instruction(src: Uint8Array, end: number, cur: Cursor): void {
    const t = this.#table;
    const b = src[cur.pos]!;
    if ((b & 0x80) !== 0) {
      // Insert with Name Reference (§4.3.2): 1 T Index(6+), then the value (8-bit prefix).
      const index = readInt(src, end, cur, 6, ENC);
      let name: string;
      if ((b & 0x40) !== 0) {
        name = staticEntry(index, ENC)[0];
      } else {
        // A relative index on the encoder stream counts back from the last insert (§3.2.5).
        const abs = t.insertCount - 1 - index;
        if (!t.has(abs)) {
          throw new QpackError(ENC, `Insert with Name Reference to missing dynamic entry ${abs}`);
        }
        name = t.name(abs);
      }
      const value = readString(src, end, cur, 7, this.#room(name.length), ENC, false);
      this.#insert(name, value);
    } else if ((b & 0x40) !== 0) {
      // Insert with Literal Name (§4.3.3): 01 H NameLength(5+) name, then the value.
      const name = readString(src, end, cur, 5, this.#room(0), ENC, false);
      const value = readString(src, end, cur, 7, this.#room(name.length), ENC, false);
      this.#insert(name, value);
    } else if ((b & 0x20) !== 0) {
      // Set Dynamic Table Capacity (§4.3.1): 001 Capacity(5+).
      const capacity = readInt(src, end, cur, 5, ENC);
      if (capacity > this.maxTableCapacity) {
        throw new QpackError(
          ENC,
          `dynamic table capacity ${capacity} above our SETTINGS_QPACK_MAX_TABLE_CAPACITY ${this.maxTableCapacity} (RFC 9204 §4.3.1)`,
        );
      }
      t.capacity = capacity;
      while (t.size > capacity) t.evictOldest();
    } else {
      // Duplicate (§4.3.4): 000 Index(5+).
      const index = readInt(src, end, cur, 5, ENC);
      const abs = t.insertCount - 1 - index;
      if (!t.has(abs)) throw new QpackError(ENC, `Duplicate of missing dynamic entry ${abs}`);
      this.#insert(t.name(abs), t.value(abs));
    }
  }

  /** The longest string an entry with a name of `nameLength` octets leaves room for. */
  #room(nameLength: number): number {
    return Math.max(0, this.#table.capacity - ENTRY_OVERHEAD - nameLength);
  }

  /**
   * §3.2.2: evicts from the oldest end until the entry fits, then appends it. An entry
   * larger than the capacity is an error. The name or value of an entry about to be evicted
   * may be the one being inserted: both were read before evicting.
   */
  #insert(name: string, value: string): void {
    const t = this.#table;
    const size = entrySize(name, value);
    if (size > t.capacity) {
      throw new QpackError(
        ENC,
        `entry of ${size} bytes exceeds the dynamic table capacity ${t.capacity} (RFC 9204 §3.2.2)`,
      );
    }
    while (t.size + size > t.capacity) t.evictOldest();
    t.push(name, value);
  }

  /**
   * Decodes one complete field section (a HEADERS or PUSH_PROMISE payload) for `streamId`.
   * Returns 'blocked' when it needs inserts not received yet: the decoder keeps a copy, and
   * `onEncoderStream` reports the stream once it can be `resume`d. Throws QpackError
   * QPACK_DECOMPRESSION_FAILED when the section is invalid or would block more than
   * `maxBlockedStreams` streams; FieldSectionTooLargeError past `maxFieldSectionSize`.
   */
  decode(streamId: number, block: Uint8Array): FieldLine[] | 'blocked' {
    const held = this.#prefix(block);
    if (held.ric > this.#table.insertCount) {
      // §2.2.1: blocked until the inserts arrive; more blocked streams than we allow is an error.
      if (!this.#blocked.has(streamId) && this.#blocked.size >= this.maxBlockedStreams) {
        throw new QpackError(
          DEC,
          `a field section would block more than SETTINGS_QPACK_BLOCKED_STREAMS = ${this.maxBlockedStreams} streams (RFC 9204 §2.2.1)`,
        );
      }
      this.#ready.delete(streamId);
      held.block = block.slice();
      this.#blocked.set(streamId, held);
      return 'blocked';
    }
    this.#blocked.delete(streamId);
    this.#ready.delete(streamId);
    return this.#fieldLines(streamId, held);
  }

  /** Decodes the section that blocked `streamId`, after `onEncoderStream` reported it. */
  resume(streamId: number): FieldLine[] {
    const held = this.#ready.get(streamId);
    if (held === undefined) {
      throw new GhostnetError(
        'GN_ERR_QPACK_NOT_UNBLOCKED',
        this.#blocked.has(streamId)
          ? `stream ${streamId} is still blocked`
          : `stream ${streamId} has no blocked field section`,
      );
    }
    this.#ready.delete(streamId);
    return this.#fieldLines(streamId, held);
  }

  /**
   * The stream was reset or its reading abandoned: forgets its held section and sends
   * Stream Cancellation (§4.4.2) so the peer's encoder releases what the stream's sections
   * reference — including sections we never received. Omitted when our maximum capacity is
   * 0, as §4.4.2 allows: no section can reference a dynamic table then.
   */
  cancelStream(streamId: number): void {
    this.#blocked.delete(streamId);
    this.#ready.delete(streamId);
    if (this.maxTableCapacity > 0) this.#out.int(streamId, 6, 0x40); // 01 Stream ID(6+)
  }

  /** Bytes to write on our decoder stream, or undefined when nothing is pending. */
  takeDecoderStreamBytes(): Uint8Array | undefined {
    return this.#out.length === 0 ? undefined : this.#out.take();
  }

  /** The field section prefix (§4.5.1): Required Insert Count and Base. */
  #prefix(block: Uint8Array): Held {
    const cur: Cursor = { pos: 0 };
    let ric: number;
    let base: number;
    try {
      ric = this.#requiredInsertCount(readInt(block, block.length, cur, 8, DEC));
      if (cur.pos >= block.length) throw new Truncated(cur.pos + 1);
      const sign = (block[cur.pos]! & 0x80) !== 0;
      const delta = readInt(block, block.length, cur, 7, DEC);
      if (ric === 0) {
        base = 0; // no dynamic reference can be valid; the Base does not matter
      } else if (sign) {
        // §4.5.1.2: Base = ReqInsertCount − DeltaBase − 1, which can't be negative.
        if (delta >= ric) {
          throw new QpackError(
            DEC,
            `negative Base: Required Insert Count ${ric}, Delta Base −${delta + 1} (RFC 9204 §4.5.1.2)`,
          );
        }
        base = ric - delta - 1;
      } else {
        base = ric + delta;
      }
    } catch (err) {
      if (err instanceof Truncated) {
        throw new QpackError(DEC, 'truncated field section prefix (RFC 9204 §4.5.1)');
      }
      throw err;
    }
    return { block, start: cur.pos, ric, base };
  }

  /** §4.5.1.1: the Required Insert Count from its encoding, validated exactly as specified. */
  #requiredInsertCount(encoded: number): number {
    if (encoded === 0) return 0;
    const maxEntries = this.#maxEntries;
    const fullRange = 2 * maxEntries;
    if (encoded > fullRange) {
      throw new QpackError(
        DEC,
        `encoded Required Insert Count ${encoded} above 2 × MaxEntries = ${fullRange} (RFC 9204 §4.5.1.1)`,
      );
    }
    const maxValue = this.#table.insertCount + maxEntries;
    const maxWrapped = Math.floor(maxValue / fullRange) * fullRange;
    let ric = maxWrapped + encoded - 1;
    if (ric > maxValue) {
      if (ric <= fullRange) {
        throw new QpackError(
          DEC,
          `invalid encoded Required Insert Count ${encoded} (RFC 9204 §4.5.1.1)`,
        );
      }
      ric -= fullRange;
    }
    if (ric === 0) {
      throw new QpackError(
        DEC,
        `invalid encoded Required Insert Count ${encoded} (RFC 9204 §4.5.1.1)`,
      );
    }
    return ric;
  }

  /** The field line representations (§4.5.2–§4.5.6) after the prefix. */
  #fieldLines(streamId: number, held: Held): FieldLine[] {
    const { block, ric, base } = held;
    const t = this.#table;
    const end = block.length;
    const cur: Cursor = { pos: held.start };
    const limit = this.maxFieldSectionSize;
    const fields: FieldLine[] = [];
    let size = 0;
    let maxRef = -1;
    /** Checks a dynamic reference (§2.2.3, §4.5.1.1) and returns its absolute index. */
    const dynamic = (abs: number): number => {
      if (abs >= ric || !t.has(abs)) {
        throw new QpackError(
          DEC,
          abs >= ric
            ? `reference to dynamic entry ${abs}, at or past the Required Insert Count ${ric} (RFC 9204 §2.2.3)`
            : `reference to dynamic entry ${abs}, which is not in the table (RFC 9204 §2.2.3)`,
        );
      }
      if (abs > maxRef) maxRef = abs;
      return abs;
    };
    // Strings are refused as soon as their length shows the section can't fit.
    const room = (nameLength: number): number =>
      Math.max(0, limit - size - ENTRY_OVERHEAD - nameLength);
    const tooLarge = (nameLength: number) => (length: number) =>
      this.#tooLarge(streamId, ric, size + ENTRY_OVERHEAD + nameLength + length);
    // A field value: H bit and a 7-bit prefixed length (§4.5.4, §4.5.5, §4.5.6).
    const readValue = (nameLength: number): string =>
      readString(block, end, cur, 7, room(nameLength), DEC, true, tooLarge(nameLength));
    try {
      while (cur.pos < end) {
        const b = block[cur.pos]!;
        let name: string;
        let value: string;
        if ((b & 0x80) !== 0) {
          // Indexed Field Line (§4.5.2): 1 T Index(6+).
          const index = readInt(block, end, cur, 6, DEC);
          if ((b & 0x40) !== 0) {
            [name, value] = staticEntry(index, DEC);
          } else {
            const abs = dynamic(base - 1 - index);
            name = t.name(abs);
            value = t.value(abs);
          }
        } else if ((b & 0x40) !== 0) {
          // Literal Field Line with Name Reference (§4.5.4): 01 N T Index(4+), value.
          const index = readInt(block, end, cur, 4, DEC);
          name = (b & 0x10) !== 0 ? staticEntry(index, DEC)[0] : t.name(dynamic(base - 1 - index));
          value = readValue(name.length);
        } else if ((b & 0x20) !== 0) {
          // Literal Field Line with Literal Name (§4.5.6): 001 N H NameLength(3+) name, value.
          name = readString(block, end, cur, 3, room(0), DEC, true, tooLarge(0));
          value = readValue(name.length);
        } else if ((b & 0x10) !== 0) {
          // Indexed Field Line with Post-Base Index (§4.5.3): 0001 Index(4+).
          const abs = dynamic(base + readInt(block, end, cur, 4, DEC));
          name = t.name(abs);
          value = t.value(abs);
        } else {
          // Literal Field Line with Post-Base Name Reference (§4.5.5): 0000 N Index(3+), value.
          name = t.name(dynamic(base + readInt(block, end, cur, 3, DEC)));
          value = readValue(name.length);
        }
        size += entrySize(name, value);
        if (size > limit) throw this.#tooLarge(streamId, ric, size);
        fields.push([name, value]);
      }
    } catch (err) {
      if (err instanceof Truncated) {
        throw new QpackError(DEC, 'field section ends inside a field line (RFC 9204 §4.5)');
      }
      throw err;
    }
    // §4.5.1.1: a conforming encoder sets the Required Insert Count to one more than the
    // largest absolute index the section references; any other value is an error.
    if (ric > 0 && maxRef !== ric - 1) {
      throw new QpackError(
        DEC,
        `Required Insert Count ${ric} but the largest dynamic reference is ${maxRef} (RFC 9204 §4.5.1.1)`,
      );
    }
    this.#acknowledge(streamId, ric);
    return fields;
  }

  /**
   * The section is too large for us, not invalid: acknowledge it anyway, so the peer's
   * encoder releases what it references, and let HTTP/3 choose the answer.
   */
  #tooLarge(streamId: number, ric: number, size: number): FieldSectionTooLargeError {
    this.#acknowledge(streamId, ric);
    return new FieldSectionTooLargeError(size, this.maxFieldSectionSize);
  }

  /** Section Acknowledgment (§4.4.1) for a section that referenced the dynamic table. */
  #acknowledge(streamId: number, ric: number): void {
    if (ric === 0) return;
    this.#out.int(streamId, 7, 0x80); // 1 Stream ID(7+)
    if (ric > this.#known) this.#known = ric; // §2.1.4
  }
}

/** Static table entry `index` (§3.1); an index past the table is an error (§3.1). */
function staticEntry(index: number, code: QpackErrorCode): readonly [string, string] {
  const e = STATIC_TABLE[index];
  if (e === undefined) {
    throw new QpackError(code, `static table index ${index} out of range (RFC 9204 §3.1)`);
  }
  return e;
}
