/**
 * `ghostnet echo`: a TCP (or TLS) echo server. It exercises the whole foundation — the
 * transport, graceful shutdown with a connection tracker, and structured logs — and is a
 * handy peer for testing clients. On SIGTERM/SIGINT it stops accepting, closes connections
 * gracefully, and exits 0 (1 if the drain deadline forced destruction).
 */
import { readFileSync } from 'node:fs';
import { ConnectionTracker, serverDrainable } from '../../lifecycle/connection-tracker.js';
import { ShutdownManager } from '../../lifecycle/shutdown.js';
import { componentLogger, createLogger } from '../../monitoring/logger.js';
import { listenTcp } from '../../transport/tcp.js';
import { listenTls } from '../../transport/tls.js';
import type { StreamConnection, StreamServer } from '../../transport/types.js';
import { UsageError } from '../command.js';
import type { Command, CommandContext } from '../command.js';
import { parseMs, parsePort } from '../parse.js';

async function run(ctx: CommandContext): Promise<number> {
  const { values, io } = ctx;
  const host = (values.host as string | undefined) ?? '127.0.0.1';
  const port = parsePort(values.port as string | undefined, 7007);
  const idleTimeoutMs = parseMs(
    'idle-timeout',
    values['idle-timeout'] as string | undefined,
    300_000,
  );
  const deadlineMs = parseMs('drain-timeout', values['drain-timeout'] as string | undefined, 5_000);
  const certFile = values['tls-cert'] as string | undefined;
  const keyFile = values['tls-key'] as string | undefined;
  if ((certFile === undefined) !== (keyFile === undefined)) {
    throw new UsageError('--tls-cert and --tls-key go together');
  }

  const logger = createLogger({ destination: io.stderr });
  const log = componentLogger(logger, 'echo');
  const tracker = new ConnectionTracker<StreamConnection>();
  const onConnection = (conn: StreamConnection): void => {
    tracker.track(conn);
    conn.on('data', (chunk) => {
      if (!conn.write(chunk)) {
        conn.pause();
        conn.once('drain', () => conn.resume());
      }
    });
    conn.on('end', () => conn.end());
    conn.on('error', (err) => log.debug({ conn: conn.id, err }, 'connection error'));
  };

  let server: StreamServer;
  let scheme: string;
  if (certFile !== undefined && keyFile !== undefined) {
    const certificates = [{ cert: readFileSync(certFile), key: readFileSync(keyFile) }];
    server = await listenTls({ host, port, idleTimeoutMs, certificates }, onConnection);
    scheme = 'tls';
  } else {
    server = await listenTcp({ host, port, idleTimeoutMs }, onConnection);
    scheme = 'tcp';
  }

  return new Promise<number>((resolve) => {
    const shutdown = new ShutdownManager(
      { logger: log, exit: (code) => resolve(code) },
      { deadlineMs },
    );
    shutdown.register(serverDrainable('echo', server, tracker));
    // Signal handlers go in before the listening line, so a supervisor that signals as
    // soon as it reads the line always gets a graceful shutdown.
    shutdown.listen();
    const { address, port: boundPort } = server.address;
    const shown = address.includes(':') ? `[${address}]` : address;
    io.stdout.write(
      ctx.json
        ? `${JSON.stringify({ event: 'listening', protocol: scheme, address, port: boundPort })}\n`
        : `listening on ${scheme}://${shown}:${boundPort}\n`,
    );
  });
}

export const echoCommand: Command = {
  name: 'echo',
  summary: 'Run a TCP or TLS echo server (graceful shutdown on SIGTERM/SIGINT)',
  usage: 'echo [--host H] [--port P] [--tls-cert F --tls-key F] [--json]',
  description:
    'Echoes every byte back to the sender. Prints one line when listening ' +
    '(`listening on tcp://H:P`, or a JSON object with --json). On SIGTERM/SIGINT it stops ' +
    'accepting, closes connections gracefully and exits 0; a second signal forces exit.',
  options: {
    host: { type: 'string', valueName: 'H', description: 'Address to bind (default 127.0.0.1)' },
    port: {
      type: 'string',
      short: 'p',
      valueName: 'P',
      description: 'Port, 0 for any (default 7007)',
    },
    'tls-cert': {
      type: 'string',
      valueName: 'FILE',
      description: 'PEM certificate chain: serve TLS',
    },
    'tls-key': { type: 'string', valueName: 'FILE', description: 'PEM private key for --tls-cert' },
    'idle-timeout': {
      type: 'string',
      valueName: 'MS',
      description: 'Close connections idle this long (default 300000, 0 = never)',
    },
    'drain-timeout': {
      type: 'string',
      valueName: 'MS',
      description: 'Shutdown deadline before connections are destroyed (default 5000)',
    },
  },
  run,
};
