/**
 * Correctness of the server hot-path shortcuts (STYLE §12): the whole-method and
 * `HTTP/1.x CRLF` fast paths of the parser, interned common field names and the Host value
 * captured by the core. Every split of the input must give the same result.
 */
import { describe, expect, it } from 'vitest';
import { Http1Parser } from '../../../src/protocols/http1/parser.js';
import { Http1ServerConnection } from '../../../src/protocols/http1/server-connection.js';
import type {
  Http1RequestInfo,
  Http1ServerConnectionHandler,
} from '../../../src/protocols/http1/server-connection.js';

const enc = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'latin1'));
const T0 = Date.UTC(2026, 0, 1);

function splits(wire: Uint8Array): Uint8Array[][] {
  const out: Uint8Array[][] = [[wire]];
  for (let k = 1; k < wire.length; k++) out.push([wire.subarray(0, k), wire.subarray(k)]);
  out.push(Array.from(wire, (b) => Uint8Array.of(b)));
  return out;
}

function parseLog(pieces: Uint8Array[]): string[] {
  const log: string[] = [];
  const span =
    (name: string) =>
    (b: Uint8Array, s: number, e: number): void => {
      log.push(`${name}:${Buffer.from(b.subarray(s, e)).toString('latin1')}`);
    };
  const p = new Http1Parser('request', {
    onMethod: span('method'),
    onMethodComplete: () => log.push('method-complete'),
    onUrl: span('url'),
    onUrlComplete: () => log.push('url-complete'),
    onProtocol: span('protocol'),
    onProtocolComplete: () => log.push('protocol-complete'),
    onVersion: span('version'),
    onVersionComplete: () => log.push('version-complete'),
    onHeadersComplete: (info) => {
      log.push(`head:${info.method}:${info.versionMinor}`);
    },
    onError: (err) => log.push(`error:${err.kind}`),
  });
  for (const piece of pieces) p.execute(piece);
  // Join consecutive pieces of the same span, as split inputs deliver them in parts.
  const joined: string[] = [];
  for (const entry of log) {
    const prev = joined[joined.length - 1];
    const colon = entry.indexOf(':');
    if (
      prev !== undefined &&
      colon > 0 &&
      !entry.startsWith('head') &&
      !entry.startsWith('error')
    ) {
      const kind = entry.slice(0, colon + 1);
      if (prev.startsWith(kind)) {
        joined[joined.length - 1] = prev + entry.slice(colon + 1);
        continue;
      }
    }
    joined.push(entry);
  }
  return joined;
}

describe('parser fast paths', () => {
  it('report the same callbacks as the byte-by-byte states, for every split', () => {
    for (const wire of [
      'GET /a?b=1 HTTP/1.1\r\nHost: x\r\n\r\n',
      'OPTIONS * HTTP/1.0\r\n\r\n',
      'M-SEARCH /x HTTP/1.1\r\nHost: y\r\n\r\n',
    ]) {
      const bytes = enc(wire);
      const whole = parseLog([bytes]);
      expect(whole).toContain('version-complete');
      for (const pieces of splits(bytes)) expect(parseLog(pieces)).toEqual(whole);
    }
  });

  it('still rejects what the slow path rejects', () => {
    expect(parseLog([enc('GET / HTTP/2.0\r\n\r\n')])).toContain('error:UNSUPPORTED_VERSION');
    expect(parseLog([enc('GET / HTTP/1.1\n\r\n')])).toContain('error:BARE_LF');
    const long = parseLog([enc(`${'A'.repeat(100)} / HTTP/1.1\r\n\r\n`)]);
    expect(long.some((l) => l.startsWith('error:'))).toBe(true);
  });
});

describe('server core: interned names and Host', () => {
  function run(pieces: Uint8Array[]): Http1RequestInfo[] {
    const reqs: Http1RequestInfo[] = [];
    const h: Http1ServerConnectionHandler = {
      onRequest: (r) => reqs.push(r),
      onBody() {},
      onBodyEnd() {},
      onBodyError() {},
      onResponseDone() {},
      onUpgrade() {},
      onProtocolError() {},
    };
    const conn = new Http1ServerConnection(h, T0);
    for (const p of pieces) conn.receive(p, T0);
    return reqs;
  }

  it('keeps names, lowercase names and Host for every split', () => {
    const wire = enc(
      'GET / HTTP/1.1\r\nhost: a.example\r\nHost-Extra: 1\r\nUser-Agent: t\r\nX-Odd: 2\r\nACCEPT: */*\r\n\r\n',
    );
    for (const pieces of splits(wire)) {
      const [req] = run(pieces);
      expect(req).toBeDefined();
      const names = [...Array(req!.headers.size).keys()].map((i) => req!.headers.nameAt(i));
      const lower = [...Array(req!.headers.size).keys()].map((i) => req!.headers.lowerNameAt(i));
      expect(names).toEqual(['host', 'Host-Extra', 'User-Agent', 'X-Odd', 'ACCEPT']);
      expect(lower).toEqual(['host', 'host-extra', 'user-agent', 'x-odd', 'accept']);
      expect(req!.host).toBe('a.example');
      expect(req!.headers.get('host')).toBe('a.example');
    }
  });

  it('reuses header arrays only when no list owns them', () => {
    const reqs = run([
      enc('GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: b\r\nCookie: c=1\r\n\r\n'),
    ]);
    expect(reqs.map((r) => [r.target, r.host, r.headers.size])).toEqual([
      ['/1', 'a', 1],
      ['/2', 'b', 2],
    ]);
  });
});
