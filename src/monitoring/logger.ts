/**
 * Structured logging through pino (DESIGN §6): one JSON object per line, child loggers per
 * component, connection and request.
 *
 * Bindings and nodes depend on the small `Logger` interface below, not on pino's types
 * (STYLE §9: the logger is an injected, optional component; `silentLogger` is the
 * default). Any pino logger satisfies it, and so does a hand-written test double.
 *
 * Conventions for the fields children add:
 * - `component`: the module that logs ('http1-server', 'dht', 'pool', …);
 * - `conn`: the transport's connection id (`StreamConnection#id`, e.g. 'tcp-7'), and
 *   `remote`: the peer as `host:port` (`[v6]:port` for IPv6);
 * - `req`: a request id from `createRequestId()` (or one the client supplied).
 *
 * Pretty printing is not built in (it needs pino-pretty, an extra dependency); pipe the
 * output through `pino-pretty` when reading logs by eye.
 */
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import type { DestinationStream, Logger as PinoLogger } from 'pino';
import { InvalidOptionError } from '../errors.js';
import type { SocketAddress } from '../transport/types.js';

/** A log method: a message, or a structured object and an optional message. */
export interface LogMethod {
  (msg: string): void;
  (obj: object, msg?: string): void;
}

/** The logging surface ghostnet modules depend on. Every pino logger implements it. */
export interface Logger {
  debug: LogMethod;
  info: LogMethod;
  warn: LogMethod;
  error: LogMethod;
  /** A logger that adds `bindings` to every record. */
  child(bindings: Record<string, unknown>): Logger;
}

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

const LEVELS: ReadonlySet<string> = new Set<LogLevel>([
  'fatal',
  'error',
  'warn',
  'info',
  'debug',
  'trace',
  'silent',
]);

/** The environment variable `createLogger` reads the level from when none is passed. */
export const LOG_LEVEL_ENV = 'GHOSTNET_LOG_LEVEL';

/**
 * Paths always redacted: HTTP credentials in a logged `headers` object. Keys are matched
 * lower-case, as ghostnet's HTTP engines normalise header names.
 */
export const DEFAULT_REDACT_PATHS: readonly string[] = Object.freeze([
  'headers.authorization',
  'headers["proxy-authorization"]',
  'headers.cookie',
  'headers["set-cookie"]',
]);

/** The most redact paths accepted (each one is compiled into the serializer). */
const MAX_REDACT_PATHS = 256;

export interface LoggerOptions {
  /**
   * The minimum level written. When omitted, the `GHOSTNET_LOG_LEVEL` environment variable
   * is used if it holds a valid level (an invalid value is ignored with a warning record).
   * @default 'info' (or GHOSTNET_LOG_LEVEL)
   */
  level?: LogLevel;
  /**
   * The `name` field of every record.
   * @default 'ghostnet'
   */
  name?: string;
  /**
   * Where JSON lines go: anything with `write(line: string)` — a pino destination, a
   * writable stream, or a collector in tests.
   * @default pino's standard output destination
   */
  destination?: DestinationStream;
  /**
   * Extra pino redact paths (e.g. `'body.password'`, `'*.apiKey'`), added to
   * `DEFAULT_REDACT_PATHS`. Redacted values are written as `"[Redacted]"`.
   * @default []
   */
  redact?: readonly string[];
  /**
   * The environment to read `GHOSTNET_LOG_LEVEL` from (tests pass their own).
   * @default process.env
   */
  env?: Readonly<Record<string, string | undefined>>;
}

