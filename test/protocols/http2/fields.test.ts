import { describe, expect, it } from 'vitest';
import {
  validValue,
  validateRequest,
  validateResponse,
  validateTrailers,
} from '../../../src/protocols/http2/fields.js';
import type { RequestFields } from '../../../src/protocols/http2/fields.js';

type F = [string, string][];
const GET: F = [
  [':method', 'GET'],
  [':scheme', 'https'],
  [':authority', 'example.test'],
  [':path', '/a?b'],
];

function req(fields: F, extended = false): RequestFields | string {
  return validateRequest(
    fields.map((f) => f[0]),
    fields.map((f) => f[1]),
    extended,
  );
}
const res = (fields: F) =>
  validateResponse(
    fields.map((f) => f[0]),
    fields.map((f) => f[1]),
  );
const trailers = (fields: F) =>
  validateTrailers(
    fields.map((f) => f[0]),
    fields.map((f) => f[1]),
  );

function expectMalformed(r: unknown, pattern?: RegExp): void {
  expect(typeof r).toBe('string');
  if (pattern) expect(r).toMatch(pattern);
}

describe('validateRequest (RFC 9113 §8.3.1)', () => {
  it('pulls out the pseudo-header fields and keeps regular fields in order', () => {
    const r = req([...GET, ['accept', '*/*'], ['x-a', '1'], ['x-a', '2']]);
    expect(r).toEqual({
      method: 'GET',
      scheme: 'https',
      authority: 'example.test',
      path: '/a?b',
      protocol: undefined,
      names: ['accept', 'x-a', 'x-a'],
      values: ['*/*', '1', '2'],
      contentLength: -1,
    });
  });

  it.each([
    ['missing :method', GET.filter((f) => f[0] !== ':method'), /:method/],
    ['missing :scheme', GET.filter((f) => f[0] !== ':scheme'), /:scheme/],
    ['missing :path', GET.filter((f) => f[0] !== ':path'), /:path/],
    ['empty :path', [...GET.slice(0, 3), [':path', '']] as F, /empty :path/],
    ['duplicate :method', [[':method', 'GET'], ...GET] as F, /duplicate :method/],
    ['duplicate :scheme', [...GET, [':scheme', 'https']] as F, /duplicate :scheme/],
    ['duplicate :authority', [...GET, [':authority', 'x']] as F, /duplicate :authority/],
    ['duplicate :path', [...GET, [':path', '/']] as F, /duplicate :path/],
  ])('%s is malformed (§8.3.1)', (_name, fields, pattern) => {
    expectMalformed(req(fields), pattern);
  });

  it('requires :path in origin-form for http(s), except OPTIONS * (§8.3.1)', () => {
    expectMalformed(req([...GET.slice(0, 3), [':path', 'a/b']]), /origin-form/);
    expectMalformed(req([...GET.slice(0, 3), [':path', '*']]), /origin-form/);
    const opts = req([
      [':method', 'OPTIONS'],
      [':scheme', 'http'],
      [':authority', 'a'],
      [':path', '*'],
    ]);
    expect(opts).toMatchObject({ method: 'OPTIONS', path: '*' });
    // Other schemes are not bound to origin-form.
    expect(
      req([
        [':method', 'GET'],
        [':scheme', 'urn'],
        [':path', 'isbn:123'],
      ]),
    ).toMatchObject({ scheme: 'urn', path: 'isbn:123', authority: undefined });
  });

  it('rejects an invalid :method token', () => {
    expectMalformed(req([[':method', 'GE T'], ...GET.slice(1)]), /:method/);
    expectMalformed(req([[':method', ''], ...GET.slice(1)]), /:method/);
    expectMalformed(req([[':method', 'GET\u0001'], ...GET.slice(1)]));
  });

  it('takes the authority from Host when :authority is absent (§8.3.1)', () => {
    const r = req([...GET.filter((f) => f[0] !== ':authority'), ['host', 'h.test:81']]);
    expect(r).toMatchObject({ authority: 'h.test:81', names: ['host'] });
    // :authority wins when both are there.
    expect(req([...GET, ['host', 'other']])).toMatchObject({ authority: 'example.test' });
  });

  it('rejects pseudo-header fields after regular ones (§8.3)', () => {
    expectMalformed(
      req([...GET.slice(0, 3), ['accept', '*/*'], [':path', '/']]),
      /after a regular/,
    );
  });

  it('rejects unknown pseudo-headers and response pseudo-headers in a request (§8.3)', () => {
    expectMalformed(req([...GET, [':foo', 'x']]), /pseudo-header :foo/);
    expectMalformed(req([[':status', '200'], ...GET]), /pseudo-header :status/);
  });

  it('rejects an invalid pseudo-header value (§8.2.1)', () => {
    expectMalformed(req([...GET.slice(0, 3), [':path', '/a\r\nb']]), /invalid value/);
  });
});

