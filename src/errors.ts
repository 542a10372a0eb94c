/**
 * The error hierarchy shared by every ghostnet module (STYLE §5).
 *
 * - `code` is a stable string (`GN_ERR_*`), like ws's `WS_ERR_*` and undici's `UND_ERR_*`:
 *   match on it, never on the message.
 * - `ProtocolError.wireCode` is the code the protocol itself puts on the wire (an HTTP
 *   status, a WebSocket close code, an HTTP/2 error code, a KRPC error code).
 * - `initiator` says who broke the rules: the local application ('local', h11's
 *   LocalProtocolError), the peer ('remote', RemoteProtocolError) or ghostnet itself
 *   ('library', e.g. a limit we enforce).
 */
export class GhostnetError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

export type Initiator = 'local' | 'remote' | 'library';

export class ProtocolError extends GhostnetError {
  readonly wireCode: number;
  readonly initiator: Initiator;

  constructor(
    code: string,
    message: string,
    wireCode: number,
    initiator: Initiator,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
    this.wireCode = wireCode;
    this.initiator = initiator;
  }
}

/** An option passed to a constructor or function is invalid. The message names the fix. */
export class InvalidOptionError extends GhostnetError {
  constructor(message: string) {
    super('GN_ERR_INVALID_OPTION', message);
  }
}

/** The operation was aborted through an AbortSignal. */
export class AbortError extends GhostnetError {
  constructor(message = 'The operation was aborted', options?: { cause?: unknown }) {
    super('GN_ERR_ABORTED', message, options);
  }
}

/** A deadline passed before the operation finished. */
export class TimeoutError extends GhostnetError {
  constructor(message = 'The operation timed out', options?: { cause?: unknown }) {
    super('GN_ERR_TIMEOUT', message, options);
  }
}

/** True when `err` is a ghostnet error with the given code. */
export function hasCode(err: unknown, code: string): boolean {
  return err instanceof GhostnetError && err.code === code;
}
