import { describe, expect, it } from 'vitest';
import { HeaderList } from '../../../src/protocols/http/headers.js';
import {
  Http1ConnectionState,
  Http1ServerConnection,
} from '../../../src/protocols/http1/server-connection.js';
import type {
  Http1RequestInfo,
  Http1ServerConnectionHandler,
  Http1ServerConnectionOptions,
} from '../../../src/protocols/http1/server-connection.js';

const enc = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'latin1'));
const T0 = Date.UTC(2026, 0, 1, 0, 0, 0);

/** A core with a recording handler; `auto` answers each request at once with its path. */
function setup(opts: Http1ServerConnectionOptions = {}, auto = true) {
  const reqs: Http1RequestInfo[] = [];
  const bodies = new Map<Http1RequestInfo, string>();
  const ended: Http1RequestInfo[] = [];
  const errors: string[] = [];
  const bodyErrors: string[] = [];
  // eslint-disable-next-line prefer-const -- assigned after the handler that closes over it
  let conn!: Http1ServerConnection;
  const handler: Http1ServerConnectionHandler = {
    onRequest(req) {
      reqs.push(req);
      bodies.set(req, '');
      if (auto) reply(req, req.target);
    },
    onBody(req, chunk) {
      bodies.set(req, bodies.get(req)! + Buffer.from(chunk).toString('latin1'));
    },
    onBodyEnd(req) {
      ended.push(req);
    },
    onBodyError(_req, err) {
      bodyErrors.push(err.message);
    },
    onResponseDone() {},
    onUpgrade() {},
    onProtocolError(err) {
      errors.push(err.code);
    },
  };
  const reply = (req: Http1RequestInfo, text: string, extra: Record<string, string> = {}) => {
    const h = new HeaderList({ 'content-length': String(text.length), ...extra });
    conn.writeHead(req, 200, undefined, h, false);
    conn.writeBody(req, enc(text), true);
  };
  conn = new Http1ServerConnection(handler, T0, opts);
  const out = () => Buffer.concat(conn.takeOutput()).toString('latin1');
  return { conn, reqs, bodies, ended, errors, bodyErrors, reply, out };
}

const GET = (path: string, extra = '') => `GET ${path} HTTP/1.1\r\nHost: x\r\n${extra}\r\n`;

function statuses(text: string): number[] {
  return [...text.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));
}

