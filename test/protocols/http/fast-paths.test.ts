/**
 * The per-request fast paths of the shared HTTP layer (STYLE §12) must answer exactly as
 * the general paths do: the router's exact-path map, synchronous middleware chains, and
 * compression's identity sink.
 */
import { describe, expect, it } from 'vitest';
import { createApp } from '../../../src/protocols/http/app.js';
import { compose } from '../../../src/protocols/http/compose.js';
import { compression } from '../../../src/protocols/http/middleware/compression.js';
import { recovery } from '../../../src/protocols/http/middleware/recovery.js';
import { Router } from '../../../src/protocols/http/router.js';
import type { RouterOptions } from '../../../src/protocols/http/router.js';
import type { Handler, Middleware } from '../../../src/protocols/http/types.js';
import { createExchange } from '../../helpers/http-exchange.js';
import type { ExchangeInit } from '../../helpers/http-exchange.js';

const named =
  (name: string): Handler =>
  (req, res) =>
    res.json({ route: name, params: req.params });

async function call(handler: Handler, init: ExchangeInit) {
  const ex = createExchange(init);
  await handler(ex.req, ex.res);
  const text = ex.sink.text();
  const json = ex.sink.headers?.get('content-type')?.startsWith('application/json')
    ? (JSON.parse(text) as { route: string; params: Record<string, string> })
    : undefined;
  return { status: ex.sink.status, headers: ex.sink.headers, text, json };
}

function router(options?: RouterOptions): Router {
  return new Router(options)
    .get('/', named('root'))
    .get('/users/me', named('me'))
    .get('/users/:id', named('user'))
    .post('/users/:id', named('post-user'))
    .all('/any', named('any'))
    .get('/Mixed/Case', named('mixed'));
}

describe('Router exact-path fast path', () => {
  it('answers static routes as the tree does, including HEAD and `all`', async () => {
    const h = router().handler();
    expect((await call(h, { target: '/' })).json?.route).toBe('root');
    expect((await call(h, { target: '/users/me' })).json).toEqual({ route: 'me', params: {} });
    expect((await call(h, { method: 'HEAD', target: '/users/me' })).status).toBe(200);
    expect((await call(h, { method: 'DELETE', target: '/any' })).json?.route).toBe('any');
  });

  it('falls back to the tree when the static node lacks the method', async () => {
    const h = router().handler();
    // POST /users/me: the static node has only GET, the parameter route takes POST.
    const post = await call(h, { method: 'POST', target: '/users/me' });
    expect(post.json).toEqual({ route: 'post-user', params: { id: 'me' } });
    const put = await call(h, { method: 'PUT', target: '/users/me' });
    expect(put.status).toBe(405);
    expect(put.headers?.get('allow')).toBe('GET, POST, HEAD, OPTIONS');
  });

  it('keeps case folding, trailing slashes, encodings and dot segments', async () => {
    const h = router().handler();
    expect((await call(h, { target: '/mixed/case' })).json?.route).toBe('mixed');
    expect((await call(h, { target: '/MIXED/case' })).json?.route).toBe('mixed');
    expect((await call(h, { target: '/users/me/' })).json?.route).toBe('me');
    expect((await call(h, { target: '/users/%6De' })).json?.route).toBe('me');
    expect((await call(h, { target: '/users/x/../me' })).json?.route).toBe('me');
    const strict = router({ strictSlash: true, caseSensitive: true }).handler();
    expect((await call(strict, { target: '/users/me/' })).status).toBe(404);
    expect((await call(strict, { target: '/mixed/case' })).status).toBe(404);
    expect((await call(strict, { target: '/Mixed/Case' })).json?.route).toBe('mixed');
  });

  it('serves routes added after the first request, and group routes', async () => {
    const r = new Router();
    const h = r.handler();
    expect((await call(h, { target: '/late' })).status).toBe(404);
    r.get('/late', named('late'));
    r.group('/api', (g) => g.get('/', named('api-root')).get('/v1', named('v1')));
    expect((await call(h, { target: '/late' })).json?.route).toBe('late');
    expect((await call(h, { target: '/api' })).json?.route).toBe('api-root');
    expect((await call(h, { target: '/api/v1' })).json?.route).toBe('v1');
  });

  it('runs router middleware added with use() on static routes', async () => {
    const r = new Router().get('/s', named('s'));
    r.use((_req, res, next) => {
      res.setHeader('x-mw', '1');
      return next();
    });
    const out = await call(r.handler(), { target: '/s' });
    expect(out.headers?.get('x-mw')).toBe('1');
  });

  it('turns a synchronous throw into a rejection', async () => {
    const r = new Router().get('/boom', () => {
      throw new Error('boom');
    });
    const ex = createExchange({ target: '/boom' });
    const result = r.handler()(ex.req, ex.res);
    expect(result).toBeInstanceOf(Promise);
    await expect(result).rejects.toThrow('boom');
  });
});

