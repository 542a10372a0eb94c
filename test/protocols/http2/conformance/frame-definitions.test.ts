/**
 * h2spec-style conformance, RFC 9113 §6 (frame definitions), against our server over
 * loopback with the raw-frame client (test/helpers/h2-raw.ts).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Http2Server } from '../../../../src/protocols/http2/server.js';
import { listenHttp2 } from '../../../../src/protocols/http2/server.js';
import type { H2RawClient } from '../../../helpers/h2-raw.js';
import {
  E,
  F,
  S,
  T,
  alphabet,
  clientPool,
  conformanceHandler,
  encodeHeaderBlock,
  settingsPayload,
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

/** Opens `streamId` as a POST whose body never ends: the stream stays open, no response. */
function openStream(c: H2RawClient, streamId: number): void {
  c.headers(streamId, c.request('POST', '/echo'));
}

/** No DATA on `streamId` arrived up to a PING round trip (the server is flow-blocked). */
async function expectNoDataYet(c: H2RawClient, streamId: number): Promise<void> {
  await c.expectAlive();
  const early = c.peek((f) => f.type === T.DATA && f.streamId === streamId);
  expect(
    early.map((f) => f.payload.length),
    'DATA sent beyond the flow-control window',
  ).toEqual([]);
}

describe('RFC 9113 §6.1 DATA', () => {
  it('§6.1 DATA on stream 0 → connection error PROTOCOL_ERROR', async () => {
    const c = await clients.connect();
    c.data(0, 'test', { endStream: true });
    await c.expectConnectionError(E.PROTOCOL_ERROR);
  });

  it('§6.1 DATA on a stream not open or half-closed (local) → STREAM_CLOSED', async () => {
    const c = await clients.connect();
    c.headers(1, c.request('GET', '/hang'), { endStream: true });
    c.data(1, 'test', { endStream: true });
    await c.expectStreamError(1, E.STREAM_CLOSED);
  });

  it('§6.1 a pad length ≥ the payload length → connection error PROTOCOL_ERROR', async () => {
    const c = await clients.connect();
    openStream(c, 1);
    // Pad Length 6 but only 4 octets follow it.
    c.writeFrame(T.DATA, F.PADDED | F.END_STREAM, 1, Buffer.from([6, 0x74, 0x65, 0x73, 0x74]));
    await c.expectConnectionError(E.PROTOCOL_ERROR);
  });

  it('§6.1 padded DATA is accepted and the padding is not part of the body', async () => {
    const c = await clients.connect();
    openStream(c, 1);
    c.data(1, 'abc', { padded: 10 });
    c.data(1, '', { padded: 0 });
    c.writeFrame(T.DATA, F.PADDED, 1, Buffer.from([3, 0, 0, 0])); // all padding
    c.data(1, 'def', { endStream: true, padded: 255 });
    const res = await c.expectResponse(1);
    expect(res.body.toString()).toBe('abcdef');
  });
});

describe('RFC 9113 §6.2 HEADERS', () => {
  it('§6.2 HEADERS without END_HEADERS followed by a PRIORITY → PROTOCOL_ERROR', async () => {
    const c = await clients.connect();
    c.headers(1, c.request(), { endStream: true, endHeaders: false });
    c.priority(1, 0);
    await c.expectConnectionError(E.PROTOCOL_ERROR);
  });

  it('§6.2 HEADERS without END_HEADERS followed by DATA → PROTOCOL_ERROR', async () => {
    const c = await clients.connect();
    c.headers(1, c.request('POST', '/echo'), { endHeaders: false });
    c.data(1, 'test', { endStream: true });
    await c.expectConnectionError(E.PROTOCOL_ERROR);
  });

  it('§6.2 HEADERS on stream 0 → connection error PROTOCOL_ERROR', async () => {
    const c = await clients.connect();
    c.headers(0, c.request(), { endStream: true });
    await c.expectConnectionError(E.PROTOCOL_ERROR);
  });

  it('§6.2 HEADERS whose pad length exceeds the payload → PROTOCOL_ERROR', async () => {
    const c = await clients.connect();
    const block = encodeHeaderBlock(c.request());
    const payload = Buffer.concat([Buffer.from([block.length + 1]), block]);
    c.writeFrame(T.HEADERS, F.PADDED | F.END_HEADERS | F.END_STREAM, 1, payload);
    await c.expectConnectionError(E.PROTOCOL_ERROR);
  });

  it('§6.2 padded HEADERS with priority fields is accepted', async () => {
    const c = await clients.connect();
    c.headers(1, c.request(), { endStream: true, padded: 8, priority: { dependsOn: 0 } });
    expect((await c.expectResponse(1)).status).toBe(200);
  });
});

