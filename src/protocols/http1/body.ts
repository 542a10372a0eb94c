/**
 * The body phase of the HTTP/1.1 parser: Content-Length bodies, close-delimited response
 * bodies, and the chunked transfer coding with chunk extensions (RFC 9112 §6, §7.1), plus
 * the states after a message (closed connection, upgraded).
 */
import {
  MAX_CHUNK_SIZE,
  P_EXT_NAME,
  P_EXT_VALUE,
  S_BODY_EOF,
  S_BODY_FIXED,
  S_CHUNK_DATA,
  S_CHUNK_DATA_CR,
  S_CHUNK_DATA_LF,
  S_CHUNK_EXT_ESCAPE,
  S_CHUNK_EXT_NAME,
  S_CHUNK_EXT_NAME_START,
  S_CHUNK_EXT_QUOTED,
  S_CHUNK_EXT_QUOTED_END,
  S_CHUNK_EXT_TOKEN,
  S_CHUNK_EXT_VALUE_START,
  S_CHUNK_SIZE,
  S_CHUNK_SIZE_LF,
  S_CHUNK_SIZE_START,
  S_CLOSED,
  S_ERROR,
  S_LINE_START,
  S_UPGRADED,
} from './parser-core.js';
import type { ParserCore } from './parser-core.js';
import { BACKSLASH, CR, DQUOTE, EQUALS, ExecuteStatus, LF, SEMICOLON } from './constants.js';
import { FIELD_VALUE, HEX, QDTEXT, TCHAR } from './tokens.js';

/** Parse body bytes from `start` until the state leaves the body phase or input ends. */
export function runBody(c: ParserCore, data: Uint8Array, start: number): ExecuteStatus {
  const len = data.length;
  const h = c.h;
  const limits = c.limits;
  let i = start;
  while (i < len) {
    switch (c.state) {
      case S_BODY_FIXED:
      case S_CHUNK_DATA: {
        const avail = len - i;
        const n = c.remaining < avail ? c.remaining : avail;
        c.at = i;
        h.onBody(data, i, i + n);
        i += n;
        c.remaining -= n;
        if (c.remaining === 0) {
          if (c.state === S_CHUNK_DATA) {
            c.state = S_CHUNK_DATA_CR;
            continue;
          }
          const r = c.messageComplete(i);
          if (r !== ExecuteStatus.OK) return r;
        }
        continue;
      }

      case S_BODY_EOF: {
        const n = len - i;
        c.bodyBytes += n;
        if (c.bodyBytes > limits.maxBodySize) {
          return c.fail('BODY_TOO_LARGE', 'Body larger than maxBodySize', i);
        }
        c.at = i;
        h.onBody(data, i, len);
        i = len;
        continue;
      }

      case S_CHUNK_SIZE_START:
      case S_CHUNK_SIZE: {
        const b = data[i]!;
        const v = HEX[b]!;
        if (v !== 0xff) {
          if (c.chunkSize >= MAX_CHUNK_SIZE) {
            return c.fail('INVALID_CHUNK_SIZE', 'Chunk size overflow', i);
          }
          c.chunkSize = c.chunkSize * 16 + v;
          c.state = S_CHUNK_SIZE;
          i++;
          continue;
        }
        if (c.state === S_CHUNK_SIZE) {
          if (b === CR) {
            c.state = S_CHUNK_SIZE_LF;
            i++;
            continue;
          }
          if (b === SEMICOLON) {
            c.extLen = 0;
            c.state = S_CHUNK_EXT_NAME_START;
            i++;
            continue;
          }
        }
        const at = c.state === S_CHUNK_SIZE ? i + 1 : i;
        return c.fail('INVALID_CHUNK_SIZE', 'Invalid character in chunk size', at);
      }

      case S_CHUNK_EXT_NAME_START:
      case S_CHUNK_EXT_NAME:
      case S_CHUNK_EXT_VALUE_START:
      case S_CHUNK_EXT_TOKEN:
      case S_CHUNK_EXT_QUOTED:
      case S_CHUNK_EXT_ESCAPE:
      case S_CHUNK_EXT_QUOTED_END: {
        if (++c.extLen > limits.maxChunkExtensionLength) {
          return c.fail('CHUNK_EXTENSION_TOO_LONG', 'Chunk extensions too long', i);
        }
        const r = chunkExtByte(c, data, i);
        if (r !== ExecuteStatus.OK) return r;
        i++;
        continue;
      }

      case S_CHUNK_SIZE_LF: {
        if (data[i] !== LF) return c.fail('BARE_CR', 'Expected LF after chunk size', i);
        i++;
        const size = c.chunkSize;
        c.bodyBytes += size;
        if (c.bodyBytes > limits.maxBodySize) {
          return c.fail('BODY_TOO_LARGE', 'Body larger than maxBodySize', i);
        }
        c.at = i;
        h.onChunkHeader(size);
        if (size === 0) {
          // RFC 9112 §7.1.2: the trailer section follows the last chunk.
          c.inTrailers = true;
          c.headerBytes = 0;
          c.headerCount = 0;
          c.firstLine = false;
          c.state = S_LINE_START;
        } else {
          c.remaining = size;
          c.state = S_CHUNK_DATA;
        }
        continue;
      }

      case S_CHUNK_DATA_CR: {
        if (data[i] !== CR) {
          return c.fail('MISSING_CHUNK_CRLF', 'Expected CRLF after chunk data', i);
        }
        c.state = S_CHUNK_DATA_LF;
        i++;
        continue;
      }

      case S_CHUNK_DATA_LF: {
        if (data[i] !== LF) {
          return c.fail('MISSING_CHUNK_CRLF', 'Expected LF after chunk data', i);
        }
        i++;
        c.at = i;
        h.onChunkComplete();
        c.chunkSize = 0;
        c.state = S_CHUNK_SIZE_START;
        continue;
      }

      case S_CLOSED: {
        const b = data[i]!;
        if (b === CR || b === LF) {
          i++;
          continue;
        }
        return c.fail('DATA_AFTER_CLOSE', 'Data after `Connection: close`', i + 1);
      }

      case S_UPGRADED:
        c.consumed = i;
        return ExecuteStatus.UPGRADE;

      case S_ERROR:
        return ExecuteStatus.ERROR;

      default:
        c.pos = i;
        return ExecuteStatus.OK;
    }
  }
  c.pos = len;
  return ExecuteStatus.OK;
}

