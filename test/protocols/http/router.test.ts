import { describe, expect, it } from 'vitest';
import { hasCode } from '../../../src/errors.js';
import { createApp } from '../../../src/protocols/http/app.js';
import { compose } from '../../../src/protocols/http/compose.js';
import { HttpError } from '../../../src/protocols/http/errors.js';
import { RouteDefinitionError, Router } from '../../../src/protocols/http/router.js';
import type { RouterOptions } from '../../../src/protocols/http/router.js';
import type { Handler, HttpRequest } from '../../../src/protocols/http/types.js';
import { createExchange } from '../../helpers/http-exchange.js';
import type { ExchangeInit } from '../../helpers/http-exchange.js';

/** A handler that answers with its name and the params it saw. */
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
  return { ...ex, status: ex.sink.status, text, json };
}

function get(router: Router, target: string, method = 'GET') {
  return call(router.handler(), { method, target });
}

describe('Router: route kinds', () => {
  it('matches static routes, including the root', async () => {
    const r = new Router().get('/', named('root')).get('/health', named('health'));
    expect((await get(r, '/')).json?.route).toBe('root');
    expect((await get(r, '/health')).json?.route).toBe('health');
    expect((await get(r, '/healthz')).status).toBe(404);
  });

  it('captures parameters, several per path', async () => {
    const r = new Router().get('/users/:userId/posts/:postId', named('post'));
    const { json } = await get(r, '/users/42/posts/abc?x=1');
    expect(json).toEqual({ route: 'post', params: { userId: '42', postId: 'abc' } });
  });

  it('captures several parameters in one segment, greedily', async () => {
    const r = new Router().get('/files/:name.:ext', named('file'));
    expect((await get(r, '/files/report.pdf')).json?.params).toEqual({
      name: 'report',
      ext: 'pdf',
    });
    expect((await get(r, '/files/archive.tar.gz')).json?.params).toEqual({
      name: 'archive.tar',
      ext: 'gz',
    });
    expect((await get(r, '/files/noext')).status).toBe(404);
  });

  it('matches wildcards, exposing the rest as params["*"]', async () => {
    const r = new Router().get('/static/*', named('static'));
    expect((await get(r, '/static/css/site.css')).json?.params).toEqual({ '*': 'css/site.css' });
    expect((await get(r, '/static/')).json?.params).toEqual({ '*': '' });
    expect((await get(r, '/static')).status).toBe(404);
  });

  it('matches RegExp routes with capture groups as params 0, 1, … and named groups', async () => {
    const r = new Router()
      .route('GET', /^\/v(\d+)\/items$/, named('items'))
      .get(/^\/d\/(?<year>\d{4})-(\d{2})$/, named('date'));
    expect((await get(r, '/v2/items')).json?.params).toEqual({ '0': '2' });
    expect((await get(r, '/d/2024-05')).json?.params).toEqual({
      '0': '2024',
      '1': '05',
      year: '2024',
    });
    expect((await get(r, '/v2/things')).status).toBe(404);
  });

  it('ignores global/sticky flags on RegExp routes (no lastIndex state between requests)', async () => {
    const r = new Router().get(/^\/g$/g, named('g'));
    expect((await get(r, '/g')).status).toBe(200);
    expect((await get(r, '/g')).status).toBe(200);
  });
});

describe('Router: precedence', () => {
  it('prefers static over parametric over wildcard over RegExp, whatever the order', async () => {
    const r = new Router()
      .get(/^\/users\/.*$/, named('regex'))
      .get('/users/*', named('wild'))
      .get('/users/:id', named('param'))
      .get('/users/me', named('static'));
    expect((await get(r, '/users/me')).json?.route).toBe('static');
    expect((await get(r, '/users/7')).json?.route).toBe('param');
    expect((await get(r, '/users/7/x')).json?.route).toBe('wild');
  });

  it('falls back to a RegExp route when the tree has nothing', async () => {
    const r = new Router().get('/a/:x', named('param')).get(/^\/b\/(.+)$/, named('regex'));
    expect((await get(r, '/b/c/d')).json).toEqual({ route: 'regex', params: { '0': 'c/d' } });
  });

  it('backtracks: a static prefix that dead-ends gives way to a parameter', async () => {
    const r = new Router().get('/a/static/end', named('static')).get('/a/:p/other', named('param'));
    expect((await get(r, '/a/static/other')).json).toEqual({
      route: 'param',
      params: { p: 'static' },
    });
  });

  it('tries segments with more literal text before a bare parameter', async () => {
    const r = new Router().get('/f/:id', named('bare')).get('/f/:name.json', named('json'));
    expect((await get(r, '/f/data.json')).json?.route).toBe('json');
    expect((await get(r, '/f/data.xml')).json?.route).toBe('bare');
  });

  it('prefers a route that accepts the method over a more specific one that does not', async () => {
    const r = new Router().get('/users/me', named('me')).delete('/users/:id', named('delete'));
    expect((await get(r, '/users/me', 'DELETE')).json).toEqual({
      route: 'delete',
      params: { id: 'me' },
    });
  });

  it('shares a parameter node between methods with different parameter names', async () => {
    const r = new Router().get('/x/:id', named('get')).put('/x/:key', named('put'));
    expect((await get(r, '/x/1')).json?.params).toEqual({ id: '1' });
    expect((await get(r, '/x/1', 'PUT')).json?.params).toEqual({ key: '1' });
  });
});

