import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { cleanupCerts, makeCa, makeLeaf } from '../helpers/certs.js';

const bin = fileURLToPath(new URL('../../bin/ghostnet.js', import.meta.url));
const servers: http.Server[] = [];
const dirs: string[] = [];

afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    s.close();
  }
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});
afterAll(() => cleanupCerts());

async function listen(server: http.Server, scheme = 'http'): Promise<string> {
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `${scheme}://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  return listen(http.createServer(handler));
}

interface Run {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

async function fetchCli(args: string[]): Promise<Run> {
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

async function echoServer(): Promise<string> {
  return serve(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    res.setHeader('Content-Type', 'application/json');
    res.setHeader('X-Test', 'yes');
    res.end(
      JSON.stringify({
        method: req.method,
        url: req.url,
        headers: req.headers,
        body: Buffer.concat(chunks).toString('latin1'),
      }),
    );
  });
}

describe('ghostnet fetch', () => {
  it('prints the raw body bytes to stdout and exits 0', async () => {
    const payload = Buffer.alloc(300_000);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 31) & 0xff;
    const url = await serve((_req, res) => res.end(payload));
    const r = await fetchCli([`${url}/bin`]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.equals(payload)).toBe(true);
  });

  it('sends -X, -H and -d, and prints the head with -i', async () => {
    const url = await echoServer();
    const r = await fetchCli([
      `${url}/p?q=1`,
      '-X',
      'PATCH',
      '-H',
      'X-One: 1',
      '-H',
      'Content-Type: text/plain',
      '-d',
      'hello body',
      '-i',
    ]);
    expect(r.code).toBe(0);
    const text = r.stdout.toString('latin1');
    const split = text.indexOf('\r\n\r\n');
    const head = text.slice(0, split);
    expect(head.split('\r\n')[0]).toBe('HTTP/1.1 200 OK');
    expect(head).toContain('\r\nX-Test: yes');
    const seen = JSON.parse(text.slice(split + 4)) as {
      method: string;
      url: string;
      headers: Record<string, string>;
      body: string;
    };
    expect(seen.method).toBe('PATCH');
    expect(seen.url).toBe('/p?q=1');
    expect(seen.body).toBe('hello body');
    expect(seen.headers['x-one']).toBe('1');
    expect(seen.headers['content-type']).toBe('text/plain');
    expect(seen.headers['content-length']).toBe('10');
  });

  it('posts a file with -d @FILE and writes the body to -o FILE', async () => {
    const url = await echoServer();
    const dir = await mkdtemp(join(tmpdir(), 'ghostnet-fetch-'));
    dirs.push(dir);
    const input = join(dir, 'in.bin');
    const output = join(dir, 'out.json');
    await writeFile(input, Buffer.from([0, 1, 2, 250, 255]));
    const r = await fetchCli([url, '-d', `@${input}`, '-o', output]);
    expect(r.code).toBe(0);
    expect(r.stdout.length).toBe(0);
    const seen = JSON.parse(await readFile(output, 'utf8')) as { method: string; body: string };
    expect(seen.method).toBe('POST');
    expect(Buffer.from(seen.body, 'latin1')).toEqual(Buffer.from([0, 1, 2, 250, 255]));
    const missing = await fetchCli([url, '-d', `@${join(dir, 'nope')}`]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/cannot read .*nope.*\(GN_ERR_FILE\)/);
  });

  it('exits 0 for an HTTP error status, like curl without -f', async () => {
    const url = await serve((_req, res) => {
      res.statusCode = 404;
      res.end('not here');
    });
    const r = await fetchCli(['-i', url]);
    expect(r.code).toBe(0);
    expect(r.stdout.toString()).toMatch(/^HTTP\/1\.1 404 Not Found\r\n[\s\S]*\r\n\r\nnot here$/);
  });

  it('follows redirects only with -L, like curl', async () => {
    const url = await serve((req, res) => {
      if (req.url === '/old') {
        res.writeHead(301, { Location: '/new' });
        res.end('moved');
      } else res.end('new place');
    });
    expect((await fetchCli([`${url}/old`])).stdout.toString()).toBe('moved');
    expect((await fetchCli(['-L', `${url}/old`])).stdout.toString()).toBe('new place');
    const capped = await fetchCli(['-L', '--max-redirs', '0', `${url}/old`]);
    expect(capped.stdout.toString()).toBe('moved');
    expect((await fetchCli(['--max-redirs', 'x', `${url}/old`])).code).toBe(2);
  });

  it('decodes gzip only with --compressed', async () => {
    const url = await serve((req, res) => {
      const gzip = /gzip/.test(req.headers['accept-encoding'] ?? '');
      if (gzip) res.setHeader('Content-Encoding', 'gzip');
      res.end(gzip ? gzipSync('zipped text') : 'plain text');
    });
    expect((await fetchCli([url])).stdout.toString()).toBe('plain text');
    expect((await fetchCli(['--compressed', url])).stdout.toString()).toBe('zipped text');
  });

  it('exits 1 with a clear message when the connection is refused', async () => {
    const r = await fetchCli(['http://127.0.0.1:1/']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('ghostnet: connect ECONNREFUSED 127.0.0.1:1 (GN_ERR_CONNECT)\n');
    expect(r.stdout.length).toBe(0);
  });

  it('exits 1 when --timeout passes before the server answers', async () => {
    const url = await serve(() => {});
    const r = await fetchCli([url, '--timeout', '200']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^ghostnet: .*\(GN_ERR_(TIMEOUT|HTTP1_HEADERS_TIMEOUT)\)\n$/);
  });

  it('exits 2 on usage errors', async () => {
    for (const args of [
      [],
      ['not a url'],
      ['ftp://x/'],
      ['http://x/', '-H', 'nocolon'],
      ['--bogus'],
    ]) {
      const r = await fetchCli(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/^ghostnet: /);
    }
  });

  it('verifies https certificates unless --insecure', async () => {
    const ca = await makeCa();
    const leaf = await makeLeaf(ca, { dns: ['localhost'], ip: ['127.0.0.1'] });
    const server = https.createServer({ cert: leaf.cert, key: leaf.key }, (_req, res) =>
      res.end('secret'),
    );
    const url = await listen(server, 'https');
    const strict = await fetchCli([url]);
    expect(strict.code).toBe(1);
    expect(strict.stderr).toMatch(/\(GN_ERR_TLS\)/);
    const insecure = await fetchCli(['--insecure', url]);
    expect(insecure.stderr).toBe('');
    expect(insecure.code).toBe(0);
    expect(insecure.stdout.toString()).toBe('secret');
  });
});
