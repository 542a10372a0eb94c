import { once } from 'node:events';
import http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { cleanupCerts, makeCa, makeLeaf } from '../../helpers/certs.js';
import type { GhostnetError } from '../../../src/errors.js';
import { Http1ParseError } from '../../../src/protocols/http1/errors.js';
import { CookieJar, Http1Client } from '../../../src/protocols/http1/client.js';
import type { ClientResponse } from '../../../src/protocols/http1/client.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;
const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});
afterAll(() => cleanupCerts());

async function serve(handler: Handler): Promise<{ url: string; server: http.Server }> {
  const server = http.createServer(handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(async () => {
    server.closeAllConnections();
    server.close();
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

async function rawServer(onSocket: (s: net.Socket) => void): Promise<string> {
  const server = net.createServer(onSocket);
  const sockets = new Set<net.Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function client(options: ConstructorParameters<typeof Http1Client>[1] = {}): Http1Client {
  const c = new Http1Client({}, options);
  cleanups.push(() => c.destroy());
  return c;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString();
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return (err as GhostnetError).code;
  }
  return 'resolved';
}

describe('Http1Client against node:http', () => {
  it('reuses one kept-alive connection for sequential requests', async () => {
    const ports: number[] = [];
    const { url } = await serve((req, res) => {
      ports.push(req.socket.remotePort!);
      res.end(`hi ${req.url}`);
    });
    const c = client();
    for (let i = 0; i < 3; i++) {
      const res = await c.request({ url: `${url}/n${i}` });
      expect(res.status).toBe(200);
      expect(res.statusText).toBe('OK');
      expect(await res.text()).toBe(`hi /n${i}`);
    }
    expect(ports).toHaveLength(3);
    expect(new Set(ports).size).toBe(1);
    expect(c.stats()).toMatchObject({ size: 1, idle: 1, busy: 0 });
  });

  it('reads response trailers after a chunked body', async () => {
    const { url } = await serve((_req, res) => {
      res.writeHead(200, { Trailer: 'X-Digest' });
      res.write('chunk one ');
      res.write('chunk two');
      res.addTrailers({ 'X-Digest': 'sha-256=abc' });
      res.end();
    });
    const res = await client().request({ url });
    expect(await res.text()).toBe('chunk one chunk two');
    expect(res.trailers?.get('x-digest')).toBe('sha-256=abc');
  });

  it('speaks https with ALPN http/1.1 and a custom CA, keeping the connection alive', async () => {
    const ca = await makeCa();
    const leaf = await makeLeaf(ca, { dns: ['localhost'], ip: ['127.0.0.1'] });
    const alpn: (string | false | null)[] = [];
    const ports = new Set<number>();
    const server = https.createServer(
      { cert: leaf.cert, key: leaf.key, ALPNProtocols: ['h2', 'http/1.1'] },
      (req, res) => {
        alpn.push((req.socket as TLSSocket).alpnProtocol);
        ports.add(req.socket.remotePort!);
        res.end('secure');
      },
    );
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    cleanups.push(() => {
      server.closeAllConnections();
      server.close();
    });
    const url = `https://localhost:${(server.address() as AddressInfo).port}/`;
    const c = client({ tls: { ca: ca.cert } });
    for (let i = 0; i < 2; i++) expect(await (await c.request({ url })).text()).toBe('secure');
    expect(alpn).toEqual(['http/1.1', 'http/1.1']);
    expect(ports.size).toBe(1);
    expect(await codeOf(client().request({ url }))).toBe('GN_ERR_TLS');
  });

  it('parses JSON bodies and reports invalid JSON with a coded error', async () => {
    const { url } = await serve((req, res) => res.end(req.url === '/ok' ? '{"a":[1,2]}' : '{'));
    const c = client();
    expect(await (await c.request({ url: `${url}/ok` })).json()).toEqual({ a: [1, 2] });
    expect(await codeOf((await c.request({ url: `${url}/bad` })).json())).toBe(
      'GN_ERR_HTTP1_INVALID_JSON',
    );
    expect(await codeOf((await c.request({ url: `${url}/ok` })).text(3))).toBe(
      'GN_ERR_HTTP1_RESPONSE_TOO_LARGE',
    );
  });

  it('does not reuse a connection when the server says Connection: close', async () => {
    const ports: number[] = [];
    const { url } = await serve((req, res) => {
      ports.push(req.socket.remotePort!);
      res.setHeader('Connection', 'close');
      res.end('bye');
    });
    const c = client();
    for (let i = 0; i < 2; i++) expect(await (await c.request({ url })).text()).toBe('bye');
    expect(new Set(ports).size).toBe(2);
  });

  it('uploads an async iterable chunked, with trailers, and a string with Content-Length', async () => {
    const seen: { te?: string; cl?: string; body: string; trailers: Record<string, string> }[] = [];
    const { url } = await serve(async (req, res) => {
      const body = await readBody(req);
      const te = req.headers['transfer-encoding'];
      const cl = req.headers['content-length'];
      seen.push({
        ...(te ? { te } : {}),
        ...(cl ? { cl } : {}),
        body,
        trailers: req.trailers as Record<string, string>,
      });
      res.end('ok');
    });
    const c = client();
    async function* parts() {
      for (let i = 0; i < 5; i++) {
        await new Promise((r) => setImmediate(r));
        yield Buffer.from(`part${i};`);
      }
    }
    const res = await c.request({
      url,
      method: 'POST',
      body: parts(),
      trailers: { 'X-Count': '5' },
    });
    expect(await res.text()).toBe('ok');
    const res2 = await c.request({ url, method: 'PUT', body: 'plain text' });
    await res2.text();
    expect(seen).toEqual([
      {
        te: 'chunked',
        body: 'part0;part1;part2;part3;part4;',
        trailers: { 'x-count': '5' },
      },
      { cl: '10', body: 'plain text', trailers: {} },
    ]);
  });

  it('handles HEAD and 204 without waiting for a body, and keeps the connection', async () => {
    const ports = new Set<number>();
    const { url } = await serve((req, res) => {
      ports.add(req.socket.remotePort!);
      if (req.url === '/empty') {
        res.statusCode = 204;
        res.end();
        return;
      }
      res.setHeader('Content-Length', '10');
      res.end(req.method === 'HEAD' ? undefined : '0123456789');
    });
    const c = client();
    const head = await c.request({ url, method: 'HEAD' });
    expect(head.headers.get('content-length')).toBe('10');
    expect((await head.bytes()).length).toBe(0);
    const empty = await c.request({ url: `${url}/empty` });
    expect(empty.status).toBe(204);
    expect(await empty.text()).toBe('');
    expect(await (await c.request({ url })).text()).toBe('0123456789');
    expect(ports.size).toBe(1);
  });

  it('streams a large body with backpressure and pauses when the consumer lags', async () => {
    const total = 64 * 1024 * 1024;
    let sent = 0;
    const { url } = await serve((_req, res) => {
      res.setHeader('Content-Length', total);
      const chunk = Buffer.alloc(64 * 1024, 0x61);
      const pump = (): void => {
        while (sent < total) {
          sent += chunk.length;
          if (!res.write(chunk)) {
            res.once('drain', pump);
            return;
          }
        }
        res.end();
      };
      pump();
    });
    const c = client({ highWaterMark: 16 * 1024 });
    const res = await c.request({ url });
    const it = res[Symbol.asyncIterator]();
    let got = (await it.next()).value!.length;
    // Stop reading until the server cannot write any more (bounded wait).
    let last = -1;
    for (let i = 0; i < 100 && sent !== last; i++) {
      last = sent;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(sent).toBeLessThan(total / 2);
    for (;;) {
      const r = await it.next();
      if (r.done) break;
      got += r.value.length;
    }
    expect(got).toBe(total);
  });

  describe('redirects', () => {
    it('follows 301/302 turning POST into GET and 303 turning PUT into GET', async () => {
      const log: string[] = [];
      const { url } = await serve(async (req, res) => {
        const body = await readBody(req);
        log.push(`${req.method} ${req.url} ${body}`);
        const m = /^\/(\d{3})$/.exec(req.url!);
        if (m) {
          res.writeHead(Number(m[1]), { Location: '/done' });
          res.end('moved');
          return;
        }
        res.end(`final ${req.method}`);
      });
      const c = client();
      for (const [status, method] of [
        ['301', 'POST'],
        ['302', 'POST'],
        ['303', 'PUT'],
      ] as const) {
        const res = await c.request({ url: `${url}/${status}`, method, body: 'data' });
        expect(res.redirected).toBe(true);
        expect(res.url).toBe(`${url}/done`);
        expect(await res.text()).toBe('final GET');
      }
      expect(log).toEqual([
        'POST /301 data',
        'GET /done ',
        'POST /302 data',
        'GET /done ',
        'PUT /303 data',
        'GET /done ',
      ]);
      const head = await c.request({ url: `${url}/303`, method: 'HEAD' });
      expect(head.status).toBe(200);
      expect(log.at(-1)).toBe('HEAD /done ');
    });

    it('keeps method and body on 307/308, and returns the 3xx for a streamed body', async () => {
      const log: string[] = [];
      const { url } = await serve(async (req, res) => {
        const body = await readBody(req);
        log.push(`${req.method} ${req.url} ${body}`);
        if (req.url === '/307' || req.url === '/308') {
          res.writeHead(Number(req.url.slice(1)), { Location: '/done' });
          res.end();
          return;
        }
        res.end('final');
      });
      const c = client();
      for (const s of ['307', '308']) {
        const res = await c.request({ url: `${url}/${s}`, method: 'POST', body: 'keep' });
        expect(await res.text()).toBe('final');
      }
      async function* stream() {
        yield Buffer.from('once');
      }
      const res = await c.request({ url: `${url}/307`, method: 'POST', body: stream() });
      expect(res.status).toBe(307);
      expect(log).toEqual([
        'POST /307 keep',
        'POST /done keep',
        'POST /308 keep',
        'POST /done keep',
        'POST /307 once',
      ]);
    });

    it('stops at the redirect limit with a coded error, and returns the 3xx with 0', async () => {
      let hits = 0;
      const { url } = await serve((_req, res) => {
        hits++;
        res.writeHead(302, { Location: '/again' });
        res.end();
      });
      const c = client();
      expect(await codeOf(c.request({ url, maxRedirects: 3 }))).toBe(
        'GN_ERR_HTTP1_TOO_MANY_REDIRECTS',
      );
      expect(hits).toBe(4);
      const res = await c.request({ url, maxRedirects: 0 });
      expect(res.status).toBe(302);
      expect(res.headers.get('location')).toBe('/again');
    });

    it('drops Authorization, Cookie and Proxy-Authorization across origins only', async () => {
      const seen: Record<string, unknown>[] = [];
      const pick = (req: IncomingMessage) => ({
        url: req.url,
        authorization: req.headers.authorization,
        cookie: req.headers.cookie,
        'proxy-authorization': req.headers['proxy-authorization'],
        'x-custom': req.headers['x-custom'],
      });
      const b = await serve((req, res) => {
        seen.push({ server: 'b', ...pick(req) });
        res.end('at b');
      });
      const a = await serve((req, res) => {
        seen.push({ server: 'a', ...pick(req) });
        if (req.url === '/same') res.writeHead(302, { Location: '/cross' });
        else res.writeHead(302, { Location: `${b.url}/landing` });
        res.end();
      });
      const c = client();
      const res = await c.request({
        url: `${a.url}/same`,
        headers: {
          Authorization: 'Bearer secret',
          Cookie: 'c=1',
          'Proxy-Authorization': 'Basic x',
          'X-Custom': 'kept',
        },
      });
      expect(await res.text()).toBe('at b');
      const creds = {
        authorization: 'Bearer secret',
        cookie: 'c=1',
        'proxy-authorization': 'Basic x',
      };
      expect(seen).toEqual([
        { server: 'a', url: '/same', ...creds, 'x-custom': 'kept' },
        { server: 'a', url: '/cross', ...creds, 'x-custom': 'kept' },
        {
          server: 'b',
          url: '/landing',
          authorization: undefined,
          cookie: undefined,
          'proxy-authorization': undefined,
          'x-custom': 'kept',
        },
      ]);
    });
  });

  it('stores cookies and sends them on later requests and redirects', async () => {
    const cookies: (string | undefined)[] = [];
    const { url } = await serve((req, res) => {
      cookies.push(req.headers.cookie);
      if (req.url === '/login') {
        res.setHeader('Set-Cookie', ['session=s1; Path=/; HttpOnly', 'theme=dark; Path=/app']);
        res.writeHead(302, { Location: '/app/home' });
        res.end();
        return;
      }
      if (req.url === '/logout') res.setHeader('Set-Cookie', 'session=; Max-Age=0; Path=/');
      res.end('ok');
    });
    const jar = new CookieJar();
    const c = client({ cookieJar: jar });
    await (await c.request({ url: `${url}/login` })).text();
    await (await c.request({ url: `${url}/other` })).text();
    await (await c.request({ url: `${url}/logout` })).text();
    await (await c.request({ url: `${url}/app/x` })).text();
    expect(cookies).toEqual([
      undefined,
      'theme=dark; session=s1',
      'session=s1',
      'session=s1',
      'theme=dark',
    ]);
  });

  describe('decompression', () => {
    const payload = Buffer.from('compressible '.repeat(2000));
    async function compressing(): Promise<string> {
      const { url } = await serve((req, res) => {
        const enc = req.url!.slice(1);
        const accept = req.headers['accept-encoding'] ?? '';
        res.setHeader('X-Accept', accept);
        if (enc === 'identity') return void res.end(payload);
        res.setHeader('Content-Encoding', enc === 'gzip-br' ? 'gzip, br' : enc);
        const body =
          enc === 'gzip'
            ? gzipSync(payload)
            : enc === 'br'
              ? brotliCompressSync(payload)
              : enc === 'deflate'
                ? deflateSync(payload)
                : brotliCompressSync(gzipSync(payload));
        res.end(body);
      });
      return url;
    }

    it('decodes gzip, deflate, br and stacked codings, sending Accept-Encoding', async () => {
      const url = await compressing();
      const c = client();
      for (const enc of ['gzip', 'deflate', 'br', 'gzip-br', 'identity']) {
        const res = await c.request({ url: `${url}/${enc}` });
        expect(res.headers.get('x-accept')).toBe('gzip, deflate, br');
        expect(Buffer.from(await res.bytes()).equals(payload)).toBe(true);
      }
    });

    it('leaves the body alone with decompress: false', async () => {
      const url = await compressing();
      const c = client({ decompress: false });
      const res = await c.request({ url: `${url}/gzip` });
      expect(res.headers.get('x-accept')).toBe('');
      expect(Buffer.from(await res.bytes()).equals(gzipSync(payload))).toBe(true);
    });

    it('stops a decompression bomb at maxBodyBytes with a coded error', async () => {
      const bomb = gzipSync(Buffer.alloc(50 * 1024 * 1024));
      expect(bomb.length).toBeLessThan(100 * 1024);
      const { url } = await serve((_req, res) => {
        res.setHeader('Content-Encoding', 'gzip');
        res.end(bomb);
      });
      const c = client({ maxBodyBytes: 1024 * 1024 });
      const res = await c.request({ url });
      let seen = 0;
      const code = await codeOf(
        (async () => {
          for await (const chunk of res) seen += chunk.length;
        })(),
      );
      expect(code).toBe('GN_ERR_HTTP1_RESPONSE_TOO_LARGE');
      expect(seen).toBeLessThanOrEqual(1024 * 1024);
    });

    it('reports corrupt compressed data with a coded error', async () => {
      const { url } = await serve((_req, res) => {
        res.setHeader('Content-Encoding', 'gzip');
        res.end('definitely not gzip');
      });
      const res = await client().request({ url });
      expect(await codeOf(res.text())).toBe('GN_ERR_HTTP1_DECOMPRESS');
    });
  });

  describe('timeouts and abort', () => {
    it('fails with a headers timeout when the server never answers', async () => {
      const { url } = await serve(() => {});
      const c = client();
      expect(await codeOf(c.request({ url, timeouts: { headersMs: 100 } }))).toBe(
        'GN_ERR_HTTP1_HEADERS_TIMEOUT',
      );
      expect(c.stats().size).toBe(0);
    });

    it('fails with a body timeout when the server stalls mid-body', async () => {
      const { url } = await serve((_req, res) => {
        res.setHeader('Content-Length', '100');
        res.write('partial');
      });
      const c = client();
      const res = await c.request({ url, timeouts: { bodyMs: 100 } });
      expect(await codeOf(res.text())).toBe('GN_ERR_HTTP1_BODY_TIMEOUT');
      expect(c.stats().size).toBe(0);
    });

    it('fails with a connect timeout when no connection can be had in time', async () => {
      const { url } = await serve((_req, res) => {
        res.setHeader('Content-Length', '10');
        res.write('12345');
      });
      // One connection, held by a response that never ends: the next request waits for it.
      const c = client({ pool: { maxConnectionsPerOrigin: 1 } });
      const first = await c.request({ url });
      expect(await codeOf(c.request({ url, timeouts: { connectMs: 100 } }))).toBe(
        'GN_ERR_CONNECT_TIMEOUT',
      );
      first.cancel();
      const refused = client();
      expect(await codeOf(refused.request({ url: 'http://127.0.0.1:1/' }))).toBe('GN_ERR_CONNECT');
    });

    it('aborts mid-body: the consumer sees an abort error and the connection is destroyed', async () => {
      let closed = false;
      const { url } = await serve((req, res) => {
        req.socket.on('close', () => (closed = true));
        res.setHeader('Content-Length', '1000000');
        res.write(Buffer.alloc(1000));
      });
      const c = client();
      const controller = new AbortController();
      const res = await c.request({ url, signal: controller.signal });
      const it = res[Symbol.asyncIterator]();
      const first = await it.next();
      expect(first.done).toBe(false);
      controller.abort();
      expect(await codeOf(it.next())).toBe('GN_ERR_ABORTED');
      expect(c.stats().size).toBe(0);
      for (let i = 0; i < 100 && !closed; i++) await new Promise((r) => setTimeout(r, 10));
      expect(closed).toBe(true);
    });

    it('rejects at once for an already aborted signal', async () => {
      const { url } = await serve((_req, res) => res.end());
      expect(await codeOf(client().request({ url, signal: AbortSignal.abort() }))).toBe(
        'GN_ERR_ABORTED',
      );
    });
  });

  describe('malformed responses from a raw server', () => {
    it('rejects with a coded Http1ParseError and destroys the connection', async () => {
      const url = await rawServer((s) => {
        s.once('data', () =>
          s.write('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello'),
        );
      });
      const c = client();
      let caught: unknown;
      try {
        await c.request({ url });
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(Http1ParseError);
      expect((caught as Http1ParseError).code).toBe('GN_ERR_HTTP1_DUPLICATE_CONTENT_LENGTH');
      expect(c.stats().size).toBe(0);
    });

    it('fails the body when the server closes mid-body', async () => {
      const url = await rawServer((s) => {
        s.once('data', () => s.end('HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nshort'));
      });
      const res = await client().request({ url });
      const code = await codeOf(res.text());
      expect(code).toMatch(/^GN_ERR_HTTP1_(INCOMPLETE_MESSAGE|RESPONSE_INCOMPLETE)$/);
    });

    it('reads a close-delimited body to EOF', async () => {
      const url = await rawServer((s) => {
        s.once('data', () => s.end('HTTP/1.1 200 OK\r\n\r\nuntil close'));
      });
      expect(await (await client().request({ url })).text()).toBe('until close');
    });

    it('retries an idempotent request once when a kept-alive connection went stale', async () => {
      let n = 0;
      const url = await rawServer((s) => {
        const conn = ++n;
        let requests = 0;
        s.on('data', () => {
          requests++;
          // Connection 1 answers its first request, then closes on the second without
          // answering (as a server whose keep-alive timeout just fired).
          if (conn === 1 && requests === 2) s.destroy();
          else s.write(`HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nc${conn}`);
        });
      });
      const c = client();
      expect(await (await c.request({ url })).text()).toBe('c1');
      expect(await (await c.request({ url })).text()).toBe('c2');
      expect(n).toBe(2);
      // A POST is not retried.
      const c2 = client();
      n = 0;
      expect(await (await c2.request({ url, method: 'POST', body: 'x' })).text()).toBe('c1');
      expect(await codeOf(c2.request({ url, method: 'POST', body: 'x' }))).toMatch(
        /^GN_ERR_(CONNECTION_CLOSED|HTTP1_RESPONSE_INCOMPLETE)$/,
      );
    });
  });

  it('pipelines requests on one connection and matches responses in order', async () => {
    const arrivals: string[] = [];
    const url = await rawServer((s) => {
      let buf = '';
      s.on('data', (d) => {
        buf += d.toString('latin1');
        const heads = buf.split('\r\n\r\n');
        buf = heads.pop()!;
        for (const h of heads) arrivals.push(h.split(' ')[1]!);
        // Answer only once all three requests arrived, in one write.
        if (arrivals.length === 3) {
          s.write(
            arrivals
              .map((p) => `HTTP/1.1 200 OK\r\nContent-Length: ${p.length}\r\n\r\n${p}`)
              .join(''),
          );
        }
      });
    });
    const c = client({ pipelining: 3, pool: { maxConnectionsPerOrigin: 1 } });
    const results = await Promise.all(
      ['/one', '/two', '/three'].map(async (p) => (await c.request({ url: url + p })).text()),
    );
    expect(results).toEqual(['/one', '/two', '/three']);
    expect(arrivals).toEqual(['/one', '/two', '/three']);
  });

  it('validates options and request fields with coded errors', async () => {
    expect(() => new Http1Client({}, { pipelining: 0 })).toThrow(/pipelining/);
    const c = client();
    expect(await codeOf(c.request({ url: 'ftp://x/' }))).toBe('GN_ERR_INVALID_OPTION');
    expect(
      await codeOf(
        c.request({ url: 'http://127.0.0.1:1/', headers: { 'Transfer-Encoding': 'chunked' } }),
      ),
    ).toBe('GN_ERR_INVALID_OPTION');
    expect(await codeOf(c.request({ url: 'http://127.0.0.1:1/', method: 'BAD METHOD' }))).toBe(
      'GN_ERR_INVALID_OPTION',
    );
  });
});

export type { ClientResponse };
