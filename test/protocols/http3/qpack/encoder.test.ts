/**
 * QPACK encoder (RFC 9204): representation choices (§4.5), Set Dynamic Table Capacity
 * (§4.3.1), never-indexed fields (§7.1.3), the blocked-streams limit (§2.1.2), eviction
 * safety (§2.1.1), and the decoder-stream instructions it accepts or refuses (§4.4, §6).
 */
import { describe, expect, it } from 'vitest';
import {
  QpackDecoder,
  QpackEncoder,
  QpackError,
  QpackErrorCode,
} from '../../../../src/protocols/http3/qpack/index.js';
import type { FieldLine } from '../../../../src/protocols/http3/qpack/index.js';
import { InvalidOptionError } from '../../../../src/errors.js';
import { hex, toHex, ascii } from '../../../helpers/hex.js';

const DSE = QpackErrorCode.QPACK_DECODER_STREAM_ERROR;

/** An encoder and a decoder wired by hand: nothing moves until the test says so. */
function pair(
  capacity: number,
  peerBlocked: number,
  ownBlocked = 0,
): {
  e: QpackEncoder;
  d: QpackDecoder;
  /** Encoder-stream bytes → decoder; returns the unblocked streams. */
  inserts: () => number[];
  /** Decoder-stream bytes → encoder. */
  feedback: () => void;
} {
  const e = new QpackEncoder({ huffman: 'never', maxBlockedStreams: ownBlocked });
  const d = new QpackDecoder({ maxTableCapacity: capacity, maxBlockedStreams: peerBlocked });
  e.setPeerSettings(capacity, peerBlocked);
  return {
    e,
    d,
    inserts: () => {
      const b = e.takeEncoderStreamBytes();
      return b === undefined ? [] : d.onEncoderStream(b);
    },
    feedback: () => {
      const b = d.takeDecoderStreamBytes();
      if (b !== undefined) e.onDecoderStream(b);
    },
  };
}

/** Required Insert Count field of a section, encoded (§4.5.1.1); 0 means no dynamic reference. */
const encodedRic = (block: Uint8Array): number => block[0]!;

