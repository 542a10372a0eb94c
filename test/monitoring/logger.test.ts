import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { GhostnetError, hasCode } from '../../src/errors.js';
import {
  componentLogger,
  connectionLogger,
  createLogger,
  createRequestId,
  requestLogger,
  silentLogger,
} from '../../src/monitoring/logger.js';
import type { Logger, LoggerOptions } from '../../src/monitoring/logger.js';

type Line = Record<string, unknown>;

/** A pino logger writing into an array of parsed JSON lines. */
function capture(options: LoggerOptions = {}): {
  logger: ReturnType<typeof createLogger>;
  lines: Line[];
} {
  const lines: Line[] = [];
  const destination = {
    write(chunk: string): void {
      for (const line of chunk.split('\n')) if (line !== '') lines.push(JSON.parse(line) as Line);
    },
  };
  return { logger: createLogger({ env: {}, destination, ...options }), lines };
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof GhostnetError ? err.code : `not coded: ${String(err)}`;
  }
  return undefined;
}

describe('createLogger', () => {
  it('writes structured JSON lines at info and above by default', () => {
    const { logger, lines } = capture();
    logger.debug('hidden');
    logger.info({ port: 8080 }, 'listening');
    logger.error('boom');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({
      level: 'info',
      name: 'ghostnet',
      port: 8080,
      msg: 'listening',
    });
    expect(typeof lines[0]?.time).toBe('number');
    expect(lines[1]).toMatchObject({ level: 'error', msg: 'boom' });
  });

  it('honours the level and name options', () => {
    const { logger, lines } = capture({ level: 'debug', name: 'node-a' });
    logger.debug('shown');
    expect(lines).toEqual([
      expect.objectContaining({ level: 'debug', name: 'node-a', msg: 'shown' }),
    ]);
    const quiet = capture({ level: 'silent' });
    quiet.logger.error('nothing');
    expect(quiet.lines).toEqual([]);
  });

  it('reads GHOSTNET_LOG_LEVEL when no level is passed, and the option wins over it', () => {
    const fromEnv = capture({ env: { GHOSTNET_LOG_LEVEL: ' DEBUG ' } });
    fromEnv.logger.debug('from env');
    expect(fromEnv.lines.map((l) => l.msg)).toEqual(['from env']);
    const explicit = capture({ level: 'warn', env: { GHOSTNET_LOG_LEVEL: 'debug' } });
    explicit.logger.info('dropped');
    explicit.logger.warn('kept');
    expect(explicit.lines.map((l) => l.msg)).toEqual(['kept']);
  });

  it('warns about an invalid GHOSTNET_LOG_LEVEL and falls back to info', () => {
    const { logger, lines } = capture({ env: { GHOSTNET_LOG_LEVEL: 'verbose' } });
    logger.debug('hidden');
    logger.info('shown');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ level: 'warn', GHOSTNET_LOG_LEVEL: 'verbose' });
    expect(String(lines[0]?.msg)).toContain('GHOSTNET_LOG_LEVEL');
    expect(lines[1]).toMatchObject({ level: 'info', msg: 'shown' });
  });

  it('rejects invalid options with coded errors', () => {
    expect(codeOf(() => createLogger({ level: 'loud' as 'info' }))).toBe('GN_ERR_INVALID_OPTION');
    expect(codeOf(() => createLogger({ name: '' }))).toBe('GN_ERR_INVALID_OPTION');
    expect(codeOf(() => createLogger({ redact: ['a..b['] }))).toBe('GN_ERR_INVALID_OPTION');
    expect(codeOf(() => createLogger({ redact: 'password' as unknown as string[] }))).toBe(
      'GN_ERR_INVALID_OPTION',
    );
    expect(
      codeOf(() => createLogger({ redact: Array.from({ length: 300 }, (_, i) => `k${i}`) })),
    ).toBe('GN_ERR_INVALID_OPTION');
  });

  it('redacts credential headers by default and extra paths on request', () => {
    const { logger, lines } = capture({ redact: ['body.password'] });
    logger.info(
      {
        headers: {
          authorization: 'Bearer s3cret',
          cookie: 'sid=1',
          'set-cookie': ['a=b'],
          host: 'x',
        },
        body: { user: 'ann', password: 'hunter2' },
      },
      'request',
    );
    const line = JSON.stringify(lines[0]);
    expect(line).not.toContain('s3cret');
    expect(line).not.toContain('sid=1');
    expect(line).not.toContain('a=b');
    expect(line).not.toContain('hunter2');
    expect(lines[0]).toMatchObject({
      headers: { authorization: '[Redacted]', cookie: '[Redacted]', host: 'x' },
      body: { user: 'ann', password: '[Redacted]' },
    });
  });

  it('serialises coded errors with their code', () => {
    const { logger, lines } = capture();
    logger.error({ err: new GhostnetError('GN_ERR_TEST', 'went wrong') }, 'failed');
    expect(lines[0]).toMatchObject({
      err: { type: 'GhostnetError', message: 'went wrong', code: 'GN_ERR_TEST' },
    });
  });

  it('writes to a writable stream destination', async () => {
    const chunks: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _enc, done) {
        chunks.push(chunk.toString('utf8'));
        done();
      },
    });
    const logger = createLogger({ env: {}, destination: stream });
    logger.info('to a stream');
    await new Promise((resolve) => setImmediate(resolve));
    expect(JSON.parse(chunks.join(''))).toMatchObject({ msg: 'to a stream' });
  });
});

