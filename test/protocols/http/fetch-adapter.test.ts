import { describe, expect, it } from 'vitest';
import { BodyStream } from '../../../src/protocols/http/body.js';
import { HttpError } from '../../../src/protocols/http/errors.js';
import {
  bodyToReadable,
  fetchHandler,
  toFetch,
  toFetchRequest,
} from '../../../src/protocols/http/fetch-adapter.js';
import type { FetchContext } from '../../../src/protocols/http/fetch-adapter.js';
import { HeaderList } from '../../../src/protocols/http/headers.js';
import { ServerRequest } from '../../../src/protocols/http/request.js';
import { ServerResponse } from '../../../src/protocols/http/response.js';
import { Router } from '../../../src/protocols/http/router.js';
import { createExchange } from '../../helpers/http-exchange.js';

const encode = (s: string) => new TextEncoder().encode(s);

/** A request whose body the test feeds by hand, to observe pulls. */
function manualRequest(init: {
  method?: string;
  target?: string;
  headers?: HeaderList;
  expectedLength?: number;
  highWaterMark?: number;
}) {
  let pulls = 0;
  const body = new BodyStream({
    highWaterMark: init.highWaterMark ?? 4,
    expectedLength: init.expectedLength,
    onPull: () => pulls++,
  });
  const controller = new AbortController();
  const req = new ServerRequest({
    method: init.method ?? 'POST',
    target: init.target ?? '/upload',
    headers: (init.headers ?? new HeaderList({ host: 'api.test' })).freeze(),
    protocol: 'h2',
    scheme: 'https',
    authority: 'api.test:8443',
    remoteAddress: undefined,
    localAddress: undefined,
    body,
    signal: controller.signal,
  });
  return { req, body, controller, pulls: () => pulls };
}

/** A response body the test controls, counting pulls and noticing cancellation. */
function controlledStream() {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const state = { pulls: 0, cancelled: undefined as unknown };
  const stream = new ReadableStream<Uint8Array>(
    {
      start: (c) => {
        controller = c;
      },
      pull: () => {
        state.pulls++;
      },
      cancel: (reason) => {
        state.cancelled = reason ?? true;
      },
    },
    { highWaterMark: 0 },
  );
  return {
    stream,
    state,
    push: (s: string) => controller.enqueue(encode(s)),
    close: () => controller.close(),
  };
}

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('toFetchRequest', () => {
  it('builds the full URL, method and headers, skipping pseudo-headers', () => {
    const headers = HeaderList.fromTrusted(
      [':authority', ':path', 'Accept', 'X-Multi', 'X-Multi'],
      [':authority', ':path', 'accept', 'x-multi', 'x-multi'],
      ['api.test:8443', '/upload', 'text/plain', 'a', 'b'],
    );
    const { req } = manualRequest({ method: 'PUT', target: '/items/1?x=y', headers });
    const request = toFetchRequest(req);
    expect(request.url).toBe('https://api.test:8443/items/1?x=y');
    expect(request.method).toBe('PUT');
    expect(request.headers.get('accept')).toBe('text/plain');
    expect(request.headers.get('x-multi')).toBe('a, b');
    expect([...request.headers.keys()].some((k) => k.startsWith(':'))).toBe(false);
  });

  it('uses an absolute-form target as the URL', () => {
    const { req } = manualRequest({ method: 'GET', target: 'http://other.test/p?q=1' });
    expect(toFetchRequest(req).url).toBe('http://other.test/p?q=1');
  });

  it('gives GET and HEAD requests no body, and the others a stream', () => {
    expect(toFetchRequest(createExchange({ method: 'GET' }).req).body).toBeNull();
    expect(toFetchRequest(createExchange({ method: 'HEAD' }).req).body).toBeNull();
    expect(toFetchRequest(createExchange({ method: 'POST', body: 'x' }).req).body).not.toBeNull();
  });

  it('rejects a request that cannot form a URL with 400', () => {
    const ex = createExchange({ headers: { host: 'bad host' } });
    expect(() => toFetchRequest(ex.req)).toThrow(HttpError);
  });

  it('follows the request signal', () => {
    const ex = createExchange();
    const request = toFetchRequest(ex.req);
    expect(request.signal.aborted).toBe(false);
    ex.abort(new Error('gone'));
    expect(request.signal.aborted).toBe(true);
  });
});

