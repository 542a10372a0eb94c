import { describe, expect, it } from 'vitest';
import {
  ExtensionHeaderError,
  parseExtensions,
  serializeExtensions,
} from '../../../src/protocols/websocket/extensions.js';

describe('parseExtensions (RFC 6455 §9.1)', () => {
  it('parses extensions with parameters, lowercasing names', () => {
    expect(parseExtensions('permessage-deflate; client_max_window_bits, Foo;A=1 ;b ,bar')).toEqual([
      { name: 'permessage-deflate', params: [['client_max_window_bits', true]] },
      {
        name: 'foo',
        params: [
          ['a', '1'],
          ['b', true],
        ],
      },
      { name: 'bar', params: [] },
    ]);
  });

  it('unquotes quoted-string values and keeps duplicates for the extension to judge', () => {
    expect(parseExtensions('x; a="10"; a=11; b="a\\bc"')).toEqual([
      {
        name: 'x',
        params: [
          ['a', '10'],
          ['a', '11'],
          ['b', 'abc'],
        ],
      },
    ]);
  });

  it('accepts OWS around separators and skips empty list elements', () => {
    expect(parseExtensions(' ,\tx ;\ta = 1 , , y ,')).toEqual([
      { name: 'x', params: [['a', '1']] },
      { name: 'y', params: [] },
    ]);
  });

  it.each(
    [
      '',
      ' , ',
      ';a',
      'x;',
      'x; =1',
      'x; a=',
      'x; a="1 2"',
      'x; a="unterminated',
      'x; a="\\',
      'x; a=""',
      'x y',
      'x; a=1 2',
      'x; a=b=c',
      'x, "y"',
      'x; a=@',
      'ümlaut',
    ].filter((v) => v !== 'x;a="x",'),
  )('rejects %j with a 400 error', (value) => {
    const err = (() => {
      try {
        parseExtensions(value);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(ExtensionHeaderError);
    expect((err as ExtensionHeaderError).wireCode).toBe(400);
    expect((err as ExtensionHeaderError).code).toBe('GN_ERR_WS_INVALID_EXTENSIONS');
  });

  it('enforces the limits', () => {
    expect(() => parseExtensions('x'.repeat(4097))).toThrow(/limit of 4096/);
    expect(parseExtensions('x'.repeat(4096))).toHaveLength(1);
    const many = Array.from({ length: 17 }, (_, i) => `e${i}`).join(', ');
    expect(() => parseExtensions(many)).toThrow(/more than 16 extensions/);
    expect(parseExtensions(many, { maxExtensions: 17 })).toHaveLength(17);
    const params = 'x' + Array.from({ length: 17 }, (_, i) => `; p${i}`).join('');
    expect(() => parseExtensions(params)).toThrow(/more than 16 parameters/);
    expect(() => parseExtensions('abc', { maxLength: 2 })).toThrow(ExtensionHeaderError);
  });
});

describe('serializeExtensions', () => {
  it('writes tokens and round-trips through the parser', () => {
    const list = [
      {
        name: 'permessage-deflate',
        params: [
          ['server_max_window_bits', '10'],
          ['client_no_context_takeover', true],
        ] as const,
      },
      { name: 'x-foo', params: [] },
    ];
    const text = serializeExtensions(list);
    expect(text).toBe(
      'permessage-deflate; server_max_window_bits=10; client_no_context_takeover, x-foo',
    );
    expect(parseExtensions(text)).toEqual(list);
  });

  it('refuses non-token names and values as local errors', () => {
    expect(() => serializeExtensions([{ name: 'a b', params: [] }])).toThrow(ExtensionHeaderError);
    expect(() => serializeExtensions([{ name: 'a', params: [['b', 'c d']] }])).toThrow(
      /not a token/,
    );
    try {
      serializeExtensions([{ name: 'a', params: [['b;', true]] }]);
    } catch (e) {
      expect((e as ExtensionHeaderError).initiator).toBe('local');
    }
  });
});
