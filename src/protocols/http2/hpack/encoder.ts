/**
 * HPACK header block encoder (RFC 7541 §3, §6).
 *
 * Indexing policy, per field:
 *  1. Sensitive fields → a never-indexed literal (§6.2.3), with the name's index when it
 *     has one, even when an entry matches. Sensitive are `authorization`,
 *     `proxy-authorization`, `cookie` values shorter than 20 octets (short cookies are
 *     guessable through a compression oracle, §7.1.3 — nghttp2's rule), and the names the
 *     caller passes in `sensitive` (e.g. fields decoded as never indexed, which an
 *     intermediary MUST forward as such, §6.2.3).
 *  2. A name + value in the static table (Appendix A) or dynamic table → an indexed field
 *     (§6.1), one or two octets. Static entries win: their index never changes.
 *  3. Fields that rarely repeat → a literal without indexing (§6.2.2): indexing them would
 *     only evict entries that do repeat. They name one message or one resource:
 *     `content-length`, `etag`, `if-modified-since`, `if-none-match`, `location`, `age`,
 *     `set-cookie`; a `:path` with a query string, or seen for the first time (a path is
 *     indexed when it comes again: API clients repeat theirs, browsers mostly don't); and
 *     any field whose entry would take more than 3/4 of the table (it would evict nearly
 *     everything).
 *  4. Anything else → a literal with incremental indexing (§6.2.1): `:authority`,
 *     `user-agent`, `accept*`, long `cookie`s, `content-type`, `server`, … and also `date`,
 *     `last-modified`, `expires`: responses sent within the same second, or for resources
 *     deployed together, share them. Measured on hpack-test-case's raw-data stories 20–30
 *     (browser traffic), not indexing `date`/`last-modified`/`expires` makes response
 *     blocks 10–47 % larger, and indexing every first-seen `:path` makes request blocks 12 %
 *     larger; with this policy the output is never more than 0.1 % larger than nghttp2's
 *     encoding of the same stories (and 0.5–1.3 % smaller on stories 20 and 21).
 * Names reuse a static index first, else the newest dynamic entry with that name.
 * Lookups are O(1): one Map lookup by name gives the name's static and dynamic entries
 * (dynamic-table.ts `NameRecord`), then a string comparison or one more Map lookup by value.
 */
import { InvalidOptionError } from '../../../errors.js';
import { EncoderTable } from './dynamic-table.js';
import { encodeInteger, encodeString } from './primitives.js';
import type { HuffmanPolicy } from './primitives.js';
import { STATIC_LENGTH, STATIC_LOOKUP, STATIC_VALUES } from './static-table.js';

export interface HpackEncoderOptions {
  /** Our own cap on the dynamic table we use, whatever the peer allows. @default 4096 */
  maxTableSize?: number;
  /** Huffman-code string literals when shorter ('auto'), always, or never. @default 'auto' */
  huffman?: 'auto' | 'always' | 'never';
}

// Per-name policies (see above). Every name with a policy has a static entry, so the policy
// hangs off the static index that the field's name lookup finds anyway.
const INDEX = 0; // literal with incremental indexing, unless too large
const PLAIN = 1; // literal without indexing: values that rarely repeat
const NEVER = 2; // never-indexed literal: sensitive
const COOKIE = 3; // NEVER below SHORT_COOKIE octets, else INDEX
const PATH = 4; // PLAIN with a query string or the first time seen, else INDEX
/** nghttp2's rule: `cookie` values shorter than this are sent never indexed. */
const SHORT_COOKIE = 20;
const POLICIES: Readonly<Record<string, number>> = {
  authorization: NEVER,
  'proxy-authorization': NEVER,
  cookie: COOKIE,
  ':path': PATH,
  age: PLAIN,
  'content-length': PLAIN,
  etag: PLAIN,
  'if-modified-since': PLAIN,
  'if-none-match': PLAIN,
  location: PLAIN,
  'set-cookie': PLAIN,
};
/** Most `:path` values remembered as seen once (then forgotten all at once). */
const MAX_SEEN_PATHS = 256;
/** Policy by static index (the lowest index of each name). */
const STATIC_POLICY = new Uint8Array(STATIC_LENGTH + 1);
for (const [name, policy] of Object.entries(POLICIES)) {
  STATIC_POLICY[STATIC_LOOKUP.get(name)!.index] = policy;
}

