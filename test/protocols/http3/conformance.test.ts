/**
 * RFC 9114 rules enforced by ghostnet's HTTP/3 server, driven by a raw QUIC client that
 * writes whatever bytes the test wants: each violation must end the connection (or reset
 * the stream) with the RFC's error code, and tolerated things (grease, unknown types) must
 * not.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FrameType, H3ErrorCode, StreamType } from '../../../src/protocols/http3/codes.js';
import {
  encodeFrame,
  encodeFrameHeader,
  encodeSettings,
} from '../../../src/protocols/http3/frames.js';
import { QpackEncoder } from '../../../src/protocols/http3/qpack/index.js';
import { Http3Server } from '../../../src/protocols/http3/server.js';
import { encodeVarint } from '../../../src/protocols/http3/varint.js';
import { QuicConnectionError, QuicEndpoint } from '../../../src/transport/quic.js';
import type { QuicConnection, QuicStream } from '../../../src/transport/quic.js';
import { cleanupCerts, makeCa, makeLeaf } from '../../helpers/certs.js';
import type { Ca, CertAndKey } from '../../helpers/certs.js';

let ca: Ca;
let leaf: CertAndKey;
let server: Http3Server;
let client: QuicEndpoint;
const conns: QuicConnection[] = [];

beforeAll(async () => {
  ca = await makeCa();
  leaf = await makeLeaf(ca, { dns: ['localhost'], ip: ['127.0.0.1'] });
  server = await new Http3Server(
    async (req, res) => {
      if (req.method === 'POST') await req.bytes();
      res.text(`ok ${req.method} ${req.path}`);
    },
    {
      quic: { cert: leaf.cert, key: leaf.key },
    },
  ).listen();
  client = await QuicEndpoint.create();
});
afterEach(() => {
  for (const c of conns.splice(0)) c.destroy();
});
afterAll(async () => {
  await client.close();
  await server.destroy();
  await cleanupCerts();
});

async function connect(): Promise<QuicConnection> {
  const c = await client.connect({
    host: '127.0.0.1',
    port: server.address.port,
    servername: 'localhost',
    ca: ca.cert,
    alpn: ['h3'],
  });
  conns.push(c);
  // Swallow the server's own uni streams.
  c.on('stream', (s) => s.on('data', () => {}));
  return c;
}

function control(c: QuicConnection, ...frames: Uint8Array[]): QuicStream {
  const s = c.openStream({ uni: true });
  s.writev([encodeVarint(StreamType.CONTROL), ...frames]);
  return s;
}

const SETTINGS = encodeSettings(new Map([[0x06, 65536]]));

async function closeCode(c: QuicConnection): Promise<number> {
  const err = await Promise.race([
    c.closedPromise,
    new Promise<Error>((r) => setTimeout(() => r(new Error('not closed within 3 s')), 3000)),
  ]);
  if (!(err instanceof QuicConnectionError))
    throw new Error(`expected an H3 close, got ${String(err)}`);
  expect(err.isApp).toBe(true);
  return err.errorCode;
}

function headers(streamId: number, fields: [string, string][]): Uint8Array {
  const block = new QpackEncoder().encode(streamId, fields);
  return encodeFrame(FrameType.HEADERS, block);
}

const GET: [string, string][] = [
  [':method', 'GET'],
  [':scheme', 'https'],
  [':authority', 'localhost'],
  [':path', '/x'],
];

/** Sends a request and collects the raw response bytes, or the reset code. */
async function request(
  c: QuicConnection,
  bytes: Uint8Array[],
  fin = true,
): Promise<{ data: Buffer; reset?: number }> {
  const s = c.openStream();
  s.writev(bytes);
  if (fin) s.end();
  return new Promise((resolve) => {
    const parts: Uint8Array[] = [];
    s.on('data', (d) => parts.push(d));
    s.on('error', () => {});
    s.on('close', () => {
      const r: { data: Buffer; reset?: number } = { data: Buffer.concat(parts) };
      if (s.peerResetCode !== undefined) r.reset = s.peerResetCode;
      resolve(r);
    });
  });
}

