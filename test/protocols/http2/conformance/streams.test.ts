/**
 * h2spec-style conformance, RFC 9113 §5 (streams and multiplexing), against our server
 * over loopback with the raw-frame client (test/helpers/h2-raw.ts).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Http2Server } from '../../../../src/protocols/http2/server.js';
import { listenHttp2 } from '../../../../src/protocols/http2/server.js';
import type { H2RawClient } from '../../../helpers/h2-raw.js';
import { E, S, T, clientPool, conformanceHandler } from '../../../helpers/h2-raw.js';

let server: Http2Server;
const clients = clientPool(() => server.address.port);

beforeAll(async () => {
  server = await listenHttp2({ host: '127.0.0.1', port: 0 }, conformanceHandler);
});
afterEach(() => clients.closeAll());
afterAll(async () => {
  await server.destroy();
});

/** Opens `streamId` with a request that ends our side; the response never ends (/hang). */
async function halfClosedRemote(c: H2RawClient, streamId: number): Promise<void> {
  c.headers(streamId, c.request('GET', '/hang'), { endStream: true });
  await c.next((f) => f.streamId === streamId && f.fields !== undefined, 'the /hang head');
}

/** Runs a GET to completion: the stream is closed on both sides afterwards. */
async function completedStream(c: H2RawClient, streamId: number): Promise<void> {
  c.headers(streamId, c.request(), { endStream: true });
  expect((await c.expectResponse(streamId)).status).toBe(200);
}

describe('RFC 9113 §5.1 stream states', () => {
  it('§5.1 idle: DATA → connection error PROTOCOL_ERROR', async () => {
    const c = await clients.connect();
    c.data(1, 'test', { endStream: true });
    await c.expectConnectionError(E.PROTOCOL_ERROR);
  });

  it('§5.1 idle: RST_STREAM → connection error PROTOCOL_ERROR', async () => {
    const c = await clients.connect();
    c.rstStream(1, E.CANCEL);
    await c.expectConnectionError(E.PROTOCOL_ERROR);
  });

  it('§5.1 idle: WINDOW_UPDATE → connection error PROTOCOL_ERROR', async () => {
    const c = await clients.connect();
    c.windowUpdate(1, 100);
    await c.expectConnectionError(E.PROTOCOL_ERROR);
  });

  it('§5.1 idle: CONTINUATION → connection error PROTOCOL_ERROR', async () => {
    const c = await clients.connect();
    c.continuation(1, c.request());
    await c.expectConnectionError(E.PROTOCOL_ERROR);
  });

  it('§5.1 idle: PRIORITY is allowed and the stream can be opened later', async () => {
    const c = await clients.connect();
    c.priority(3, 0, 200);
    await c.expectAlive();
    await completedStream(c, 3);
  });

  it('§5.1 half-closed (remote): DATA → STREAM_CLOSED', async () => {
    const c = await clients.connect();
    await halfClosedRemote(c, 1);
    c.data(1, 'test', { endStream: true });
    await c.expectStreamError(1, E.STREAM_CLOSED);
  });

  it('§5.1 half-closed (remote): HEADERS → STREAM_CLOSED', async () => {
    const c = await clients.connect();
    await halfClosedRemote(c, 1);
    c.headers(1, c.request(), { endStream: true });
    await c.expectStreamError(1, E.STREAM_CLOSED);
  });

  it('§5.1 half-closed (remote): CONTINUATION → STREAM_CLOSED or PROTOCOL_ERROR', async () => {
    const c = await clients.connect();
    await halfClosedRemote(c, 1);
    c.continuation(1, [['x-dummy', 'a']]);
    await c.expectStreamError(1, [E.STREAM_CLOSED, E.PROTOCOL_ERROR]);
  });

  it('§5.1 half-closed (remote): WINDOW_UPDATE and PRIORITY are allowed', async () => {
    const c = await clients.connect();
    await halfClosedRemote(c, 1);
    c.windowUpdate(1, 1000);
    c.priority(1, 0, 100);
    await c.expectAlive();
    await completedStream(c, 3);
    expect(c.peek((f) => f.type === T.RST_STREAM)).toEqual([]);
  });

  it('§5.1 closed: DATA after sending RST_STREAM → STREAM_CLOSED', async () => {
    const c = await clients.connect();
    c.headers(1, c.request('POST', '/echo'));
    c.rstStream(1, E.CANCEL);
    c.data(1, 'test', { endStream: true });
    await c.expectStreamError(1, E.STREAM_CLOSED);
  });

  it('§5.1 closed: HEADERS after sending RST_STREAM → STREAM_CLOSED', async () => {
    const c = await clients.connect();
    c.headers(1, c.request('POST', '/echo'));
    c.rstStream(1, E.CANCEL);
    c.headers(1, c.request(), { endStream: true });
    await c.expectStreamError(1, E.STREAM_CLOSED);
  });

  it('§5.1 closed: CONTINUATION after sending RST_STREAM → STREAM_CLOSED or PROTOCOL_ERROR', async () => {
    const c = await clients.connect();
    c.headers(1, c.request('POST', '/echo'));
    c.rstStream(1, E.CANCEL);
    c.continuation(1, [['x-dummy', 'a']]);
    await c.expectStreamError(1, [E.STREAM_CLOSED, E.PROTOCOL_ERROR]);
  });

  it('§5.1 closed: PRIORITY after RST_STREAM is allowed', async () => {
    const c = await clients.connect();
    c.headers(1, c.request('POST', '/echo'));
    c.rstStream(1, E.CANCEL);
    c.priority(1, 0, 10);
    await c.expectAlive();
    await completedStream(c, 3);
  });

  it('§5.1 closed: DATA after END_STREAM both ways → STREAM_CLOSED', async () => {
    const c = await clients.connect();
    await completedStream(c, 1);
    c.data(1, 'test', { endStream: true });
    await c.expectStreamError(1, E.STREAM_CLOSED);
  });

  it('§5.1 closed: HEADERS after END_STREAM both ways → STREAM_CLOSED', async () => {
    const c = await clients.connect();
    await completedStream(c, 1);
    c.headers(1, c.request(), { endStream: true });
    await c.expectStreamError(1, E.STREAM_CLOSED);
  });

  it('§5.1 closed: CONTINUATION after END_STREAM → connection error STREAM_CLOSED or PROTOCOL_ERROR', async () => {
    const c = await clients.connect();
    await completedStream(c, 1);
    c.continuation(1, [['x-dummy', 'a']]);
    await c.expectConnectionError([E.STREAM_CLOSED, E.PROTOCOL_ERROR]);
  });

  it('§5.1 closed: WINDOW_UPDATE and RST_STREAM right after END_STREAM are tolerated', async () => {
    const c = await clients.connect();
    await completedStream(c, 1);
    c.windowUpdate(1, 100);
    c.rstStream(1, E.CANCEL);
    await c.expectAlive();
    await completedStream(c, 3);
  });
});