describe('RFC 9113 §6.3 PRIORITY', () => {
  it('§6.3 PRIORITY on stream 0 → connection error PROTOCOL_ERROR', async () => {
    const c = await clients.connect();
    c.priority(0, 1);
    await c.expectConnectionError(E.PROTOCOL_ERROR);
  });

  it('§6.3 PRIORITY with a length other than 5 → FRAME_SIZE_ERROR', async () => {
    const c = await clients.connect();
    openStream(c, 1);
    c.writeFrame(T.PRIORITY, 0, 1, Buffer.from([0, 0, 0, 0]));
    await c.expectStreamError(1, E.FRAME_SIZE_ERROR);
  });
});

describe('RFC 9113 §6.4 RST_STREAM', () => {
  it('§6.4 RST_STREAM on stream 0 → connection error PROTOCOL_ERROR', async () => {
    const c = await clients.connect();
    c.rstStream(0, E.CANCEL);
    await c.expectConnectionError(E.PROTOCOL_ERROR);
  });

  it('§6.4 RST_STREAM on an idle stream → connection error PROTOCOL_ERROR', async () => {
    const c = await clients.connect();
    c.rstStream(3, E.CANCEL);
    await c.expectConnectionError(E.PROTOCOL_ERROR);
  });

  it('§6.4 RST_STREAM with a length other than 4 → connection error FRAME_SIZE_ERROR', async () => {
    const c = await clients.connect();
    openStream(c, 1);
    c.writeFrame(T.RST_STREAM, 0, 1, Buffer.from([0, 0, 0]));
    await c.expectConnectionError(E.FRAME_SIZE_ERROR);
  });
});

describe('RFC 9113 §6.5 SETTINGS', () => {
  it('§6.5 SETTINGS with ACK and a payload → connection error FRAME_SIZE_ERROR', async () => {
    const c = await clients.connect();
    c.writeFrame(T.SETTINGS, F.ACK, 0, settingsPayload([[S.ENABLE_PUSH, 0]]));
    await c.expectConnectionError(E.FRAME_SIZE_ERROR);
  });

  it('§6.5 SETTINGS on a stream → connection error PROTOCOL_ERROR', async () => {
    const c = await clients.connect();
    c.writeFrame(T.SETTINGS, 0, 1, settingsPayload([[S.ENABLE_PUSH, 0]]));
    await c.expectConnectionError(E.PROTOCOL_ERROR);
  });

  it('§6.5 SETTINGS with a length not a multiple of 6 → connection error FRAME_SIZE_ERROR', async () => {
    const c = await clients.connect();
    c.writeFrame(T.SETTINGS, 0, 0, Buffer.from([0x00, 0x02, 0x00]));
    await c.expectConnectionError(E.FRAME_SIZE_ERROR);
  });
});

describe('RFC 9113 §6.5.2 defined settings', () => {
  it('§6.5.2 SETTINGS_ENABLE_PUSH other than 0 or 1 → PROTOCOL_ERROR', async () => {
    const c = await clients.connect();
    c.settings([[S.ENABLE_PUSH, 2]]);
    await c.expectConnectionError(E.PROTOCOL_ERROR);
  });

  it('§6.5.2 SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1 → FLOW_CONTROL_ERROR', async () => {
    const c = await clients.connect();
    c.settings([[S.INITIAL_WINDOW_SIZE, 2 ** 31]]);
    await c.expectConnectionError(E.FLOW_CONTROL_ERROR);
  });

  it('§6.5.2 SETTINGS_MAX_FRAME_SIZE below 16384 → PROTOCOL_ERROR', async () => {
    const c = await clients.connect();
    c.settings([[S.MAX_FRAME_SIZE, 16383]]);
    await c.expectConnectionError(E.PROTOCOL_ERROR);
  });

  it('§6.5.2 SETTINGS_MAX_FRAME_SIZE above 2^24-1 → PROTOCOL_ERROR', async () => {
    const c = await clients.connect();
    c.settings([[S.MAX_FRAME_SIZE, 2 ** 24]]);
    await c.expectConnectionError(E.PROTOCOL_ERROR);
  });

  it('§6.5.2 an unknown setting is ignored (and ACKed)', async () => {
    const c = await clients.connect();
    c.settings([[0xff, 1]]);
    await c.expectSettingsAck();
    await c.expectAlive();
  });

  it('§6.5.2 the boundary values 16384, 2^24-1 and 2^31-1 are accepted', async () => {
    const c = await clients.connect();
    c.settings([
      [S.MAX_FRAME_SIZE, 16384],
      [S.MAX_FRAME_SIZE, 2 ** 24 - 1],
      [S.INITIAL_WINDOW_SIZE, 2 ** 31 - 1],
      [S.ENABLE_PUSH, 0],
    ]);
    await c.expectSettingsAck();
    c.headers(1, c.request(), { endStream: true });
    expect((await c.expectResponse(1)).status).toBe(200);
  });
});

