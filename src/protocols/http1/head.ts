/**
 * The head phase of the HTTP/1.1 parser: request line / status line (RFC 9112 §3, §4),
 * field lines (§5) and the end of the head, including trailer fields after the last chunk
 * (§7.1.2). Runs over the input with index arithmetic and character tables.
 */
import {
  HTTP,
  P_FIELD,
  P_METHOD,
  P_PROTOCOL,
  P_STATUS,
  P_URL,
  P_VALUE,
  P_VERSION,
  S_FIELD,
  S_FIELD_WS,
  S_HEADERS_LF,
  S_LINE_START,
  S_METHOD,
  S_PROTO,
  S_REQ_LF,
  S_START,
  S_STATUS_AFTER,
  S_STATUS_CODE,
  S_STATUS_LF,
  S_STATUS_TEXT,
  S_URL,
  S_URL_SP,
  S_URL_START,
  S_VALUE,
  S_VALUE_LF,
  S_VALUE_OWS,
  S_VER_DOT,
  S_VER_END,
  S_VER_MAJOR,
  S_VER_MINOR,
} from './parser-core.js';
import type { ParserCore } from './parser-core.js';
import { COLON, CR, ExecuteStatus, HTAB, LF, SP } from './constants.js';
import { FIELD_VALUE, REASON_CHAR, TCHAR, URL_CHAR } from './tokens.js';
import { H_TRANSFER_ENCODING, SEM_OK } from './field-semantics.js';

