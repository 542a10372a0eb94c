/**
 * `ghostnet serve` against independent HTTP/1.1 clients: curl, node:http's client, undici
 * and wrk. Each runs as a real peer over loopback.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { request as undiciRequest, Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServe } from '../helpers/serve-process.js';
import type { ServeProcess } from '../helpers/serve-process.js';

let serve: ServeProcess;
let dir: string;

function run(
  cmd: string,
  args: string[],
  timeoutMs = 60_000,
): Promise<{ stdout: Buffer; stderr: string; code: number }> {
  return new Promise((resolve) => {
    execFile(
      cmd,
      args,
      { encoding: 'buffer', timeout: timeoutMs, maxBuffer: 64 << 20 },
      (err, stdout, stderr) => {
        const code = err ? ((err as { code?: number }).code ?? 1) : 0;
        resolve({
          stdout,
          stderr: stderr.toString('utf8'),
          code: typeof code === 'number' ? code : 1,
        });
      },
    );
  });
}

const curl = (...args: string[]) => run('curl', ['--silent', '--show-error', ...args]);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ghostnet-interop-'));
  serve = await startServe();
});

afterAll(async () => {
  const code = await serve?.stop();
  rmSync(dir, { recursive: true, force: true });
  expect(code).toBe(0);
});

describe('curl → ghostnet serve', () => {
  it('GET /hello', async () => {
    const r = await curl('-i', `${serve.url}/hello`);
    expect(r.code).toBe(0);
    const text = r.stdout.toString('latin1');
    expect(text).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(text).toMatch(/\r\ncontent-type: text\/plain; charset=utf-8\r\n/i);
    expect(text.endsWith('\r\n\r\nHello, World!')).toBe(true);
  });

  it('reuses one connection across requests (keep-alive, RFC 9112 §9.3)', async () => {
    const r = await curl('-v', `${serve.url}/hello`, `${serve.url}/hello`, `${serve.url}/hello`);
    expect(r.code).toBe(0);
    expect(r.stdout.toString()).toBe('Hello, World!'.repeat(3));
    expect(r.stderr.match(/Re-using existing connection/g)?.length).toBe(2);
  });

  it('uploads a chunked body and gets it echoed', async () => {
    const file = join(dir, 'chunked.bin');
    const data = randomBytes(300_000);
    writeFileSync(file, data);
    const r = await curl(
      '-H',
      'Transfer-Encoding: chunked',
      '-H',
      'Content-Type: application/octet-stream',
      '--data-binary',
      `@${file}`,
      `${serve.url}/echo`,
    );
    expect(r.code).toBe(0);
    expect(r.stdout.equals(data)).toBe(true);
  });

  it('speaks HTTP/1.0: the connection closes after the response', async () => {
    const r = await curl('-v', '--http1.0', `${serve.url}/hello`);
    expect(r.code).toBe(0);
    expect(r.stdout.toString()).toBe('Hello, World!');
    expect(r.stderr).toMatch(/Closing connection|shutting down connection/i);
  });

  it('answers HEAD with headers and no body (RFC 9110 §9.3.2)', async () => {
    const r = await curl('-I', `${serve.url}/hello`);
    expect(r.code).toBe(0);
    const text = r.stdout.toString('latin1');
    expect(text).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(text).toMatch(/\r\ncontent-length: 13\r\n/i);
    expect(text.endsWith('\r\n\r\n')).toBe(true);
  });

  it('handles Expect: 100-continue with a large body (RFC 9110 §10.1.1)', async () => {
    const file = join(dir, 'large.bin');
    const data = randomBytes(4 * 1024 * 1024);
    writeFileSync(file, data);
    const r = await curl(
      '-v',
      '-H',
      'Expect: 100-continue',
      '-H',
      'Content-Type: application/octet-stream',
      '--data-binary',
      `@${file}`,
      `${serve.url}/echo`,
    );
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/< HTTP\/1\.1 100 Continue/);
    expect(r.stdout.equals(data)).toBe(true);
  });

  it('negotiates gzip with --compressed', async () => {
    const text = 'ghostnet compresses text bodies. '.repeat(500);
    const raw = await curl(
      '-H',
      'Accept-Encoding: gzip',
      '-H',
      'Content-Type: text/plain',
      '--data-binary',
      text,
      '-D',
      '-',
      '-o',
      join(dir, 'gz.bin'),
      `${serve.url}/echo`,
    );
    expect(raw.stdout.toString('latin1')).toMatch(/\r\ncontent-encoding: gzip\r\n/i);
    const { readFileSync } = await import('node:fs');
    expect(gunzipSync(readFileSync(join(dir, 'gz.bin'))).toString()).toBe(text);
    const decoded = await curl(
      '--compressed',
      '-H',
      'Content-Type: text/plain',
      '--data-binary',
      text,
      `${serve.url}/echo`,
    );
    expect(decoded.stdout.toString()).toBe(text);
  });

  it('answers a malformed request with 400 and closes', async () => {
    const r = await curl('-i', '-H', 'Bad Header: x', `${serve.url}/hello`);
    expect(r.stdout.toString('latin1')).toMatch(/^HTTP\/1\.1 400 /);
  });
});

describe('node:http client → ghostnet serve', () => {
  it('keeps a socket alive across requests and streams /bytes/:n', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const sockets = new Set<unknown>();
    const get = (path: string) =>
      new Promise<{ status: number; body: Buffer }>((resolve, reject) => {
        const req = http.get(`${serve.url}${path}`, { agent }, (res) => {
          sockets.add(res.socket);
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }),
          );
          res.on('error', reject);
        });
        req.on('error', reject);
      });
    const a = await get('/hello');
    const b = await get('/bytes/1000000');
    const c = await get('/hello');
    agent.destroy();
    expect(a.body.toString()).toBe('Hello, World!');
    expect(b.status).toBe(200);
    expect(b.body.length).toBe(1_000_000);
    expect(c.status).toBe(200);
    expect(sockets.size).toBe(1);
  });

  it('posts JSON to /echo and gets it back with its content type', async () => {
    const payload = JSON.stringify({ hello: 'world', n: [1, 2, 3] });
    const result = await new Promise<{ type: string | undefined; body: string }>(
      (resolve, reject) => {
        const req = http.request(
          `${serve.url}/echo`,
          { method: 'POST', headers: { 'content-type': 'application/json' } },
          (res) => {
            let body = '';
            res.setEncoding('utf8').on('data', (t: string) => (body += t));
            res.on('end', () => resolve({ type: res.headers['content-type'], body }));
          },
        );
        req.on('error', reject);
        req.end(payload);
      },
    );
    expect(result.type).toBe('application/json');
    expect(result.body).toBe(payload);
  });
});

describe('undici → ghostnet serve', () => {
  it('GET /hello, /health and /metrics over one pooled connection', async () => {
    const dispatcher = new Agent({ connections: 1 });
    try {
      const hello = await undiciRequest(`${serve.url}/hello`, { dispatcher });
      expect(hello.statusCode).toBe(200);
      expect(await hello.body.text()).toBe('Hello, World!');
      const health = await undiciRequest(`${serve.url}/health`, { dispatcher });
      expect(health.statusCode).toBe(200);
      expect(((await health.body.json()) as { status: string }).status).toBe('pass');
      const metrics = await undiciRequest(`${serve.url}/metrics`, { dispatcher });
      expect(metrics.statusCode).toBe(200);
      expect(await metrics.body.text()).toMatch(/^ghostnet_requests_total\{/m);
      const missing = await undiciRequest(`${serve.url}/nope`, { dispatcher });
      expect(missing.statusCode).toBe(404);
      await missing.body.dump();
    } finally {
      await dispatcher.close();
    }
  });
});

describe('wrk → ghostnet serve', () => {
  it('pipelined load (depth 16) gets only 200 responses', async () => {
    const script = fileURLToPath(new URL('../../bench/http1/pipeline.lua', import.meta.url));
    const r = await run('wrk', [
      '-t1',
      '-c8',
      '-d2s',
      '-s',
      script,
      `${serve.url}/hello`,
      '--',
      '16',
    ]);
    const out = r.stdout.toString();
    expect(r.code, out + r.stderr).toBe(0);
    const total = Number(/(\d+) requests in/.exec(out)?.[1]);
    expect(total).toBeGreaterThan(1000);
    expect(out).not.toMatch(/Non-2xx or 3xx responses/);
    expect(out).not.toMatch(/Socket errors/);
  });
});
