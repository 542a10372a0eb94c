/**
 * Every example in examples/ runs with one command; these tests run each one as a user
 * would (a child process on a free loopback port) and check what it serves or prints.
 */
import { execFile, spawn } from 'node:child_process';
import type { ChildProcessByStdio } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';

const examples = fileURLToPath(new URL('../../examples/', import.meta.url));
const running: ChildProcessByStdio<null, Readable, Readable>[] = [];

afterEach(() => {
  for (const child of running.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

function startExample(
  name: string,
): Promise<{ url: string; child: ChildProcessByStdio<null, Readable, Readable> }> {
  const child = spawn(process.execPath, [`${examples}${name}/index.js`], {
    env: { ...process.env, PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`${name} did not start: ${err}`)), 15_000);
    child.stderr.setEncoding('utf8').on('data', (t: string) => (err += t));
    child.stdout.setEncoding('utf8').on('data', (t: string) => {
      out += t;
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve({ url: match[1]!, child });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited ${code}: ${err}`));
    });
  });
}

async function call(
  url: string,
  init: { method?: string; body?: unknown; headers?: Record<string, string> } = {},
) {
  const res = await fetch(url, {
    method: init.method ?? 'GET',
    headers: {
      ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...init.headers,
    },
    ...(init.body !== undefined
      ? { body: typeof init.body === 'string' ? init.body : JSON.stringify(init.body) }
      : {}),
  });
  const text = await res.text();
  return {
    status: res.status,
    headers: res.headers,
    text,
    json: () => JSON.parse(text) as unknown,
  };
}

describe('examples/rest-api', () => {
  it('creates, reads, updates and deletes items; validation errors are 4xx JSON', async () => {
    const { url, child } = await startExample('rest-api');
    const created = await call(`${url}/items`, {
      method: 'POST',
      body: { name: 'tea', price: 3.5 },
    });
    expect(created.status).toBe(201);
    expect(created.headers.get('location')).toBe('/items/1');
    expect(created.json()).toEqual({ id: 1, name: 'tea', price: 3.5 });

    expect((await call(`${url}/items/1`)).json()).toEqual({ id: 1, name: 'tea', price: 3.5 });
    const updated = await call(`${url}/items/1`, {
      method: 'PUT',
      body: { name: 'green tea', price: 4 },
    });
    expect(updated.json()).toEqual({ id: 1, name: 'green tea', price: 4 });
    expect((await call(`${url}/items`)).json()).toHaveLength(1);

    const invalid = await call(`${url}/items`, { method: 'POST', body: { name: '', price: -1 } });
    expect(invalid.status).toBe(422);
    expect((invalid.json() as { error: string }).error).toMatch(/name must be.*price must be/);
    const malformed = await call(`${url}/items`, { method: 'POST', body: '{"name":' });
    expect(malformed.status).toBe(400);
    expect(malformed.headers.get('content-type')).toMatch(/^application\/json/);
    const tooBig = await call(`${url}/items`, {
      method: 'POST',
      body: JSON.stringify({ name: 'x'.repeat(20_000), price: 1 }),
    });
    expect(tooBig.status).toBe(413);

    expect((await call(`${url}/items/1`, { method: 'DELETE' })).status).toBe(204);
    expect((await call(`${url}/items/1`)).status).toBe(404);
    expect((await call(`${url}/items/1`, { method: 'PATCH' })).status).toBe(405);

    child.kill('SIGTERM');
    const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    expect(code).toBe(0);
  });
});

describe('examples/static-server', () => {
  it('serves files with validators, conditional requests, ranges and compression', async () => {
    const { url } = await startExample('static-server');
    const page = await call(`${url}/`);
    expect(page.status).toBe(200);
    expect(page.text).toContain('<h1>Served by ghostnet</h1>');
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    const etag = page.headers.get('etag');
    expect(etag).toBeTruthy();
    const again = await call(`${url}/index.html`, { headers: { 'if-none-match': etag! } });
    expect(again.status).toBe(304);
    const range = await call(`${url}/style.css`, {
      headers: { range: 'bytes=0-3', 'accept-encoding': 'identity' },
    });
    expect(range.status).toBe(206);
    expect(range.text).toBe('body');
    expect((await call(`${url}/../package.json`)).status).not.toBe(200);
    expect((await call(`${url}/missing.txt`)).status).toBe(404);

    const gz = await new Promise<{ encoding: string | undefined; body: Buffer }>(
      (resolve, reject) => {
        http
          .get(`${url}/index.html`, { headers: { 'accept-encoding': 'gzip' } }, (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () =>
              resolve({ encoding: res.headers['content-encoding'], body: Buffer.concat(chunks) }),
            );
          })
          .on('error', reject);
      },
    );
    expect(gz.encoding).toBe('gzip');
    expect(gunzipSync(gz.body).toString()).toContain('Served by ghostnet');
  });
});

describe('examples/http-client', () => {
  it('fetches URLs over pooled keep-alive connections and prints one JSON line each', async () => {
    const ports = new Set<number>();
    const server = http.createServer((req, res) => {
      ports.add(req.socket.remotePort!);
      res.end(req.url === '/big' ? 'x'.repeat(100_000) : 'ok');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const urls = Array.from({ length: 12 }, (_, i) => `${base}/${i % 3 === 0 ? 'big' : 'small'}`);
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(
        process.execPath,
        [`${examples}http-client/index.js`, ...urls],
        { timeout: 20_000 },
        (err, out) => (err ? reject(err) : resolve(out)),
      );
    });
    server.close();
    const lines = stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const results = lines.filter((l) => 'url' in l);
    expect(results).toHaveLength(12);
    for (const r of results) {
      expect(r.status).toBe(200);
      expect(r.bytes).toBe(String(r.url).endsWith('/big') ? 100_000 : 2);
    }
    // 12 requests, at most 4 connections: keep-alive reuse through the pool.
    expect(ports.size).toBeLessThanOrEqual(4);
  });
});
