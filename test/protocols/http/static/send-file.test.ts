import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpError } from '../../../../src/protocols/http/errors.js';
import { sendFile } from '../../../../src/protocols/http/static/send-file.js';
import { createExchange } from '../../../helpers/http-exchange.js';
import type { ExchangeInit } from '../../../helpers/http-exchange.js';

let dir: string;
let file: string;
const CONTENT = '0123456789abcdefghijklmnopqrstuvwxyz'; // 36 bytes
const MTIME = new Date('2024-03-01T12:00:00.000Z');
const MTIME_HTTP = 'Fri, 01 Mar 2024 12:00:00 GMT';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ghostnet-sendfile-'));
  file = join(dir, 'data.txt');
  await writeFile(file, CONTENT);
  await utimes(file, MTIME, MTIME);
  await writeFile(join(dir, 'empty.bin'), '');
  await utimes(join(dir, 'empty.bin'), MTIME, MTIME);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function send(init: ExchangeInit, path = file, options = {}) {
  const ex = createExchange(init);
  await sendFile(ex.req, ex.res, path, options);
  expect(ex.sink.ended).toBe(true);
  return ex.sink;
}

async function etagOf(): Promise<string> {
  const sink = await send({});
  return sink.headers!.get('etag')!;
}

describe('sendFile: plain responses', () => {
  it('sends the file with type, length, validators and caching headers', async () => {
    const sink = await send({});
    expect(sink.status).toBe(200);
    expect(sink.text()).toBe(CONTENT);
    expect(sink.headers!.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(sink.headers!.get('content-length')).toBe('36');
    expect(sink.headers!.get('accept-ranges')).toBe('bytes');
    expect(sink.headers!.get('last-modified')).toBe(MTIME_HTTP);
    expect(sink.headers!.get('etag')).toMatch(/^W\/"24-[0-9a-f]+"$/);
    expect(sink.headers!.get('cache-control')).toBe('public, max-age=0');
  });

  it('HEAD sends the headers and no body', async () => {
    const sink = await send({ method: 'HEAD' });
    expect(sink.status).toBe(200);
    expect(sink.headers!.get('content-length')).toBe('36');
    expect(sink.chunks).toHaveLength(0);
  });

  it('honours maxAge, immutable, contentType and disabled validators', async () => {
    const sink = await send({}, file, {
      maxAge: 3600,
      immutable: true,
      contentType: 'application/x-custom',
      etag: false,
      lastModified: false,
      acceptRanges: false,
    });
    expect(sink.headers!.get('cache-control')).toBe('public, max-age=3600, immutable');
    expect(sink.headers!.get('content-type')).toBe('application/x-custom');
    expect(sink.headers!.has('etag')).toBe(false);
    expect(sink.headers!.has('last-modified')).toBe(false);
    expect(sink.headers!.has('accept-ranges')).toBe(false);
  });

  it('sends an empty file', async () => {
    const sink = await send({}, join(dir, 'empty.bin'));
    expect(sink.status).toBe(200);
    expect(sink.headers!.get('content-length')).toBe('0');
    expect(sink.headers!.get('content-type')).toBe('application/octet-stream');
  });

  it('rejects other methods with 405 and Allow', async () => {
    const ex = createExchange({ method: 'POST' });
    const err = await sendFile(ex.req, ex.res, file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HttpError);
    expect((err as HttpError).status).toBe(405);
    expect((err as HttpError).headers.Allow).toBe('GET, HEAD');
  });

  it('404 for a missing file and for a directory', async () => {
    for (const path of [join(dir, 'nope.txt'), dir]) {
      const ex = createExchange({});
      const err = await sendFile(ex.req, ex.res, path).catch((e: unknown) => e);
      expect((err as HttpError).status).toBe(404);
      expect(ex.sink.status).toBeUndefined();
    }
  });

  it('with root, refuses paths that leave it', async () => {
    const ex = createExchange({});
    const err = await sendFile(ex.req, ex.res, '../../etc/passwd', { root: dir }).catch(
      (e: unknown) => e,
    );
    expect((err as HttpError).status).toBe(403);
    const ok = createExchange({});
    await sendFile(ok.req, ok.res, 'data.txt', { root: dir });
    expect(ok.sink.text()).toBe(CONTENT);
  });

  it('validates options', async () => {
    const ex = createExchange({});
    await expect(sendFile(ex.req, ex.res, file, { maxAge: -1 })).rejects.toMatchObject({
      code: 'GN_ERR_INVALID_OPTION',
    });
    await expect(sendFile(ex.req, ex.res, file, { highWaterMark: 0 })).rejects.toMatchObject({
      code: 'GN_ERR_INVALID_OPTION',
    });
  });
});

describe('sendFile: conditional requests (RFC 9110 §13)', () => {
  it('If-None-Match with the current ETag → 304 for GET and HEAD, with validators', async () => {
    const etag = await etagOf();
    for (const method of ['GET', 'HEAD']) {
      const sink = await send({ method, headers: { 'if-none-match': etag } });
      expect(sink.status).toBe(304);
      expect(sink.chunks).toHaveLength(0);
      expect(sink.headers!.get('etag')).toBe(etag);
      expect(sink.headers!.has('content-length')).toBe(false);
      expect(sink.headers!.has('content-type')).toBe(false);
    }
  });

  it('If-None-Match uses the weak comparison, lists and *', async () => {
    const etag = await etagOf();
    const strong = etag.slice(2); // the same opaque tag without W/
    expect((await send({ headers: { 'if-none-match': strong } })).status).toBe(304);
    expect((await send({ headers: { 'if-none-match': `"x", ${etag}` } })).status).toBe(304);
    expect((await send({ headers: { 'if-none-match': '*' } })).status).toBe(304);
    expect((await send({ headers: { 'if-none-match': '"other"' } })).status).toBe(200);
    expect((await send({ headers: { 'if-none-match': 'garbage' } })).status).toBe(200);
  });

  it('If-Modified-Since → 304 when not modified since, 200 otherwise', async () => {
    expect((await send({ headers: { 'if-modified-since': MTIME_HTTP } })).status).toBe(304);
    const later = 'Sat, 02 Mar 2024 00:00:00 GMT';
    expect((await send({ headers: { 'if-modified-since': later } })).status).toBe(304);
    const earlier = 'Thu, 29 Feb 2024 00:00:00 GMT';
    const sink = await send({ headers: { 'if-modified-since': earlier } });
    expect(sink.status).toBe(200);
    expect(sink.text()).toBe(CONTENT);
    // obsolete formats are accepted (§5.6.7), invalid dates ignored
    const asctime = 'Fri Mar  1 12:00:00 2024';
    expect((await send({ headers: { 'if-modified-since': asctime } })).status).toBe(304);
    expect((await send({ headers: { 'if-modified-since': 'yesterday' } })).status).toBe(200);
  });

  it('If-Modified-Since is ignored when If-None-Match is present', async () => {
    const sink = await send({
      headers: { 'if-none-match': '"other"', 'if-modified-since': MTIME_HTTP },
    });
    expect(sink.status).toBe(200);
  });

  it('If-Match: * passes; a listed tag never matches a weak ETag (strong comparison) → 412', async () => {
    const etag = await etagOf();
    expect((await send({ headers: { 'if-match': '*' } })).status).toBe(200);
    const failed = await send({ headers: { 'if-match': etag } });
    expect(failed.status).toBe(412);
    expect(failed.chunks).toHaveLength(0);
    expect((await send({ headers: { 'if-match': '"nope"' } })).status).toBe(412);
  });

  it('If-Unmodified-Since → 412 when modified after the date', async () => {
    const earlier = 'Thu, 29 Feb 2024 00:00:00 GMT';
    expect((await send({ headers: { 'if-unmodified-since': earlier } })).status).toBe(412);
    expect((await send({ headers: { 'if-unmodified-since': MTIME_HTTP } })).status).toBe(200);
    // ignored when If-Match is present (§13.2.2 step 2)
    expect(
      (await send({ headers: { 'if-match': '*', 'if-unmodified-since': earlier } })).status,
    ).toBe(200);
  });
});

describe('sendFile: ranges (RFC 9110 §14)', () => {
  it.each([
    ['bytes=0-4', 0, 4],
    ['bytes=10-', 10, 35],
    ['bytes=-6', 30, 35],
    ['bytes=30-1000', 30, 35],
    ['bytes=-100', 0, 35],
    ['BYTES = 5-5', 5, 5],
  ])('%s → 206 %i-%i', async (range, start, end) => {
    const sink = await send({ headers: { range } });
    expect(sink.status).toBe(206);
    expect(sink.headers!.get('content-range')).toBe(`bytes ${start}-${end}/36`);
    expect(sink.headers!.get('content-length')).toBe(String(end - start + 1));
    expect(sink.text()).toBe(CONTENT.slice(start, end + 1));
  });

  it.each(['bytes=36-', 'bytes=100-200', 'bytes=-0', 'bytes=40-50, 60-'])(
    '%s → 416 with Content-Range: bytes */36',
    async (range) => {
      const sink = await send({ headers: { range } });
      expect(sink.status).toBe(416);
      expect(sink.headers!.get('content-range')).toBe('bytes */36');
      expect(sink.chunks).toHaveLength(0);
    },
  );

  it('any range of an empty file is unsatisfiable', async () => {
    const sink = await send({ headers: { range: 'bytes=-5' } }, join(dir, 'empty.bin'));
    expect(sink.status).toBe(416);
    expect(sink.headers!.get('content-range')).toBe('bytes */0');
  });

  it.each(['bytes=5-2', 'items=0-1', 'bytes=abc', 'bytes=', 'bytes=1-2-3', '0-5'])(
    'invalid or foreign Range %s is ignored → 200',
    async (range) => {
      const sink = await send({ headers: { range } });
      expect(sink.status).toBe(200);
      expect(sink.text()).toBe(CONTENT);
    },
  );

  it('multiple ranges are answered with the whole 200 (documented choice)', async () => {
    const sink = await send({ headers: { range: 'bytes=0-1, 5-6' } });
    expect(sink.status).toBe(200);
    expect(sink.text()).toBe(CONTENT);
    // one satisfiable range among unsatisfiable ones is served as a single range
    const one = await send({ headers: { range: 'bytes=0-1, 100-' } });
    expect(one.status).toBe(206);
    expect(one.text()).toBe('01');
  });

  it('Range is ignored for HEAD and when acceptRanges is false', async () => {
    expect((await send({ method: 'HEAD', headers: { range: 'bytes=0-1' } })).status).toBe(200);
    const sink = await send({ headers: { range: 'bytes=0-1' } }, file, { acceptRanges: false });
    expect(sink.status).toBe(200);
    expect(sink.text()).toBe(CONTENT);
  });

  it('If-Range with the Last-Modified date honours the range; an older date does not', async () => {
    const hit = await send({ headers: { range: 'bytes=0-1', 'if-range': MTIME_HTTP } });
    expect(hit.status).toBe(206);
    const miss = await send({
      headers: { range: 'bytes=0-1', 'if-range': 'Thu, 29 Feb 2024 00:00:00 GMT' },
    });
    expect(miss.status).toBe(200);
    expect(miss.text()).toBe(CONTENT);
  });

  it('If-Range with a (weak) ETag never matches strongly → whole 200', async () => {
    const etag = await etagOf();
    const sink = await send({ headers: { range: 'bytes=0-1', 'if-range': etag } });
    expect(sink.status).toBe(200);
    expect(sink.text()).toBe(CONTENT);
  });

  it('If-None-Match takes precedence over Range', async () => {
    const etag = await etagOf();
    const sink = await send({ headers: { range: 'bytes=0-1', 'if-none-match': etag } });
    expect(sink.status).toBe(304);
  });
});
