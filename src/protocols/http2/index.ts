/**
 * ghostnet/http2: HTTP/2 (RFC 9113) with HPACK (RFC 7541): the sans-I/O connection core,
 * the server and client bindings on the shared handler interface, and a server that
 * speaks HTTP/1.1 and HTTP/2 on one port.
 */
export { ErrorCode, FrameType, SettingId, errorCodeName } from './codes.js';
export { Http2ConnectionError, Http2StreamError, HpackError } from './errors.js';
export { DEFAULT_HTTP2_LIMITS, resolveHttp2Limits } from './limits.js';
export type { Http2Limits } from './limits.js';
export { Http2Connection } from './connection.js';
export type {
  Http2ConnectionHandler,
  Http2ConnectionOptions,
  Http2PeerSettings,
  Http2Role,
} from './connection.js';
export { Http2Stream } from './stream.js';
export type { RequestFields, ResponseFields } from './fields.js';
export { HpackDecoder, HpackEncoder } from './hpack/index.js';
export type { HpackDecoderOptions, HpackEncoderOptions, HpackHeaderBlock } from './hpack/index.js';
export { Http2Server, createHttp2Server, listenHttp2 } from './server.js';
export type { Http2ServerOptions, Http2TlsOptions, Http2Tunnel } from './server.js';
export { HttpServer, listenHttp } from './http-server.js';
export type { HttpServerOptions } from './http-server.js';
