import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from '../../../../src/errors.js';
import { HttpError } from '../../../../src/protocols/http/errors.js';
import { recovery } from '../../../../src/protocols/http/middleware/recovery.js';
import type { Middleware } from '../../../../src/protocols/http/types.js';
import { createExchange } from '../../../helpers/http-exchange.js';
import { chain, recordingLogger } from './run.js';

describe('recovery', () => {
  it('turns a synchronous throw into a 500 without leaking the message', async () => {
    const { req, res, sink } = createExchange();
    const { logger, records } = recordingLogger();
    await chain([recovery({ logger })], () => {
      throw new Error('db password is hunter2');
    })(req, res);
    expect(sink.status).toBe(500);
    expect(sink.text()).toBe('Internal Server Error\n');
    expect(sink.headers?.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(records).toHaveLength(1);
    expect(records[0]!.level).toBe('error');
    expect(records[0]!.obj['req']).toBe(req.id);
    expect((records[0]!.obj['err'] as Error).message).toBe('db password is hunter2');
  });

  it('turns an async rejection from inner middleware into a 500', async () => {
    const { req, res, sink } = createExchange();
    const failing: Middleware = async () => {
      await Promise.resolve();
      throw new TypeError('boom');
    };
    await expect(chain([recovery(), failing])(req, res)).resolves.toBeUndefined();
    expect(sink.status).toBe(500);
  });

  it('uses an HttpError status, headers and exposed message', async () => {
    const { req, res, sink } = createExchange();
    await chain([recovery()], () => {
      throw new HttpError(405, 'Use GET', { headers: { allow: 'GET' } });
    })(req, res);
    expect(sink.status).toBe(405);
    expect(sink.headers?.get('allow')).toBe('GET');
    expect(sink.text()).toBe('Use GET\n');
  });

  it('hides the message of an HttpError that is not exposed', async () => {
    const { req, res, sink } = createExchange();
    await chain([recovery()], () => {
      throw new HttpError(503, 'upstream 10.0.0.7 down');
    })(req, res);
    expect(sink.status).toBe(503);
    expect(sink.text()).toBe('Service Unavailable\n');
  });

  it('drops representation headers the handler set but keeps the others', async () => {
    const { req, res, sink } = createExchange();
    await chain([recovery()], (_req, r) => {
      r.setHeader('content-type', 'application/json');
      r.setHeader('etag', '"abc"');
      r.setHeader('x-request-id', 'keep-me');
      throw new Error('late failure');
    })(req, res);
    expect(sink.headers?.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(sink.headers?.has('etag')).toBe(false);
    expect(sink.headers?.get('x-request-id')).toBe('keep-me');
  });

  it('aborts the response when the head was already sent', async () => {
    const { req, res, sink } = createExchange();
    await chain([recovery()], (_req, r) => {
      r.writeHead(200);
      r.write('partial');
      throw new Error('mid-stream');
    })(req, res);
    expect(sink.status).toBe(200);
    expect(sink.aborted).toBeInstanceOf(Error);
    expect((sink.aborted as Error).message).toBe('mid-stream');
  });

  it('survives a throwing logger and non-Error throws', async () => {
    const { req, res, sink } = createExchange();
    const bad = {
      debug() {},
      info() {},
      warn() {},
      error() {
        throw new Error('logger down');
      },
      child() {
        return bad;
      },
    };
    await chain([recovery({ logger: bad })], () => {
      throw 'a string';
    })(req, res);
    expect(sink.status).toBe(500);
  });

  it('logs client errors at debug', async () => {
    const { req, res } = createExchange();
    const { logger, records } = recordingLogger();
    await chain([recovery({ logger })], () => {
      throw new HttpError(404, 'nope');
    })(req, res);
    expect(records.map((r) => r.level)).toEqual(['debug']);
  });

  it('validates its options', () => {
    expect(() => recovery({ logger: 42 as never })).toThrow(InvalidOptionError);
  });
});
