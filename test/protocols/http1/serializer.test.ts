import { describe, expect, it } from 'vitest';
import { HeaderList } from '../../../src/protocols/http/headers.js';
import {
  DateCache,
  encodeResponseHead,
  Framing,
  lastChunk,
  ResponseHeadResult,
  statusLine,
} from '../../../src/protocols/http1/serializer.js';

const ctx = { head: false, clientMinor: 1, keepAlive: true, end: false, date: 'D' };

describe('serializer', () => {
  it('selects Content-Length when given, else chunked, close-delimited for HTTP/1.0', () => {
    const r = new ResponseHeadResult();
    let s = encodeResponseHead(r, 200, undefined, new HeaderList({ 'Content-Length': '5' }), ctx);
    expect(s).toBe('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nDate: D\r\n\r\n');
    expect([r.framing, r.contentLength, r.close]).toEqual([Framing.LENGTH, 5, false]);
    s = encodeResponseHead(r, 200, undefined, new HeaderList(), ctx);
    expect(s).toContain('Transfer-Encoding: chunked\r\n');
    expect(r.framing).toBe(Framing.CHUNKED);
    s = encodeResponseHead(r, 200, undefined, new HeaderList(), { ...ctx, clientMinor: 0 });
    expect(s).toContain('Connection: close\r\n');
    expect([r.framing, r.close]).toEqual([Framing.CLOSE, true]);
  });

  it('HEAD keeps Content-Length without a body; 204 drops it; 304 has no body', () => {
    const r = new ResponseHeadResult();
    const cl = new HeaderList({ 'content-length': '9' });
    expect(encodeResponseHead(r, 200, undefined, cl, { ...ctx, head: true })).toContain(
      'content-length: 9',
    );
    expect(r.framing).toBe(Framing.NONE);
    expect(encodeResponseHead(r, 204, undefined, cl, ctx)).not.toContain('content-length');
    expect(r.framing).toBe(Framing.NONE);
    encodeResponseHead(r, 304, undefined, new HeaderList(), ctx);
    expect(r.framing).toBe(Framing.NONE);
  });

  it('manages Connection and Transfer-Encoding, rejects bad lengths and reasons', () => {
    const r = new ResponseHeadResult();
    const s = encodeResponseHead(
      r,
      200,
      undefined,
      new HeaderList({ connection: 'close', 'transfer-encoding': 'gzip' }),
      ctx,
    );
    expect(s).not.toMatch(/gzip|connection: close/);
    expect(s).toContain('Connection: close\r\n');
    expect(() =>
      encodeResponseHead(r, 200, undefined, new HeaderList({ 'content-length': 'x' }), ctx),
    ).toThrow(/Content-Length/);
    expect(() => statusLine(200, 'OK\r\nX: y')).toThrow(/reason/);
    expect(() => statusLine(42)).toThrow(/status/);
    expect(statusLine(299)).toBe('HTTP/1.1 299 \r\n');
  });

  it('encodes trailers and drops forbidden ones', () => {
    expect(lastChunk(new HeaderList({ 'x-a': '1', 'content-length': '3' }))).toBe(
      '0\r\nx-a: 1\r\n\r\n',
    );
    expect(lastChunk(undefined)).toBe('0\r\n\r\n');
  });

  it('caches the Date value per second', () => {
    const d = new DateCache();
    const t = Date.UTC(1994, 10, 6, 8, 49, 37);
    expect(d.get(t)).toBe('Sun, 06 Nov 1994 08:49:37 GMT');
    expect(d.get(t + 999)).toBe('Sun, 06 Nov 1994 08:49:37 GMT');
    expect(d.get(t + 1000)).toBe('Sun, 06 Nov 1994 08:49:38 GMT');
    expect(d.line(t)).toBe('Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n');
  });
});
