/**
 * memberlist's compression wrapper (util.go `compressPayload` / `decompressPayload`, net.go
 * `type compress struct { Algo compressionType; Buf []byte }`):
 *
 * ```
 * [compressMsg = 9: u8] msgpack{ "Algo": 0 (lzwAlgo), "Buf": <Go compress/lzw, LSB, 8> }
 * ```
 *
 * memberlist encodes with go-codec's default `MsgpackHandle{}`, whose `WriteExt` is false:
 * a `[]byte` is written in the *old* msgpack "raw" family (fixstr 0xa0-0xbf, str16 0xda,
 * str32 0xdb — never str8 0xd9 nor bin), a struct is a map keyed by field name in
 * declaration order, and the `uint8` Algo is a positive fixint. We write exactly those bytes.
 * Decoding is as lenient as go-codec's: Buf may be raw/str/bin (or an array of bytes), keys
 * in any order, unknown keys skipped, a missing Algo is 0.
 */
import { Decoder } from '@msgpack/msgpack';
import { GhostnetError } from '../../../errors.js';
import { lzwCompress, lzwDecompress } from './lzw.js';

/** memberlist's `compressMsg` message type. */
export const COMPRESS_MSG_TYPE = 9;
/** memberlist's `lzwAlgo`, the only compression algorithm. */
export const LZW_ALGO = 0;
/**
 * What current memberlist refuses to decompress beyond (`maxDecompressedBytes`, 2 × 20 MiB).
 * Packets are far smaller (≤ ~1.4 KB on UDP); pass a much smaller `maxOutput` for them.
 */
export const MEMBERLIST_MAX_DECOMPRESSED_BYTES = 2 * 20 * 1024 * 1024;

/** Error codes for a malformed compress message. */
export const GossipCompressErrorCodes = {
  /** The body is not a msgpack map/array with a byte-string Buf. */
  MALFORMED: 'GN_ERR_GOSSIP_COMPRESS_MALFORMED',
  /** Algo is not lzwAlgo (0). */
  UNKNOWN_ALGORITHM: 'GN_ERR_GOSSIP_COMPRESS_ALGORITHM',
} as const;

export type GossipCompressErrorCode =
  (typeof GossipCompressErrorCodes)[keyof typeof GossipCompressErrorCodes];

/** A compress message from a peer that cannot be unwrapped (LZW errors are LzwError). */
export class GossipCompressError extends GhostnetError {
  constructor(code: GossipCompressErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

// Fixed prefix: fixmap(2) "Algo" 0 "Buf" — then the raw header and the LZW bytes.
const PREFIX = Uint8Array.of(
  COMPRESS_MSG_TYPE,
  0x82,
  0xa4,
  ...new TextEncoder().encode('Algo'),
  LZW_ALGO,
  0xa3,
  ...new TextEncoder().encode('Buf'),
);

/**
 * Compresses `msg` into a whole compress message, type byte included, byte-identical to
 * memberlist's `compressPayload`. (memberlist only sends it when it is shorter than `msg`
 * on packets; streams are always wrapped when compression is on.)
 */
export function compressPayload(msg: Uint8Array): Uint8Array {
  const buf = lzwCompress(msg);
  const n = buf.length;
  const header = n < 32 ? 1 : n < 0x10000 ? 3 : 5;
  const out = new Uint8Array(PREFIX.length + header + n);
  out.set(PREFIX);
  let at = PREFIX.length;
  if (n < 32) {
    out[at++] = 0xa0 | n;
  } else if (n < 0x10000) {
    out[at++] = 0xda;
    out[at++] = n >>> 8;
    out[at++] = n & 0xff;
  } else {
    out[at++] = 0xdb;
    new DataView(out.buffer).setUint32(at, n);
    at += 4;
  }
  out.set(buf, at);
  return out;
}

/** The decoded `compress` struct. */
export interface CompressBody {
  algo: number;
  buf: Uint8Array;
}

const malformed = (why: string, cause?: unknown): GossipCompressError =>
  new GossipCompressError(
    GossipCompressErrorCodes.MALFORMED,
    `malformed compress message: ${why}`,
    cause === undefined ? undefined : { cause },
  );

function asBytes(value: unknown): Uint8Array {
  if (value instanceof Uint8Array) return value;
  if (value === null || value === undefined) return new Uint8Array(0); // Go: nil slice
  if (Array.isArray(value) && value.every((b) => Number.isInteger(b) && b >= 0 && b <= 255)) {
    return Uint8Array.from(value as number[]);
  }
  throw malformed('Buf is not a byte string');
}

/**
 * Decodes the msgpack body of a compress message (the bytes after the type byte) without
 * decompressing it. Trailing bytes are ignored, as go-codec ignores them.
 */
export function decodeCompressBody(body: Uint8Array): CompressBody {
  let value: unknown;
  try {
    const decoder = new Decoder({ rawStrings: true, maxExtLength: 0 });
    const first = decoder.decodeMulti(body).next();
    if (first.done === true) throw malformed('empty body');
    value = first.value;
  } catch (err) {
    if (err instanceof GossipCompressError) throw err;
    throw malformed('not msgpack', err);
  }
  let algo: unknown = LZW_ALGO;
  let buf: unknown;
  if (Array.isArray(value)) {
    // go-codec also decodes a struct from an array of its fields in order.
    [algo = LZW_ALGO, buf] = value as unknown[];
  } else if (value !== null && typeof value === 'object' && !(value instanceof Uint8Array)) {
    const map = value as Record<string, unknown>;
    if (Object.hasOwn(map, 'Algo')) algo = map.Algo;
    buf = map.Buf;
  } else {
    throw malformed('not a map');
  }
  if (typeof algo !== 'number' || !Number.isInteger(algo) || algo < 0 || algo > 255) {
    throw malformed('Algo is not a uint8');
  }
  return { algo, buf: asBytes(buf) };
}

/**
 * Unwraps and decompresses a compress message, as memberlist's `decompressPayload`.
 *
 * @param body the message after its `compressMsg` type byte.
 * @param maxOutput the largest decompressed size accepted (see {@link lzwDecompress}).
 * @throws GossipCompressError for a malformed body or unknown algorithm, LzwError for bad
 *   LZW data or output beyond `maxOutput`.
 */
export function decompressPayload(body: Uint8Array, maxOutput: number): Uint8Array {
  const { algo, buf } = decodeCompressBody(body);
  if (algo !== LZW_ALGO) {
    throw new GossipCompressError(
      GossipCompressErrorCodes.UNKNOWN_ALGORITHM,
      `cannot decompress unknown algorithm ${algo}`,
    );
  }
  return lzwDecompress(buf, maxOutput);
}
