/**
 * HTTP/3 errors (STYLE §5). A connection error closes the QUIC connection with
 * CONNECTION_CLOSE carrying `wireCode` (RFC 9114 §8); a stream error resets one request
 * stream (RESET_STREAM and STOP_SENDING with `wireCode`).
 */
import { ProtocolError } from '../../errors.js';
import type { Initiator } from '../../errors.js';
import { errorCodeName } from './codes.js';

export class Http3ConnectionError extends ProtocolError {
  constructor(wireCode: number, message: string, initiator: Initiator = 'remote') {
    super(`GN_ERR_${errorCodeName(wireCode)}`, message, wireCode, initiator);
  }
}

export class Http3StreamError extends ProtocolError {
  readonly streamId: number;

  constructor(
    streamId: number,
    wireCode: number,
    message: string,
    initiator: Initiator = 'remote',
  ) {
    super(`GN_ERR_STREAM_${errorCodeName(wireCode)}`, message, wireCode, initiator);
    this.streamId = streamId;
  }
}
