/**
 * HPACK header block decoder (RFC 7541 §3, §6).
 *
 * One decoder per connection: the dynamic table is shared by every header block the peer
 * sends (RFC 9113 §4.3), so every block must be decoded — even one the connection will
 * refuse — and any failure is a connection error of type COMPRESSION_ERROR (`HpackError`).
 */
import { InvalidOptionError } from '../../../errors.js';
import { HpackError } from '../errors.js';
import { DecoderTable } from './dynamic-table.js';
import { huffmanDecode } from './huffman.js';
import { decodeInteger, MAX_INTEGER } from './primitives.js';
import type { Cursor } from './primitives.js';
import { STATIC_LENGTH, STATIC_NAMES, STATIC_VALUES } from './static-table.js';

export interface HpackDecoderOptions {
  /** Our SETTINGS_HEADER_TABLE_SIZE: the largest dynamic table the peer's encoder may use. @default 4096 */
  maxTableSize?: number;
  /**
   * Decoded header list size (RFC 7541 §4.1 accounting: name + value + 32 per field) above
   * which the block is marked oversized. @default 65536
   */
  maxHeaderListSize?: number;
  /**
   * Longest string literal, in encoded octets (checked BEFORE reading/decoding it: a huge
   * length prefix is refused at once). @default 65536
   */
  maxStringLength?: number;
  /** Most fields in one block. @default 1024 */
  maxFields?: number;
}

export interface HpackHeaderBlock {
  /** Decoded as latin1 (one char per octet), case kept: the caller validates. */
  names: string[];
  values: string[];
  /** Indices of fields received as "never indexed" literals (§6.2.3); undefined when none. */
  neverIndexed: number[] | undefined;
  /** Sum of name.length + value.length + 32 (§4.1) over all fields of the block. */
  size: number;
  /**
   * size exceeded maxHeaderListSize or count exceeded maxFields: the block was still
   * decoded to its end so the dynamic table stays in step with the peer, but fields past
   * the limit were dropped (not stored in names/values).
   */
  oversized: boolean;
}

const DEFAULTS: Required<HpackDecoderOptions> = {
  maxTableSize: 4096,
  maxHeaderListSize: 65536,
  maxStringLength: 65536,
  maxFields: 1024,
};

/** `latin1Slice` is on every Buffer (node:buffer) but missing from @types/node. */
interface Latin1Buffer extends Buffer {
  latin1Slice(start: number, end: number): string;
}

function asBuffer(block: Uint8Array): Latin1Buffer {
  return (
    Buffer.isBuffer(block) ? block : Buffer.from(block.buffer, block.byteOffset, block.byteLength)
  ) as Latin1Buffer;
}

/**
 * Octets `src[start, end)` as a latin1 string. Short strings are built in JavaScript: a
 * native call costs more than the loop below a few octets.
 */
function latin1(src: Latin1Buffer, start: number, end: number): string {
  if (end - start > 8) return src.latin1Slice(start, end);
  let s = '';
  for (let i = start; i < end; i++) s += String.fromCharCode(src[i]!);
  return s;
}

function checkSize(name: string, value: number | undefined, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new InvalidOptionError(`${name} must be an integer from 0 to ${max}, got ${value}`);
  }
  return value;
}

export class HpackDecoder {
  /** Decoded header list size above which a block is marked oversized; settable at run time. */
  maxHeaderListSize: number;
  readonly #maxStringLength: number;
  readonly #maxFields: number;
  /** Our acknowledged SETTINGS_HEADER_TABLE_SIZE: the ceiling for size updates (§6.3). */
  #maxTableSize: number;
  /**
   * −1, or the smallest SETTINGS_HEADER_TABLE_SIZE acknowledged since the last block that
   * went below the table size the peer's encoder could be using: the next block MUST begin
   * with a size update no larger (§4.2).
   */
  #requiredUpdate = -1;
  readonly #table: DecoderTable;
  readonly #cur: Cursor = { pos: 0 };
  /** Huffman output; at most ⌊maxStringLength × 8 / 5⌋ octets. */
  #scratch: Latin1Buffer = Buffer.allocUnsafeSlow(256) as Latin1Buffer;

  constructor(options: HpackDecoderOptions = {}) {
    const o = {
      maxTableSize: checkSize('maxTableSize', options.maxTableSize, 0xffffffff),
      maxHeaderListSize: checkSize('maxHeaderListSize', options.maxHeaderListSize, 2 ** 53),
      maxStringLength: checkSize('maxStringLength', options.maxStringLength, MAX_INTEGER),
      maxFields: checkSize('maxFields', options.maxFields, MAX_INTEGER),
    };
    this.#maxTableSize = o.maxTableSize ?? DEFAULTS.maxTableSize;
    this.maxHeaderListSize = o.maxHeaderListSize ?? DEFAULTS.maxHeaderListSize;
    this.#maxStringLength = o.maxStringLength ?? DEFAULTS.maxStringLength;
    this.#maxFields = o.maxFields ?? DEFAULTS.maxFields;
    this.#table = new DecoderTable(this.#maxTableSize);
  }

  /** Current dynamic table size in octets (§4.1). */
  get tableSize(): number {
    return this.#table.size;
  }

  /** Entries in the dynamic table. */
  get tableLength(): number {
    return this.#table.length;
  }

