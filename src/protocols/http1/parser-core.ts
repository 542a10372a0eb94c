/**
 * Internal state of the HTTP/1.1 parser, shared by the state-machine phases in head.ts and
 * body.ts. Not exported from the package: Http1Parser (parser.ts) is the public face and
 * keeps its core private. Fields are plain for the hot loop (STYLE §12); only the phase
 * functions touch them.
 */
import { ExecuteStatus, HeadersCompleteAction, Http1Flags } from './constants.js';
import type { Http1MessageKind } from './constants.js';
import { Http1ParseError } from './errors.js';
import type { Http1ErrorKind } from './errors.js';
import {
  FieldSemantics,
  SEM_CODING_AFTER_CHUNKED,
  SEM_CONTENT_LENGTH_OVERFLOW,
  SEM_DUPLICATE_CONTENT_LENGTH,
} from './field-semantics.js';
import { resolveHandler } from './handler.js';
import type { Http1HeadersInfo, Http1ParserHandler, ResolvedHandler } from './handler.js';
import { resolveHttp1Limits } from './limits.js';
import type { Http1Limits } from './limits.js';
import { ascii } from './tokens.js';

// States. Plain small integers keep the switch dense.
export const S_START = 0;
export const S_METHOD = 1;
export const S_URL_START = 2;
export const S_URL = 3;
export const S_URL_SP = 4;
export const S_PROTO = 5;
export const S_VER_MAJOR = 6;
export const S_VER_DOT = 7;
export const S_VER_MINOR = 8;
export const S_VER_END = 9;
export const S_REQ_LF = 10;
export const S_STATUS_CODE = 11;
export const S_STATUS_AFTER = 12;
export const S_STATUS_TEXT = 13;
export const S_STATUS_LF = 14;
export const S_LINE_START = 15;
export const S_FIELD = 16;
export const S_FIELD_WS = 17;
export const S_VALUE_OWS = 18;
export const S_VALUE = 19;
export const S_VALUE_LF = 20;
export const S_HEADERS_LF = 21;
export const S_BODY_FIXED = 22;
export const S_BODY_EOF = 23;
export const S_CHUNK_SIZE_START = 24;
export const S_CHUNK_SIZE = 25;
export const S_CHUNK_EXT_NAME_START = 26;
export const S_CHUNK_EXT_NAME = 27;
export const S_CHUNK_EXT_VALUE_START = 28;
export const S_CHUNK_EXT_TOKEN = 29;
export const S_CHUNK_EXT_QUOTED = 30;
export const S_CHUNK_EXT_ESCAPE = 31;
export const S_CHUNK_EXT_QUOTED_END = 32;
export const S_CHUNK_SIZE_LF = 33;
export const S_CHUNK_DATA = 34;
export const S_CHUNK_DATA_CR = 35;
export const S_CHUNK_DATA_LF = 36;
export const S_CLOSED = 37;
export const S_UPGRADED = 38;
export const S_ERROR = 39;

// Open span kinds.
export const P_NONE = 0;
export const P_METHOD = 1;
export const P_URL = 2;
export const P_PROTOCOL = 3;
export const P_VERSION = 4;
export const P_STATUS = 5;
export const P_FIELD = 6;
export const P_VALUE = 7;
export const P_EXT_NAME = 8;
export const P_EXT_VALUE = 9;

export const HTTP = ascii('HTTP');
export const MAX_CHUNK_SIZE = 2 ** 53 / 16;

export const COMMON_METHODS = [
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'DELETE',
  'CONNECT',
  'OPTIONS',
  'TRACE',
  'PATCH',
];

export class ParserCore {
  readonly kind: Http1MessageKind;
  readonly limits: Readonly<Http1Limits>;
  h: ResolvedHandler;
  sem = new FieldSemantics();
  lenientObsFold: boolean;

  state = S_START;
  span = P_NONE;
  mark = 0;
  at = 0;
  consumed = 0;
  /** Where a phase function stopped (when it returns OK). */
  pos = 0;
  data: Uint8Array = new Uint8Array(0);
  wsStart = 0;
  error: Http1ParseError | null = null;

  // Per-message state.
  method = '';
  methodBuf: Uint8Array;
  methodLen = 0;
  urlLen = 0;
  protoPos = 0;
  major = 0;
  minor = 0;
  status = 0;
  statusDigits = 0;
  headerBytes = 0;
  headerCount = 0;
  firstLine = true;
  pendingValueComplete = false;
  emptyValue = false;
  inTrailers = false;
  keepAlive = false;
  upgrade = false;
  remaining = 0;
  bodyBytes = 0;
  chunkSize = 0;
  extLen = 0;

  // Connection-level state.
  outstanding = 0;
  requestMethods: string[] = [];

