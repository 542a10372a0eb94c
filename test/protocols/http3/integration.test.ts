/**
 * HTTP/3 client ↔ HTTP/3 server over the QUIC endpoint on loopback: the shared handler
 * interface, many concurrent streams, 64 MiB bodies both ways, trailers, resets, GOAWAY,
 * idle timeout, connection close, and packet loss through a lossy UDP relay.
 */
import { createSocket } from 'node:dgram';
import type { RemoteInfo } from 'node:dgram';
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Http3Client, Http3RequestError } from '../../../src/protocols/http3/client.js';
import { Http3Server } from '../../../src/protocols/http3/server.js';
import { H3ErrorCode } from '../../../src/protocols/http3/codes.js';
import type { Handler } from '../../../src/protocols/http/types.js';
import { Router } from '../../../src/protocols/http/router.js';
import { cleanupCerts, makeCa, makeLeaf } from '../../helpers/certs.js';
import type { Ca, CertAndKey } from '../../helpers/certs.js';

let ca: Ca;
let leaf: CertAndKey;
const cleanup: (() => Promise<void>)[] = [];

beforeAll(async () => {
  ca = await makeCa();
  leaf = await makeLeaf(ca, { dns: ['localhost'], ip: ['127.0.0.1'] });
});
afterAll(cleanupCerts);
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function serve(
  handler: Handler,
  extra: Partial<ConstructorParameters<typeof Http3Server>[1]> = {},
): Promise<Http3Server> {
  const s = await new Http3Server(handler, {
    quic: { cert: leaf.cert, key: leaf.key },
    ...extra,
  }).listen();
  cleanup.push(() => s.destroy());
  return s;
}

function client(extra: ConstructorParameters<typeof Http3Client>[0] = {}): Http3Client {
  const c = new Http3Client({ quic: { ca: ca.cert }, ...extra });
  cleanup.push(() => c.close());
  return c;
}

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

function app(): Handler {
  const r = new Router();
  r.get('/hello', (_req, res) => res.text('hello over h3'));
  r.post('/echo', async (req, res) => {
    res.setHeader('content-type', 'application/octet-stream');
    for await (const chunk of req.body) {
      if (!res.write(chunk)) await res.drained();
    }
    res.end();
  });
  r.post('/sha', async (req, res) => {
    const h = createHash('sha256');
    let n = 0;
    for await (const chunk of req.body) {
      h.update(chunk);
      n += chunk.length;
    }
    res.json({ n, sha: h.digest('hex'), trailer: req.body.trailers?.get('x-check') ?? null });
  });
  r.get('/big/:mib', async (req, res) => {
    const total = Number(req.params['mib']) << 20;
    res.setHeader('content-length', String(total));
    const chunk = new Uint8Array(64 * 1024).fill(7);
    for (let sent = 0; sent < total; sent += chunk.length) {
      if (!res.write(chunk)) await res.drained();
    }
    res.end();
  });
  r.get('/trailers', (_req, res) => {
    res.trailers.set('x-done', 'yes');
    res.write('body');
    res.end();
  });
  r.get('/info', (req, res) =>
    res.json({
      protocol: req.protocol,
      authority: req.authority,
      method: req.method,
      query: req.search,
    }),
  );
  r.get('/slow', async (_req, res) => {
    await new Promise((resolve) => setTimeout(resolve, 200));
    res.text('slow');
  });
  r.get('/hang', () => new Promise(() => {}));
  r.get('/throw', () => {
    throw new Error('boom');
  });
  return r.handler();
}

