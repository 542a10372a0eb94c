/**
 * ghostnet/http1: the HTTP/1.1 server (binding and sans-I/O core), the incremental parser,
 * the response serializer, limits and errors.
 */
export {
  createHttp1Server,
  listenHttp1,
  Http1Server,
  type Http1ServerOptions,
  type Http1TlsOptions,
} from './server.js';
export {
  Http1ServerConnection,
  Http1ConnectionState,
  DEFAULT_HTTP1_SERVER_TIMEOUTS,
  DEFAULT_MAX_DISCARD_BYTES,
  resolveHttp1ServerTimeouts,
  type Http1ServerConnectionHandler,
  type Http1ServerConnectionOptions,
  type Http1ServerTimeouts,
  type Http1RequestInfo,
} from './server-connection.js';
export {
  DateCache,
  Framing,
  ResponseFramingError,
  ResponseHeadResult,
  STATUS_REASONS,
  encodeResponseHead,
  encodeInformational,
  encodeErrorResponse,
  statusLine,
  chunkHeader,
  lastChunk,
  type ResponseContext,
} from './serializer.js';
export { Http1Parser, type Http1ParserOptions } from './parser.js';
export type { Http1HeadersInfo, Http1ParserHandler } from './handler.js';
export {
  ExecuteStatus,
  HeadersCompleteAction,
  Http1Flags,
  type Http1MessageKind,
} from './constants.js';
export { DEFAULT_HTTP1_LIMITS, resolveHttp1Limits, type Http1Limits } from './limits.js';
export { Http1ParseError, Http1ErrorCodes, type Http1ErrorKind } from './errors.js';

// Client: the pooled HTTP/1.1 client, its sans-I/O core and its helpers.
export {
  Http1Client,
  Agent,
  ClientResponse,
  HeadersTimeoutError,
  BodyTimeoutError,
  ResponseTooLargeError,
  DecompressError,
  CookieJar,
  TooManyRedirectsError,
  Http1ClientError,
} from './client.js';
export type {
  RequestBody,
  RequestTimeouts,
  RequestOptions,
  Http1ClientOptions,
  Http1ClientComponents,
} from './client.js';
export {
  Http1ClientConnection,
  Http1ClientErrorCodes,
  type Http1ClientEvent,
  type Http1ClientRequest,
  type Http1ClientConnectionOptions,
} from './client-connection.js';
export type { Cookie, CookieJarOptions, CookieJarComponents } from './cookie-jar.js';
export { DEFAULT_MAX_REDIRECTS, isRedirect } from './redirect.js';
