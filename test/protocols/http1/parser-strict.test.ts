/** Strict rejections and limits: each maps to a typed error and the status to answer. */
import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../../../src/errors.js';
import { ExecuteStatus } from '../../../src/protocols/http1/constants.js';
import { Http1ParseError } from '../../../src/protocols/http1/errors.js';
import { DEFAULT_HTTP1_LIMITS, resolveHttp1Limits } from '../../../src/protocols/http1/limits.js';
import { Http1Parser } from '../../../src/protocols/http1/parser.js';
import { collect, enc, errorOf } from './helpers.js';

const REQ = 'POST / HTTP/1.1\r\nHost: a\r\n';

describe('strict rejections (RFC 9112)', () => {
  const cases: [string, string, string, number][] = [
    ['Content-Length with Transfer-Encoding', `${REQ}Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n`, 'CONTENT_LENGTH_WITH_TRANSFER_ENCODING', 400],
    ['Transfer-Encoding with Content-Length', `${REQ}Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n`, 'CONTENT_LENGTH_WITH_TRANSFER_ENCODING', 400],
    ['differing Content-Length', `${REQ}Content-Length: 1\r\nContent-Length: 2\r\n\r\n`, 'DUPLICATE_CONTENT_LENGTH', 400],
    ['repeated Content-Length', `${REQ}Content-Length: 1\r\nContent-Length: 1\r\n\r\n`, 'DUPLICATE_CONTENT_LENGTH', 400],
    ['Content-Length list', `${REQ}Content-Length: 1, 1\r\n\r\n`, 'INVALID_CONTENT_LENGTH', 400],
    ['non-digit Content-Length', `${REQ}Content-Length: 12a\r\n\r\n`, 'INVALID_CONTENT_LENGTH', 400],
    ['negative Content-Length', `${REQ}Content-Length: -1\r\n\r\n`, 'INVALID_CONTENT_LENGTH', 400],
    ['empty Content-Length', `${REQ}Content-Length: \r\n\r\n`, 'INVALID_CONTENT_LENGTH', 400],
    ['huge Content-Length', `${REQ}Content-Length: 99999999999999999999\r\n\r\n`, 'INVALID_CONTENT_LENGTH', 400],
    ['request coding not ending in chunked', `${REQ}Transfer-Encoding: gzip\r\n\r\n`, 'INVALID_TRANSFER_ENCODING', 400],
    ['chunked before another coding', `${REQ}Transfer-Encoding: chunked, gzip\r\n\r\n`, 'INVALID_TRANSFER_ENCODING', 400],
    ['chunked twice', `${REQ}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n`, 'INVALID_TRANSFER_ENCODING', 400],
    ['obs-fold', `${REQ}X-A: 1\r\n  2\r\n\r\n`, 'OBS_FOLD', 400],
    ['whitespace before colon', `${REQ}X-A : 1\r\n\r\n`, 'INVALID_HEADER_TOKEN', 400],
    ['invalid token in name', `${REQ}X(A): 1\r\n\r\n`, 'INVALID_HEADER_TOKEN', 400],
    ['empty field name', `${REQ}: 1\r\n\r\n`, 'INVALID_HEADER_TOKEN', 400],
    ['control byte in value', `${REQ}X-A: a\x01b\r\n\r\n`, 'INVALID_HEADER_VALUE', 400],
    ['NUL in value', `${REQ}X-A: a\x00b\r\n\r\n`, 'INVALID_HEADER_VALUE', 400],
    ['DEL in value', `${REQ}X-A: a\x7fb\r\n\r\n`, 'INVALID_HEADER_VALUE', 400],
    ['bare CR in value', `${REQ}X-A: a\rb\r\n\r\n`, 'BARE_CR', 400],
    ['bare LF after value', `${REQ}X-A: a\nX-B: b\r\n\r\n`, 'BARE_LF', 400],
    ['bare CR after request line', 'GET / HTTP/1.1\rHost: a\r\n\r\n', 'BARE_CR', 400],
    ['bare LF after request line', 'GET / HTTP/1.1\nHost: a\r\n\r\n', 'BARE_LF', 400],
    ['bare CR ending the head', `${REQ}\rX`, 'BARE_CR', 400],
    ['space before first field line', 'GET / HTTP/1.1\r\n Host: a\r\n\r\n', 'UNEXPECTED_SPACE', 400],
    ['invalid chunk size', `${REQ}Transfer-Encoding: chunked\r\n\r\nzz\r\n`, 'INVALID_CHUNK_SIZE', 400],
    ['overflowing chunk size', `${REQ}Transfer-Encoding: chunked\r\n\r\nfffffffffffffffffff\r\n`, 'INVALID_CHUNK_SIZE', 400],
    ['space after chunk size', `${REQ}Transfer-Encoding: chunked\r\n\r\n1 \r\na\r\n0\r\n\r\n`, 'INVALID_CHUNK_SIZE', 400],
    ['missing CRLF after chunk data', `${REQ}Transfer-Encoding: chunked\r\n\r\n1\r\naXX0\r\n\r\n`, 'MISSING_CHUNK_CRLF', 400],
    ['bad chunk extension', `${REQ}Transfer-Encoding: chunked\r\n\r\n1;=x\r\na\r\n0\r\n\r\n`, 'INVALID_CHUNK_EXTENSION', 400],
    ['unterminated quoted extension', `${REQ}Transfer-Encoding: chunked\r\n\r\n1;a="x\r\na\r\n`, 'INVALID_CHUNK_EXTENSION', 400],
    ['HTTP/2.0 request line', 'GET / HTTP/2.0\r\n\r\n', 'UNSUPPORTED_VERSION', 505],
    ['HTTP/1.2 request line', 'GET / HTTP/1.2\r\n\r\n', 'UNSUPPORTED_VERSION', 505],
    ['malformed version', 'GET / HTTP/1.x\r\n\r\n', 'INVALID_VERSION', 400],
    ['not HTTP', 'GET / FTP/1.1\r\n\r\n', 'INVALID_PROTOCOL', 400],
    ['invalid method byte', 'G(T / HTTP/1.1\r\n\r\n', 'INVALID_METHOD', 400],
    ['two spaces after method', 'GET  / HTTP/1.1\r\n\r\n', 'UNEXPECTED_SPACE', 400],
    ['non-ASCII in target', 'GET /\xe9 HTTP/1.1\r\n\r\n', 'INVALID_URL', 400],
    ['data after Connection: close', 'GET / HTTP/1.1\r\nConnection: close\r\n\r\nGET / HTTP/1.1\r\n\r\n', 'DATA_AFTER_CLOSE', 400],
  ]; // prettier-ignore

  for (const [name, input, kind, status] of cases) {
    it(`${name} → ${status} ${kind}`, () => {
      for (const bytewise of [false, true]) {
        const err = errorOf('request', input, { bytewise });
        expect(err).toBeInstanceOf(Http1ParseError);
        expect(err).toBeInstanceOf(ProtocolError);
        expect(err.kind).toBe(kind);
        expect(err.code).toBe(`GN_ERR_HTTP1_${kind}`);
        expect(err.wireCode).toBe(status);
        expect(err.initiator).toBe('remote');
      }
    });
  }

  it('response rejections: bad status, bare LF after status line, unsupported version', () => {
    expect(errorOf('response', 'HTTP/1.1 20 OK\r\n\r\n').kind).toBe('INVALID_STATUS');
    expect(errorOf('response', 'HTTP/1.1 2000 OK\r\n\r\n').kind).toBe('INVALID_STATUS');
    expect(errorOf('response', 'HTTP/1.1 200 OK\n\r\n').kind).toBe('BARE_LF');
    expect(errorOf('response', 'HTTP/3.0 200 OK\r\n\r\n').wireCode).toBe(505);
    expect(errorOf('response', 'HTTP/1.1 200 O\x01K\r\n\r\n').kind).toBe('INVALID_STATUS');
  });

  it('a response may end its codings with something other than chunked (read until close)', () => {
    const r = collect('response', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nabc', {
      finish: true,
    });
    expect(r.error).toBeNull();
    expect(r.bodies).toEqual(['abc']);
    expect(r.heads[0]!.keepAlive).toBe(false);
  });

  it('the error state is sticky until reset(), and execute never throws', () => {
    const r = collect('request', 'GET / HTTP/1.1\r\nX A: 1\r\n\r\n');
    expect(r.status).toBe(ExecuteStatus.ERROR);
    expect(r.parser.execute(enc('GET / HTTP/1.1\r\n\r\n'))).toBe(ExecuteStatus.ERROR);
    expect(r.parser.error).toBe(r.error);
    r.parser.reset();
    expect(r.parser.error).toBeNull();
    expect(r.parser.execute(enc('GET / HTTP/1.1\r\n\r\n'))).toBe(ExecuteStatus.OK);
  });

  it('lenientObsFold accepts obs-fold (off by default)', () => {
    const input = `${REQ}X-A: 1\r\n  2\r\n\r\n`;
    expect(collect('request', input).error?.kind).toBe('OBS_FOLD');
    const r = collect('request', input, { options: { lenientObsFold: true } });
    expect(r.error).toBeNull();
    expect(r.complete).toBe(1);
  });
});

