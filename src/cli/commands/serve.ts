/**
 * `ghostnet serve`: the HTTP server — HTTP/1.1 and HTTP/2 on one port (h2c with prior
 * knowledge or Upgrade; h2 through TLS ALPN), one application. Prints exactly one line, `listening on http://H:P`
 * (`https://` with TLS), once it accepts connections; SIGTERM/SIGINT drain in-flight
 * requests, close idle keep-alive connections at once, and exit 0 within the deadline.
 */
import { readFileSync } from 'node:fs';
import { ShutdownManager } from '../../lifecycle/shutdown.js';
import { HealthChecks } from '../../monitoring/health.js';
import { componentLogger, createLogger } from '../../monitoring/logger.js';
import type { LogLevel } from '../../monitoring/logger.js';
import { Metrics } from '../../monitoring/metrics.js';
import { listenHttp } from '../../protocols/http2/http-server.js';
import { WebSocketServer } from '../../protocols/websocket/server.js';
import type { WebSocket } from '../../protocols/websocket/socket.js';
import type { Command, CommandContext } from '../command.js';
import { packageVersion } from '../main.js';
import { createServeApp } from '../serve/app.js';
import { resolveServeConfig } from '../serve/config.js';

/** Echo every message as received; the iterator pauses the socket while a send drains. */
async function echo(ws: WebSocket): Promise<void> {
  for await (const { data, isBinary } of ws) {
    if (ws.readyState !== 'open') break;
    if (!ws.send(data, { binary: isBinary })) await ws.drained();
  }
}

async function run(ctx: CommandContext): Promise<number> {
  const config = resolveServeConfig(ctx);
  const logger = createLogger({ destination: ctx.io.stderr, level: config.logLevel as LogLevel });
  const log = componentLogger(logger, 'serve');
  const metrics = new Metrics();
  const health = new HealthChecks();
  const handler = createServeApp(config, {
    logger: componentLogger(logger, 'http'),
    metrics,
    health,
    version: packageVersion(),
    startedAt: Date.now(),
  });
  const tls = config.tls
    ? { certificates: [{ cert: readFileSync(config.tls.cert), key: readFileSync(config.tls.key) }] }
    : undefined;
  // GET /ws: a WebSocket echo (text and binary as received), permessage-deflate offered.
  const wss = new WebSocketServer(
    {
      perMessageDeflate: true,
      shouldHandle: (req) => req.path === '/ws',
      observer: metrics.observer,
    },
    (ws) => void echo(ws),
  );
  const server = await listenHttp(
    {
      onUpgrade: wss.upgrade,
      http2: config.http2 ? { onConnect: wss.connect } : false,
      host: config.host,
      port: config.port,
      ...(tls ? { tls } : {}),
      ...(config.keepAliveTimeoutMs !== undefined
        ? { timeouts: { keepAliveTimeoutMs: config.keepAliveTimeoutMs } }
        : {}),
      observer: metrics.observer,
      logger: componentLogger(logger, 'http'),
    },
    handler,
  );

  return new Promise<number>((resolve) => {
    const shutdown = new ShutdownManager(
      {
        logger: log,
        exit: (code) => {
          metrics.stop();
          resolve(code);
        },
      },
      { deadlineMs: config.drainTimeoutMs },
    );
    // Readiness fails first, so a load balancer stops sending while we drain.
    shutdown.register({
      name: 'readiness',
      stopAccepting: () => health.setReady(false, 'shutting down'),
      drain: async () => {},
      destroy: () => {},
    });
    // Before the HTTP server: websockets get their 1001 Close frame before the transport ends.
    shutdown.register(wss.drainable);
    shutdown.register(server.drainable);
    shutdown.listen();
    const { address, port } = server.address;
    const host = address.includes(':') ? `[${address}]` : address;
    ctx.io.stdout.write(`listening on ${tls ? 'https' : 'http'}://${host}:${port}\n`);
  });
}

export const serveCommand: Command = {
  name: 'serve',
  summary: 'Run the HTTP server (static files, /hello, /echo, /health, /metrics, /ws)',
  usage:
    'serve [--host H] [--port P] [--static DIR] [--tls-cert F --tls-key F] [--config FILE] ' +
    '[--log-level L] [--log-requests] [--no-http2]',
  description:
    'Serves HTTP/1.1 and HTTP/2 on one port (h2c by prior knowledge or Upgrade; with ' +
    '--tls-cert/--tls-key, HTTPS with h2 or http/1.1 by ALPN; --no-http2 for HTTP/1.1 only). Routes: GET / (status page), GET ' +
    '/hello, POST /echo, GET /bytes/:n, GET /health, GET /metrics, GET /ws (WebSocket echo), and files from --static. ' +
    'Prints exactly one line, `listening on http://H:P`, once it accepts connections ' +
    '(--port 0 picks a free port). SIGTERM/SIGINT drain and exit 0. --config FILE reads ' +
    'the same settings as JSON (flags override it).',
  options: {
    host: { type: 'string', valueName: 'H', description: 'Address to bind (default 127.0.0.1)' },
    port: {
      type: 'string',
      short: 'p',
      valueName: 'P',
      description: 'Port, 0 for any (default 8080)',
    },
    static: { type: 'string', valueName: 'DIR', description: 'Serve files from DIR' },
    'tls-cert': {
      type: 'string',
      valueName: 'FILE',
      description: 'PEM certificate chain: serve HTTPS',
    },
    'tls-key': { type: 'string', valueName: 'FILE', description: 'PEM private key for --tls-cert' },
    config: { type: 'string', valueName: 'FILE', description: 'JSON configuration file' },
    'log-level': {
      type: 'string',
      valueName: 'L',
      description: 'fatal, error, warn (default), info, debug, trace or silent',
    },
    'log-requests': { type: 'boolean', description: 'Log one line per request (info)' },
    'no-http2': { type: 'boolean', description: 'Serve HTTP/1.1 only' },
    'drain-timeout': {
      type: 'string',
      valueName: 'MS',
      description: 'Shutdown deadline before connections are destroyed (default 5000)',
    },
  },
  run,
};
