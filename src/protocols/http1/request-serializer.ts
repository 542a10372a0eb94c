/**
 * HTTP/1.1 request serialization (RFC 9112 §3, §6, §7): the request line, the header
 * section with Host and the framing header the body needs, chunks and the last chunk with
 * trailers. Pure functions: strings and `HeaderList`s in, bytes out.
 */
import { REQUEST_TRAILER_FORBIDDEN } from './constants.js';
import { InvalidOptionError } from '../../errors.js';
import type { HeaderList } from '../http/headers.js';

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// RFC 9112 §3.2: the request-target has no whitespace or control bytes (it is a URI).
const TARGET = /^[\x21-\x7e]+$/;
const CRLF = '\r\n';

/** How the body of a request is delimited (RFC 9112 §6.1, §6.2, §7.1). */
export type RequestFraming =
  | { readonly kind: 'none' }
  | { readonly kind: 'length'; readonly length: number }
  | { readonly kind: 'chunked' };

export interface RequestHead {
  /** Method token, sent as given (methods are case-sensitive, RFC 9110 §9.1). */
  readonly method: string;
  /** origin-form (`/path?query`), absolute-form or `*` (RFC 9112 §3.2). */
  readonly target: string;
  /** Value for Host (`host[:port]`) when `headers` has none. */
  readonly host: string;
  readonly headers: HeaderList;
  readonly framing: RequestFraming;
}

/**
 * Header fields the client manages itself: the caller may not set them, because a wrong
 * value desynchronizes the message framing (request smuggling) or the connection.
 */
const MANAGED = new Set(['transfer-encoding', 'content-length', 'upgrade', 'te', 'keep-alive']);

/** Throws `InvalidOptionError` unless `method` is a token (RFC 9110 §9.1). */
export function checkMethod(method: string): void {
  if (typeof method !== 'string' || !TOKEN.test(method)) {
    throw new InvalidOptionError(
      `method must be an HTTP token such as 'GET', got ${JSON.stringify(method)}`,
    );
  }
  if (method.toUpperCase() === 'CONNECT') {
    throw new InvalidOptionError('CONNECT is not supported by the HTTP/1.1 client');
  }
}

/**
 * Throws unless `headers` leaves framing to the client: Content-Length, Transfer-Encoding,
 * TE, Keep-Alive and Upgrade are set by the client (or not supported).
 */
export function checkRequestHeaders(headers: HeaderList): void {
  for (let i = 0; i < headers.size; i++) {
    const lower = headers.lowerNameAt(i);
    if (MANAGED.has(lower)) {
      throw new InvalidOptionError(
        `header '${headers.nameAt(i)}' is managed by the client; pass the body instead ` +
          '(its length decides between Content-Length and chunked)',
      );
    }
  }
}

/** Serializes the request line and header section, framing header included. */
export function serializeRequestHead(head: RequestHead): Uint8Array {
  checkMethod(head.method);
  if (!TARGET.test(head.target)) {
    throw new InvalidOptionError(
      `request target must be printable ASCII without spaces, got ${JSON.stringify(head.target)}`,
    );
  }
  let out = `${head.method} ${head.target} HTTP/1.1${CRLF}`;
  // RFC 9112 §3.2: a client MUST send a Host header field in every HTTP/1.1 request,
  // and it comes first (RFC 9110 §7.2 SHOULD).
  const headers = head.headers;
  if (!headers.has('host')) {
    if (!/^[^\s/?#@]+$/.test(head.host)) {
      throw new InvalidOptionError(`host must be host[:port], got ${JSON.stringify(head.host)}`);
    }
    out += `Host: ${head.host}${CRLF}`;
  }
  for (let i = 0; i < headers.size; i++) {
    out += `${headers.nameAt(i)}: ${headers.valueAt(i)}${CRLF}`;
  }
  const framing = head.framing;
  if (framing.kind === 'length') {
    if (!Number.isSafeInteger(framing.length) || framing.length < 0) {
      throw new InvalidOptionError(`body length must be a non-negative integer`);
    }
    // RFC 9112 §6.2: a body of known length is announced with Content-Length.
    out += `Content-Length: ${framing.length}${CRLF}`;
  } else if (framing.kind === 'chunked') {
    // RFC 9112 §6.1: a body of unknown length is sent chunked (the final coding).
    out += `Transfer-Encoding: chunked${CRLF}`;
  }
  out += CRLF;
  return Buffer.from(out, 'latin1');
}

/**
 * One chunk (RFC 9112 §7.1): `size-in-hex CRLF data CRLF`, as three pieces for writev.
 * An empty `data` returns no pieces: a zero-size chunk would end the body.
 */
export function encodeChunk(data: Uint8Array): Uint8Array[] {
  if (data.length === 0) return [];
  return [Buffer.from(`${data.length.toString(16)}${CRLF}`, 'latin1'), data, CRLF_BYTES];
}

const CRLF_BYTES = Buffer.from(CRLF, 'latin1');
const LAST_CHUNK = Buffer.from(`0${CRLF}${CRLF}`, 'latin1');

/** The last chunk, optional trailer section and final CRLF (RFC 9112 §7.1, §7.1.2). */
export function encodeLastChunk(trailers?: HeaderList): Uint8Array {
  if (trailers === undefined || trailers.size === 0) return LAST_CHUNK;
  let out = `0${CRLF}`;
  for (let i = 0; i < trailers.size; i++) {
    if (REQUEST_TRAILER_FORBIDDEN.has(trailers.lowerNameAt(i))) {
      throw new InvalidOptionError(
        `'${trailers.nameAt(i)}' cannot be sent as a trailer (RFC 9110 §6.5.1)`,
      );
    }
    out += `${trailers.nameAt(i)}: ${trailers.valueAt(i)}${CRLF}`;
  }
  out += CRLF;
  return Buffer.from(out, 'latin1');
}

/** The request-target in origin-form for `url` (RFC 9112 §3.2.1): path and query. */
export function originForm(url: URL): string {
  return `${url.pathname || '/'}${url.search}`;
}

/** The Host value for `url` (RFC 9110 §7.2): host and port unless it is the default. */
export function hostValue(url: URL): string {
  return url.host;
}