describe('Router: path handling', () => {
  it('is case-insensitive for static segments by default, keeping parameter case', async () => {
    const r = new Router().get('/Users/:name', named('u'));
    expect((await get(r, '/users/Alice')).json?.params).toEqual({ name: 'Alice' });
  });

  it('is case-sensitive when asked', async () => {
    const r = new Router({ caseSensitive: true }).get('/Users', named('u'));
    expect((await get(r, '/Users')).status).toBe(200);
    expect((await get(r, '/users')).status).toBe(404);
  });

  it('ignores a trailing slash unless strictSlash', async () => {
    const loose = new Router().get('/a', named('a')).get('/b/', named('b'));
    expect((await get(loose, '/a/')).status).toBe(200);
    expect((await get(loose, '/b')).status).toBe(200);
    const strict = new Router({ strictSlash: true }).get('/a', named('a')).get('/b/', named('b'));
    expect((await get(strict, '/a/')).status).toBe(404);
    expect((await get(strict, '/b')).status).toBe(404);
    expect((await get(strict, '/b/')).status).toBe(200);
  });

  it('percent-decodes parameters per segment after matching', async () => {
    const r = new Router().get('/q/:term/:n', named('q'));
    const { json } = await get(r, '/q/a%2Fb%20c/%C3%A9');
    expect(json?.params).toEqual({ term: 'a/b c', n: 'é' });
  });

  it('matches equivalent encodings of unreserved characters to static routes', async () => {
    const r = new Router().get('/hello', named('h'));
    expect((await get(r, '/h%65llo')).status).toBe(200);
  });

  it('rejects malformed percent-encoding with a 400 HttpError', async () => {
    const r = new Router().get('/q/:term', named('q'));
    await expect(get(r, '/q/%zz')).rejects.toMatchObject({ status: 400 });
    // Well formed but not UTF-8: only detectable when decoding the parameter.
    const err = await get(r, '/q/%FF').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HttpError);
    expect((err as HttpError).status).toBe(400);
  });

  it('rejects NUL bytes in parameters', async () => {
    const r = new Router().get('/f/:name', named('f'));
    await expect(get(r, '/f/a%00b')).rejects.toMatchObject({ status: 400 });
  });

  it('resolves dot segments inside the path', async () => {
    const r = new Router().get('/a/c', named('ac'));
    expect((await get(r, '/a/b/../c')).json?.route).toBe('ac');
    expect((await get(r, '/a/./c')).json?.route).toBe('ac');
    expect((await get(r, '/a/b/%2e%2E/c')).json?.route).toBe('ac');
  });

  it('rejects dot segments that climb above the root with 400', async () => {
    const r = new Router().get('/*', named('all'));
    const err = await get(r, '/../etc/passwd').catch((e: unknown) => e);
    expect(hasCode(err, 'GN_ERR_HTTP_PATH_TRAVERSAL')).toBe(true);
    await expect(get(r, '/a/../../etc')).rejects.toMatchObject({ status: 400 });
    await expect(get(r, '/%2e%2e/etc')).rejects.toMatchObject({ status: 400 });
  });

  it('rejects encoded slashes inside wildcard segments (no smuggled ../)', async () => {
    const r = new Router().get('/static/*', named('s'));
    await expect(get(r, '/static/a%2F..%2F..%2Fsecret')).rejects.toMatchObject({ status: 400 });
    expect((await get(r, '/static/a%20b/c')).json?.params).toEqual({ '*': 'a b/c' });
  });

  it('does not match parameters longer than maxParamLength', async () => {
    const r = new Router({ maxParamLength: 8 }).get('/p/:v', named('p'));
    expect((await get(r, '/p/12345678')).status).toBe(200);
    expect((await get(r, '/p/123456789')).status).toBe(404);
  });

  it('does not route non-origin-form targets', async () => {
    const r = new Router().get('/*', named('all'));
    expect((await call(r.handler(), { method: 'CONNECT', target: 'example.com:443' })).status).toBe(
      404,
    );
  });
});