// Representation patterns (§6).
const INDEXED = 0x80;
const LITERAL_INDEXED = 0x40;
const SIZE_UPDATE = 0x20;
const LITERAL_NEVER = 0x10;
const LITERAL_PLAIN = 0x00;

/** Size of the chunks blocks are written into. */
const CHUNK_SIZE = 16384;
/** Octets a block starts with for pending size updates (two, 6 octets at most each). */
const UPDATE_ROOM = 12;
/** Octets a field needs beyond its strings: representation + name index (6 octets at most). */
const FIELD_ROOM = 6;

export class HpackEncoder {
  readonly #cap: number;
  readonly #huffman: HuffmanPolicy;
  readonly #table: EncoderTable;
  /** Entries larger than this are not indexed (3/4 of the current table). */
  #indexLimit: number;
  /** −1, or the smallest table size reached since the last block (§4.2). */
  #pendingMin = -1;
  /** The table size to signal last, when updates are pending. */
  #pendingFinal = -1;
  /** Output chunk: blocks are written at #offset and returned as views. */
  #chunk: Uint8Array = new Uint8Array(0);
  #offset = 0;
  /** `:path` values sent once without indexing: indexed if they come again. */
  readonly #seenPaths = new Set<string>();

  constructor(options: HpackEncoderOptions = {}) {
    const cap = options.maxTableSize ?? 4096;
    if (!Number.isInteger(cap) || cap < 0 || cap > 0xffffffff) {
      throw new InvalidOptionError(
        `maxTableSize must be an integer from 0 to 4294967295, got ${options.maxTableSize}`,
      );
    }
    const huffman = options.huffman ?? 'auto';
    if (huffman !== 'auto' && huffman !== 'always' && huffman !== 'never') {
      throw new InvalidOptionError(
        `huffman must be 'auto', 'always' or 'never', got ${String(huffman)}`,
      );
    }
    this.#cap = cap;
    this.#huffman = huffman;
    // §4.2 / RFC 9113 §6.5.2: the peer's decoder starts at 4,096 octets; we use less if
    // our cap is lower, which the first block signals.
    const initial = Math.min(cap, 4096);
    this.#table = new EncoderTable(4096, STATIC_LOOKUP, STATIC_VALUES);
    this.#indexLimit = 0;
    if (initial !== 4096) this.#resize(initial);
    else this.#indexLimit = Math.floor(initial * 0.75);
  }

  /** Current dynamic table size in octets (§4.1). */
  get tableSize(): number {
    return this.#table.size;
  }

  /**
   * The peer's SETTINGS_HEADER_TABLE_SIZE arrived: the table used becomes min(this, our
   * cap). The change (evicting as needed) is signalled by size update(s) at the start of
   * the next block (§4.2): the smallest value reached, then the final one when it shrank
   * and grew between blocks.
   */
  setPeerMaxTableSize(size: number): void {
    if (!Number.isInteger(size) || size < 0 || size > 0xffffffff) {
      throw new InvalidOptionError(
        `table size must be an integer from 0 to 4294967295, got ${size}`,
      );
    }
    this.#resize(Math.min(size, this.#cap));
  }

  #resize(size: number): void {
    if (this.#pendingMin < 0 || size < this.#pendingMin) this.#pendingMin = size;
    this.#pendingFinal = size;
  }

