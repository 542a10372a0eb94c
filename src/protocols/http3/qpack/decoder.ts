/**
 * QPACK decoder (RFC 9204 §2.2, §4.3, §4.4, §4.5).
 *
 * It applies the peer encoder's instructions to the dynamic table, decodes field sections
 * (blocking those whose Required Insert Count is not reached yet, up to
 * SETTINGS_QPACK_BLOCKED_STREAMS, §2.1.2), and produces decoder-stream instructions:
 * Section Acknowledgment after each section that referenced the table, Stream
 * Cancellation, and Insert Count Increment for inserts no acknowledgment covered.
 *
 * Errors: QpackError with QPACK_ENCODER_STREAM_ERROR for bad encoder instructions and
 * QPACK_DECOMPRESSION_FAILED for bad sections (both end the connection, §6); a section
 * over the size limit is FieldSectionTooLargeError.
 */
import { DynamicTable, entrySize } from './dynamic-table.js';
import { FieldSectionTooLargeError, QpackError, QpackErrorCode } from './errors.js';
import { Truncated, Writer, readInt, readString } from './primitives.js';
import type { Cursor } from './primitives.js';
import { STATIC_TABLE } from './static-table.js';

export type FieldLine = readonly [name: string, value: string];

export interface QpackDecoderOptions {
  /** SETTINGS_QPACK_MAX_TABLE_CAPACITY we advertise. @default 4096 */
  maxTableCapacity?: number;
  /** SETTINGS_QPACK_BLOCKED_STREAMS we advertise. @default 100 */
  maxBlockedStreams?: number;
  /** Largest decoded section (name + value + 32 per field). @default 65536 */
  maxFieldSectionSize?: number;
}

const ENC = QpackErrorCode.QPACK_ENCODER_STREAM_ERROR;
const DEC = QpackErrorCode.QPACK_DECOMPRESSION_FAILED;

export class QpackDecoder {
  readonly maxTableCapacity: number;
  readonly maxBlockedStreams: number;
  readonly maxFieldSectionSize: number;
  readonly #table = new DynamicTable();
  readonly #maxEntries: number;
  #pending: Uint8Array = new Uint8Array(0);
  readonly #out = new Writer();
  /** Inserts the encoder knows we received (acknowledged sections, increments sent). */
  #known = 0;
  readonly #blocked = new Map<number, { block: Uint8Array; ric: number }>();

  constructor(options: QpackDecoderOptions = {}) {
    this.maxTableCapacity = options.maxTableCapacity ?? 4096;
    this.maxBlockedStreams = options.maxBlockedStreams ?? 100;
    this.maxFieldSectionSize = options.maxFieldSectionSize ?? 65_536;
    this.#maxEntries = Math.floor(this.maxTableCapacity / 32);
  }

  get insertCount(): number {
    return this.#table.insertCount;
  }

  get blockedStreams(): number {
    return this.#blocked.size;
  }

  get tableSize(): number {
    return this.#table.size;
  }

  get tableCapacity(): number {
    return this.#table.capacity;
  }

