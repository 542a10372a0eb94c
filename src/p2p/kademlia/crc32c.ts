/**
 * CRC-32C (Castagnoli; reflected polynomial 0x82f63b78, initial value and final XOR
 * 0xffffffff), table-driven, as BEP 42 uses to tie node ids to IP addresses.
 */

/** Reflected form of the Castagnoli polynomial 0x1edc6f41. */
const POLY = 0x82f63b78;

// Intentionally module-level: a constant lookup table, computed once, never mutated.
const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/**
 * CRC-32C of `data`, as an unsigned 32-bit integer. `crc` continues a previous result
 * (crc32c(b, crc32c(a)) === crc32c(a ‖ b)).
 */
export function crc32c(data: Uint8Array, crc = 0): number {
  let c = ~crc >>> 0;
  for (let i = 0; i < data.length; i++) c = TABLE[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}
