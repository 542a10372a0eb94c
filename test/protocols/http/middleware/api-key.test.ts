import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from '../../../../src/errors.js';
import { apiKey } from '../../../../src/protocols/http/middleware/api-key.js';
import type { ApiKeyOptions } from '../../../../src/protocols/http/middleware/api-key.js';
import { safeEqual } from '../../../../src/protocols/http/middleware/constant-time.js';
import { createExchange } from '../../../helpers/http-exchange.js';
import { chain } from './run.js';

async function call(options: ApiKeyOptions, headers: Record<string, string>) {
  const { req, res, sink } = createExchange({ headers });
  let ran = false;
  await chain([apiKey(options)], (_rq, r) => {
    ran = true;
    r.end();
  })(req, res);
  return { ran, status: sink.status, headers: sink.headers!, auth: req.locals['auth'] };
}

describe('apiKey', () => {
  const keys = new Set(['key-one', 'key-two']);

  it('accepts a listed key', async () => {
    const r = await call({ keys }, { 'x-api-key': 'key-two' });
    expect(r.ran).toBe(true);
    expect(r.auth).toEqual({ scheme: 'api-key' });
  });

  it('refuses unknown, prefix and missing keys with 401 and a challenge', async () => {
    for (const headers of [
      { 'x-api-key': 'key-three' },
      { 'x-api-key': 'key-on' },
      { 'x-api-key': 'key-one ' },
      {},
    ] as Array<Record<string, string>>) {
      const r = await call({ keys }, headers);
      expect(r.ran).toBe(false);
      expect(r.status).toBe(401);
      expect(r.headers.get('www-authenticate')).toBe('ApiKey header="x-api-key"');
    }
  });

  it('reads a custom header and calls a function', async () => {
    const check = (key: string) => (safeEqual(key, 'fn-key') ? { tenant: 't1' } : false);
    const r = await call(
      { header: 'Authorization-Key', keys: check },
      { 'authorization-key': 'fn-key' },
    );
    expect(r.ran).toBe(true);
    expect(r.auth).toEqual({ tenant: 't1' });
    expect((await call({ keys: async () => false }, { 'x-api-key': 'x' })).status).toBe(401);
  });

  it('refuses over-long keys without checking them', async () => {
    let calls = 0;
    const r = await call(
      { keys: () => (calls++, true), maxKeyLength: 8 },
      { 'x-api-key': '123456789' },
    );
    expect(r.status).toBe(401);
    expect(calls).toBe(0);
  });

  it('validates its options', () => {
    expect(() => apiKey({} as never)).toThrow(InvalidOptionError);
    expect(() => apiKey({ keys: new Set() })).toThrow(/non-empty/);
    expect(() => apiKey({ keys, header: 'bad header' })).toThrow(/header/);
  });

  it('safeEqual compares whole strings', () => {
    expect(safeEqual('abc', 'abc')).toBe(true);
    expect(safeEqual('abc', 'abd')).toBe(false);
    expect(safeEqual('abc', 'abcd')).toBe(false);
  });
});