describe('child loggers', () => {
  it('bind component, connection and request ids, nested', () => {
    const { logger, lines } = capture();
    const server = componentLogger(logger, 'http1-server');
    const conn = connectionLogger(server, 'tcp-7', {
      address: '127.0.0.1',
      port: 4000,
      family: 'IPv4',
    });
    const req = requestLogger(conn, 'r-1');
    req.info({ status: 200 }, 'done');
    conn.warn('slow peer');
    expect(lines[0]).toMatchObject({
      component: 'http1-server',
      conn: 'tcp-7',
      remote: '127.0.0.1:4000',
      req: 'r-1',
      status: 200,
      msg: 'done',
    });
    expect(lines[1]).toMatchObject({ component: 'http1-server', conn: 'tcp-7', msg: 'slow peer' });
    expect(lines[1]).not.toHaveProperty('req');
  });

  it('formats IPv6 remotes in brackets and passes strings through', () => {
    const { logger, lines } = capture();
    connectionLogger(logger, 'tls-1', { address: '::1', port: 443, family: 'IPv6' }).info('a');
    connectionLogger(logger, 'udp-2', 'peer.example:6881').info('b');
    connectionLogger(logger, 'memory-3').info('c');
    expect(lines[0]).toMatchObject({ conn: 'tls-1', remote: '[::1]:443' });
    expect(lines[1]).toMatchObject({ conn: 'udp-2', remote: 'peer.example:6881' });
    expect(lines[2]).toMatchObject({ conn: 'memory-3' });
    expect(lines[2]).not.toHaveProperty('remote');
  });

  it('work on any Logger, not only pino', () => {
    const records: [string, unknown][] = [];
    const make = (bindings: Record<string, unknown>): Logger => ({
      debug: () => {},
      info: (a: unknown) => records.push(['info', { ...bindings, arg: a }]),
      warn: () => {},
      error: () => {},
      child: (more) => make({ ...bindings, ...more }),
    });
    requestLogger(componentLogger(make({}), 'dht'), 'q1').info('hello');
    expect(records).toEqual([['info', { component: 'dht', req: 'q1', arg: 'hello' }]]);
  });
});

describe('silentLogger', () => {
  it('discards everything and its children are silent too', () => {
    const child = silentLogger.child({ component: 'x' });
    expect(child).toBe(silentLogger);
    expect(() => {
      child.info('a');
      child.error({ err: new Error('b') }, 'c');
    }).not.toThrow();
  });

  it('is interchangeable with a pino logger behind the Logger interface', () => {
    const { logger, lines } = capture();
    const sinks: Logger[] = [silentLogger, logger];
    for (const sink of sinks) componentLogger(sink, 'pool').info({ size: 3 }, 'pool size');
    expect(lines).toEqual([expect.objectContaining({ component: 'pool', size: 3 })]);
  });
});

describe('createRequestId', () => {
  it('returns short URL-safe ids that do not repeat', () => {
    const ids = new Set<string>();
    for (let i = 0; i < 10_000; i++) {
      const id = createRequestId();
      expect(id).toMatch(/^[A-Za-z0-9_-]{12}$/);
      ids.add(id);
    }
    expect(ids.size).toBe(10_000);
  });
});

describe('coded errors', () => {
  it('hasCode recognises logger option errors', () => {
    let caught: unknown;
    try {
      createLogger({ level: 'nope' as 'info' });
    } catch (err) {
      caught = err;
    }
    expect(hasCode(caught, 'GN_ERR_INVALID_OPTION')).toBe(true);
  });
});