describe('RFC 9113 §6.5.3 settings synchronization', () => {
  it('§6.5.3 a SETTINGS frame is acknowledged with an empty SETTINGS ACK', async () => {
    const c = await clients.connect();
    c.settings([[S.HEADER_TABLE_SIZE, 4096]]);
    await c.expectSettingsAck();
  });

  it('§6.5.3 values are processed in order: the last INITIAL_WINDOW_SIZE wins', async () => {
    const c = await clients.connect([
      [S.INITIAL_WINDOW_SIZE, 100],
      [S.INITIAL_WINDOW_SIZE, 1],
    ]);
    c.headers(1, c.request(), { endStream: true });
    await c.next((f) => f.streamId === 1 && f.fields !== undefined, 'the response head');
    const first = await c.expectData(1, 1);
    expect(first.body.toString()).toBe('h');
    await expectNoDataYet(c, 1);
  });
});

describe('RFC 9113 §6.7 PING', () => {
  it('§6.7 PING is answered with an ACK carrying the same payload', async () => {
    const c = await clients.connect();
    const payload = Buffer.from('h2spec\x00\x01', 'latin1');
    c.ping(payload);
    await c.expectPingAck(payload);
  });

  it('§6.7 a PING with ACK is not answered', async () => {
    const c = await clients.connect();
    c.ping(Buffer.from('unsolici', 'latin1'), true);
    const payload = Buffer.from('expected', 'latin1');
    c.ping(payload);
    // The first PING to arrive must be the ACK of the second one.
    await c.expectPingAck(payload);
  });

  it('§6.7 PING on a stream → connection error PROTOCOL_ERROR', async () => {
    const c = await clients.connect();
    c.writeFrame(T.PING, 0, 1, Buffer.alloc(8));
    await c.expectConnectionError(E.PROTOCOL_ERROR);
  });

  it('§6.7 PING with a length other than 8 → connection error FRAME_SIZE_ERROR', async () => {
    const c = await clients.connect();
    c.writeFrame(T.PING, 0, 0, Buffer.alloc(6));
    await c.expectConnectionError(E.FRAME_SIZE_ERROR);
  });
});

describe('RFC 9113 §6.8 GOAWAY', () => {
  it('§6.8 GOAWAY on a stream → connection error PROTOCOL_ERROR', async () => {
    const c = await clients.connect();
    c.writeFrame(T.GOAWAY, 0, 1, Buffer.concat([u32(0), u32(E.NO_ERROR)]));
    await c.expectConnectionError(E.PROTOCOL_ERROR);
  });

  it('§6.8 after a client GOAWAY, a stream already open still completes', async () => {
    const c = await clients.connect();
    c.headers(1, c.request('POST', '/echo'));
    c.goaway(1, E.NO_ERROR);
    c.data(1, 'late body', { endStream: true });
    const res = await c.expectResponse(1);
    expect(res.body.toString()).toBe('late body');
  });
});

describe('RFC 9113 §6.9 WINDOW_UPDATE', () => {
  it('§6.9 WINDOW_UPDATE with increment 0 on the connection → PROTOCOL_ERROR', async () => {
    const c = await clients.connect();
    c.windowUpdate(0, 0);
    await c.expectConnectionError(E.PROTOCOL_ERROR);
  });

  it('§6.9 WINDOW_UPDATE with increment 0 on a stream → PROTOCOL_ERROR', async () => {
    const c = await clients.connect();
    openStream(c, 1);
    c.windowUpdate(1, 0);
    await c.expectStreamError(1, E.PROTOCOL_ERROR);
  });

  it('§6.9 WINDOW_UPDATE with a length other than 4 → connection error FRAME_SIZE_ERROR', async () => {
    const c = await clients.connect();
    c.writeFrame(T.WINDOW_UPDATE, 0, 0, Buffer.from([0, 0, 1]));
    await c.expectConnectionError(E.FRAME_SIZE_ERROR);
  });
});

