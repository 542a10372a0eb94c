import { randomBytes } from 'node:crypto';
import * as zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from '../../../../src/errors.js';
import {
  compression,
  isCompressible,
  negotiateEncoding,
} from '../../../../src/protocols/http/middleware/compression.js';
import type { CompressionOptions } from '../../../../src/protocols/http/middleware/compression.js';
import type { Handler } from '../../../../src/protocols/http/types.js';
import { createExchange } from '../../../helpers/http-exchange.js';
import { chain, until } from './run.js';

const json = JSON.stringify(
  Array.from({ length: 200 }, (_, i) => ({ id: i, name: `item number ${i}`, tags: ['a', 'b'] })),
);

function decode(encoding: string | undefined, body: Buffer): string {
  switch (encoding) {
    case 'gzip':
      return zlib.gunzipSync(body).toString('utf8');
    case 'deflate':
      return zlib.inflateSync(body).toString('utf8');
    case 'br':
      return zlib.brotliDecompressSync(body).toString('utf8');
    default:
      return body.toString('utf8');
  }
}

async function run(
  handler: Handler,
  init: { accept?: string; method?: string; options?: CompressionOptions } = {},
) {
  const headers: Record<string, string> = {};
  if (init.accept !== undefined) headers['accept-encoding'] = init.accept;
  const ex = createExchange({ method: init.method ?? 'GET', headers });
  await chain([compression(init.options)], handler)(ex.req, ex.res);
  await until(() => ex.sink.ended || ex.sink.aborted !== undefined);
  return ex;
}

const sendJson: Handler = (_rq, r) => r.send(json, 'application/json');

describe('negotiateEncoding', () => {
  it('picks the highest q-value, breaking ties by server preference', () => {
    expect(negotiateEncoding('gzip, deflate, br')).toBe('br');
    expect(negotiateEncoding('gzip;q=1.0, br;q=0.5')).toBe('gzip');
    expect(negotiateEncoding('deflate')).toBe('deflate');
    expect(negotiateEncoding('GZIP')).toBe('gzip');
    expect(negotiateEncoding('x-gzip')).toBe('gzip');
    expect(negotiateEncoding('gzip, br', ['gzip', 'br'])).toBe('gzip');
  });

  it('excludes q=0, honours * and identity', () => {
    expect(negotiateEncoding('br;q=0, gzip')).toBe('gzip');
    expect(negotiateEncoding('*')).toBe('br');
    expect(negotiateEncoding('*;q=0.5, br;q=0, gzip;q=0')).toBe('deflate');
    expect(negotiateEncoding('gzip;q=0.5, identity')).toBeUndefined();
    expect(negotiateEncoding('gzip;q=0.5, identity;q=0.5')).toBe('gzip');
    expect(negotiateEncoding('identity')).toBeUndefined();
    expect(negotiateEncoding('')).toBeUndefined();
    expect(negotiateEncoding(undefined)).toBeUndefined();
    expect(negotiateEncoding('gzip;q=0')).toBeUndefined();
    expect(negotiateEncoding('gzip;q=2')).toBeUndefined(); // invalid qvalue counts as 0
  });
});

describe('isCompressible', () => {
  it('accepts text-like types and refuses binary ones', () => {
    for (const t of [
      'text/html',
      'application/json',
      'application/problem+json',
      'image/svg+xml',
      'application/javascript',
      'application/xml',
    ]) {
      expect(isCompressible(t)).toBe(true);
    }
    for (const t of [
      'image/png',
      'image/jpeg',
      'application/zip',
      'application/octet-stream',
      'text/event-stream',
      'video/mp4',
    ]) {
      expect(isCompressible(t)).toBe(false);
    }
  });
});

