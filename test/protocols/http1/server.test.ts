import { once } from 'node:events';
import { request } from 'node:http';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpError } from '../../../src/protocols/http/errors.js';
import type { Handler } from '../../../src/protocols/http/types.js';
import { listenHttp1 } from '../../../src/protocols/http1/server.js';
import type { Http1Server, Http1ServerOptions } from '../../../src/protocols/http1/server.js';

let server: Http1Server | undefined;
afterEach(async () => {
  await server?.destroy();
  server = undefined;
});

async function start(handler: Handler, options: Http1ServerOptions = {}): Promise<number> {
  server = await listenHttp1({ host: '127.0.0.1', port: 0, ...options }, handler);
  return server.address.port;
}

function get(
  port: number,
  path: string,
  init: { method?: string; body?: string[]; headers?: Record<string, string> } = {},
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: init.method ?? 'GET',
        headers: init.headers,
        agent: false,
      },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode!,
            headers: res.headers,
            body: Buffer.concat(parts).toString(),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    for (const chunk of init.body ?? []) req.write(chunk);
    req.end();
  });
}

/** Raw exchange: write `input`, read until the server closes. */
async function raw(port: number, input: string): Promise<string> {
  const sock = connect(port, '127.0.0.1');
  const parts: Buffer[] = [];
  sock.on('data', (c: Buffer) => parts.push(c));
  sock.write(input);
  await once(sock, 'close');
  return Buffer.concat(parts).toString('latin1');
}

describe('listenHttp1', () => {
  it('GET /hello', async () => {
    const port = await start((req, res) => {
      res.text(`Hello, World! ${req.method} ${req.path}`);
    });
    const r = await get(port, '/hello');
    expect(r.status).toBe(200);
    expect(r.body).toBe('Hello, World! GET /hello');
    expect(r.headers['content-length']).toBe('24');
    expect(r.headers.date).toMatch(/GMT$/);
  });

  it('echoes a chunked POST body', async () => {
    const port = await start(async (req, res) => {
      const body = await req.text();
      res.text(body.toUpperCase());
    });
    const r = await get(port, '/echo', { method: 'POST', body: ['abc', 'def', 'ghi'] });
    expect(r.body).toBe('ABCDEFGHI');
  });

  it('pipelines raw requests and answers in order, then honours Connection: close', async () => {
    const port = await start(async (req, res) => {
      if (req.path === '/slow') await new Promise((r) => setTimeout(r, 20));
      res.text(req.path);
    });
    const out = await raw(
      port,
      'GET /slow HTTP/1.1\r\nHost: x\r\n\r\nGET /fast HTTP/1.1\r\nHost: x\r\n\r\nGET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    );
    const bodies = [...out.matchAll(/\r\n\r\n(\/[a-z]+)/g)].map((m) => m[1]);
    expect(bodies).toEqual(['/slow', '/fast', '/last']);
  });

  it('answers a malformed request with 400 and closes', async () => {
    const port = await start((_req, res) => res.text('no'));
    const out = await raw(port, 'GET / HTTP/1.1\r\nHost: x\r\nBad Name: 1\r\n\r\n');
    expect(out).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(out).toContain('Connection: close');
  });

  it('handler throw → 500, HttpError → its status, and the server lives', async () => {
    const port = await start((req) => {
      if (req.path === '/teapot') throw new HttpError(418, 'short and stout');
      throw new TypeError('boom');
    });
    const a = await get(port, '/x');
    expect(a.status).toBe(500);
    expect(a.body).toBe('Internal Server Error');
    const b = await get(port, '/teapot');
    expect(b.status).toBe(418);
    expect(b.body).toBe('short and stout');
  });

  it('a slow reader keeps server-side buffered bytes bounded (backpressure)', async () => {
    const chunk = new Uint8Array(16 * 1024).fill(97);
    const total = 8 * 1024 * 1024;
    let maxBuffered = 0;
    let waits = 0;
    const port = await start(
      async (_req, res) => {
        res.setHeader('content-length', total);
        for (let sent = 0; sent < total; sent += chunk.length) {
          if (!res.write(chunk)) {
            waits++;
            await res.drained();
          }
          maxBuffered = Math.max(maxBuffered, res.bufferedAmount);
        }
        res.end();
      },
      { highWaterMark: 64 * 1024 },
    );
    const received = await new Promise<number>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/big', agent: false }, (res) => {
        let n = 0;
        let chunks = 0;
        res.on('data', (c: Buffer) => {
          n += c.length;
          // Read slowly: pause briefly every few chunks so the server must wait.
          if (++chunks % 8 === 0) {
            res.pause();
            setTimeout(() => res.resume(), 1);
          }
        });
        res.on('end', () => resolve(n));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });
    expect(received).toBe(total);
    expect(waits).toBeGreaterThan(0);
    expect(maxBuffered).toBeLessThanOrEqual(64 * 1024 + chunk.length);
  });

  it('client abort → req.signal aborted', async () => {
    let aborted: Promise<void> | undefined;
    let arrived!: () => void;
    const got = new Promise<void>((r) => (arrived = r));
    const port = await start((req) => {
      aborted = new Promise((r) => req.signal.addEventListener('abort', () => r()));
      arrived();
    });
    const sock = connect(port, '127.0.0.1');
    sock.write('GET /hang HTTP/1.1\r\nHost: x\r\n\r\n');
    await got;
    sock.destroy();
    await aborted;
    expect(aborted).toBeDefined();
  });

  it('sends 100 Continue when the handler reads the body', async () => {
    const port = await start(async (req, res) => res.text(`got ${await req.text()}`));
    const sock = connect(port, '127.0.0.1');
    const parts: Buffer[] = [];
    sock.on('data', (c: Buffer) => parts.push(c));
    sock.write('POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n');
    for (let i = 0; i < 200 && !Buffer.concat(parts).toString().includes('100 Continue'); i++) {
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(Buffer.concat(parts).toString()).toBe('HTTP/1.1 100 Continue\r\n\r\n');
    sock.write('hi');
    for (let i = 0; i < 200 && !Buffer.concat(parts).toString().includes('got hi'); i++) {
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(Buffer.concat(parts).toString()).toMatch(/200 OK[\s\S]*got hi$/);
    sock.destroy();
  });

  it('graceful close finishes the in-flight request and closes idle connections', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let entered!: () => void;
    const inHandler = new Promise<void>((r) => (entered = r));
    const port = await start(async (_req, res) => {
      entered();
      await gate;
      res.text('done');
    });
    const idle = connect(port, '127.0.0.1');
    await once(idle, 'connect');
    const pending = get(port, '/wait');
    await inHandler;
    const closing = server!.close();
    await once(idle, 'close');
    release();
    const r = await pending;
    expect(r.body).toBe('done');
    expect(r.headers.connection).toBe('close');
    await closing;
    expect(server!.connections).toBe(0);
  });
});
