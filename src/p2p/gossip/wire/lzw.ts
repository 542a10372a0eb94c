/**
 * LZW exactly as Go's `compress/lzw` writes and reads it with `lzw.LSB` order and a literal
 * width of 8 — the only variant HashiCorp memberlist uses (`lzwLitWidth = 8`, util.go
 * `compressPayload` / `decompressBuffer`). Output is byte-identical to Go's Writer.
 *
 * The code stream, as Go defines it:
 * - codes 0-255 are literals, 256 is CLEAR, 257 is EOF; new table entries start at 258;
 * - codes are 9 bits wide at first and packed least-significant-bit first;
 * - the writer opens with CLEAR, ends with EOF and pads the last byte with zero bits;
 * - the width grows by one bit as soon as the entry `2^width` is *allocated* (one code
 *   earlier than the classic "early change" would suggest, because the next code the
 *   writer emits may be that very entry: the KwKwK case);
 * - codes never exceed 12 bits. Go's writer emits CLEAR (at 12 bits) when it would allocate
 *   entry 4095 and starts over at 9 bits; Go's reader instead freezes a full table (entry
 *   4095 included) until it sees CLEAR. We do both the same way.
 *
 * Decoding is bounded: the caller passes `maxOutput` and the decoder throws before its
 * output would grow past it, so a decompression bomb (each 12-bit code can expand to ~4 KB)
 * never allocates more than `maxOutput` bytes.
 */
import { GhostnetError, InvalidOptionError } from '../../../errors.js';

/** Error codes raised by the LZW decoder. Match on `code`, never on the message. */
export const LzwErrorCodes = {
  /** A code that is neither a literal, CLEAR, EOF nor a defined table entry. */
  INVALID_CODE: 'GN_ERR_GOSSIP_LZW_INVALID_CODE',
  /** The input ended before the EOF code (Go: io.ErrUnexpectedEOF). */
  TRUNCATED: 'GN_ERR_GOSSIP_LZW_TRUNCATED',
  /** The decompressed output would exceed `maxOutput`. */
  OUTPUT_TOO_LARGE: 'GN_ERR_GOSSIP_LZW_OUTPUT_TOO_LARGE',
} as const;

export type LzwErrorCode = (typeof LzwErrorCodes)[keyof typeof LzwErrorCodes];

/** Malformed or oversized LZW input, always from the remote peer. */
export class LzwError extends GhostnetError {
  /** Byte offset in the compressed input where decoding stopped. */
  readonly offset: number;

  constructor(code: LzwErrorCode, message: string, offset: number) {
    super(code, `${message} (at compressed byte ${offset})`);
    this.offset = offset;
  }
}

const LIT_WIDTH = 8;
const CLEAR = 1 << LIT_WIDTH; // 256
const EOF = CLEAR + 1; // 257
const MAX_WIDTH = 12;
const TABLE_CODES = 1 << MAX_WIDTH; // 4096
/** Go's writer resets when it would allocate this entry (it never uses code 4095). */
const WRITER_MAX_CODE = TABLE_CODES - 1;
/** Decoder marker for "no previous code" (after CLEAR, or with a frozen table). */
const NO_CODE = -1;

/** Open-addressing dictionary for the encoder: (prefix code, byte) → code. */
const HASH_BITS = 14; // 16384 slots for at most 3837 live entries: load factor below 1/4
const HASH_SIZE = 1 << HASH_BITS;
const HASH_MASK = HASH_SIZE - 1;

/**
 * Compresses `data` exactly as Go's `lzw.NewWriter(w, lzw.LSB, 8)` followed by one `Write`
 * and `Close` (memberlist's `compressPayload`).
 */
export function lzwCompress(data: Uint8Array): Uint8Array {
  const n = data.length;
  // Every emitted code consumes at least one input byte, except CLEARs (at most one per
  // ~3837 codes, plus the opening one), the flush of the pending code and EOF. Each code is
  // at most 12 bits.
  const maxCodes = n + Math.ceil(n / (WRITER_MAX_CODE - EOF - 1)) + 4;
  const out = new Uint8Array(Math.ceil((maxCodes * MAX_WIDTH) / 8) + 1);
  let pos = 0;
  let bits = 0; // pending bits, LSB first; never more than 7 + 12 bits
  let nBits = 0;
  let width = LIT_WIDTH + 1;

  const emit = (code: number): void => {
    bits |= code << nBits;
    nBits += width;
    while (nBits >= 8) {
      out[pos++] = bits & 0xff;
      bits >>>= 8;
      nBits -= 8;
    }
  };

  // Slot holds (prefix << 8 | byte) + 1, 0 meaning empty; values[slot] is the entry's code.
  const keys = new Int32Array(HASH_SIZE);
  const values = new Uint16Array(HASH_SIZE);
  let hi = EOF; // the most recently allocated code
  let overflow = 1 << width; // allocating this code widens the codes by one bit

  /** Allocates the next code. Returns false when the table was full and got reset instead. */
  const allocate = (): boolean => {
    hi++;
    if (hi === overflow) {
      width++;
      overflow <<= 1;
    }
    if (hi === WRITER_MAX_CODE) {
      emit(CLEAR);
      width = LIT_WIDTH + 1;
      hi = EOF;
      overflow = 1 << width;
      keys.fill(0);
      return false;
    }
    return true;
  };

  if (n === 0) {
    emit(CLEAR); // Go's Close() with nothing written: CLEAR, then EOF
  } else {
    emit(CLEAR);
    let code = data[0]!;
    for (let i = 1; i < n; i++) {
      const byte = data[i]!;
      const key = ((code << 8) | byte) + 1;
      let slot = (Math.imul(key, 0x9e3779b1) >>> (32 - HASH_BITS)) & HASH_MASK;
      let found = -1;
      for (let k = keys[slot]!; k !== 0; k = keys[slot]!) {
        if (k === key) {
          found = values[slot]!;
          break;
        }
        slot = (slot + 1) & HASH_MASK;
      }
      if (found >= 0) {
        code = found;
        continue;
      }
      emit(code);
      code = byte;
      if (allocate()) {
        // `slot` is the empty slot the probe above stopped at.
        keys[slot] = key;
        values[slot] = hi;
      }
    }
    emit(code);
    allocate();
  }
  emit(EOF);
  if (nBits > 0) out[pos++] = bits & 0xff;
  return out.slice(0, pos);
}

