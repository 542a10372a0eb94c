/**
 * QPACK: the static table (RFC 9204 Appendix A) and the Appendix B examples byte for byte —
 * the RFC's encoder-stream and field-section bytes decode to the RFC's fields and leave the
 * RFC's table state; where our encoder makes the same choices, it writes the RFC's bytes.
 */
import { describe, expect, it } from 'vitest';
import {
  QpackDecoder,
  QpackEncoder,
  STATIC_TABLE,
} from '../../../../src/protocols/http3/qpack/index.js';
import type { FieldLine } from '../../../../src/protocols/http3/qpack/index.js';
import { STATIC_EXACT, STATIC_NAME } from '../../../../src/protocols/http3/qpack/static-table.js';
import { hex, toHex } from '../../../helpers/hex.js';

/** The decoder's dynamic table, oldest first, as [absolute index, name, value]. */
function table(d: QpackDecoder): [number, string, string][] {
  const out: [number, string, string][] = [];
  for (let abs = d.insertCount - d.tableLength; abs < d.insertCount; abs++) {
    const e = d.entry(abs)!;
    out.push([abs, e[0], e[1]]);
  }
  return out;
}

// Appendix B, in order.
const B2_ENCODER = '3fbd01 c00f7777772e6578616d706c652e636f6d c10c2f73616d706c652f70617468';
const B2_STREAM4 = '0381 10 11';
const B3_ENCODER = '4a637573746f6d2d6b65790c637573746f6d2d76616c7565';
const B4_ENCODER = '02';
const B4_STREAM8 = '0500 80 c1 81';
const B5_ENCODER = '810d637573746f6d2d76616c756532';

describe('static table (RFC 9204 Appendix A)', () => {
  it('has the 99 entries of Appendix A, indexed from 0', () => {
    expect(STATIC_TABLE.length).toBe(99);
    expect(STATIC_TABLE[0]).toEqual([':authority', '']);
    expect(STATIC_TABLE[1]).toEqual([':path', '/']);
    expect(STATIC_TABLE[15]).toEqual([':method', 'CONNECT']);
    expect(STATIC_TABLE[17]).toEqual([':method', 'GET']);
    expect(STATIC_TABLE[25]).toEqual([':status', '200']);
    expect(STATIC_TABLE[31]).toEqual(['accept-encoding', 'gzip, deflate, br']);
    expect(STATIC_TABLE[52]).toEqual(['content-type', 'text/html; charset=utf-8']);
    expect(STATIC_TABLE[58]).toEqual([
      'strict-transport-security',
      'max-age=31536000; includesubdomains; preload',
    ]);
    expect(STATIC_TABLE[62]).toEqual(['x-xss-protection', '1; mode=block']);
    expect(STATIC_TABLE[63]).toEqual([':status', '100']);
    expect(STATIC_TABLE[71]).toEqual([':status', '500']);
    expect(STATIC_TABLE[84]).toEqual(['authorization', '']);
    expect(STATIC_TABLE[85]).toEqual([
      'content-security-policy',
      "script-src 'none'; object-src 'none'; base-uri 'none'",
    ]);
    expect(STATIC_TABLE[95]).toEqual(['user-agent', '']);
    expect(STATIC_TABLE[98]).toEqual(['x-frame-options', 'sameorigin']);
  });

  it('has no duplicate entries, lowercase names, and lookups that agree with it', () => {
    expect(STATIC_EXACT.size).toBe(99);
    STATIC_TABLE.forEach(([name], i) => {
      expect(name).toBe(name.toLowerCase());
      expect(STATIC_NAME.get(name)).toBeLessThanOrEqual(i);
      expect(STATIC_TABLE[STATIC_NAME.get(name)!]![0]).toBe(name);
    });
    // Every entry decodes from its Indexed Field Line (§4.5.2) in one or two octets.
    const d = new QpackDecoder();
    STATIC_TABLE.forEach(([name, value], i) => {
      const line = i < 63 ? [0xc0 | i] : [0xff, i - 63];
      expect(d.decode(0, Uint8Array.of(0, 0, ...line))).toEqual([[name, value]]);
    });
  });
});

