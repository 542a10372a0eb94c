/** Errors of the engine-neutral HTTP layer. */
import { GhostnetError } from '../../errors.js';

/**
 * Thrown by handlers and middleware to answer with a status: the recovery middleware and
 * the engines turn it into that response (`expose` decides whether the message is sent).
 */
export class HttpError extends GhostnetError {
  readonly status: number;
  readonly expose: boolean;
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    status: number,
    message: string,
    options: {
      code?: string;
      expose?: boolean;
      headers?: Record<string, string>;
      cause?: unknown;
    } = {},
  ) {
    super(options.code ?? `GN_ERR_HTTP_${status}`, message, { cause: options.cause });
    this.status = status;
    this.expose = options.expose ?? status < 500;
    this.headers = Object.freeze({ ...(options.headers ?? {}) });
  }
}

/** A header name or value the application tried to set is not valid on the wire. */
export class InvalidHeaderError extends GhostnetError {
  constructor(message: string) {
    super('GN_ERR_HTTP_INVALID_HEADER', message);
  }
}

/** The response was used in a way its state does not allow (write after end, …). */
export class ResponseStateError extends GhostnetError {
  constructor(message: string) {
    super('GN_ERR_HTTP_RESPONSE_STATE', message);
  }
}

/** The request body exceeded the limit set for it (answered with 413). */
export class BodyTooLargeError extends HttpError {
  constructor(limit: number) {
    super(413, `Request body exceeds ${limit} bytes`, { code: 'GN_ERR_HTTP_BODY_TOO_LARGE' });
  }
}

/** The client went away, or the stream was reset, before the body was read. */
export class RequestAbortedError extends GhostnetError {
  constructor(message = 'The request was aborted by the client', options?: { cause?: unknown }) {
    super('GN_ERR_HTTP_REQUEST_ABORTED', message, options);
  }
}