describe('representations (RFC 9204 §4.5) and capacity (§4.3.1)', () => {
  it('before SETTINGS uses only the static table and literals, and writes nothing on the encoder stream', () => {
    const e = new QpackEncoder({ huffman: 'never' });
    const block = e.encode(0, [
      [':method', 'GET'], // static 17: Indexed Field Line, 1 T=1
      [':path', '/'], // static 1
      ['content-type', 'text/plain'], // static 53
      [':authority', 'example.com'], // static name 0: 01 N=0 T=1
      ['x-custom', '1'], // 001 N=0 H=0 length 7 + 1
    ]);
    expect(toHex(block)).toBe(
      '0000' +
        'd1' +
        'c1' +
        'f5' +
        '500b' +
        ascii('example.com') +
        '2701' +
        ascii('x-custom') +
        '01' +
        ascii('1'),
    );
    expect(e.takeEncoderStreamBytes()).toBeUndefined();
    expect(e.insertCount).toBe(0);
  });

  it('sends Set Dynamic Table Capacity with the smaller of the peer limit and our own, once (§4.3.1)', () => {
    const e = new QpackEncoder();
    e.setPeerSettings(4096, 0);
    expect(toHex(e.takeEncoderStreamBytes())).toBe('3fe11f'); // 31 + 4065
    expect(e.tableCapacity).toBe(4096);
    e.setPeerSettings(100, 0); // SETTINGS come once: ignored
    expect(e.takeEncoderStreamBytes()).toBeUndefined();
    const own = new QpackEncoder({ maxTableCapacity: 220 });
    own.setPeerSettings(100_000, 0);
    expect(toHex(own.takeEncoderStreamBytes())).toBe('3fbd01');
    const none = new QpackEncoder();
    none.setPeerSettings(0, 100); // §3.2.3: a maximum of 0 means no dynamic table
    expect(none.takeEncoderStreamBytes()).toBeUndefined();
    none.encode(0, [['x-a', 'b']]);
    expect(none.insertCount).toBe(0);
  });

  it('marks sensitive fields never-indexed (N bit, §7.1.3) and never inserts or indexes them', () => {
    const { e, d, inserts } = pair(4096, 100, 100);
    inserts();
    const fields: FieldLine[] = [
      ['authorization', 'Bearer abc'], // static name 84: 01 N=1 T=1 → 7f 45
      ['proxy-authorization', 'Basic x'], // no static name: 001 N=1 → 0x30 | 7, 19 − 7
      ['cookie', 'sid=1'], // short cookie: static name 5, N=1 → 0x75
      ['cookie', 'long-enough-cookie-value=0123456789'], // inserted like any field
    ];
    for (let i = 0; i < 3; i++) {
      const block = e.encode(4 * i, fields);
      inserts();
      expect(d.decode(4 * i, block)).toEqual(fields);
      const h = toHex(block);
      expect(h).toContain('7f45' + '0a' + ascii('Bearer abc'));
      expect(h).toContain('370c' + ascii('proxy-authorization') + '07' + ascii('Basic x'));
      expect(h).toContain('75' + '05' + ascii('sid=1'));
    }
    expect(e.insertCount).toBe(1); // only the long cookie
  });

  it('does not insert fields that rarely repeat, entries over half the table, or a :path seen once', () => {
    const { e, inserts } = pair(256, 0);
    inserts();
    e.encode(0, [
      ['content-length', '1234'],
      ['etag', '"abc"'],
      ['location', '/x'],
      ['x-big', 'v'.repeat(100)], // 5 + 100 + 32 > 128
      [':path', '/a?q=1'],
      [':path', '/once'],
    ]);
    expect(e.insertCount).toBe(0);
    e.encode(4, [[':path', '/once']]); // seen before: now worth an entry
    expect(e.insertCount).toBe(1);
    e.encode(8, [['x-medium', 'v'.repeat(80)]]); // 8 + 80 + 32 = 120 ≤ 128
    expect(e.insertCount).toBe(2);
  });

  it('references a new entry only once acknowledged when it may not block (the default)', () => {
    const { e, d, inserts, feedback } = pair(4096, 100); // our own maxBlockedStreams: 0
    const fields: FieldLine[] = [
      ['user-agent', 'ghostnet/1'],
      ['x-trace', 'abc'],
    ];
    const first = e.encode(0, fields);
    expect(encodedRic(first)).toBe(0); // inserted, but sent as literals
    expect(e.insertCount).toBe(2);
    // The section never blocks, even delivered before the inserts.
    expect(d.decode(0, first)).toEqual(fields);
    inserts();
    feedback(); // Insert Count Increment 2
    expect(e.knownReceivedCount).toBe(2);
    const second = e.encode(4, fields);
    expect(toHex(second)).toBe('03008180'); // RIC 2, Base 2, relative 1 and 0
    expect(d.decode(4, second)).toEqual(fields);
  });

  it('uses a dynamic name reference for a literal when the entry has the name but not the value', () => {
    const { e, d, inserts, feedback } = pair(4096, 0);
    e.encode(0, [['x-session', 'one']]);
    inserts();
    feedback();
    const big = 'two'.repeat(700); // over half the table: not inserted
    const block = e.encode(4, [['x-session', big]]);
    // 01 N=0 T=0 relative 0, then the value.
    expect(toHex(block.subarray(2, 4))).toBe('40' + '7f');
    expect(d.decode(4, block)).toEqual([['x-session', big]]);
    // Inserts use a dynamic name reference too (§4.3.2): 1 T=0 relative 0.
    e.encode(8, [['x-session', 'three']]);
    expect(toHex(e.takeEncoderStreamBytes())).toBe('80' + '05' + ascii('three'));
  });

  it('Huffman-codes strings per the policy (§4.1.2)', () => {
    const fields: FieldLine[] = [
      ['x-h', 'www.example.com'],
      ['x-binary', '\u00ff\u00fe\u00fd'],
    ];
    const size = (huffman: 'auto' | 'always' | 'never'): number =>
      new QpackEncoder({ huffman }).encode(0, fields).length;
    expect(size('auto')).toBeLessThan(size('never'));
    expect(size('always')).toBeGreaterThan(size('auto')); // the binary value grows
    for (const huffman of ['auto', 'always', 'never'] as const) {
      const d = new QpackDecoder();
      expect(d.decode(0, new QpackEncoder({ huffman }).encode(0, fields))).toEqual(fields);
    }
  });

  it('validates options', () => {
    expect(() => new QpackEncoder({ maxTableCapacity: -1 })).toThrow(InvalidOptionError);
    expect(() => new QpackEncoder({ maxBlockedStreams: 0.5 })).toThrow(InvalidOptionError);
    expect(() => new QpackEncoder({ huffman: 'sometimes' as 'auto' })).toThrow(InvalidOptionError);
    expect(() => new QpackEncoder().setPeerSettings(-1, 0)).toThrow(InvalidOptionError);
  });
});

