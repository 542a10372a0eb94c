import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpError } from '../../../../src/protocols/http/errors.js';
import { ServerResponse } from '../../../../src/protocols/http/response.js';
import { serveStatic } from '../../../../src/protocols/http/static/serve-static.js';
import type { ServeStaticOptions } from '../../../../src/protocols/http/static/serve-static.js';
import { createExchange, RecordingSink } from '../../../helpers/http-exchange.js';
import type { ExchangeInit } from '../../../helpers/http-exchange.js';

let base: string;
let root: string;
const BIG_SIZE = 1024 * 1024 + 123;
let big: Buffer;

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'ghostnet-static-'));
  root = join(base, 'www');
  await mkdir(join(root, 'docs', 'sub'), { recursive: true });
  await mkdir(join(root, 'empty-dir'));
  await mkdir(join(root, '.git'));
  await writeFile(join(root, 'index.html'), '<h1>home</h1>');
  await writeFile(join(root, 'app.js'), 'console.log(1)');
  await writeFile(join(root, 'docs', 'index.html'), '<h1>docs</h1>');
  await writeFile(join(root, 'docs', 'a b.txt'), 'spaced');
  await writeFile(join(root, '.env'), 'SECRET=1');
  await writeFile(join(root, '.git', 'config'), '[core]');
  await writeFile(join(base, 'secret.txt'), 'outside');
  await symlink(join(base, 'secret.txt'), join(root, 'escape.txt'));
  await symlink(base, join(root, 'escape-dir'));
  await symlink(join(root, 'app.js'), join(root, 'alias.js'));
  big = Buffer.alloc(BIG_SIZE);
  for (let i = 0; i < BIG_SIZE; i++) big[i] = (i * 31 + (i >> 8)) & 0xff;
  await writeFile(join(root, 'big.bin'), big);
});

afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

async function run(init: ExchangeInit, options: ServeStaticOptions = {}) {
  const ex = createExchange(init);
  let nextCalled = false;
  let error: unknown;
  try {
    await serveStatic(root, options)(ex.req, ex.res, async () => {
      nextCalled = true;
    });
  } catch (err) {
    error = err;
  }
  return { sink: ex.sink, nextCalled, error: error as HttpError | undefined };
}

describe('serveStatic: files and directories', () => {
  it('serves a file with its content type', async () => {
    const { sink } = await run({ target: '/app.js' });
    expect(sink.status).toBe(200);
    expect(sink.text()).toBe('console.log(1)');
    expect(sink.headers!.get('content-type')).toBe('text/javascript; charset=utf-8');
  });

  it('decodes percent-encoded names and ignores the query', async () => {
    const { sink } = await run({ target: '/docs/a%20b.txt?x=1' });
    expect(sink.text()).toBe('spaced');
  });

  it('serves the index for / and for a directory with trailing slash', async () => {
    expect((await run({ target: '/' })).sink.text()).toBe('<h1>home</h1>');
    expect((await run({ target: '/docs/' })).sink.text()).toBe('<h1>docs</h1>');
  });

  it('redirects a directory without trailing slash with 301, keeping the query', async () => {
    const { sink } = await run({ target: '/docs?lang=en' });
    expect(sink.status).toBe(301);
    expect(sink.headers!.get('location')).toBe('/docs/?lang=en');
  });

  it('never builds a scheme-relative redirect from //host', async () => {
    const { sink } = await run({ target: '//docs' });
    expect(sink.status).toBe(301);
    expect(sink.headers!.get('location')).toBe('/docs/');
  });

  it('a directory without index is a miss; index: [] disables indexes', async () => {
    expect((await run({ target: '/empty-dir/' })).nextCalled).toBe(true);
    expect((await run({ target: '/docs/' }, { index: [] })).nextCalled).toBe(true);
  });

  it('a file with a trailing slash is a miss', async () => {
    expect((await run({ target: '/app.js/' })).nextCalled).toBe(true);
  });

  it('misses call next() by default and throw 404 with fallthrough: false', async () => {
    const miss = await run({ target: '/nope.txt' });
    expect(miss.nextCalled).toBe(true);
    expect(miss.sink.status).toBeUndefined();
    const strict = await run({ target: '/nope.txt' }, { fallthrough: false });
    expect(strict.error?.status).toBe(404);
    expect(strict.nextCalled).toBe(false);
  });

  it('other methods call next(), or 405 with Allow when fallthrough is false', async () => {
    expect((await run({ method: 'POST', target: '/app.js' })).nextCalled).toBe(true);
    const strict = await run({ method: 'DELETE', target: '/app.js' }, { fallthrough: false });
    expect(strict.error?.status).toBe(405);
    expect(strict.error?.headers.Allow).toBe('GET, HEAD');
  });

  it('HEAD sends headers without a body', async () => {
    const { sink } = await run({ method: 'HEAD', target: '/app.js' });
    expect(sink.status).toBe(200);
    expect(sink.headers!.get('content-length')).toBe('14');
    expect(sink.chunks).toHaveLength(0);
  });

  it('conditional GET through the middleware gives 304', async () => {
    const first = await run({ target: '/app.js' });
    const etag = first.sink.headers!.get('etag')!;
    const second = await run({ target: '/app.js', headers: { 'if-none-match': etag } });
    expect(second.sink.status).toBe(304);
  });

  it('maxAge and immutable reach Cache-Control', async () => {
    const { sink } = await run({ target: '/app.js' }, { maxAge: 60, immutable: true });
    expect(sink.headers!.get('cache-control')).toBe('public, max-age=60, immutable');
  });

  it('validates its options', () => {
    expect(() => serveStatic(root, { spaFallback: '../x.html' })).toThrow(/spaFallback/);
    expect(() => serveStatic(root, { index: ['../x'] })).toThrow(/index/);
    expect(() => serveStatic(root, { maxAge: 1.5 })).toThrow(/maxAge/);
  });
});

