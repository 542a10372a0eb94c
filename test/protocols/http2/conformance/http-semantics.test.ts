/**
 * h2spec-style conformance, RFC 9113 §7 (error codes) and §8 (expressing HTTP semantics),
 * against our server over loopback with the raw-frame client (test/helpers/h2-raw.ts).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Http2Server } from '../../../../src/protocols/http2/server.js';
import { listenHttp2 } from '../../../../src/protocols/http2/server.js';
import type { HeaderField } from '../../../helpers/h2-raw.js';
import {
  E,
  F,
  T,
  clientPool,
  conformanceHandler,
  encodeHeaderBlock,
  errorName,
  u32,
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

const AUTHORITY: HeaderField = [':authority', 'example.test'];

/** A valid GET / request head followed by `extra`. */
function get(extra: HeaderField[] = []): HeaderField[] {
  return [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], AUTHORITY, ...extra];
}

/** Sends `fields` as a complete request on stream 1 and expects PROTOCOL_ERROR for it. */
async function malformed(fields: HeaderField[]): Promise<void> {
  const c = await clients.connect();
  c.headers(1, fields, { endStream: true });
  await c.expectStreamError(1, E.PROTOCOL_ERROR);
  if (!c.closed) await c.expectAlive(); // a stream error leaves the connection usable
}

describe('RFC 9113 §7 error codes', () => {
  it('§7 RST_STREAM with an unknown error code triggers nothing special', async () => {
    const c = await clients.connect();
    c.headers(1, c.request('POST', '/echo'));
    c.rstStream(1, 0xff);
    await c.expectAlive();
    c.headers(3, c.request(), { endStream: true });
    expect((await c.expectResponse(3)).status).toBe(200);
  });

  it('§7 GOAWAY with an unknown error code triggers nothing special', async () => {
    const c = await clients.connect();
    c.goaway(0, 0xff);
    const payload = Buffer.from('after-ga', 'latin1');
    c.ping(payload);
    // Either the connection carries on, or it is shut down gracefully (no error of its own).
    const f = await c
      .next((f) => f.type === T.PING || f.type === T.GOAWAY, 'PING ACK or graceful close')
      .catch((err: unknown) => {
        if (c.closed) return undefined;
        throw err;
      });
    if (f?.type === T.GOAWAY) {
      const code = f.payload.readUInt32BE(4);
      expect(errorName(code)).toBe('NO_ERROR');
    } else if (f !== undefined) {
      expect(f.flags & F.ACK).toBe(F.ACK);
      expect(f.payload.equals(payload)).toBe(true);
    }
  });
});

describe('RFC 9113 §8.1 HTTP message framing', () => {
  it('§8.1 a second HEADERS without END_STREAM (trailers) → PROTOCOL_ERROR', async () => {
    const c = await clients.connect();
    c.headers(1, c.request('POST', '/echo'));
    c.data(1, 'test');
    c.headers(1, [['x-trailer', 'v']]);
    await c.expectStreamError(1, E.PROTOCOL_ERROR);
  });

  it('§8.1 trailers from the client are accepted', async () => {
    const c = await clients.connect();
    c.headers(1, c.request('POST', '/echo', [['trailer', 'x-checksum']]));
    c.data(1, 'body');
    c.headers(1, [['x-checksum', 'abc']], { endStream: true });
    const res = await c.expectResponse(1);
    expect(res.status).toBe(200);
    expect(res.body.toString()).toBe('body');
  });

  it('§8.1 trailers split over HEADERS and CONTINUATION are accepted', async () => {
    const c = await clients.connect();
    c.headers(1, c.request('POST', '/echo'));
    c.data(1, 'body');
    c.headers(1, [['x-a', '1']], { endStream: true, endHeaders: false });
    c.continuation(1, [['x-b', '2']]);
    expect((await c.expectResponse(1)).body.toString()).toBe('body');
  });

  it('§8.1.1 content-length larger than the DATA received → PROTOCOL_ERROR', async () => {
    const c = await clients.connect();
    c.headers(1, c.request('POST', '/echo', [['content-length', '10']]));
    c.data(1, 'test', { endStream: true });
    await c.expectStreamError(1, E.PROTOCOL_ERROR);
  });

  it('§8.1.1 content-length smaller than the DATA received → PROTOCOL_ERROR', async () => {
    const c = await clients.connect();
    c.headers(1, c.request('POST', '/echo', [['content-length', '1']]));
    c.data(1, 'test', { endStream: true });
    await c.expectStreamError(1, E.PROTOCOL_ERROR);
  });

  it('§8.1.1 content-length over several DATA frames that add up is accepted', async () => {
    const c = await clients.connect();
    c.headers(1, c.request('POST', '/echo', [['content-length', '8']]));
    c.data(1, 'te');
    c.data(1, 'st');
    c.data(1, 'test', { endStream: true });
    expect((await c.expectResponse(1)).body.toString()).toBe('testtest');
  });
});

