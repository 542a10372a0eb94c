/** QUIC transport errors (RFC 9000 §20). Codes are stable; match on `code`. */
import { GhostnetError } from '../../errors.js';

/** RFC 9000 §20.1 transport error codes. CRYPTO_ERROR is 0x0100 + the TLS alert. */
export const QuicTransportErrorCode = {
  NO_ERROR: 0x00,
  INTERNAL_ERROR: 0x01,
  CONNECTION_REFUSED: 0x02,
  FLOW_CONTROL_ERROR: 0x03,
  STREAM_LIMIT_ERROR: 0x04,
  STREAM_STATE_ERROR: 0x05,
  FINAL_SIZE_ERROR: 0x06,
  FRAME_ENCODING_ERROR: 0x07,
  TRANSPORT_PARAMETER_ERROR: 0x08,
  CONNECTION_ID_LIMIT_ERROR: 0x09,
  PROTOCOL_VIOLATION: 0x0a,
  INVALID_TOKEN: 0x0b,
  APPLICATION_ERROR: 0x0c,
  CRYPTO_BUFFER_EXCEEDED: 0x0d,
  KEY_UPDATE_ERROR: 0x0e,
  AEAD_LIMIT_REACHED: 0x0f,
  NO_VIABLE_PATH: 0x10,
} as const;

/**
 * The connection closed with an error: by the peer (`remote`) or by us (`local`, e.g. an
 * idle timeout or a failed handshake). `isApp` separates application codes (HTTP/3's
 * H3_*) from transport codes.
 */
export class QuicConnectionError extends GhostnetError {
  readonly isApp: boolean;
  readonly errorCode: number;
  readonly reason: string;
  readonly initiator: 'local' | 'remote';

  constructor(
    initiator: 'local' | 'remote',
    isApp: boolean,
    errorCode: number,
    reason: string,
    code = 'GN_ERR_QUIC_CLOSED',
  ) {
    const kind = isApp ? 'application' : 'transport';
    super(
      code,
      `QUIC connection closed by ${initiator === 'local' ? 'us' : 'the peer'}: ${kind} error 0x${errorCode.toString(16)}${reason === '' ? '' : ` (${reason})`}`,
    );
    this.isApp = isApp;
    this.errorCode = errorCode;
    this.reason = reason;
    this.initiator = initiator;
  }
}

/** The connection timed out (no packet from the peer within the idle timeout). */
export class QuicIdleTimeoutError extends GhostnetError {
  constructor() {
    super('GN_ERR_QUIC_IDLE_TIMEOUT', 'QUIC connection idle timeout');
  }
}

/** The TLS handshake failed (certificate, ALPN, version). */
export class QuicHandshakeError extends GhostnetError {
  readonly errorCode: number;

  constructor(errorCode: number, message: string) {
    super('GN_ERR_QUIC_HANDSHAKE', message);
    this.errorCode = errorCode;
  }
}

/** The peer's stream limit is reached: no stream can be opened until it raises it. */
export class QuicStreamLimitError extends GhostnetError {
  constructor(uni: boolean) {
    super(
      'GN_ERR_QUIC_STREAM_LIMIT',
      `the peer allows no more ${uni ? 'unidirectional' : 'bidirectional'} streams right now`,
    );
  }
}

/** The peer reset the stream (RESET_STREAM) with an application error code. */
export class QuicStreamResetError extends GhostnetError {
  readonly errorCode: number;

  constructor(errorCode: number) {
    super(
      'GN_ERR_QUIC_STREAM_RESET',
      `the peer reset the stream with code 0x${errorCode.toString(16)}`,
    );
    this.errorCode = errorCode;
  }
}

/** The peer asked us to stop sending (STOP_SENDING) with an application error code. */
export class QuicStopSendingError extends GhostnetError {
  readonly errorCode: number;

  constructor(errorCode: number) {
    super(
      'GN_ERR_QUIC_STOP_SENDING',
      `the peer stopped reading the stream with code 0x${errorCode.toString(16)}`,
    );
    this.errorCode = errorCode;
  }
}

/** quiche refused an operation (`InvalidStreamState`, `FlowControl`, …): a bug or misuse. */
export class QuicInternalError extends GhostnetError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('GN_ERR_QUIC_INTERNAL', message, options);
  }
}