describe('blocked streams (RFC 9204 §2.1.2)', () => {
  it('references fresh inserts right away, but never lets more streams block than the peer allows', () => {
    const { e, d, inserts, feedback } = pair(4096, 2, 100);
    inserts();
    const sections: [number, Uint8Array, FieldLine[]][] = [];
    for (let i = 0; i < 4; i++) {
      const fields: FieldLine[] = [[`x-field-${i}`, `value-${i}`]];
      sections.push([4 * i, e.encode(4 * i, fields), fields]);
      expect(e.blockingStreams).toBeLessThanOrEqual(2);
    }
    // Streams 0 and 4 reference their new entries; 8 and 12 had to use literals.
    expect(sections.map(([, b]) => encodedRic(b) > 0)).toEqual([true, true, false, false]);
    expect(e.blockingStreams).toBe(2);
    // A stream that may block already may reference more unacknowledged entries.
    const again = e.encode(0, [['x-field-3', 'value-3']]);
    expect(encodedRic(again)).toBeGreaterThan(0);
    // Delivered before the inserts: exactly two streams block at the decoder (its limit).
    for (const [id, block, fields] of sections) {
      const r = d.decode(id, block);
      if (r !== 'blocked') expect(r).toEqual(fields);
    }
    expect(d.blockedStreams).toBe(2);
    expect(inserts().sort()).toEqual([0, 4]);
    expect(d.resume(0)).toEqual(sections[0]![2]);
    expect(d.resume(4)).toEqual(sections[1]![2]);
    expect(d.decode(0, again)).toEqual([['x-field-3', 'value-3']]);
    feedback();
    expect(e.blockingStreams).toBe(0);
    expect(e.knownReceivedCount).toBe(e.insertCount);
  });

  it('with the peer allowing 0 blocked streams, references only acknowledged entries', () => {
    const { e, d, inserts, feedback } = pair(4096, 0, 100);
    const fields: FieldLine[] = [['x-a', '1']];
    const first = e.encode(0, fields);
    expect(encodedRic(first)).toBe(0);
    expect(d.decode(0, first)).toEqual(fields);
    inserts();
    feedback();
    expect(encodedRic(e.encode(4, fields))).toBeGreaterThan(0);
  });
});

