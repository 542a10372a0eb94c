/** QPACK errors (RFC 9204 §6): each is an HTTP/3 connection error with its wire code. */
import { GhostnetError, ProtocolError } from '../../../errors.js';

export const QpackErrorCode = {
  QPACK_DECOMPRESSION_FAILED: 0x200,
  QPACK_ENCODER_STREAM_ERROR: 0x201,
  QPACK_DECODER_STREAM_ERROR: 0x202,
} as const;

export class QpackError extends ProtocolError {
  constructor(wireCode: number, message: string) {
    const name =
      wireCode === QpackErrorCode.QPACK_ENCODER_STREAM_ERROR
        ? 'ENCODER_STREAM_ERROR'
        : wireCode === QpackErrorCode.QPACK_DECODER_STREAM_ERROR
          ? 'DECODER_STREAM_ERROR'
          : 'DECOMPRESSION_FAILED';
    super(`GN_ERR_QPACK_${name}`, message, wireCode, 'remote');
  }
}

/**
 * A field section larger than our SETTINGS_MAX_FIELD_SECTION_SIZE (RFC 9114 §4.2.2). Not a
 * QPACK failure: the table stays in step; HTTP/3 answers it (431 on a server).
 */
export class FieldSectionTooLargeError extends GhostnetError {
  readonly size: number;

  constructor(size: number, limit: number) {
    super(
      'GN_ERR_H3_FIELD_SECTION_TOO_LARGE',
      `field section of at least ${size} bytes exceeds ${limit}`,
    );
    this.size = size;
  }
}
