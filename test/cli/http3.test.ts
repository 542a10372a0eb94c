/**
 * `ghostnet serve --http3` and `ghostnet fetch --http3`: HTTP/3 on UDP at the TLS port
 * number, advertised by Alt-Svc over HTTP/1.1 and HTTP/2 (RFC 9114 §3.1.1, RFC 7838).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupCerts, makeCa, makeLeaf } from '../helpers/certs.js';
import type { CertAndKey } from '../helpers/certs.js';
import { runGhostnet, startServe } from '../helpers/serve-process.js';
import type { ServeProcess } from '../helpers/serve-process.js';

let leaf: CertAndKey;
let serve: ServeProcess;

beforeAll(async () => {
  const ca = await makeCa();
  leaf = await makeLeaf(ca, { dns: ['localhost'], ip: ['127.0.0.1'] });
  serve = await startServe(['--tls-cert', leaf.certPath, '--tls-key', leaf.keyPath, '--http3']);
});
afterAll(async () => {
  await serve?.stop();
  await cleanupCerts();
});

describe('ghostnet serve --http3 / fetch --http3', () => {
  it('fetch --http3 gets the page over HTTP/3 from the same port number', async () => {
    const r = await runGhostnet([
      'fetch',
      '--http3',
      '-k',
      '-i',
      `https://127.0.0.1:${serve.port}/hello`,
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^HTTP\/3 200\r\n/);
    expect(r.stdout).toContain('Hello, World!');
    expect(r.stdout).not.toMatch(/alt-svc/i);
  });

  it('HTTP/1.1 and HTTP/2 responses advertise h3 with Alt-Svc', async () => {
    for (const extra of [[], ['--http2']]) {
      const r = await runGhostnet([
        'fetch',
        '-k',
        '-i',
        ...extra,
        `https://127.0.0.1:${serve.port}/hello`,
      ]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.toLowerCase()).toContain(`alt-svc: h3=":${serve.port}"; ma=86400`);
    }
  });

  it('fetch --http3 verifies the certificate unless -k', async () => {
    const r = await runGhostnet([
      'fetch',
      '--http3',
      '--timeout',
      '5000',
      `https://127.0.0.1:${serve.port}/hello`,
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/GN_ERR_QUIC_HANDSHAKE/);
  });

  it('refuses --http3 without TLS, and fetch --http3 with an http:// URL (usage errors)', async () => {
    const a = await runGhostnet(['serve', '--port', '0', '--http3']);
    expect(a.code).toBe(2);
    expect(a.stderr).toMatch(/--http3 needs --tls-cert/);
    const b = await runGhostnet(['fetch', '--http3', 'http://127.0.0.1:1/']);
    expect(b.code).toBe(2);
  });

  it('POST /echo streams a body over HTTP/3', async () => {
    const r = await runGhostnet([
      'fetch',
      '--http3',
      '-k',
      '-d',
      'ping over quic',
      `https://127.0.0.1:${serve.port}/echo`,
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('ping over quic');
  });
});