describe('eviction safety (RFC 9204 §2.1.1)', () => {
  const entry = (i: number): FieldLine => [`x-e${i}`, 'v'.repeat(28)]; // 4 + 28 + 32 = 64

  it('never evicts an entry whose insertion is not acknowledged', () => {
    const { e } = pair(256, 0); // room for 4 entries; no feedback ever
    for (let i = 0; i < 10; i++) e.encode(4 * i, [entry(i)]);
    expect(e.insertCount).toBe(4);
    expect(e.oldestEntry).toBe(0);
    expect(e.tableSize).toBe(256);
  });

  it('evicts acknowledged, unreferenced entries to make room', () => {
    const { e, d, inserts, feedback } = pair(256, 0);
    for (let i = 0; i < 10; i++) {
      const block = e.encode(4 * i, [entry(i)]);
      inserts();
      expect(d.decode(4 * i, block)).toEqual([entry(i)]);
      feedback();
    }
    expect(e.insertCount).toBe(10);
    expect(e.oldestEntry).toBe(6);
    expect(d.insertCount).toBe(10);
  });

  it('never evicts an entry an unacknowledged section references, even one delivered late', () => {
    const { e, d, inserts, feedback } = pair(256, 0);
    for (let i = 0; i < 4; i++) e.encode(4 * i, [entry(i)]);
    inserts();
    feedback(); // all 4 acknowledged; the table is full, entry 0 is draining
    const late = e.encode(100, [entry(1), entry(2)]); // not delivered yet
    expect(encodedRic(late)).toBe(4); // RIC 3, encoded 3 % 16 + 1
    for (let i = 4; i < 8; i++) {
      const block = e.encode(200 + 4 * i, [entry(i)]);
      inserts();
      expect(d.decode(200 + 4 * i, block)).toEqual([entry(i)]);
      feedback();
    }
    // Entry 0 made room for entry 4; entry 1 is pinned, so 5–7 went as literals.
    expect(e.oldestEntry).toBe(1);
    expect(e.insertCount).toBe(5);
    expect(d.decode(100, late)).toEqual([entry(1), entry(2)]);
    feedback();
    // Acknowledged: now the table moves on.
    e.encode(300, [entry(8)]);
    expect(e.oldestEntry).toBe(2);
    expect(e.insertCount).toBe(6);
  });

  it('never evicts an entry referenced earlier in the section being encoded', () => {
    const { e, d, inserts, feedback } = pair(256, 0);
    for (let i = 0; i < 4; i++) e.encode(4 * i, [entry(i)]);
    inserts();
    feedback();
    // entry(1) is referenced first; entry(99) (65 octets) needs entries 0 and 1 evicted.
    const block = e.encode(100, [entry(1), entry(99)]);
    inserts();
    expect(d.decode(100, block)).toEqual([entry(1), entry(99)]);
    expect(e.oldestEntry).toBeLessThanOrEqual(1);
    expect(e.insertCount).toBe(4);
  });

  it('Stream Cancellation (§4.4.2) releases what the stream referenced', () => {
    const { e, d, inserts, feedback } = pair(256, 0);
    for (let i = 0; i < 4; i++) e.encode(4 * i, [entry(i)]);
    inserts();
    feedback();
    e.encode(100, [entry(1)]); // never delivered: the stream is reset
    e.encode(104, [entry(4)]); // evicts entry 0
    e.encode(108, [entry(5)]); // would evict entry 1: pinned
    expect(e.insertCount).toBe(5);
    d.cancelStream(100);
    inserts();
    feedback();
    e.encode(112, [entry(5)]);
    expect(e.insertCount).toBe(6);
    expect(e.oldestEntry).toBe(2);
  });

  it('stops referencing draining entries and re-inserts them with Duplicate (§2.1.1.1, §4.3.4)', () => {
    const { e, d, inserts, feedback } = pair(256, 0);
    for (let i = 0; i < 4; i++) e.encode(4 * i, [entry(i)]);
    inserts();
    feedback();
    // The table is full: entry 0 is draining. Its name isn't referenced either (this value
    // is too large to insert): a literal name, no dynamic reference.
    const named = e.encode(96, [['x-e0', 'w'.repeat(200)]]);
    expect(encodedRic(named)).toBe(0);
    expect(d.decode(96, named)).toEqual([['x-e0', 'w'.repeat(200)]]);
    // A section wanting the whole entry gets a literal, and
    // the encoder stream a Duplicate of relative index 3 (entry 0 evicted to make room).
    const block = e.encode(100, [entry(0)]);
    expect(encodedRic(block)).toBe(0);
    expect(toHex(e.takeEncoderStreamBytes())).toBe('03');
    expect(e.oldestEntry).toBe(1);
    expect(e.insertCount).toBe(5);
    d.onEncoderStream(hex('03'));
    expect(d.decode(100, block)).toEqual([entry(0)]);
    feedback();
    // Acknowledged, the duplicate (entry 4, at the new end) is referenced.
    const again = e.encode(104, [entry(0)]);
    expect(toHex(again)).toBe('0600' + '80'); // RIC 5, Base 5, relative 0
    expect(d.decode(104, again)).toEqual([entry(0)]);
  });

  it('keeps taking new entries when sections are always in flight (a popular entry drains)', () => {
    const { e, d, inserts, feedback } = pair(512, 4, 4);
    let pending: [number, Uint8Array, FieldLine[]][] = [];
    for (let i = 0; i < 200; i++) {
      // Every section references the same popular field, plus a new one.
      const fields: FieldLine[] = [
        [':authority', 'popular.example'],
        [`x-n${i % 50}`, `${i}`],
      ];
      pending.push([4 * i, e.encode(4 * i, fields), fields]);
      inserts();
      // Decode (and acknowledge) everything but the newest two sections.
      while (pending.length > 2) {
        const [id, block, f] = pending.shift()!;
        expect(d.decode(id, block)).toEqual(f);
      }
      feedback();
    }
    for (const [id, block, f] of pending) expect(d.decode(id, block)).toEqual(f);
    pending = [];
    expect(e.insertCount).toBeGreaterThan(150);
  });
});

