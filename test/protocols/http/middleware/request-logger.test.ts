import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from '../../../../src/errors.js';
import { HttpError } from '../../../../src/protocols/http/errors.js';
import { recovery } from '../../../../src/protocols/http/middleware/recovery.js';
import { requestLogger } from '../../../../src/protocols/http/middleware/request-logger.js';
import { createExchange } from '../../../helpers/http-exchange.js';
import { chain, recordingLogger } from './run.js';

function fakeNow(...times: number[]) {
  let i = 0;
  return () => times[Math.min(i++, times.length - 1)]!;
}

describe('requestLogger', () => {
  it('logs one line with method, path, status, duration, bytes and id', async () => {
    const { req, res, sink } = createExchange({ target: '/items?token=secret' });
    const { logger, records } = recordingLogger();
    await chain([requestLogger({ logger, now: fakeNow(100, 142.5) })], (_rq, r) => {
      r.text('hello');
    })(req, res);
    expect(records).toHaveLength(1);
    expect(records[0]!.level).toBe('info');
    expect(records[0]!.obj).toEqual({
      req: req.id,
      method: 'GET',
      path: '/items',
      status: 200,
      durationMs: 42.5,
      bytes: 5,
    });
    expect(records[0]!.msg).toBe('GET /items 200');
    expect(sink.headers?.get('x-request-id')).toBe(req.id);
  });

  it('echoes a valid client X-Request-Id and gives handlers a child logger', async () => {
    const { req, res, sink } = createExchange({ headers: { 'x-request-id': 'abc-123' } });
    const { logger, records } = recordingLogger();
    await chain([requestLogger({ logger })], (rq, r) => {
      (rq.locals['log'] as typeof logger).info('inside');
      r.end();
    })(req, res);
    expect(sink.headers?.get('x-request-id')).toBe('abc-123');
    expect(records[0]).toMatchObject({ msg: 'inside', obj: { req: 'abc-123' } });
    expect(records[1]!.obj['req']).toBe('abc-123');
  });

  it('replaces an invalid client X-Request-Id', async () => {
    const { req, res, sink } = createExchange({ headers: { 'x-request-id': 'bad id\twith tab' } });
    const { logger } = recordingLogger();
    await chain([requestLogger({ logger })], (_rq, r) => r.end())(req, res);
    expect(sink.headers?.get('x-request-id')).not.toBe('bad id\twith tab');
    expect(sink.headers?.get('x-request-id')).toBe(req.id);
  });

  it('waits for a streamed body to finish before logging, counting all bytes', async () => {
    const { req, res } = createExchange();
    const { logger, records } = recordingLogger();
    let finish!: () => void;
    await chain([requestLogger({ logger })], (_rq, r) => {
      r.write('abc');
      finish = () => r.end('defg');
    })(req, res);
    expect(records).toHaveLength(0);
    finish();
    expect(records).toHaveLength(1);
    expect(records[0]!.obj['bytes']).toBe(7);
  });

  it('logs the status a thrown error becomes, at warn/error levels', async () => {
    const { req, res } = createExchange();
    const { logger, records } = recordingLogger();
    await chain([recovery(), requestLogger({ logger })], () => {
      throw new HttpError(404, 'missing');
    })(req, res);
    expect(records[0]).toMatchObject({ level: 'warn', obj: { status: 404 } });

    const second = createExchange();
    const log2 = recordingLogger();
    await chain([requestLogger({ logger: log2.logger }), recovery()], () => {
      throw new Error('x');
    })(second.req, second.res);
    expect(log2.records[0]).toMatchObject({ level: 'error', obj: { status: 500 } });
  });

  it('logs aborted responses', async () => {
    const { req, res } = createExchange();
    const { logger, records } = recordingLogger();
    await chain([requestLogger({ logger })], (_rq, r) => {
      r.writeHead(200);
      r.abort();
    })(req, res);
    expect(records[0]!.obj['aborted']).toBe(true);
  });

  it('can leave the header out and validates options', () => {
    expect(() => requestLogger({} as never)).toThrow(InvalidOptionError);
    expect(() => requestLogger({ logger: recordingLogger().logger, now: 5 as never })).toThrow(
      InvalidOptionError,
    );
  });

  it('does not set X-Request-Id when disabled', async () => {
    const { req, res, sink } = createExchange();
    const { logger } = recordingLogger();
    await chain([requestLogger({ logger, setRequestIdHeader: false })], (_rq, r) => r.end())(
      req,
      res,
    );
    expect(sink.headers?.has('x-request-id')).toBe(false);
  });
});
