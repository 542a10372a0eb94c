/**
 * Positive request/response exchanges (RFC 9113 §8.1) seen through the raw-frame client:
 * the baseline the error cases of the other conformance files are measured against.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Http2Server } from '../../../../src/protocols/http2/server.js';
import { listenHttp2 } from '../../../../src/protocols/http2/server.js';
import {
  F,
  T,
  alphabet,
  clientPool,
  conformanceHandler,
  encodeFrame,
  encodeHeaderBlock,
} from '../../../helpers/h2-raw.js';

let server: Http2Server;
const clients = clientPool(() => server.address.port);

beforeAll(async () => {
  server = await listenHttp2({ host: '127.0.0.1', port: 0 }, conformanceHandler);
});
afterEach(() => clients.closeAll());
afterAll(async () => {
  await server.destroy();
});

const header = (fields: readonly (readonly [string, string])[], name: string): string | undefined =>
  fields.find(([n]) => n === name)?.[1];

describe('RFC 9113 §8.1 request/response exchanges', () => {
  it('§8.1 GET / returns 200 with a body', async () => {
    const c = await clients.connect();
    c.headers(1, c.request(), { endStream: true });
    const res = await c.expectResponse(1);
    expect(res.status).toBe(200);
    expect(res.body.toString()).toBe('hello');
    expect(res.headers[0]?.[0]).toBe(':status'); // §8.3: pseudo-headers first
    expect(res.headers.every(([n]) => n === n.toLowerCase())).toBe(true); // §8.2
    expect(c.hpackError).toBeUndefined();
  });

  it('§8.1 POST echoes a body sent over several DATA frames', async () => {
    const c = await clients.connect();
    c.headers(1, c.request('POST', '/echo'));
    c.data(1, 'hello, ');
    c.data(1, 'world');
    c.data(1, '', { endStream: true });
    const res = await c.expectResponse(1);
    expect(res.status).toBe(200);
    expect(res.body.toString()).toBe('hello, world');
  });

  it('§8.1 a request split across HEADERS and three CONTINUATION frames works', async () => {
    const c = await clients.connect();
    const req = c.request('GET', '/header?name=x-last', [['x-last', 'reached']]);
    c.headers(1, req.slice(0, 1), { endStream: true, endHeaders: false });
    c.continuation(1, req.slice(1, 2), false);
    c.continuation(1, req.slice(2, 4), false);
    c.continuation(1, req.slice(4), true);
    const res = await c.expectResponse(1);
    expect(res.status).toBe(200);
    expect(res.body.toString()).toBe('reached');
  });

  it('§8.1 a request with trailers is accepted', async () => {
    const c = await clients.connect();
    c.headers(1, c.request('POST', '/echo'));
    c.data(1, 'with trailers');
    c.headers(1, [['x-trailer', 'done']], { endStream: true });
    expect((await c.expectResponse(1)).body.toString()).toBe('with trailers');
  });

  it('§5.2 a response larger than the stream window arrives as the client opens it', async () => {
    const c = await clients.connect();
    c.headers(1, c.request('GET', '/bytes?n=100000'), { endStream: true });
    const first = await c.expectData(1, 65535);
    c.windowUpdate(0, 100000);
    c.windowUpdate(1, 100000);
    const rest = await c.expectData(1, 100000 - 65535, { end: true });
    expect(rest.endStream).toBe(true);
    expect(Buffer.concat([first.body, rest.body]).toString()).toBe(alphabet(100000));
    for (const f of c.received.filter((f) => f.type === T.DATA)) {
      expect(f.payload.length).toBeLessThanOrEqual(16384); // §4.2 our MAX_FRAME_SIZE
    }
  });

  it('§5.1 ten concurrent streams each get their own response', async () => {
    const c = await clients.connect();
    const ids = Array.from({ length: 10 }, (_, i) => 2 * i + 1);
    for (const id of ids) {
      c.headers(id, c.request('POST', '/echo'));
    }
    for (const id of [...ids].reverse()) c.data(id, `stream ${id}`, { endStream: true });
    for (const id of ids) {
      expect((await c.expectResponse(id)).body.toString()).toBe(`stream ${id}`);
    }
  });

  it('§4.3 successive responses decode with one HPACK context (dynamic table in sync)', async () => {
    const c = await clients.connect();
    for (let i = 0; i < 6; i++) {
      const id = 2 * i + 1;
      c.headers(id, c.request('GET', '/bytes?n=3'), { endStream: true });
      const res = await c.expectResponse(id);
      expect(res.status).toBe(200);
      expect(header(res.headers, 'content-length')).toBe('3');
    }
    expect(c.hpackError).toBeUndefined();
  });

  it('§4.1 frames fed one octet at a time are reassembled', async () => {
    const c = await clients.connect();
    const wire = Buffer.concat([
      encodeFrame(T.HEADERS, F.END_HEADERS, 1, encodeHeaderBlock(c.request('POST', '/echo'))),
      encodeFrame(T.DATA, F.END_STREAM, 1, Buffer.from('one octet at a time')),
    ]);
    for (const b of wire) c.write(Buffer.from([b]));
    expect((await c.expectResponse(1)).body.toString()).toBe('one octet at a time');
  });

  it('§8.1 HEAD gets the head without a body', async () => {
    const c = await clients.connect();
    c.headers(1, c.request('HEAD', '/'), { endStream: true });
    const res = await c.expectResponse(1);
    expect(res.status).toBe(200);
    expect(res.body.length).toBe(0);
  });
});
