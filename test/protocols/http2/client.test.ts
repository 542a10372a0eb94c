/**
 * Http2Client behaviour over loopback: PING liveness, a server whose
 * MAX_CONCURRENT_STREAMS is below the client's per-connection stream count, and new
 * requests moving to a fresh connection after GOAWAY while old streams finish (§6.8).
 */
import { once } from 'node:events';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import http from 'node:http';
import { H2NotNegotiatedError, Http2Client } from '../../../src/protocols/http2/client.js';
import { listenHttp } from '../../../src/protocols/http2/http-server.js';
import { listenHttp2 } from '../../../src/protocols/http2/server.js';
import type { Http2Server } from '../../../src/protocols/http2/server.js';

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

function later(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function server(
  handler: Parameters<typeof listenHttp2>[1],
  options: Parameters<typeof listenHttp2>[0] = {},
): Promise<{ s: Http2Server; url: string }> {
  const s = await listenHttp2({ host: '127.0.0.1', port: 0, ...options }, handler);
  cleanup.push(() => s.destroy());
  return { s, url: `http://127.0.0.1:${s.address.port}` };
}

describe('Http2Client', () => {
  it('destroys a connection whose PINGs go unanswered and fails its requests', async () => {
    // A peer that completes the SETTINGS exchange, then never sends another byte.
    const sockets: net.Socket[] = [];
    const silent = net.createServer((sock) => {
      sockets.push(sock);
      sock.on('error', () => {});
      // SETTINGS (empty) and SETTINGS ACK, as RFC 9113 §3.4 and §6.5.3 require.
      sock.write(Buffer.from('000000040000000000' + '000000040100000000', 'hex'));
      sock.on('data', () => {});
    });
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    cleanup.push(() => {
      for (const s of sockets) s.destroy();
      silent.close();
    });
    const client = new Http2Client({}, { pingIntervalMs: 100, pingTimeoutMs: 200 });
    cleanup.push(() => client.destroy());
    const port = (silent.address() as AddressInfo).port;
    const started = Date.now();
    await expect(client.request({ url: `http://127.0.0.1:${port}/` })).rejects.toMatchObject({
      code: 'GN_ERR_H2_REQUEST_FAILED',
    });
    // Failed through liveness, not the 300 s headers timeout (a bound, not a timing claim).
    expect(Date.now() - started).toBeLessThan(60_000);
  });

  it('keeps a quiet connection whose PINGs are answered', async () => {
    const { url } = await server(async (_req, res) => {
      await later(700); // several PING intervals with nothing else on the wire
      res.text('slow');
    });
    const client = new Http2Client({}, { pingIntervalMs: 100, pingTimeoutMs: 300 });
    cleanup.push(() => client.close());
    const res = await client.request({ url: `${url}/` });
    expect(await res.text()).toBe('slow');
  });

  it("waits for a stream slot when the server's MAX_CONCURRENT_STREAMS is lower (§5.1.2)", async () => {
    let active = 0;
    let peak = 0;
    const { url, s } = await server(
      async (_req, res) => {
        active++;
        peak = Math.max(peak, active);
        await later(20);
        active--;
        res.text('ok');
      },
      { limits: { maxConcurrentStreams: 2 } },
    );
    const client = new Http2Client({}, { maxStreamsPerConnection: 100 });
    cleanup.push(() => client.close());
    const results = await Promise.all(
      Array.from({ length: 12 }, () => client.request({ url: `${url}/` }).then((r) => r.text())),
    );
    expect(results).toEqual(Array(12).fill('ok'));
    expect(peak).toBeLessThanOrEqual(2);
    expect(s.connections).toBe(1); // never refused, never a second connection
  });

  it('after GOAWAY, new requests use a new connection while open streams finish (§6.8)', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const { url, s } = await server(async (req, res) => {
      if (req.path === '/slow') await gate;
      res.text(req.path);
    });
    const client = new Http2Client({}, {});
    cleanup.push(() => client.close());
    expect(await (await client.request({ url: `${url}/a` })).text()).toBe('/a');
    const slow = client.request({ url: `${url}/slow` });
    await later(50);
    s.shutdownSessions(); // GOAWAY(2^31-1) + PING, then the final GOAWAY
    await later(100);
    const fresh = await client.request({ url: `${url}/b` });
    expect(await fresh.text()).toBe('/b');
    release();
    expect(await (await slow).text()).toBe('/slow');
    expect(client.stats().size).toBeGreaterThanOrEqual(1);
  });

  it('h2cUpgrade: switches with an HTTP/1.1 Upgrade (RFC 7540 §3.2) and reuses the connection', async () => {
    const seen: string[] = [];
    const dual = await listenHttp({ host: '127.0.0.1', port: 0 }, (req, res) => {
      seen.push(`${req.method} ${req.target} ${req.protocol}`);
      res.text(req.protocol);
    });
    cleanup.push(() => dual.destroy());
    const client = new Http2Client({}, { h2cUpgrade: true });
    cleanup.push(() => client.close());
    const url = `http://127.0.0.1:${dual.address.port}`;
    expect(await (await client.request({ url: `${url}/a` })).text()).toBe('h2');
    expect(await (await client.request({ url: `${url}/b` })).text()).toBe('h2');
    // The Upgrade request itself (OPTIONS *) was answered on stream 1, then two h2 streams.
    expect(seen).toEqual(['OPTIONS * h2', 'GET /a h2', 'GET /b h2']);
    expect(client.stats().size).toBe(1);
  });

  it('h2cUpgrade: a server that answers in HTTP/1.1 fails with H2NotNegotiatedError', async () => {
    const h1 = http.createServer((_req, res) => res.end('one-one'));
    h1.listen(0, '127.0.0.1');
    await once(h1, 'listening');
    cleanup.push(() => {
      h1.closeAllConnections();
      h1.close();
    });
    const client = new Http2Client({}, { h2cUpgrade: true });
    cleanup.push(() => client.destroy());
    const port = (h1.address() as AddressInfo).port;
    await expect(client.request({ url: `http://127.0.0.1:${port}/` })).rejects.toBeInstanceOf(
      H2NotNegotiatedError,
    );
  });

  it('h2cUpgrade: a prior-knowledge-only server that hangs up fails fast (no 101)', async () => {
    // What nghttpd --no-tls does: its own SETTINGS at once, then it closes on our HTTP/1.1.
    const h2only = net.createServer((sock) => {
      sock.on('error', () => {});
      sock.write(Buffer.from('000006040000000000000300000064', 'hex'));
      sock.on('data', () => sock.destroy());
    });
    h2only.listen(0, '127.0.0.1');
    await once(h2only, 'listening');
    cleanup.push(() => {
      h2only.close();
    });
    const client = new Http2Client({}, { h2cUpgrade: true, connectTimeoutMs: 60_000 });
    cleanup.push(() => client.destroy());
    const port = (h2only.address() as AddressInfo).port;
    await expect(client.request({ url: `http://127.0.0.1:${port}/` })).rejects.toMatchObject({
      code: 'GN_ERR_H2_NOT_NEGOTIATED',
    });
  });
});