describe('HTTP/3 requests (RFC 9114 §4)', () => {
  it('GET through the shared handler interface, with protocol h3 and :authority', async () => {
    const s = await serve(app());
    const c = client();
    const url = `https://localhost:${s.address.port}`;
    const r = await c.request({ url: `${url}/hello` });
    expect(r.status).toBe(200);
    expect(r.httpVersion).toBe('3');
    expect(await r.text()).toBe('hello over h3');
    const info = await (await c.request({ url: `${url}/info?x=1` })).json<Record<string, string>>();
    expect(info).toEqual({
      protocol: 'h3',
      authority: `localhost:${s.address.port}`,
      method: 'GET',
      query: 'x=1',
    });
    expect(r.headers.get('date')).toBeDefined();
  });

  it('answers 404 and 405 through the router, and 500 when the handler throws', async () => {
    const s = await serve(app());
    const c = client();
    const url = `https://localhost:${s.address.port}`;
    expect((await c.request({ url: `${url}/nope` })).status).toBe(404);
    expect((await c.request({ url: `${url}/hello`, method: 'DELETE' })).status).toBe(405);
    expect((await c.request({ url: `${url}/throw` })).status).toBe(500);
  });

  it('HEAD gets the head without a body (RFC 9110 §9.3.2)', async () => {
    const s = await serve(app());
    const r = await client().request({
      url: `https://localhost:${s.address.port}/hello`,
      method: 'HEAD',
    });
    expect(r.status).toBe(200);
    expect((await r.bytes()).length).toBe(0);
  });

  it('sends trailers both ways (§4.1)', async () => {
    const s = await serve(app());
    const c = client();
    const url = `https://localhost:${s.address.port}`;
    const r = await c.request({ url: `${url}/trailers` });
    expect(await r.text()).toBe('body');
    expect(r.trailers?.get('x-done')).toBe('yes');
    const body = randomBytes(1000);
    const up = await c.request({
      url: `${url}/sha`,
      method: 'POST',
      body,
      trailers: { 'x-check': 'ok' },
    });
    expect(await up.json()).toEqual({ n: 1000, sha: sha(body), trailer: 'ok' });
  });

  it('runs 300 concurrent requests on one connection, past the stream limit of 100', async () => {
    const s = await serve(app());
    const c = client();
    const url = `https://localhost:${s.address.port}/info`;
    const all = await Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        c.request({ url: `${url}?i=${i}` }).then((r) => r.json<{ query: string }>()),
      ),
    );
    expect(all.map((x) => x.query)).toEqual(Array.from({ length: 300 }, (_, i) => `i=${i}`));
    expect(s.sessions.size).toBe(1);
    // Through the transport's pool: one QUIC connection for the origin, idle again.
    const stats = c.stats();
    expect(stats.size).toBe(1);
    expect(stats.idle).toBe(1);
    expect(Object.keys(stats.origins)).toEqual([`https://localhost:${s.address.port} h3`]);
  }, 30_000);

  it('moves 64 MiB each way with flow control intact', async () => {
    const s = await serve(app(), { bodyLimit: 128 << 20 });
    const c = client({ maxBodyBytes: 128 << 20 });
    const url = `https://localhost:${s.address.port}`;
    const down = await c.request({ url: `${url}/big/64` });
    let n = 0;
    for await (const chunk of down) n += chunk.length;
    expect(n).toBe(64 << 20);
    const data = randomBytes(64 << 20);
    async function* chunks(): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < data.length; i += 256 * 1024) yield data.subarray(i, i + 256 * 1024);
    }
    const up = await c.request({ url: `${url}/sha`, method: 'POST', body: chunks() });
    expect(await up.json()).toMatchObject({ n: data.length, sha: sha(data) });
  }, 120_000);

  it('echoes a streamed body while it is still being sent', async () => {
    const s = await serve(app());
    const data = randomBytes(3 << 20);
    const r = await client().request({
      url: `https://localhost:${s.address.port}/echo`,
      method: 'POST',
      body: data,
    });
    expect(sha(await r.bytes())).toBe(sha(data));
  }, 30_000);
});