describe('Http1ServerConnection', () => {
  it('reuses a keep-alive connection and adds Date', () => {
    const t = setup();
    t.conn.receive(enc(GET('/a')), T0);
    let o = t.out();
    expect(o).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(o).toContain('Date: Thu, 01 Jan 2026 00:00:00 GMT\r\n');
    expect(o).not.toContain('Connection: close');
    expect(o.endsWith('\r\n\r\n/a')).toBe(true);
    t.conn.receive(enc(GET('/b')), T0 + 10);
    o = t.out();
    expect(o.endsWith('/b')).toBe(true);
    expect(t.conn.state).toBe(Http1ConnectionState.OPEN);
  });

  it('answers 3 pipelined requests in order, even when the second is answered first', () => {
    const t = setup({}, false);
    const input = GET('/1') + GET('/2') + GET('/3');
    for (const split of [input.length, 1, 7]) {
      const u = setup({}, false);
      for (let i = 0; i < input.length; i += split)
        u.conn.receive(enc(input.slice(i, i + split)), T0);
      expect(u.reqs.map((r) => r.target)).toEqual(['/1', '/2', '/3']);
      u.reply(u.reqs[1]!, 'two');
      expect(u.out()).toBe('');
      u.reply(u.reqs[2]!, 'three');
      u.reply(u.reqs[0]!, 'one');
      const o = u.out();
      const bodies = [...o.matchAll(/\r\n\r\n(one|two|three)/g)].map((m) => m[1]);
      expect(bodies).toEqual(['one', 'two', 'three']);
    }
    expect(t.reqs).toHaveLength(0);
  });

  it('chunks a body of unknown length for HTTP/1.1, ends with trailers', () => {
    const t = setup({}, false);
    t.conn.receive(enc(GET('/')), T0);
    const r = t.reqs[0]!;
    t.conn.writeHead(r, 200, undefined, new HeaderList(), false);
    t.conn.writeBody(r, enc('hello'), false);
    t.conn.writeTrailers(r, new HeaderList({ 'x-sum': '1' }));
    expect(t.out()).toMatch(
      /Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nx-sum: 1\r\n\r\n$/,
    );
  });

  it('HTTP/1.0: closes by default, keeps alive when asked, never chunks', () => {
    const a = setup({}, false);
    a.conn.receive(enc('GET / HTTP/1.0\r\n\r\n'), T0);
    a.conn.writeHead(a.reqs[0]!, 200, undefined, new HeaderList(), false);
    a.conn.writeBody(a.reqs[0]!, enc('abc'), true);
    const o = a.out();
    expect(o).toContain('Connection: close');
    expect(o).not.toContain('chunked');
    expect(o.endsWith('\r\n\r\nabc')).toBe(true);
    expect(a.conn.state).toBe(Http1ConnectionState.CLOSING);

    const b = setup();
    b.conn.receive(enc('GET /k HTTP/1.0\r\nConnection: keep-alive\r\n\r\n'), T0);
    expect(b.out()).toContain('Connection: keep-alive\r\n');
    expect(b.conn.state).toBe(Http1ConnectionState.OPEN);
  });

  it('Connection: close from the client or the application ends the connection', () => {
    const a = setup();
    a.conn.receive(enc(GET('/x', 'Connection: close\r\n') + GET('/ignored')), T0);
    expect(a.out()).toContain('Connection: close');
    expect(a.reqs).toHaveLength(1);
    expect(a.conn.state).toBe(Http1ConnectionState.CLOSING);

    const b = setup({}, false);
    b.conn.receive(enc(GET('/x')), T0);
    b.reply(b.reqs[0]!, 'x', { connection: 'close' });
    expect(b.out()).toContain('Connection: close');
    expect(b.conn.state).toBe(Http1ConnectionState.CLOSING);
  });

  it('HEAD, 204 and 304 carry no body', () => {
    const t = setup({}, false);
    t.conn.receive(enc('HEAD / HTTP/1.1\r\nHost: x\r\n\r\n'), T0);
    t.reply(t.reqs[0]!, 'hello');
    const o = t.out();
    expect(o).toContain('content-length: 5');
    expect(o.endsWith('\r\n\r\n')).toBe(true);
    t.conn.receive(enc(GET('/')), T0);
    t.conn.writeHead(t.reqs[1]!, 204, undefined, new HeaderList({ 'content-length': '0' }), true);
    const o2 = t.out();
    expect(o2).toMatch(/^HTTP\/1\.1 204 No Content/);
    expect(o2).not.toMatch(/content-length|chunked/i);
  });

  it('sends 100 Continue on request, not when the final response comes first', () => {
    const t = setup({}, false);
    t.conn.receive(
      enc('POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n'),
      T0,
    );
    const r = t.reqs[0]!;
    t.conn.sendContinue(r);
    expect(t.out()).toBe('HTTP/1.1 100 Continue\r\n\r\n');
    t.conn.receive(enc('abc'), T0);
    expect(t.bodies.get(r)).toBe('abc');
    t.reply(r, 'ok');
    expect(statuses(t.out())).toEqual([200]);

    const u = setup({}, false);
    u.conn.receive(
      enc('POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n'),
      T0,
    );
    u.reply(u.reqs[0]!, 'no');
    u.conn.sendContinue(u.reqs[0]!);
    const o = u.out();
    expect(statuses(o)).toEqual([200]);
    expect(o).toContain('Connection: close'); // the body may never come
  });

  it.each([
    ['GET / HTTP/1.1\r\nHost: x\r\nBad Header: v\r\n\r\n', 400],
    ['GET / HTTP/2.0\r\nHost: x\r\n\r\n', 505],
    ['GET /' + 'a'.repeat(9000) + ' HTTP/1.1\r\n\r\n', 414],
    ['GET / HTTP/1.1\r\nHost: x\r\n' + 'X-A: b\r\n'.repeat(200) + '\r\n', 431],
    ['POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n', 413],
    ['GET / HTTP/1.1\r\n\r\n', 400],
    ['GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n', 400],
    ['POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n', 400],
    ['CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n', 501],
    ['A'.repeat(40) + ' / HTTP/1.1\r\n\r\n', 501],
  ])('malformed input → status and close (%#)', (input, status) => {
    const t = setup({ limits: { maxBodySize: 1_000_000 } });
    t.conn.receive(enc(input), T0);
    const o = t.out();
    expect(statuses(o)).toEqual([status]);
    expect(o).toContain('Connection: close');
    expect(t.conn.state).toBe(Http1ConnectionState.CLOSING);
    // Further input is ignored.
    t.conn.receive(enc(GET('/')), T0);
    expect(t.out()).toBe('');
  });

  it('answers earlier pipelined requests before the error', () => {
    const t = setup({}, false);
    t.conn.receive(enc(GET('/ok') + 'BAD\r\n\r\n'), T0);
    expect(t.out()).toBe('');
    t.reply(t.reqs[0]!, 'fine');
    const o = t.out();
    expect(statuses(o)).toEqual([200, 400]);
    expect(o.indexOf('fine')).toBeLessThan(o.indexOf('400'));
    expect(t.conn.state).toBe(Http1ConnectionState.CLOSING);
  });

  it('stops reading at maxPipelinedRequests and resumes after responses', () => {
    const t = setup({ limits: { maxPipelinedRequests: 2 } }, false);
    t.conn.receive(enc(GET('/1') + GET('/2') + GET('/3') + GET('/4')), T0);
    expect(t.reqs.map((r) => r.target)).toEqual(['/1', '/2']);
    expect(t.conn.blocked).toBe(true);
    t.reply(t.reqs[0]!, '1');
    t.conn.resumeInput(T0);
    expect(t.reqs.map((r) => r.target)).toEqual(['/1', '/2', '/3']);
    t.reply(t.reqs[1]!, '2');
    t.reply(t.reqs[2]!, '3');
    t.conn.resumeInput(T0);
    t.reply(t.reqs[3]!, '4');
    expect(t.conn.blocked).toBe(false);
    expect(statuses(t.out())).toEqual([200, 200, 200, 200]);
  });

  it('a peer that floods while blocked gets 429', () => {
    const t = setup(
      { limits: { maxPipelinedRequests: 1, maxHeaderBytes: 256, maxUrlLength: 64 } },
      false,
    );
    t.conn.receive(enc(GET('/1') + GET('/2')), T0);
    t.conn.receive(enc('x'.repeat(400)), T0);
    t.reply(t.reqs[0]!, '1');
    expect(statuses(t.out())).toEqual([200, 429]);
  });

  it('headers timeout → 408 and close; a silent new connection closes quietly', () => {
    const t = setup({ timeouts: { headersTimeoutMs: 1000 } });
    t.conn.receive(enc('GET / HTTP/1.1\r\nHo'), T0 + 100);
    expect(t.conn.nextTimeout()).toBe(T0 + 1100);
    t.conn.handleTimeout(T0 + 1099);
    expect(t.out()).toBe('');
    t.conn.handleTimeout(T0 + 1100);
    expect(statuses(t.out())).toEqual([408]);
    expect(t.conn.state).toBe(Http1ConnectionState.CLOSING);

    const u = setup({ timeouts: { headersTimeoutMs: 1000 } });
    u.conn.handleTimeout(T0 + 1000);
    expect(u.out()).toBe('');
    expect(u.conn.state).toBe(Http1ConnectionState.CLOSING);
  });

  it('keep-alive idle timeout closes quietly', () => {
    const t = setup({ timeouts: { keepAliveTimeoutMs: 500 } });
    t.conn.receive(enc(GET('/')), T0);
    t.out();
    expect(t.conn.nextTimeout()).toBe(T0 + 500);
    t.conn.handleTimeout(T0 + 499);
    expect(t.conn.state).toBe(Http1ConnectionState.OPEN);
    t.conn.handleTimeout(T0 + 500);
    expect(t.conn.state).toBe(Http1ConnectionState.CLOSING);
    expect(t.out()).toBe('');
  });

  it('request timeout while the body is late → 408 (body fails)', () => {
    const t = setup({ timeouts: { requestTimeoutMs: 2000 } }, false);
    t.conn.receive(enc('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab'), T0);
    t.conn.handleTimeout(T0 + 2000);
    expect(statuses(t.out())).toEqual([408]);
    expect(t.bodyErrors).toHaveLength(1);
    expect(t.conn.state).toBe(Http1ConnectionState.CLOSING);
  });

  it('an unread small body is discarded, a large one closes', () => {
    const t = setup({ maxDiscardBytes: 10 });
    t.conn.receive(enc('POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n'), T0);
    expect(t.out()).not.toContain('Connection: close');
    t.conn.receive(enc('12345' + GET('/b')), T0);
    expect(t.out().endsWith('/b')).toBe(true);

    const u = setup({ maxDiscardBytes: 10 });
    u.conn.receive(enc('POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n'), T0);
    expect(u.out()).toContain('Connection: close');
    expect(u.conn.state).toBe(Http1ConnectionState.CLOSING);

    const v = setup({ maxDiscardBytes: 10 });
    v.conn.receive(enc('POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n'), T0);
    v.out();
    v.conn.receive(enc('20\r\n' + 'z'.repeat(32) + '\r\n'), T0);
    expect(v.conn.state).toBe(Http1ConnectionState.CLOSING);
  });

  it('delivers a chunked body with trailers', () => {
    const t = setup({}, false);
    const input =
      'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\nX-T: 1\r\n\r\n';
    for (let i = 0; i < input.length; i++) t.conn.receive(enc(input[i]!), T0);
    expect(t.bodies.get(t.reqs[0]!)).toBe('abcde');
    expect(t.ended).toHaveLength(1);
  });

  it('ignores Upgrade without a hook and keeps serving', () => {
    const t = setup();
    t.conn.receive(
      enc(GET('/ws', 'Upgrade: websocket\r\nConnection: Upgrade\r\n') + GET('/next')),
      T0,
    );
    expect(t.reqs.map((r) => r.target)).toEqual(['/ws', '/next']);
    expect(statuses(t.out())).toEqual([200, 200]);
  });

  it('rejects a body longer than Content-Length and closes on a short one', () => {
    const t = setup({}, false);
    t.conn.receive(enc(GET('/')), T0);
    const r = t.reqs[0]!;
    t.conn.writeHead(r, 200, undefined, new HeaderList({ 'content-length': '2' }), false);
    expect(() => t.conn.writeBody(r, enc('abc'), false)).toThrow(/Content-Length/);
    t.conn.writeBody(r, enc('a'), true);
    expect(t.conn.state).toBe(Http1ConnectionState.CLOSING);
  });
});
