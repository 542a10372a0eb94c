/** Message semantics: keep-alive, bodies that are absent, upgrades, Expect, splits. */
import { describe, expect, it } from 'vitest';
import { ExecuteStatus, HeadersCompleteAction } from '../../../src/protocols/http1/constants.js';
import { Http1Parser } from '../../../src/protocols/http1/parser.js';
import { collect, enc } from './helpers.js';

describe('keep-alive (RFC 9112 §9.3)', () => {
  const matrix: [string, string, boolean][] = [
    ['1.1', '', true],
    ['1.1', 'Connection: close\r\n', false],
    ['1.1', 'Connection: keep-alive\r\n', true],
    ['1.1', 'Connection: Keep-Alive, CLOSE\r\n', false],
    ['1.1', 'Connection: x-other\r\n', true],
    ['1.1', 'Proxy-Connection: close\r\n', false],
    ['1.0', '', false],
    ['1.0', 'Connection: keep-alive\r\n', true],
    ['1.0', 'Connection: close\r\n', false],
    ['1.0', 'Connection: closed\r\n', false],
  ];
  for (const [v, header, expected] of matrix) {
    it(`request HTTP/${v} ${JSON.stringify(header.trim())} → ${expected}`, () => {
      const r = collect('request', `GET / HTTP/${v}\r\n${header}\r\n`);
      expect(r.error).toBeNull();
      expect(r.heads[0]!.keepAlive).toBe(expected);
    });
    it(`response HTTP/${v} ${JSON.stringify(header.trim())} with length → ${expected}`, () => {
      const r = collect('response', `HTTP/${v} 200 OK\r\nContent-Length: 0\r\n${header}\r\n`);
      expect(r.heads[0]!.keepAlive).toBe(expected);
    });
  }

  it('a close-delimited response is never keep-alive', () => {
    const r = collect('response', 'HTTP/1.1 200 OK\r\nConnection: keep-alive\r\n\r\nxyz', {
      finish: true,
    });
    expect(r.heads[0]!.keepAlive).toBe(false);
    expect(r.bodies).toEqual(['xyz']);
  });

  it('keep-alive requests pipeline; Connection: close ends the stream', () => {
    const r = collect(
      'request',
      'GET /a HTTP/1.1\r\n\r\nPOST /b HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi\r\nGET /c HTTP/1.0\r\n\r\n',
    );
    expect(r.error).toBeNull();
    expect(r.heads.map((h) => h.method)).toEqual(['GET', 'POST', 'GET']);
    expect(r.bodies).toEqual(['', 'hi', '']);
    expect(r.parser.idle).toBe(true);
  });
});

describe('responses without a body (RFC 9112 §6.3)', () => {
  it('HEAD: told through pushRequestMethod, Content-Length is ignored', () => {
    const r = collect(
      'response',
      'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok',
      { requestMethods: ['HEAD', 'GET'] },
    );
    expect(r.error).toBeNull();
    expect(r.bodies).toEqual(['', 'ok']);
    expect(r.heads[0]!.contentLength).toBe(5);
  });

  it('HEAD: or by returning SKIP_BODY from onHeadersComplete', () => {
    let n = 0;
    const r = collect(
      'response',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n',
      { onHead: () => (n++ === 0 ? HeadersCompleteAction.SKIP_BODY : undefined) },
    );
    expect(r.error).toBeNull();
    expect(r.complete).toBe(2);
  });

  it('1xx, 204 and 304 have no body; 1xx keeps the connection for the final response', () => {
    const r = collect(
      'response',
      'HTTP/1.1 100 Continue\r\n\r\n' +
        'HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n' +
        'HTTP/1.1 204 No Content\r\nContent-Length: 9\r\n\r\n' +
        'HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n' +
        'HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc',
      { bytewise: true },
    );
    expect(r.error).toBeNull();
    expect(r.heads.map((h) => h.statusCode)).toEqual([100, 103, 204, 304, 200]);
    expect(r.bodies).toEqual(['', '', '', '', 'abc']);
  });

  it('the request-method queue is bounded by maxPipelinedRequests', () => {
    const p = new Http1Parser('response', {}, { maxPipelinedRequests: 2 });
    expect([p.pushRequestMethod('GET'), p.pushRequestMethod('HEAD')]).toEqual([true, true]);
    expect(p.pushRequestMethod('GET')).toBe(false);
  });

  it('a long custom method is kept whole when maxMethodLength allows it', () => {
    const m = 'X'.repeat(100);
    const r = collect('request', `${m} / HTTP/1.1\r\n\r\n`, { limits: { maxMethodLength: 128 } });
    expect(r.heads[0]!.method).toBe(m);
  });

  it('1xx responses do not consume a queued request method', () => {
    const r = collect(
      'response',
      'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n',
      { requestMethods: ['HEAD'] },
    );
    expect(r.complete).toBe(2);
    expect(r.parser.idle).toBe(true);
  });

  it('finish() completes a close-delimited body and reports truncation', () => {
    const ok = collect('response', 'HTTP/1.0 200 OK\r\n\r\npartial', { finish: true });
    expect(ok.status).toBe(ExecuteStatus.OK);
    expect(ok.complete).toBe(1);
    const cut = collect('response', 'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc', {
      finish: true,
    });
    expect(cut.status).toBe(ExecuteStatus.ERROR);
    expect(cut.error?.kind).toBe('INCOMPLETE_MESSAGE');
    const idle = collect('request', 'GET / HTTP/1.1\r\n\r\n', { finish: true });
    expect(idle.status).toBe(ExecuteStatus.OK);
  });
});

