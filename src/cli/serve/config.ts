/**
 * `ghostnet serve` configuration: defaults, `--config FILE` (JSON), then command-line flags,
 * each later source overriding the earlier one. Unknown keys are refused, so a typo never
 * silently falls back to a default.
 */
import { readFileSync } from 'node:fs';
import { UsageError } from '../command.js';
import type { CommandContext } from '../command.js';
import { parseMs, parsePort } from '../parse.js';

export interface ServeConfig {
  host: string;
  port: number;
  /** Directory served as static files (before the built-in routes). */
  static: string | undefined;
  tls: { cert: string; key: string } | undefined;
  logLevel: string;
  /** Log one line per request (at info). */
  logRequests: boolean;
  compression: boolean;
  securityHeaders: boolean;
  /** Largest POST /echo body. */
  maxEchoBytes: number;
  /** Largest GET /bytes/:n. */
  maxBytesRoute: number;
  /** Shutdown deadline. */
  drainTimeoutMs: number;
  /** Keep-alive idle timeout. */
  keepAliveTimeoutMs: number | undefined;
  /** Serve HTTP/2 too (h2c prior knowledge and Upgrade, h2 through TLS ALPN). */
  http2: boolean;
  /** Serve HTTP/3 on UDP at the TLS port number, advertised by Alt-Svc (needs tls). */
  http3: boolean;
}

export const SERVE_DEFAULTS: Readonly<ServeConfig> = Object.freeze({
  host: '127.0.0.1',
  port: 8080,
  static: undefined,
  tls: undefined,
  logLevel: 'warn',
  logRequests: false,
  compression: true,
  securityHeaders: false,
  maxEchoBytes: 64 * 1024 * 1024,
  maxBytesRoute: 1024 * 1024 * 1024,
  drainTimeoutMs: 5_000,
  keepAliveTimeoutMs: undefined,
  http2: true,
  http3: false,
});

const LOG_LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

type Checker = (value: unknown, key: string) => unknown;

const isString: Checker = (v, k) => {
  if (typeof v !== 'string' || v === '')
    throw new UsageError(`config "${k}" must be a non-empty string`);
  return v;
};
const isBoolean: Checker = (v, k) => {
  if (typeof v !== 'boolean') throw new UsageError(`config "${k}" must be true or false`);
  return v;
};
const isCount: Checker = (v, k) => {
  if (!Number.isSafeInteger(v) || (v as number) < 0) {
    throw new UsageError(`config "${k}" must be a non-negative integer`);
  }
  return v;
};

const CHECKS: Record<keyof ServeConfig, Checker> = {
  host: isString,
  port: (v, k) => {
    isCount(v, k);
    if ((v as number) > 65535) throw new UsageError(`config "${k}" must be at most 65535`);
    return v;
  },
  static: isString,
  tls: (v, k) => {
    const t = v as { cert?: unknown; key?: unknown } | null;
    if (
      typeof t !== 'object' ||
      t === null ||
      Object.keys(t).some((x) => x !== 'cert' && x !== 'key')
    ) {
      throw new UsageError(`config "${k}" must be { "cert": FILE, "key": FILE }`);
    }
    return { cert: isString(t.cert, `${k}.cert`), key: isString(t.key, `${k}.key`) };
  },
  logLevel: (v, k) => {
    if (typeof v !== 'string' || !LOG_LEVELS.has(v)) {
      throw new UsageError(`config "${k}" must be one of ${[...LOG_LEVELS].join(', ')}`);
    }
    return v;
  },
  logRequests: isBoolean,
  compression: isBoolean,
  securityHeaders: isBoolean,
  maxEchoBytes: isCount,
  maxBytesRoute: isCount,
  drainTimeoutMs: isCount,
  keepAliveTimeoutMs: isCount,
  http2: isBoolean,
  http3: isBoolean,
};

export function readConfigFile(path: string): Partial<ServeConfig> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new UsageError(`cannot read --config ${path}: ${(err as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new UsageError(`--config ${path} must hold a JSON object`);
  }
  const out: Partial<ServeConfig> = {};
  for (const [key, value] of Object.entries(parsed)) {
    const check = CHECKS[key as keyof ServeConfig];
    if (!check) {
      throw new UsageError(
        `unknown key "${key}" in --config ${path}; known keys: ${Object.keys(CHECKS).join(', ')}`,
      );
    }
    (out as Record<string, unknown>)[key] = check(value, key);
  }
  return out;
}

export function resolveServeConfig(ctx: CommandContext): ServeConfig {
  const v = ctx.values;
  const file = v.config === undefined ? {} : readConfigFile(v.config as string);
  const config: ServeConfig = { ...SERVE_DEFAULTS, ...file };
  if (v.host !== undefined) config.host = v.host as string;
  if (v.port !== undefined) config.port = parsePort(v.port as string, config.port);
  if (v.static !== undefined) config.static = v.static as string;
  const cert = v['tls-cert'] as string | undefined;
  const key = v['tls-key'] as string | undefined;
  if ((cert === undefined) !== (key === undefined)) {
    throw new UsageError('--tls-cert and --tls-key go together');
  }
  if (cert !== undefined && key !== undefined) config.tls = { cert, key };
  if (v['log-level'] !== undefined)
    config.logLevel = CHECKS.logLevel(v['log-level'], 'log-level') as string;
  if (v['log-requests'] === true) config.logRequests = true;
  if (v['no-http2'] === true) config.http2 = false;
  if (v.http3 === true) config.http3 = true;
  if (config.http3 && config.tls === undefined) {
    throw new UsageError('--http3 needs --tls-cert and --tls-key (QUIC is always encrypted)');
  }
  if (v['drain-timeout'] !== undefined) {
    config.drainTimeoutMs = parseMs(
      'drain-timeout',
      v['drain-timeout'] as string,
      config.drainTimeoutMs,
    );
  }
  return config;
}
