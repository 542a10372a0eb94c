import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from '../../../../src/errors.js';
import { cors } from '../../../../src/protocols/http/middleware/cors.js';
import type { CorsOptions } from '../../../../src/protocols/http/middleware/cors.js';
import { createExchange } from '../../../helpers/http-exchange.js';
import { chain } from './run.js';

async function send(options: CorsOptions, method: string, headers: Record<string, string>) {
  const { req, res, sink } = createExchange({ method, headers });
  let ran = false;
  await chain([cors(options)], (_rq, r) => {
    ran = true;
    r.setHeader('x-total', '5');
    r.text('ok');
  })(req, res);
  return { ran, status: sink.status, headers: sink.headers! };
}

const preflight = (origin: string, extra: Record<string, string> = {}) => ({
  origin,
  'access-control-request-method': 'PUT',
  ...extra,
});

describe('cors', () => {
  it('answers any origin with * by default, without Vary', async () => {
    const r = await send({}, 'GET', { origin: 'https://a.example' });
    expect(r.ran).toBe(true);
    expect(r.headers.get('access-control-allow-origin')).toBe('*');
    expect(r.headers.has('vary')).toBe(false);
    expect(r.headers.has('access-control-allow-credentials')).toBe(false);
  });

  it('leaves requests without Origin alone', async () => {
    const r = await send({ origins: ['https://a.example'] }, 'GET', {});
    expect(r.headers.has('access-control-allow-origin')).toBe(false);
    expect(r.headers.get('vary')).toBe('Origin');
  });

  it('echoes listed origins with Vary: Origin and refuses others', async () => {
    const options = { origins: ['https://a.example', /^https:\/\/[a-z]+\.b\.example$/] };
    const ok = await send(options, 'GET', { origin: 'https://a.example' });
    expect(ok.headers.get('access-control-allow-origin')).toBe('https://a.example');
    expect(ok.headers.get('vary')).toBe('Origin');
    const re = await send(options, 'GET', { origin: 'https://x.b.example' });
    expect(re.headers.get('access-control-allow-origin')).toBe('https://x.b.example');
    const bad = await send(options, 'GET', { origin: 'https://x.b.example.evil' });
    expect(bad.ran).toBe(true);
    expect(bad.headers.has('access-control-allow-origin')).toBe(false);
    const other = await send(options, 'GET', { origin: 'https://evil.example' });
    expect(other.headers.has('access-control-allow-origin')).toBe(false);
  });

  it('accepts a single origin, a RegExp and a function', async () => {
    expect(
      (
        await send({ origins: 'https://a.example' }, 'GET', { origin: 'https://a.example' })
      ).headers.get('access-control-allow-origin'),
    ).toBe('https://a.example');
    expect(
      (
        await send({ origins: /^https:\/\/a\./ }, 'GET', { origin: 'https://a.example' })
      ).headers.has('access-control-allow-origin'),
    ).toBe(false); // a RegExp must match the whole origin
    const fn = (o: string) => o.endsWith('.trusted.example');
    expect(
      (await send({ origins: fn }, 'GET', { origin: 'https://x.trusted.example' })).headers.get(
        'access-control-allow-origin',
      ),
    ).toBe('https://x.trusted.example');
  });

  it('never sends * with credentials', async () => {
    const r = await send({ credentials: true }, 'GET', { origin: 'https://a.example' });
    expect(r.headers.get('access-control-allow-origin')).toBe('https://a.example');
    expect(r.headers.get('access-control-allow-credentials')).toBe('true');
    expect(r.headers.get('vary')).toBe('Origin');
  });

  it('exposes configured headers on actual requests', async () => {
    const r = await send({ exposedHeaders: ['X-Total', 'ETag'] }, 'GET', {
      origin: 'https://a.example',
    });
    expect(r.headers.get('access-control-expose-headers')).toBe('X-Total, ETag');
  });

  it('answers preflights with 204 and the allowed methods and headers', async () => {
    const r = await send(
      {
        origins: ['https://a.example'],
        allowedHeaders: ['Content-Type', 'Authorization'],
        maxAge: 120,
      },
      'OPTIONS',
      preflight('https://a.example', { 'access-control-request-headers': 'content-type' }),
    );
    expect(r.ran).toBe(false);
    expect(r.status).toBe(204);
    expect(r.headers.get('access-control-allow-origin')).toBe('https://a.example');
    expect(r.headers.get('access-control-allow-methods')).toBe(
      'GET, HEAD, PUT, PATCH, POST, DELETE',
    );
    expect(r.headers.get('access-control-allow-headers')).toBe('Content-Type, Authorization');
    expect(r.headers.get('access-control-max-age')).toBe('120');
    expect(r.headers.has('access-control-expose-headers')).toBe(false);
  });

  it('reflects requested headers when none are configured', async () => {
    const r = await send(
      {},
      'OPTIONS',
      preflight('https://a.example', { 'access-control-request-headers': 'x-a, X-B' }),
    );
    expect(r.headers.get('access-control-allow-headers')).toBe('x-a, X-B');
    expect(r.headers.get('vary')).toBe('Access-Control-Request-Headers');
    expect(r.headers.get('access-control-max-age')).toBe('600');
  });

  it('passes preflights from refused origins and plain OPTIONS to the handler', async () => {
    const refused = await send(
      { origins: ['https://a.example'] },
      'OPTIONS',
      preflight('https://evil.example'),
    );
    expect(refused.ran).toBe(true);
    expect(refused.headers.has('access-control-allow-methods')).toBe(false);
    const plain = await send({}, 'OPTIONS', { origin: 'https://a.example' });
    expect(plain.ran).toBe(true);
  });

  it('validates its options', () => {
    expect(() => cors({ origins: ['*'] })).toThrow(InvalidOptionError);
    expect(() => cors({ methods: ['GET POST'] })).toThrow(InvalidOptionError);
    expect(() => cors({ credentials: true, allowedHeaders: ['*'] })).toThrow(/by name/);
    expect(() => cors({ maxAge: -1 })).toThrow(InvalidOptionError);
  });
});
