/**
 * RFC 7541 Appendix C examples: integers (C.1), single representations (C.2), requests
 * without and with Huffman coding (C.3, C.4), responses with eviction at a 256-octet table
 * without and with Huffman coding (C.5, C.6).
 */
import { describe, expect, it } from 'vitest';
import { HpackDecoder, HpackEncoder } from '../../../../src/protocols/http2/hpack/index.js';
import { decodeInteger, encodeInteger } from '../../../../src/protocols/http2/hpack/primitives.js';
import { fromHex, toHex } from './vectors.js';

type Fields = [string, string][];

function decodeSequence(
  decoder: HpackDecoder,
  steps: { hex: string; fields: Fields; tableSize: number; tableLength: number }[],
): void {
  for (const step of steps) {
    const got = decoder.decode(fromHex(step.hex));
    expect(got.names.map((n, i) => [n, got.values[i]])).toEqual(step.fields);
    expect(decoder.tableSize).toBe(step.tableSize);
    expect(decoder.tableLength).toBe(step.tableLength);
  }
}

describe('RFC 7541 C.1 integer representation', () => {
  const cases: [string, number, number, number][] = [
    // [hex, value, prefix bits, pattern bits]
    ['0a', 10, 5, 0], // C.1.1
    ['1f9a0a', 1337, 5, 0], // C.1.2
    ['2a', 42, 8, 0], // C.1.3
    ['ea', 10, 5, 0xe0], // C.1.1 with other bits set in the first octet
  ];
  for (const [hex, value, prefix, pattern] of cases) {
    it(`${value} on a ${prefix}-bit prefix is ${hex}`, () => {
      const out = new Uint8Array(8);
      expect(toHex(out.subarray(0, encodeInteger(out, 0, value, prefix, pattern)))).toBe(hex);
      const cur = { pos: 0 };
      const bytes = fromHex(hex);
      expect(decodeInteger(bytes, bytes.length, cur, prefix)).toBe(value);
      expect(cur.pos).toBe(bytes.length);
    });
  }

  it('round-trips boundary values on every prefix', () => {
    const out = new Uint8Array(8);
    for (let prefix = 1; prefix <= 8; prefix++) {
      for (const v of [
        0,
        1,
        (1 << prefix) - 2,
        (1 << prefix) - 1,
        1 << prefix,
        127,
        128,
        16383,
        2 ** 31 - 1,
      ]) {
        const end = encodeInteger(out, 0, v, prefix, 0);
        const cur = { pos: 0 };
        expect(decodeInteger(out, end, cur, prefix)).toBe(v);
        expect(cur.pos).toBe(end);
      }
    }
  });
});

describe('RFC 7541 C.2 header field representations', () => {
  it('C.2.1 literal with indexing', () => {
    const d = new HpackDecoder();
    decodeSequence(d, [
      {
        hex: '400a637573746f6d2d6b65790d637573746f6d2d686561646572',
        fields: [['custom-key', 'custom-header']],
        tableSize: 55,
        tableLength: 1,
      },
    ]);
  });

  it('C.2.2 literal without indexing', () => {
    const d = new HpackDecoder();
    decodeSequence(d, [
      {
        hex: '040c2f73616d706c652f70617468',
        fields: [[':path', '/sample/path']],
        tableSize: 0,
        tableLength: 0,
      },
    ]);
  });

  it('C.2.3 literal never indexed', () => {
    const d = new HpackDecoder();
    const got = d.decode(fromHex('100870617373776f726406736563726574'));
    expect(got.names).toEqual(['password']);
    expect(got.values).toEqual(['secret']);
    expect(got.neverIndexed).toEqual([0]);
    expect(d.tableLength).toBe(0);
  });

  it('C.2.4 indexed field', () => {
    const d = new HpackDecoder();
    decodeSequence(d, [{ hex: '82', fields: [[':method', 'GET']], tableSize: 0, tableLength: 0 }]);
  });
});

const REQ1: Fields = [
  [':method', 'GET'],
  [':scheme', 'http'],
  [':path', '/'],
  [':authority', 'www.example.com'],
];
const REQ2: Fields = [...REQ1, ['cache-control', 'no-cache']];
const REQ3: Fields = [
  [':method', 'GET'],
  [':scheme', 'https'],
  [':path', '/index.html'],
  [':authority', 'www.example.com'],
  ['custom-key', 'custom-value'],
];
const RES1: Fields = [
  [':status', '302'],
  ['cache-control', 'private'],
  ['date', 'Mon, 21 Oct 2013 20:13:21 GMT'],
  ['location', 'https://www.example.com'],
];
const RES2: Fields = [[':status', '307'], ...RES1.slice(1)];
const RES3: Fields = [
  [':status', '200'],
  ['cache-control', 'private'],
  ['date', 'Mon, 21 Oct 2013 20:13:22 GMT'],
  ['location', 'https://www.example.com'],
  ['content-encoding', 'gzip'],
  ['set-cookie', 'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1'],
];

