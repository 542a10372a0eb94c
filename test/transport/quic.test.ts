/**
 * The QUIC endpoint (src/transport/quic.ts) against itself over loopback UDP: the
 * handshake, streams of both kinds with flow control, resets, datagrams, closes, idle
 * timeouts, Retry, version negotiation, resumption, and bad input at the UDP edge.
 */
import { createSocket } from 'node:dgram';
import { randomBytes, createHash } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  QuicConnectionError,
  QuicEndpoint,
  QuicHandshakeError,
  QuicIdleTimeoutError,
  QuicStreamLimitError,
  QuicStreamResetError,
} from '../../src/transport/quic.js';
import type { QuicConnection, QuicOptions, QuicStream } from '../../src/transport/quic.js';
import { AddressTokens } from '../../src/transport/quic/token.js';
import { InvalidOptionError } from '../../src/errors.js';
import { cleanupCerts, makeCa, makeLeaf } from '../helpers/certs.js';
import type { Ca, CertAndKey } from '../helpers/certs.js';

let ca: Ca;
let leaf: CertAndKey;
let otherCa: Ca;
const endpoints: QuicEndpoint[] = [];

beforeAll(async () => {
  ca = await makeCa();
  otherCa = await makeCa({ commonName: 'other CA' });
  leaf = await makeLeaf(ca, { dns: ['localhost'], ip: ['127.0.0.1'] });
});
afterAll(cleanupCerts);
afterEach(async () => {
  await Promise.all(endpoints.splice(0).map((e) => e.close()));
});

async function endpoint(
  opts: Parameters<typeof QuicEndpoint.create>[0] = {},
): Promise<QuicEndpoint> {
  const e = await QuicEndpoint.create(opts);
  endpoints.push(e);
  return e;
}

function serverOpts(extra: QuicOptions = {}): QuicOptions {
  return { cert: leaf.cert, key: leaf.key, alpn: ['gn-test'], ...extra };
}

async function pair(
  server: QuicOptions = {},
  client: QuicOptions = {},
  endpointOpts: Parameters<typeof QuicEndpoint.create>[0] = {},
): Promise<{
  s: QuicEndpoint;
  c: QuicEndpoint;
  conn: QuicConnection;
  peer: Promise<QuicConnection>;
}> {
  const s = await endpoint({ server: serverOpts(server), ...endpointOpts });
  const c = await endpoint();
  const peer = new Promise<QuicConnection>((resolve) => s.once('connection', resolve));
  const conn = await c.connect({
    host: '127.0.0.1',
    port: s.address.port,
    servername: 'localhost',
    ca: ca.cert,
    alpn: ['gn-test'],
    ...client,
  });
  return { s, c, conn, peer };
}

function readAll(s: QuicStream): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const parts: Uint8Array[] = [];
    s.on('data', (d) => parts.push(d));
    s.on('end', () => resolve(Buffer.concat(parts)));
    s.on('close', (hadError) => {
      if (hadError) reject(new Error('stream closed with an error'));
    });
    s.on('error', reject);
  });
}

async function writeAll(s: QuicStream, data: Uint8Array, chunk = 64 * 1024): Promise<void> {
  for (let i = 0; i < data.length; i += chunk) {
    if (!s.write(data.subarray(i, i + chunk))) {
      await new Promise<void>((resolve) => s.once('drain', resolve));
    }
  }
  s.end();
}

/** Echo every bidirectional stream back. */
function echo(conn: QuicConnection): void {
  conn.on('stream', (st) => {
    st.on('data', (d) => st.write(d));
    st.on('end', () => st.end());
  });
}

