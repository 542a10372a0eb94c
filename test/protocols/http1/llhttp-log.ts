/**
 * Drives Http1Parser with a handler that writes llhttp's test-harness log format, and
 * normalises logs so whole, split and byte-at-a-time feeding compare equal.
 */
import { ExecuteStatus, HeadersCompleteAction } from '../../../src/protocols/http1/constants.js';
import type { Http1MessageKind } from '../../../src/protocols/http1/constants.js';
import type { Http1ErrorKind } from '../../../src/protocols/http1/errors.js';
import { Http1Parser } from '../../../src/protocols/http1/parser.js';
import type { Http1HeadersInfo, Http1ParserOptions } from '../../../src/protocols/http1/parser.js';

/** llhttp's method numbers (the `llhttp_method` enum), used in its logs. */
export const LLHTTP_METHODS: Readonly<Record<string, number>> = Object.fromEntries(
  [
    'DELETE', 'GET', 'HEAD', 'POST', 'PUT', 'CONNECT', 'OPTIONS', 'TRACE', 'COPY', 'LOCK',
    'MKCOL', 'MOVE', 'PROPFIND', 'PROPPATCH', 'SEARCH', 'UNLOCK', 'BIND', 'REBIND', 'UNBIND',
    'ACL', 'REPORT', 'MKACTIVITY', 'CHECKOUT', 'MERGE', 'M-SEARCH', 'NOTIFY', 'SUBSCRIBE',
    'UNSUBSCRIBE', 'PATCH', 'PURGE', 'MKCALENDAR', 'LINK', 'UNLINK', 'SOURCE', 'PRI',
    'DESCRIBE', 'ANNOUNCE', 'SETUP', 'PLAY', 'PAUSE', 'TEARDOWN', 'GET_PARAMETER',
    'SET_PARAMETER', 'REDIRECT', 'RECORD', 'FLUSH', 'QUERY',
  ].map((m, i) => [m, i]),
); // prettier-ignore

/**
 * llhttp error code → the ghostnet error kinds that correspond to it. An error line matches
 * when the offsets are equal and our kind is in the set for llhttp's code.
 */
export const LLHTTP_ERROR_MAP: Readonly<Record<number, readonly Http1ErrorKind[]>> = {
  2: ['BARE_CR', 'INVALID_CHUNK_EXTENSION', 'MISSING_CHUNK_CRLF'], // HPE_STRICT
  3: ['BARE_CR'], // HPE_LF_EXPECTED
  4: ['DUPLICATE_CONTENT_LENGTH'], // HPE_UNEXPECTED_CONTENT_LENGTH
  5: ['DATA_AFTER_CLOSE'], // HPE_CLOSED_CONNECTION
  6: ['INVALID_METHOD'], // HPE_INVALID_METHOD
  7: ['INVALID_URL'], // HPE_INVALID_URL
  8: ['INVALID_PROTOCOL'], // HPE_INVALID_CONSTANT
  9: ['INVALID_VERSION', 'UNSUPPORTED_VERSION', 'BARE_LF'], // HPE_INVALID_VERSION
  10: ['INVALID_HEADER_TOKEN', 'INVALID_HEADER_VALUE', 'OBS_FOLD', 'BARE_LF'], // HPE_INVALID_HEADER_TOKEN
  11: ['INVALID_CONTENT_LENGTH', 'CONTENT_LENGTH_WITH_TRANSFER_ENCODING'], // HPE_INVALID_CONTENT_LENGTH
  12: ['INVALID_CHUNK_SIZE'], // HPE_INVALID_CHUNK_SIZE
  13: ['INVALID_STATUS'], // HPE_INVALID_STATUS
  14: ['INCOMPLETE_MESSAGE'], // HPE_INVALID_EOF_STATE
  15: ['INVALID_TRANSFER_ENCODING', 'CONTENT_LENGTH_WITH_TRANSFER_ENCODING'], // HPE_INVALID_TRANSFER_ENCODING
  25: ['BARE_LF'], // HPE_CR_EXPECTED
  30: ['UNEXPECTED_SPACE'], // HPE_UNEXPECTED_SPACE
};

interface SpanRec {
  readonly span: true;
  off: number;
  kind: string;
  text: string;
}
type Rec = SpanRec | { readonly span: false; readonly line: string };

function latin1(bytes: Uint8Array, start: number, end: number): string {
  let s = '';
  for (let i = start; i < end; i++) s += String.fromCharCode(bytes[i]!);
  return s;
}

/** How llhttp's harness prints span text: UTF-8 decoded, control characters escaped. */
function render(bytes: string): string {
  const text = Buffer.from(bytes, 'latin1').toString('utf8');
  let out = '';
  for (const ch of text) {
    const c = ch.charCodeAt(0);
    if (c >= 0x20 && c !== 0x7f) out += ch;
    else if (ch === '\t') out += '\\t';
    else if (ch === '\f') out += '\\f';
    else if (ch === '\v') out += '\\v';
    else out += `\\x${c.toString(16).padStart(2, '0')}`;
  }
  return out;
}

/**
 * Merge contiguous spans of one kind (split feeding delivers pieces), then split them at
 * CR and LF bytes and print them as llhttp's harness does (`len` counts bytes).
 */