describe('serveStatic: SPA fallback', () => {
  it('serves the fallback for extension-less misses', async () => {
    const { sink, nextCalled } = await run({ target: '/users/42' }, { spaFallback: 'index.html' });
    expect(nextCalled).toBe(false);
    expect(sink.status).toBe(200);
    expect(sink.text()).toBe('<h1>home</h1>');
  });

  it('does not hide missing assets', async () => {
    const { nextCalled } = await run({ target: '/missing.js' }, { spaFallback: 'index.html' });
    expect(nextCalled).toBe(true);
  });

  it('still serves real files', async () => {
    const { sink } = await run({ target: '/app.js' }, { spaFallback: 'index.html' });
    expect(sink.text()).toBe('console.log(1)');
  });
});

describe('serveStatic: dotfiles', () => {
  it('ignore (default) treats them as missing', async () => {
    expect((await run({ target: '/.env' })).nextCalled).toBe(true);
    expect((await run({ target: '/.git/config' })).nextCalled).toBe(true);
    const strict = await run({ target: '/.env' }, { fallthrough: false });
    expect(strict.error?.status).toBe(404);
  });

  it('deny answers 403', async () => {
    const { error } = await run({ target: '/.git/config' }, { dotfiles: 'deny' });
    expect(error?.status).toBe(403);
  });

  it('allow serves them', async () => {
    const { sink } = await run({ target: '/.env' }, { dotfiles: 'allow' });
    expect(sink.text()).toBe('SECRET=1');
  });

  it('an encoded dot is still a dotfile', async () => {
    expect((await run({ target: '/%2eenv' }, { dotfiles: 'deny' })).error?.status).toBe(403);
  });
});

