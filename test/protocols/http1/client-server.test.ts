/**
 * ghostnet's HTTP/1.1 client against ghostnet's HTTP/1.1 server over loopback TCP:
 * keep-alive reuse, pipelining, chunked bodies both ways with trailers, 100-continue,
 * large bodies with backpressure, abort mid-body and timeouts.
 */
import { createHash, randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { hasCode } from '../../../src/errors.js';
import { Http1Client } from '../../../src/protocols/http1/client.js';
import { listenHttp1 } from '../../../src/protocols/http1/server.js';
import type { Http1Server } from '../../../src/protocols/http1/server.js';
import type { Handler } from '../../../src/protocols/http/types.js';

const servers: Http1Server[] = [];
const clients: Http1Client[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.destroy()));
  await Promise.all(servers.splice(0).map((s) => s.destroy()));
});

async function setup(
  handler: Handler,
  clientOptions: ConstructorParameters<typeof Http1Client>[1] = {},
) {
  const server = await listenHttp1({ host: '127.0.0.1', port: 0 }, handler);
  servers.push(server);
  const client = new Http1Client({}, clientOptions);
  clients.push(client);
  return { url: `http://127.0.0.1:${server.address.port}`, server, client };
}

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('ghostnet client ↔ ghostnet server', () => {
  it('reuses one keep-alive connection for sequential requests', async () => {
    const peers = new Set<string>();
    const { url, client } = await setup((req, res) => {
      peers.add(`${req.remoteAddress?.port}`);
      res.text(`you asked ${req.path}`);
    });
    for (let i = 0; i < 5; i++) {
      const res = await client.request({ url: `${url}/n${i}` });
      expect(await res.text()).toBe(`you asked /n${i}`);
    }
    expect(peers.size).toBe(1);
    expect(client.stats().size).toBe(1);
  });

  it('pipelines requests on one connection and gets responses in order', async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const ports = new Set<number | undefined>();
    const { url, client } = await setup(
      async (req, res) => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        ports.add(req.remoteAddress?.port);
        // The first request answers last: order must still hold (RFC 9112 §9.3.2).
        if (req.path === '/0') await new Promise((r) => setTimeout(r, 50));
        inFlight--;
        res.text(req.path);
      },
      { pipelining: 4, pool: { maxConnectionsPerOrigin: 1 } },
    );
    const results = await Promise.all(
      [0, 1, 2, 3].map(async (i) => (await client.request({ url: `${url}/${i}` })).text()),
    );
    expect(results).toEqual(['/0', '/1', '/2', '/3']);
    // Really pipelined: one connection, several requests handled at once.
    expect(ports.size).toBe(1);
    expect(maxInFlight).toBeGreaterThan(1);
  });

  it('sends a chunked request body with trailers and receives a chunked response with trailers', async () => {
    const { url, client } = await setup(async (req, res) => {
      const chunks: Uint8Array[] = [];
      for await (const chunk of req.body) chunks.push(chunk);
      const body = Buffer.concat(chunks);
      res.trailers.set('x-checksum', sha(body));
      res.trailers.set('x-request-trailer', req.body.trailers?.get('x-sent') ?? 'none');
      res.write(body.subarray(0, 10));
      res.end(body.subarray(10));
    });
    const data = randomBytes(100_000);
    async function* parts() {
      for (let i = 0; i < data.length; i += 7000) yield data.subarray(i, i + 7000);
    }
    const res = await client.request({
      url: `${url}/up`,
      method: 'POST',
      body: parts(),
      trailers: { 'x-sent': 'yes' },
    });
    expect(res.headers.get('transfer-encoding')).toBe('chunked');
    const echoed = await res.bytes();
    expect(sha(echoed)).toBe(sha(data));
    expect(res.trailers?.get('x-checksum')).toBe(sha(data));
    expect(res.trailers?.get('x-request-trailer')).toBe('yes');
  });

  it('moves 32 MiB each way with bounded buffering (backpressure)', async () => {
    let maxBuffered = 0;
    const { url, client } = await setup(async (req, res) => {
      let received = 0;
      for await (const chunk of req.body) {
        received += chunk.length;
        maxBuffered = Math.max(maxBuffered, req.body.bufferedAmount);
      }
      res.headers.set('content-length', received);
      const block = new Uint8Array(256 * 1024).fill(7);
      for (let sent = 0; sent < received; sent += block.length) {
        if (!res.write(block.subarray(0, Math.min(block.length, received - sent)))) {
          maxBuffered = Math.max(maxBuffered, res.bufferedAmount);
          await res.drained();
        }
      }
      res.end();
    });
    const total = 32 * 1024 * 1024;
    async function* upload() {
      const block = new Uint8Array(1024 * 1024).fill(1);
      for (let sent = 0; sent < total; sent += block.length) yield block;
    }
    const res = await client.request({ url: `${url}/big`, method: 'PUT', body: upload() });
    let got = 0;
    for await (const chunk of res.body) got += chunk.length;
    expect(got).toBe(total);
    // The server never held more than a few high-water marks of either body.
    expect(maxBuffered).toBeLessThan(4 * 1024 * 1024);
  });

  it('handles Expect: 100-continue', async () => {
    const { url, client } = await setup(async (req, res) => res.text(await req.text()));
    const res = await client.request({
      url: `${url}/continue`,
      method: 'POST',
      headers: { expect: '100-continue' },
      body: 'after the 100',
    });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('after the 100');
  });

  it('aborting mid-body tears the connection down and aborts req.signal on the server', async () => {
    let serverAborted: Promise<void> | undefined;
    const { url, client } = await setup(async (req, res) => {
      serverAborted = new Promise((resolve) =>
        req.signal.addEventListener('abort', () => resolve()),
      );
      res.headers.set('content-length', 100_000_000);
      const block = new Uint8Array(64 * 1024);
      while (!req.signal.aborted) {
        if (!res.write(block)) await Promise.race([res.drained(), serverAborted]);
      }
    });
    const controller = new AbortController();
    const res = await client.request({ url: `${url}/endless`, signal: controller.signal });
    let got = 0;
    const reading = (async () => {
      for await (const chunk of res.body) {
        got += chunk.length;
        if (got > 1_000_000) controller.abort();
      }
    })();
    const err = await reading.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    await serverAborted;
    expect(client.stats().size).toBe(0);
  });

  it('times out a response whose head never comes, and the server sees the abort', async () => {
    let aborted = false;
    const { url, client } = await setup(async (req) => {
      await new Promise<void>((resolve) => req.signal.addEventListener('abort', () => resolve()));
      aborted = true;
    });
    const err = await client
      .request({ url: `${url}/slow`, timeouts: { headersMs: 200 } })
      .catch((e: unknown) => e);
    expect(hasCode(err, 'GN_ERR_HTTP1_HEADERS_TIMEOUT')).toBe(true);
    await expect.poll(() => aborted, { timeout: 5000 }).toBe(true);
  });

  it('gets a coded 4xx for a request the server refuses', async () => {
    const { url, client } = await setup((_req, res) => res.text('never'));
    const res = await client.request({ url: `${url}/${'a'.repeat(9000)}` });
    expect(res.status).toBe(414);
    await res.bytes();
  });
});
