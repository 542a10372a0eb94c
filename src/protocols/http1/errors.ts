/** HTTP/1.1 parse errors. Match on `code`; `wireCode` is the status to answer. */
import { ProtocolError } from '../../errors.js';

/**
 * Stable codes and the HTTP status a server answers with before closing the connection
 * (RFC 9112 §2.2: a message that is not well formed is answered 400 and the connection
 * closed).
 */
export const Http1ErrorCodes = {
  INVALID_METHOD: ['GN_ERR_HTTP1_INVALID_METHOD', 400],
  METHOD_TOO_LONG: ['GN_ERR_HTTP1_METHOD_TOO_LONG', 501],
  INVALID_URL: ['GN_ERR_HTTP1_INVALID_URL', 400],
  URL_TOO_LONG: ['GN_ERR_HTTP1_URL_TOO_LONG', 414],
  INVALID_PROTOCOL: ['GN_ERR_HTTP1_INVALID_PROTOCOL', 400],
  INVALID_VERSION: ['GN_ERR_HTTP1_INVALID_VERSION', 400],
  UNSUPPORTED_VERSION: ['GN_ERR_HTTP1_UNSUPPORTED_VERSION', 505],
  INVALID_STATUS: ['GN_ERR_HTTP1_INVALID_STATUS', 400],
  UNEXPECTED_SPACE: ['GN_ERR_HTTP1_UNEXPECTED_SPACE', 400],
  INVALID_HEADER_TOKEN: ['GN_ERR_HTTP1_INVALID_HEADER_TOKEN', 400],
  INVALID_HEADER_VALUE: ['GN_ERR_HTTP1_INVALID_HEADER_VALUE', 400],
  OBS_FOLD: ['GN_ERR_HTTP1_OBS_FOLD', 400],
  BARE_CR: ['GN_ERR_HTTP1_BARE_CR', 400],
  BARE_LF: ['GN_ERR_HTTP1_BARE_LF', 400],
  INVALID_CONTENT_LENGTH: ['GN_ERR_HTTP1_INVALID_CONTENT_LENGTH', 400],
  DUPLICATE_CONTENT_LENGTH: ['GN_ERR_HTTP1_DUPLICATE_CONTENT_LENGTH', 400],
  CONTENT_LENGTH_WITH_TRANSFER_ENCODING: [
    'GN_ERR_HTTP1_CONTENT_LENGTH_WITH_TRANSFER_ENCODING',
    400,
  ],
  INVALID_TRANSFER_ENCODING: ['GN_ERR_HTTP1_INVALID_TRANSFER_ENCODING', 400],
  INVALID_CHUNK_SIZE: ['GN_ERR_HTTP1_INVALID_CHUNK_SIZE', 400],
  INVALID_CHUNK_EXTENSION: ['GN_ERR_HTTP1_INVALID_CHUNK_EXTENSION', 400],
  CHUNK_EXTENSION_TOO_LONG: ['GN_ERR_HTTP1_CHUNK_EXTENSION_TOO_LONG', 400],
  MISSING_CHUNK_CRLF: ['GN_ERR_HTTP1_MISSING_CHUNK_CRLF', 400],
  HEADERS_TOO_LARGE: ['GN_ERR_HTTP1_HEADERS_TOO_LARGE', 431],
  TOO_MANY_HEADERS: ['GN_ERR_HTTP1_TOO_MANY_HEADERS', 431],
  TRAILERS_TOO_LARGE: ['GN_ERR_HTTP1_TRAILERS_TOO_LARGE', 431],
  BODY_TOO_LARGE: ['GN_ERR_HTTP1_BODY_TOO_LARGE', 413],
  DATA_AFTER_CLOSE: ['GN_ERR_HTTP1_DATA_AFTER_CLOSE', 400],
  INCOMPLETE_MESSAGE: ['GN_ERR_HTTP1_INCOMPLETE_MESSAGE', 400],
  /** More pipelined bytes arrived while blocked than one request head can hold. */
  PIPELINE_OVERFLOW: ['GN_ERR_HTTP1_PIPELINE_OVERFLOW', 429],
} as const satisfies Record<string, readonly [string, number]>;

export type Http1ErrorKind = keyof typeof Http1ErrorCodes;

/**
 * The peer sent bytes that are not a well-formed HTTP/1.1 message, or exceeded a limit.
 * `wireCode` is the HTTP status to answer (400, 413, 414, 429, 431, 501, 505); `kind` names
 * the rule; `offset` is the index in the `execute()` input where it was detected (negative
 * when the offending byte arrived in an earlier input; 0 for `finish()`).
 */
export class Http1ParseError extends ProtocolError {
  readonly kind: Http1ErrorKind;
  readonly offset: number;

  constructor(kind: Http1ErrorKind, message: string, offset: number) {
    const [code, status] = Http1ErrorCodes[kind];
    const limit =
      kind === 'URL_TOO_LONG' ||
      kind === 'HEADERS_TOO_LARGE' ||
      kind === 'TOO_MANY_HEADERS' ||
      kind === 'TRAILERS_TOO_LARGE' ||
      kind === 'BODY_TOO_LARGE' ||
      kind === 'METHOD_TOO_LONG' ||
      kind === 'CHUNK_EXTENSION_TOO_LONG' ||
      kind === 'PIPELINE_OVERFLOW';
    super(code, message, status, limit ? 'library' : 'remote');
    this.kind = kind;
    this.offset = offset;
  }
}