/** Parse head bytes from `start` until the state leaves the head phase or input ends. */
export function runHead(c: ParserCore, data: Uint8Array, start: number): ExecuteStatus {
  const len = data.length;
  const h = c.h;
  const limits = c.limits;
  let i = start;
  while (i < len) {
    switch (c.state) {
      case S_START: {
        const b = data[i]!;
        if (b === CR || b === LF) {
          i++;
          continue;
        }
        if (c.kind === 'request' && c.outstanding >= limits.maxPipelinedRequests) {
          c.consumed = i;
          return ExecuteStatus.BLOCKED;
        }
        c.beginMessage();
        c.at = i;
        h.onMessageBegin();
        if (c.kind === 'request') {
          c.state = S_METHOD;
          c.openSpan(P_METHOD, i);
        } else {
          c.state = S_PROTO;
          c.openSpan(P_PROTOCOL, i);
        }
        continue;
      }

      case S_METHOD: {
        const max = limits.maxMethodLength;
        if (c.methodLen === 0) {
          // Fast path (STYLE §12): the whole method and its SP are in this input.
          let j = i;
          const stop = i + max < len ? i + max : len;
          while (j < stop && TCHAR[data[j]!] === 1) j++;
          if (j > i && j < len && data[j] === SP) {
            const n = j - i;
            c.closeSpan(data, j);
            c.method = c.methodAt(data, i, n);
            c.methodLen = n;
            c.headerBytes += n + 1;
            c.at = j;
            h.onMethodComplete();
            c.state = S_URL_START;
            i = j + 1;
            continue;
          }
        }
        while (i < len) {
          const b = data[i]!;
          if (TCHAR[b] === 1) {
            if (c.methodLen >= max) {
              return c.fail('METHOD_TOO_LONG', 'Method longer than maxMethodLength', i);
            }
            c.methodBuf[c.methodLen++] = b;
            i++;
            continue;
          }
          if (b === SP && c.methodLen > 0) {
            c.closeSpan(data, i);
            c.method = c.decodeMethod();
            c.headerBytes += c.methodLen + 1;
            c.at = i;
            h.onMethodComplete();
            c.state = S_URL_START;
            i++;
            break;
          }
          return c.fail('INVALID_METHOD', 'Invalid character in method', i);
        }
        continue;
      }

      case S_URL_START: {
        const b = data[i]!;
        if (URL_CHAR[b] !== 1) {
          return c.fail(
            b === SP ? 'UNEXPECTED_SPACE' : 'INVALID_URL',
            'Invalid character at the start of the request-target',
            i,
          );
        }
        c.openSpan(P_URL, i);
        c.state = S_URL;
        continue;
      }

      case S_URL: {
        const max = limits.maxUrlLength;
        let n = c.urlLen;
        const start = i;
        while (i < len && URL_CHAR[data[i]!] === 1) i++;
        n += i - start;
        if (n > max) return c.fail('URL_TOO_LONG', 'URL longer than maxUrlLength', i);
        c.urlLen = n;
        if (i === len) continue;
        if (data[i] === SP) {
          c.closeSpan(data, i);
          c.state = S_URL_SP;
          i++;
          continue;
        }
        return c.fail('INVALID_URL', 'Invalid character in the request-target', i, -1);
      }

      case S_URL_SP: {
        c.at = i;
        h.onUrlComplete();
        c.state = S_PROTO;
        c.openSpan(P_PROTOCOL, i);
        // Fast path (STYLE §12): `HTTP/1.x` CRLF whole in this input; the same callbacks
        // and offsets as the byte-by-byte states below.
        if (
          i + 10 <= len &&
          data[i] === 0x48 &&
          data[i + 1] === 0x54 &&
          data[i + 2] === 0x54 &&
          data[i + 3] === 0x50 &&
          data[i + 4] === 0x2f &&
          data[i + 5] === 0x31 &&
          data[i + 6] === 0x2e &&
          (data[i + 7] === 0x31 || data[i + 7] === 0x30) &&
          data[i + 8] === CR &&
          data[i + 9] === LF &&
          c.kind === 'request'
        ) {
          c.protoPos = 4;
          c.closeSpan(data, i + 4);
          c.at = i + 4;
          h.onProtocolComplete();
          c.openSpan(P_VERSION, i + 5);
          c.major = 1;
          c.minor = data[i + 7]! - 0x30;
          c.closeSpan(data, i + 8);
          c.at = i + 8;
          h.onVersionComplete();
          c.headerBytes += 10;
          c.state = S_LINE_START;
          i += 10;
        }
        continue;
      }

      case S_PROTO: {
        const b = data[i]!;
        if (c.protoPos < 4) {
          if (b !== HTTP[c.protoPos]) {
            return c.fail('INVALID_PROTOCOL', 'Expected HTTP/', i);
          }
          c.protoPos++;
          c.headerBytes++;
          i++;
          continue;
        }
        c.closeSpan(data, i);
        c.at = i;
        h.onProtocolComplete();
        if (b !== 0x2f) return c.fail('INVALID_PROTOCOL', 'Expected HTTP/', i);
        i++;
        c.headerBytes++;
        c.state = S_VER_MAJOR;
        c.openSpan(P_VERSION, i);
        continue;
      }

      case S_VER_MAJOR:
      case S_VER_MINOR: {
        const b = data[i]!;
        if (b < 0x30 || b > 0x39) {
          return c.fail('INVALID_VERSION', 'Invalid HTTP version', i);
        }
        c.headerBytes++;
        i++;
        if (c.state === S_VER_MAJOR) {
          c.major = b - 0x30;
          c.state = S_VER_DOT;
          continue;
        }
        c.minor = b - 0x30;
        // RFC 9112 §2.3: a server answers 505 to a major version it does not support.
        if (c.major !== 1 || c.minor > 1) {
          return c.fail('UNSUPPORTED_VERSION', 'Unsupported HTTP version', i);
        }
        c.closeSpan(data, i);
        c.at = i;
        h.onVersionComplete();
        c.state = S_VER_END;
        continue;
      }

      case S_VER_DOT: {
        if (data[i] !== 0x2e) return c.fail('INVALID_VERSION', 'Expected dot', i);
        c.state = S_VER_MINOR;
        c.headerBytes++;
        i++;
        continue;
      }

      case S_VER_END: {
        const b = data[i]!;
        const isReq = c.kind === 'request';
        if (isReq ? b !== CR && b !== LF : b !== SP) {
          return c.fail(
            'INVALID_VERSION',
            isReq ? 'Expected CRLF after version' : 'Expected space after version',
            i,
          );
        }
        if (b === LF) return c.fail('BARE_LF', 'Expected CRLF after version', i + 1);
        c.state = isReq ? S_REQ_LF : S_STATUS_CODE;
        c.headerBytes++;
        i++;
        continue;
      }

      case S_REQ_LF: {
        if (data[i] !== LF) return c.fail('BARE_CR', 'Expected CRLF after version', i);
        c.headerBytes++;
        i++;
        c.state = S_LINE_START;
        continue;
      }

      case S_STATUS_CODE: {
        const b = data[i]!;
        if (b < 0x30 || b > 0x39) {
          return c.fail('INVALID_STATUS', 'Invalid status code', i);
        }
        c.status = c.status * 10 + (b - 0x30);
        c.headerBytes++;
        i++;
        if (++c.statusDigits === 3) c.state = S_STATUS_AFTER;
        continue;
      }

      case S_STATUS_AFTER: {
        const b = data[i]!;
        c.headerBytes++;
        if (b === SP) {
          i++;
          c.state = S_STATUS_TEXT;
          c.openSpan(P_STATUS, i);
          continue;
        }
        if (b === CR) {
          i++;
          c.state = S_STATUS_LF;
          continue;
        }
        if (b === LF) {
          return c.fail('BARE_LF', 'Missing expected CR after response line', i + 1);
        }
        return c.fail('INVALID_STATUS', 'Invalid status code', i);
      }

      case S_STATUS_TEXT: {
        const start = i;
        while (i < len && REASON_CHAR[data[i]!] === 1) i++;
        c.headerBytes += i - start;
        if (c.headerBytes > limits.maxHeaderBytes) {
          return c.fail('HEADERS_TOO_LARGE', 'Status line too long', i);
        }
        if (i === len) continue;
        const b = data[i]!;
        if (b === CR) {
          c.closeSpan(data, i);
          c.state = S_STATUS_LF;
          c.headerBytes++;
          i++;
          continue;
        }
        if (b === LF) {
          return c.fail('BARE_LF', 'Missing expected CR after response line', i + 1, i);
        }
        return c.fail('INVALID_STATUS', 'Invalid character in reason phrase', i);
      }

      case S_STATUS_LF: {
        if (data[i] !== LF) return c.fail('BARE_CR', 'Expected LF after CR', i);
        c.headerBytes++;
        i++;
        c.at = i;
        h.onStatusComplete();
        c.state = S_LINE_START;
        continue;
      }

      case S_LINE_START: {
        const b = data[i]!;
        if (c.pendingValueComplete) {
          if (b === SP || b === HTAB) {
            // RFC 9112 §5.2: obs-fold is rejected unless the lenient option is set.
            if (!c.lenientObsFold) {
              return c.fail('OBS_FOLD', 'Unexpected whitespace after header value', i);
            }
            // The continuation (with its leading whitespace) is more of the same value;
            // before any value byte it is still leading whitespace.
            c.pendingValueComplete = false;
            if (c.emptyValue) {
              c.state = S_VALUE_OWS;
              continue;
            }
            c.openSpan(P_VALUE, i);
            c.state = S_VALUE;
            continue;
          }
          c.pendingValueComplete = false;
          if (c.sem.valueEnd() !== SEM_OK) {
            return c.fail('INVALID_CONTENT_LENGTH', 'Empty Content-Length', i);
          }
          c.at = i;
          if (c.emptyValue) h.onHeaderValue(data, i, i);
          h.onHeaderValueComplete();
        }
        if (c.firstLine && (b === SP || b === HTAB)) {
          // RFC 9112 §2.2: whitespace between the start line and the first field line.
          return c.fail('UNEXPECTED_SPACE', 'Unexpected space after start line', i + 1);
        }
        c.firstLine = false;
        if (b === CR) {
          c.state = S_HEADERS_LF;
          if (c.countHead(1, i) !== ExecuteStatus.OK) return ExecuteStatus.ERROR;
          i++;
          continue;
        }
        if (TCHAR[b] !== 1) {
          if (b === LF) return c.fail('BARE_LF', 'Expected CR before LF', i);
          return c.fail('INVALID_HEADER_TOKEN', 'Invalid header token', i, -1);
        }
        const count = ++c.headerCount;
        if (count > limits.maxHeaderCount) {
          return c.fail(
            c.inTrailers ? 'TRAILERS_TOO_LARGE' : 'TOO_MANY_HEADERS',
            'More field lines than maxHeaderCount',
            i,
          );
        }
        c.sem.nameStart();
        c.openSpan(P_FIELD, i);
        c.state = S_FIELD;
        continue;
      }

      case S_FIELD: {
        const start = i;
        while (i < len && TCHAR[data[i]!] === 1) i++;
        c.sem.nameBytes(data, start, i);
        const err = c.countHead(i - start, i);
        if (err !== ExecuteStatus.OK) return err;
        if (i === len) continue;
        const b = data[i]!;
        if (b === COLON) {
          c.closeSpan(data, i);
          i++;
          if (c.countHead(1, i) !== ExecuteStatus.OK) return ExecuteStatus.ERROR;
          const conflict = c.sem.valueStart(c.inTrailers);
          c.at = i;
          h.onHeaderFieldComplete();
          c.state = S_VALUE_OWS;
          if (conflict) {
            // RFC 9112 §6.3: Content-Length with Transfer-Encoding is rejected (400).
            return c.fail(
              'CONTENT_LENGTH_WITH_TRANSFER_ENCODING',
              'Content-Length together with Transfer-Encoding',
              i,
            );
          }
          continue;
        }
        if (b === SP || b === HTAB) {
          // RFC 9112 §5.1: no whitespace between field name and colon; answer 400.
          c.wsStart = i;
          c.state = S_FIELD_WS;
          continue;
        }
        return c.fail('INVALID_HEADER_TOKEN', 'Invalid header token', i, -1);
      }

      case S_FIELD_WS: {
        const b = data[i]!;
        if (b === SP || b === HTAB) {
          i++;
          continue;
        }
        if (b === COLON) {
          return c.fail('INVALID_HEADER_TOKEN', 'Invalid header field char', i, c.wsStart);
        }
        return c.fail('INVALID_HEADER_TOKEN', 'Invalid header token', c.wsStart, -1);
      }

      case S_VALUE_OWS: {
        const b = data[i]!;
        if (b === SP || b === HTAB) {
          const err = c.countHead(1, i);
          if (err !== ExecuteStatus.OK) return err;
          i++;
          continue;
        }
        if (b === LF) {
          return c.fail('BARE_LF', 'Missing expected CR after header value', i + 1);
        }
        if (b === CR) {
          c.emptyValue = true;
          if (c.countHead(1, i) !== ExecuteStatus.OK) return ExecuteStatus.ERROR;
          c.state = S_VALUE_LF;
          i++;
          continue;
        }
        c.emptyValue = false;
        c.openSpan(P_VALUE, i);
        const sem = c.sem;
        if (sem.header === H_TRANSFER_ENCODING && sem.teChunkedSeen && c.kind === 'request') {
          // RFC 9112 §6.3: chunked must be the final coding of a request.
          return c.fail('INVALID_TRANSFER_ENCODING', 'Invalid `Transfer-Encoding`', i + 1, i);
        }
        c.state = S_VALUE;
        continue;
      }

      case S_VALUE: {
        const start = i;
        const sem = c.sem;
        if (!sem.interpreting) {
          while (i < len && FIELD_VALUE[data[i]!] === 1) i++;
        } else {
          const isReq = c.kind === 'request';
          while (i < len) {
            const b = data[i]!;
            if (FIELD_VALUE[b] !== 1) break;
            const r = sem.valueByte(b, isReq);
            if (r !== SEM_OK) return c.semanticError(r, i);
            i++;
          }
        }
        const err = c.countHead(i - start, i);
        if (err !== ExecuteStatus.OK) return err;
        if (i === len) continue;
        const b = data[i]!;
        if (b === CR) {
          c.closeSpan(data, i);
          if (c.countHead(1, i) !== ExecuteStatus.OK) return ExecuteStatus.ERROR;
          c.state = S_VALUE_LF;
          i++;
          continue;
        }
        if (b === LF) {
          return c.fail('BARE_LF', 'Missing expected CR after header value', i);
        }
        return c.fail('INVALID_HEADER_VALUE', 'Invalid header value char', i);
      }

      case S_VALUE_LF: {
        if (data[i] !== LF) {
          return c.fail('BARE_CR', 'Missing expected LF after header value', i);
        }
        c.countHead(1, i);
        i++;
        c.pendingValueComplete = true;
        c.state = S_LINE_START;
        continue;
      }

      case S_HEADERS_LF: {
        if (data[i] !== LF) return c.fail('BARE_CR', 'Expected LF after headers', i);
        i++;
        if (c.inTrailers) {
          c.at = i;
          h.onChunkComplete();
          const r = c.messageComplete(i);
          if (r !== ExecuteStatus.OK) return r;
          continue;
        }
        const r = c.headersComplete(i);
        if (r !== ExecuteStatus.OK) return r;
        continue;
      }

      default:
        c.pos = i;
        return ExecuteStatus.OK;
    }
  }
  c.pos = len;
  return ExecuteStatus.OK;
}
