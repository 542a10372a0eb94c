import { describe, expect, it } from 'vitest';
import { hasCode } from '../../../src/errors.js';
import { BodyStream } from '../../../src/protocols/http/body.js';
import { InvalidHeaderError, ResponseStateError } from '../../../src/protocols/http/errors.js';
import { HeaderList } from '../../../src/protocols/http/headers.js';
import { ServerRequest, splitTarget } from '../../../src/protocols/http/request.js';
import { ServerResponse, statusHasBody } from '../../../src/protocols/http/response.js';
import type { ResponseSink } from '../../../src/protocols/http/types.js';
import { createExchange, RecordingSink } from '../../helpers/http-exchange.js';

describe('splitTarget (RFC 9112 §3.2)', () => {
  const cases: Array<[string, string, string]> = [
    ['/', '/', ''],
    ['/a/b', '/a/b', ''],
    ['/a/b?x=1&y=2', '/a/b', 'x=1&y=2'],
    ['/a?', '/a', ''],
    ['/a?b?c', '/a', 'b?c'],
    ['/p%20q?r=%20', '/p%20q', 'r=%20'],
    // absolute-form
    ['http://example.com/p?q=1', '/p', 'q=1'],
    ['https://example.com:8443/x/y/', '/x/y/', ''],
    ['http://example.com', '/', ''],
    ['http://example.com?q', '/', 'q'],
    ['http://user@host:80/a', '/a', ''],
    // authority-form (CONNECT) and asterisk-form (OPTIONS)
    ['example.com:443', 'example.com:443', ''],
    ['*', '*', ''],
  ];
  for (const [target, path, search] of cases) {
    it(`splits ${target}`, () => {
      expect(splitTarget(target)).toEqual([path, search]);
    });
  }
});