describe('RFC 9113 §6.9.1 the flow-control window', () => {
  it('§6.9.1 connection window above 2^31-1 → connection error FLOW_CONTROL_ERROR', async () => {
    const c = await clients.connect();
    c.windowUpdate(0, 2 ** 31 - 1);
    c.windowUpdate(0, 2 ** 31 - 1);
    await c.expectConnectionError(E.FLOW_CONTROL_ERROR);
  });

  it('§6.9.1 stream window above 2^31-1 → FLOW_CONTROL_ERROR', async () => {
    const c = await clients.connect();
    openStream(c, 1);
    c.windowUpdate(1, 2 ** 31 - 1);
    c.windowUpdate(1, 2 ** 31 - 1);
    await c.expectStreamError(1, E.FLOW_CONTROL_ERROR);
  });

  it('§6.9.1 DATA beyond the window the server advertised → FLOW_CONTROL_ERROR', async () => {
    const c = await clients.connect();
    // The handler of /hang never reads the body, so the server has no reason to reopen the
    // stream window beyond what it buffers; follow its WINDOW_UPDATEs to know the window.
    c.headers(1, c.request('POST', '/hang'));
    await c.next((f) => f.streamId === 1 && f.fields !== undefined, 'the /hang head');
    let stream = c.serverSettings.get(S.INITIAL_WINDOW_SIZE) ?? 65535;
    let conn = 65535;
    const take = async (): Promise<void> => {
      for (;;) {
        const wu = c.peek(
          (f) => f.type === T.WINDOW_UPDATE && (f.streamId === 0 || f.streamId === 1),
        );
        if (wu.length === 0) return;
        for (const f of wu) {
          await c.next((g) => g === f, 'WINDOW_UPDATE');
          if (f.streamId === 0) conn += f.payload.readUInt32BE(0);
          else stream += f.payload.readUInt32BE(0);
        }
      }
    };
    for (let round = 0; round < 64; round++) {
      await take();
      const room = Math.min(stream, conn);
      if (room === 0) break;
      for (let left = room; left > 0; left -= 16384) c.data(1, alphabet(Math.min(16384, left)));
      stream -= room;
      conn -= room;
      await c.expectAlive();
    }
    await take();
    expect(Math.min(stream, conn), 'the server kept reopening the window').toBe(0);
    c.data(1, 'x');
    await c.expectStreamError(1, E.FLOW_CONTROL_ERROR);
  });

  it('§6.9.1 the server never sends more than the connection window allows', async () => {
    // Stream windows are large; the connection window stays at its 65,535 default.
    const c = await clients.connect([[S.INITIAL_WINDOW_SIZE, 1 << 20]]);
    c.headers(1, c.request('GET', '/bytes?n=70000'), { endStream: true });
    const got = await c.expectData(1, 65535);
    expect(got.body.length).toBe(65535);
    await expectNoDataYet(c, 1);
    c.windowUpdate(0, 10000);
    const rest = await c.expectData(1, 70000 - 65535, { end: true });
    expect(rest.endStream).toBe(true);
    expect(Buffer.concat([got.body, rest.body]).toString()).toBe(alphabet(70000));
  });
});

