import { describe, expect, it } from 'vitest';
import { ServerNameTable, matchServerName, normalizeServerName } from '../../src/transport/sni.js';

describe('normalizeServerName', () => {
  it('lower-cases, drops one trailing dot and rejects invalid names', () => {
    expect(normalizeServerName('WWW.Example.TEST.')).toBe('www.example.test');
    expect(normalizeServerName('localhost')).toBe('localhost');
    expect(normalizeServerName('')).toBeUndefined();
    expect(normalizeServerName('.')).toBeUndefined();
    expect(normalizeServerName('a..b')).toBeUndefined();
    expect(normalizeServerName('-a.test')).toBeUndefined();
    expect(normalizeServerName('a b.test')).toBeUndefined();
    expect(normalizeServerName('127.0.0.1')).toBeUndefined();
    expect(normalizeServerName('::1')).toBeUndefined();
    expect(normalizeServerName(`${'a'.repeat(64)}.test`)).toBeUndefined();
    expect(normalizeServerName(`${'a'.repeat(63)}.test`)).toBe(`${'a'.repeat(63)}.test`);
    const long = Array.from({ length: 60 }, () => 'abcd').join('.'); // 299 chars
    expect(normalizeServerName(long)).toBeUndefined();
  });
});

describe('matchServerName (RFC 6125 §6.4.3)', () => {
  it('matches exact names case-insensitively', () => {
    expect(matchServerName('example.test', 'EXAMPLE.test')).toBe(true);
    expect(matchServerName('Example.Test', 'example.test.')).toBe(true);
    expect(matchServerName('example.test', 'www.example.test')).toBe(false);
  });

  it('lets a wildcard cover exactly one left-most label', () => {
    expect(matchServerName('*.example.test', 'a.example.test')).toBe(true);
    expect(matchServerName('*.example.test', 'A.EXAMPLE.TEST')).toBe(true);
    expect(matchServerName('*.example.test', 'example.test')).toBe(false);
    expect(matchServerName('*.example.test', 'a.b.example.test')).toBe(false);
    expect(matchServerName('*.example.test', '.example.test')).toBe(false);
    expect(matchServerName('*.example.test', 'a.example.testx')).toBe(false);
  });

  it('refuses partial-label and too-broad wildcards', () => {
    expect(matchServerName('a*.example.test', 'ab.example.test')).toBe(false);
    expect(matchServerName('*.test', 'a.test')).toBe(false);
    expect(matchServerName('a.*.test', 'a.b.test')).toBe(false);
    expect(matchServerName('*', 'a')).toBe(false);
  });
});

describe('ServerNameTable', () => {
  it('prefers exact names over wildcards and keeps the first value per name', () => {
    const t = new ServerNameTable<string>();
    expect(t.add('*.example.test', 'wild')).toBe(true);
    expect(t.add('api.example.test', 'api')).toBe(true);
    expect(t.add('API.example.test.', 'second')).toBe(false);
    expect(t.add('other.test', 'other')).toBe(true);
    expect(t.size).toBe(3);
    expect(t.match('api.example.test')).toBe('api');
    expect(t.match('Www.Example.Test')).toBe('wild');
    expect(t.match('example.test')).toBeUndefined();
    expect(t.match('x.y.example.test')).toBeUndefined();
    expect(t.match('other.test')).toBe('other');
    expect(t.match('127.0.0.1')).toBeUndefined();
    expect(t.match('')).toBeUndefined();
  });

  it('rejects invalid patterns and enforces maxEntries', () => {
    const t = new ServerNameTable<number>({ maxEntries: 2 });
    expect(() => t.add('*.com', 1)).toThrow(
      expect.objectContaining({ code: 'GN_ERR_INVALID_OPTION' }),
    );
    expect(() => t.add('a*.b.test', 1)).toThrow(/RFC 6125/);
    expect(() => t.add('bad name', 1)).toThrow(/invalid server name/);
    t.add('a.test', 1);
    t.add('b.test', 2);
    expect(() => t.add('c.test', 3)).toThrow(/too many server names/);
    expect(() => new ServerNameTable({ maxEntries: 0 })).toThrow(/maxEntries/);
  });
});
