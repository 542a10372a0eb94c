/**
 * `ghostnet serve`: the HTTP server — HTTP/1.1 and HTTP/2 on one port (h2c with prior
 * knowledge or Upgrade; h2 through TLS ALPN), and with --http3 HTTP/3 on UDP at the same
 * port number (advertised by Alt-Svc), one application. Prints exactly one line, `listening on http://H:P`
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
import type { Handler } from '../../protocols/http/types.js';
import { Http3Server } from '../../protocols/http3/server.js';
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
  const app = createServeApp(config, {
    logger: componentLogger(logger, 'http'),
    metrics,
    health,
    version: packageVersion(),
    startedAt: Date.now(),
  });
  // With --http3, HTTP/1.1 and HTTP/2 responses advertise it (RFC 9114 §3.1.1, RFC 7838).
  let altSvc: string | undefined;
  const handler: Handler = (req, res) => {
    if (altSvc !== undefined && req.protocol !== 'h3') res.headers.set('alt-svc', altSvc);
    return app(req, res);
  };
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
  let h3: Http3Server | undefined;
  if (config.http3 && config.tls !== undefined) {
    try {
      h3 = await new Http3Server(handler, {
        host: config.host,
        port: server.address.port,
        quic: { cert: readFileSync(config.tls.cert), key: readFileSync(config.tls.key) },
        observer: metrics.observer,
        logger: componentLogger(logger, 'h3'),
      }).listen();
    } catch (err) {
      await server.destroy();
      throw err;
    }
    altSvc = `h3=":${server.address.port}"; ma=86400`;
  }

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
    if (h3 !== undefined) shutdown.register(h3.drainable);
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
    '[--log-level L] [--log-requests] [--no-http2] [--http3]',
  description:
    'Serves HTTP/1.1 and HTTP/2 on one port (h2c by prior knowledge or Upgrade; with ' +
    '--tls-cert/--tls-key, HTTPS with h2 or http/1.1 by ALPN; --no-http2 for HTTP/1.1 only; ' +
    '--http3 adds HTTP/3 on UDP at the same port number, advertised by Alt-Svc). Routes: GET / (status page), GET ' +
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
    http3: {
      type: 'boolean',
      description: 'Also serve HTTP/3 (QUIC, UDP) on the same port number; needs TLS',
    },
    'drain-timeout': {
      type: 'string',
      valueName: 'MS',
      description: 'Shutdown deadline before connections are destroyed (default 5000)',
    },
  },
  run,
};