describe('Upgrade and CONNECT hand the rest to the caller', () => {
  it('Upgrade request: stops after the head, consumed points at the tunneled bytes', () => {
    const head = 'GET /ws HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n';
    const r = collect('request', `${head}\x81\x05hello`);
    expect(r.status).toBe(ExecuteStatus.UPGRADE);
    expect(r.heads[0]!.upgrade).toBe(true);
    expect(r.consumed).toBe(head.length);
    expect(r.complete).toBe(1);
    expect(r.parser.upgraded).toBe(true);
    expect(r.parser.execute(enc('more'))).toBe(ExecuteStatus.UPGRADE);
  });

  it('Upgrade header without Connection: upgrade is not an upgrade', () => {
    const r = collect(
      'request',
      'GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\nGET / HTTP/1.1\r\n\r\n',
    );
    expect(r.status).toBe(ExecuteStatus.OK);
    expect(r.heads[0]!.upgrade).toBe(false);
    expect(r.complete).toBe(2);
  });

  it('CONNECT: the bytes after the head belong to the tunnel', () => {
    const head = 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n';
    const r = collect('request', `${head}\x16\x03\x01`, { bytewise: true });
    expect(r.status).toBe(ExecuteStatus.UPGRADE);
    expect(r.consumed).toBe(head.length);
    expect(r.heads[0]!.method).toBe('CONNECT');
  });

  it('101 Switching Protocols and a 2xx answer to CONNECT upgrade the response side', () => {
    const h101 =
      'HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n';
    const r = collect('response', `${h101}\x81\x00`);
    expect([r.status, r.consumed]).toEqual([ExecuteStatus.UPGRADE, h101.length]);
    const h200 = 'HTTP/1.1 200 Connection established\r\n\r\n';
    const c = collect('response', `${h200}\x16\x03`, { requestMethods: ['CONNECT'] });
    expect([c.status, c.consumed]).toEqual([ExecuteStatus.UPGRADE, h200.length]);
    const refused = collect('response', 'HTTP/1.1 407 No\r\nContent-Length: 0\r\n\r\n', {
      requestMethods: ['CONNECT'],
    });
    expect(refused.status).toBe(ExecuteStatus.OK);
  });

  it('an upgrade request with a body is upgraded after the body', () => {
    const msg =
      'POST / HTTP/1.1\r\nConnection: upgrade\r\nUpgrade: x\r\nContent-Length: 3\r\n\r\nabc';
    const r = collect('request', `${msg}TUNNEL`);
    expect(r.status).toBe(ExecuteStatus.UPGRADE);
    expect(r.bodies).toEqual(['abc']);
    expect(r.consumed).toBe(msg.length);
  });

  it('onHeadersComplete may return UPGRADE', () => {
    const r = collect('request', 'GET / HTTP/1.1\r\n\r\nrest', {
      onHead: () => HeadersCompleteAction.UPGRADE,
    });
    expect([r.status, r.consumed]).toEqual([ExecuteStatus.UPGRADE, 18]);
  });
});

describe('other head semantics', () => {
  it('Expect: 100-continue is reported (RFC 9110 §10.1.1)', () => {
    const r = collect(
      'request',
      'PUT / HTTP/1.1\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\nx',
    );
    expect(r.heads[0]!.expectContinue).toBe(true);
    expect(collect('request', 'GET / HTTP/1.1\r\n\r\n').heads[0]!.expectContinue).toBe(false);
  });

  it('chunked bodies with extensions and trailers', () => {
    const exts: string[] = [];
    const trailers: string[] = [];
    let inTrailers = false;
    const p = new Http1Parser('request', {
      onChunkHeader: (n) => {
        if (n === 0) inTrailers = true;
      },
      onChunkExtensionName: (b, s, e) => exts.push(Buffer.from(b.subarray(s, e)).toString()),
      onChunkExtensionValue: (b, s, e) => exts.push(Buffer.from(b.subarray(s, e)).toString()),
      onHeaderField: (b, s, e) => {
        if (inTrailers) trailers.push(Buffer.from(b.subarray(s, e)).toString());
      },
    });
    const st = p.execute(
      enc(
        'POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3;a=1;b="x y"\r\nabc\r\n0\r\nX-Sum: 1\r\n\r\n',
      ),
    );
    expect(st).toBe(ExecuteStatus.OK);
    expect(exts).toEqual(['a', '1', 'b', '"x y"']);
    expect(trailers).toEqual(['X-Sum']);
    expect(p.idle).toBe(true);
  });

  it('every split of the input gives the same heads and bodies', () => {
    const input =
      'POST /x?y=1 HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n4;e=v\r\nwiki\r\n5\r\npedia\r\n0\r\nT: 1\r\n\r\n' +
      'GET / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc';
    const whole = collect('request', input);
    const bytes = enc(input);
    for (let k = 1; k < bytes.length; k++) {
      const heads: string[] = [];
      let body = '';
      const p = new Http1Parser('request', {
        onHeadersComplete: (i) => void heads.push(`${i.method} ${i.flags} ${i.contentLength}`),
        onBody: (b, s, e) => (body += Buffer.from(b.subarray(s, e)).toString()),
        onMessageComplete: () => p.releaseMessage(),
      });
      expect(p.execute(bytes.subarray(0, k))).toBe(ExecuteStatus.OK);
      expect(p.execute(bytes.subarray(k))).toBe(ExecuteStatus.OK);
      expect(heads).toEqual(whole.heads.map((i) => `${i.method} ${i.flags} ${i.contentLength}`));
      expect(body).toBe(whole.bodies.join(''));
    }
  });
});
