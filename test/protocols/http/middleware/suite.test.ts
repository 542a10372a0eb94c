import * as zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  compression,
  cors,
  rateLimit,
  recovery,
  requestLogger,
  securityHeaders,
} from '../../../../src/protocols/http/middleware/index.js';
import type { Handler } from '../../../../src/protocols/http/types.js';
import { createExchange } from '../../../helpers/http-exchange.js';
import { chain, recordingLogger, until } from './run.js';

function stack(handler: Handler) {
  const { logger, records } = recordingLogger();
  const run = chain(
    [
      recovery({ logger }),
      requestLogger({ logger }),
      securityHeaders(),
      cors({ origins: ['https://app.example'], credentials: true }),
      rateLimit({ capacity: 5, refillPerSecond: 1, now: () => 0 }),
      compression(),
    ],
    handler,
  );
  return { run, records };
}

describe('middleware suite together', () => {
  it('compresses a CORS response and logs the compressed byte count', async () => {
    const body = JSON.stringify({ items: Array.from({ length: 300 }, (_, i) => `entry-${i}`) });
    const { run, records } = stack((_rq, r) => r.send(body, 'application/json'));
    const ex = createExchange({
      scheme: 'https',
      headers: { origin: 'https://app.example', 'accept-encoding': 'gzip' },
    });
    await run(ex.req, ex.res);
    await until(() => ex.sink.ended && records.length > 0);
    const h = ex.sink.headers!;
    expect(h.get('content-encoding')).toBe('gzip');
    expect(h.get('vary')).toBe('Origin, Accept-Encoding');
    expect(h.get('access-control-allow-origin')).toBe('https://app.example');
    expect(h.get('strict-transport-security')).toContain('max-age=');
    expect(h.get('ratelimit-remaining')).toBe('4');
    expect(zlib.gunzipSync(ex.sink.body()).toString()).toBe(body);
    expect(records.at(-1)!.obj).toMatchObject({ status: 200, bytes: ex.sink.body().length });
  });

  it('keeps CORS, security and request-id fields on a recovered 500', async () => {
    const { run, records } = stack((_rq, r) => {
      r.setHeader('content-type', 'application/json');
      throw new Error('kaput');
    });
    const ex = createExchange({ headers: { origin: 'https://app.example' } });
    await run(ex.req, ex.res);
    const h = ex.sink.headers!;
    expect(ex.sink.status).toBe(500);
    expect(h.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(h.get('x-request-id')).toBe(ex.req.id);
    expect(h.get('x-content-type-options')).toBe('nosniff');
    expect(h.get('access-control-allow-origin')).toBe('https://app.example');
    expect(records.map((r) => [r.level, r.obj['status']])).toEqual([
      ['error', 500],
      ['error', 500],
    ]);
  });
});
