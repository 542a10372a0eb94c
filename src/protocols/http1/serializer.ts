/**
 * HTTP/1.1 response serialization (RFC 9112 §4, §6, §7): status line, header section with
 * the framing and connection fields the server manages, chunked body framing and trailers.
 *
 * Output is latin1 text (heads, chunk-size lines) that the connection core concatenates and
 * encodes once per flush (STYLE §12: precomputed status lines, one Buffer per batch). The
 * functions here are pure; the clock is an input (`DateCache.get(nowMs)`).
 */
import { RESPONSE_TRAILER_FORBIDDEN } from './constants.js';
import { GhostnetError } from '../../errors.js';
import type { HeaderList } from '../http/headers.js';
import { STATUS_REASONS } from '../http/status.js';
import { REASON_CHAR } from './tokens.js';

export { STATUS_REASONS };

export const CRLF = '\r\n';

/** The application asked for a response the wire cannot carry (bad status, reason, length). */
export class ResponseFramingError extends GhostnetError {
  constructor(message: string) {
    super('GN_ERR_HTTP1_RESPONSE_FRAMING', message);
  }
}

/** Precomputed `HTTP/1.1 <code> <reason>\r\n` for every status with a registered reason. */
const STATUS_LINES: string[] = (() => {
  const lines: string[] = [];
  for (const [code, reason] of Object.entries(STATUS_REASONS)) {
    lines[Number(code)] = `HTTP/1.1 ${code} ${reason}\r\n`;
  }
  return lines;
})();

function validReason(reason: string): boolean {
  for (let i = 0; i < reason.length; i++) {
    const c = reason.charCodeAt(i);
    if (c > 0xff || REASON_CHAR[c] !== 1) return false;
  }
  return true;
}

/**
 * The status line (RFC 9112 §4). The server always sends its own version, HTTP/1.1, also to
 * HTTP/1.0 clients (RFC 9110 §6.2). `reason` must be HTAB / SP / VCHAR / obs-text.
 */
export function statusLine(status: number, reason?: string): string {
  if (!Number.isInteger(status) || status < 100 || status > 999) {
    throw new ResponseFramingError(`Invalid status code ${String(status)}: use 100–999`);
  }
  if (reason === undefined || reason === STATUS_REASONS[status]) {
    const pre = STATUS_LINES[status];
    if (pre !== undefined) return pre;
    return `HTTP/1.1 ${status} \r\n`;
  }
  if (!validReason(reason)) {
    throw new ResponseFramingError('Invalid reason phrase: control bytes are not allowed');
  }
  return `HTTP/1.1 ${status} ${reason}\r\n`;
}

/**
 * IMF-fixdate for the Date header (RFC 9110 §6.6.1, §5.6.7), recomputed once per second.
 * Share one per server; `get` takes the wall-clock time in ms.
 */
export class DateCache {
  #second = -1;
  #value = '';
  #line = '';

  /** The Date field value for `nowMs` (e.g. `Sun, 06 Nov 1994 08:49:37 GMT`). */
  get(nowMs: number): string {
    const second = Math.floor(nowMs / 1000);
    if (second !== this.#second) {
      this.#second = second;
      this.#value = new Date(second * 1000).toUTCString();
      this.#line = `Date: ${this.#value}\r\n`;
    }
    return this.#value;
  }

  /** `Date: <value>\r\n`. */
  line(nowMs: number): string {
    this.get(nowMs);
    return this.#line;
  }
}

/** How a response body is delimited (RFC 9112 §6.3). */
export const Framing = {
  /** No body: HEAD, 1xx, 204, 304 (RFC 9110 §9.3.2, §15.3.5, §15.4.5). */
  NONE: 0,
  /** Content-Length. */
  LENGTH: 1,
  /** Transfer-Encoding: chunked (HTTP/1.1 clients only, RFC 9112 §7.1). */
  CHUNKED: 2,
  /** Until the connection closes (HTTP/1.0 clients, RFC 9112 §6.3 item 8). */
  CLOSE: 3,
} as const;
export type Framing = (typeof Framing)[keyof typeof Framing];

/** What the request side says about the response being encoded. */
export interface ResponseContext {
  /** The request method was HEAD: no body, but Content-Length is kept (RFC 9110 §9.3.2). */
  readonly head: boolean;
  /** Minor version of the client (0 → HTTP/1.0: no chunked, keep-alive only on request). */
  readonly clientMinor: number;
  /** The connection may stay open after this response (request side and server state). */
  readonly keepAlive: boolean;
  /** The head is the whole response (no body follows). */
  readonly end: boolean;
  /** The Date field value (`DateCache.get(now)`). */
  readonly date: string;
}

/** Filled by `encodeResponseHead`: how the body must be framed and whether to close after. */
export class ResponseHeadResult {
  framing: Framing = Framing.NONE;
  /** Declared Content-Length, or -1. */
  contentLength = -1;
  /** The connection closes after this response. */
  close = false;
}

function hasToken(value: string, token: string): boolean {
  const v = value.toLowerCase();
  let start = 0;
  while (start <= v.length) {
    let end = v.indexOf(',', start);
    if (end < 0) end = v.length;
    if (v.slice(start, end).trim() === token) return true;
    start = end + 1;
  }
  return false;
}