describe('compression', () => {
  for (const encoding of ['gzip', 'deflate', 'br'] as const) {
    it(`compresses with ${encoding}`, async () => {
      const { sink } = await run(sendJson, { accept: encoding });
      expect(sink.status).toBe(200);
      expect(sink.headers?.get('content-encoding')).toBe(encoding);
      expect(sink.headers?.has('content-length')).toBe(false);
      expect(sink.headers?.get('vary')).toBe('Accept-Encoding');
      expect(sink.body().length).toBeLessThan(json.length / 3);
      expect(decode(encoding, sink.body())).toBe(json);
    });
  }

  it('prefers br when the client accepts everything', async () => {
    const { sink } = await run(sendJson, { accept: 'gzip, deflate, br, zstd' });
    expect(sink.headers?.get('content-encoding')).toBe('br');
  });

  it('sends identity when the client refuses every coding', async () => {
    const { sink } = await run(sendJson, { accept: 'gzip;q=0, br;q=0, deflate;q=0' });
    expect(sink.headers?.has('content-encoding')).toBe(false);
    expect(sink.headers?.get('content-length')).toBe(String(json.length));
    expect(sink.headers?.get('vary')).toBe('Accept-Encoding');
    expect(sink.text()).toBe(json);
  });

  it('skips bodies below the threshold, still adding Vary', async () => {
    const { sink } = await run((_rq, r) => r.send('{"small":true}', 'application/json'), {
      accept: 'gzip',
    });
    expect(sink.headers?.has('content-encoding')).toBe(false);
    expect(sink.headers?.get('vary')).toBe('Accept-Encoding');
    expect(sink.text()).toBe('{"small":true}');
  });

  it('honours a custom threshold', async () => {
    const { sink } = await run((_rq, r) => r.send('x'.repeat(20), 'text/plain'), {
      accept: 'gzip',
      options: { threshold: 10 },
    });
    expect(decode(sink.headers?.get('content-encoding'), sink.body())).toBe('x'.repeat(20));
    expect(sink.headers?.get('content-encoding')).toBe('gzip');
  });

  it('does not compress images or responses without a type', async () => {
    const png = randomBytes(4096);
    const a = await run((_rq, r) => r.send(png, 'image/png'), { accept: 'gzip' });
    expect(a.sink.headers?.has('content-encoding')).toBe(false);
    expect(a.sink.headers?.has('vary')).toBe(false);
    expect(a.sink.body().equals(png)).toBe(true);
    const b = await run((_rq, r) => r.end('x'.repeat(4096)), { accept: 'gzip' });
    expect(b.sink.headers?.has('content-encoding')).toBe(false);
  });

  it('never compresses twice', async () => {
    const pre = zlib.gzipSync(json);
    const { sink } = await run(
      (_rq, r) => {
        r.setHeader('content-encoding', 'gzip');
        r.send(pre, 'application/json');
      },
      { accept: 'gzip, br' },
    );
    expect(sink.headers?.get('content-encoding')).toBe('gzip');
    expect(sink.body().equals(pre)).toBe(true);
  });

  it('skips HEAD, 204, no-transform; adds Vary to 304', async () => {
    const head = await run(sendJson, { accept: 'gzip', method: 'HEAD' });
    expect(head.sink.headers?.has('content-encoding')).toBe(false);
    const noContent = await run(
      (_rq, r) => {
        r.status = 204;
        r.setHeader('content-type', 'application/json');
        r.end();
      },
      { accept: 'gzip' },
    );
    expect(noContent.sink.headers?.has('content-encoding')).toBe(false);
    const notModified = await run(
      (_rq, r) => {
        r.status = 304;
        r.end();
      },
      { accept: 'gzip' },
    );
    expect(notModified.sink.status).toBe(304);
    expect(notModified.sink.headers?.get('vary')).toBe('Accept-Encoding');
    const noTransform = await run(
      (_rq, r) => {
        r.setHeader('cache-control', 'public, no-transform');
        r.send(json, 'application/json');
      },
      { accept: 'gzip' },
    );
    expect(noTransform.sink.headers?.has('content-encoding')).toBe(false);
    expect(noTransform.sink.text()).toBe(json);
  });

  it('weakens a strong ETag and merges with an existing Vary', async () => {
    const { sink } = await run(
      (_rq, r) => {
        r.setHeader('etag', '"v1"');
        r.setHeader('vary', 'Origin');
        r.send(json, 'application/json');
      },
      { accept: 'gzip' },
    );
    expect(sink.headers?.get('etag')).toBe('W/"v1"');
    expect(sink.headers?.get('vary')).toBe('Origin, Accept-Encoding');
  });

  it('compresses a streamed body and passes trailers after it', async () => {
    const { sink } = await run(
      async (_rq, r) => {
        r.setHeader('content-type', 'text/plain');
        r.trailers.set('x-checksum', 'abc');
        for (let i = 0; i < 50; i++) r.write(`line ${i}\n`);
        r.end();
      },
      { accept: 'gzip' },
    );
    const expected = Array.from({ length: 50 }, (_, i) => `line ${i}\n`).join('');
    expect(decode('gzip', sink.body())).toBe(expected);
    expect(sink.trailers?.get('x-checksum')).toBe('abc');
  });

  it('respects the inner sink backpressure and reports its own, with bounded memory', async () => {
    // Random hex compresses about 2:1, so plenty of output reaches the small inner sink.
    const chunks = Array.from({ length: 64 }, () => randomBytes(4096).toString('hex'));
    const capacity = 4096;
    const chunkSize = 1024;
    let maxInner = 0;
    let maxOwn = 0;
    let sawFalse = false;
    const ex = createExchange({ headers: { 'accept-encoding': 'gzip' } });
    ex.sink.capacity = capacity;
    const handler: Handler = async (_rq, r) => {
      r.setHeader('content-type', 'text/plain');
      for (const chunk of chunks) {
        if (!r.write(chunk)) {
          sawFalse = true;
          await r.drained();
        }
        maxOwn = Math.max(maxOwn, r.bufferedAmount);
      }
      r.end();
    };
    const done = chain([compression({ chunkSize, highWaterMark: 16_384 })], handler)(
      ex.req,
      ex.res,
    );
    // A slow "engine": flushes the full sink only every 20th event-loop turn, so a
    // compressor that ignored backpressure would pile output into it meanwhile.
    for (let turn = 1; !ex.sink.ended; turn++) {
      maxInner = Math.max(maxInner, ex.sink.buffered);
      if (turn % 20 === 0 && ex.sink.buffered >= capacity) ex.sink.flush();
      await new Promise((resolve) => setImmediate(resolve));
    }
    await done;
    expect(sawFalse).toBe(true);
    // After writeBody returned false the compressor stopped: at most one more zlib chunk.
    expect(maxInner).toBeLessThanOrEqual(capacity + chunkSize);
    // The application never got far ahead of the compressor (about 64 KiB + one chunk).
    expect(maxOwn).toBeLessThan(65_536 + 4 * 8192);
    expect(decode('gzip', ex.sink.body())).toBe(chunks.join(''));
  });

  it('returns false from write when zlib is full and resumes on drain', async () => {
    const ex = createExchange({ headers: { 'accept-encoding': 'deflate' } });
    ex.sink.capacity = 1; // the inner sink is "full" after the first output chunk
    const text = randomBytes(1 << 20).toString('base64');
    let falseAt = -1;
    await chain([compression({ highWaterMark: 16_384 })], (_rq, r) => {
      r.setHeader('content-type', 'text/plain');
      for (let i = 0; i < text.length; i += 8192) {
        if (!r.write(text.slice(i, i + 8192))) {
          falseAt = i;
          break;
        }
      }
    })(ex.req, ex.res);
    expect(falseAt).toBeGreaterThanOrEqual(0);
    expect(falseAt).toBeLessThan(text.length - 8192);
    const written = falseAt + 8192;
    ex.res.end();
    while (!ex.sink.ended) {
      ex.sink.flush();
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(decode('deflate', ex.sink.body())).toBe(text.slice(0, written));
  });

  it('aborts the inner sink and the compressor on abort', async () => {
    const ex = createExchange({ headers: { 'accept-encoding': 'br' } });
    await chain([compression()], (_rq, r) => {
      r.setHeader('content-type', 'text/plain');
      r.write('x'.repeat(5000));
      r.abort();
    })(ex.req, ex.res);
    expect(ex.sink.aborted).toBe(true);
    await new Promise((resolve) => setImmediate(resolve));
    expect(ex.sink.ended).toBe(false);
  });

  it('validates its options', () => {
    expect(() => compression({ encodings: ['zstd' as never] })).toThrow(InvalidOptionError);
    expect(() => compression({ encodings: [] })).toThrow(InvalidOptionError);
    expect(() => compression({ level: 10 })).toThrow(/level/);
    expect(() => compression({ brotliQuality: 12 })).toThrow(/brotliQuality/);
    expect(() => compression({ threshold: -1 })).toThrow(InvalidOptionError);
  });
});
