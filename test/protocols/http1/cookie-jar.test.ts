import { describe, expect, it } from 'vitest';
import {
  CookieJar,
  defaultPath,
  domainMatch,
  parseCookieDate,
  pathMatch,
} from '../../../src/protocols/http1/cookie-jar.js';

function jarAt(start = Date.UTC(2030, 0, 1)) {
  const clock = { now: start };
  const jar = new CookieJar({ now: () => clock.now });
  return { jar, clock };
}

describe('CookieJar (RFC 6265)', () => {
  it('sends a host-only cookie back to the same host only', () => {
    const { jar } = jarAt();
    expect(jar.setCookie('sid=abc', 'http://www.example.test/')).toBe(true);
    expect(jar.cookieHeader('http://www.example.test/x')).toBe('sid=abc');
    expect(jar.cookieHeader('http://sub.www.example.test/')).toBeUndefined();
    expect(jar.cookieHeader('http://example.test/')).toBeUndefined();
  });

  it('matches Domain cookies on subdomains and rejects foreign domains', () => {
    const { jar } = jarAt();
    expect(jar.setCookie('a=1; Domain=.example.test', 'http://www.example.test/')).toBe(true);
    expect(jar.cookieHeader('http://api.example.test/')).toBe('a=1');
    expect(jar.cookieHeader('http://example.test/')).toBe('a=1');
    expect(jar.cookieHeader('http://badexample.test/')).toBeUndefined();
    expect(jar.setCookie('b=2; Domain=other.test', 'http://www.example.test/')).toBe(false);
    expect(jar.setCookie('c=3; Domain=test', 'http://www.example.test/')).toBe(false);
    expect(jar.setCookie('d=4; Domain=127.0.0.1', 'http://127.0.0.1/')).toBe(true);
    expect(jar.setCookie('e=5; Domain=0.0.1', 'http://127.0.0.1/')).toBe(false);
  });

  it('uses default-path and path matching, longest path first', () => {
    const { jar, clock } = jarAt();
    jar.setCookie('root=1; Path=/', 'http://h.test/');
    clock.now += 1;
    jar.setCookie('deep=2', 'http://h.test/docs/page'); // default-path /docs
    expect(jar.cookieHeader('http://h.test/docs/x')).toBe('deep=2; root=1');
    expect(jar.cookieHeader('http://h.test/docs')).toBe('deep=2; root=1');
    expect(jar.cookieHeader('http://h.test/docsx')).toBe('root=1');
    expect(defaultPath('/a/b/c')).toBe('/a/b');
    expect(defaultPath('/a')).toBe('/');
    expect(pathMatch('/a/b', '/a')).toBe(true);
    expect(pathMatch('/ab', '/a')).toBe(false);
    expect(domainMatch('a.b.test', 'b.test')).toBe(true);
    expect(domainMatch('ab.test', 'b.test')).toBe(false);
  });

  it('sends Secure cookies over https only and keeps HttpOnly from non-HTTP APIs', () => {
    const { jar } = jarAt();
    jar.setCookie('s=1; Secure', 'https://h.test/');
    jar.setCookie('h=2; HttpOnly', 'https://h.test/');
    expect(jar.cookieHeader('http://h.test/')).toBe('h=2');
    expect(jar.cookieHeader('https://h.test/')).toBe('s=1; h=2');
    expect(jar.cookiesFor('https://h.test/', { http: false }).map((c) => c.name)).toEqual(['s']);
    expect(jar.setCookie('h=evil', 'https://h.test/', { http: false })).toBe(false);
    expect(jar.cookieHeader('https://h.test/')).toBe('s=1; h=2');
  });

  it('expires cookies by Max-Age and Expires against the injected clock', () => {
    const { jar, clock } = jarAt(Date.UTC(2030, 0, 1));
    jar.setCookie('short=1; Max-Age=10', 'http://h.test/');
    jar.setCookie('dated=2; Expires=Wed, 02 Jan 2030 00:00:00 GMT', 'http://h.test/');
    jar.setCookie('both=3; Expires=Wed, 02 Jan 2030 00:00:00 GMT; Max-Age=5', 'http://h.test/');
    expect(jar.size).toBe(3);
    clock.now += 6_000;
    expect(jar.cookieHeader('http://h.test/')).toBe('short=1; dated=2');
    clock.now += 5_000;
    expect(jar.cookieHeader('http://h.test/')).toBe('dated=2');
    clock.now = Date.UTC(2030, 0, 2);
    expect(jar.cookieHeader('http://h.test/')).toBeUndefined();
    expect(jar.size).toBe(0);
  });

  it('deletes a cookie set again with Max-Age=0 and replaces values in place', () => {
    const { jar } = jarAt();
    jar.setCookie('a=1', 'http://h.test/');
    jar.setCookie('b=1', 'http://h.test/');
    jar.setCookie('a=2', 'http://h.test/');
    expect(jar.cookieHeader('http://h.test/')).toBe('a=2; b=1');
    jar.setCookie('a=x; Max-Age=0', 'http://h.test/');
    expect(jar.cookieHeader('http://h.test/')).toBe('b=1');
  });

  it('ignores malformed lines and parses cookie dates per §5.1.1', () => {
    const { jar } = jarAt();
    expect(jar.setCookie('novalue', 'http://h.test/')).toBe(false);
    expect(jar.setCookie('=x', 'http://h.test/')).toBe(false);
    expect(jar.setCookie('a=b\x01', 'http://h.test/')).toBe(false);
    expect(parseCookieDate('Sun, 06 Nov 1994 08:49:37 GMT')).toBe(Date.UTC(1994, 10, 6, 8, 49, 37));
    expect(parseCookieDate('Sunday, 06-Nov-94 08:49:37 GMT')).toBe(
      Date.UTC(1994, 10, 6, 8, 49, 37),
    );
    expect(parseCookieDate('Sun Nov  6 08:49:37 1994')).toBe(Date.UTC(1994, 10, 6, 8, 49, 37));
    expect(parseCookieDate('30 Feb 2030 00:00:00')).toBeUndefined();
    expect(parseCookieDate('garbage')).toBeUndefined();
  });

  it('stays within its size limits, evicting the least recently used', () => {
    const clock = { now: 1_000 };
    const jar = new CookieJar(
      { now: () => clock.now },
      { maxCookies: 5, maxCookiesPerDomain: 3, maxCookieBytes: 64 },
    );
    for (let i = 0; i < 4; i++) {
      clock.now++;
      jar.setCookie(`k${i}=v`, 'http://a.test/');
    }
    expect(jar.cookiesFor('http://a.test/').map((c) => c.name)).toEqual(['k1', 'k2', 'k3']);
    for (let i = 0; i < 4; i++) {
      clock.now++;
      jar.setCookie(`m${i}=v`, 'http://b.test/');
    }
    expect(jar.size).toBeLessThanOrEqual(5);
    expect(jar.setCookie(`big=${'x'.repeat(100)}`, 'http://a.test/')).toBe(false);
    expect(() => new CookieJar({}, { maxCookies: 0 })).toThrow(/maxCookies/);
  });
});
