import { describe, expect, it } from 'vitest';
import { HeaderList } from '../../../src/protocols/http/headers.js';
import {
  Http1ClientConnection,
  Http1ClientError,
} from '../../../src/protocols/http1/client-connection.js';
import type { Http1ClientEvent } from '../../../src/protocols/http1/client-connection.js';
import { Http1ParseError } from '../../../src/protocols/http1/errors.js';
import {
  encodeChunk,
  encodeLastChunk,
  serializeRequestHead,
} from '../../../src/protocols/http1/request-serializer.js';

const text = (chunks: Uint8Array[]): string => Buffer.concat(chunks).toString('latin1');
const bytes = (s: string): Uint8Array => Buffer.from(s, 'latin1');

function get(core: Http1ClientConnection, method = 'GET', headers = new HeaderList()): number {
  return core.sendRequest({ method, target: '/a?b=1', host: 'example.test:8080', headers });
}

/** Feeds `wire` whole, in two pieces at every split point, and byte by byte. */
function splits(wire: string): Uint8Array[][] {
  const b = bytes(wire);
  const out: Uint8Array[][] = [[b], Array.from(b, (x) => Uint8Array.of(x))];
  for (let i = 1; i < b.length; i += Math.max(1, Math.floor(b.length / 13))) {
    out.push([b.subarray(0, i), b.subarray(i)]);
  }
  return out;
}

/** Events with data joined, so any split compares equal. */
function normalize(events: Http1ClientEvent[]): unknown[] {
  const out: unknown[] = [];
  let data = '';
  for (const ev of events) {
    if (ev.type === 'data') {
      data += Buffer.from(ev.data).toString('latin1');
      continue;
    }
    if (data !== '') out.push({ type: 'data', data });
    data = '';
    if (ev.type === 'response' || ev.type === 'informational') {
      out.push({ ...ev, headers: [...ev.headers] });
    } else if (ev.type === 'trailers') out.push({ ...ev, trailers: [...ev.trailers] });
    else if (ev.type === 'error') out.push({ type: 'error', code: ev.error.code });
    else out.push(ev);
  }
  if (data !== '') out.push({ type: 'data', data });
  return out;
}

describe('request serialization', () => {
  it('writes the request line, Host first, headers in order', () => {
    const core = new Http1ClientConnection();
    get(
      core,
      'GET',
      new HeaderList([
        ['X-One', '1'],
        ['x-two', 'two'],
      ]),
    );
    expect(text(core.takeOutput())).toBe(
      'GET /a?b=1 HTTP/1.1\r\nHost: example.test:8080\r\nX-One: 1\r\nx-two: two\r\n\r\n',
    );
  });

  it('keeps a Host the caller set and does not add another', () => {
    const head = serializeRequestHead({
      method: 'GET',
      target: '/',
      host: 'ignored',
      headers: new HeaderList({ host: 'virtual.test' }),
      framing: { kind: 'none' },
    });
    expect(Buffer.from(head).toString()).toBe('GET / HTTP/1.1\r\nhost: virtual.test\r\n\r\n');
  });

  it('sends Content-Length for a known body and Content-Length: 0 for an empty POST', () => {
    const core = new Http1ClientConnection();
    core.sendRequest({
      method: 'PUT',
      target: '/x',
      host: 'h',
      headers: new HeaderList(),
      bodyLength: 5,
    });
    expect(core.sendingBody).toBe(true);
    core.sendBody(bytes('hel'));
    core.sendBody(bytes('lo'));
    core.endBody();
    expect(text(core.takeOutput())).toBe(
      'PUT /x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello',
    );
    core.receive(bytes('HTTP/1.1 204 No Content\r\n\r\n'));
    core.sendRequest({ method: 'POST', target: '/', host: 'h', headers: new HeaderList() });
    expect(text(core.takeOutput())).toBe('POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n');
  });

  it('sends a body of unknown length chunked, with trailers', () => {
    const core = new Http1ClientConnection();
    core.sendRequest({
      method: 'POST',
      target: '/up',
      host: 'h',
      headers: new HeaderList(),
      bodyLength: null,
    });
    core.sendBody(bytes('hello'));
    core.sendBody(new Uint8Array(0)); // must not end the body early
    core.sendBody(bytes('x'.repeat(26)));
    core.endBody(new HeaderList({ 'X-Checksum': 'abc' }));
    expect(text(core.takeOutput())).toBe(
      'POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n' +
        `5\r\nhello\r\n1a\r\n${'x'.repeat(26)}\r\n0\r\nX-Checksum: abc\r\n\r\n`,
    );
  });

  it('rejects framing headers, bad methods and bad targets from the caller', () => {
    expect(() =>
      serializeRequestHead({
        method: 'G ET',
        target: '/',
        host: 'h',
        headers: new HeaderList(),
        framing: { kind: 'none' },
      }),
    ).toThrow(/token/);
    expect(() =>
      serializeRequestHead({
        method: 'GET',
        target: '/a b',
        host: 'h',
        headers: new HeaderList(),
        framing: { kind: 'none' },
      }),
    ).toThrow(/target/);
    expect(() => encodeLastChunk(new HeaderList({ 'Content-Length': '1' }))).toThrow(/trailer/);
    expect(encodeChunk(new Uint8Array(0))).toEqual([]);
  });

  it('enforces the announced Content-Length', () => {
    const core = new Http1ClientConnection();
    core.sendRequest({
      method: 'PUT',
      target: '/',
      host: 'h',
      headers: new HeaderList(),
      bodyLength: 2,
    });
    expect(() => core.sendBody(bytes('abc'))).toThrow(Http1ClientError);
    const core2 = new Http1ClientConnection();
    core2.sendRequest({
      method: 'PUT',
      target: '/',
      host: 'h',
      headers: new HeaderList(),
      bodyLength: 2,
    });
    core2.sendBody(bytes('a'));
    try {
      core2.endBody();
      expect.unreachable();
    } catch (err) {
      expect((err as Http1ClientError).code).toBe('GN_ERR_HTTP1_REQUEST_BODY_LENGTH');
    }
    expect(core2.reusable).toBe(false);
  });

  it('refuses a second request while a body is open', () => {
    const core = new Http1ClientConnection();
    core.sendRequest({
      method: 'POST',
      target: '/',
      host: 'h',
      headers: new HeaderList(),
      bodyLength: null,
    });
    expect(core.canSend).toBe(false);
    expect(() => get(core)).toThrow(/canSend/);
  });
});

