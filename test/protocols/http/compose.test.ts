import { describe, expect, it } from 'vitest';
import { hasCode } from '../../../src/errors.js';
import { chain, compose, NextCalledTwiceError } from '../../../src/protocols/http/compose.js';
import { HttpError } from '../../../src/protocols/http/errors.js';
import type { Middleware } from '../../../src/protocols/http/types.js';
import { createExchange } from '../../helpers/http-exchange.js';

describe('compose', () => {
  it('runs middleware as an onion: down through next(), back up after it', async () => {
    const order: string[] = [];
    const mw =
      (name: string): Middleware =>
      async (_req, _res, next) => {
        order.push(`${name} in`);
        await next();
        order.push(`${name} out`);
      };
    const handler = compose([mw('a'), mw('b')], (_req, res) => {
      order.push('handler');
      res.text('done');
    });
    const { req, res, sink } = createExchange();
    await handler(req, res);
    expect(order).toEqual(['a in', 'b in', 'handler', 'b out', 'a out']);
    expect(sink.status).toBe(200);
    expect(sink.text()).toBe('done');
  });

  it('lets a middleware short-circuit without calling next()', async () => {
    let reached = false;
    const handler = compose(
      [
        (_req, res) => {
          res.status = 401;
          res.text('no');
        },
        () => {
          reached = true;
        },
      ],
      () => {
        reached = true;
      },
    );
    const { req, res, sink } = createExchange();
    await handler(req, res);
    expect(reached).toBe(false);
    expect(sink.status).toBe(401);
  });

  it('rejects a second next() call with a coded error', async () => {
    let second: unknown;
    const handler = compose([
      async (_req, _res, next) => {
        await next();
        second = await next().catch((err: unknown) => err);
      },
      (_req, res) => res.text('once'),
    ]);
    const { req, res, sink } = createExchange();
    await handler(req, res);
    expect(second).toBeInstanceOf(NextCalledTwiceError);
    expect(hasCode(second, 'GN_ERR_HTTP_NEXT_CALLED_TWICE')).toBe(true);
    expect(sink.text()).toBe('once');
  });

  it('propagates synchronous throws and rejections to the caller', async () => {
    const sync = compose([
      () => {
        throw new HttpError(418, 'teapot');
      },
    ]);
    const { req, res } = createExchange();
    await expect(sync(req, res)).rejects.toMatchObject({ status: 418 });

    const async_ = compose([async (_req, _res, next) => next()], async () => {
      throw new HttpError(503, 'later');
    });
    const ex = createExchange();
    await expect(async_(ex.req, ex.res)).rejects.toMatchObject({ status: 503 });
    expect(ex.sink.status).toBeUndefined();
  });

  it('lets an outer middleware catch errors from inner ones', async () => {
    const handler = compose([
      async (_req, res, next) => {
        try {
          await next();
        } catch (err) {
          res.status = (err as HttpError).status;
          res.text('caught');
        }
      },
      () => {
        throw new HttpError(409, 'conflict');
      },
    ]);
    const { req, res, sink } = createExchange();
    await handler(req, res);
    expect(sink.status).toBe(409);
    expect(sink.text()).toBe('caught');
  });

  it('answers 404 when nothing answered', async () => {
    const handler = compose([(_req, _res, next) => next()]);
    const { req, res, sink } = createExchange();
    await handler(req, res);
    expect(sink.status).toBe(404);
    expect(sink.ended).toBe(true);
  });

  it('answers 404 when an empty stack is composed', async () => {
    const { req, res, sink } = createExchange();
    await compose([])(req, res);
    expect(sink.status).toBe(404);
  });

  it('does not add 404 when the response started', async () => {
    const handler = compose([
      (_req, res) => {
        res.writeHead(200);
        res.write('partial');
      },
    ]);
    const { req, res, sink } = createExchange();
    await handler(req, res);
    expect(sink.status).toBe(200);
    expect(sink.text()).toBe('partial');
  });

  it('checks for 404 only after the chain unwound, so middleware may answer on the way out', async () => {
    const handler = compose([
      async (_req, res, next) => {
        await next();
        if (!res.headersSent) {
          res.status = 405;
          res.text('late');
        }
      },
    ]);
    const { req, res, sink } = createExchange();
    await handler(req, res);
    expect(sink.status).toBe(405);
  });

  it('rejects non-function middleware at composition time', () => {
    expect(() => compose([42 as unknown as Middleware])).toThrow(/function/);
  });
});

describe('chain', () => {
  it('continues with the outer next() after its own stack', async () => {
    const order: string[] = [];
    const inner = chain([
      async (_req, _res, next) => {
        order.push('inner');
        await next();
      },
    ]);
    const handler = compose([inner, (_req, res) => res.text(order.concat('outer').join(','))]);
    const { req, res, sink } = createExchange();
    await handler(req, res);
    expect(sink.text()).toBe('inner,outer');
  });

  it('guards next() against double calls with one middleware too', async () => {
    const one = chain([
      async (_req, _res, next) => {
        await next();
        await next();
      },
    ]);
    const { req, res } = createExchange();
    await expect(one(req, res, () => Promise.resolve())).rejects.toBeInstanceOf(
      NextCalledTwiceError,
    );
  });
});