describe('RFC 9113 §8.2 HTTP fields', () => {
  it('§8.2 an uppercase field name → PROTOCOL_ERROR', async () => {
    await malformed(get([['X-Test', 'ok']]));
  });

  it('§8.2.1 a field name with a space → PROTOCOL_ERROR', async () => {
    await malformed(get([['x test', 'ok']]));
  });

  it('§8.2.1 a field value containing CR LF → PROTOCOL_ERROR', async () => {
    await malformed(get([['x-test', 'a\r\nx-injected: 1']]));
  });

  it('§8.2.1 a field value containing NUL → PROTOCOL_ERROR', async () => {
    await malformed(get([['x-test', 'a\x00b']]));
  });

  it('§8.2.1 a field value with leading whitespace → PROTOCOL_ERROR', async () => {
    await malformed(get([['x-test', ' padded']]));
  });

  for (const [name, value] of [
    ['connection', 'keep-alive'],
    ['transfer-encoding', 'chunked'],
    ['keep-alive', 'timeout=5'],
    ['proxy-connection', 'keep-alive'],
    ['upgrade', 'websocket'],
  ] as const) {
    it(`§8.2.2 the connection-specific field ${name} → PROTOCOL_ERROR`, async () => {
      await malformed(get([[name, value]]));
    });
  }

  it('§8.2.2 TE with a value other than "trailers" → PROTOCOL_ERROR', async () => {
    await malformed(get([['te', 'trailers, deflate']]));
  });

  it('§8.2.2 TE: trailers is accepted', async () => {
    const c = await clients.connect();
    c.headers(1, c.request('GET', '/', [['te', 'trailers']]), { endStream: true });
    expect((await c.expectResponse(1)).status).toBe(200);
  });

  it('§8.2.3 several cookie fields are accepted', async () => {
    const c = await clients.connect();
    const extra: HeaderField[] = [
      ['cookie', 'a=1'],
      ['cookie', 'b=2'],
    ];
    c.headers(1, c.request('GET', '/header?name=cookie', extra), { endStream: true });
    const res = await c.expectResponse(1);
    expect(res.body.toString()).toBe('a=1; b=2');
  });
});