describe('Router: methods', () => {
  it('routes each method helper and all()', async () => {
    const r = new Router()
      .post('/m', named('post'))
      .put('/m', named('put'))
      .patch('/m', named('patch'))
      .delete('/m', named('delete'))
      .options('/m', named('options'))
      .head('/m', named('head'))
      .all('/any', named('all'))
      .route('PURGE', '/m', named('purge'));
    for (const m of ['POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD', 'PURGE']) {
      expect((await get(r, '/m', m)).json?.route).toBe(m.toLowerCase());
    }
    expect((await get(r, '/any', 'PROPFIND')).json?.route).toBe('all');
  });

  it('serves HEAD with the GET route when there is no HEAD route', async () => {
    const r = new Router().get('/x', named('get'));
    const { json, status } = await get(r, '/x', 'HEAD');
    expect(status).toBe(200);
    expect(json?.route).toBe('get');
  });

  it('answers 405 with an Allow header when only the method does not match', async () => {
    const r = new Router().get('/x', named('get')).post('/x', named('post'));
    const { status, sink } = await get(r, '/x', 'DELETE');
    expect(status).toBe(405);
    expect(sink.headers?.get('allow')?.split(', ').sort()).toEqual([
      'GET',
      'HEAD',
      'OPTIONS',
      'POST',
    ]);
  });

  it('lists the methods of every route matching the path in Allow', async () => {
    const r = new Router()
      .get('/users/me', named('me'))
      .put('/users/:id', named('put'))
      .get(/^\/users\/\w+$/, named('rx'))
      .route('PURGE', /^\/users\/\w+$/, named('rx'));
    expect(r.allowedMethods('/users/me').sort()).toEqual([
      'GET',
      'HEAD',
      'OPTIONS',
      'PURGE',
      'PUT',
    ]);
    expect(r.allowedMethods('/nothing')).toEqual([]);
  });

  it('answers OPTIONS automatically with 204 and Allow', async () => {
    const r = new Router().get('/x', named('get'));
    const { status, sink } = await get(r, '/x', 'OPTIONS');
    expect(status).toBe(204);
    expect(sink.headers?.get('allow')).toBe('GET, HEAD, OPTIONS');
    expect(sink.headers?.has('content-length')).toBe(false);
    expect(sink.ended).toBe(true);
  });

  it('lets an OPTIONS route answer instead, and autoOptions: false disables the default', async () => {
    const r = new Router().get('/x', named('get')).options('/x', named('mine'));
    expect((await get(r, '/x', 'OPTIONS')).json?.route).toBe('mine');
    const off = new Router({ autoOptions: false }).get('/x', named('get'));
    const res = await get(off, '/x', 'OPTIONS');
    expect(res.status).toBe(405);
    expect(res.sink.headers?.get('allow')).toBe('GET, HEAD');
  });

  it('answers OPTIONS * with every method the router serves', async () => {
    const r = new Router().get('/a', named('a')).post('/b', named('b'));
    const { status, sink } = await call(r.handler(), { method: 'OPTIONS', target: '*' });
    expect(status).toBe(204);
    expect(sink.headers?.get('allow')?.split(', ').sort()).toEqual([
      'GET',
      'HEAD',
      'OPTIONS',
      'POST',
    ]);
  });

  it('treats methods as case-sensitive (RFC 9110 §9.1)', async () => {
    const r = new Router().get('/x', named('get'));
    expect((await get(r, '/x', 'get')).status).toBe(405);
  });
});

describe('Router: middleware and groups', () => {
  const trace =
    (name: string) =>
    async (req: HttpRequest, _res: unknown, next: () => Promise<void>): Promise<void> => {
      ((req.locals.trace as string[] | undefined) ?? (req.locals.trace = [])).push(name);
      await next();
    };
  const report: Handler = (req, res) => res.json({ route: 'r', params: req.locals.trace as never });

  it('runs router, group and route middleware in order, whatever the registration order', async () => {
    const r = new Router();
    r.group('/api', (g) => {
      g.get('/x', trace('route'), report);
      g.use(trace('group'));
      g.group('/v1', (inner) => {
        inner.use(trace('inner'));
        inner.get('/y', report);
      });
    });
    r.use(trace('router'));
    expect((await get(r, '/api/x')).json?.params).toEqual(['router', 'group', 'route']);
    expect((await get(r, '/api/v1/y')).json?.params).toEqual(['router', 'group', 'inner']);
  });

  it('does not run group middleware for routes outside the group', async () => {
    const r = new Router();
    r.group('/admin', (g) => {
      g.use((_req, res) => res.text('denied', 403));
      g.get('/stats', named('stats'));
    });
    r.get('/public', named('public'));
    expect((await get(r, '/admin/stats')).status).toBe(403);
    expect((await get(r, '/public')).status).toBe(200);
  });

  it('maps a group root "/" to the prefix itself', async () => {
    const r = new Router().group('/api/', (g) => g.get('/', named('index')));
    expect((await get(r, '/api')).json?.route).toBe('index');
  });

  it('rejects RegExp routes inside a prefixed group', () => {
    expect(() => new Router().group('/api', (g) => g.get(/^\/x$/, named('x')))).toThrow(
      RouteDefinitionError,
    );
  });

  it('answers 404 when a matched route never answers (handler mode)', async () => {
    const r = new Router().get('/x', (_req, _res, next) => next());
    expect((await get(r, '/x')).status).toBe(404);
  });
});