describe('field names and values (§8.2.1)', () => {
  it.each([
    ['uppercase', 'X-Foo'],
    ['a space', 'x foo'],
    ['a colon in a regular name', 'x:foo'],
    ['an empty name', ''],
    ['NUL', 'x\u0000'],
    ['DEL', 'x\u007f'],
    ['a non-ASCII octet', 'x\u00e9'],
    ['a non-token character', 'x"y'],
    ['a non-latin1 code unit', 'x\u0100'],
  ])('a name with %s is malformed', (_what, name) => {
    expectMalformed(req([...GET, [name, 'v']]), /invalid field name/);
    expectMalformed(
      res([
        [':status', '200'],
        [name, 'v'],
      ]),
      /invalid field name/,
    );
    expectMalformed(trailers([[name, 'v']]));
  });

  it('accepts every token character in a name', () => {
    const name = "!#$%&'*+-.^_`|~09az";
    expect(req([...GET, [name, 'v']])).toMatchObject({ names: [name] });
  });

  it.each([
    ['NUL', 'a\u0000b'],
    ['LF', 'a\nb'],
    ['CR', 'a\rb'],
    ['a leading space', ' a'],
    ['a trailing space', 'a '],
    ['a leading tab', '\ta'],
    ['a trailing tab', 'a\t'],
    ['another control character', 'a\u0001b'],
    ['DEL', 'a\u007fb'],
  ])('a value with %s is malformed', (_what, value) => {
    expect(validValue(value)).toBe(false);
    expectMalformed(req([...GET, ['x-v', value]]), /invalid value/);
    expectMalformed(
      res([
        [':status', '200'],
        ['x-v', value],
      ]),
      /invalid value/,
    );
    expectMalformed(trailers([['x-v', value]]), /invalid value/);
  });

  it('accepts empty values, inner tabs and spaces, and obs-text', () => {
    for (const v of ['', 'a b', 'a\tb', 'caf\u00e9', '\u00ff']) expect(validValue(v)).toBe(true);
  });
});

describe('connection-specific fields (§8.2.2)', () => {
  it.each(['connection', 'proxy-connection', 'keep-alive', 'transfer-encoding', 'upgrade'])(
    '%s makes a message malformed',
    (name) => {
      expectMalformed(req([...GET, [name, 'x']]), /connection-specific/);
      expectMalformed(
        res([
          [':status', '200'],
          [name, 'x'],
        ]),
        /connection-specific/,
      );
      expectMalformed(trailers([[name, 'x']]), /connection-specific/);
    },
  );

  it('allows TE only with the value "trailers"', () => {
    expect(req([...GET, ['te', 'trailers']])).toMatchObject({ names: ['te'] });
    expectMalformed(req([...GET, ['te', 'gzip']]), /te other than/);
    expectMalformed(req([...GET, ['te', 'trailers, gzip']]), /te other than/);
  });
});

describe('content-length (§8.1.1)', () => {
  it('parses a valid value and accepts repeats of the same value', () => {
    expect(req([...GET, ['content-length', '42']])).toMatchObject({ contentLength: 42 });
    expect(req([...GET, ['content-length', '0'], ['content-length', '0']])).toMatchObject({
      contentLength: 0,
    });
    expect(
      res([
        [':status', '200'],
        ['content-length', '7'],
      ]),
    ).toMatchObject({ contentLength: 7 });
  });

  it.each(['', '-1', '+1', '1,1', '1 ', 'abc', '1234567890123456'])('rejects %j', (v) => {
    expectMalformed(req([...GET, ['content-length', v]]));
  });

  it('rejects differing values', () => {
    expectMalformed(
      req([...GET, ['content-length', '1'], ['content-length', '2']]),
      /differing content-length/,
    );
    expectMalformed(
      res([
        [':status', '200'],
        ['content-length', '1'],
        ['content-length', '2'],
      ]),
      /differing/,
    );
  });
});

