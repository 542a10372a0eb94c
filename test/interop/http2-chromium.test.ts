/**
 * Headless Chromium (Debian's chromium) over TLS against ghostnet's dual-protocol server
 * (`listenHttp`: ALPN picks h2 or http/1.1), in process so the test can see which protocol
 * each request used:
 *
 * - the page, `fetch('/hello')` and `fetch('/echo')` must all go over h2 (Resource Timing
 *   `nextHopProtocol`, RFC 9113 §3.2);
 * - then `new WebSocket('wss://…/ws')` from the same page: with an h2 connection open and
 *   SETTINGS_ENABLE_CONNECT_PROTOCOL advertised, Chromium may bootstrap the WebSocket with
 *   extended CONNECT on that connection (RFC 8441) instead of a new HTTP/1.1 connection. The
 *   echo must work either way; the test records which path Chromium took (`req.protocol`
 *   seen by the WebSocket server: 'h2' or 'http/1.1').
 *
 * The page reports by POSTing JSON to /report on the same origin (no mixed content).
 * The shared launcher (test/helpers/chromium.ts) has no way to add flags, and this test
 * needs `--ignore-certificate-errors` (the test CA is not in Chromium's NSS store), so it
 * starts the browser itself with the same flags plus that one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listenHttp } from '../../src/protocols/http2/http-server.js';
import type { HttpServer } from '../../src/protocols/http2/http-server.js';
import type { Handler, HttpProtocol } from '../../src/protocols/http/types.js';
import { WebSocketServer } from '../../src/protocols/websocket/server.js';
import { cleanupCerts, makeCa, makeLeaf } from '../helpers/certs.js';
import { chromiumMissing, launchChromium } from '../helpers/chromium.js';

const REPORT_TIMEOUT_MS = 60_000;

interface PageReport {
  userAgent: string;
  navigation?: string;
  resources: { name: string; protocol: string }[];
  hello?: string;
  echo?: { ok: boolean; length: number };
  ws?: { text: string; binaryOk: boolean; protocol: string; close: { code: number } };
  error?: string;
}

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ghostnet h2 interop</title></head>
<body><pre id="result">running</pre><script>
'use strict';
const result = { userAgent: navigator.userAgent, resources: [] };
function send() {
  const body = JSON.stringify(result);
  document.getElementById('result').textContent = body;
  return fetch('/report', { method: 'POST', body, headers: { 'content-type': 'application/json' } });
}
function wsEcho() {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket('wss://' + location.host + '/ws');
    ws.binaryType = 'arraybuffer';
    const out = { text: '', binaryOk: false, protocol: '', close: null };
    const timer = setTimeout(() => reject(new Error('WebSocket echo timed out')), 20000);
    let step = 0;
    ws.onerror = () => reject(new Error('WebSocket error'));
    ws.onopen = () => { out.protocol = ws.protocol; ws.send('hello over ' + location.protocol); };
    ws.onmessage = (e) => {
      if (step++ === 0) {
        out.text = e.data;
        const bytes = new Uint8Array(100000);
        for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7) & 255;
        ws.send(bytes);
      } else {
        const got = new Uint8Array(e.data);
        out.binaryOk = got.length === 100000 && got.every((b, i) => b === ((i * 7) & 255));
        ws.close(4000, 'done');
      }
    };
    ws.onclose = (e) => { clearTimeout(timer); out.close = { code: e.code }; resolve(out); };
  });
}
(async () => {
  try {
    result.hello = await (await fetch('/hello')).text();
    const payload = 'echo me '.repeat(4096);
    const echoed = await (await fetch('/echo', { method: 'POST', body: payload })).text();
    result.echo = { ok: echoed === payload, length: echoed.length };
    await new Promise((r) => setTimeout(r, 200)); // let Resource Timing entries settle
    result.navigation = performance.getEntriesByType('navigation')[0].nextHopProtocol;
    result.resources = performance.getEntriesByType('resource')
      .map((e) => ({ name: new URL(e.name).pathname, protocol: e.nextHopProtocol }));
    result.ws = await wsEcho();
  } catch (err) {
    result.error = String(err && err.stack ? err.stack : err);
  }
  await send();
})();
</script></body></html>`;

let server: HttpServer | undefined;
let missing: Error | undefined;
let deliver!: (r: PageReport) => void;
const report = new Promise<PageReport>((r) => (deliver = r));
/** The protocol each WebSocket handshake arrived on, as the WebSocket server saw it. */
const wsProtocols: HttpProtocol[] = [];
/** The protocol of every HTTP request the handler served. */
const served: { path: string; protocol: HttpProtocol }[] = [];

