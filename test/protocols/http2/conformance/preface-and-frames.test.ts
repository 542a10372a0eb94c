/**
 * h2spec-style conformance, RFC 9113 §3 (starting HTTP/2) and §4 (HTTP frames), against
 * our server over loopback with the raw-frame client (test/helpers/h2-raw.ts).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Http2Server } from '../../../../src/protocols/http2/server.js';
import { listenHttp2 } from '../../../../src/protocols/http2/server.js';
import {
  E,
  F,
  PREFACE,
  S,
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

describe('RFC 9113 §3.4 / §3.5 HTTP/2 connection preface', () => {
  it('§3.4 the server preface is a SETTINGS frame, sent first', async () => {
    const c = await clients.connect();
    const first = c.received[0];
    expect(first?.type).toBe(T.SETTINGS);
    expect((first?.flags ?? 0) & F.ACK).toBe(0);
  });

  it('§6.5.2 the server advertises its documented SETTINGS and connection window', async () => {
    const c = await clients.connect();
    expect(c.serverSettings.get(S.MAX_CONCURRENT_STREAMS)).toBe(100);
    expect(c.serverSettings.get(S.INITIAL_WINDOW_SIZE)).toBe(262144);
    expect(c.serverSettings.get(S.MAX_HEADER_LIST_SIZE)).toBe(65536);
    expect(c.serverSettings.get(0x9)).toBe(1); // RFC 9218 §2.1 NO_RFC7540_PRIORITIES
    const wu = await c.next((f) => f.type === T.WINDOW_UPDATE && f.streamId === 0, 'WINDOW_UPDATE');
    expect(65535 + wu.payload.readUInt32BE(0)).toBe(1048576);
  });

  it('§3.5 an invalid connection preface → connection error PROTOCOL_ERROR', async () => {
    const c = await clients.raw();
    c.write(Buffer.from('INVALID CONNECTION PREFACE\r\n\r\n', 'latin1'));
    await c.expectConnectionError(E.PROTOCOL_ERROR, { allowCloseWithoutGoaway: true });
    expect(c.closed).toBe(true);
  });

  it('§3.5 a preface not followed by SETTINGS → connection error PROTOCOL_ERROR', async () => {
    const c = await clients.raw();
    c.preface();
    c.ping(Buffer.alloc(8));
    await c.expectConnectionError(E.PROTOCOL_ERROR, { allowCloseWithoutGoaway: true });
  });

  it('§3.5 the preface and SETTINGS split byte by byte are accepted', async () => {
    const c = await clients.raw();
    const wire = Buffer.concat([PREFACE, encodeFrame(T.SETTINGS, 0, 0)]);
    for (const b of wire) c.write(Buffer.from([b]));
    await c.next((f) => f.type === T.SETTINGS && (f.flags & F.ACK) !== 0, 'SETTINGS ACK');
    c.settingsAck();
    await c.expectAlive();
  });
});

describe('RFC 9113 §4.1 frame format', () => {
  it('§4.1 a frame of unknown type is ignored', async () => {
    const c = await clients.connect();
    c.writeFrame(0x16, 0, 0, Buffer.from('unknown'));
    await c.expectAlive();
  });

  it('§4.1 undefined flags are ignored (PING with flags 0x16 is answered)', async () => {
    const c = await clients.connect();
    const payload = Buffer.from('flags-16');
    c.writeFrame(T.PING, 0x16, 0, payload);
    await c.expectPingAck(payload);
  });

  it('§4.1 the reserved bit of the stream identifier is ignored', async () => {
    const c = await clients.connect();
    c.writeFrame(
      T.HEADERS,
      F.END_HEADERS | F.END_STREAM,
      0x80000001,
      encodeHeaderBlock(c.request()),
    );
    const res = await c.expectResponse(1);
    expect(res.status).toBe(200);
  });
});

describe('RFC 9113 §4.2 frame size', () => {
  it('§4.2 a DATA frame of exactly 16384 octets is accepted', async () => {
    const c = await clients.connect();
    c.headers(1, c.request('POST', '/echo'));
    c.data(1, alphabet(16384), { endStream: true });
    const res = await c.expectResponse(1);
    expect(res.status).toBe(200);
    expect(res.body.length).toBe(16384);
    expect(res.body.toString()).toBe(alphabet(16384));
  });

  it('§4.2 a DATA frame over SETTINGS_MAX_FRAME_SIZE → FRAME_SIZE_ERROR', async () => {
    const c = await clients.connect();
    c.headers(1, c.request('POST', '/echo'));
    c.data(1, alphabet(16385), { endStream: true });
    await c.expectStreamError(1, E.FRAME_SIZE_ERROR);
  });

  it('§4.2 a HEADERS frame over SETTINGS_MAX_FRAME_SIZE → connection error FRAME_SIZE_ERROR', async () => {
    const c = await clients.connect();
    const block = encodeHeaderBlock(c.request('GET', '/', [['x-dummy', alphabet(17000)]]));
    expect(block.length).toBeGreaterThan(16384);
    c.headers(1, block, { endStream: true });
    await c.expectConnectionError(E.FRAME_SIZE_ERROR);
  });

  it('§4.2 a PING frame whose length field exceeds the limit → FRAME_SIZE_ERROR', async () => {
    const c = await clients.connect();
    c.write(encodeFrame(T.PING, 0, 0, Buffer.alloc(16385)));
    await c.expectConnectionError(E.FRAME_SIZE_ERROR);
  });
});

describe('RFC 9113 §4.3 field section compression and decompression', () => {
  it('§4.3 an undecodable field block → connection error COMPRESSION_ERROR', async () => {
    const c = await clients.connect();
    // Literal without indexing, new name of 10 octets, but only 2 follow.
    c.headers(1, Buffer.from([0x00, 0x0a, 0x61, 0x62]), { endStream: true });
    await c.expectConnectionError(E.COMPRESSION_ERROR);
  });

  it('§4.3 a PRIORITY frame between HEADERS and CONTINUATION → PROTOCOL_ERROR', async () => {
    const c = await clients.connect();
    const req = c.request();
    c.headers(1, req.slice(0, 2), { endStream: true, endHeaders: false });
    c.priority(1, 0);
    c.continuation(1, req.slice(2));
    await c.expectConnectionError(E.PROTOCOL_ERROR);
  });

  it('§4.3 HEADERS of another stream inside a field block → PROTOCOL_ERROR', async () => {
    const c = await clients.connect();
    const req = c.request();
    c.headers(1, req.slice(0, 2), { endStream: true, endHeaders: false });
    c.headers(3, req, { endStream: true });
    await c.expectConnectionError(E.PROTOCOL_ERROR);
  });

  it('§4.3 a field block split across HEADERS and CONTINUATION decodes as one', async () => {
    const c = await clients.connect();
    const block = encodeHeaderBlock(c.request('GET', '/header?name=x-split', [['x-split', 'yes']]));
    // Split inside a string literal: fragments are only meaningful concatenated.
    c.headers(1, block.subarray(0, 7), { endStream: true, endHeaders: false });
    c.continuation(1, block.subarray(7));
    const res = await c.expectResponse(1);
    expect(res.status).toBe(200);
    expect(res.body.toString()).toBe('yes');
  });
});