describe('bodyToReadable', () => {
  it('pulls from the BodyStream only as the consumer reads (backpressure)', async () => {
    const { body, pulls } = manualRequest({ highWaterMark: 2 });
    expect(body.push(encode('ab'))).toBe(false);
    const reader = bodyToReadable(body).getReader();
    await tick();
    // Nothing read yet: the engine stays paused.
    expect(body.bufferedAmount).toBe(2);
    expect(pulls()).toBe(0);
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toBe('ab');
    expect(pulls()).toBe(1);
    const second = reader.read();
    body.push(encode('cd'));
    body.end();
    expect(new TextDecoder().decode((await second).value)).toBe('cd');
    expect((await reader.read()).done).toBe(true);
  });

  it('errors the stream when the body fails', async () => {
    const { body } = manualRequest({});
    const reader = bodyToReadable(body).getReader();
    const pending = reader.read();
    body.fail(new HttpError(400, 'broken'));
    await expect(pending).rejects.toMatchObject({ status: 400 });
  });
});

describe('fetchHandler', () => {
  it('runs a web handler and writes status, reason, headers and body', async () => {
    let seen: { url: string; body: string; ctx: FetchContext } | undefined;
    const handler = fetchHandler(async (request, ctx) => {
      seen = { url: request.url, body: await request.text(), ctx };
      const headers = new Headers([
        ['set-cookie', 'a=1; Path=/'],
        ['set-cookie', 'b=2, c=3'],
        ['x-custom', 'v'],
        ['connection', 'close'],
        ['transfer-encoding', 'chunked'],
      ]);
      return new Response('created', { status: 201, statusText: 'Made It', headers });
    });
    const { req, res, sink } = createExchange({
      method: 'POST',
      target: '/things?x=1',
      headers: { host: 'app.test' },
      body: ['he', 'llo'],
    });
    req.locals.user = 'u1';
    await handler(req, res);
    expect(seen?.url).toBe('http://app.test/things?x=1');
    expect(seen?.body).toBe('hello');
    expect(seen?.ctx.req).toBe(req);
    expect(seen?.ctx.locals.user).toBe('u1');
    expect(sink.status).toBe(201);
    expect(sink.reason).toBe('Made It');
    expect(sink.headers?.getAll('set-cookie')).toEqual(['a=1; Path=/', 'b=2, c=3']);
    expect(sink.headers?.get('x-custom')).toBe('v');
    expect(sink.headers?.get('content-type')).toBe('text/plain;charset=UTF-8');
    expect(sink.headers?.has('connection')).toBe(false);
    expect(sink.headers?.has('transfer-encoding')).toBe(false);
    expect(sink.text()).toBe('created');
    expect(sink.ended).toBe(true);
  });

  it('passes router params in the context', async () => {
    const router = new Router().get(
      '/users/:id',
      fetchHandler((_request, ctx) => Response.json({ id: ctx.params.id })),
    );
    const { req, res, sink } = createExchange({ target: '/users/42' });
    await router.handler()(req, res);
    expect(JSON.parse(sink.text())).toEqual({ id: '42' });
  });

  it('ends bodiless responses without a body', async () => {
    const handler = fetchHandler(() => new Response(null, { status: 204 }));
    const { req, res, sink } = createExchange();
    await handler(req, res);
    expect(sink.status).toBe(204);
    expect(sink.ended).toBe(true);
    expect(sink.chunks).toHaveLength(0);
  });

  it('answers HEAD without reading the body and without a false Content-Length: 0', async () => {
    const { stream, state } = controlledStream();
    const handler = fetchHandler(() => new Response(stream));
    const { req, res, sink } = createExchange({ method: 'HEAD' });
    await handler(req, res);
    expect(sink.status).toBe(200);
    expect(sink.headers?.has('content-length')).toBe(false);
    expect(sink.chunks).toHaveLength(0);
    expect(sink.ended).toBe(true);
    expect(state.cancelled).toBeDefined();
  });

  it('streams chunk by chunk and stops reading while res.write() says false', async () => {
    const { stream, state, push, close } = controlledStream();
    const handler = fetchHandler(() => new Response(stream));
    const { req, sink } = createExchange();
    sink.capacity = 3;
    const res = new ServerResponse(sink, { highWaterMark: 3 });
    const done = handler(req, res);
    await tick();
    push('abcd'); // over capacity: write() returns false
    await tick();
    const pullsWhileBlocked = state.pulls;
    push('ef'); // queued in the stream, not read while the sink is full
    await tick();
    await tick();
    expect(sink.text()).toBe('abcd');
    expect(state.pulls).toBe(pullsWhileBlocked);
    sink.flush();
    await tick();
    expect(sink.text()).toBe('abcdef');
    close();
    await done;
    expect(sink.ended).toBe(true);
    expect(sink.headers?.has('content-length')).toBe(false);
  });

  it('cancels the response body when the client goes away', async () => {
    const { stream, state, push } = controlledStream();
    const handler = fetchHandler(() => new Response(stream));
    const ex = createExchange();
    const done = handler(ex.req, ex.res);
    push('first');
    await tick();
    expect(ex.sink.text()).toBe('first');
    ex.abort(new Error('client gone'));
    await done;
    expect(state.cancelled).toBeInstanceOf(Error);
    expect((state.cancelled as Error).message).toBe('client gone');
    expect(ex.sink.ended).toBe(false);
    // The engine owns the dead stream; the adapter just stops.
    expect(ex.sink.aborted).toBeUndefined();
  });

  it('cancels while waiting for drain if the client goes away', async () => {
    const { stream, state, push } = controlledStream();
    const handler = fetchHandler(() => new Response(stream));
    const ex = createExchange();
    ex.sink.capacity = 1;
    const done = handler(ex.req, ex.res);
    push('xx');
    await tick();
    ex.abort();
    await done;
    expect(state.cancelled).toBeDefined();
  });

  it('aborts the response when the body stream errors after the head was sent', async () => {
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    const stream = new ReadableStream<Uint8Array>({ start: (c) => void (controller = c) });
    const handler = fetchHandler(() => new Response(stream));
    const { req, res, sink } = createExchange();
    const done = handler(req, res);
    controller.enqueue(encode('partial'));
    await tick();
    const failure = new Error('upstream broke');
    controller.error(failure);
    await done;
    expect(sink.aborted).toBe(failure);
  });

  it('propagates errors thrown by the web handler', async () => {
    const handler = fetchHandler(() => {
      throw new HttpError(422, 'nope');
    });
    const { req, res } = createExchange();
    await expect(handler(req, res)).rejects.toMatchObject({ status: 422 });
  });
});