beforeAll(async () => {
  missing = chromiumMissing();
  if (missing) return;
  const ca = await makeCa();
  const leaf = await makeLeaf(ca, { dns: ['localhost'], ip: ['127.0.0.1'] });
  const wss = new WebSocketServer({ shouldHandle: (req) => req.path === '/ws' }, (ws, req) => {
    wsProtocols.push(req.protocol);
    void (async () => {
      for await (const { data, isBinary } of ws) {
        if (ws.readyState !== 'open') break;
        if (!ws.send(data, { binary: isBinary })) await ws.drained();
      }
    })();
  });
  const handler: Handler = async (req, res) => {
    served.push({ path: req.path, protocol: req.protocol });
    if (req.path === '/index.html') {
      res.headers.set('content-type', 'text/html; charset=utf-8');
      res.end(PAGE);
    } else if (req.path === '/hello') {
      res.headers.set('content-type', 'text/plain; charset=utf-8');
      res.end('Hello, World!');
    } else if (req.method === 'POST' && req.path === '/echo') {
      res.headers.set('content-type', req.headers.get('content-type') ?? 'text/plain');
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
  server = await listenHttp(
    {
      host: '127.0.0.1',
      port: 0,
      tls: { certificates: [{ cert: leaf.cert, key: leaf.key }] },
      onUpgrade: wss.upgrade,
      http2: { onConnect: wss.connect },
    },
    handler,
  );
});

afterAll(async () => {
  await server?.destroy();
  await cleanupCerts();
});

describe('Chromium → ghostnet listenHttp over TLS', () => {
  it('uses h2 for the page and its fetches; the wss:// echo works (path recorded)', async () => {
    if (missing) throw missing;
    const url = `https://127.0.0.1:${server!.address.port}/index.html`;
    const browser = launchChromium(url, ['--ignore-certificate-errors']);
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

    // Which path this Chromium took (RFC 8441 extended CONNECT over the h2 connection, or
    // a separate HTTP/1.1 Upgrade) goes to the test log: see the report of the run.
    console.log(
      `Chromium ${/Chrom(e|ium)\/([\d.]+)/.exec(r.userAgent)?.[2] ?? '?'} opened wss:// over ` +
        `${wsProtocols[0] === 'h2' ? 'HTTP/2 (RFC 8441 extended CONNECT)' : 'HTTP/1.1 (Upgrade)'}`,
    );
    expect(r.error, JSON.stringify(r, null, 2)).toBeUndefined();
    expect(r.userAgent).toMatch(/Chrom/);
    expect(r.hello).toBe('Hello, World!');
    expect(r.echo).toEqual({ ok: true, length: 'echo me '.repeat(4096).length });
    // RFC 9113 §3.2: ALPN negotiated h2 for the page and both fetches.
    expect(r.navigation).toBe('h2');
    const byPath = Object.fromEntries(r.resources.map((e) => [e.name, e.protocol]));
    expect(byPath).toMatchObject({ '/hello': 'h2', '/echo': 'h2' });
    for (const s of served.filter((x) => x.path !== '/report')) expect(s.protocol).toBe('h2');

    // The WebSocket echo works, whichever way Chromium opened it.
    expect(r.ws).toMatchObject({
      text: 'hello over https:',
      binaryOk: true,
      close: { code: 4000 },
    });
    // RFC 8441: with SETTINGS_ENABLE_CONNECT_PROTOCOL on the open h2 connection, Chromium
    // opens the WebSocket on a stream of it (extended CONNECT), not a new HTTP/1.1 Upgrade.
    expect(wsProtocols).toEqual(['h2']);
  });
});