describe('RFC 9204 Appendix B examples', () => {
  it('B.1: Literal Field Line with Name Reference (§4.5.4), static table only', () => {
    const d = new QpackDecoder({ maxTableCapacity: 220 });
    expect(d.decode(0, hex('0000 510b 2f69 6e64 6578 2e68 746d 6c'))).toEqual([
      [':path', '/index.html'],
    ]);
    expect(d.insertCount).toBe(0);
    expect(d.tableSize).toBe(0);
    // Required Insert Count 0: no Section Acknowledgment (§4.4.1).
    expect(d.takeDecoderStreamBytes()).toBeUndefined();
    // Our encoder writes the same bytes (a first-seen :path is not inserted).
    const e = new QpackEncoder({ huffman: 'never' });
    e.setPeerSettings(220, 0);
    expect(toHex(e.encode(0, [[':path', '/index.html']]))).toBe('0000510b2f696e6465782e68746d6c');
  });

  it('B.2: Dynamic Table — Set Dynamic Table Capacity, Insert With Name Reference (§4.3.1, §4.3.2), post-base references (§4.5.3), Section Acknowledgment (§4.4.1)', () => {
    const d = new QpackDecoder({ maxTableCapacity: 220 });
    expect(d.onEncoderStream(hex(B2_ENCODER))).toEqual([]);
    expect(d.tableCapacity).toBe(220);
    expect(d.insertCount).toBe(2);
    expect(d.tableSize).toBe(106);
    expect(table(d)).toEqual([
      [0, ':authority', 'www.example.com'],
      [1, ':path', '/sample/path'],
    ]);
    // Stream 4: Required Insert Count 2, Base 0, post-base indexes 0 and 1.
    expect(d.decode(4, hex(B2_STREAM4))).toEqual([
      [':authority', 'www.example.com'],
      [':path', '/sample/path'],
    ]);
    // The RFC's decoder stream carries 84 (Section Acknowledgment, stream 4). Ours sends the
    // Insert Count Increment as soon as the inserts arrive (§4.4.3 leaves the timing open),
    // then the acknowledgment: 02 84.
    expect(toHex(d.takeDecoderStreamBytes())).toBe('0284');
    // The RFC's own decoder bytes are valid input for an encoder in the RFC's state.
    const e = new QpackEncoder({ huffman: 'never', maxBlockedStreams: 100 });
    e.setPeerSettings(220, 100);
    e.encode(0, [[':path', '/sample/path']]); // a :path is inserted once seen before
    const block = e.encode(4, [
      [':authority', 'www.example.com'],
      [':path', '/sample/path'],
    ]);
    // Same encoder-stream bytes as the RFC …
    expect(toHex(e.takeEncoderStreamBytes())).toBe(B2_ENCODER.replace(/\s+/g, ''));
    // … and a section that uses relative indexes (Base 2) where the RFC used post-base ones.
    expect(toHex(block)).toBe('0300 81 80'.replace(/\s+/g, ''));
    const d2 = new QpackDecoder({ maxTableCapacity: 220 });
    d2.onEncoderStream(hex(B2_ENCODER));
    expect(d2.decode(4, block)).toEqual([
      [':authority', 'www.example.com'],
      [':path', '/sample/path'],
    ]);
    e.onDecoderStream(hex('84'));
    expect(e.knownReceivedCount).toBe(2);
    expect(e.blockingStreams).toBe(0);
  });

  it('B.3: Speculative Insert — Insert With Literal Name (§4.3.3) and Insert Count Increment (§4.4.3)', () => {
    const d = new QpackDecoder({ maxTableCapacity: 220 });
    d.onEncoderStream(hex(B2_ENCODER));
    d.decode(4, hex(B2_STREAM4));
    d.takeDecoderStreamBytes();
    expect(d.onEncoderStream(hex(B3_ENCODER))).toEqual([]);
    expect(toHex(d.takeDecoderStreamBytes())).toBe('01'); // exactly the RFC's decoder stream
    expect(d.insertCount).toBe(3);
    expect(d.tableSize).toBe(160);
    expect(table(d)).toEqual([
      [0, ':authority', 'www.example.com'],
      [1, ':path', '/sample/path'],
      [2, 'custom-key', 'custom-value'],
    ]);
    // Our encoder inserts the same field with the same bytes.
    const e = new QpackEncoder({ huffman: 'never' });
    e.setPeerSettings(220, 0);
    e.takeEncoderStreamBytes();
    e.encode(0, [['custom-key', 'custom-value']]);
    expect(toHex(e.takeEncoderStreamBytes())).toBe(B3_ENCODER);
  });

  it('B.4: Duplicate Instruction (§4.3.4), Stream Cancellation (§4.4.2)', () => {
    const replay = (): QpackDecoder => {
      const d = new QpackDecoder({ maxTableCapacity: 220 });
      d.onEncoderStream(hex(B2_ENCODER));
      d.decode(4, hex(B2_STREAM4));
      d.onEncoderStream(hex(B3_ENCODER));
      d.takeDecoderStreamBytes();
      d.onEncoderStream(hex(B4_ENCODER));
      expect(toHex(d.takeDecoderStreamBytes())).toBe('01'); // the duplicate's increment
      return d;
    };
    const d = replay();
    expect(d.insertCount).toBe(4);
    expect(d.tableSize).toBe(217);
    expect(table(d)).toEqual([
      [0, ':authority', 'www.example.com'],
      [1, ':path', '/sample/path'],
      [2, 'custom-key', 'custom-value'],
      [3, ':authority', 'www.example.com'],
    ]);
    // Stream 8: Required Insert Count 4, Base 4; relative 0 (the duplicate), static 1,
    // relative 1.
    expect(d.decode(8, hex(B4_STREAM8))).toEqual([
      [':authority', 'www.example.com'],
      [':path', '/'],
      ['custom-key', 'custom-value'],
    ]);
    expect(toHex(d.takeDecoderStreamBytes())).toBe('88');
    // In the RFC, stream 8 is reset instead: the decoder sends exactly 48.
    const r = replay();
    r.cancelStream(8);
    expect(toHex(r.takeDecoderStreamBytes())).toBe('48');
  });

  it('B.5: Dynamic Table Insert, Eviction — Insert With Name Reference to a dynamic entry (§4.3.2, §3.2.2)', () => {
    const d = new QpackDecoder({ maxTableCapacity: 220 });
    d.onEncoderStream(hex(B2_ENCODER));
    d.decode(4, hex(B2_STREAM4));
    d.onEncoderStream(hex(B3_ENCODER));
    d.onEncoderStream(hex(B4_ENCODER));
    d.takeDecoderStreamBytes();
    expect(d.onEncoderStream(hex(B5_ENCODER))).toEqual([]);
    // Relative index 1 is custom-key (absolute 2); the 55-byte entry evicts entry 0.
    expect(d.insertCount).toBe(5);
    expect(d.tableSize).toBe(215);
    expect(table(d)).toEqual([
      [1, ':path', '/sample/path'],
      [2, 'custom-key', 'custom-value'],
      [3, ':authority', 'www.example.com'],
      [4, 'custom-key', 'custom-value2'],
    ]);
    expect(d.entry(0)).toBeUndefined();
  });

  it('B.1–B.5 in one decoder, with the encoder stream split at every byte', () => {
    const d = new QpackDecoder({ maxTableCapacity: 220 });
    const feed = (s: string): void => {
      for (const b of hex(s)) d.onEncoderStream(Uint8Array.of(b));
    };
    const out: FieldLine[][] = [];
    out.push(d.decode(0, hex('0000510b2f696e6465782e68746d6c')) as FieldLine[]);
    feed(B2_ENCODER);
    out.push(d.decode(4, hex(B2_STREAM4)) as FieldLine[]);
    feed(B3_ENCODER);
    feed(B4_ENCODER);
    out.push(d.decode(8, hex(B4_STREAM8)) as FieldLine[]);
    feed(B5_ENCODER);
    expect(out).toEqual([
      [[':path', '/index.html']],
      [
        [':authority', 'www.example.com'],
        [':path', '/sample/path'],
      ],
      [
        [':authority', 'www.example.com'],
        [':path', '/'],
        ['custom-key', 'custom-value'],
      ],
    ]);
    expect(d.insertCount).toBe(5);
    expect(d.tableSize).toBe(215);
  });
});
