/**
 * Headless Chromium (Debian's chromium) fetching pages from ghostnet's HTTP/3 server over
 * QUIC. Chromium is told to use QUIC for the origin from the first request
 * (`--origin-to-force-quic-on`) and to trust the test certificate by its SPKI hash
 * (`--ignore-certificate-errors-spki-list`; `--ignore-certificate-errors` alone does not
 * cover QUIC). The page fetches a text, echoes a 256 KiB body, runs 20 fetches in
 * parallel, and reports Resource Timing's `nextHopProtocol` for each (RFC 9114 §3.1: "h3").
 */
import { createHash, X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Handler, HttpProtocol } from '../../src/protocols/http/types.js';
import { Http3Server } from '../../src/protocols/http3/server.js';
import { cleanupCerts, makeCa, makeLeaf } from '../helpers/certs.js';
import { chromiumMissing, launchChromium } from '../helpers/chromium.js';

const REPORT_TIMEOUT_MS = 60_000;

interface PageReport {
  userAgent: string;
  navigation?: string;
  resources: { name: string; protocol: string }[];
  hello?: string;
  echo?: { ok: boolean; length: number };
  parallel?: string[];
  error?: string;
}

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ghostnet h3 interop</title></head>
<body><pre id="result">running</pre><script>
'use strict';
const result = { userAgent: navigator.userAgent, resources: [] };
(async () => {
  try {
    result.hello = await (await fetch('/hello')).text();
    const payload = 'echo me over quic '.repeat(14564);
    const echoed = await (await fetch('/echo', { method: 'POST', body: payload })).text();
    result.echo = { ok: echoed === payload, length: echoed.length };
    result.parallel = await Promise.all(Array.from({ length: 20 }, (_, i) =>
      fetch('/n/' + i).then((r) => r.text())));
    await new Promise((r) => setTimeout(r, 200));
    result.navigation = performance.getEntriesByType('navigation')[0].nextHopProtocol;
    result.resources = performance.getEntriesByType('resource')
      .map((e) => ({ name: new URL(e.name).pathname, protocol: e.nextHopProtocol }));
  } catch (err) {
    result.error = String(err && err.stack ? err.stack : err);
  }
  await fetch('/report', { method: 'POST', body: JSON.stringify(result) });
})();
</script></body></html>`;

let server: Http3Server | undefined;
let spki = '';
let missing: Error | undefined;
let deliver!: (r: PageReport) => void;
const report = new Promise<PageReport>((r) => (deliver = r));
const served: { path: string; protocol: HttpProtocol }[] = [];

beforeAll(async () => {
  missing = chromiumMissing();
  if (missing) return;
  const ca = await makeCa();
  const leaf = await makeLeaf(ca, { dns: ['localhost'], ip: ['127.0.0.1'] });
  const der = new X509Certificate(leaf.cert).publicKey.export({ type: 'spki', format: 'der' });
  spki = createHash('sha256').update(der).digest('base64');
  const handler: Handler = async (req, res) => {
    served.push({ path: req.path, protocol: req.protocol });
    if (req.path === '/index.html') {
      res.headers.set('content-type', 'text/html; charset=utf-8');
      res.end(PAGE);
    } else if (req.path === '/hello') {
      res.text('Hello over HTTP/3');
    } else if (req.path.startsWith('/n/')) {
      res.text(`n=${req.path.slice(3)}`);
    } else if (req.method === 'POST' && req.path === '/echo') {
      res.headers.set('content-type', 'text/plain');
      for await (const chunk of req.body) if (!res.write(chunk)) await res.drained();
      res.end();
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
  }).listen();
});

afterAll(async () => {
  await server?.destroy();
  await cleanupCerts();
});

describe('Chromium → ghostnet HTTP/3 server', () => {
  it('loads the page and its fetches over h3: text, a 256 KiB echo, 20 parallel requests', async () => {
    if (missing) throw missing;
    const origin = `127.0.0.1:${server!.address.port}`;
    const browser = launchChromium(`https://${origin}/index.html`, [
      '--enable-quic',
      `--origin-to-force-quic-on=${origin}`,
      `--ignore-certificate-errors-spki-list=${spki}`,
    ]);
    let r: PageReport;
    try {
      r = await browser.awaitReport(
        report,
        REPORT_TIMEOUT_MS,
        () => `served ${JSON.stringify(served)}`,
      );
    } finally {
      await browser.stop();
    }
    console.log(`Chromium ${/Chrom(e|ium)\/([\d.]+)/.exec(r.userAgent)?.[2] ?? '?'} over HTTP/3`);
    expect(r.error, JSON.stringify(r, null, 2)).toBeUndefined();
    expect(r.hello).toBe('Hello over HTTP/3');
    expect(r.echo).toEqual({ ok: true, length: 'echo me over quic '.repeat(14564).length });
    expect(r.parallel).toEqual(Array.from({ length: 20 }, (_, i) => `n=${i}`));
    expect(r.navigation).toBe('h3');
    for (const e of r.resources.filter((x) => x.name !== '/report')) expect(e.protocol).toBe('h3');
    for (const s of served) expect(s.protocol).toBe('h3');
  });
});