describe('RFC 9113 §6.9.2 initial flow-control window size', () => {
  it('§6.9.2 SETTINGS_INITIAL_WINDOW_SIZE=1: one octet of DATA, more after WINDOW_UPDATE', async () => {
    const c = await clients.connect([[S.INITIAL_WINDOW_SIZE, 1]]);
    c.headers(1, c.request(), { endStream: true });
    const head = await c.next((f) => f.streamId === 1 && f.fields !== undefined, 'the head');
    expect(head.fields?.find(([n]) => n === ':status')?.[1]).toBe('200');
    expect((await c.expectData(1, 1)).body.toString()).toBe('h');
    await expectNoDataYet(c, 1);
    c.windowUpdate(1, 100);
    const rest = await c.expectData(1, 4, { end: true });
    expect(rest.body.toString()).toBe('ello');
    expect(rest.endStream).toBe(true);
  });

  it('§6.9.2 a SETTINGS change makes the stream window negative, then it recovers', async () => {
    const c = await clients.connect([[S.INITIAL_WINDOW_SIZE, 3]]);
    c.headers(1, c.request('GET', '/bytes?n=8'), { endStream: true });
    expect((await c.expectData(1, 3)).body.toString()).toBe('abc');
    await expectNoDataYet(c, 1);
    c.settings([[S.INITIAL_WINDOW_SIZE, 1]]); // window 1 - 3 = -2
    await c.expectSettingsAck();
    c.windowUpdate(1, 2); // -2 + 2 = 0: still nothing may be sent
    await expectNoDataYet(c, 1);
    c.windowUpdate(1, 1); // 1 octet
    expect((await c.expectData(1, 1)).body.toString()).toBe('d');
    await expectNoDataYet(c, 1);
    c.windowUpdate(1, 100);
    const rest = await c.expectData(1, 4, { end: true });
    expect(rest.body.toString()).toBe('efgh');
    expect(rest.endStream).toBe(true);
  });

  it('§6.9.2 raising SETTINGS_INITIAL_WINDOW_SIZE unblocks a stalled stream', async () => {
    const c = await clients.connect([[S.INITIAL_WINDOW_SIZE, 0]]);
    c.headers(1, c.request(), { endStream: true });
    await c.next((f) => f.streamId === 1 && f.fields !== undefined, 'the head');
    await expectNoDataYet(c, 1);
    c.settings([[S.INITIAL_WINDOW_SIZE, 65535]]);
    const body = await c.expectData(1, 5);
    expect(body.body.toString()).toBe('hello');
  });

  it('§6.9.2 SETTINGS_INITIAL_WINDOW_SIZE that overflows an open stream window → FLOW_CONTROL_ERROR', async () => {
    const c = await clients.connect();
    openStream(c, 1);
    c.windowUpdate(1, 2 ** 31 - 1 - 65535); // stream window exactly 2^31-1
    await c.expectAlive();
    c.settings([[S.INITIAL_WINDOW_SIZE, 65536]]); // +1 overflows it
    await c.expectConnectionError(E.FLOW_CONTROL_ERROR);
  });
});

describe('RFC 9113 §6.10 CONTINUATION', () => {
  it('§6.10 a field block over HEADERS and many CONTINUATION frames is accepted', async () => {
    const c = await clients.connect();
    const fields = c.request('GET', '/header?name=x-9', [
      ['x-0', '0'],
      ['x-1', '1'],
      ['x-2', '2'],
      ['x-3', '3'],
      ['x-4', '4'],
      ['x-5', '5'],
      ['x-6', '6'],
      ['x-7', '7'],
      ['x-8', '8'],
      ['x-9', 'nine'],
    ]);
    c.headers(1, fields.slice(0, 2), { endStream: true, endHeaders: false });
    for (let i = 2; i < fields.length - 1; i++) c.continuation(1, [fields[i]!], false);
    c.continuation(1, [fields[fields.length - 1]!], true);
    const res = await c.expectResponse(1);
    expect(res.body.toString()).toBe('nine');
  });

  it('§6.10 CONTINUATION after a HEADERS with END_HEADERS → PROTOCOL_ERROR', async () => {
    const c = await clients.connect();
    openStream(c, 1);
    c.continuation(1, [['x-dummy', 'a']]);
    await c.expectConnectionError(E.PROTOCOL_ERROR);
  });

  it('§6.10 CONTINUATION on a different stream → PROTOCOL_ERROR', async () => {
    const c = await clients.connect();
    const req = c.request();
    c.headers(1, req.slice(0, 2), { endStream: true, endHeaders: false });
    c.continuation(3, req.slice(2));
    await c.expectConnectionError(E.PROTOCOL_ERROR);
  });

  it('§6.10 CONTINUATION preceded by DATA → PROTOCOL_ERROR', async () => {
    const c = await clients.connect();
    openStream(c, 1);
    c.data(1, 'test');
    c.continuation(1, [['x-dummy', 'a']]);
    await c.expectConnectionError(E.PROTOCOL_ERROR);
  });

  it('§6.10 CONTINUATION on stream 0 → PROTOCOL_ERROR', async () => {
    const c = await clients.connect();
    c.continuation(0, [['x-dummy', 'a']]);
    await c.expectConnectionError(E.PROTOCOL_ERROR);
  });
});