  /**
   * Our advertised SETTINGS_HEADER_TABLE_SIZE changed and the peer acknowledged it. When it
   * went below the table size the encoder could be using, the next block MUST begin with a
   * dynamic table size update (§4.2) no larger than the smallest such setting.
   */
  setMaxTableSize(size: number): void {
    checkSize('setMaxTableSize(size)', size, 0xffffffff);
    this.#maxTableSize = size;
    if (size < this.#table.maxSize) {
      if (this.#requiredUpdate < 0 || size < this.#requiredUpdate) this.#requiredUpdate = size;
    }
  }

  /** Decodes one complete header block (HEADERS + CONTINUATION payloads joined). */
  decode(block: Uint8Array): HpackHeaderBlock {
    const src = asBuffer(block);
    const end = src.length;
    const cur = this.#cur;
    const table = this.#table;
    cur.pos = 0;

    // §4.2: dynamic table size updates come first in a block, and only there.
    let smallestUpdate = -1;
    while (cur.pos < end && (src[cur.pos]! & 0xe0) === 0x20) {
      const size = decodeInteger(src, end, cur, 5);
      // §6.3: the new maximum MUST NOT exceed the limit set by the protocol (our setting).
      if (size > this.#maxTableSize) {
        throw new HpackError(
          `dynamic table size update to ${size} exceeds the limit ${this.#maxTableSize} (RFC 7541 §6.3)`,
        );
      }
      table.setMaxSize(size);
      if (smallestUpdate < 0 || size < smallestUpdate) smallestUpdate = size;
    }
    if (this.#requiredUpdate >= 0) {
      if (smallestUpdate < 0 || smallestUpdate > this.#requiredUpdate) {
        throw new HpackError(
          `header block does not begin with a dynamic table size update to at most ${this.#requiredUpdate} (RFC 7541 §4.2)`,
        );
      }
      this.#requiredUpdate = -1;
    }

    const names: string[] = [];
    const values: string[] = [];
    let neverIndexed: number[] | undefined;
    let size = 0;
    let count = 0;
    let oversized = false;
    while (cur.pos < end) {
      const b = src[cur.pos]!;
      let name: string;
      let value: string;
      let never = false;
      if (b >= 0x80) {
        // §6.1 Indexed Header Field.
        let index = b & 0x7f;
        if (index === 0x7f) index = decodeInteger(src, end, cur, 7);
        else cur.pos++;
        if (index <= STATIC_LENGTH) {
          if (index === 0) throw new HpackError('indexed field with index 0 (RFC 7541 §6.1)');
          name = STATIC_NAMES[index]!;
          value = STATIC_VALUES[index]!;
        } else {
          const i = this.#dynamicPosition(index);
          name = table.name(i);
          value = table.value(i);
        }
      } else if (b >= 0x40) {
        // §6.2.1 Literal Header Field with Incremental Indexing.
        let index = b & 0x3f;
        if (index === 0x3f) index = decodeInteger(src, end, cur, 6);
        else cur.pos++;
        name = index === 0 ? this.#string(src, end) : this.#name(index);
        value = this.#string(src, end);
        table.add(name, value);
      } else if (b >= 0x20) {
        throw new HpackError('dynamic table size update after a field (RFC 7541 §4.2)');
      } else {
        // §6.2.2 Literal Header Field without Indexing, §6.2.3 Never Indexed.
        never = b >= 0x10;
        let index = b & 0x0f;
        if (index === 0x0f) index = decodeInteger(src, end, cur, 4);
        else cur.pos++;
        name = index === 0 ? this.#string(src, end) : this.#name(index);
        value = this.#string(src, end);
      }
      size += name.length + value.length + 32;
      count++;
      if (oversized) continue;
      if (size > this.maxHeaderListSize || count > this.#maxFields) {
        oversized = true;
        continue;
      }
      if (never) (neverIndexed ??= []).push(names.length);
      names.push(name);
      values.push(value);
    }
    return { names, values, neverIndexed, size, oversized };
  }

  /** §2.3.3: an index past the static table addresses the dynamic table, 0 = newest. */
  #dynamicPosition(index: number): number {
    const i = index - STATIC_LENGTH - 1;
    if (i >= this.#table.length) {
      throw new HpackError(
        `index ${index} beyond the static and dynamic tables (${STATIC_LENGTH + this.#table.length} entries, RFC 7541 §2.3.3)`,
      );
    }
    return i;
  }

  #name(index: number): string {
    if (index <= STATIC_LENGTH) return STATIC_NAMES[index]!;
    return this.#table.name(this.#dynamicPosition(index));
  }

  /** §5.2 String Literal, refused before it is read when longer than maxStringLength. */
  #string(src: Latin1Buffer, end: number): string {
    const cur = this.#cur;
    if (cur.pos >= end)
      throw new HpackError('truncated header block: string expected (RFC 7541 §5.2)');
    const huffman = src[cur.pos]! >= 0x80;
    const length = decodeInteger(src, end, cur, 7);
    if (length > this.#maxStringLength) {
      throw new HpackError(
        `string literal of ${length} octets exceeds maxStringLength ${this.#maxStringLength} (RFC 7541 §7.4)`,
      );
    }
    const start = cur.pos;
    const stop = start + length;
    if (stop > end) throw new HpackError('truncated string literal (RFC 7541 §5.2)');
    cur.pos = stop;
    if (!huffman) return latin1(src, start, stop);
    // Every code is at least 5 bits long, so n octets decode to at most ⌊8n / 5⌋ symbols.
    const room = ((length * 8) / 5) | 0;
    if (this.#scratch.length < room) {
      this.#scratch = Buffer.allocUnsafeSlow(
        Math.max(room, this.#scratch.length * 2),
      ) as Latin1Buffer;
    }
    const n = huffmanDecode(src, start, stop, this.#scratch);
    return latin1(this.#scratch, 0, n);
  }
}
