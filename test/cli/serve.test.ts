/**
 * `ghostnet serve` as a user runs it: one listening line, the built-in routes, TLS,
 * --config, usage errors, and a graceful drain on SIGTERM.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Http1Client } from '../../src/protocols/http1/client.js';
import { cleanupCerts, makeCa, makeLeaf } from '../helpers/certs.js';
import { GHOSTNET_BIN, startServe } from '../helpers/serve-process.js';

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ghostnet-serve-'));
});

afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await cleanupCerts();
});

function runServe(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [GHOSTNET_BIN, 'serve', ...args],
      { timeout: 10_000 },
      (err, stdout, stderr) => {
        const code = err ? (err as { code?: unknown }).code : 0;
        resolve({ code: typeof code === 'number' ? code : -1, stdout, stderr });
      },
    );
  });
}

describe('ghostnet serve', () => {
  it('prints exactly one line and serves the built-in routes', async () => {
    const serve = await startServe();
    const lines: string[] = [];
    serve.child.stdout.on('data', (t: string) => lines.push(t));
    const client = new Http1Client();
    try {
      const hello = await client.request({ url: `${serve.url}/hello` });
      expect(hello.status).toBe(200);
      expect(hello.headers.get('content-type')).toBe('text/plain; charset=utf-8');
      expect(await hello.text()).toBe('Hello, World!');

      const page = await client.request({ url: `${serve.url}/` });
      expect(page.headers.get('content-type')).toMatch(/^text\/html/);
      expect(await page.text()).toContain('ghostnet is serving');

      const echo = await client.request({
        url: `${serve.url}/echo`,
        method: 'POST',
        headers: { 'content-type': 'application/x-test' },
        body: 'ping',
      });
      expect(echo.headers.get('content-type')).toBe('application/x-test');
      expect(await echo.text()).toBe('ping');

      const bytes = await client.request({ url: `${serve.url}/bytes/200000` });
      expect((await bytes.bytes()).length).toBe(200_000);
      const badBytes = await client.request({ url: `${serve.url}/bytes/-1` });
      expect(badBytes.status).toBe(400);
      await badBytes.bytes();

      const health = await client.request({ url: `${serve.url}/health` });
      expect(health.headers.get('content-type')).toBe('application/health+json');
      expect(((await health.json()) as { status: string }).status).toBe('pass');

      const metrics = await client.request({ url: `${serve.url}/metrics` });
      expect(await metrics.text()).toMatch(
        /ghostnet_requests_total\{protocol="http1",method="GET",outcome="200"\} \d+/,
      );

      const missing = await client.request({ url: `${serve.url}/nope` });
      expect(missing.status).toBe(404);
      await missing.bytes();
      const wrongMethod = await client.request({ url: `${serve.url}/hello`, method: 'DELETE' });
      expect(wrongMethod.status).toBe(405);
      expect(wrongMethod.headers.get('allow')).toContain('GET');
      await wrongMethod.bytes();
    } finally {
      await client.close();
    }
    expect(await serve.stop()).toBe(0);
    expect(lines.join('')).toBe('');
  });

  it('serves HTTPS with --tls-cert/--tls-key', async () => {
    const ca = await makeCa();
    const leaf = await makeLeaf(ca, { dns: ['localhost'], ip: ['127.0.0.1'] });
    const serve = await startServe(['--tls-cert', leaf.certPath, '--tls-key', leaf.keyPath]);
    expect(serve.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const client = new Http1Client({}, { tls: { ca: ca.cert } });
    try {
      const res = await client.request({ url: `${serve.url}/hello` });
      expect(await res.text()).toBe('Hello, World!');
    } finally {
      await client.close();
    }
    expect(await serve.stop()).toBe(0);
  });

  it('speaks HTTP/2 on the same port: h2c prior knowledge, and h2 by ALPN over TLS', async () => {
    const get = (url: string, options: http2.SecureClientSessionOptions = {}) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const session = http2.connect(url, options);
        session.on('error', reject);
        const req = session.request({ ':path': '/hello' });
        let body = '';
        let status = 0;
        req.on('response', (h) => (status = Number(h[':status'])));
        req.setEncoding('utf8').on('data', (t: string) => (body += t));
        req.on('end', () => {
          session.close();
          resolve({ status, body });
        });
        req.on('error', reject);
      });
    const plain = await startServe([]);
    expect(await get(plain.url)).toEqual({ status: 200, body: 'Hello, World!' });
    // HTTP/1.1 still works on the same port.
    const h1 = new Http1Client();
    try {
      const res = await h1.request({ url: `${plain.url}/hello` });
      expect(await res.text()).toBe('Hello, World!');
    } finally {
      await h1.close();
    }
    expect(await plain.stop()).toBe(0);

    const ca = await makeCa();
    const leaf = await makeLeaf(ca, { dns: ['localhost'], ip: ['127.0.0.1'] });
    const tls = await startServe(['--tls-cert', leaf.certPath, '--tls-key', leaf.keyPath]);
    expect(await get(tls.url, { ca: ca.cert })).toEqual({ status: 200, body: 'Hello, World!' });
    expect(await tls.stop()).toBe(0);
  });

  it('--no-http2 serves HTTP/1.1 only: the HTTP/2 preface is a bad HTTP/1.1 request', async () => {
    const serve = await startServe(['--no-http2']);
    const port = Number(new URL(serve.url).port);
    const answer = await new Promise<string>((resolve, reject) => {
      const sock = net.connect(port, '127.0.0.1', () =>
        sock.write('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'),
      );
      let text = '';
      sock.setEncoding('latin1').on('data', (t: string) => (text += t));
      sock.on('close', () => resolve(text));
      sock.on('error', reject);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 (400|505) /);
    expect(await serve.stop()).toBe(0);
  });

  it('reads --config JSON, with flags taking precedence', async () => {
    const root = join(dir, 'www');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(root);
    writeFileSync(join(root, 'note.txt'), 'from --static via config');
    const config = join(dir, 'serve.json');
    writeFileSync(
      config,
      JSON.stringify({ host: '127.0.0.1', port: 1, static: root, compression: false }),
    );
    const serve = await startServe(['--config', config]); // startServe adds --port 0, overriding 1
    const client = new Http1Client();
    try {
      const res = await client.request({ url: `${serve.url}/note.txt`, decompress: true });
      expect(await res.text()).toBe('from --static via config');
      expect(res.headers.get('content-encoding')).toBeUndefined();
    } finally {
      await client.close();
    }
    expect(await serve.stop()).toBe(0);
  });

  it('refuses bad configuration with exit code 2', async () => {
    const config = join(dir, 'bad.json');
    writeFileSync(config, JSON.stringify({ prot: 8080 }));
    const unknownKey = await runServe(['--config', config]);
    expect(unknownKey.code).toBe(2);
    expect(unknownKey.stderr).toContain('unknown key "prot"');
    const badPort = await runServe(['--port', 'http']);
    expect(badPort.code).toBe(2);
    const halfTls = await runServe(['--tls-cert', 'x.pem']);
    expect(halfTls.code).toBe(2);
    expect(halfTls.stderr).toContain('--tls-cert and --tls-key go together');
  });

  it('drains an in-flight response on SIGTERM and exits 0; idle connections close at once', async () => {
    const serve = await startServe();
    // An idle keep-alive connection after one request…
    const idle = net.connect({ port: serve.port, host: '127.0.0.1' });
    await new Promise<void>((resolve) => {
      idle.once('data', () => resolve());
      idle.write('GET /hello HTTP/1.1\r\nHost: x\r\n\r\n');
    });
    const idleClosed = new Promise<void>((resolve) => idle.once('close', () => resolve()));
    // …and a slow download in flight (the reader pauses, so the server is mid-response).
    const busy = net.connect({ port: serve.port, host: '127.0.0.1' });
    let received = 0;
    const headerSeen = new Promise<void>((resolve) => busy.once('data', () => resolve()));
    busy.on('data', (c: Buffer) => (received += c.length));
    busy.write('GET /bytes/32000000 HTTP/1.1\r\nHost: x\r\n\r\n');
    await headerSeen;
    busy.pause();
    const busyEnded = new Promise<void>((resolve) => busy.once('end', () => resolve()));
    serve.child.kill('SIGTERM');
    await idleClosed; // closed while the download is still incomplete
    expect(received).toBeLessThan(32_000_000);
    busy.resume();
    await busyEnded;
    expect(received).toBeGreaterThan(32_000_000); // the whole body plus the head (more than any socket buffers hold)
    const code = await new Promise<number | null>((r) =>
      serve.child.exitCode !== null
        ? r(serve.child.exitCode)
        : serve.child.once('exit', (c) => r(c)),
    );
    expect(code).toBe(0);
  });
});
