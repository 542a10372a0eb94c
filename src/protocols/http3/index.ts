/**
 * HTTP/3 (RFC 9114) with QPACK (RFC 9204), over ghostnet's QUIC endpoint: a server on the
 * shared handler interface, a client, and the wire codecs.
 */
export { Http3Server, listenHttp3 } from './server.js';
export type { Http3ServerOptions } from './server.js';
export { Http3Client, Http3ClientResponse, Http3RequestError } from './client.js';
export type { Http3ClientOptions, Http3RequestBody, Http3RequestOptions } from './client.js';
export { Http3Session, resolveHttp3Settings } from './session.js';
export type { Http3Settings, ResolvedHttp3Settings } from './session.js';
export { FrameType, H3ErrorCode, SettingId, StreamType, errorCodeName } from './codes.js';
export { Http3ConnectionError, Http3StreamError } from './errors.js';
export * from './frames.js';
export * from './varint.js';
export * from './qpack/index.js';
export {
  CapsuleReader,
  CapsuleType,
  WT_SESSION_GONE,
  WebTransportSession,
  encodeCapsule,
  encodeCloseSession,
} from './webtransport.js';
export type { WebTransportSessionEvents } from './webtransport.js';