/**
 * Decompresses a Go `compress/lzw` (LSB, literal width 8) stream, as memberlist's
 * `decompressBuffer` does. Bytes after the EOF code are ignored, as Go ignores them.
 *
 * @param maxOutput the most bytes the output may hold; more throws
 *   `GN_ERR_GOSSIP_LZW_OUTPUT_TOO_LARGE` before the excess is allocated.
 * @throws LzwError on an invalid code, a stream without EOF, or output beyond `maxOutput`.
 */
export function lzwDecompress(data: Uint8Array, maxOutput: number): Uint8Array {
  if (!Number.isSafeInteger(maxOutput) || maxOutput < 0) {
    throw new InvalidOptionError(
      `lzwDecompress: maxOutput must be a finite non-negative integer, got ${maxOutput}`,
    );
  }
  const prefix = new Uint16Array(TABLE_CODES);
  const suffix = new Uint8Array(TABLE_CODES);
  const first = new Uint8Array(TABLE_CODES);
  const length = new Uint16Array(TABLE_CODES);
  for (let c = 0; c < CLEAR; c++) {
    suffix[c] = c;
    first[c] = c;
    length[c] = 1;
  }

  let out = new Uint8Array(Math.min(maxOutput, Math.max(64, data.length * 3)));
  let pos = 0;
  const reserve = (extra: number, at: number): void => {
    const need = pos + extra;
    if (need > maxOutput) {
      throw new LzwError(
        LzwErrorCodes.OUTPUT_TOO_LARGE,
        `decompressed data exceeds the limit of ${maxOutput} bytes`,
        at,
      );
    }
    if (need > out.length) {
      const grown = new Uint8Array(Math.min(maxOutput, Math.max(need, out.length * 2)));
      grown.set(out.subarray(0, pos));
      out = grown;
    }
  };

  let inPos = 0;
  let bits = 0;
  let nBits = 0;
  let width = LIT_WIDTH + 1;
  let hi = EOF; // the next entry to define
  let overflow = 1 << width;
  let last = NO_CODE;

  for (;;) {
    while (nBits < width) {
      if (inPos >= data.length) {
        throw new LzwError(LzwErrorCodes.TRUNCATED, 'LZW stream ended before EOF', inPos);
      }
      bits |= data[inPos++]! << nBits;
      nBits += 8;
    }
    const code = bits & ((1 << width) - 1);
    bits >>>= width;
    nBits -= width;

    if (code === CLEAR) {
      width = LIT_WIDTH + 1;
      hi = EOF;
      overflow = 1 << width;
      last = NO_CODE;
      continue;
    }
    if (code === EOF) break;

    let len: number;
    let head: number; // first byte of this code's string
    if (code < CLEAR || code < hi || (code === hi && last === NO_CODE && hi === TABLE_CODES - 1)) {
      // A literal or a defined entry (entry 4095 is defined once the table froze full).
      len = length[code]!;
      head = first[code]!;
      reserve(len, inPos);
      let c = code;
      for (let i = pos + len - 1; i > pos; i--) {
        out[i] = suffix[c]!;
        c = prefix[c]!;
      }
      out[pos] = c;
    } else if (code === hi && last !== NO_CODE) {
      // KwKwK: the entry being defined right now, string(last) + its own first byte.
      head = first[last]!;
      len = length[last]! + 1;
      reserve(len, inPos);
      let c = last;
      out[pos + len - 1] = head;
      for (let i = pos + len - 2; i > pos; i--) {
        out[i] = suffix[c]!;
        c = prefix[c]!;
      }
      out[pos] = c;
    } else {
      throw new LzwError(
        LzwErrorCodes.INVALID_CODE,
        `invalid LZW code ${code} (next entry ${hi})`,
        inPos,
      );
    }
    pos += len;

    if (last !== NO_CODE) {
      prefix[hi] = last;
      suffix[hi] = head;
      first[hi] = first[last]!;
      length[hi] = length[last]! + 1;
    }
    last = code;
    hi++;
    if (hi >= overflow) {
      if (width === MAX_WIDTH) {
        // Table full: keep decoding with it unchanged until the next CLEAR (as Go does).
        last = NO_CODE;
        hi--;
      } else {
        width++;
        overflow <<= 1;
      }
    }
  }
  return out.length === pos ? out : out.slice(0, pos);
}