describe('QUIC handshake (RFC 9000 §7, RFC 9001)', () => {
  it('connects, negotiates ALPN and the server name, and verifies the certificate', async () => {
    const { conn, peer } = await pair();
    const sc = await peer;
    expect(conn.established).toBe(true);
    expect(conn.alpnProtocol).toBe('gn-test');
    expect(sc.alpnProtocol).toBe('gn-test');
    expect(sc.servername).toBe('localhost');
    expect(conn.peerCertificates().length).toBeGreaterThan(0);
    expect(conn.stats().rttMs).toBeGreaterThanOrEqual(0);
  });

  it('fails with a handshake error when the certificate is not signed by the CA', async () => {
    const s = await endpoint({ server: serverOpts() });
    const c = await endpoint();
    const err = await c
      .connect({
        host: '127.0.0.1',
        port: s.address.port,
        servername: 'localhost',
        ca: otherCa.cert,
        alpn: ['gn-test'],
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QuicHandshakeError);
  });

  it('fails when no ALPN protocol is shared (RFC 9001 §8.1: no_application_protocol)', async () => {
    const s = await endpoint({ server: serverOpts() });
    const c = await endpoint();
    const err = await c
      .connect({
        host: '127.0.0.1',
        port: s.address.port,
        servername: 'localhost',
        ca: ca.cert,
        alpn: ['other'],
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QuicHandshakeError);
    expect((err as QuicHandshakeError).errorCode).toBe(0x100 + 120);
  });

  it('rejects a server without a certificate, and bad PEM, with InvalidOptionError', async () => {
    await expect(QuicEndpoint.create({ server: { alpn: ['x'] } })).rejects.toBeInstanceOf(
      InvalidOptionError,
    );
    await expect(
      QuicEndpoint.create({ server: { cert: 'nope', key: 'nope' } }),
    ).rejects.toBeInstanceOf(InvalidOptionError);
  });

  it('times out a connect to a port where nobody answers', async () => {
    const c = await endpoint();
    const silent = createSocket('udp4');
    await new Promise<void>((r) => silent.bind(0, '127.0.0.1', r));
    const port = silent.address().port;
    const err = await c
      .connect({ host: '127.0.0.1', port, servername: 'localhost', ca: ca.cert, timeoutMs: 300 })
      .catch((e: unknown) => e);
    silent.close();
    expect((err as Error).name).toBe('TimeoutError');
    expect(c.connections.size).toBe(0);
  });
});

describe('stateless Retry and address validation (RFC 9000 §8.1)', () => {
  it('sends a Retry first and accepts the client that echoes the token', async () => {
    const { s } = await pair();
    expect(s.counters.retriesSent).toBe(1);
    expect(s.counters.accepted).toBe(1);
  });

  it('accepts without a Retry when retry is off', async () => {
    const { s, conn } = await pair({}, {}, { retry: false });
    expect(s.counters.retriesSent).toBe(0);
    const st = conn.openStream();
    const got = readAll(st);
    await new Promise<QuicConnection>((r) =>
      s.connections.size > 0 ? r([...s.connections][0]!) : s.once('connection', r),
    );
    for (const sc of s.connections) echo(sc);
    st.write(new TextEncoder().encode('hi'));
    st.end();
    expect(new TextDecoder().decode(await got)).toBe('hi');
  });

  it('tokens are bound to the client address, expire, and cannot be forged', () => {
    let now = 1_000_000;
    const t = new AddressTokens({ now: () => now, lifetimeMs: 5000 });
    const odcid = randomBytes(16);
    const tok = t.mint(odcid, '127.0.0.1');
    expect(t.validate(tok, '127.0.0.1')).toEqual(new Uint8Array(odcid));
    expect(t.validate(tok, '127.0.0.2')).toBeUndefined();
    const forged = Uint8Array.from(tok);
    forged[7] = forged[7]! ^ 1;
    expect(t.validate(forged, '127.0.0.1')).toBeUndefined();
    expect(t.validate(tok.subarray(0, 10), '127.0.0.1')).toBeUndefined();
    expect(new AddressTokens().validate(tok, '127.0.0.1')).toBeUndefined();
    now += 7000;
    expect(t.validate(tok, '127.0.0.1')).toBeUndefined();
  });
});

/** A long-header Initial-shaped datagram with the given version. */
function longHeader(version: number, size: number, dcidLen = 8): Buffer {
  const b = Buffer.alloc(size);
  b[0] = 0xc0; // long header, fixed bit, type Initial
  b.writeUInt32BE(version, 1);
  b[5] = dcidLen;
  randomBytes(dcidLen).copy(b, 6);
  b[6 + dcidLen] = 8;
  randomBytes(8).copy(b, 7 + dcidLen);
  return b;
}

async function sendRaw(port: number, data: Buffer, waitMs = 150): Promise<Buffer[]> {
  const sock = createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  const got: Buffer[] = [];
  sock.on('message', (m) => got.push(m));
  sock.send(data, port, '127.0.0.1');
  await new Promise((r) => setTimeout(r, waitMs));
  sock.close();
  return got;
}

describe('the UDP edge (RFC 9000 §6, §7.2, §14.1)', () => {
  it('answers an unknown version with Version Negotiation listing version 1 (§6.1)', async () => {
    const s = await endpoint({ server: serverOpts() });
    const [vn] = await sendRaw(s.address.port, longHeader(0x1a2a3a4a, 1200));
    expect(vn).toBeDefined();
    expect(vn!.readUInt32BE(1)).toBe(0); // Version Negotiation has version 0 (§17.2.1)
    const versions: number[] = [];
    const dcidLen = vn![5]!;
    const scidLen = vn![6 + dcidLen]!;
    for (let i = 7 + dcidLen + scidLen; i + 4 <= vn!.length; i += 4)
      versions.push(vn!.readUInt32BE(i));
    expect(versions).toContain(1);
    expect(s.counters.versionNegotiations).toBe(1);
  });

  it('drops Initials in datagrams under 1200 bytes (§14.1) and Initials with short DCIDs (§7.2)', async () => {
    const s = await endpoint({ server: serverOpts() });
    expect(await sendRaw(s.address.port, longHeader(1, 1199))).toEqual([]);
    expect(await sendRaw(s.address.port, longHeader(1, 1200, 4))).toEqual([]);
    expect(s.counters.dropped).toBe(2);
    expect(s.connections.size).toBe(0);
  });

  it('survives random datagrams and keeps serving', async () => {
    const { s, conn, peer } = await pair();
    echo(await peer);
    for (let i = 0; i < 300; i++) {
      const size = 1 + ((i * 37) % 1400);
      await sendRaw(s.address.port, randomBytes(size), 0);
    }
    const st = conn.openStream();
    const got = readAll(st);
    st.write(new TextEncoder().encode('still here'));
    st.end();
    expect(new TextDecoder().decode(await got)).toBe('still here');
  });

  it('refuses connections past maxConnections', async () => {
    const s = await endpoint({ server: serverOpts(), maxConnections: 1 });
    const c = await endpoint();
    const o = {
      host: '127.0.0.1',
      port: s.address.port,
      servername: 'localhost',
      ca: ca.cert,
      alpn: ['gn-test'],
    };
    await c.connect(o);
    await expect(c.connect({ ...o, timeoutMs: 400 })).rejects.toThrow(/did not finish/);
  });
});

describe('streams (RFC 9000 §2-§4)', () => {
  it('echoes on a bidirectional stream with FIN', async () => {
    const { conn, peer } = await pair();
    echo(await peer);
    const st = conn.openStream();
    expect(st.streamId).toBe(0); // client-initiated bidi: 0, 4, 8 (§2.1)
    const got = readAll(st);
    st.write(new TextEncoder().encode('hello'));
    st.end();
    expect(new TextDecoder().decode(await got)).toBe('hello');
  });

  it('moves 16 MiB each way on one stream with flow control and backpressure intact', async () => {
    const { conn, peer } = await pair({
      initialMaxStreamData: 256 * 1024,
      maxStreamWindow: 1 << 20,
    });
    echo(await peer);
    const data = randomBytes(16 << 20);
    const st = conn.openStream();
    const got = readAll(st);
    await writeAll(st, data);
    const back = await got;
    expect(back.length).toBe(data.length);
    expect(createHash('sha256').update(back).digest('hex')).toBe(
      createHash('sha256').update(data).digest('hex'),
    );
  }, 60_000);

  it('runs 200 concurrent streams past the peer limit of 100 as streams finish', async () => {
    const { conn, peer } = await pair();
    echo(await peer);
    const results: Promise<string>[] = [];
    let opened = 0;
    const openOne = async (i: number): Promise<string> => {
      for (;;) {
        try {
          const st = conn.openStream();
          opened++;
          const got = readAll(st);
          st.write(new TextEncoder().encode(`stream ${i}`));
          st.end();
          return new TextDecoder().decode(await got);
        } catch (err) {
          expect(err).toBeInstanceOf(QuicStreamLimitError);
          await new Promise((r) => setTimeout(r, 5));
        }
      }
    };
    for (let i = 0; i < 200; i++) results.push(openOne(i));
    const all = await Promise.all(results);
    expect(opened).toBe(200);
    expect(all[137]).toBe('stream 137');
  }, 30_000);

  it('opens unidirectional streams both ways (ids 2 and 3 mod 4)', async () => {
    const { conn, peer } = await pair();
    const sc = await peer;
    const fromClient = new Promise<string>((resolve) => {
      sc.on('stream', (st) => {
        expect(st.uni).toBe(true);
        expect(st.writable).toBe(false);
        void readAll(st).then((b) => resolve(new TextDecoder().decode(b)));
      });
    });
    const u = conn.openStream({ uni: true });
    expect(u.streamId % 4).toBe(2);
    u.write(new TextEncoder().encode('uni up'));
    u.end();
    expect(await fromClient).toBe('uni up');
    const fromServer = new Promise<string>((resolve) => {
      conn.on('stream', (st) => void readAll(st).then((b) => resolve(new TextDecoder().decode(b))));
    });
    const d = sc.openStream({ uni: true });
    expect(d.streamId % 4).toBe(3);
    d.write(new TextEncoder().encode('uni down'));
    d.end();
    expect(await fromServer).toBe('uni down');
  });

  it('delivers RESET_STREAM with its code to the peer (§19.4)', async () => {
    const { conn, peer } = await pair();
    const sc = await peer;
    const reset = new Promise<{ code: number; err: unknown }>((resolve) => {
      sc.on('stream', (st) => {
        let err: unknown;
        st.on('error', (e) => (err = e));
        st.on('data', () => {});
        st.on('close', () => resolve({ code: st.peerResetCode!, err }));
      });
    });
    const st = conn.openStream();
    st.write(new Uint8Array(100));
    await new Promise((r) => setTimeout(r, 50));
    st.reset(0x10c);
    const r = await reset;
    expect(r.code).toBe(0x10c);
    expect(r.err).toBeInstanceOf(QuicStreamResetError);
  });

  it('STOP_SENDING makes the writer see the code and quiche reset the stream (§3.5)', async () => {
    const { conn, peer } = await pair();
    const sc = await peer;
    sc.on('stream', (st) => {
      st.on('data', () => st.stopSending(0x42));
    });
    const st = conn.openStream();
    const stopped = new Promise<number>((resolve) => {
      st.onPeerStopSending = resolve;
    });
    // Keep writing until the peer's STOP_SENDING arrives.
    const chunk = new Uint8Array(16 * 1024);
    const timer = setInterval(() => {
      if (st.writable) st.write(chunk);
    }, 5);
    const code = await stopped;
    clearInterval(timer);
    expect(code).toBe(0x42);
    expect(st.writable).toBe(false);
  });

  it('pause() holds the peer back through flow control; resume() drains it', async () => {
    const { conn, peer } = await pair({
      initialMaxStreamData: 64 * 1024,
      maxStreamWindow: 64 * 1024,
    });
    const sc = await peer;
    const paused = new Promise<QuicStream>((resolve) => {
      sc.on('stream', (st) => {
        st.pause();
        resolve(st);
      });
    });
    const st = conn.openStream();
    st.highWaterMark = 16 * 1024;
    const data = randomBytes(1 << 20);
    const done = writeAll(st, data);
    const ss = await paused;
    await new Promise((r) => setTimeout(r, 200));
    // The server read nothing, so the client is stuck near one window plus its own queue.
    expect(ss.bytesRead).toBe(0);
    expect(st.bytesWritten).toBeLessThanOrEqual(64 * 1024 + 16 * 1024);
    const got = readAll(ss);
    ss.resume();
    await done;
    expect((await got).length).toBe(data.length);
  });
});

describe('datagrams (RFC 9221)', () => {
  it('exchanges DATAGRAM frames when both sides enable them', async () => {
    const { conn, peer } = await pair({ datagrams: true }, { datagrams: true });
    const sc = await peer;
    sc.on('datagram', (d) => sc.sendDatagram(Uint8Array.from(d, (b) => b + 1)));
    const got = new Promise<Uint8Array>((resolve) => conn.once('datagram', resolve));
    expect(conn.maxDatagramSize).toBeGreaterThan(1000);
    conn.sendDatagram(Uint8Array.of(1, 2, 3));
    expect([...(await got)]).toEqual([2, 3, 4]);
    expect(() => conn.sendDatagram(new Uint8Array(5000))).toThrow(RangeError);
  });

  it('refuses to send datagrams that were not negotiated', async () => {
    const { conn } = await pair();
    expect(() => conn.sendDatagram(Uint8Array.of(1))).toThrow(RangeError);
  });
});

describe('closing (RFC 9000 §10)', () => {
  it('an application close reaches the peer with its code and reason; streams are aborted', async () => {
    const { conn, peer } = await pair();
    const sc = await peer;
    const st = conn.openStream();
    st.write(Uint8Array.of(1));
    const streamClosed = new Promise<boolean>((r) => st.on('close', r));
    const peerClosed = new Promise<Error | undefined>((r) => conn.on('close', r));
    await sc.close(0x101, 'bye');
    const err = await peerClosed;
    expect(err).toBeInstanceOf(QuicConnectionError);
    expect((err as QuicConnectionError).errorCode).toBe(0x101);
    expect((err as QuicConnectionError).isApp).toBe(true);
    expect((err as QuicConnectionError).reason).toBe('bye');
    expect(await streamClosed).toBe(true);
    expect(() => conn.openStream()).toThrow(/closed/);
  });

  it('a close with code 0 is clean on both sides', async () => {
    const { conn, peer } = await pair();
    const sc = await peer;
    const peerClosed = new Promise<Error | undefined>((r) => sc.on('close', r));
    expect(await conn.close()).toBeUndefined();
    expect(await peerClosed).toBeUndefined();
  });

  it('closes idle connections after max_idle_timeout (§10.1)', async () => {
    const { conn, peer } = await pair({ maxIdleTimeoutMs: 300 }, { maxIdleTimeoutMs: 300 });
    const sc = await peer;
    const t0 = Date.now();
    const [a, b] = await Promise.all([conn.closedPromise, sc.closedPromise]);
    expect(a).toBeInstanceOf(QuicIdleTimeoutError);
    expect(b).toBeInstanceOf(QuicIdleTimeoutError);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
  });

  it('endpoint.close() closes every connection and unbinds', async () => {
    const { s, conn } = await pair();
    const closed = conn.closedPromise;
    await s.close();
    expect(s.connections.size).toBe(0);
    await closed;
    expect(conn.closed).toBe(true);
  });
});

describe('resumption and 0-RTT (RFC 9001 §4.6)', () => {
  it('resumes with the session from an earlier connection and sends early data', async () => {
    const ticketKey = randomBytes(48);
    const s = await endpoint({ server: serverOpts({ earlyData: true, ticketKey }) });
    s.on('connection', echo);
    const c = await endpoint();
    const o = {
      host: '127.0.0.1',
      port: s.address.port,
      servername: 'localhost',
      ca: ca.cert,
      alpn: ['gn-test'],
      earlyData: true,
    };
    const first = await c.connect(o);
    // The ticket arrives after the handshake.
    for (let i = 0; i < 50 && first.session() === undefined; i++)
      await new Promise((r) => setTimeout(r, 10));
    const session = first.session();
    expect(session).toBeDefined();
    await first.close();
    const second = await c.connect({ ...o, session: session! });
    const st = second.openStream();
    const got = readAll(st);
    st.write(new TextEncoder().encode('early'));
    st.end();
    expect(new TextDecoder().decode(await got)).toBe('early');
    expect(second.resumed).toBe(true);
  });
});

describe('monitoring', () => {
  it('reports connections, RTT, cwnd and packet counts through the observer', async () => {
    const gauges = new Map<string, number>();
    const opened: string[] = [];
    const observer = {
      connectionOpened: (p: string) => opened.push(p),
      connectionClosed: () => {},
      bytesReceived: () => {},
      bytesSent: () => {},
      requestFinished: () => {},
      error: () => {},
      gauge: (name: string, value: number) => gauges.set(name, value),
    };
    const s = await endpoint({ server: serverOpts(), observer, statsIntervalMs: 0 });
    const c = await endpoint();
    const conn = await c.connect({
      host: '127.0.0.1',
      port: s.address.port,
      servername: 'localhost',
      ca: ca.cert,
      alpn: ['gn-test'],
    });
    const st = conn.openStream();
    st.write(new Uint8Array(100_000));
    st.end();
    await new Promise((r) => setTimeout(r, 100));
    s.publishStats();
    expect(opened).toEqual(['quic']);
    expect(gauges.get('quic_connections')).toBe(1);
    // quiche reports RTT in whole milliseconds: on loopback that is 0 or 1.
    expect(gauges.get('quic_rtt_ms')).toBeGreaterThanOrEqual(0);
    expect(gauges.get('quic_rtt_ms')).toBeLessThan(1000);
    expect(gauges.get('quic_cwnd_bytes')).toBeGreaterThan(0);
    expect(gauges.get('quic_packets_sent_total')).toBeGreaterThan(0);
    expect(gauges.get('quic_packets_lost_total')).toBe(0);
  });
});