describe('control streams (RFC 9114 §6.2.1, §7.2.4)', () => {
  it('a valid peer with SETTINGS gets answers', async () => {
    const c = await connect();
    control(c, SETTINGS);
    const r = await request(c, [headers(0, GET)]);
    expect(r.reset).toBeUndefined();
    expect(r.data.toString('latin1')).toContain('ok GET /x');
  });

  it('the first control frame must be SETTINGS: H3_MISSING_SETTINGS', async () => {
    const c = await connect();
    control(c, encodeFrame(FrameType.GOAWAY, encodeVarint(0)));
    expect(await closeCode(c)).toBe(H3ErrorCode.H3_MISSING_SETTINGS);
  });

  it('a second SETTINGS frame is H3_FRAME_UNEXPECTED', async () => {
    const c = await connect();
    control(c, SETTINGS, SETTINGS);
    expect(await closeCode(c)).toBe(H3ErrorCode.H3_FRAME_UNEXPECTED);
  });

  it('a second control stream is H3_STREAM_CREATION_ERROR', async () => {
    const c = await connect();
    control(c, SETTINGS);
    control(c, SETTINGS);
    expect(await closeCode(c)).toBe(H3ErrorCode.H3_STREAM_CREATION_ERROR);
  });

  it('closing the control stream is H3_CLOSED_CRITICAL_STREAM', async () => {
    const c = await connect();
    control(c, SETTINGS).end();
    expect(await closeCode(c)).toBe(H3ErrorCode.H3_CLOSED_CRITICAL_STREAM);
  });

  it('DATA on the control stream is H3_FRAME_UNEXPECTED (§7.2.1)', async () => {
    const c = await connect();
    control(c, SETTINGS, encodeFrame(FrameType.DATA, Uint8Array.of(1)));
    expect(await closeCode(c)).toBe(H3ErrorCode.H3_FRAME_UNEXPECTED);
  });

  it('HTTP/2 settings identifiers are H3_SETTINGS_ERROR (§7.2.4.1)', async () => {
    const c = await connect();
    control(c, encodeSettings(new Map([[0x02, 1]])));
    expect(await closeCode(c)).toBe(H3ErrorCode.H3_SETTINGS_ERROR);
  });

  it('a repeated setting is H3_SETTINGS_ERROR (§7.2.4)', async () => {
    const c = await connect();
    control(c, encodeFrame(FrameType.SETTINGS, Uint8Array.of(0x06, 0x01, 0x06, 0x02)));
    expect(await closeCode(c)).toBe(H3ErrorCode.H3_SETTINGS_ERROR);
  });

  it('a client push stream is H3_STREAM_CREATION_ERROR (§6.2.2)', async () => {
    const c = await connect();
    control(c, SETTINGS);
    c.openStream({ uni: true }).write(encodeVarint(StreamType.PUSH));
    expect(await closeCode(c)).toBe(H3ErrorCode.H3_STREAM_CREATION_ERROR);
  });

  it('reserved HTTP/2 frame types are H3_FRAME_UNEXPECTED (§7.2.8)', async () => {
    const c = await connect();
    control(c, SETTINGS, encodeFrame(0x06, new Uint8Array(8)));
    expect(await closeCode(c)).toBe(H3ErrorCode.H3_FRAME_UNEXPECTED);
  });

  it('unknown stream types and grease frames and settings are ignored (§6.2.3, §7.2.8, §9)', async () => {
    const c = await connect();
    control(
      c,
      encodeSettings(
        new Map([
          [0x21, 7],
          [0x06, 65536],
        ]),
      ),
      encodeFrame(0x21, Uint8Array.of(1, 2, 3)),
    );
    c.openStream({ uni: true }).writev([encodeVarint(0x1f * 3 + 0x21), Uint8Array.of(9, 9, 9)]);
    const r = await request(c, [
      encodeFrame(0x40, Uint8Array.of(1)),
      headers(0, GET),
      encodeFrame(0x5f, new Uint8Array(4)),
    ]);
    expect(r.data.toString('latin1')).toContain('ok GET /x');
    expect(c.closed).toBe(false);
  });
});

