/**
 * WebTransport over HTTP/3 on ghostnet's server, driven by a raw QUIC client: SETTINGS
 * (RFC 9220 §3, RFC 9297 §2.1.1), extended CONNECT, session streams with their signals,
 * datagrams with the quarter stream ID, the close capsule, and refusals.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  FrameType,
  H3ErrorCode,
  SettingId,
  StreamType,
} from '../../../src/protocols/http3/codes.js';
import {
  FrameReader,
  decodeSettings,
  encodeFrame,
  encodeFrameHeader,
  encodeSettings,
} from '../../../src/protocols/http3/frames.js';
import { QpackDecoder, QpackEncoder } from '../../../src/protocols/http3/qpack/index.js';
import { Http3Server } from '../../../src/protocols/http3/server.js';
import { decodeVarint, encodeVarint } from '../../../src/protocols/http3/varint.js';
import {
  CapsuleReader,
  CapsuleType,
  WT_SESSION_GONE,
  encodeCloseSession,
} from '../../../src/protocols/http3/webtransport.js';
import type { WebTransportSession } from '../../../src/protocols/http3/webtransport.js';
import { QuicEndpoint } from '../../../src/transport/quic.js';
import type { QuicConnection, QuicStream } from '../../../src/transport/quic.js';
import { cleanupCerts, makeCa, makeLeaf } from '../../helpers/certs.js';
import type { Ca } from '../../helpers/certs.js';

let ca: Ca;
let server: Http3Server;
let plain: Http3Server;
let client: QuicEndpoint;
const conns: QuicConnection[] = [];
const sessions: WebTransportSession[] = [];

beforeAll(async () => {
  ca = await makeCa();
  const leaf = await makeLeaf(ca, { dns: ['localhost'], ip: ['127.0.0.1'] });
  server = await new Http3Server((_req, res) => res.text('plain request'), {
    quic: { cert: leaf.cert, key: leaf.key },
    webtransport: {
      maxSessions: 2,
      onSession: (wts) => {
        sessions.push(wts);
        wts.on('stream', (s) => {
          s.on('data', (d) => (s.uni ? wts.openStream({ uni: true }).end() : s.write(d)));
          s.on('end', () => (s.uni ? undefined : s.end()));
        });
        wts.on('datagram', (d) => wts.sendDatagram(Uint8Array.from(d, (b) => b ^ 0xff)));
      },
    },
  }).listen();
  plain = await new Http3Server((_req, res) => res.text('x'), {
    quic: { cert: leaf.cert, key: leaf.key },
  }).listen();
  client = await QuicEndpoint.create();
});
afterEach(() => {
  for (const c of conns.splice(0)) c.destroy();
  sessions.length = 0;
});
afterAll(async () => {
  await client.close();
  await server.destroy();
  await plain.destroy();
  await cleanupCerts();
});

interface Peer {
  conn: QuicConnection;
  settings: Promise<Map<number, number>>;
  uni: QuicStream[];
}

async function connect(to: Http3Server = server): Promise<Peer> {
  const conn = await client.connect({
    host: '127.0.0.1',
    port: to.address.port,
    servername: 'localhost',
    ca: ca.cert,
    alpn: ['h3'],
    datagrams: true,
  });
  conns.push(conn);
  const uni: QuicStream[] = [];
  const settings = new Promise<Map<number, number>>((resolve) => {
    conn.on('stream', (s) => {
      let buf = Buffer.alloc(0);
      const onData = (d: Uint8Array): void => {
        buf = Buffer.concat([buf, d]);
        const t = decodeVarint(buf, 0);
        if (t === undefined) return;
        if (t.value === StreamType.CONTROL) {
          const r = new FrameReader();
          r.push(buf.subarray(t.next));
          const f = r.next();
          if (f?.type === FrameType.SETTINGS) {
            s.off('data', onData);
            resolve(decodeSettings(f.payload!));
          }
        } else if (t.value === StreamType.WEBTRANSPORT_UNI) {
          s.off('data', onData);
          uni.push(s);
        } else {
          s.off('data', onData);
        }
      };
      s.on('data', onData);
    });
  });
  const control = conn.openStream({ uni: true });
  control.writev([
    encodeVarint(StreamType.CONTROL),
    encodeSettings(new Map([[SettingId.H3_DATAGRAM, 1]])),
  ]);
  return { conn, settings, uni };
}

function connectRequest(path: string, protocol = 'webtransport'): Uint8Array {
  const block = new QpackEncoder().encode(0, [
    [':method', 'CONNECT'],
    [':protocol', protocol],
    [':scheme', 'https'],
    [':authority', 'localhost'],
    [':path', path],
  ]);
  return encodeFrame(FrameType.HEADERS, block);
}

/** Opens a session; resolves with the CONNECT stream and the response status. */
async function openSession(
  p: Peer,
  path = '/wt',
  protocol = 'webtransport',
): Promise<{ stream: QuicStream; status: number }> {
  const stream = p.conn.openStream();
  stream.write(connectRequest(path, protocol));
  const reader = new FrameReader();
  const status = await new Promise<number>((resolve) => {
    const onData = (d: Uint8Array): void => {
      reader.push(d);
      const f = reader.next();
      if (f?.type === FrameType.HEADERS) {
        stream.off('data', onData);
        const fields = new QpackDecoder({ maxTableCapacity: 0 }).decode(0, f.payload!);
        resolve(Number((fields as [string, string][]).find(([n]) => n === ':status')![1]));
      }
    };
    stream.on('data', onData);
  });
  return { stream, status };
}