describe('response parsing', () => {
  const simple =
    'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\nhello world';

  it.each(splits(simple).map((s, i) => [i, s] as const))(
    'parses a Content-Length response in any split (%i)',
    (_i, pieces) => {
      const core = new Http1ClientConnection();
      const id = get(core);
      core.takeOutput();
      const events = pieces.flatMap((p) => core.receive(p));
      expect(normalize(events)).toEqual([
        {
          type: 'response',
          requestId: id,
          status: 200,
          reason: 'OK',
          versionMinor: 1,
          headers: [
            ['Content-Type', 'text/plain'],
            ['Content-Length', '11'],
          ],
          contentLength: 11,
          bodyless: false,
        },
        { type: 'data', data: 'hello world' },
        { type: 'end', requestId: id, keepAlive: true },
      ]);
      expect(core.reusable).toBe(true);
    },
  );

  const chunked =
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n' +
    '5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Sum: 42\r\n\r\n';

  it.each(splits(chunked).map((s, i) => [i, s] as const))(
    'parses a chunked response with trailers in any split (%i)',
    (_i, pieces) => {
      const core = new Http1ClientConnection();
      const id = get(core);
      const events = normalize(pieces.flatMap((p) => core.receive(p)));
      expect(events.slice(1)).toEqual([
        { type: 'data', data: 'hello world' },
        { type: 'trailers', requestId: id, trailers: [['X-Sum', '42']] },
        { type: 'end', requestId: id, keepAlive: true },
      ]);
    },
  );

  it('knows a HEAD response has no body even with Content-Length', () => {
    const core = new Http1ClientConnection();
    const id = get(core, 'HEAD');
    const events = core.receive(bytes('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n'));
    expect(events.map((e) => e.type)).toEqual(['response', 'end']);
    expect(events[0]).toMatchObject({ bodyless: true, contentLength: 0 });
    expect(events[1]).toEqual({ type: 'end', requestId: id, keepAlive: true });
    // The next response on the connection is parsed from the right byte.
    const id2 = get(core);
    const more = core.receive(bytes('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'));
    expect(normalize(more).slice(1)).toEqual([
      { type: 'data', data: 'ok' },
      { type: 'end', requestId: id2, keepAlive: true },
    ]);
  });

  it('treats 204 and 304 as bodyless and skips 1xx', () => {
    const core = new Http1ClientConnection();
    get(core);
    const ev = core.receive(
      bytes('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s>\r\n\r\n'),
    );
    expect(ev.map((e) => (e.type === 'informational' ? e.status : e.type))).toEqual([100, 103]);
    const ev2 = core.receive(bytes('HTTP/1.1 204 No Content\r\n\r\n'));
    expect(ev2.map((e) => e.type)).toEqual(['response', 'end']);
    get(core);
    const ev3 = core.receive(bytes('HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n'));
    expect(ev3.map((e) => e.type)).toEqual(['response', 'end']);
    expect(core.reusable).toBe(true);
  });

  it('does not keep alive after Connection: close or HTTP/1.0', () => {
    for (const wire of [
      'HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n',
      'HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n',
    ]) {
      const core = new Http1ClientConnection();
      const id = get(core);
      const events = core.receive(bytes(wire));
      expect(events.at(-1)).toEqual({ type: 'end', requestId: id, keepAlive: false });
      expect(core.canSend).toBe(false);
    }
    const core = new Http1ClientConnection();
    const id = get(core, 'GET', new HeaderList({ Connection: 'close' }));
    expect(core.canSend).toBe(false);
    expect(core.receive(bytes('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n')).at(-1)).toEqual({
      type: 'end',
      requestId: id,
      keepAlive: false,
    });
  });

  it('completes a close-delimited body at EOF', () => {
    const core = new Http1ClientConnection();
    const id = get(core);
    const events = core.receive(bytes('HTTP/1.1 200 OK\r\n\r\nuntil the end'));
    expect(events.map((e) => e.type)).toEqual(['response', 'data']);
    expect(core.finish()).toEqual([{ type: 'end', requestId: id, keepAlive: false }]);
  });

  it('reports a truncated response and an EOF before any response', () => {
    const core = new Http1ClientConnection();
    get(core);
    core.receive(bytes('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc'));
    const [ev] = core.finish();
    expect(ev?.type).toBe('error');
    const core2 = new Http1ClientConnection();
    get(core2);
    const [ev2] = core2.finish();
    expect(ev2).toMatchObject({ type: 'error' });
    expect((ev2 as { error: Http1ClientError }).error.code).toBe(
      'GN_ERR_HTTP1_RESPONSE_INCOMPLETE',
    );
  });

  it('turns malformed responses into one Http1ParseError event', () => {
    for (const wire of [
      'HTTP/1.1 2x0 OK\r\n\r\n',
      'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n',
      'HTTP/1.1 200 OK\r\nBad Header: x\r\n\r\n',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
      'NOTHTTP\r\n\r\n',
    ]) {
      const core = new Http1ClientConnection();
      get(core);
      const events = core.receive(bytes(wire));
      const errors = events.filter((e) => e.type === 'error');
      expect(errors).toHaveLength(1);
      expect((errors[0] as { error: unknown }).error).toBeInstanceOf(Http1ParseError);
      expect(core.canSend).toBe(false);
      expect(core.receive(bytes('HTTP/1.1 200 OK\r\n\r\n'))).toEqual([]);
    }
  });

  it('rejects a response nobody asked for', () => {
    const core = new Http1ClientConnection();
    const events = core.receive(bytes('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'));
    expect(events).toHaveLength(1);
    expect((events[0] as { error: Http1ClientError }).error.code).toBe(
      'GN_ERR_HTTP1_UNEXPECTED_RESPONSE',
    );
  });

  it('rejects an extra response pipelined behind the expected one', () => {
    const core = new Http1ClientConnection();
    get(core);
    const events = core.receive(
      bytes(
        'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n',
      ),
    );
    expect(events.map((e) => e.type)).toEqual(['response', 'end', 'error']);
  });

  it('matches pipelined responses to requests in order, HEAD included', () => {
    const core = new Http1ClientConnection();
    const a = get(core, 'GET');
    const b = get(core, 'HEAD');
    const c = get(core, 'GET');
    expect(core.outstanding).toBe(3);
    expect(text(core.takeOutput()).match(/HTTP\/1\.1\r\n/g)).toHaveLength(3);
    const wire =
      'HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nA' +
      'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n' +
      'HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nC';
    for (const pieces of splits(wire).slice(0, 4)) {
      const fresh = new Http1ClientConnection();
      get(fresh, 'GET');
      get(fresh, 'HEAD');
      get(fresh, 'GET');
      const ends = normalize(pieces.flatMap((p) => fresh.receive(p))).filter(
        (e) => (e as { type: string }).type !== 'response',
      );
      expect(ends).toEqual([
        { type: 'data', data: 'A' },
        { type: 'end', requestId: 1, keepAlive: true },
        { type: 'end', requestId: 2, keepAlive: true },
        { type: 'data', data: 'C' },
        { type: 'end', requestId: 3, keepAlive: true },
      ]);
    }
    expect([a, b, c]).toEqual([1, 2, 3]);
  });

  it('does not reuse a connection whose response ended before the request body', () => {
    const core = new Http1ClientConnection();
    const id = core.sendRequest({
      method: 'POST',
      target: '/',
      host: 'h',
      headers: new HeaderList(),
      bodyLength: null,
    });
    core.sendBody(bytes('part'));
    const events = core.receive(
      bytes('HTTP/1.1 413 Content Too Large\r\nContent-Length: 0\r\n\r\n'),
    );
    expect(events.at(-1)).toEqual({ type: 'end', requestId: id, keepAlive: false });
    expect(core.sendingBody).toBe(false);
    expect(core.reusable).toBe(false);
  });

  it('reports a protocol switch as unsupported', () => {
    const core = new Http1ClientConnection();
    get(core);
    const events = core.receive(
      bytes('HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: x\r\n\r\n'),
    );
    expect((events.at(-1) as { error: Http1ClientError }).error.code).toBe(
      'GN_ERR_HTTP1_UPGRADE_UNSUPPORTED',
    );
  });
});