describe('CONNECT (§8.5) and extended CONNECT (RFC 8441 §4)', () => {
  const connect: F = [
    [':method', 'CONNECT'],
    [':authority', 'proxy.test:443'],
  ];

  it('accepts CONNECT with only :authority', () => {
    expect(req(connect)).toMatchObject({
      method: 'CONNECT',
      authority: 'proxy.test:443',
      scheme: undefined,
      path: undefined,
    });
  });

  it('rejects CONNECT with :scheme or :path, or without :authority (§8.5)', () => {
    expectMalformed(req([...connect, [':scheme', 'https']]), /CONNECT with :scheme/);
    expectMalformed(req([...connect, [':path', '/']]), /CONNECT with :scheme or :path/);
    expectMalformed(req([[':method', 'CONNECT']]), /without :authority/);
  });

  const ws: F = [
    [':method', 'CONNECT'],
    [':protocol', 'websocket'],
    [':scheme', 'https'],
    [':authority', 'ws.test'],
    [':path', '/chat'],
  ];

  it('accepts :protocol only when SETTINGS_ENABLE_CONNECT_PROTOCOL was sent (RFC 8441 §4)', () => {
    expect(req(ws, true)).toMatchObject({
      method: 'CONNECT',
      protocol: 'websocket',
      path: '/chat',
    });
    expectMalformed(req(ws, false), /SETTINGS_ENABLE_CONNECT_PROTOCOL/);
  });

  it('rejects :protocol on other methods and without :scheme, :path or :authority', () => {
    expectMalformed(req([[':method', 'GET'], ...ws.slice(1)], true), /other than CONNECT/);
    for (const drop of [':scheme', ':path', ':authority']) {
      expectMalformed(
        req(
          ws.filter((f) => f[0] !== drop),
          true,
        ),
        /needs :scheme, :path and :authority/,
      );
    }
    expectMalformed(req([...ws, [':protocol', 'x']], true), /duplicate :protocol/);
  });
});

describe('validateResponse (§8.3.2)', () => {
  it('returns the status and regular fields', () => {
    expect(
      res([
        [':status', '204'],
        ['x-a', 'b'],
      ]),
    ).toEqual({
      status: 204,
      names: ['x-a'],
      values: ['b'],
      contentLength: -1,
    });
    expect(res([[':status', '103']])).toMatchObject({ status: 103 });
  });

  it.each([
    ['missing :status', [['x-a', 'b']] as F, /missing :status/],
    [
      'duplicate :status',
      [
        [':status', '200'],
        [':status', '200'],
      ] as F,
      /duplicate :status/,
    ],
    ['two digits', [[':status', '20']] as F, /invalid :status/],
    ['four digits', [[':status', '2000']] as F, /invalid :status/],
    ['a leading zero', [[':status', '099']] as F, /invalid :status/],
    ['text', [[':status', 'abc']] as F, /invalid :status/],
    [
      'request pseudo-header',
      [
        [':status', '200'],
        [':path', '/'],
      ] as F,
      /pseudo-header :path/,
    ],
    [
      'pseudo after regular',
      [
        ['x', 'y'],
        [':status', '200'],
      ] as F,
      /after a regular/,
    ],
  ])('%s is malformed', (_name, fields, pattern) => {
    expectMalformed(res(fields), pattern);
  });
});

describe('validateTrailers (§8.1)', () => {
  it('accepts regular fields', () => {
    expect(
      trailers([
        ['grpc-status', '0'],
        ['x-checksum', 'abc'],
      ]),
    ).toEqual({
      names: ['grpc-status', 'x-checksum'],
      values: ['0', 'abc'],
    });
    expect(trailers([])).toEqual({ names: [], values: [] });
  });

  it('rejects pseudo-header fields in trailers (§8.1)', () => {
    expectMalformed(trailers([[':status', '200']]), /pseudo-header :status in trailers/);
    expectMalformed(
      trailers([
        ['x', 'y'],
        [':path', '/'],
      ]),
      /in trailers/,
    );
  });
});