  constructor(
    kind: Http1MessageKind,
    handler: Http1ParserHandler,
    limits: Partial<Http1Limits>,
    lenientObsFold: boolean,
  ) {
    this.kind = kind;
    this.limits = resolveHttp1Limits(limits);
    this.methodBuf = new Uint8Array(this.limits.maxMethodLength);
    this.lenientObsFold = lenientObsFold;
    this.h = resolveHandler(handler);
  }

  beginMessage(): void {
    this.method = '';
    this.methodLen = 0;
    this.urlLen = 0;
    this.protoPos = 0;
    this.major = 0;
    this.minor = 0;
    this.status = 0;
    this.statusDigits = 0;
    this.sem.reset();
    this.headerBytes = 0;
    this.headerCount = 0;
    this.firstLine = true;
    this.pendingValueComplete = false;
    this.inTrailers = false;
    this.keepAlive = false;
    this.upgrade = false;
    this.remaining = 0;
    this.bodyBytes = 0;
    this.chunkSize = 0;
    this.extLen = 0;
  }

  /**
   * Enter the error state. The open span is first reported up to `spanEnd` (llhttp does the
   * same, so a log shows what was read before the error); -1 drops it.
   */
  fail(kind: Http1ErrorKind, message: string, offset: number, spanEnd = offset): ExecuteStatus {
    if (this.span !== P_NONE && spanEnd >= this.mark) {
      const end = spanEnd < this.data.length ? spanEnd : this.data.length;
      if (end >= this.mark) this.emitSpan(this.data, this.mark, end);
    }
    this.span = P_NONE;
    const err = new Http1ParseError(kind, message, offset);
    this.error = err;
    this.state = S_ERROR;
    this.span = P_NONE;
    this.consumed = offset;
    this.at = offset;
    this.h.onError(err);
    return ExecuteStatus.ERROR;
  }

  emitSpan(data: Uint8Array, start: number, end: number): void {
    const h = this.h;
    switch (this.span) {
      case P_METHOD:
        h.onMethod(data, start, end);
        break;
      case P_URL:
        h.onUrl(data, start, end);
        break;
      case P_PROTOCOL:
        h.onProtocol(data, start, end);
        break;
      case P_VERSION:
        h.onVersion(data, start, end);
        break;
      case P_STATUS:
        h.onStatus(data, start, end);
        break;
      case P_FIELD:
        h.onHeaderField(data, start, end);
        break;
      case P_VALUE:
        h.onHeaderValue(data, start, end);
        break;
      case P_EXT_NAME:
        h.onChunkExtensionName(data, start, end);
        break;
      case P_EXT_VALUE:
        h.onChunkExtensionValue(data, start, end);
        break;
    }
  }

  /** Close the open span at `end`, emitting its last piece (empty when nothing was read). */
  closeSpan(data: Uint8Array, end: number): void {
    this.at = this.mark;
    this.emitSpan(data, this.mark, end);
    this.span = P_NONE;
  }

  openSpan(kind: number, at: number): void {
    this.span = kind;
    this.mark = at;
  }

  decodeMethod(): string {
    const b = this.methodBuf;
    const n = this.methodLen;
    for (const m of COMMON_METHODS) {
      if (m.length !== n) continue;
      let k = 0;
      while (k < n && m.charCodeAt(k) === b[k]) k++;
      if (k === n) return m;
    }
    let s = '';
    for (let k = 0; k < n; k++) s += String.fromCharCode(b[k]!);
    return s;
  }

  /** The method `data[start, start + n)` (tchar only), interned when it is a common one. */
  methodAt(data: Uint8Array, start: number, n: number): string {
    for (let m = 0; m < COMMON_METHODS.length; m++) {
      const name = COMMON_METHODS[m]!;
      if (name.length !== n) continue;
      let k = 0;
      while (k < n && name.charCodeAt(k) === data[start + k]) k++;
      if (k === n) return name;
    }
    let s = '';
    for (let k = 0; k < n; k++) s += String.fromCharCode(data[start + k]!);
    return s;
  }

  /** Count head bytes against maxHeaderBytes / maxTrailerBytes. */
  countHead(n: number, at: number): ExecuteStatus {
    this.headerBytes += n;
    if (this.inTrailers) {
      if (this.headerBytes > this.limits.maxTrailerBytes) {
        return this.fail('TRAILERS_TOO_LARGE', 'Trailer section larger than maxTrailerBytes', at);
      }
    } else if (this.headerBytes > this.limits.maxHeaderBytes) {
      return this.fail('HEADERS_TOO_LARGE', 'Header section larger than maxHeaderBytes', at);
    }
    return ExecuteStatus.OK;
  }