describe('WebTransport over HTTP/3', () => {
  it('advertises extended CONNECT, HTTP datagrams and WebTransport in SETTINGS', async () => {
    const p = await connect();
    const s = await p.settings;
    expect(s.get(SettingId.ENABLE_CONNECT_PROTOCOL)).toBe(1); // RFC 9220 §3
    expect(s.get(SettingId.H3_DATAGRAM)).toBe(1); // RFC 9297 §2.1.1
    expect(s.get(SettingId.WEBTRANSPORT_MAX_SESSIONS)).toBe(2);
    expect(s.get(SettingId.ENABLE_WEBTRANSPORT)).toBe(1);
  });

  it('accepts a session; bidi streams echo, uni streams are answered, datagrams carry the quarter stream ID', async () => {
    const p = await connect();
    const { stream, status } = await openSession(p, '/wt?room=1');
    expect(status).toBe(200);
    expect(sessions[0]!.path).toBe('/wt?room=1');
    expect(sessions[0]!.id).toBe(stream.streamId);

    const bidi = p.conn.openStream();
    const echoed = new Promise<string>((resolve) => {
      const parts: Uint8Array[] = [];
      bidi.on('data', (d) => parts.push(d));
      bidi.on('end', () => resolve(Buffer.concat(parts).toString()));
    });
    bidi.writev([
      encodeVarint(FrameType.WEBTRANSPORT_STREAM),
      encodeVarint(stream.streamId),
      Buffer.from('ping'),
    ]);
    bidi.end();
    expect(await echoed).toBe('ping');

    const uni = p.conn.openStream({ uni: true });
    uni.writev([
      encodeVarint(StreamType.WEBTRANSPORT_UNI),
      encodeVarint(stream.streamId),
      Buffer.from('u'),
    ]);
    uni.end();
    for (let i = 0; i < 50 && p.uni.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(p.uni.length).toBe(1);

    const got = new Promise<Uint8Array>((resolve) => p.conn.once('datagram', resolve));
    p.conn.sendDatagram(Buffer.concat([encodeVarint(stream.streamId / 4), Buffer.from([1, 2, 3])]));
    const d = await got;
    const q = decodeVarint(d, 0)!;
    expect(q.value * 4).toBe(stream.streamId);
    expect([...d.subarray(q.next)]).toEqual([0xfe, 0xfd, 0xfc]);
  });

  it('a CLOSE_WEBTRANSPORT_SESSION capsule ends the session with its code and resets its streams', async () => {
    const p = await connect();
    const { stream } = await openSession(p);
    const bidi = p.conn.openStream();
    bidi.writev([
      encodeVarint(FrameType.WEBTRANSPORT_STREAM),
      encodeVarint(stream.streamId),
      Buffer.from('x'),
    ]);
    await new Promise((r) => setTimeout(r, 50));
    const closed = new Promise<{ code: number; reason: string }>((r) =>
      sessions[0]!.once('close', r),
    );
    const reset = new Promise<number | undefined>((r) =>
      bidi.on('close', () => r(bidi.peerResetCode)),
    );
    bidi.on('error', () => {});
    const capsule = encodeCloseSession(42, 'done here');
    stream.writev([encodeFrameHeader(FrameType.DATA, capsule.length), capsule]);
    stream.end();
    expect(await closed).toEqual({ code: 42, reason: 'done here' });
    expect(await reset).toBe(WT_SESSION_GONE);
  });

  it('session.close() sends the capsule and FIN to the client', async () => {
    const p = await connect();
    const { stream } = await openSession(p);
    const parts: Uint8Array[] = [];
    stream.on('data', (d) => parts.push(d));
    const ended = new Promise<void>((r) => stream.on('end', () => r()));
    sessions[0]!.close(9, 'server says bye');
    await ended;
    const frames = new FrameReader();
    frames.push(Buffer.concat(parts));
    const data = frames.next();
    expect(data?.type).toBe(FrameType.DATA);
    const [cap] = new CapsuleReader().push(data!.chunk!);
    expect(cap!.type).toBe(CapsuleType.CLOSE_WEBTRANSPORT_SESSION);
    expect(new DataView(cap!.value.buffer, cap!.value.byteOffset).getUint32(0)).toBe(9);
    expect(Buffer.from(cap!.value.subarray(4)).toString()).toBe('server says bye');
  });

  it('refuses other :protocol values (501), sessions past the limit (429), and keeps serving requests', async () => {
    const p = await connect();
    expect((await openSession(p, '/x', 'websocket')).status).toBe(501);
    expect((await openSession(p)).status).toBe(200);
    expect((await openSession(p)).status).toBe(200);
    expect((await openSession(p)).status).toBe(429);
  });

  it('a server without WebTransport treats :protocol as malformed (RFC 9220 §3: H3_MESSAGE_ERROR)', async () => {
    const p = await connect(plain);
    expect((await p.settings).get(SettingId.ENABLE_CONNECT_PROTOCOL)).toBeUndefined();
    const s = p.conn.openStream();
    s.write(connectRequest('/wt'));
    s.on('error', () => {});
    await new Promise<void>((r) => s.on('close', () => r()));
    expect(s.peerResetCode).toBe(H3ErrorCode.H3_MESSAGE_ERROR);
  });

  it('streams for an unknown session are reset with WT_SESSION_GONE', async () => {
    const p = await connect();
    const bidi = p.conn.openStream();
    bidi.on('error', () => {});
    bidi.writev([encodeVarint(FrameType.WEBTRANSPORT_STREAM), encodeVarint(400), Buffer.from('x')]);
    await new Promise<void>((r) => bidi.on('close', () => r()));
    expect(bidi.peerResetCode).toBe(WT_SESSION_GONE);
  });
});
