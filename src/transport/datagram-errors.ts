/**
 * Errors a datagram endpoint (UDP, the in-memory network) reports through its `error`
 * event. `send` never throws (DatagramEndpoint contract); these carry stable codes instead.
 */
import { GhostnetError } from '../errors.js';

/** The datagram is larger than the endpoint's `maxDatagramSize` (or the kernel said EMSGSIZE). */
export class DatagramTooLargeError extends GhostnetError {
  readonly size: number;
  readonly limit: number;

  constructor(size: number, limit: number, options?: { cause?: unknown }) {
    super(
      'GN_ERR_DATAGRAM_TOO_LARGE',
      `Datagram of ${size} bytes exceeds the limit of ${limit} bytes`,
      options,
    );
    this.size = size;
    this.limit = limit;
  }
}

/** `send` was called on an endpoint that is closed or closing. */
export class EndpointClosedError extends GhostnetError {
  constructor(message = 'The datagram endpoint is closed') {
    super('GN_ERR_ENDPOINT_CLOSED', message);
  }
}

/** Sending failed in the kernel or in name resolution; `cause` holds the system error. */
export class DatagramSendError extends GhostnetError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('GN_ERR_DATAGRAM_SEND', message, options);
  }
}

/** The socket reported an error outside of a send; `cause` holds the system error. */
export class DatagramSocketError extends GhostnetError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('GN_ERR_DATAGRAM_SOCKET', message, options);
  }
}
