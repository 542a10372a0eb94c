import { describe, expect, it } from 'vitest';
import { HeaderList } from '../../../src/protocols/http/headers.js';
import { isRedirect, nextRedirect } from '../../../src/protocols/http1/redirect.js';

const base = {
  url: new URL('http://a.test/dir/page?x=1#frag'),
  headers: new HeaderList({
    Authorization: 'a',
    Cookie: 'c',
    'Proxy-Authorization': 'p',
    'Content-Type': 'text/plain',
    Accept: '*/*',
  }),
  hasBody: true,
  bodyReplayable: true,
};

describe('nextRedirect (RFC 9110 §15.4)', () => {
  it('resolves relative Locations and inherits the fragment', () => {
    const step = nextRedirect({ ...base, status: 302, location: '../other', method: 'GET' });
    expect(step?.url.href).toBe('http://a.test/other#frag');
    const own = nextRedirect({ ...base, status: 302, location: '/o#mine', method: 'GET' });
    expect(own?.url.hash).toBe('#mine');
  });

  it('rewrites methods per status and drops body headers with the body', () => {
    const table: [number, string, string, boolean][] = [
      [301, 'POST', 'GET', false],
      [302, 'POST', 'GET', false],
      [301, 'PUT', 'PUT', true],
      [303, 'PUT', 'GET', false],
      [303, 'HEAD', 'HEAD', true],
      [307, 'POST', 'POST', true],
      [308, 'DELETE', 'DELETE', true],
    ];
    for (const [status, method, expected, keep] of table) {
      const step = nextRedirect({ ...base, status, location: '/n', method });
      expect([status, step?.method, step?.keepBody]).toEqual([status, expected, keep]);
      expect(step?.headers.has('content-type')).toBe(keep);
      expect(step?.headers.get('authorization')).toBe('a');
    }
  });

  it('returns the 3xx for unreplayable 307/308 bodies, bad Locations and other schemes', () => {
    const unreplayable = { ...base, bodyReplayable: false, method: 'POST' };
    expect(nextRedirect({ ...unreplayable, status: 307, location: '/n' })).toBeUndefined();
    expect(nextRedirect({ ...unreplayable, status: 303, location: '/n' })?.method).toBe('GET');
    expect(nextRedirect({ ...base, status: 302, location: undefined, method: 'GET' })).toBe(
      undefined,
    );
    expect(nextRedirect({ ...base, status: 302, location: 'http://[bad', method: 'GET' })).toBe(
      undefined,
    );
    expect(
      nextRedirect({ ...base, status: 302, location: 'file:///etc/passwd', method: 'GET' }),
    ).toBeUndefined();
    expect(nextRedirect({ ...base, status: 304, location: '/n', method: 'GET' })).toBeUndefined();
    expect([300, 301, 302, 303, 305, 307, 308].filter(isRedirect)).toEqual([
      301, 302, 303, 307, 308,
    ]);
  });

  it('strips credentials across origins (scheme, host or port change)', () => {
    for (const location of ['https://a.test/', 'http://b.test/', 'http://a.test:8080/']) {
      const step = nextRedirect({ ...base, status: 302, location, method: 'GET' })!;
      expect(step.headers.has('authorization')).toBe(false);
      expect(step.headers.has('cookie')).toBe(false);
      expect(step.headers.has('proxy-authorization')).toBe(false);
      expect(step.headers.get('accept')).toBe('*/*');
    }
  });
});
