/** Transport-level errors. Codes are stable; match on `code`. */
import { GhostnetError } from '../errors.js';

/** Connecting failed (refused, unreachable, DNS); `cause` holds the system error. */
export class ConnectError extends GhostnetError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('GN_ERR_CONNECT', message, options);
  }
}

/** The connect attempt took longer than `connectTimeoutMs`. */
export class ConnectTimeoutError extends GhostnetError {
  constructor(ms: number) {
    super('GN_ERR_CONNECT_TIMEOUT', `Connect did not complete within ${ms} ms`);
  }
}

/** No traffic for `idleTimeoutMs`; the connection was destroyed. */
export class IdleTimeoutError extends GhostnetError {
  constructor(ms: number) {
    super('GN_ERR_IDLE_TIMEOUT', `No traffic for ${ms} ms`);
  }
}

/** `write` was called after `end`, `close` or `destroy`. */
export class WriteAfterEndError extends GhostnetError {
  constructor() {
    super('GN_ERR_WRITE_AFTER_END', 'write after end: the connection is no longer writable');
  }
}

/** The connection closed while an operation on it was still pending. */
export class ConnectionClosedError extends GhostnetError {
  constructor(message = 'The connection closed', options?: { cause?: unknown }) {
    super('GN_ERR_CONNECTION_CLOSED', message, options);
  }
}

/** A TLS handshake or certificate check failed; `cause` holds the OpenSSL error. */
export class TlsError extends GhostnetError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('GN_ERR_TLS', message, options);
  }
}

/** Binding a listener or datagram socket failed (address in use, permission). */
export class BindError extends GhostnetError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('GN_ERR_BIND', message, options);
  }
}
