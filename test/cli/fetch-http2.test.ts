/**
 * `ghostnet fetch --http2` and `--http2-prior-knowledge` against node:http2 servers (an
 * independent HTTP/2 implementation: nghttp2 inside Node).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import http2 from 'node:http2';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { cleanupCerts, makeCa, makeLeaf } from '../helpers/certs.js';

const bin = fileURLToPath(new URL('../../bin/ghostnet.js', import.meta.url));
const closers: (() => void)[] = [];

afterEach(() => {
  for (const c of closers.splice(0)) c();
});
afterAll(() => cleanupCerts());

async function fetchCli(
  args: string[],
): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  const child = spawn(process.execPath, [bin, 'fetch', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out: Buffer[] = [];
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => out.push(c));
  child.stderr.setEncoding('utf8').on('data', (t: string) => (stderr += t));
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(timer);
  return { code, stdout: Buffer.concat(out), stderr };
}

/** An echo handler: method, path, a header and the body as JSON. */
function onStream(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  stream.on('end', () => {
    stream.respond({ ':status': 200, 'content-type': 'application/json', 'x-proto': 'h2' });
    stream.end(
      JSON.stringify({
        method: headers[':method'],
        path: headers[':path'],
        one: headers['x-one'],
        body: Buffer.concat(chunks).toString('latin1'),
      }),
    );
  });
}

async function listen(
  server: http2.Http2Server | http2.Http2SecureServer | http.Server,
  scheme: string,
): Promise<string> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  closers.push(() => server.close());
  return `${scheme}://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('ghostnet fetch over HTTP/2', () => {
  it('--http2-prior-knowledge speaks h2c: -X, -H, -d and -i (HTTP/2 status line)', async () => {
    const server = http2.createServer();
    const sessions: http2.ServerHttp2Session[] = [];
    server.on('session', (s) => sessions.push(s));
    server.on('stream', onStream);
    const url = await listen(server, 'http');
    closers.push(() => sessions.forEach((s) => s.destroy()));
    const r = await fetchCli([
      `${url}/p?q=1`,
      '--http2-prior-knowledge',
      '-X',
      'PUT',
      '-H',
      'X-One: 1',
      '-d',
      'hello body',
      '-i',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const text = r.stdout.toString('latin1');
    const split = text.indexOf('\r\n\r\n');
    expect(text.slice(0, split).split('\r\n')[0]).toBe('HTTP/2 200');
    expect(text.slice(0, split)).toContain('\r\nx-proto: h2');
    expect(JSON.parse(text.slice(split + 4))).toEqual({
      method: 'PUT',
      path: '/p?q=1',
      one: '1',
      body: 'hello body',
    });
  });

  it('--http2 negotiates h2 by ALPN over TLS and streams a large body intact', async () => {
    const ca = await makeCa();
    const leaf = await makeLeaf(ca, { dns: ['localhost'], ip: ['127.0.0.1'] });
    const payload = Buffer.alloc(3_000_000);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 7) & 0xff;
    const server = http2.createSecureServer({ cert: leaf.cert, key: leaf.key });
    server.on('stream', (stream) => {
      stream.respond({ ':status': 200 });
      stream.end(payload);
    });
    const url = await listen(server, 'https');
    const r = await fetchCli([`${url}/big`, '--http2', '-k']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.equals(payload)).toBe(true);
  });

  it('--http2 falls back to HTTP/1.1 when the TLS server offers no h2; prior knowledge does not', async () => {
    const ca = await makeCa();
    const leaf = await makeLeaf(ca, { dns: ['localhost'], ip: ['127.0.0.1'] });
    const { createServer } = await import('node:https');
    const server = createServer({ cert: leaf.cert, key: leaf.key }, (_req, res) =>
      res.end('one-one'),
    );
    const url = await listen(server, 'https');
    const r = await fetchCli([`${url}/`, '--http2', '-k', '-i']);
    expect(r.code).toBe(0);
    expect(r.stdout.toString('latin1')).toMatch(/^HTTP\/1\.1 200/);
    expect(r.stdout.toString('latin1')).toContain('one-one');
    const strict = await fetchCli([`${url}/`, '--http2-prior-knowledge', '-k']);
    expect(strict.code).toBe(1);
    expect(strict.stderr).toContain('GN_ERR_H2_NOT_NEGOTIATED');
  });

  it('--http2 on http:// asks for an h2c Upgrade and falls back when the server answers HTTP/1.1', async () => {
    const server = http.createServer((_req, res) => res.end('plain'));
    const url = await listen(server, 'http');
    closers.push(() => server.closeAllConnections());
    const r = await fetchCli([`${url}/`, '--http2', '-i']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.toString('latin1')).toMatch(/^HTTP\/1\.1 200/);
    expect(r.stdout.toString('latin1')).toContain('plain');
  });

  it('refuses -L with --http2 as a usage error (exit 2)', async () => {
    const r = await fetchCli(['http://127.0.0.1:1/', '--http2', '-L']);
    expect(r.code).toBe(2);
  });
});