function parseLength(value: string): number {
  if (value.length === 0 || value.length > 15) return -1;
  let n = 0;
  for (let i = 0; i < value.length; i++) {
    const d = value.charCodeAt(i) - 0x30;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

/**
 * Encodes a final response head. Managed fields:
 * - `Connection`: the application's value is replaced by the server's decision (`close`,
 *   `keep-alive` for a persistent HTTP/1.0 connection, nothing otherwise). An application
 *   `Connection: close` is honoured (RFC 9112 §9.6).
 * - `Transfer-Encoding`: dropped; the server chooses chunked itself when needed (a
 *   transfer coding other than chunked is not offered, RFC 9112 §6.1).
 * - `Content-Length`: kept and enforced; removed from 1xx and 204 (RFC 9110 §8.6).
 * - `Date`: added unless present (RFC 9110 §6.6.1: an origin server with a clock MUST).
 */
export function encodeResponseHead(
  out: ResponseHeadResult,
  status: number,
  reason: string | undefined,
  headers: HeaderList,
  ctx: ResponseContext,
): string {
  let s = statusLine(status, reason);
  const noBody = ctx.head || status < 200 || status === 204 || status === 304;
  const stripLength = status < 200 || status === 204;
  let contentLength = -1;
  let close = !ctx.keepAlive;
  let hasDate = false;
  const n = headers.size;
  for (let i = 0; i < n; i++) {
    const lower = headers.lowerNameAt(i);
    switch (lower.length) {
      case 4:
        if (lower === 'date') hasDate = true;
        break;
      case 10:
        if (lower === 'connection') {
          if (hasToken(headers.valueAt(i), 'close')) close = true;
          continue;
        }
        break;
      case 14:
        if (lower === 'content-length') {
          if (stripLength) continue;
          const len = parseLength(headers.valueAt(i));
          if (len < 0 || (contentLength >= 0 && len !== contentLength)) {
            throw new ResponseFramingError(
              `Invalid Content-Length ${JSON.stringify(headers.valueAt(i))}`,
            );
          }
          if (contentLength >= 0) continue; // identical duplicate: send once
          contentLength = len;
        }
        break;
      case 17:
        if (lower === 'transfer-encoding') continue;
        break;
    }
    s += headers.nameAt(i) + ': ' + headers.valueAt(i) + CRLF;
  }
  if (!hasDate) s += 'Date: ' + ctx.date + CRLF;
  let framing: Framing;
  if (noBody) framing = Framing.NONE;
  else if (contentLength >= 0) framing = Framing.LENGTH;
  else if (ctx.end) {
    framing = Framing.LENGTH;
    contentLength = 0;
    s += 'Content-Length: 0\r\n';
  } else if (ctx.clientMinor >= 1) {
    framing = Framing.CHUNKED;
    s += 'Transfer-Encoding: chunked\r\n';
  } else {
    framing = Framing.CLOSE;
    close = true;
  }
  if (close) s += 'Connection: close\r\n';
  else if (ctx.clientMinor === 0) s += 'Connection: keep-alive\r\n';
  out.framing = framing;
  out.contentLength = contentLength;
  out.close = close;
  return s + CRLF;
}

/**
 * An informational (1xx) response head (RFC 9110 §15.2). Never sent to HTTP/1.0 clients;
 * the caller checks that.
 */
export function encodeInformational(status: number, headers: HeaderList | undefined): string {
  if (status < 100 || status > 199 || status === 101) {
    throw new ResponseFramingError(`Not an informational status: ${status}`);
  }
  let s = statusLine(status);
  if (headers !== undefined) {
    for (let i = 0; i < headers.size; i++)
      s += headers.nameAt(i) + ': ' + headers.valueAt(i) + CRLF;
  }
  return s + CRLF;
}

/** `100 Continue` (RFC 9110 §10.1.1), precomputed. */
export const CONTINUE_TEXT = 'HTTP/1.1 100 Continue\r\n\r\n';

/** Chunk-size line for a chunk of `size` bytes (RFC 9112 §7.1). */
export function chunkHeader(size: number): string {
  return size.toString(16) + CRLF;
}

/** The last chunk and trailer section (RFC 9112 §7.1.2); forbidden fields are dropped. */
export function lastChunk(trailers: HeaderList | undefined): string {
  if (trailers === undefined || trailers.size === 0) return LAST_CHUNK;
  let s = '0\r\n';
  for (let i = 0; i < trailers.size; i++) {
    if (RESPONSE_TRAILER_FORBIDDEN.has(trailers.lowerNameAt(i))) continue;
    s += trailers.nameAt(i) + ': ' + trailers.valueAt(i) + CRLF;
  }
  return s + CRLF;
}

export const LAST_CHUNK = '0\r\n\r\n';

/**
 * A short `text/plain` error response that closes the connection (used for parse errors
 * and timeouts: RFC 9112 §2.2 answer 400 and close).
 */
export function encodeErrorResponse(status: number, date: string): string {
  const reason = STATUS_REASONS[status] ?? 'Error';
  return (
    statusLine(status) +
    'Content-Type: text/plain; charset=utf-8\r\n' +
    'Content-Length: ' +
    String(reason.length) +
    CRLF +
    'Date: ' +
    date +
    CRLF +
    'Connection: close\r\n\r\n' +
    reason
  );
}