describe('cancellation, errors and shutdown', () => {
  it('an aborted request resets the stream; the handler sees req.signal abort (§4.1.1)', async () => {
    let aborted: Promise<void> | undefined;
    const s = await serve((req) => {
      aborted = new Promise((resolve) => req.signal.addEventListener('abort', () => resolve()));
      return new Promise(() => {});
    });
    const ac = new AbortController();
    const p = client().request({ url: `https://localhost:${s.address.port}/`, signal: ac.signal });
    await new Promise((r) => setTimeout(r, 100));
    ac.abort();
    await expect(p).rejects.toThrow(/aborted/);
    await aborted;
  });

  it('times out a response head that never comes', async () => {
    const s = await serve(app());
    const err = await client()
      .request({ url: `https://localhost:${s.address.port}/hang`, headersTimeoutMs: 200 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Http3RequestError);
  });

  it('graceful close: GOAWAY, in-flight requests finish, new ones are refused', async () => {
    const s = await serve(app());
    const c = client();
    const url = `https://localhost:${s.address.port}`;
    await (await c.request({ url: `${url}/hello` })).text();
    const slow = c.request({ url: `${url}/slow` });
    await new Promise((r) => setTimeout(r, 50));
    const closing = s.close();
    expect(await (await slow).text()).toBe('slow');
    await closing;
    await expect(c.request({ url: `${url}/hello` })).rejects.toThrow();
  });

  it('a connection closed by the server fails the requests on it with the code', async () => {
    const s = await serve(app());
    const c = client();
    const p = c
      .request({ url: `https://localhost:${s.address.port}/hang` })
      .catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 100));
    for (const sess of s.sessions) await sess.quic.close(H3ErrorCode.H3_INTERNAL_ERROR, 'test');
    const err = await p;
    expect((err as { errorCode?: number }).errorCode).toBe(H3ErrorCode.H3_INTERNAL_ERROR);
  });

  it('idle connections close after the QUIC idle timeout, and the client reconnects', async () => {
    const s = await serve(app(), {
      quic: { cert: leaf.cert, key: leaf.key, maxIdleTimeoutMs: 300 },
    });
    const c = client({ quic: { ca: ca.cert, maxIdleTimeoutMs: 300 } });
    const url = `https://localhost:${s.address.port}/hello`;
    await (await c.request({ url })).text();
    await new Promise((r) => setTimeout(r, 700));
    expect(s.sessions.size).toBe(0);
    expect(await (await c.request({ url })).text()).toBe('hello over h3');
  });
});

/** A UDP relay between client and server that drops a share of datagrams each way. */
async function lossyRelay(
  target: number,
  lossRate: number,
  seed = 1,
): Promise<{ port: number; close: () => void; dropped: () => number }> {
  const sock = createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  let clientAddr: RemoteInfo | undefined;
  let x = seed;
  let dropped = 0;
  const rand = (): number => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return x / 2 ** 31;
  };
  sock.on('message', (msg, rinfo) => {
    const fromServer = rinfo.port === target;
    if (!fromServer) clientAddr = rinfo;
    if (rand() < lossRate) {
      dropped++;
      return;
    }
    if (fromServer) {
      if (clientAddr !== undefined) sock.send(msg, clientAddr.port, clientAddr.address);
    } else {
      sock.send(msg, target, '127.0.0.1');
    }
  });
  return { port: sock.address().port, close: () => sock.close(), dropped: () => dropped };
}

describe('packet loss (RFC 9002 recovery under HTTP/3)', () => {
  it('completes 4 MiB each way and 50 small requests through a relay dropping 5% of datagrams', async () => {
    const s = await serve(app());
    const relay = await lossyRelay(s.address.port, 0.05);
    cleanup.push(async () => relay.close());
    const c = client();
    const url = `https://localhost:${relay.port}`;
    const down = await c.request({ url: `${url}/big/4` });
    expect((await down.bytes()).length).toBe(4 << 20);
    const data = randomBytes(4 << 20);
    const up = await c.request({ url: `${url}/sha`, method: 'POST', body: data });
    expect(await up.json()).toMatchObject({ n: data.length, sha: sha(data) });
    const small = await Promise.all(
      Array.from({ length: 50 }, () => c.request({ url: `${url}/hello` }).then((r) => r.text())),
    );
    expect(new Set(small)).toEqual(new Set(['hello over h3']));
    expect(relay.dropped()).toBeGreaterThan(50);
  }, 60_000);
});