describe('toFetch (the reverse)', () => {
  it('calls a ghostnet handler with a Request and streams the Response', async () => {
    const router = new Router().post('/echo/:tag', async (req, res) => {
      const body = await req.text();
      res.setHeader('x-tag', req.params.tag!);
      res.write(`${req.method} ${req.path} `);
      res.end(body.toUpperCase());
    });
    const fetchLike = toFetch(router.handler());
    const response = await fetchLike(
      new Request('http://local.test/echo/t1?q=1', { method: 'POST', body: 'payload' }),
    );
    expect(response.status).toBe(200);
    expect(response.headers.get('x-tag')).toBe('t1');
    expect(await response.text()).toBe('POST /echo/t1 PAYLOAD');
  });

  it('answers 404 when the handler does not answer, and 405 through the router', async () => {
    const fetchLike = toFetch(new Router().get('/only-get', (_q, r) => r.text('ok')).handler());
    expect((await fetchLike(new Request('http://x.test/none'))).status).toBe(404);
    const r405 = await fetchLike(new Request('http://x.test/only-get', { method: 'DELETE' }));
    expect(r405.status).toBe(405);
    expect(r405.headers.get('allow')).toBe('GET, HEAD, OPTIONS');
  });

  it('rejects when the handler throws before answering', async () => {
    const fetchLike = toFetch(() => {
      throw new HttpError(409, 'conflict');
    });
    await expect(fetchLike(new Request('http://x.test/'))).rejects.toMatchObject({ status: 409 });
  });

  it('applies backpressure from the Response stream to res.write()', async () => {
    let firstWrite: boolean | undefined;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const fetchLike = toFetch(
      async (_req, res) => {
        firstWrite = res.write(new Uint8Array(8));
        await gate;
        await res.drained();
        res.end(new Uint8Array(1));
      },
      { highWaterMark: 4 },
    );
    const response = await fetchLike(new Request('http://x.test/'));
    expect(firstWrite).toBe(false);
    release();
    const all = new Uint8Array(await response.arrayBuffer());
    expect(all.length).toBe(9);
  });

  it('round-trips through fetchHandler', async () => {
    const inner = fetchHandler(async (request) => new Response(`got ${await request.text()}`));
    const outer = toFetch(inner);
    const response = await outer(new Request('http://x.test/', { method: 'PUT', body: 'data' }));
    expect(await response.text()).toBe('got data');
  });
});
