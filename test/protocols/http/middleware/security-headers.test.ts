import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from '../../../../src/errors.js';
import { securityHeaders } from '../../../../src/protocols/http/middleware/security-headers.js';
import type { SecurityHeadersOptions } from '../../../../src/protocols/http/middleware/security-headers.js';
import { createExchange } from '../../../helpers/http-exchange.js';
import { chain } from './run.js';

async function headersFor(options: SecurityHeadersOptions, scheme: 'http' | 'https' = 'https') {
  const { req, res, sink } = createExchange({ scheme });
  await chain([securityHeaders(options)], (_rq, r) => r.text('ok'))(req, res);
  return sink.headers!;
}

describe('securityHeaders', () => {
  it('sets the defaults over https', async () => {
    const h = await headersFor({});
    expect(h.get('strict-transport-security')).toBe('max-age=15552000; includeSubDomains');
    expect(h.get('content-security-policy')).toBe("default-src 'self'");
    expect(h.get('x-content-type-options')).toBe('nosniff');
    expect(h.get('x-frame-options')).toBe('SAMEORIGIN');
    expect(h.get('referrer-policy')).toBe('no-referrer');
    expect(h.get('cross-origin-opener-policy')).toBe('same-origin');
  });

  it('never sends HSTS over plain http', async () => {
    const h = await headersFor({}, 'http');
    expect(h.has('strict-transport-security')).toBe(false);
    expect(h.get('x-content-type-options')).toBe('nosniff');
  });

  it('honours custom values and preload', async () => {
    const h = await headersFor({
      hsts: { maxAge: 63072000, includeSubDomains: true, preload: true },
      contentSecurityPolicy: "default-src 'none'; img-src https:",
      frameOptions: 'DENY',
      referrerPolicy: 'strict-origin-when-cross-origin',
      crossOriginOpenerPolicy: 'same-origin-allow-popups',
    });
    expect(h.get('strict-transport-security')).toBe('max-age=63072000; includeSubDomains; preload');
    expect(h.get('content-security-policy')).toBe("default-src 'none'; img-src https:");
    expect(h.get('x-frame-options')).toBe('DENY');
    expect(h.get('referrer-policy')).toBe('strict-origin-when-cross-origin');
    expect(h.get('cross-origin-opener-policy')).toBe('same-origin-allow-popups');
  });

  it('disables each field with false', async () => {
    const h = await headersFor({
      hsts: false,
      contentSecurityPolicy: false,
      noSniff: false,
      frameOptions: false,
      referrerPolicy: false,
      crossOriginOpenerPolicy: false,
    });
    expect([...h].map(([n]) => n.toLowerCase())).toEqual(['content-type', 'content-length']);
  });

  it('lets the handler override a field', async () => {
    const { req, res, sink } = createExchange();
    await chain([securityHeaders()], (_rq, r) => {
      r.setHeader('x-frame-options', 'DENY');
      r.end();
    })(req, res);
    expect(sink.headers?.get('x-frame-options')).toBe('DENY');
  });

  it('rejects invalid options with the fix', () => {
    expect(() => securityHeaders({ hsts: { preload: true, maxAge: 100 } })).toThrow(
      /includeSubDomains/,
    );
    expect(() => securityHeaders({ frameOptions: 'ALLOW-FROM x' as never })).toThrow(
      /frame-ancestors/,
    );
    expect(() => securityHeaders({ contentSecurityPolicy: 'a\r\nb: c' })).toThrow(
      InvalidOptionError,
    );
    expect(() => securityHeaders({ referrerPolicy: 'sometimes' as never })).toThrow(
      InvalidOptionError,
    );
    expect(() => securityHeaders({ hsts: { maxAge: -1 } })).toThrow(InvalidOptionError);
  });
});
