/**
 * Headless Chromium runs a WebTransport session (draft-ietf-webtrans-http3) against
 * ghostnet's HTTP/3 server: extended CONNECT (RFC 9220), a bidirectional stream echoed by
 * the server, a unidirectional stream answered on a server-opened unidirectional stream,
 * and datagrams echoed (RFC 9297). The page pins the test certificate with
 * `serverCertificateHashes`; QUIC to the origin is allowed by the SPKI flag.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Handler } from '../../src/protocols/http/types.js';
import { Http3Server } from '../../src/protocols/http3/server.js';
import type { WebTransportSession } from '../../src/protocols/http3/webtransport.js';
import { cleanupCerts, makeCa, makeLeaf } from '../helpers/certs.js';
import { chromiumMissing, launchChromium } from '../helpers/chromium.js';

interface PageReport {
  userAgent: string;
  bidi?: string;
  uni?: string;
  datagrams?: string[];
  closed?: { closeCode: number; reason: string };
  error?: string;
}

function page(certHash: number[]): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ghostnet webtransport interop</title></head>
<body><pre id="result">running</pre><script>
'use strict';
const result = { userAgent: navigator.userAgent };
const dec = new TextDecoder();
const enc = new TextEncoder();
async function readAll(readable) {
  const reader = readable.getReader();
  let text = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return text;
    text += dec.decode(value, { stream: true });
  }
}
(async () => {
  try {
    const wt = new WebTransport('https://' + location.host + '/wt?x=1', {
      serverCertificateHashes: [{ algorithm: 'sha-256', value: new Uint8Array(${JSON.stringify(certHash)}) }],
    });
    await wt.ready;
    const bidi = await wt.createBidirectionalStream();
    const w = bidi.writable.getWriter();
    await w.write(enc.encode('hello bidi'));
    await w.close();
    result.bidi = await readAll(bidi.readable);

    const incoming = wt.incomingUnidirectionalStreams.getReader();
    const uni = await wt.createUnidirectionalStream();
    const uw = uni.getWriter();
    await uw.write(enc.encode('hello uni'));
    await uw.close();
    const back = await incoming.read();
    result.uni = await readAll(back.value);

    const dw = wt.datagrams.writable.getWriter();
    const dr = wt.datagrams.readable.getReader();
    result.datagrams = [];
    for (let i = 0; i < 20 && result.datagrams.length < 3; i++) {
      await dw.write(enc.encode('dgram ' + i));
      const got = await Promise.race([dr.read(), new Promise((r) => setTimeout(() => r(null), 200))]);
      if (got && got.value) result.datagrams.push(dec.decode(got.value));
    }
    wt.close({ closeCode: 7, reason: 'bye' });
    result.closed = await wt.closed;
  } catch (err) {
    result.error = String(err && err.stack ? err.stack : err);
  }
  await fetch('/report', { method: 'POST', body: JSON.stringify(result) });
})();
</script></body></html>`;
}

let server: Http3Server | undefined;
let spki = '';
let certHash: number[] = [];
let missing: Error | undefined;
let deliver!: (r: PageReport) => void;
const report = new Promise<PageReport>((r) => (deliver = r));
const sessions: { path: string; closed?: { code: number; reason: string } }[] = [];

function onSession(wts: WebTransportSession): void {
  const record: { path: string; closed?: { code: number; reason: string } } = { path: wts.path };
  sessions.push(record);
  wts.on('close', (info) => (record.closed = info));
  wts.on('stream', (s) => {
    const chunks: Uint8Array[] = [];
    s.on('data', (d) => chunks.push(d));
    s.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      if (s.uni) {
        const out = wts.openStream({ uni: true });
        out.write(new TextEncoder().encode(`echo: ${text}`));
        out.end();
      } else {
        s.write(new TextEncoder().encode(`echo: ${text}`));
        s.end();
      }
    });
  });
  wts.on('datagram', (d) =>
    wts.sendDatagram(new TextEncoder().encode(`echo: ${Buffer.from(d).toString()}`)),
  );
}

beforeAll(async () => {
  missing = chromiumMissing();
  if (missing) return;
  const ca = await makeCa();
  const leaf = await makeLeaf(ca, { dns: ['localhost'], ip: ['127.0.0.1'], days: 10 });
  const x509 = new X509Certificate(leaf.cert);
  spki = createHash('sha256')
    .update(x509.publicKey.export({ type: 'spki', format: 'der' }))
    .digest('base64');
  certHash = [...createHash('sha256').update(x509.raw).digest()];
  const html = page(certHash);
  const handler: Handler = async (req, res) => {
    if (req.path === '/index.html') {
      res.headers.set('content-type', 'text/html; charset=utf-8');
      res.end(html);
    } else if (req.method === 'POST' && req.path === '/report') {
      const r = await req.json<PageReport>();
      res.status = 204;
      res.end();
      deliver(r);
    } else {
      res.status = 404;
      res.end();
    }
  };
  server = await new Http3Server(handler, {
    host: '127.0.0.1',
    port: 0,
    quic: { cert: leaf.cert, key: leaf.key },
    webtransport: { onSession },
  }).listen();
});

afterAll(async () => {
  await server?.destroy();
  await cleanupCerts();
});

describe('Chromium WebTransport → ghostnet HTTP/3 server', () => {
  it('opens a session; bidirectional and unidirectional streams and datagrams echo; the close code arrives', async () => {
    if (missing) throw missing;
    const origin = `127.0.0.1:${server!.address.port}`;
    const browser = launchChromium(`https://${origin}/index.html`, [
      '--enable-quic',
      `--origin-to-force-quic-on=${origin}`,
      `--ignore-certificate-errors-spki-list=${spki}`,
    ]);
    let r: PageReport;
    try {
      r = await browser.awaitReport(report, 60_000, () => `sessions ${JSON.stringify(sessions)}`);
    } finally {
      await browser.stop();
    }
    expect(r.error, JSON.stringify(r, null, 2)).toBeUndefined();
    expect(sessions[0]?.path).toBe('/wt?x=1');
    expect(r.bidi).toBe('echo: hello bidi');
    expect(r.uni).toBe('echo: hello uni');
    expect(r.datagrams!.length).toBeGreaterThan(0);
    for (const d of r.datagrams!) expect(d).toMatch(/^echo: dgram \d+$/);
    expect(r.closed).toEqual({ closeCode: 7, reason: 'bye' });
    expect(sessions[0]?.closed).toEqual({ code: 7, reason: 'bye' });
  });
});
