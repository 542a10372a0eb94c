/**
 * The application `ghostnet serve` runs: built-in routes plus optional static files, on the
 * shared router and middleware, so every HTTP engine serves the same thing.
 *
 *   GET  /           HTML status page          GET /health   readiness report (JSON)
 *   GET  /hello      "Hello, World!"           GET /metrics  Prometheus text exposition
 *   POST /echo       the body and its type     GET /bytes/:n n bytes, streamed
 *   GET  /ws         WebSocket echo (served by the upgrade hook in commands/serve.ts)
 */
import type { HealthChecks } from '../../monitoring/health.js';
import { HEALTH_CONTENT_TYPE, httpStatus } from '../../monitoring/health.js';
import type { Logger } from '../../monitoring/logger.js';
import type { Metrics } from '../../monitoring/metrics.js';
import { createApp } from '../../protocols/http/app.js';
import { HttpError } from '../../protocols/http/errors.js';
import {
  compression,
  recovery,
  requestLogger,
  securityHeaders,
} from '../../protocols/http/middleware/index.js';
import { serveStatic } from '../../protocols/http/static/serve-static.js';
import type { Handler, HttpRequest, HttpResponse } from '../../protocols/http/types.js';
import type { ServeConfig } from './config.js';

const HELLO = new TextEncoder().encode('Hello, World!');
const BYTES_CHUNK = new Uint8Array(64 * 1024).fill(0x61);

export interface ServeAppComponents {
  logger: Logger;
  metrics: Metrics;
  health: HealthChecks;
  version: string;
  startedAt: number;
}

export function createServeApp(config: ServeConfig, c: ServeAppComponents): Handler {
  const app = createApp();
  app.use(recovery({ logger: c.logger }));
  if (config.logRequests) app.use(requestLogger({ logger: c.logger }));
  if (config.securityHeaders) app.use(securityHeaders());
  if (config.compression) app.use(compression());
  if (config.static !== undefined) app.use(serveStatic(config.static, { fallthrough: true }));

  app.get('/', (req, res) => statusPage(req, res, config, c));

  app.get('/hello', (_req, res) => {
    res.headers.set('content-type', 'text/plain; charset=utf-8');
    res.end(HELLO);
  });

  app.post('/echo', async (req, res) => {
    const length = req.body.expectedLength;
    if (length !== undefined && length > config.maxEchoBytes) {
      throw new HttpError(413, `POST /echo takes at most ${config.maxEchoBytes} bytes`);
    }
    res.headers.set('content-type', req.headers.get('content-type') ?? 'application/octet-stream');
    if (length !== undefined) res.headers.set('content-length', length);
    let total = 0;
    for await (const chunk of req.body) {
      total += chunk.length;
      if (total > config.maxEchoBytes) {
        throw new HttpError(413, `POST /echo takes at most ${config.maxEchoBytes} bytes`);
      }
      if (!res.write(chunk)) await res.drained();
    }
    res.end();
  });

  app.get('/bytes/:n', async (req, res) => {
    const raw = req.params.n ?? '';
    const n = /^\d{1,12}$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isSafeInteger(n) || n > config.maxBytesRoute) {
      throw new HttpError(400, `n must be an integer from 0 to ${config.maxBytesRoute}`);
    }
    res.headers.set('content-type', 'application/octet-stream');
    res.headers.set('content-length', n);
    let left = n;
    while (left > 0) {
      if (req.signal.aborted) return;
      const size = Math.min(left, BYTES_CHUNK.length);
      left -= size;
      const ok = res.write(
        size === BYTES_CHUNK.length ? BYTES_CHUNK : BYTES_CHUNK.subarray(0, size),
      );
      if (!ok) await res.drained();
    }
    res.end();
  });

  app.get('/health', async (_req, res) => {
    const report = await c.health.readiness();
    res.status = httpStatus(report);
    res.send(JSON.stringify(report), HEALTH_CONTENT_TYPE);
  });

  app.get('/metrics', async (req, res) => {
    const { contentType, body } = await c.metrics.exposition({ accept: req.headers.get('accept') });
    res.send(body, contentType);
  });

  return app.handler();
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

function statusPage(
  req: HttpRequest,
  res: HttpResponse,
  config: ServeConfig,
  c: ServeAppComponents,
): void {
  const uptime = Math.round((Date.now() - c.startedAt) / 1000);
  const rows: Array<[string, string]> = [
    ['version', c.version],
    ['node', process.version],
    ['uptime', `${uptime} s`],
    ['protocol', req.protocol],
    [
      'your address',
      req.remoteAddress ? `${req.remoteAddress.address}:${req.remoteAddress.port}` : 'unknown',
    ],
    ['static files', config.static ?? 'off'],
    ['compression', config.compression ? 'gzip, deflate, br' : 'off'],
  ];
  const routes: Array<[string, string]> = [
    ['GET /hello', 'plain text greeting'],
    ['POST /echo', 'echoes the request body with its content type'],
    ['GET /bytes/:n', 'n bytes, streamed'],
    ['GET /health', 'readiness report (application/health+json)'],
    ['GET /metrics', 'Prometheus metrics'],
    ['GET /ws', 'WebSocket echo (text and binary, permessage-deflate)'],
  ];
  const table = (data: Array<[string, string]>) =>
    data.map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`).join('\n');
  const html = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>ghostnet</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:44rem;margin:2rem auto;padding:0 1rem}
th{text-align:left;padding-right:1.5rem;font-weight:600}code{font-size:90%}</style></head>
<body>
<h1>ghostnet is serving</h1>
<p>Hand-written network protocol stacks for Node.js. This server runs ghostnet's own
HTTP/1.1 engine (sans-I/O parser and connection core) on its TCP transport.</p>
<h2>Server</h2>
<table>
${table(rows)}
</table>
<h2>Routes</h2>
<table>
${table(routes)}
</table>
</body>
</html>
`;
  res.send(html, 'text/html; charset=utf-8');
}