describe('ServerRequest', () => {
  function request(init: { target?: string; headers?: Record<string, string>; body?: string }) {
    const body = new BodyStream();
    if (init.body !== undefined) body.push(new TextEncoder().encode(init.body));
    body.end();
    return new ServerRequest({
      method: 'POST',
      target: init.target ?? '/',
      headers: new HeaderList(init.headers ?? {}).freeze(),
      protocol: 'h2',
      scheme: 'https',
      authority: 'example.com',
      remoteAddress: undefined,
      localAddress: undefined,
      body,
      signal: new AbortController().signal,
    });
  }

  it('derives path, search and query from the target', () => {
    const req = request({ target: '/search?q=a+b&q=c&x=%2F' });
    expect(req.path).toBe('/search');
    expect(req.search).toBe('q=a+b&q=c&x=%2F');
    expect(req.query.getAll('q')).toEqual(['a b', 'c']);
    expect(req.query.get('x')).toBe('/');
    expect(req.query).toBe(req.query);
  });

  it('keeps a valid client X-Request-Id and replaces an unsafe one', () => {
    expect(request({ headers: { 'x-request-id': 'abc-123.x:y_z' } }).id).toBe('abc-123.x:y_z');
    const unsafe = request({ headers: { 'x-request-id': 'evil id\tinjected' } });
    expect(unsafe.id).not.toContain('evil');
    expect(unsafe.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(unsafe.id).toBe(unsafe.id);
    expect(request({ headers: { 'x-request-id': 'a'.repeat(129) } }).id).toHaveLength(36);
  });

  it('reads the body through text(), json() and bytes()', async () => {
    expect(await request({ body: 'hi' }).text()).toBe('hi');
    expect(await request({ body: '{"n":1}' }).json()).toEqual({ n: 1 });
    expect(await request({ body: 'ab' }).bytes()).toEqual(new Uint8Array([97, 98]));
  });

  it('starts with empty params and locals', () => {
    const req = request({});
    expect(req.params).toEqual({});
    expect(req.locals).toEqual({});
    expect(req.headers.readonly).toBe(true);
  });
});

describe('ServerResponse', () => {
  it('statusHasBody: 1xx, 204 and 304 have none', () => {
    expect([100, 103, 204, 304].map(statusHasBody)).toEqual([false, false, false, false]);
    expect([200, 201, 301, 404, 500].map(statusHasBody)).toEqual([true, true, true, true, true]);
  });

  it('end(body) sends the head with Content-Length and the body at once', () => {
    const { res, sink } = createExchange();
    res.status = 201;
    res.statusMessage = 'Made';
    res.setHeader('x-a', 1);
    res.end('hello');
    expect(sink.status).toBe(201);
    expect(sink.reason).toBe('Made');
    expect(sink.headers?.get('content-length')).toBe('5');
    expect(sink.headers?.get('x-a')).toBe('1');
    expect(sink.text()).toBe('hello');
    expect(sink.ended).toBe(true);
    expect(res.finished).toBe(true);
    expect(res.headersSent).toBe(true);
  });

  it('end() without a body sends Content-Length: 0 and ends with the head', () => {
    const { res, sink } = createExchange();
    res.end();
    expect(sink.headers?.get('content-length')).toBe('0');
    expect(sink.chunks).toHaveLength(0);
    expect(sink.ended).toBe(true);
  });

  it('keeps an explicit Content-Length', () => {
    const { res, sink } = createExchange();
    res.setHeader('Content-Length', 3);
    res.end('abc');
    expect(sink.headers?.getAll('content-length')).toEqual(['3']);
  });

  it('write() before end() sends no Content-Length, so the engine frames it (chunked)', () => {
    const { res, sink } = createExchange();
    expect(res.write('a')).toBe(true);
    expect(res.headersSent).toBe(true);
    res.write(new Uint8Array([98]));
    res.end('c');
    expect(sink.headers?.has('content-length')).toBe(false);
    expect(sink.text()).toBe('abc');
    expect(sink.ended).toBe(true);
  });

  it('does not add Content-Length to 204 and 304 answers', () => {
    for (const status of [204, 304]) {
      const { res, sink } = createExchange();
      res.status = status;
      res.end();
      expect(sink.status).toBe(status);
      expect(sink.headers?.has('content-length')).toBe(false);
      expect(sink.ended).toBe(true);
    }
  });

  it('end() is idempotent and write() after end() throws ResponseStateError', () => {
    const { res, sink } = createExchange();
    res.end('x');
    res.end('y');
    expect(sink.text()).toBe('x');
    expect(() => res.write('z')).toThrow(ResponseStateError);
  });

  it('freezes status and headers once the head is sent', () => {
    const { res } = createExchange();
    res.writeHead(202, { 'x-b': 'b' });
    let err: unknown;
    try {
      res.setHeader('x-late', '1');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ResponseStateError);
    expect(hasCode(err, 'GN_ERR_HTTP_RESPONSE_STATE')).toBe(true);
    expect(() => res.writeHead(200)).toThrow(ResponseStateError);
    expect(() => res.headers.set('x-late', '1')).toThrow(InvalidHeaderError);
    expect(() => res.send('x')).toThrow(ResponseStateError);
    expect(() => res.wrapSink((s) => s)).toThrow(ResponseStateError);
  });

  it('writeHead(status, headers) replaces same-named headers', () => {
    const { res, sink } = createExchange();
    res.setHeader('x-v', 'old');
    res.writeHead(200, { 'X-V': 'new' });
    res.end();
    expect(sink.headers?.getAll('x-v')).toEqual(['new']);
  });

  it('send(), json() and text() set type and length', () => {
    const a = createExchange();
    a.res.send(new Uint8Array([1, 2, 3]));
    expect(a.sink.headers?.get('content-type')).toBe('application/octet-stream');
    expect(a.sink.headers?.get('content-length')).toBe('3');

    const b = createExchange();
    b.res.json({ ok: true }, 202);
    expect(b.sink.status).toBe(202);
    expect(b.sink.headers?.get('content-type')).toBe('application/json; charset=utf-8');
    expect(JSON.parse(b.sink.text())).toEqual({ ok: true });

    const c = createExchange();
    c.res.setHeader('content-type', 'text/html');
    c.res.text('é', 404);
    expect(c.sink.status).toBe(404);
    expect(c.sink.headers?.get('content-type')).toBe('text/html');
    expect(c.sink.headers?.get('content-length')).toBe('2');
  });

  it('sends trailers after the body when the engine supports them', () => {
    const { res, sink } = createExchange();
    res.trailers.set('x-checksum', 'abc');
    res.end('body');
    expect(sink.headers?.has('content-length')).toBe(false);
    expect(sink.text()).toBe('body');
    expect(sink.trailers?.get('x-checksum')).toBe('abc');
    expect(sink.trailers?.readonly).toBe(true);
    expect(sink.ended).toBe(true);
  });

  it('sends trailers after streamed chunks', () => {
    const { res, sink } = createExchange();
    res.write('a');
    res.trailers.set('x-t', '1');
    res.end();
    expect(sink.text()).toBe('a');
    expect(sink.trailers?.get('x-t')).toBe('1');
  });

  it('drops trailers (and still ends the body) when the engine cannot send them', () => {
    const { res, sink } = createExchange({ supportsTrailers: false });
    res.trailers.set('x-t', '1');
    res.end('a');
    expect(sink.trailers).toBeUndefined();
    expect(sink.text()).toBe('a');
    expect(sink.ended).toBe(true);
  });

  it('writeInformational sends 1xx responses and rejects other statuses', () => {
    const { res, sink } = createExchange();
    res.writeInformational(103, { link: '</a.css>; rel=preload' });
    res.writeInformational(100);
    expect(sink.informational.map((i) => i.status)).toEqual([103, 100]);
    expect(sink.informational[0]!.headers.get('link')).toBe('</a.css>; rel=preload');
    for (const status of [99, 101, 200, 204, 404]) {
      expect(() => res.writeInformational(status)).toThrow(ResponseStateError);
    }
    res.end();
    expect(() => res.writeInformational(100)).toThrow(ResponseStateError);
  });

  it('write() returns false at the sink capacity and drained() waits for the flush', async () => {
    const sink = new RecordingSink();
    sink.capacity = 4;
    const res = new ServerResponse(sink, { highWaterMark: 4 });
    expect(res.write('ab')).toBe(true);
    expect(res.write('cd')).toBe(false);
    expect(res.bufferedAmount).toBe(4);
    let drained = false;
    const waiting = res.drained().then(() => (drained = true));
    await Promise.resolve();
    await Promise.resolve();
    expect(drained).toBe(false);
    sink.flush();
    await waiting;
    expect(drained).toBe(true);
    expect(res.bufferedAmount).toBe(0);
  });

  it('drained() resolves at once below the high-water mark, after end() and after abort()', async () => {
    const sink = new RecordingSink();
    sink.capacity = 1;
    const res = new ServerResponse(sink, { highWaterMark: 1 });
    await res.drained();
    res.write('xx');
    const waiting = res.drained();
    res.abort();
    await waiting;
    expect(sink.aborted).toBe(true);
  });

  it('wrapSink routes the head and body through a filter', () => {
    const inner = new RecordingSink();
    const res = new ServerResponse(inner);
    const seen: string[] = [];
    res.wrapSink((next): ResponseSink => ({
      get supportsTrailers() {
        return next.supportsTrailers;
      },
      get bufferedAmount() {
        return next.bufferedAmount;
      },
      writeHead(status, reason, headers, end) {
        seen.push('head');
        const copy = headers.clone();
        copy.set('x-filtered', 'yes');
        next.writeHead(status, reason, copy, end);
      },
      writeBody(chunk, end) {
        seen.push('body');
        return next.writeBody(
          chunk.map((b) => b + 1),
          end,
        );
      },
      writeTrailers: (t) => next.writeTrailers(t),
      writeInformational: (s, h) => next.writeInformational(s, h),
      onDrain: (l) => next.onDrain(l),
      abort: (e) => next.abort(e),
    }));
    res.end('abc');
    expect(seen).toEqual(['head', 'body']);
    expect(inner.headers?.get('x-filtered')).toBe('yes');
    expect(inner.text()).toBe('bcd');
  });

  it('drained() wakes on the wrapping sink, not on the replaced one', async () => {
    const inner = new RecordingSink();
    const res = new ServerResponse(inner, { highWaterMark: 2 });
    const outer = new RecordingSink();
    outer.capacity = 2;
    res.wrapSink(() => outer);
    res.write('abc');
    let woke = false;
    const waiting = res.drained().then(() => (woke = true));
    inner.flush();
    await Promise.resolve();
    await Promise.resolve();
    expect(woke).toBe(false);
    outer.flush();
    await waiting;
    expect(woke).toBe(true);
  });

  it('abort() reaches the sink with the reason, once the response is not complete', () => {
    const { res, sink } = createExchange();
    res.write('partial');
    const reason = new ResponseStateError('boom');
    res.abort(reason);
    expect(sink.aborted).toBe(reason);
    expect(res.finished).toBe(true);

    const done = createExchange();
    done.res.end('x');
    done.res.abort();
    expect(done.sink.aborted).toBeUndefined();
  });
});