  /**
   * Encodes one header block. Names must already be lowercase (the caller lowercases);
   * strings are latin1 (code units above 0xff are not valid in fields, RFC 9113 §8.2.1).
   * `sensitive` names are sent as never-indexed literals (§6.2.3) in addition to the
   * built-in policy. The block is a view of a chunk shared with other blocks, as Buffer's
   * pool does: later blocks never overwrite it; don't write into it.
   */
  encode(
    names: readonly string[],
    values: readonly string[],
    sensitive?: ReadonlySet<string>,
  ): Uint8Array {
    const count = names.length;
    const huffman = this.#huffman;
    const table = this.#table;
    const wide = huffman === 'always' ? 4 : 1; // octets written per string octet, at most
    let out = this.#chunk;
    let start = this.#offset;
    let pos = start;
    if (pos + UPDATE_ROOM > out.length) {
      out = this.#newChunk(out, start, pos, UPDATE_ROOM);
      pos -= start;
      start = 0;
    }
    if (this.#pendingMin >= 0) pos = this.#writeSizeUpdates(out, pos);

    for (let i = 0; i < count; i++) {
      const name = names[i]!;
      const value = values[i]!;
      const room = FIELD_ROOM + 12 + (name.length + value.length) * wide;
      if (pos + room > out.length) {
        out = this.#newChunk(out, start, pos, room);
        pos -= start;
        start = 0;
      }
      const record = table.lookup(name);
      let nameIndex = 0;
      let policy = INDEX;
      if (record !== undefined) {
        nameIndex = record.staticIndex;
        policy = STATIC_POLICY[nameIndex]!; // INDEX for names without a static entry
        if (policy === COOKIE) policy = value.length < SHORT_COOKIE ? NEVER : INDEX;
        // §6.2.3: a never-indexed field keeps that representation, even if an entry matches.
        if (sensitive !== undefined && sensitive.has(name)) policy = NEVER;
        if (policy !== NEVER) {
          let full = 0;
          if (nameIndex !== 0) {
            if (value === record.staticValue) full = nameIndex;
            else if (record.staticValues !== undefined) full = record.staticValues.get(value) ?? 0;
          }
          if (full === 0) {
            const seq = table.find(record, value);
            if (seq !== 0) full = STATIC_LENGTH + 1 + table.inserted - seq;
          }
          if (full !== 0) {
            pos = encodeInteger(out, pos, full, 7, INDEXED);
            continue;
          }
        }
        if (nameIndex === 0 && record.dynCount > 0) {
          nameIndex = STATIC_LENGTH + 1 + table.inserted - record.latestSeq;
        }
      } else if (sensitive !== undefined && sensitive.has(name)) {
        policy = NEVER;
      }
      if (policy === PATH) policy = this.#pathPolicy(value);
      if (policy === INDEX && name.length + value.length + 32 > this.#indexLimit) policy = PLAIN;
      let pattern: number;
      let prefix: number;
      if (policy === INDEX) {
        pattern = LITERAL_INDEXED;
        prefix = 6;
      } else {
        pattern = policy === NEVER ? LITERAL_NEVER : LITERAL_PLAIN;
        prefix = 4;
      }
      pos = encodeInteger(out, pos, nameIndex, prefix, pattern);
      if (nameIndex === 0) pos = encodeString(out, pos, name, huffman);
      pos = encodeString(out, pos, value, huffman);
      if (pattern === LITERAL_INDEXED) table.add(name, value, record);
    }
    this.#offset = pos;
    // A chunk grown for one large block is not kept for the next ones.
    if (out.length > CHUNK_SIZE) this.#chunk = new Uint8Array(0);
    return new Uint8Array(out.buffer, start, pos - start);
  }

  /**
   * Moves the block begun at `out[start, pos)` to a new chunk with `room` more octets free.
   * Blocks are views of shared chunks (as Buffer's pool does), not copies.
   */
  #newChunk(out: Uint8Array, start: number, pos: number, room: number): Uint8Array {
    const used = pos - start;
    const chunk = new Uint8Array(Math.max(CHUNK_SIZE, (used + room) * 2));
    chunk.set(out.subarray(start, pos));
    this.#chunk = chunk;
    this.#offset = 0;
    return chunk;
  }

  /** A `:path` is indexed the second time it is sent, unless it has a query string. */
  #pathPolicy(path: string): number {
    if (path.includes('?')) return PLAIN;
    const seen = this.#seenPaths;
    if (seen.delete(path)) return INDEX;
    if (seen.size >= MAX_SEEN_PATHS) seen.clear();
    seen.add(path);
    return PLAIN;
  }

  /** §4.2, §6.3: signal the table size changes since the last block, evicting as needed. */
  #writeSizeUpdates(out: Uint8Array, pos: number): number {
    const min = this.#pendingMin;
    const final = this.#pendingFinal;
    this.#pendingMin = -1;
    this.#pendingFinal = -1;
    const table = this.#table;
    if (min < table.maxSize) {
      table.setMaxSize(min);
      pos = encodeInteger(out, pos, min, 5, SIZE_UPDATE);
    }
    if (final !== table.maxSize) {
      table.setMaxSize(final);
      pos = encodeInteger(out, pos, final, 5, SIZE_UPDATE);
    }
    this.#indexLimit = Math.floor(final * 0.75);
    return pos;
  }
}