/** Creates the root pino logger. Records carry `level` as a name ('info'), not a number. */
export function createLogger(options: LoggerOptions = {}): PinoLogger {
  if (options.level !== undefined && !LEVELS.has(options.level)) {
    throw new InvalidOptionError(
      `Invalid log level ${JSON.stringify(options.level)}: use one of ${[...LEVELS].join(', ')}`,
    );
  }
  const name = options.name ?? 'ghostnet';
  if (typeof name !== 'string' || name.length === 0) {
    throw new InvalidOptionError('Invalid logger name: use a non-empty string');
  }
  const extra = options.redact ?? [];
  if (!Array.isArray(extra) || extra.some((path) => typeof path !== 'string')) {
    throw new InvalidOptionError('Invalid redact option: use an array of pino redact paths');
  }
  const paths = [...DEFAULT_REDACT_PATHS, ...extra];
  if (paths.length > MAX_REDACT_PATHS) {
    throw new InvalidOptionError(`Too many redact paths: use at most ${MAX_REDACT_PATHS}`);
  }

  const envLevel = (options.env ?? process.env)[LOG_LEVEL_ENV];
  let ignoredEnvLevel: string | undefined;
  let level: string = options.level ?? 'info';
  if (options.level === undefined && envLevel !== undefined && envLevel !== '') {
    const normalised = envLevel.trim().toLowerCase();
    if (LEVELS.has(normalised)) level = normalised;
    else ignoredEnvLevel = envLevel;
  }

  let logger: PinoLogger;
  try {
    logger = pino(
      {
        name,
        level,
        redact: { paths, censor: '[Redacted]' },
        formatters: { level: (label) => ({ level: label }) },
      },
      options.destination ?? pino.destination({ dest: 1, sync: true }),
    );
  } catch (err) {
    throw new InvalidOptionError(
      `Invalid logger options (check the redact paths use pino's path syntax): ${String(err)}`,
    );
  }
  if (ignoredEnvLevel !== undefined) {
    logger.warn(
      { [LOG_LEVEL_ENV]: ignoredEnvLevel.slice(0, 64) },
      `ignoring invalid ${LOG_LEVEL_ENV}; valid levels: ${[...LEVELS].join(', ')}`,
    );
  }
  return logger;
}

/** A child logger for one module: adds `{ component }`. */
export function componentLogger(parent: PinoLogger, component: string): PinoLogger;
export function componentLogger(parent: Logger, component: string): Logger;
export function componentLogger(parent: Logger, component: string): Logger {
  return parent.child({ component });
}

/** A child logger for one connection: adds `{ conn }` and, when known, `{ remote }`. */
export function connectionLogger(
  parent: PinoLogger,
  connId: string,
  remote?: SocketAddress | string,
): PinoLogger;
export function connectionLogger(
  parent: Logger,
  connId: string,
  remote?: SocketAddress | string,
): Logger;
export function connectionLogger(
  parent: Logger,
  connId: string,
  remote?: SocketAddress | string,
): Logger {
  if (remote === undefined) return parent.child({ conn: connId });
  return parent.child({ conn: connId, remote: formatRemote(remote) });
}

/** A child logger for one request: adds `{ req }`. */
export function requestLogger(parent: PinoLogger, requestId: string): PinoLogger;
export function requestLogger(parent: Logger, requestId: string): Logger;
export function requestLogger(parent: Logger, requestId: string): Logger {
  return parent.child({ req: requestId });
}

/**
 * A short random request id: 12 URL-safe base64 characters (72 random bits from the
 * system CSPRNG), so ids from different processes and restarts do not collide in
 * practice (about 1 in 10^10 for a million ids) and reveal nothing about traffic volume.
 */
export function createRequestId(): string {
  return randomBytes(9).toString('base64url');
}

/** `host:port`, with IPv6 literals in brackets (RFC 3986 §3.2.2). */
function formatRemote(remote: SocketAddress | string): string {
  if (typeof remote === 'string') return remote;
  const host =
    remote.family === 'IPv6' || remote.address.includes(':')
      ? `[${remote.address}]`
      : remote.address;
  return `${host}:${remote.port}`;
}

const noop = (): void => {};

/** A logger that discards everything; the default wherever a logger is optional. */
export const silentLogger: Logger = Object.freeze({
  debug: noop,
  info: noop,
  warn: noop,
  error: noop,
  child: (): Logger => silentLogger,
});
