/**
 * HTTP/2 errors (STYLE §5). A connection error ends the connection with GOAWAY carrying
 * `wireCode`; a stream error resets one stream with RST_STREAM (RFC 9113 §5.4).
 */
import { ProtocolError } from '../../errors.js';
import type { Initiator } from '../../errors.js';
import { ErrorCode, errorCodeName } from './codes.js';

/** A connection error (RFC 9113 §5.4.1): GOAWAY with `wireCode`, then close. */
export class Http2ConnectionError extends ProtocolError {
  constructor(wireCode: number, message: string, initiator: Initiator = 'remote') {
    super(`GN_ERR_H2_${errorCodeName(wireCode)}`, message, wireCode, initiator);
  }
}

/** A stream error (RFC 9113 §5.4.2): RST_STREAM with `wireCode` on `streamId`. */
export class Http2StreamError extends ProtocolError {
  readonly streamId: number;

  constructor(
    streamId: number,
    wireCode: number,
    message: string,
    initiator: Initiator = 'remote',
  ) {
    super(`GN_ERR_H2_STREAM_${errorCodeName(wireCode)}`, message, wireCode, initiator);
    this.streamId = streamId;
  }
}

/**
 * A header block that cannot be decoded (RFC 7541 §2.3.3, §4.2, §5.2, §6). Always a
 * connection error of type COMPRESSION_ERROR (RFC 9113 §4.3): the decoder's dynamic table
 * is no longer in step with the peer's encoder.
 */
export class HpackError extends ProtocolError {
  constructor(message: string) {
    super('GN_ERR_H2_COMPRESSION_ERROR', message, ErrorCode.COMPRESSION_ERROR, 'remote');
  }
}
