/**
 * QUIC variable-length integers (RFC 9000 §16): the two high bits of the first byte give
 * the length (1, 2, 4 or 8 bytes). Values are JavaScript numbers, so 8-byte values above
 * 2^53 - 1 are refused by the decoder (`decodeVarint` returns `tooLarge`).
 */

/** The largest value a varint can carry (2^62 - 1). */
export const MAX_VARINT = 2 ** 62 - 1;

export function varintLength(n: number): 1 | 2 | 4 | 8 {
  if (n < 0x40) return 1;
  if (n < 0x4000) return 2;
  if (n < 0x40000000) return 4;
  return 8;
}

/** Writes `n` at `pos` in `out` (or a new array); returns the array. */
export function encodeVarint(n: number, out?: Uint8Array, pos = 0): Uint8Array {
  if (!Number.isSafeInteger(n) || n < 0 || n > MAX_VARINT) {
    throw new RangeError(`not a QUIC varint value: ${n}`);
  }
  const len = varintLength(n);
  const buf = out ?? new Uint8Array(len);
  if (len === 1) {
    buf[pos] = n;
  } else if (len === 2) {
    buf[pos] = 0x40 | (n >>> 8);
    buf[pos + 1] = n & 0xff;
  } else if (len === 4) {
    buf[pos] = 0x80 | (n >>> 24);
    buf[pos + 1] = (n >>> 16) & 0xff;
    buf[pos + 2] = (n >>> 8) & 0xff;
    buf[pos + 3] = n & 0xff;
  } else {
    const hi = Math.floor(n / 2 ** 32);
    const lo = n >>> 0;
    buf[pos] = 0xc0 | (hi >>> 24);
    buf[pos + 1] = (hi >>> 16) & 0xff;
    buf[pos + 2] = (hi >>> 8) & 0xff;
    buf[pos + 3] = hi & 0xff;
    buf[pos + 4] = lo >>> 24;
    buf[pos + 5] = (lo >>> 16) & 0xff;
    buf[pos + 6] = (lo >>> 8) & 0xff;
    buf[pos + 7] = lo & 0xff;
  }
  return buf;
}

export interface VarintResult {
  value: number;
  /** Offset just after the varint. */
  next: number;
  /** The 8-byte value exceeded 2^53 - 1 (`value` is then not exact). */
  tooLarge?: true;
}

/** Reads a varint at `pos`; undefined when `buf` ends first. */
export function decodeVarint(buf: Uint8Array, pos: number): VarintResult | undefined {
  if (pos >= buf.length) return undefined;
  const first = buf[pos]!;
  const len = 1 << (first >> 6);
  if (pos + len > buf.length) return undefined;
  let v = first & 0x3f;
  if (len === 1) return { value: v, next: pos + 1 };
  for (let i = 1; i < len; i++) v = v * 256 + buf[pos + i]!;
  if (v > Number.MAX_SAFE_INTEGER) return { value: v, next: pos + len, tooLarge: true };
  return { value: v, next: pos + len };
}
