/**
 * QPACK errors (RFC 9204 §6). Each is an HTTP/3 connection error (RFC 9114 §8) carrying its
 * wire code: after any of them the two dynamic tables can no longer be trusted to agree,
 * so the connection ends.
 */
import { GhostnetError, ProtocolError } from '../../../errors.js';
import type { Initiator } from '../../../errors.js';

/** The QPACK error codes (RFC 9204 §6, §8.3). */
export const QpackErrorCode = {
  /** The decoder failed to interpret an encoded field section. */
  QPACK_DECOMPRESSION_FAILED: 0x200,
  /** The decoder failed to interpret an encoder instruction on the encoder stream. */
  QPACK_ENCODER_STREAM_ERROR: 0x201,
  /** The encoder failed to interpret a decoder instruction on the decoder stream. */
  QPACK_DECODER_STREAM_ERROR: 0x202,
} as const;
export type QpackErrorCode = (typeof QpackErrorCode)[keyof typeof QpackErrorCode];

const CODE_NAMES: Readonly<Record<QpackErrorCode, string>> = {
  [QpackErrorCode.QPACK_DECOMPRESSION_FAILED]: 'DECOMPRESSION_FAILED',
  [QpackErrorCode.QPACK_ENCODER_STREAM_ERROR]: 'ENCODER_STREAM_ERROR',
  [QpackErrorCode.QPACK_DECODER_STREAM_ERROR]: 'DECODER_STREAM_ERROR',
};

/**
 * A QPACK failure: `code` is `GN_ERR_QPACK_DECOMPRESSION_FAILED`,
 * `GN_ERR_QPACK_ENCODER_STREAM_ERROR` or `GN_ERR_QPACK_DECODER_STREAM_ERROR`; `wireCode`
 * is the matching 0x200–0x202 to close the connection with.
 */
export class QpackError extends ProtocolError {
  constructor(wireCode: QpackErrorCode, message: string, initiator: Initiator = 'remote') {
    super(`GN_ERR_QPACK_${CODE_NAMES[wireCode]}`, message, wireCode, initiator);
  }
}

/**
 * A field section larger than our limit (SETTINGS_MAX_FIELD_SECTION_SIZE, RFC 9114 §4.2.2:
 * name + value + 32 octets per field). Not a QPACK failure: the section was acknowledged,
 * the tables stay in step, and HTTP/3 decides the answer (431, or H3_EXCESSIVE_LOAD).
 */
export class FieldSectionTooLargeError extends GhostnetError {
  /** The size reached when decoding stopped (a lower bound of the section's size). */
  readonly size: number;
  readonly limit: number;

  constructor(size: number, limit: number) {
    super(
      'GN_ERR_H3_FIELD_SECTION_TOO_LARGE',
      `field section of at least ${size} bytes exceeds the limit of ${limit} (RFC 9114 §4.2.2)`,
    );
    this.size = size;
    this.limit = limit;
  }
}
