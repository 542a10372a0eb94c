import { X509Certificate } from 'node:crypto';
import { type EventEmitter } from 'node:events';
import { connect as netConnect } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { hasCode } from '../../src/errors.js';
import type { SocketConnection } from '../../src/transport/socket-connection.js';
import { listenTcp } from '../../src/transport/tcp.js';
import {
  certificateServerNames,
  connectTls,
  listenTls,
  type TlsConnectOptions,
  type TlsServer,
  type TlsServerOptions,
} from '../../src/transport/tls.js';
import type { SocketAddress, StreamConnection, StreamServer } from '../../src/transport/types.js';
import {
  cleanupCerts,
  makeCa,
  makeClientCert,
  makeLeaf,
  type Ca,
  type CertAndKey,
} from '../helpers/certs.js';

let ca: Ca;
let otherCa: Ca;
let local: CertAndKey;
let wild: CertAndKey;
let other: CertAndKey;
let otherRenewed: CertAndKey;
let alice: CertAndKey;
let mallory: CertAndKey;

beforeAll(async () => {
  [ca, otherCa] = await Promise.all([makeCa(), makeCa({ commonName: 'untrusted CA' })]);
  [local, wild, other, otherRenewed, alice, mallory] = await Promise.all([
    makeLeaf(ca, { dns: ['localhost'], ip: ['127.0.0.1'] }),
    makeLeaf(ca, { dns: ['*.example.test'] }),
    makeLeaf(ca, { dns: ['other.test'] }),
    makeLeaf(ca, { dns: ['other.test'], commonName: 'other.test renewed' }),
    makeClientCert(ca, { commonName: 'alice' }),
    makeClientCert(otherCa, { commonName: 'mallory' }),
  ]);
});

afterAll(() => cleanupCerts());

const servers: StreamServer[] = [];
const clients: StreamConnection[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  await Promise.all(servers.splice(0).map((s) => s.destroy()));
});

/** Resolve with an event's arguments; unlike events.once, 'error' does not reject. */
function once(emitter: StreamConnection | StreamServer, event: string): Promise<unknown[]> {
  return new Promise((resolve) =>
    (emitter as EventEmitter).once(event, (...args: unknown[]) => resolve(args)),
  );
}

async function serve(
  options: Partial<TlsServerOptions> & Pick<TlsServerOptions, 'certificates'>,
): Promise<TlsServer> {
  const server = await listenTls(options);
  servers.push(server);
  return server;
}

async function dial(
  server: StreamServer,
  options: Partial<TlsConnectOptions> = {},
): Promise<SocketConnection> {
  const conn = (await connectTls({
    host: '127.0.0.1',
    port: server.address.port,
    ca: ca.cert,
    ...options,
  })) as SocketConnection;
  clients.push(conn);
  return conn;
}

function fingerprint(cert: string): string {
  return new X509Certificate(cert).fingerprint256;
}

function readToEnd(conn: StreamConnection): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    conn.on('data', (c) => parts.push(Buffer.from(c)));
    conn.once('end', () => resolve(Buffer.concat(parts)));
    conn.once('close', () => reject(new Error('closed before end')));
  });
}