  /** Encoder-stream bytes (split anywhere). Returns streams that are no longer blocked. */
  onEncoderStream(chunk: Uint8Array): number[] {
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
        this.#instruction(buf, cur);
        done = cur.pos;
      }
    } catch (err) {
      if (!(err instanceof Truncated)) throw err;
    }
    this.#pending = buf.slice(done);
    // A partial instruction can only be as long as its strings allow: bound the buffer.
    if (this.#pending.length > this.maxTableCapacity + 64) {
      throw new QpackError(ENC, 'encoder instruction longer than the table capacity');
    }
    if (this.#table.insertCount > this.#known) {
      // §4.4.3: tell the encoder about inserts (so it can reference them without blocking).
      this.#out.int(this.#table.insertCount - this.#known, 6, 0x00);
      this.#known = this.#table.insertCount;
    }
    const ready: number[] = [];
    for (const [id, b] of this.#blocked) if (b.ric <= this.#table.insertCount) ready.push(id);
    return ready;
  }

  #instruction(buf: Uint8Array, cur: Cursor): void {
    const b = buf[cur.pos]!;
    const t = this.#table;
    const maxString = this.maxTableCapacity;
    if ((b & 0x80) !== 0) {
      // Insert with Name Reference (§4.3.2): 1 T index(6) value
      const isStatic = (b & 0x40) !== 0;
      const index = readInt(buf, buf.length, cur, 6, ENC);
      const value = readString(buf, buf.length, cur, 7, maxString, ENC);
      let name: string;
      if (isStatic) {
        const e = STATIC_TABLE[index];
        if (e === undefined) throw new QpackError(ENC, `static index ${index} out of range`);
        name = e[0];
      } else {
        const abs = t.insertCount - 1 - index;
        if (!t.has(abs)) throw new QpackError(ENC, `dynamic index ${index} not in the table`);
        name = t.name(abs);
      }
      this.#insert(name, value);
    } else if ((b & 0x40) !== 0) {
      // Insert with Literal Name (§4.3.3): 01 H len(5) name value
      const name = readString(buf, buf.length, cur, 5, maxString, ENC);
      const value = readString(buf, buf.length, cur, 7, maxString, ENC);
      this.#insert(name, value);
    } else if ((b & 0x20) !== 0) {
      // Set Dynamic Table Capacity (§4.3.1): 001 capacity(5)
      const cap = readInt(buf, buf.length, cur, 5, ENC);
      if (cap > this.maxTableCapacity) {
        throw new QpackError(
          ENC,
          `table capacity ${cap} above our maximum ${this.maxTableCapacity}`,
        );
      }
      t.capacity = cap;
      while (t.size > cap) t.evictOldest();
    } else {
      // Duplicate (§4.3.4): 000 index(5)
      const index = readInt(buf, buf.length, cur, 5, ENC);
      const abs = t.insertCount - 1 - index;
      if (!t.has(abs)) throw new QpackError(ENC, `duplicate of index ${index} not in the table`);
      this.#insert(t.name(abs), t.value(abs));
    }
  }

  #insert(name: string, value: string): void {
    const t = this.#table;
    const size = entrySize(name, value);
    // §3.2.2: an entry larger than the capacity is an error.
    if (size > t.capacity)
      throw new QpackError(ENC, `entry of ${size} bytes exceeds capacity ${t.capacity}`);
    while (t.size + size > t.capacity) t.evictOldest();
    t.push(name, value);
  }

  /** Decodes a field section, or reports it blocked (§2.1.2). */
  decode(streamId: number, block: Uint8Array): FieldLine[] | 'blocked' {
    const cur: Cursor = { pos: 0 };
    const ric = this.#requiredInsertCount(block, cur);
    if (ric > this.#table.insertCount) {
      if (this.#blocked.size >= this.maxBlockedStreams && !this.#blocked.has(streamId)) {
        throw new QpackError(
          DEC,
          `more than ${this.maxBlockedStreams} blocked streams (RFC 9204 §2.1.2)`,
        );
      }
      this.#blocked.set(streamId, { block: Uint8Array.from(block), ric });
      return 'blocked';
    }
    return this.#decodeLines(streamId, block, cur, ric);
  }

  /** Decodes the section that blocked `streamId`, now that its inserts arrived. */
  resume(streamId: number): FieldLine[] {
    const b = this.#blocked.get(streamId);
    if (b === undefined) throw new QpackError(DEC, `stream ${streamId} is not blocked`);
    this.#blocked.delete(streamId);
    const cur: Cursor = { pos: 0 };
    const ric = this.#requiredInsertCount(b.block, cur);
    return this.#decodeLines(streamId, b.block, cur, ric);
  }

  /** The stream was abandoned: forget its blocked section and tell the encoder (§4.4.2). */
  cancelStream(streamId: number): void {
    this.#blocked.delete(streamId);
    if (this.maxTableCapacity > 0) this.#out.int(streamId, 6, 0x40);
  }

  takeDecoderStreamBytes(): Uint8Array | undefined {
    return this.#out.pos === 0 ? undefined : this.#out.take();
  }

  /** §4.5.1.1: decodes the Required Insert Count and leaves `cur` after the prefix. */
  #requiredInsertCount(block: Uint8Array, cur: Cursor): number {
    let enc: number;
    try {
      enc = readInt(block, block.length, cur, 8, DEC);
    } catch (err) {
      if (err instanceof Truncated) throw new QpackError(DEC, 'truncated field section prefix');
      throw err;
    }
    if (enc === 0) return 0;
    const fullRange = 2 * this.#maxEntries;
    if (enc > fullRange)
      throw new QpackError(DEC, 'invalid Required Insert Count (RFC 9204 §4.5.1.1)');
    const maxValue = this.#table.insertCount + this.#maxEntries;
    const maxWrapped = Math.floor(maxValue / fullRange) * fullRange;
    let ric = maxWrapped + enc - 1;
    if (ric > maxValue) {
      if (ric <= fullRange)
        throw new QpackError(DEC, 'invalid Required Insert Count (RFC 9204 §4.5.1.1)');
      ric -= fullRange;
    }
    if (ric === 0) throw new QpackError(DEC, 'invalid Required Insert Count (RFC 9204 §4.5.1.1)');
    return ric;
  }

  #decodeLines(streamId: number, block: Uint8Array, cur: Cursor, ric: number): FieldLine[] {
    const t = this.#table;
    const end = block.length;
    const fields: FieldLine[] = [];
    let size = 0;
    let maxRef = -1;
    const dyn = (abs: number): void => {
      // §4.5.1.1: a reference at or past the Required Insert Count, or to an evicted entry.
      if (abs >= ric || !t.has(abs))
        throw new QpackError(DEC, `dynamic reference ${abs} is invalid`);
      if (abs > maxRef) maxRef = abs;
    };
    const maxString = this.maxFieldSectionSize;
    const tooLong = (n: number): Error => {
      this.#ack(streamId, ric);
      return new FieldSectionTooLargeError(n, this.maxFieldSectionSize);
    };
    try {
      if (cur.pos >= end) throw new Truncated();
      const sign = (block[cur.pos]! & 0x80) !== 0;
      const delta = readInt(block, end, cur, 7, DEC);
      let base: number;
      if (sign) {
        // §4.5.1.2: Base = RIC - DeltaBase - 1, which must not go below 0.
        if (delta + 1 > ric) throw new QpackError(DEC, 'negative Base (RFC 9204 §4.5.1.2)');
        base = ric - delta - 1;
      } else {
        base = ric + delta;
      }
      while (cur.pos < end) {
        const b = block[cur.pos]!;
        let name: string;
        let value: string;
        if ((b & 0x80) !== 0) {
          // Indexed Field Line (§4.5.2): 1 T index(6)
          const isStatic = (b & 0x40) !== 0;
          const index = readInt(block, end, cur, 6, DEC);
          if (isStatic) {
            const e = STATIC_TABLE[index];
            if (e === undefined) throw new QpackError(DEC, `static index ${index} out of range`);
            [name, value] = e;
          } else {
            const abs = base - 1 - index;
            dyn(abs);
            name = t.name(abs);
            value = t.value(abs);
          }
        } else if ((b & 0x40) !== 0) {
          // Literal Field Line with Name Reference (§4.5.4): 01 N T index(4) value
          const isStatic = (b & 0x10) !== 0;
          const index = readInt(block, end, cur, 4, DEC);
          if (isStatic) {
            const e = STATIC_TABLE[index];
            if (e === undefined) throw new QpackError(DEC, `static index ${index} out of range`);
            name = e[0];
          } else {
            const abs = base - 1 - index;
            dyn(abs);
            name = t.name(abs);
          }
          value = readString(block, end, cur, 7, maxString, DEC, tooLong);
        } else if ((b & 0x20) !== 0) {
          // Literal Field Line with Literal Name (§4.5.6): 001 N H len(3) name value
          name = readString(block, end, cur, 3, maxString, DEC, tooLong);
          value = readString(block, end, cur, 7, maxString, DEC, tooLong);
        } else if ((b & 0x10) !== 0) {
          // Indexed Field Line with Post-Base Index (§4.5.3): 0001 index(4)
          const abs = base + readInt(block, end, cur, 4, DEC);
          dyn(abs);
          name = t.name(abs);
          value = t.value(abs);
        } else {
          // Literal Field Line with Post-Base Name Reference (§4.5.5): 0000 N index(3) value
          const abs = base + readInt(block, end, cur, 3, DEC);
          dyn(abs);
          name = t.name(abs);
          value = readString(block, end, cur, 7, maxString, DEC, tooLong);
        }
        size += entrySize(name, value);
        if (size > this.maxFieldSectionSize) {
          this.#ack(streamId, ric);
          throw new FieldSectionTooLargeError(size, this.maxFieldSectionSize);
        }
        fields.push([name, value]);
      }
    } catch (err) {
      if (err instanceof Truncated) throw new QpackError(DEC, 'truncated field line');
      throw err;
    }
    // §2.2.2.1 (and §4.5.1.1): the highest reference must be exactly RIC - 1.
    if (ric > 0 && maxRef !== ric - 1) {
      throw new QpackError(
        DEC,
        'Required Insert Count larger than the references need (RFC 9204 §4.5.1.1)',
      );
    }
    this.#ack(streamId, ric);
    return fields;
  }

  /** §4.4.1: Section Acknowledgment for sections that referenced the dynamic table. */
  #ack(streamId: number, ric: number): void {
    if (ric === 0) return;
    this.#out.int(streamId, 7, 0x80);
    if (ric > this.#known) this.#known = ric;
  }
}