  semanticError(r: number, i: number): ExecuteStatus {
    switch (r) {
      case SEM_DUPLICATE_CONTENT_LENGTH:
        return this.fail('DUPLICATE_CONTENT_LENGTH', 'Duplicate Content-Length', i, -1);
      case SEM_CONTENT_LENGTH_OVERFLOW:
        return this.fail('INVALID_CONTENT_LENGTH', 'Content-Length overflow', i);
      case SEM_CODING_AFTER_CHUNKED:
        // RFC 9112 §6.3: chunked must be the final coding of a request.
        return this.fail('INVALID_TRANSFER_ENCODING', 'Invalid `Transfer-Encoding`', i + 1, i);
      default:
        return this.fail('INVALID_CONTENT_LENGTH', 'Invalid character in Content-Length', i);
    }
  }

  headersComplete(i: number): ExecuteStatus {
    const isReq = this.kind === 'request';
    const sem = this.sem;
    let flags = sem.flags;
    const te = (flags & Http1Flags.TRANSFER_ENCODING) !== 0;
    if (te && sem.teChunkedLast) flags |= Http1Flags.CHUNKED;
    const chunked = (flags & Http1Flags.CHUNKED) !== 0;
    const status = this.status;
    let requestMethod = '';
    if (!isReq && (status < 100 || status > 199)) requestMethod = this.requestMethods.shift() ?? '';
    if (isReq) requestMethod = this.method;
    // RFC 9110 §7.8, §9.3.6: Upgrade needs `Connection: upgrade`; CONNECT opens a tunnel.
    const connUpgrade =
      (flags & (Http1Flags.UPGRADE | Http1Flags.CONNECTION_UPGRADE)) ===
      (Http1Flags.UPGRADE | Http1Flags.CONNECTION_UPGRADE);
    let upgrade = isReq
      ? connUpgrade || requestMethod === 'CONNECT'
      : (status === 101 && connUpgrade) ||
        (requestMethod === 'CONNECT' && status >= 200 && status < 300);
    // RFC 9112 §6.3: bodies of HEAD responses, 1xx, 204 and 304 are empty.
    let skip =
      !isReq &&
      (requestMethod === 'HEAD' ||
        (status >= 100 && status < 200) ||
        status === 204 ||
        status === 304 ||
        (upgrade && requestMethod === 'CONNECT'));
    const needsEof = !isReq && !skip && !chunked && (te || sem.contentLength < 0);
    let keepAlive =
      this.minor >= 1
        ? (flags & Http1Flags.CONNECTION_CLOSE) === 0
        : (flags & Http1Flags.CONNECTION_KEEP_ALIVE) !== 0;
    if (needsEof) keepAlive = false;
    sem.flags = flags;
    this.keepAlive = keepAlive;
    const info: Http1HeadersInfo = Object.freeze({
      kind: this.kind,
      method: isReq ? this.method : '',
      statusCode: status,
      versionMajor: this.major,
      versionMinor: this.minor,
      flags,
      keepAlive,
      upgrade,
      contentLength: sem.contentLength,
      chunked,
      expectContinue: sem.expectContinue,
    });
    this.at = i;
    const action = this.h.onHeadersComplete(info);
    if (this.state === S_ERROR) return ExecuteStatus.ERROR;
    if (isReq && te && !chunked) {
      // RFC 9112 §6.3 (item 4): a request whose final coding is not chunked → 400.
      return this.fail('INVALID_TRANSFER_ENCODING', 'Request has invalid `Transfer-Encoding`', i);
    }
    if (action === HeadersCompleteAction.SKIP_BODY) skip = true;
    else if (action === HeadersCompleteAction.UPGRADE) {
      upgrade = true;
      skip = true;
    }
    this.upgrade = upgrade;
    if (upgrade && (!isReq || requestMethod === 'CONNECT')) skip = true;
    if (skip) return this.messageComplete(i);
    if (chunked) {
      this.state = S_CHUNK_SIZE_START;
      this.chunkSize = 0;
      return ExecuteStatus.OK;
    }
    if (sem.contentLength > 0) {
      if (sem.contentLength > this.limits.maxBodySize) {
        return this.fail('BODY_TOO_LARGE', 'Content-Length larger than maxBodySize', i);
      }
      this.remaining = sem.contentLength;
      this.state = S_BODY_FIXED;
      return ExecuteStatus.OK;
    }
    if (needsEof) {
      this.state = S_BODY_EOF;
      return ExecuteStatus.OK;
    }
    return this.messageComplete(i);
  }

  messageComplete(i: number): ExecuteStatus {
    this.at = i;
    this.h.onMessageComplete();
    if (this.state === S_ERROR) return ExecuteStatus.ERROR;
    if (this.kind === 'request') this.outstanding++;
    if (this.upgrade) {
      this.state = S_UPGRADED;
      this.consumed = i;
      return ExecuteStatus.UPGRADE;
    }
    const informational = this.kind === 'response' && this.status >= 100 && this.status < 200;
    this.state = this.keepAlive || informational ? S_START : S_CLOSED;
    return ExecuteStatus.OK;
  }
}