describe('tls transport', () => {
  it('round-trips with half-close, verified certificates and server-side details', async () => {
    const server = await serve({ certificates: [local] });
    expect(server.kind).toBe('tls');
    const accepted = once(server, 'connection');
    server.on('connection', (conn) => {
      const parts: Buffer[] = [];
      conn.on('data', (c) => parts.push(Buffer.from(c)));
      conn.on('end', () => {
        conn.write(Buffer.from(`echo ${Buffer.concat(parts).toString()}`));
        conn.end();
      });
    });
    const client = await dial(server, { servername: 'localhost' });
    expect(client.kind).toBe('tls');
    expect(client.authorized).toBe(true);
    expect(client.servername).toBe('localhost');
    expect(client.alpnProtocol).toBeUndefined();
    expect(client.peerCertificate?.fingerprint256).toBe(fingerprint(local.cert));
    const [conn] = (await accepted) as [SocketConnection];
    expect(conn.servername).toBe('localhost');
    expect(conn.peerCertificate).toBeUndefined();
    expect(conn.remoteAddress).toEqual(client.localAddress);

    const reply = readToEnd(client);
    client.write(Buffer.from('hi'));
    client.end();
    expect((await reply).toString()).toBe('echo hi');
  });

  it('verifies against the IP SAN when connecting by address without SNI', async () => {
    const server = await serve({ certificates: [local] });
    const accepted = once(server, 'connection');
    const client = await dial(server);
    expect(client.servername).toBeUndefined();
    expect(client.authorized).toBe(true);
    const [conn] = (await accepted) as [StreamConnection];
    expect(conn.servername).toBeUndefined();
  });

  it('applies backpressure over TLS and delivers every byte after drain', async () => {
    const server = await serve({ certificates: [local] });
    const accepted = once(server, 'connection');
    const client = await dial(server, { servername: 'localhost', highWaterMark: 16 * 1024 });
    const [conn] = (await accepted) as [StreamConnection];
    conn.pause();
    const chunk = Buffer.alloc(64 * 1024, 0x62);
    let written = 0;
    let ok = true;
    for (let i = 0; ok && i < 4096; i++) {
      ok = client.write(chunk);
      written += chunk.length;
    }
    expect(ok).toBe(false);
    let resumed = false;
    const drained = new Promise<void>((resolve) =>
      client.once('drain', () => {
        expect(resumed).toBe(true);
        resolve();
      }),
    );
    let received = 0;
    conn.on('data', (c) => {
      received += c.byteLength;
    });
    const ended = once(conn, 'end');
    resumed = true;
    conn.resume();
    await drained;
    client.end();
    await ended;
    expect(received).toBe(written);
  });

  it('negotiates ALPN by server preference (RFC 7301 §3.2)', async () => {
    const h2First = await serve({ certificates: [local], alpnProtocols: ['h2', 'http/1.1'] });
    const accepted = once(h2First, 'connection');
    const a = await dial(h2First, { alpnProtocols: ['http/1.1', 'h2'] });
    expect(a.alpnProtocol).toBe('h2');
    const [serverSide] = (await accepted) as [StreamConnection];
    expect(serverSide.alpnProtocol).toBe('h2');

    const noH2 = await serve({ certificates: [local], alpnProtocols: ['http/1.1'] });
    const b = await dial(noH2, { alpnProtocols: ['h2', 'http/1.1'] });
    expect(b.alpnProtocol).toBe('http/1.1');

    const c = await dial(h2First);
    expect(c.alpnProtocol).toBeUndefined();
  });

  it('picks certificates by SNI: exact names, a wildcard, and the default', async () => {
    expect(certificateServerNames(wild.cert)).toEqual(['*.example.test']);
    const server = await serve({ certificates: [other, wild] });
    const names: (string | undefined)[] = [];
    const fourAccepted = new Promise<void>((resolve) =>
      server.on('connection', (c) => {
        names.push(c.servername?.toLowerCase());
        if (names.length === 4) resolve();
      }),
    );

    const a = await dial(server, { servername: 'a.example.test' });
    expect(a.peerCertificate?.subjectaltname).toBe('DNS:*.example.test');
    expect(a.authorized).toBe(true);

    const b = await dial(server, { servername: 'OTHER.test' });
    expect(b.peerCertificate?.subjectaltname).toBe('DNS:other.test');

    // Two labels below the wildcard: not covered (RFC 6125 §6.4.3), so the default is
    // served and the client refuses it.
    const err = await dial(server, { servername: 'a.b.example.test' }).catch((e: unknown) => e);
    expect(hasCode(err, 'GN_ERR_TLS')).toBe(true);

    // Unknown name, verification off: the first certificate is the default.
    const d = await dial(server, { servername: 'unknown.test', rejectUnauthorized: false });
    expect(d.peerCertificate?.subjectaltname).toBe('DNS:other.test');
    expect(d.authorized).toBe(false);
    expect(d.authorizationError).toBeInstanceOf(Error);

    const e = await dial(server, { servername: 'b.example.test' });
    expect(e.peerCertificate?.fingerprint256).toBe(fingerprint(wild.cert));
    await fourAccepted;
    expect(names.sort()).toEqual([
      'a.example.test',
      'b.example.test',
      'other.test',
      'unknown.test',
    ]);
  });

  it('honours explicit serverNames over the certificate SANs', async () => {
    const server = await serve({
      certificates: [local, { ...wild, serverNames: ['*.elsewhere.test'] }],
    });
    const a = await dial(server, { servername: 'x.elsewhere.test', rejectUnauthorized: false });
    expect(a.peerCertificate?.fingerprint256).toBe(fingerprint(wild.cert));
    const b = await dial(server, { servername: 'x.example.test', rejectUnauthorized: false });
    expect(b.peerCertificate?.fingerprint256).toBe(fingerprint(local.cert));
  });

  it('replaces certificates at runtime; live connections keep working', async () => {
    const server = await serve({ certificates: [other] });
    server.on('connection', (conn) => {
      conn.on('data', (c) => conn.write(c));
      conn.on('end', () => conn.end());
    });
    const before = await dial(server, { servername: 'other.test' });
    expect(before.peerCertificate?.fingerprint256).toBe(fingerprint(other.cert));

    expect(() => server.setCertificates([])).toThrow(
      expect.objectContaining({ code: 'GN_ERR_INVALID_OPTION' }),
    );
    expect(() => server.setCertificates([{ cert: 'nope', key: 'nope' }])).toThrow(
      expect.objectContaining({ code: 'GN_ERR_TLS' }),
    );
    server.setCertificates([otherRenewed]);

    const after = await dial(server, { servername: 'other.test' });
    expect(after.peerCertificate?.fingerprint256).toBe(fingerprint(otherRenewed.cert));
    expect(after.peerCertificate?.fingerprint256).not.toBe(fingerprint(other.cert));
    // Without SNI the new default certificate is served too.
    const noSni = await dial(server, { rejectUnauthorized: false });
    expect(noSni.peerCertificate?.fingerprint256).toBe(fingerprint(otherRenewed.cert));

    // The connection made before the swap still carries traffic.
    const got = once(before, 'data');
    before.write(Buffer.from('still alive'));
    expect(Buffer.from((await got)[0] as Uint8Array).toString()).toBe('still alive');
    expect(before.peerCertificate?.fingerprint256).toBe(fingerprint(other.cert));
  });

  describe('mutual TLS', () => {
    /** Outcome of a client attempt: 'connected' (usable), or the error code seen. */
    async function attempt(
      server: TlsServer,
      options: Partial<TlsConnectOptions>,
    ): Promise<string> {
      let conn: StreamConnection;
      try {
        conn = await dial(server, { servername: 'localhost', ...options });
      } catch (err) {
        return (err as { code?: string }).code ?? 'unknown';
      }
      // TLS 1.3: the client finishes its handshake before the server checks its
      // certificate, so a refusal arrives as an alert after connect.
      return new Promise((resolve) => {
        let code = 'closed';
        conn.on('error', (e) => {
          code = (e as { code?: string }).code ?? 'unknown';
        });
        conn.on('data', (c) => {
          if (Buffer.from(c).toString() === 'welcome') resolve('connected');
        });
        // The peer's FIN without an alert (allowHalfOpen would keep us open otherwise).
        conn.on('end', () => resolve(code));
        conn.on('close', () => resolve(code));
      });
    }

    it('refuses clients without a valid certificate and accepts one signed by the CA', async () => {
      const server = await serve({
        certificates: [local],
        requireClientCertificate: true,
        ca: ca.cert,
      });
      const accepted: SocketConnection[] = [];
      server.on('connection', (c) => {
        accepted.push(c as SocketConnection);
        c.write(Buffer.from('welcome'));
      });
      const clientErrors: Error[] = [];
      server.on('clientError', (e) => clientErrors.push(e));

      const refusedNoCert = once(server, 'clientError');
      expect(await attempt(server, {})).not.toBe('connected');
      const [noCertErr] = (await refusedNoCert) as [Error];
      expect(hasCode(noCertErr, 'GN_ERR_TLS')).toBe(true);

      const refusedUntrusted = once(server, 'clientError');
      expect(await attempt(server, { cert: mallory.cert, key: mallory.key })).not.toBe('connected');
      await refusedUntrusted;
      expect(accepted).toHaveLength(0);

      expect(await attempt(server, { cert: alice.cert, key: alice.key })).toBe('connected');
      expect(accepted).toHaveLength(1);
      expect(accepted[0]?.authorized).toBe(true);
      expect(accepted[0]?.peerCertificate?.subject.CN).toBe('alice');
      expect(clientErrors.length).toBeGreaterThanOrEqual(2);
    });

    it('verifies client certificates after an SNI switch as well', async () => {
      const server = await serve({
        certificates: [local, wild],
        requireClientCertificate: true,
        ca: ca.cert,
      });
      server.on('connection', (c) => c.write(Buffer.from('welcome')));
      const ok = await attempt(server, {
        servername: 'a.example.test',
        cert: alice.cert,
        key: alice.key,
      });
      expect(ok).toBe('connected');
      expect(await attempt(server, { servername: 'a.example.test' })).not.toBe('connected');
      expect(
        await attempt(server, {
          servername: 'a.example.test',
          cert: mallory.cert,
          key: mallory.key,
        }),
      ).not.toBe('connected');
    });

    it('requestClientCertificate accepts clients without one, unauthorized', async () => {
      const server = await serve({
        certificates: [local],
        requestClientCertificate: true,
        ca: ca.cert,
      });
      const accepted = once(server, 'connection');
      await dial(server, { servername: 'localhost' });
      const [conn] = (await accepted) as [SocketConnection];
      expect(conn.authorized).toBe(false);
      expect(conn.peerCertificate).toBeUndefined();
    });
  });

  it('survives handshake failures and reports them as clientError', async () => {
    const server = await serve({ certificates: [local], handshakeTimeoutMs: 300 });
    const errors: [Error, SocketAddress | undefined][] = [];
    server.on('clientError', (e, remote) => errors.push([e, remote]));

    // 1. Plaintext garbage instead of a ClientHello.
    const garbageReported = once(server, 'clientError');
    const raw = netConnect({ host: '127.0.0.1', port: server.address.port });
    raw.on('error', () => {});
    raw.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await garbageReported;
    raw.destroy();

    // 2. A client that never speaks: the handshake deadline fires.
    const timeoutReported = new Promise<Error>((resolve) => {
      const onErr = (e: Error): void => {
        if ((e.cause as { code?: string } | undefined)?.code === 'ERR_TLS_HANDSHAKE_TIMEOUT') {
          server.off('clientError', onErr);
          resolve(e);
        }
      };
      server.on('clientError', onErr);
    });
    const silent = netConnect({ host: '127.0.0.1', port: server.address.port });
    silent.on('error', () => {});
    expect(hasCode(await timeoutReported, 'GN_ERR_TLS')).toBe(true);
    silent.destroy();

    // 3. A client that distrusts the certificate aborts the handshake.
    const distrust = await connectTls({
      host: '127.0.0.1',
      port: server.address.port,
      servername: 'localhost',
    }).catch((e: unknown) => e);
    expect(hasCode(distrust, 'GN_ERR_TLS')).toBe(true);

    for (const [e] of errors) expect(hasCode(e, 'GN_ERR_TLS')).toBe(true);
    expect(errors[0]?.[1]?.address).toBe('127.0.0.1');
    // The server is still serving.
    expect(server.listening).toBe(true);
    const accepted = once(server, 'connection');
    const ok = await dial(server, { servername: 'localhost' });
    await accepted;
    expect(ok.authorized).toBe(true);
    expect(server.connections.size).toBe(1);
  });

  it('times out a client handshake with a silent peer (GN_ERR_CONNECT_TIMEOUT)', async () => {
    const silent = await listenTcp();
    servers.push(silent);
    const err = await connectTls({
      host: '127.0.0.1',
      port: silent.address.port,
      connectTimeoutMs: 200,
    }).catch((e: unknown) => e);
    expect(hasCode(err, 'GN_ERR_CONNECT_TIMEOUT')).toBe(true);
  });

  it('validates options', async () => {
    await expect(listenTls({ certificates: [] })).rejects.toMatchObject({
      code: 'GN_ERR_INVALID_OPTION',
    });
    await expect(listenTls({ certificates: [{ cert: 'x', key: 'y' }] })).rejects.toMatchObject({
      code: 'GN_ERR_TLS',
    });
    await expect(listenTls({ certificates: [local], alpnProtocols: [''] })).rejects.toMatchObject({
      code: 'GN_ERR_INVALID_OPTION',
    });
    await expect(
      listenTls({ certificates: [local], minVersion: 'TLSv1.1' as 'TLSv1.2' }),
    ).rejects.toMatchObject({ code: 'GN_ERR_INVALID_OPTION' });
    await expect(
      connectTls({ host: '127.0.0.1', port: 443, servername: '127.0.0.1' }),
    ).rejects.toMatchObject({ code: 'GN_ERR_INVALID_OPTION' });
    await expect(
      connectTls({ host: '127.0.0.1', port: 443, cert: alice.cert }),
    ).rejects.toMatchObject({ code: 'GN_ERR_INVALID_OPTION' });
  });
});