describe('decoder stream (RFC 9204 §4.4)', () => {
  const code = (f: () => unknown): number | undefined => {
    try {
      f();
    } catch (err) {
      expect(err).toBeInstanceOf(QpackError);
      return (err as QpackError).wireCode;
    }
    return undefined;
  };

  it('rejects acknowledgments with nothing outstanding and bad increments with QPACK_DECODER_STREAM_ERROR', () => {
    expect(code(() => new QpackEncoder().onDecoderStream(hex('84')))).toBe(DSE);
    expect(code(() => new QpackEncoder().onDecoderStream(hex('00')))).toBe(DSE); // increment 0
    expect(code(() => new QpackEncoder().onDecoderStream(hex('01')))).toBe(DSE); // nothing inserted
    expect(
      code(() => new QpackEncoder().onDecoderStream(hex('ff ff ff ff ff ff ff ff ff ff 01'))),
    ).toBe(DSE);
    // A cancellation for an unknown stream is harmless.
    expect(code(() => new QpackEncoder().onDecoderStream(hex('44 7f a907')))).toBeUndefined();
    const { e, inserts, feedback, d } = pair(4096, 10, 10);
    e.encode(4, [['x-a', '1']]);
    inserts();
    feedback();
    expect(code(() => e.onDecoderStream(hex('01')))).toBe(DSE); // beyond what was inserted
    expect(d.insertCount).toBe(1);
  });

  it('acknowledges a stream’s sections in order, and one more acknowledgment is an error', () => {
    const { e, d, inserts, feedback } = pair(4096, 10, 10);
    const a = e.encode(4, [['x-a', '1']]);
    const b = e.encode(4, [['x-b', '2']]); // a trailer section on the same stream
    inserts();
    d.takeDecoderStreamBytes(); // drop the increment: let acknowledgments do the work
    expect(d.decode(4, a)).toEqual([['x-a', '1']]);
    feedback();
    expect(e.knownReceivedCount).toBe(1);
    expect(e.blockingStreams).toBe(1); // section b still needs entry 1
    expect(d.decode(4, b)).toEqual([['x-b', '2']]);
    feedback();
    expect(e.knownReceivedCount).toBe(2);
    expect(e.blockingStreams).toBe(0);
    expect(code(() => e.onDecoderStream(hex('84')))).toBe(DSE);
  });

  it('accepts instructions split at every byte', () => {
    const { e, inserts } = pair(4096, 10, 10);
    for (let i = 0; i < 70; i++) e.encode(1000 + 4 * i, [[`x-${i}`, 'v']]);
    inserts();
    // 10 streams may block (1000 … 1036), the other sections went literal.
    expect(e.blockingStreams).toBe(10);
    // Acks for streams 1000 and 1004 (127 + 873, 127 + 877), cancel 1008 (63 + 945).
    const bytes = hex('ff e906' + 'ff ed06' + '7f b107');
    for (const byte of bytes) e.onDecoderStream(Uint8Array.of(byte));
    expect(e.knownReceivedCount).toBe(2);
    expect(e.blockingStreams).toBe(7);
    // Insert Count Increment 70 − 2 (63 + 5).
    for (const byte of hex('3f 05')) e.onDecoderStream(Uint8Array.of(byte));
    expect(e.knownReceivedCount).toBe(70);
    expect(e.blockingStreams).toBe(0);
  });
});
