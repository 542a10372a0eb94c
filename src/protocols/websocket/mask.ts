/**
 * Payload masking (RFC 6455 §5.3): octet i of the payload is XORed with octet (i mod 4) of
 * the masking key. The fast path XORs 32-bit words (STYLE §12) once the buffer is aligned.
 */

/** Below this many bytes a plain byte loop beats setting up a word view. */
const WORD_THRESHOLD = 32;

/** Byte order of this machine, fixed at load (a constant, not mutable state). */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * XOR `buf` in place with the 4-byte `mask`. `offset` is the position of `buf[0]` within
 * the frame payload (so a payload unmasked in several chunks keeps the key's phase).
 */
export function applyMask(buf: Uint8Array, mask: Uint8Array, offset = 0): void {
  applyMaskBytes(buf, mask[0]!, mask[1]!, mask[2]!, mask[3]!, offset);
}

/**
 * `applyMask` with the key as its four octets: a parser keeps them in four small-integer
 * fields instead of a 4-byte array per connection (a Uint8Array and its ArrayBuffer cost
 * ~180 bytes of heap on every idle connection).
 */
export function applyMaskBytes(
  buf: Uint8Array,
  m0: number,
  m1: number,
  m2: number,
  m3: number,
  offset: number,
): void {
  const n = buf.length;
  let i = 0;
  if (n >= WORD_THRESHOLD) {
    // Align to a 4-byte boundary of the underlying ArrayBuffer.
    while ((buf.byteOffset + i) & 3) {
      buf[i] = buf[i]! ^ keyOctet(m0, m1, m2, m3, offset + i);
      i++;
    }
    const p = (offset + i) & 3;
    const b0 = p === 0 ? m0 : p === 1 ? m1 : p === 2 ? m2 : m3;
    const b1 = p === 0 ? m1 : p === 1 ? m2 : p === 2 ? m3 : m0;
    const b2 = p === 0 ? m2 : p === 1 ? m3 : p === 2 ? m0 : m1;
    const b3 = p === 0 ? m3 : p === 1 ? m0 : p === 2 ? m1 : m2;
    const word = LITTLE_ENDIAN
      ? (b0 | (b1 << 8) | (b2 << 16) | (b3 << 24)) >>> 0
      : ((b0 << 24) | (b1 << 16) | (b2 << 8) | b3) >>> 0;
    const words = (n - i) >>> 2;
    const view = new Uint32Array(buf.buffer, buf.byteOffset + i, words);
    for (let k = 0; k < words; k++) view[k] = view[k]! ^ word;
    i += words << 2;
  }
  for (; i < n; i++) buf[i] = buf[i]! ^ keyOctet(m0, m1, m2, m3, offset + i);
}

function keyOctet(m0: number, m1: number, m2: number, m3: number, at: number): number {
  const p = at & 3;
  return p === 0 ? m0 : p === 1 ? m1 : p === 2 ? m2 : m3;
}

/** Copy `src` into `dst` at `at` and mask the copy; `src` is left untouched. */
export function maskInto(src: Uint8Array, dst: Uint8Array, at: number, mask: Uint8Array): void {
  dst.set(src, at);
  applyMask(dst.subarray(at, at + src.length), mask, 0);
}
