import { describe, expect, it } from 'vitest';
import { hasCode } from '../../../src/errors.js';
import { InvalidHeaderError } from '../../../src/protocols/http/errors.js';
import { HeaderList } from '../../../src/protocols/http/headers.js';

describe('HeaderList', () => {
  it('looks names up case-insensitively and keeps the original case for output', () => {
    const h = new HeaderList().append('Content-Type', 'text/plain').append('X-Trace-ID', 'a1');
    expect(h.get('content-type')).toBe('text/plain');
    expect(h.get('CONTENT-TYPE')).toBe('text/plain');
    expect(h.has('x-trace-id')).toBe(true);
    expect([...h]).toEqual([
      ['Content-Type', 'text/plain'],
      ['X-Trace-ID', 'a1'],
    ]);
    expect(h.nameAt(1)).toBe('X-Trace-ID');
    expect(h.lowerNameAt(1)).toBe('x-trace-id');
    expect(h.valueAt(0)).toBe('text/plain');
  });

  it('keeps repeated fields in arrival order and joins them for get() (RFC 9110 §5.3)', () => {
    const h = new HeaderList([
      ['Accept', 'text/html'],
      ['X-Other', '1'],
      ['accept', 'application/json'],
    ]);
    expect(h.get('accept')).toBe('text/html, application/json');
    expect(h.getAll('ACCEPT')).toEqual(['text/html', 'application/json']);
    expect(h.size).toBe(3);
    expect([...h.entries()].map(([n]) => n)).toEqual(['Accept', 'X-Other', 'accept']);
  });

  it('returns undefined / [] / false for absent names', () => {
    const h = new HeaderList();
    expect(h.get('x')).toBeUndefined();
    expect(h.getAll('x')).toEqual([]);
    expect(h.has('x')).toBe(false);
    expect(h.delete('x')).toBe(false);
  });

  it('keeps every Set-Cookie separate in getAll and toJSON', () => {
    const h = new HeaderList()
      .append('Set-Cookie', 'a=1; Path=/')
      .append('set-cookie', 'b=2; Expires=Wed, 21 Oct 2015 07:28:00 GMT')
      .append('Vary', 'Accept')
      .append('vary', 'Origin');
    expect(h.getAll('set-cookie')).toEqual([
      'a=1; Path=/',
      'b=2; Expires=Wed, 21 Oct 2015 07:28:00 GMT',
    ]);
    expect(h.toJSON()).toEqual({
      'set-cookie': ['a=1; Path=/', 'b=2; Expires=Wed, 21 Oct 2015 07:28:00 GMT'],
      vary: 'Accept, Origin',
    });
  });

  it('set() replaces every field of that name with one, at the end', () => {
    const h = new HeaderList([
      ['A', '1'],
      ['B', '2'],
      ['a', '3'],
    ]);
    h.set('a', 4);
    expect([...h]).toEqual([
      ['B', '2'],
      ['a', '4'],
    ]);
  });

  it('delete() removes every field of that name; clear() removes all', () => {
    const h = new HeaderList({ a: '1', b: ['2', '3'] });
    h.append('A', '4');
    expect(h.delete('a')).toBe(true);
    expect([...h]).toEqual([
      ['b', '2'],
      ['b', '3'],
    ]);
    h.clear();
    expect(h.size).toBe(0);
  });

  it('builds from records (numbers stringified, arrays repeated), pairs and other lists', () => {
    const fromRecord = new HeaderList({ 'Content-Length': 12, Accept: ['a', 'b'] });
    expect([...fromRecord]).toEqual([
      ['Content-Length', '12'],
      ['Accept', 'a'],
      ['Accept', 'b'],
    ]);
    const copy = new HeaderList(fromRecord);
    copy.append('X', 'y');
    expect(fromRecord.size).toBe(3);
    expect(copy.size).toBe(4);
    const fromMap = new HeaderList(new Map([['k', 'v']]));
    expect(fromMap.get('k')).toBe('v');
  });

  describe('validation', () => {
    const badNames = ['', 'Bad Name', 'a:b', 'x\r\ny', 'é', 'a(b)', 'a/b', ':path', 'a\0'];
    for (const name of badNames) {
      it(`rejects the non-token name ${JSON.stringify(name)}`, () => {
        expect(() => new HeaderList().append(name, 'v')).toThrow(InvalidHeaderError);
        expect(() => new HeaderList().set(name, 'v')).toThrow(InvalidHeaderError);
      });
    }

    const badValues = ['a\r\nInjected: 1', 'a\nb', 'a\rb', 'a\0b', 'a\x01b', 'a\x7fb', 'a\x1bb'];
    for (const value of badValues) {
      it(`rejects the value ${JSON.stringify(value)}`, () => {
        let err: unknown;
        try {
          new HeaderList().append('x', value);
        } catch (e) {
          err = e;
        }
        expect(err).toBeInstanceOf(InvalidHeaderError);
        expect(hasCode(err, 'GN_ERR_HTTP_INVALID_HEADER')).toBe(true);
      });
    }

    it('accepts tokens with every tchar, and values with SP, HTAB, VCHAR and obs-text', () => {
      const h = new HeaderList();
      h.append("!#$%&'*+-.^_`|~09azAZ", 'ok');
      h.append('x', 'a\tb c~ \u00e9\u00ff');
      h.append('empty', '');
      expect(h.size).toBe(3);
      expect(h.get('x')).toBe('a\tb c~ \u00e9\u00ff');
    });

    it('leaves the list unchanged when set() is given an invalid value', () => {
      const h = new HeaderList({ x: 'keep' });
      expect(() => h.set('x', 'bad\n')).toThrow(InvalidHeaderError);
      expect(h.get('x')).toBe('keep');
    });

    it('validates records and pairs given to the constructor', () => {
      expect(() => new HeaderList({ 'bad name': 'v' })).toThrow(InvalidHeaderError);
      expect(() => new HeaderList([['x', 'v\r\n']])).toThrow(InvalidHeaderError);
    });
  });

  describe('freeze', () => {
    it('makes every mutator throw and keeps reads working', () => {
      const h = new HeaderList({ a: '1' }).freeze();
      expect(h.readonly).toBe(true);
      for (const mutate of [
        () => h.set('a', '2'),
        () => h.append('b', '2'),
        () => h.appendAll({ c: '3' }),
        () => h.delete('a'),
        () => h.clear(),
      ]) {
        expect(mutate).toThrow(InvalidHeaderError);
      }
      expect(h.get('a')).toBe('1');
      expect(h.size).toBe(1);
    });

    it('clone() gives a writable, independent copy', () => {
      const h = new HeaderList({ a: '1' }).freeze();
      const c = h.clone();
      expect(c.readonly).toBe(false);
      c.set('a', '2');
      expect(h.get('a')).toBe('1');
      expect(c.get('a')).toBe('2');
    });
  });

  it('fromTrusted builds without validation, preserving given order and case', () => {
    const h = HeaderList.fromTrusted(['Host', 'X-A'], ['host', 'x-a'], ['example', 'v']);
    expect(h.get('HOST')).toBe('example');
    expect(h.nameAt(1)).toBe('X-A');
    expect(h.readonly).toBe(false);
  });
});