describe('RFC 9113 §8.3 HTTP control data (pseudo-header fields)', () => {
  it('§8.3 an unknown pseudo-header field → PROTOCOL_ERROR', async () => {
    await malformed(get([[':foo', 'bar']]));
  });

  it('§8.3 a response pseudo-header field (:status) in a request → PROTOCOL_ERROR', async () => {
    await malformed(get([[':status', '200']]));
  });

  it('§8.3 a pseudo-header field after a regular field → PROTOCOL_ERROR', async () => {
    await malformed([
      [':method', 'GET'],
      [':scheme', 'http'],
      ['x-test', 'ok'],
      [':path', '/'],
      AUTHORITY,
    ]);
  });

  it('§8.3 a pseudo-header field in trailers → PROTOCOL_ERROR', async () => {
    const c = await clients.connect();
    c.headers(1, c.request('POST', '/echo'));
    c.data(1, 'test');
    c.headers(1, [[':method', 'POST']], { endStream: true });
    await c.expectStreamError(1, E.PROTOCOL_ERROR);
  });

  it('§8.3.1 a duplicated :method → PROTOCOL_ERROR', async () => {
    await malformed([
      [':method', 'GET'],
      [':method', 'POST'],
      [':scheme', 'http'],
      [':path', '/'],
      AUTHORITY,
    ]);
  });

  it('§8.3.1 a duplicated :path → PROTOCOL_ERROR', async () => {
    await malformed([
      [':method', 'GET'],
      [':scheme', 'http'],
      [':path', '/'],
      [':path', '/'],
      AUTHORITY,
    ]);
  });

  it('§8.3.1 a duplicated :scheme → PROTOCOL_ERROR', async () => {
    await malformed([
      [':method', 'GET'],
      [':scheme', 'http'],
      [':scheme', 'https'],
      [':path', '/'],
      AUTHORITY,
    ]);
  });

  it('§8.3.1 a missing :method → PROTOCOL_ERROR', async () => {
    await malformed([[':scheme', 'http'], [':path', '/'], AUTHORITY]);
  });

  it('§8.3.1 a missing :scheme → PROTOCOL_ERROR', async () => {
    await malformed([[':method', 'GET'], [':path', '/'], AUTHORITY]);
  });

  it('§8.3.1 a missing :path → PROTOCOL_ERROR', async () => {
    await malformed([[':method', 'GET'], [':scheme', 'http'], AUTHORITY]);
  });

  it('§8.3.1 an empty :path → PROTOCOL_ERROR', async () => {
    await malformed([[':method', 'GET'], [':scheme', 'http'], [':path', ''], AUTHORITY]);
  });

  it('§8.3.1 a request without :authority but with host is accepted', async () => {
    const c = await clients.connect();
    const fields: HeaderField[] = [
      [':method', 'GET'],
      [':scheme', 'http'],
      [':path', '/'],
      ['host', 'example.test'],
    ];
    c.headers(1, fields, { endStream: true });
    expect((await c.expectResponse(1)).status).toBe(200);
  });
});

describe('RFC 9113 §8.4 server push', () => {
  it('§8.4 PUSH_PROMISE from a client → connection error PROTOCOL_ERROR', async () => {
    const c = await clients.connect();
    c.headers(1, c.request('POST', '/echo'));
    const payload = Buffer.concat([u32(2), encodeHeaderBlock(c.request())]);
    c.writeFrame(T.PUSH_PROMISE, F.END_HEADERS, 1, payload);
    await c.expectConnectionError(E.PROTOCOL_ERROR);
  });
});

describe('RFC 9113 §10.5 denial-of-service limits (our documented Http2Limits)', () => {
  it('§10.5.1 a field section over SETTINGS_MAX_HEADER_LIST_SIZE is answered 431', async () => {
    const c = await clients.connect();
    const big: HeaderField[] = Array.from({ length: 70 }, (_, i) => [
      `x-big-${i}`,
      'v'.repeat(1000),
    ]);
    const block = encodeHeaderBlock(c.request('GET', '/', big));
    c.headers(1, block.subarray(0, 16000), { endStream: true, endHeaders: false });
    for (let at = 16000; at < block.length; at += 16000) {
      c.continuation(1, block.subarray(at, at + 16000), at + 16000 >= block.length);
    }
    expect((await c.expectResponse(1)).status).toBe(431);
    await c.expectAlive();
  });

  it('§10.5 more CONTINUATION frames than maxContinuationFrames → ENHANCE_YOUR_CALM', async () => {
    const c = await clients.connect();
    c.headers(1, c.request(), { endStream: true, endHeaders: false });
    for (let i = 0; i < 70; i++) c.continuation(1, Buffer.alloc(0), false);
    await c.expectConnectionError(E.ENHANCE_YOUR_CALM);
  });

  it('§10.5 a field block longer than maxHeaderBlockSize → ENHANCE_YOUR_CALM', async () => {
    const c = await clients.connect();
    c.headers(1, c.request(), { endStream: true, endHeaders: false });
    // Nine fragments of 16000 octets: 144,000 > 131,072, never finished.
    for (let i = 0; i < 9; i++) c.continuation(1, Buffer.alloc(16000, 0x00), false);
    await c.expectConnectionError(E.ENHANCE_YOUR_CALM);
  });
});