export function normalize(recs: readonly Rec[]): string[] {
  const merged: Rec[] = [];
  for (const r of recs) {
    const prev = merged[merged.length - 1];
    if (r.span && prev !== undefined && prev.span && prev.kind === r.kind) {
      if (prev.off + prev.text.length === r.off) {
        prev.text += r.text;
        continue;
      }
    }
    merged.push(r.span ? { ...r } : r);
  }
  const out: string[] = [];
  for (const r of merged) {
    if (!r.span) {
      out.push(r.line);
      continue;
    }
    let start = 0;
    const t = r.text;
    for (let i = 0; i <= t.length; i++) {
      const c = t[i];
      if (i === t.length || c === '\r' || c === '\n') {
        if (i > start || t.length === 0) {
          const shown = render(t.slice(start, i));
          out.push(`off=${r.off + start} len=${i - start} span[${r.kind}]="${shown}"`);
        }
        if (i < t.length)
          out.push(`off=${r.off + i} len=1 span[${r.kind}]=${c === '\r' ? 'cr' : 'lf'}`);
        start = i + 1;
      }
    }
  }
  return out;
}

/** The expected log with llhttp's error reasons removed (only code and offset compare). */
export function expectedLog(lines: readonly string[]): string[] {
  return lines.map((line) => {
    const e = /^(off=\d+ error code=\d+) reason=".*"$/.exec(line);
    return e === null ? line : e[1]!;
  });
}

export interface RunOptions {
  kind: Http1MessageKind;
  skipBody: boolean;
  finish: boolean;
  parserOptions?: Http1ParserOptions;
}

/**
 * Map our error lines onto llhttp's where the offset matches and our kind corresponds to
 * llhttp's code (LLHTTP_ERROR_MAP), so the two logs compare line by line.
 */
export function alignErrors(actual: readonly string[], expected: readonly string[]): string[] {
  return actual.map((line, i) => {
    const m = /^off=(\d+) error kind=(\w+)$/.exec(line);
    const e = /^off=(\d+) error code=(\d+)$/.exec(expected[i] ?? '');
    if (m === null || e === null || m[1] !== e[1]) return line;
    const kinds = LLHTTP_ERROR_MAP[Number(e[2])] ?? [];
    return kinds.includes(m[2] as Http1ErrorKind) ? expected[i]! : line;
  });
}

/** Feed `input` in `pieces` (split points) and return the normalized log. */
export function runLogged(
  input: Uint8Array,
  splits: readonly number[],
  opts: RunOptions,
): string[] {
  const recs: Rec[] = [];
  let base = 0;
  let completed = false;
  const at = (): number => base + parser.eventOffset;
  const line = (s: string): void => {
    recs.push({ span: false, line: `off=${at()} ${s}` });
  };
  const span =
    (kind: string) =>
    (bytes: Uint8Array, start: number, end: number): void => {
      recs.push({ span: true, off: base + start, kind, text: latin1(bytes, start, end) });
    };
  const parser: Http1Parser = new Http1Parser(
    opts.kind,
    {
      onMessageBegin() {
        if (completed) line('reset');
        line('message begin');
      },
      onMethod: span('method'),
      onMethodComplete: () => line('method complete'),
      onUrl: span('url'),
      onUrlComplete: () => line('url complete'),
      onProtocol: span('protocol'),
      onProtocolComplete: () => line('protocol complete'),
      onVersion: span('version'),
      onVersionComplete: () => line('version complete'),
      onStatus: span('status'),
      onStatusComplete: () => line('status complete'),
      onHeaderField: span('header_field'),
      onHeaderFieldComplete: () => line('header_field complete'),
      onHeaderValue: span('header_value'),
      onHeaderValueComplete: () => line('header_value complete'),
      onHeadersComplete(info: Http1HeadersInfo) {
        const who =
          info.kind === 'request'
            ? `method=${LLHTTP_METHODS[info.method] ?? info.method}`
            : `status=${info.statusCode}`;
        const cl = info.contentLength < 0 ? 0 : info.contentLength;
        line(
          `headers complete ${who} v=${info.versionMajor}/${info.versionMinor} flags=${info.flags.toString(16)} content_length=${cl}`,
        );
        if (opts.skipBody) {
          line('skip body');
          return HeadersCompleteAction.SKIP_BODY;
        }
        return undefined;
      },
      onBody: span('body'),
      onChunkHeader: (size) => line(`chunk header len=${size}`),
      onChunkExtensionName: span('chunk_extension_name'),
      onChunkExtensionNameComplete: () => line('chunk_extension_name complete'),
      onChunkExtensionValue: span('chunk_extension_value'),
      onChunkExtensionValueComplete: () => line('chunk_extension_value complete'),
      onChunkComplete: () => line('chunk complete'),
      onMessageComplete() {
        completed = true;
        line('message complete');
        if (parser.kind === 'request') parser.releaseMessage();
      },
      onError(err) {
        recs.push({ span: false, line: `off=${base + err.offset} error kind=${err.kind}` });
      },
    },
    {},
    opts.parserOptions ?? {},
  );
  let start = 0;
  const points = [...splits, input.length];
  let stopped = false;
  for (const end of points) {
    const piece = input.subarray(start, end);
    base = start;
    const st = parser.execute(piece);
    if (st === ExecuteStatus.UPGRADE) {
      recs.push({ span: false, line: `off=${start + parser.consumed} error code=22` });
      stopped = true;
    } else if (st !== ExecuteStatus.OK) {
      stopped = true;
    }
    if (stopped) break;
    start = end;
  }
  if (opts.finish && !stopped) {
    let fin = 0;
    const before = recs.length;
    const st = parser.finish();
    if (st !== ExecuteStatus.OK) fin = 2;
    else if (recs.length > before) fin = 1;
    recs.splice(before);
    recs.push({ span: false, line: `off=NULL finish=${fin}` });
  }
  return normalize(recs);
}