/**
 * One byte of chunk extensions (RFC 9112 §7.1.1): `*( BWS ";" BWS ext-name [ BWS "=" BWS
 * ext-val ] )`, ext-val a token or quoted-string. Strict: no whitespace.
 */
export function chunkExtByte(c: ParserCore, data: Uint8Array, i: number): ExecuteStatus {
  const b = data[i]!;
  const h = c.h;
  switch (c.state) {
    case S_CHUNK_EXT_NAME_START:
      if (TCHAR[b] !== 1) {
        return c.fail('INVALID_CHUNK_EXTENSION', 'Invalid character in chunk extensions', i + 1);
      }
      c.openSpan(P_EXT_NAME, i);
      c.state = S_CHUNK_EXT_NAME;
      return ExecuteStatus.OK;
    case S_CHUNK_EXT_NAME:
      if (TCHAR[b] === 1) return ExecuteStatus.OK;
      if (b === EQUALS || b === SEMICOLON || b === CR) {
        c.closeSpan(data, i);
        c.at = i + 1;
        h.onChunkExtensionNameComplete();
        c.state =
          b === EQUALS
            ? S_CHUNK_EXT_VALUE_START
            : b === SEMICOLON
              ? S_CHUNK_EXT_NAME_START
              : S_CHUNK_SIZE_LF;
        return ExecuteStatus.OK;
      }
      return c.fail('INVALID_CHUNK_EXTENSION', 'Invalid character in chunk extensions', i);
    case S_CHUNK_EXT_VALUE_START:
      if (b === DQUOTE) {
        c.openSpan(P_EXT_VALUE, i);
        c.state = S_CHUNK_EXT_QUOTED;
        return ExecuteStatus.OK;
      }
      if (TCHAR[b] === 1) {
        c.openSpan(P_EXT_VALUE, i);
        c.state = S_CHUNK_EXT_TOKEN;
        return ExecuteStatus.OK;
      }
      return c.fail('INVALID_CHUNK_EXTENSION', 'Invalid character in chunk extensions', i);
    case S_CHUNK_EXT_QUOTED:
      if (b === DQUOTE) {
        c.closeSpan(data, i + 1);
        c.at = i + 1;
        h.onChunkExtensionValueComplete();
        c.state = S_CHUNK_EXT_QUOTED_END;
      } else if (b === BACKSLASH) c.state = S_CHUNK_EXT_ESCAPE;
      else if (QDTEXT[b] !== 1) {
        return c.fail(
          'INVALID_CHUNK_EXTENSION',
          'Invalid character in chunk extensions quoted value',
          i + 1,
          i,
        );
      }
      return ExecuteStatus.OK;
    case S_CHUNK_EXT_ESCAPE:
      if (FIELD_VALUE[b] !== 1) {
        return c.fail(
          'INVALID_CHUNK_EXTENSION',
          'Invalid character in chunk extensions quoted value',
          i,
        );
      }
      c.state = S_CHUNK_EXT_QUOTED;
      return ExecuteStatus.OK;
    case S_CHUNK_EXT_TOKEN:
      if (TCHAR[b] === 1) return ExecuteStatus.OK;
      if (b === SEMICOLON || b === CR) {
        c.closeSpan(data, i);
        c.at = i + 1;
        h.onChunkExtensionValueComplete();
        c.state = b === SEMICOLON ? S_CHUNK_EXT_NAME_START : S_CHUNK_SIZE_LF;
        return ExecuteStatus.OK;
      }
      return c.fail('INVALID_CHUNK_EXTENSION', 'Invalid character in chunk extensions', i);
    case S_CHUNK_EXT_QUOTED_END:
      if (b === SEMICOLON || b === CR) {
        c.state = b === SEMICOLON ? S_CHUNK_EXT_NAME_START : S_CHUNK_SIZE_LF;
        return ExecuteStatus.OK;
      }
      return c.fail('INVALID_CHUNK_EXTENSION', 'Invalid character in chunk extensions', i);
  }
  return ExecuteStatus.ERROR;
}