const C3 = [
  { hex: '828684410f7777772e6578616d706c652e636f6d', fields: REQ1, tableSize: 57, tableLength: 1 },
  { hex: '828684be58086e6f2d6361636865', fields: REQ2, tableSize: 110, tableLength: 2 },
  {
    hex: '828785bf400a637573746f6d2d6b65790c637573746f6d2d76616c7565',
    fields: REQ3,
    tableSize: 164,
    tableLength: 3,
  },
];
const C4 = [
  { hex: '828684418cf1e3c2e5f23a6ba0ab90f4ff', fields: REQ1, tableSize: 57, tableLength: 1 },
  { hex: '828684be5886a8eb10649cbf', fields: REQ2, tableSize: 110, tableLength: 2 },
  {
    hex: '828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf',
    fields: REQ3,
    tableSize: 164,
    tableLength: 3,
  },
];
const C5 = [
  {
    hex:
      '4803333032580770726976617465611d4d6f6e2c203231204f637420323031332032303a31333a323120474d54' +
      '6e1768747470733a2f2f7777772e6578616d706c652e636f6d',
    fields: RES1,
    tableSize: 222,
    tableLength: 4,
  },
  { hex: '4803333037c1c0bf', fields: RES2, tableSize: 222, tableLength: 4 },
  {
    hex:
      '88c1611d4d6f6e2c203231204f637420323031332032303a31333a323220474d54c05a04677a69707738666f6f3d' +
      '4153444a4b48514b425a584f5157454f50495541585157454f49553b206d61782d6167653d333630303b2076657273696f6e3d31',
    fields: RES3,
    tableSize: 215,
    tableLength: 3,
  },
];
const C6 = [
  {
    hex: '488264025885aec3771a4b6196d07abe941054d444a8200595040b8166e082a62d1bff6e919d29ad171863c78f0b97c8e9ae82ae43d3',
    fields: RES1,
    tableSize: 222,
    tableLength: 4,
  },
  { hex: '4883640effc1c0bf', fields: RES2, tableSize: 222, tableLength: 4 },
  {
    hex:
      '88c16196d07abe941054d444a8200595040b8166e084a62d1bffc05a839bd9ab77ad94e7821dd7f2e6c7b335dfdfcd5b' +
      '3960d5af27087f3672c1ab270fb5291f9587316065c003ed4ee5b1063d5007',
    fields: RES3,
    tableSize: 215,
    tableLength: 3,
  },
];

describe('RFC 7541 C.3–C.6 header lists', () => {
  it('C.3 requests without Huffman coding', () => decodeSequence(new HpackDecoder(), C3));
  it('C.4 requests with Huffman coding', () => decodeSequence(new HpackDecoder(), C4));
  it('C.5 responses without Huffman coding, evicting at 256 octets (§4.4)', () =>
    decodeSequence(new HpackDecoder({ maxTableSize: 256 }), C5));
  it('C.6 responses with Huffman coding, evicting at 256 octets (§4.4)', () =>
    decodeSequence(new HpackDecoder({ maxTableSize: 256 }), C6));

  // The spec's encodings of C.3/C.4 index every literal, which our policy does for these
  // fields too: the encoder reproduces them byte for byte.
  it('C.3 is what the encoder writes without Huffman coding', () => {
    const e = new HpackEncoder({ huffman: 'never' });
    for (const step of C3) {
      expect(
        toHex(
          e.encode(
            step.fields.map((f) => f[0]),
            step.fields.map((f) => f[1]),
          ),
        ),
      ).toBe(step.hex);
      expect(e.tableSize).toBe(step.tableSize);
    }
  });
  it('C.4 is what the encoder writes with Huffman coding', () => {
    const e = new HpackEncoder({ huffman: 'auto' });
    for (const step of C4) {
      expect(
        toHex(
          e.encode(
            step.fields.map((f) => f[0]),
            step.fields.map((f) => f[1]),
          ),
        ),
      ).toBe(step.hex);
      expect(e.tableSize).toBe(step.tableSize);
    }
  });
  // C.5/C.6 index `date` and `set-cookie`, which our policy sends without indexing; the
  // encoder's output differs but decodes to the same lists, through one 256-octet context.
  it('C.5 header lists round-trip through a 256-octet context', () => {
    const e = new HpackEncoder({ maxTableSize: 256 });
    const d = new HpackDecoder({ maxTableSize: 256 });
    for (const step of C5) {
      const got = d.decode(
        e.encode(
          step.fields.map((f) => f[0]),
          step.fields.map((f) => f[1]),
        ),
      );
      expect(got.names.map((n, i) => [n, got.values[i]])).toEqual(step.fields);
      expect(d.tableSize).toBe(e.tableSize);
      expect(e.tableSize).toBeLessThanOrEqual(256);
    }
  });
});
