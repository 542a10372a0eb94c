import { describe, expect, it } from 'vitest';
import { Http1Decoder } from '../../../src/protocols/http1/decoder.js';
import type { Http1DecoderEvent } from '../../../src/protocols/http1/decoder.js';
import { enc } from './helpers.js';

function summarize(events: Http1DecoderEvent[]): string[] {
  const out: string[] = [];
  for (const e of events) {
    switch (e.type) {
      case 'head':
        out.push(
          `head ${e.head.method}${e.head.statusCode} ${e.head.target} ${JSON.stringify(e.head.headers)}`,
        );
        break;
      case 'body': {
        const text = Buffer.from(e.data).toString('latin1');
        const last = out[out.length - 1];
        if (last?.startsWith('body ')) out[out.length - 1] = last + text;
        else out.push(`body ${text}`);
        break;
      }
      case 'trailers':
        out.push(`trailers ${JSON.stringify(e.trailers)}`);
        break;
      case 'end':
        out.push('end');
        break;
      case 'upgrade':
        out.push(`upgrade ${Buffer.from(e.rest).toString('latin1')}`);
        break;
      case 'error':
        out.push(`error ${e.error.code}`);
        break;
    }
  }
  return out;
}

describe('Http1Decoder', () => {
  const input =
    'POST /upload?x=1 HTTP/1.1\r\nHost: example.com\r\nSet-Thing: a \r\nset-thing:b\r\n' +
    'Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nChecksum: abc\r\n\r\n' +
    'GET / HTTP/1.1\r\nHost: x\r\n\r\n';

  it('assembles heads with raw-order headers and case-insensitive lookup', () => {
    const d = new Http1Decoder('request');
    const events = d.receive(enc(input));
    const heads = events.flatMap((e) => (e.type === 'head' ? [e.head] : []));
    expect(heads).toHaveLength(2);
    const h = heads[0]!;
    expect([h.method, h.target, h.versionMajor, h.versionMinor]).toEqual([
      'POST',
      '/upload?x=1',
      1,
      1,
    ]);
    expect(h.headers).toEqual([
      ['Host', 'example.com'],
      ['Set-Thing', 'a'],
      ['set-thing', 'b'],
      ['Transfer-Encoding', 'chunked'],
    ]);
    expect(h.get('HOST')).toBe('example.com');
    expect(h.getAll('set-thing')).toEqual(['a', 'b']);
    expect(h.get('missing')).toBeUndefined();
    expect(Object.isFrozen(h)).toBe(true);
    expect(Object.isFrozen(h.headers)).toBe(true);
    expect(h.chunked).toBe(true);
    expect(summarize(events).slice(1)).toEqual([
      'body hello',
      'trailers [["Checksum","abc"]]',
      'end',
      `head GET0 / [["Host","x"]]`,
      'end',
    ]);
  });

  it('gives the same events byte by byte', () => {
    const whole = summarize(new Http1Decoder('request').receive(enc(input)));
    const d = new Http1Decoder('request');
    const events: Http1DecoderEvent[] = [];
    for (const b of enc(input)) events.push(...d.receive(Uint8Array.of(b)));
    expect(summarize(events)).toEqual(whole);
  });

  it('responses: reason phrase, HEAD via pushRequestMethod, close-delimited body on finish', () => {
    const d = new Http1Decoder('response');
    d.pushRequestMethod('HEAD');
    const ev = d.receive(
      enc('HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nHTTP/1.0 404 Not Found\r\n\r\ngone'),
    );
    const heads = ev.flatMap((e) => (e.type === 'head' ? [e.head] : []));
    expect(heads.map((h) => [h.statusCode, h.reason])).toEqual([
      [200, 'OK'],
      [404, 'Not Found'],
    ]);
    expect(summarize(d.finish())).toEqual(['end']);
    expect(summarize(ev).slice(-1)).toEqual(['body gone']);
  });

  it('upgrade hands over the rest; errors are events', () => {
    const d = new Http1Decoder('request');
    const ev = d.receive(enc('GET / HTTP/1.1\r\nConnection: upgrade\r\nUpgrade: ws\r\n\r\nRAW'));
    expect(summarize(ev).slice(-2)).toEqual(['end', 'upgrade RAW']);
    const bad = new Http1Decoder('request').receive(enc('GET / HTTP/1.1\r\nA B: c\r\n\r\n'));
    expect(summarize(bad)).toEqual(['error GN_ERR_HTTP1_INVALID_HEADER_TOKEN']);
  });

  it('pipelining: blocks at maxPipelinedRequests, release() resumes, overflow is an error', () => {
    const d = new Http1Decoder('request', {
      limits: { maxPipelinedRequests: 1, maxHeaderBytes: 64, maxUrlLength: 64 },
    });
    const ev = d.receive(enc('GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n'));
    expect(summarize(ev)).toEqual(['head GET0 /1 []', 'end']);
    expect(d.blocked).toBe(true);
    expect(summarize(d.release())).toEqual(['head GET0 /2 []', 'end']);
    expect(d.blocked).toBe(false);
    d.receive(enc('GET /3 HTTP/1.1\r\n\r\nGET /4 HTTP/1.1\r\n\r\n'));
    expect(d.blocked).toBe(true);
    const over = d.receive(enc('x'.repeat(200)));
    expect(over[0]?.type === 'error' && over[0].error.wireCode).toBe(429);
  });
});