describe('limits', () => {
  it('defaults are finite and documented values', () => {
    for (const v of Object.values(DEFAULT_HTTP1_LIMITS)) {
      expect(Number.isSafeInteger(v) && v > 0).toBe(true);
    }
    expect(() => resolveHttp1Limits({ maxHeaderBytes: 0 })).toThrow(/maxHeaderBytes/);
    expect(() => resolveHttp1Limits({ maxBodySize: Infinity })).toThrow(/maxBodySize/);
  });

  it('URL too long → 414', () => {
    const ok = collect('request', `GET /${'a'.repeat(99)} HTTP/1.1\r\n\r\n`, {
      limits: { maxUrlLength: 100 },
    });
    expect(ok.error).toBeNull();
    const err = errorOf('request', `GET /${'a'.repeat(100)} HTTP/1.1\r\n\r\n`, {
      limits: { maxUrlLength: 100 },
      bytewise: true,
    });
    expect([err.kind, err.wireCode, err.initiator]).toEqual(['URL_TOO_LONG', 414, 'library']);
  });

  it('header section too large → 431', () => {
    const input = `GET / HTTP/1.1\r\nX-A: ${'v'.repeat(300)}\r\n\r\n`;
    expect(collect('request', input, { limits: { maxHeaderBytes: 400 } }).error).toBeNull();
    const err = errorOf('request', input, { limits: { maxHeaderBytes: 200 } });
    expect([err.kind, err.wireCode]).toEqual(['HEADERS_TOO_LARGE', 431]);
  });

  it('a long header section split over many inputs is still bounded', () => {
    const p = new Http1Parser('request', {}, { maxHeaderBytes: 1000 });
    expect(p.execute(enc('GET / HTTP/1.1\r\nX-A: '))).toBe(ExecuteStatus.OK);
    let st: ExecuteStatus = ExecuteStatus.OK;
    for (let i = 0; i < 100 && st === ExecuteStatus.OK; i++) st = p.execute(enc('x'.repeat(50)));
    expect(st).toBe(ExecuteStatus.ERROR);
    expect(p.error?.wireCode).toBe(431);
  });

  it('too many header fields → 431', () => {
    const lines = (n: number) => Array.from({ length: n }, (_, i) => `X-${i}: v\r\n`).join('');
    const limits = { maxHeaderCount: 5 };
    expect(collect('request', `GET / HTTP/1.1\r\n${lines(5)}\r\n`, { limits }).error).toBeNull();
    const err = errorOf('request', `GET / HTTP/1.1\r\n${lines(6)}\r\n`, { limits });
    expect([err.kind, err.wireCode]).toEqual(['TOO_MANY_HEADERS', 431]);
  });

  it('body too large → 413 (Content-Length, chunked, close-delimited)', () => {
    const limits = { maxBodySize: 10 };
    const cl = errorOf('request', 'POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\n', { limits });
    expect([cl.kind, cl.wireCode]).toEqual(['BODY_TOO_LARGE', 413]);
    const chunked = errorOf(
      'request',
      'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n5\r\nabcde\r\n0\r\n\r\n',
      { limits },
    );
    expect([chunked.kind, chunked.wireCode]).toEqual(['BODY_TOO_LARGE', 413]);
    const eof = errorOf('response', `HTTP/1.1 200 OK\r\n\r\n${'x'.repeat(11)}`, { limits });
    expect(eof.wireCode).toBe(413);
    expect(
      collect('request', 'POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789', { limits })
        .error,
    ).toBeNull();
  });

  it('chunk extensions too long → 400, trailers too large → 431', () => {
    const ext = errorOf(
      'request',
      `POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1;${'e'.repeat(40)}\r\na\r\n0\r\n\r\n`,
      { limits: { maxChunkExtensionLength: 32 } },
    );
    expect([ext.kind, ext.wireCode]).toEqual(['CHUNK_EXTENSION_TOO_LONG', 400]);
    const tr = errorOf(
      'request',
      `POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: ${'t'.repeat(100)}\r\n\r\n`,
      { limits: { maxTrailerBytes: 64 } },
    );
    expect([tr.kind, tr.wireCode]).toEqual(['TRAILERS_TOO_LARGE', 431]);
  });

  it('method too long → 501', () => {
    const err = errorOf('request', `${'M'.repeat(40)} / HTTP/1.1\r\n\r\n`);
    expect([err.kind, err.wireCode]).toEqual(['METHOD_TOO_LONG', 501]);
  });

  it('pipelined requests beyond maxPipelinedRequests block until released', () => {
    const one = 'GET / HTTP/1.1\r\n\r\n';
    const input = enc(one.repeat(3));
    let completed = 0;
    const p = new Http1Parser(
      'request',
      { onMessageComplete: () => completed++ },
      { maxPipelinedRequests: 2 },
    );
    expect(p.execute(input)).toBe(ExecuteStatus.BLOCKED);
    expect(completed).toBe(2);
    expect(p.consumed).toBe(2 * one.length);
    expect(p.outstandingRequests).toBe(2);
    p.releaseMessage();
    expect(p.execute(input.subarray(p.consumed))).toBe(ExecuteStatus.OK);
    expect(completed).toBe(3);
  });
});