describe('RFC 9113 §5.1.1 stream identifiers', () => {
  it('§5.1.1 an even-numbered stream identifier → connection error PROTOCOL_ERROR', async () => {
    const c = await clients.connect();
    c.headers(2, c.request(), { endStream: true });
    await c.expectConnectionError(E.PROTOCOL_ERROR);
  });

  it('§5.1.1 a stream identifier lower than one already used → PROTOCOL_ERROR', async () => {
    const c = await clients.connect();
    c.headers(5, c.request(), { endStream: true });
    c.headers(3, c.request(), { endStream: true });
    await c.expectConnectionError(E.PROTOCOL_ERROR);
  });

  it('§5.1.1 opening stream 7 implicitly closes idle streams 1, 3 and 5', async () => {
    const c = await clients.connect();
    await completedStream(c, 7);
    c.headers(1, c.request(), { endStream: true });
    await c.expectConnectionError(E.PROTOCOL_ERROR);
  });
});

describe('RFC 9113 §5.1.2 stream concurrency', () => {
  let limited: Http2Server;
  const limitedClients = clientPool(() => limited.address.port);
  beforeAll(async () => {
    limited = await listenHttp2(
      { host: '127.0.0.1', port: 0, limits: { maxConcurrentStreams: 2 } },
      conformanceHandler,
    );
  });
  afterEach(() => limitedClients.closeAll());
  afterAll(async () => {
    await limited.destroy();
  });

  it('§5.1.2 SETTINGS_MAX_CONCURRENT_STREAMS is advertised', async () => {
    const c = await limitedClients.connect();
    expect(c.serverSettings.get(S.MAX_CONCURRENT_STREAMS)).toBe(2);
  });

  it('§5.1.2 a stream beyond SETTINGS_MAX_CONCURRENT_STREAMS → REFUSED_STREAM or PROTOCOL_ERROR', async () => {
    const c = await limitedClients.connect();
    await halfClosedRemote(c, 1);
    await halfClosedRemote(c, 3);
    c.headers(5, c.request(), { endStream: true });
    await c.expectStreamError(5, [E.REFUSED_STREAM, E.PROTOCOL_ERROR]);
  });

  it('§5.1.2 a slot freed by RST_STREAM can be used again', async () => {
    const c = await limitedClients.connect();
    await halfClosedRemote(c, 1);
    await halfClosedRemote(c, 3);
    c.rstStream(1, E.CANCEL);
    await completedStream(c, 5);
  });
});

describe('RFC 9113 §5.3.1 stream dependencies', () => {
  it('§5.3.1 HEADERS that depends on itself → PROTOCOL_ERROR', async () => {
    const c = await clients.connect();
    c.headers(1, c.request(), { endStream: true, priority: { dependsOn: 1 } });
    await c.expectStreamError(1, E.PROTOCOL_ERROR);
  });

  it('§5.3.1 PRIORITY that depends on itself → PROTOCOL_ERROR', async () => {
    const c = await clients.connect();
    c.priority(1, 1);
    await c.expectStreamError(1, E.PROTOCOL_ERROR);
  });
});

describe('RFC 9113 §5.4.1 connection error handling', () => {
  it('§5.4.1 after a connection error the server sends GOAWAY and closes the connection', async () => {
    const c = await clients.connect();
    await completedStream(c, 1);
    c.writeFrame(T.PING, 0, 1, Buffer.alloc(8)); // PING on a stream: PROTOCOL_ERROR
    const g = await c.expectConnectionError(E.PROTOCOL_ERROR);
    expect(g?.lastStreamId).toBe(1);
    expect(c.closed).toBe(true);
  });
});

describe('RFC 9113 §5.5 extending HTTP/2', () => {
  it('§5.5 an unknown extension frame on a stream is ignored', async () => {
    const c = await clients.connect();
    c.writeFrame(0xfe, 0xff, 1, Buffer.from('extension'));
    await c.expectAlive();
    await completedStream(c, 1);
  });

  it('§5.5 an unknown extension frame inside a field block → PROTOCOL_ERROR', async () => {
    const c = await clients.connect();
    const req = c.request();
    c.headers(1, req.slice(0, 2), { endStream: true, endHeaders: false });
    c.writeFrame(0x16, 0, 1, Buffer.from('extension'));
    c.continuation(1, req.slice(2));
    await c.expectConnectionError(E.PROTOCOL_ERROR);
  });
});
