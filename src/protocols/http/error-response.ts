/**
 * The response every engine sends when a handler throws before writing its head: the
 * status and message of an `HttpError` (or of a peer-caused `ProtocolError` carrying an
 * HTTP status), else 500 with nothing of the error exposed.
 */
import { ProtocolError } from '../../errors.js';
import { HttpError } from './errors.js';
import { HeaderList } from './headers.js';
import { STATUS_REASONS } from './status.js';

const TEXT_HEADERS = Object.freeze({ 'content-type': 'text/plain; charset=utf-8' });

export interface ErrorResponse {
  status: number;
  headers: HeaderList;
  body: Uint8Array;
  /** An unexpected error (a bug, not an HttpError): the engine logs it. */
  unexpected: boolean;
}

export function errorResponse(err: unknown): ErrorResponse {
  let status = 500;
  let message = STATUS_REASONS[500]!;
  let extra: Readonly<Record<string, string>> = {};
  let unexpected = false;
  if (err instanceof HttpError) {
    status = err.status;
    message = err.expose ? err.message : (STATUS_REASONS[status] ?? 'Error');
    extra = err.headers;
  } else if (
    err instanceof ProtocolError &&
    err.wireCode >= 400 &&
    err.wireCode <= 599 &&
    err.initiator !== 'local'
  ) {
    status = err.wireCode;
    message = STATUS_REASONS[status] ?? 'Error';
  } else {
    unexpected = true;
  }
  if (status < 200 || status > 599) status = 500;
  const body = Buffer.from(message, 'utf8');
  const headers = new HeaderList(TEXT_HEADERS);
  try {
    headers.appendAll(extra);
  } catch {
    // invalid extra headers from the error: ignore them
  }
  headers.set('content-length', body.length);
  return { status, headers, body, unexpected };
}