describe('Router: as middleware', () => {
  it('falls through to next() when no route matches', async () => {
    const api = new Router().get('/api/x', named('api'));
    const handler = compose([api.middleware()], named('fallback'));
    const { json } = await call(handler, { target: '/other' });
    expect(json?.route).toBe('fallback');
  });

  it('lets several mounted routers share a path with different methods', async () => {
    const read = new Router().get('/item', named('read'));
    const write = new Router().put('/item', named('write'));
    const handler = compose([read.middleware(), write.middleware()]);
    expect((await call(handler, { method: 'PUT', target: '/item' })).json?.route).toBe('write');
    expect((await call(handler, { method: 'GET', target: '/item' })).json?.route).toBe('read');
  });

  it('answers 405 only when nothing downstream answered', async () => {
    const r = new Router().get('/item', named('read'));
    const handler = compose([r.middleware()]);
    const res = await call(handler, { method: 'DELETE', target: '/item' });
    expect(res.status).toBe(405);
    expect(res.sink.headers?.get('allow')).toBe('GET, HEAD, OPTIONS');
  });

  it('lets a route hand over to the outer chain with next()', async () => {
    const r = new Router().get('/x', (_req, _res, next) => next());
    const handler = compose([r.middleware()], named('after'));
    expect((await call(handler, { target: '/x' })).json?.route).toBe('after');
  });
});

describe('Router: definitions', () => {
  const bad: Array<[string, (r: Router) => void]> = [
    ['no leading slash', (r) => r.get('x', named('x'))],
    ['wildcard not last', (r) => r.get('/*/x', named('x'))],
    ['partial wildcard', (r) => r.get('/a*', named('x'))],
    ['adjacent params', (r) => r.get('/:a:b', named('x'))],
    ['empty param name', (r) => r.get('/:/x', named('x'))],
    ['duplicate param', (r) => r.get('/:a/:a', named('x'))],
    ['dot segment', (r) => r.get('/a/../b', named('x'))],
    ['bad method', (r) => r.route('GE T', '/x', named('x'))],
    ['no handler', (r) => r.get('/x')],
    ['not a function', (r) => r.get('/x', 'nope' as unknown as Handler)],
  ];
  for (const [name, define] of bad) {
    it(`rejects ${name}`, () => {
      expect(() => define(new Router())).toThrow();
    });
  }

  it('reports duplicate routes as conflicts', () => {
    const r = new Router().get('/users/:id', named('a'));
    let err: unknown;
    try {
      r.get('/users/:uid', named('b'));
    } catch (e) {
      err = e;
    }
    expect(hasCode(err, 'GN_ERR_HTTP_ROUTE_CONFLICT')).toBe(true);
    expect(() => r.post('/users/:uid', named('c'))).not.toThrow();
  });

  it('validates options', () => {
    expect(() => new Router({ maxParamLength: 0 } as RouterOptions)).toThrow(/maxParamLength/);
  });
});

describe('createApp', () => {
  it('runs app middleware for every request, including 404 and 405', async () => {
    const seen: string[] = [];
    const app = createApp();
    app.use(async (req, _res, next) => {
      seen.push(`${req.method} ${req.path}`);
      await next();
    });
    app.get('/x', named('x'));
    const handler = app.handler();
    expect((await call(handler, { target: '/x' })).json?.route).toBe('x');
    expect((await call(handler, { target: '/nope' })).status).toBe(404);
    expect((await call(handler, { method: 'POST', target: '/x' })).status).toBe(405);
    expect(seen).toEqual(['GET /x', 'GET /nope', 'POST /x']);
  });

  it('lets app middleware turn thrown HttpErrors into responses', async () => {
    const app = createApp();
    app.use(async (_req, res, next) => {
      try {
        await next();
      } catch (err) {
        res.text((err as Error).message, (err as HttpError).status);
      }
    });
    app.get('/q/:v', named('q'));
    const { status } = await call(app.handler(), { target: '/q/%E0%A4%A' });
    expect(status).toBe(400);
  });
});
