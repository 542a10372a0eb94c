/**
 * `ghostnet fetch` against nginx (Debian's nginx-light) serving files on loopback.
 */
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GHOSTNET_BIN } from '../helpers/serve-process.js';

const NGINX = '/usr/sbin/nginx';
let dir: string;
let port: number;
let nginx: ChildProcess;
const big = randomBytes(3 * 1024 * 1024);

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port: p } = server.address() as net.AddressInfo;
      server.close(() => resolve(p));
    });
  });
}

function waitForPort(p: number, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const socket = net.connect({ port: p, host: '127.0.0.1' });
      socket.once('connect', () => {
        socket.destroy();
        resolve();
      });
      socket.once('error', () => {
        socket.destroy();
        if (Date.now() > until) reject(new Error(`nginx did not listen on ${p}`));
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

function fetchCli(args: string[]): Promise<{ stdout: Buffer; stderr: string; code: number }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [GHOSTNET_BIN, 'fetch', ...args],
      { encoding: 'buffer', timeout: 30_000, maxBuffer: 64 << 20 },
      (err, stdout, stderr) => {
        const code = err ? (err as { code?: unknown }).code : 0;
        resolve({ stdout, stderr: stderr.toString(), code: typeof code === 'number' ? code : 1 });
      },
    );
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ghostnet-nginx-'));
  // nginx's workers drop to an unprivileged user: the web root must be readable by it.
  chmodSync(dir, 0o755);
  const root = join(dir, 'www');
  mkdirSync(root);
  writeFileSync(join(root, 'index.html'), '<h1>nginx peer</h1>\n');
  writeFileSync(join(root, 'big.bin'), big);
  port = await freePort();
  const conf = join(dir, 'nginx.conf');
  writeFileSync(
    conf,
    `daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  types { text/html html; application/octet-stream bin; }
  server {
    listen 127.0.0.1:${port};
    root ${root};
    location = /moved { return 301 /index.html; }
  }
}
`,
  );
  nginx = spawn(NGINX, ['-c', conf, '-p', dir], { stdio: 'ignore' });
  await waitForPort(port, 10_000);
});

afterAll(() => {
  nginx?.kill('SIGQUIT');
  rmSync(dir, { recursive: true, force: true });
});

describe('ghostnet fetch → nginx', () => {
  it('downloads a 3 MiB file intact to -o', async () => {
    const out = join(dir, 'out.bin');
    const r = await fetchCli([`http://127.0.0.1:${port}/big.bin`, '-o', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(out).equals(big)).toBe(true);
  });

  it('prints the status line and headers with -i', async () => {
    const r = await fetchCli(['-i', `http://127.0.0.1:${port}/index.html`]);
    expect(r.code, r.stderr).toBe(0);
    const text = r.stdout.toString('latin1');
    expect(text).toMatch(/^HTTP\/1\.1 200 OK\r?\n/);
    expect(text).toMatch(/\nserver: nginx/i);
    expect(text).toMatch(/<h1>nginx peer<\/h1>\n$/);
  });

  it('follows a redirect with -L and reports 404 with exit code 0, like curl without -f', async () => {
    const notFollowed = await fetchCli(['-i', `http://127.0.0.1:${port}/moved`]);
    expect(notFollowed.stdout.toString('latin1')).toMatch(/^HTTP\/1\.1 301 /);
    const moved = await fetchCli(['-L', `http://127.0.0.1:${port}/moved`]);
    expect(moved.code, moved.stderr).toBe(0);
    expect(moved.stdout.toString()).toBe('<h1>nginx peer</h1>\n');
    const missing = await fetchCli(['-i', `http://127.0.0.1:${port}/missing`]);
    expect(missing.code).toBe(0);
    expect(missing.stdout.toString('latin1')).toMatch(/^HTTP\/1\.1 404 /);
  });

  it('sends HEAD and gets no body', async () => {
    const r = await fetchCli(['-i', '-X', 'HEAD', `http://127.0.0.1:${port}/big.bin`]);
    expect(r.code, r.stderr).toBe(0);
    const text = r.stdout.toString('latin1');
    expect(text).toMatch(new RegExp(`\\ncontent-length: ${big.length}\\r?\\n`, 'i'));
    expect(text.replace(/\r/g, '').endsWith('\n\n')).toBe(true);
  });
});