describe('serveStatic: path traversal', () => {
  it.each([
    ['/../etc/passwd', 403],
    ['/docs/../../secret.txt', 403],
    ['/%2e%2e/secret.txt', 403],
    ['/%2E%2E/secret.txt', 403],
    ['/docs/%2e%2e/%2e%2e/secret.txt', 403],
    ['/..%2fsecret.txt', 403],
    ['/..%2Fsecret.txt', 403],
    ['/..%5csecret.txt', 403],
    ['/docs%2f..%2f..%2fsecret.txt', 403],
    ['/app.js%00.html', 400],
    ['/%00', 400],
    ['/%zz', 400],
    ['/%2', 400],
    ['/%C0%AE%C0%AE/secret.txt', 400],
    ['/%ff', 400],
  ])('%s → %i, never the file and never next()', async (target, status) => {
    const { sink, nextCalled, error } = await run(
      { target },
      { spaFallback: 'index.html', dotfiles: 'allow' },
    );
    expect(error).toBeInstanceOf(HttpError);
    expect(error?.status).toBe(status);
    expect(nextCalled).toBe(false);
    expect(sink.status).toBeUndefined();
  });

  it('refuses a symlink to a file outside the root', async () => {
    const { sink, error } = await run({ target: '/escape.txt' });
    expect(error?.status).toBe(403);
    expect(sink.chunks).toHaveLength(0);
  });

  it('refuses paths through a symlinked directory outside the root', async () => {
    const { error } = await run({ target: '/escape-dir/secret.txt' });
    expect(error?.status).toBe(403);
  });

  it('follows a symlink that stays inside the root', async () => {
    const { sink } = await run({ target: '/alias.js' });
    expect(sink.text()).toBe('console.log(1)');
  });

  it('absolute-form targets are confined too', async () => {
    const { error } = await run({ target: 'http://localhost/%2e%2e/secret.txt' });
    expect(error?.status).toBe(403);
  });
});

describe('serveStatic: streaming', () => {
  it('streams a big file with backpressure: bounded bytes in flight until flush()', async () => {
    const ex = createExchange({ target: '/big.bin' });
    const sink = new RecordingSink();
    const hwm = 16 * 1024;
    const chunk = 4 * 1024;
    const res = new ServerResponse(sink, { highWaterMark: hwm });
    sink.capacity = hwm;
    let waits = 0;
    let onWait: (() => void) | undefined;
    const originalDrained = res.drained.bind(res);
    res.drained = () => {
      waits++;
      onWait?.();
      return originalDrained();
    };
    const blocked = () => new Promise<void>((resolve) => (onWait = resolve));

    let done = false;
    let nextBlock = blocked();
    const middleware = serveStatic(root, { highWaterMark: chunk });
    const serving = Promise.resolve(
      middleware(ex.req, res, async () => {
        throw new Error('next() must not be called');
      }),
    ).then(() => {
      done = true;
      onWait?.();
    });
    let maxInFlight = 0;
    while (!done) {
      await nextBlock;
      if (done) break;
      // The sender is parked in drained(): what it wrote since the last flush is bounded.
      maxInFlight = Math.max(maxInFlight, sink.buffered);
      expect(sink.buffered).toBeLessThan(hwm + chunk);
      expect(sink.ended).toBe(false);
      nextBlock = blocked();
      sink.flush();
    }
    await serving;
    expect(waits).toBeGreaterThan(BIG_SIZE / (hwm + chunk) - 1);
    expect(maxInFlight).toBeGreaterThanOrEqual(hwm);
    expect(sink.status).toBe(200);
    expect(sink.ended).toBe(true);
    expect(Buffer.compare(sink.body(), big)).toBe(0);
  });

  it('a range of a big file is streamed exactly', async () => {
    const start = 70000;
    const end = 300000;
    const { sink } = await run(
      { target: '/big.bin', headers: { range: `bytes=${start}-${end}` } },
      { highWaterMark: 8192 },
    );
    expect(sink.status).toBe(206);
    expect(Buffer.compare(sink.body(), big.subarray(start, end + 1))).toBe(0);
  });

  it('stops reading when the request is aborted while waiting for drain', async () => {
    const ex = createExchange({ target: '/big.bin' });
    ex.sink.capacity = 64 * 1024;
    let release: (() => void) | undefined;
    const parked = new Promise<void>((resolve) => (release = resolve));
    const originalDrained = ex.res.drained.bind(ex.res);
    ex.res.drained = () => {
      release?.();
      return originalDrained();
    };
    const serving = serveStatic(root)(ex.req, ex.res, async () => {});
    await parked;
    const writtenBeforeAbort = ex.sink.buffered;
    ex.abort();
    await serving;
    expect(ex.sink.aborted).toBeDefined();
    expect(ex.sink.ended).toBe(false);
    expect(ex.sink.body().length).toBe(writtenBeforeAbort);
    expect(writtenBeforeAbort).toBeLessThan(BIG_SIZE);
  });
});
