/** Constants of the HTTP/1.1 core (RFC 9112). */

/** Which side of the exchange a parser reads. */
export type Http1MessageKind = 'request' | 'response';

/**
 * Bits of `Http1HeadersInfo.flags`. The values match llhttp's `F_*` flags so logs and
 * conformance vectors compare directly.
 */
export const Http1Flags = {
  /** `Connection: keep-alive` was present. */
  CONNECTION_KEEP_ALIVE: 0x1,
  /** `Connection: close` was present. */
  CONNECTION_CLOSE: 0x2,
  /** `Connection: upgrade` was present. */
  CONNECTION_UPGRADE: 0x4,
  /** The body uses the chunked transfer coding (RFC 9112 §7.1). */
  CHUNKED: 0x8,
  /** An `Upgrade` header field was present. */
  UPGRADE: 0x10,
  /** A `Content-Length` header field was present. */
  CONTENT_LENGTH: 0x20,
  /** A `Transfer-Encoding` header field was present. */
  TRANSFER_ENCODING: 0x200,
} as const;

/** What `onHeadersComplete` may return. */
export const HeadersCompleteAction = {
  /** Parse the body as the headers describe. */
  NORMAL: 0,
  /** The message has no body (e.g. the response to a HEAD request). */
  SKIP_BODY: 1,
  /** Stop after this head: the following bytes belong to another protocol. */
  UPGRADE: 2,
} as const;
export type HeadersCompleteAction =
  (typeof HeadersCompleteAction)[keyof typeof HeadersCompleteAction];

/** Why `execute()` returned before consuming all of its input. */
export const ExecuteStatus = {
  /** All bytes were consumed. */
  OK: 0,
  /** A parse error; see `parser.error`. */
  ERROR: 1,
  /** Upgrade or CONNECT: bytes from `parser.consumed` on belong to the tunnel. */
  UPGRADE: 2,
  /** `maxPipelinedRequests` requests await `releaseMessage()`; feed the rest later. */
  BLOCKED: 3,
} as const;
export type ExecuteStatus = (typeof ExecuteStatus)[keyof typeof ExecuteStatus];

export const CR = 0x0d;
export const LF = 0x0a;
export const SP = 0x20;
export const HTAB = 0x09;
export const COLON = 0x3a;
export const SEMICOLON = 0x3b;
export const COMMA = 0x2c;
export const EQUALS = 0x3d;
export const DQUOTE = 0x22;
export const BACKSLASH = 0x5c;

/**
 * Fields that must not be sent as trailers (RFC 9110 §6.5.1): message framing, routing,
 * authentication and the content metadata a recipient needs before the body.
 */
const TRAILER_FORBIDDEN_COMMON = [
  'transfer-encoding',
  'content-length',
  'host',
  'trailer',
  'te',
  'connection',
  'keep-alive',
  'upgrade',
  'authorization',
  'set-cookie',
  'content-encoding',
  'content-type',
  'content-range',
] as const;

/** Trailers a client refuses to send: the common set plus request-only controls. */
export const REQUEST_TRAILER_FORBIDDEN: ReadonlySet<string> = new Set([
  ...TRAILER_FORBIDDEN_COMMON,
  'proxy-authorization',
  'cookie',
  'expect',
]);

/** Trailers a server drops: the common set plus response controls caches act on early. */
export const RESPONSE_TRAILER_FORBIDDEN: ReadonlySet<string> = new Set([
  ...TRAILER_FORBIDDEN_COMMON,
  'cache-control',
  'expires',
  'date',
]);