describe('request streams (RFC 9114 §4.1, §4.3)', () => {
  it('DATA before HEADERS resets the stream with H3_FRAME_UNEXPECTED', async () => {
    const c = await connect();
    control(c, SETTINGS);
    const r = await request(c, [encodeFrame(FrameType.DATA, Uint8Array.of(1))]);
    expect(r.reset).toBe(H3ErrorCode.H3_FRAME_UNEXPECTED);
  });

  it('a request without :path is malformed: H3_MESSAGE_ERROR (§4.3.1)', async () => {
    const c = await connect();
    control(c, SETTINGS);
    const r = await request(c, [
      headers(
        0,
        GET.filter(([n]) => n !== ':path'),
      ),
    ]);
    expect(r.reset).toBe(H3ErrorCode.H3_MESSAGE_ERROR);
  });

  it('connection-specific fields are malformed: H3_MESSAGE_ERROR (§4.2)', async () => {
    const c = await connect();
    control(c, SETTINGS);
    const r = await request(c, [headers(0, [...GET, ['connection', 'keep-alive']])]);
    expect(r.reset).toBe(H3ErrorCode.H3_MESSAGE_ERROR);
  });

  it('uppercase field names are malformed (§4.2)', async () => {
    const c = await connect();
    control(c, SETTINGS);
    const r = await request(c, [headers(0, [...GET, ['X-Upper', '1']])]);
    expect(r.reset).toBe(H3ErrorCode.H3_MESSAGE_ERROR);
  });

  it('a body that disagrees with content-length is H3_MESSAGE_ERROR (§4.1.2)', async () => {
    const c = await connect();
    control(c, SETTINGS);
    const post: [string, string][] = [
      [':method', 'POST'],
      ...GET.slice(1),
      ['content-length', '10'],
    ];
    const r = await request(c, [headers(0, post), encodeFrame(FrameType.DATA, new Uint8Array(4))]);
    expect(r.reset).toBe(H3ErrorCode.H3_MESSAGE_ERROR);
  });

  it('a stream that ends before HEADERS is H3_REQUEST_INCOMPLETE', async () => {
    const c = await connect();
    control(c, SETTINGS);
    const r = await request(c, [encodeFrameHeader(FrameType.HEADERS, 40), new Uint8Array(3)]);
    // The frame is cut short by FIN: a frame error ends the connection (§7.1).
    expect(r.data.length).toBe(0);
    expect(await closeCode(c)).toBe(H3ErrorCode.H3_FRAME_ERROR);
  });

  it('a HEADERS frame over the frame limit is H3_EXCESSIVE_LOAD', async () => {
    const c = await connect();
    control(c, SETTINGS);
    void request(c, [encodeFrameHeader(FrameType.HEADERS, 1 << 20)], false);
    expect(await closeCode(c)).toBe(H3ErrorCode.H3_EXCESSIVE_LOAD);
  });

  it('a header section over SETTINGS_MAX_FIELD_SECTION_SIZE gets 431 (§4.2.2)', async () => {
    const c = await connect();
    control(c, SETTINGS);
    const big: [string, string][] = Array.from({ length: 40 }, (_, i) => [
      `x-h${i}`,
      'v'.repeat(1700),
    ]);
    const r = await request(c, [headers(0, [...GET, ...big])]);
    expect(r.data.toString('latin1')).toContain('431');
  });

  it('QPACK garbage in HEADERS is QPACK_DECOMPRESSION_FAILED (RFC 9204 §6)', async () => {
    const c = await connect();
    control(c, SETTINGS);
    void request(c, [encodeFrame(FrameType.HEADERS, Uint8Array.of(0xff, 0xff, 0xff))]);
    expect(await closeCode(c)).toBe(H3ErrorCode.QPACK_DECOMPRESSION_FAILED);
  });

  it('PUSH_PROMISE from a client is an error (§7.2.5)', async () => {
    const c = await connect();
    control(c, SETTINGS);
    const post: [string, string][] = [[':method', 'POST'], ...GET.slice(1)];
    void request(c, [headers(0, post), encodeFrame(FrameType.PUSH_PROMISE, Uint8Array.of(0))]);
    expect(await closeCode(c)).toBe(H3ErrorCode.H3_FRAME_UNEXPECTED);
  });
});
