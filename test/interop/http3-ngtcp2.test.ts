/**
 * ngtcp2's HTTP/3 client (Debian ngtcp2-client: `gtlsclient`, ngtcp2 + nghttp3 + GnuTLS)
 * against ghostnet's HTTP/3:
 *
 * - `ghostnet serve --http3` (the CLI, as a user runs it): GET /hello, a 4 MiB body, and
 *   ten concurrent requests on one connection; SIGTERM then exits 0;
 * - an in-process Http3Server: a 3 MiB upload (gtlsclient sends `-d FILE` as the request
 *   body) whose SHA-256 the handler returns, and request headers as nghttp3's QPACK encoder
 *   sends them.
 *
 * - connection migration (RFC 9000 §9): with `disableActiveMigration: false` the server
 *   hands out spare connection IDs; gtlsclient moves to a new local port mid-download
 *   (`--change-local-addr`), validates the new path, and the 8 MiB download completes.
 *
 * gtlsclient is an independent QUIC stack (ngtcp2) and HTTP/3 + QPACK stack (nghttp3).
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Http3Server } from '../../src/protocols/http3/server.js';
import { cleanupCerts, makeCa, makeLeaf } from '../helpers/certs.js';
import type { CertAndKey } from '../helpers/certs.js';
import { startServe } from '../helpers/serve-process.js';

const GTLSCLIENT = '/usr/bin/gtlsclient';
let leaf: CertAndKey;
let dir: string;

beforeAll(async () => {
  const ca = await makeCa();
  leaf = await makeLeaf(ca, { dns: ['localhost'], ip: ['127.0.0.1'] });
  dir = await mkdtemp(join(tmpdir(), 'ghostnet-ngtcp2-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
  await cleanupCerts();
});

/** Runs gtlsclient; resolves with its exit code and output (bounded by `timeoutMs`). */
function gtlsclient(args: string[], timeoutMs = 30_000): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(
      GTLSCLIENT,
      ['--exit-on-all-streams-close', '--timeout=10s', ...args],
      { timeout: timeoutMs, maxBuffer: 64 << 20 },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
        resolve({ code, out: `${stdout}${stderr}` });
      },
    );
  });
}

describe('ngtcp2 client → `ghostnet serve --http3`', () => {
  it('GET /hello, a 4 MiB body and 10 concurrent requests; SIGTERM exits 0', async () => {
    const serve = await startServe([
      '--tls-cert',
      leaf.certPath,
      '--tls-key',
      leaf.keyPath,
      '--http3',
    ]);
    try {
      const base = `https://127.0.0.1:${serve.port}`;
      const hello = join(dir, 'hello');
      await rm(hello, { recursive: true, force: true });
      const a = await gtlsclient([
        '--no-quic-dump',
        `--download=${dir}`,
        '127.0.0.1',
        String(serve.port),
        `${base}/hello`,
      ]);
      expect(a.code, a.out.slice(-3000)).toBe(0);
      expect(a.out).toContain('[:status: 200]');
      expect(await readFile(join(dir, 'hello'), 'utf8')).toBe('Hello, World!');

      const big = await mkdtemp(join(dir, 'big-'));
      const b = await gtlsclient([
        '-q',
        '-n',
        '10',
        `--download=${big}`,
        '127.0.0.1',
        String(serve.port),
        `${base}/bytes/4194304`,
      ]);
      expect(b.code, b.out.slice(-3000)).toBe(0);
      const files = await readdir(big);
      expect(files).toEqual(['4194304']);
      expect((await readFile(join(big, '4194304'))).length).toBe(4194304);
    } finally {
      expect(await serve.stop()).toBe(0);
    }
  });
});

describe('ngtcp2 client → Http3Server (in process)', () => {
  it('uploads 3 MiB as the request body and gets its SHA-256 back; sees nghttp3 headers', async () => {
    const seen: {
      method: string;
      path: string;
      authority: string | undefined;
      ua: string | undefined;
    }[] = [];
    const server = await new Http3Server(
      async (req, res) => {
        seen.push({
          method: req.method,
          path: req.path,
          authority: req.authority,
          ua: req.headers.get('user-agent'),
        });
        const h = createHash('sha256');
        let n = 0;
        for await (const chunk of req.body) {
          h.update(chunk);
          n += chunk.length;
        }
        res.text(`${n} ${h.digest('hex')}`);
      },
      { quic: { cert: leaf.cert, key: leaf.key }, bodyLimit: 16 << 20 },
    ).listen();
    try {
      const data = randomBytes(3 << 20);
      const file = join(dir, 'upload.bin');
      await writeFile(file, data);
      const out = await mkdtemp(join(dir, 'up-'));
      const port = String(server.address.port);
      const r = await gtlsclient([
        '-q',
        '-d',
        file,
        `--download=${out}`,
        '127.0.0.1',
        port,
        `https://127.0.0.1:${port}/upload`,
      ]);
      expect(r.code, r.out.slice(-3000)).toBe(0);
      expect(await readFile(join(out, 'upload'), 'utf8')).toBe(
        `${data.length} ${createHash('sha256').update(data).digest('hex')}`,
      );
      expect(seen[0]).toMatchObject({ path: '/upload', authority: `127.0.0.1:${port}` });
      expect(seen[0]!.ua).toMatch(/nghttp3|ngtcp2/);
    } finally {
      await server.destroy();
    }
  });
});

describe('ngtcp2 client → connection migration (RFC 9000 §9)', () => {
  it('moves to a new local address mid-download; the path is validated and the body completes', async () => {
    const total = 8 << 20;
    const server = await new Http3Server(
      (_req, res) => {
        res.setHeader('content-length', String(total));
        const chunk = new Uint8Array(64 * 1024).fill(3);
        let sent = 0;
        const pump = (): void => {
          while (sent < total) {
            sent += chunk.length;
            if (!res.write(chunk)) {
              void res.drained().then(pump);
              return;
            }
          }
          res.end();
        };
        pump();
      },
      { quic: { cert: leaf.cert, key: leaf.key, disableActiveMigration: false } },
    ).listen();
    try {
      const out = await mkdtemp(join(dir, 'mig-'));
      const port = String(server.address.port);
      const r = await gtlsclient([
        '--no-quic-dump',
        '--no-http-dump',
        '--change-local-addr=30ms',
        `--download=${out}`,
        '127.0.0.1',
        port,
        `https://127.0.0.1:${port}/big`,
      ]);
      expect(r.code, r.out.slice(-3000)).toBe(0);
      expect(r.out).toContain('Changing local address');
      expect(r.out).toMatch(/Path validation against path .* succeeded/);
      expect((await readFile(join(out, 'big'))).length).toBe(total);
    } finally {
      await server.destroy();
    }
  });
});