describe('synchronous middleware chains', () => {
  it('return no promise when every step is synchronous, keeping the onion order', () => {
    const order: string[] = [];
    const mw =
      (name: string): Middleware =>
      (_req, _res, next) => {
        order.push(`${name}>`);
        const done = next();
        order.push(`<${name}`);
        return done;
      };
    const app = createApp();
    app.use(mw('a'), mw('b'));
    app.get('/x', (_req, res) => {
      order.push('handler');
      res.text('x');
    });
    const ex = createExchange({ target: '/x' });
    expect(app.handler()(ex.req, ex.res)).toBeUndefined();
    expect(order).toEqual(['a>', 'b>', 'handler', '<b', '<a']);
    expect(ex.sink.text()).toBe('x');
  });

  it('still answers 404 synchronously, and recovers synchronous throws', async () => {
    const missing = createExchange({ target: '/nothing' });
    expect(compose([])(missing.req, missing.res)).toBeUndefined();
    expect(missing.sink.status).toBe(404);

    const app = createApp();
    app.use(recovery());
    app.get('/boom', () => {
      throw new Error('boom');
    });
    const out = await call(app.handler(), { target: '/boom' });
    expect(out.status).toBe(500);
  });

  it('waits for asynchronous steps before the 404 check', async () => {
    const handler = compose([
      async (_req, _res, next) => {
        await Promise.resolve();
        await next();
      },
      async (_req, res) => {
        await new Promise((resolve) => setImmediate(resolve));
        res.text('late');
      },
    ]);
    const out = await call(handler, { target: '/' });
    expect(out.status).toBe(200);
    expect(out.text).toBe('late');
  });
});

describe('compression without an acceptable coding', () => {
  const app = (accept: string | undefined, handler: Handler) => {
    const a = createApp();
    a.use(compression());
    a.get('/', handler);
    const headers: Record<string, string> = {};
    if (accept !== undefined) headers['accept-encoding'] = accept;
    return call(a.handler(), { target: '/', headers });
  };
  const big = 'x'.repeat(4096);

  it('adds Vary to compressible responses only (RFC 9110 §12.5.5)', async () => {
    for (const accept of [undefined, 'identity', 'gzip;q=0', 'zstd']) {
      const text = await app(accept, (_q, r) => r.text(big));
      expect(text.headers?.get('vary')).toBe('Accept-Encoding');
      expect(text.headers?.has('content-encoding')).toBe(false);
      expect(text.text).toBe(big);
      const png = await app(accept, (_q, r) => r.send(new Uint8Array(4096), 'image/png'));
      expect(png.headers?.has('vary')).toBe(false);
    }
  });

  it('merges with the Vary a handler set, and remembers repeated Accept-Encoding values', async () => {
    const out = await app(undefined, (_q, r) => {
      r.setHeader('vary', 'Origin');
      r.text(big);
    });
    expect(out.headers?.get('vary')).toBe('Origin, Accept-Encoding');
    for (let i = 0; i < 3; i++) {
      const gz = await app('gzip', (_q, r) => r.text(big));
      expect(gz.headers?.get('content-encoding')).toBe('gzip');
    }
  });
});
