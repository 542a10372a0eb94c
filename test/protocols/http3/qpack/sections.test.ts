/**
 * QPACK (RFC 9204) end to end: Required Insert Count and Base checks, blocking, eviction
 * safety, the error codes, split instructions and a fuzz pass. The Appendix A and B examples
 * are in qpack/appendix.test.ts.
 */
import { describe, expect, it } from 'vitest';
import {
  QpackDecoder,
  QpackEncoder,
  QpackError,
} from '../../../../src/protocols/http3/qpack/index.js';
import type { FieldLine } from '../../../../src/protocols/http3/qpack/index.js';
import { FieldSectionTooLargeError } from '../../../../src/protocols/http3/qpack/errors.js';
import { mulberry32 } from '../../../helpers/prng.js';
import { hex, toHex } from '../../../helpers/hex.js';

describe('Required Insert Count and Base (RFC 9204 §4.5.1)', () => {
  it('rejects an encoded insert count above 2 × MaxEntries', () => {
    const d = new QpackDecoder({ maxTableCapacity: 64 }); // MaxEntries 2, FullRange 4
    expect(() => d.decode(0, hex('05 00'))).toThrow(QpackError);
  });

  it('rejects a Base below zero (§4.5.1.2)', () => {
    const d = new QpackDecoder({ maxTableCapacity: 220 });
    d.onEncoderStream(hex('3fbd01 c00f7777772e6578616d706c652e636f6d'));
    expect(() => d.decode(0, hex('02 81 10'))).toThrow(/negative Base/);
  });

  it('rejects a section whose references do not reach its Required Insert Count', () => {
    const d = new QpackDecoder({ maxTableCapacity: 220 });
    d.onEncoderStream(
      hex('3fbd01 c00f7777772e6578616d706c652e636f6d c10c2f73616d706c652f70617468'),
    );
    // RIC 2 but only entry 0 referenced.
    expect(() => d.decode(0, hex('0381 10'))).toThrow(/Required Insert Count/);
  });
});

describe('blocked streams (RFC 9204 §2.1.2)', () => {
  it('blocks a section until its inserts arrive, then resumes it', () => {
    const d = new QpackDecoder({ maxTableCapacity: 220, maxBlockedStreams: 1 });
    expect(d.decode(4, hex('0381 10 11'))).toBe('blocked');
    expect(d.blockedStreams).toBe(1);
    // A second blocked stream exceeds the limit of 1.
    expect(() => d.decode(8, hex('0381 10 11'))).toThrow(QpackError);
    expect(d.onEncoderStream(hex('3fbd01 c00f7777772e6578616d706c652e636f6d'))).toEqual([]);
    expect(d.onEncoderStream(hex('c10c2f73616d706c652f70617468'))).toEqual([4]);
    expect(d.resume(4)).toEqual([
      [':authority', 'www.example.com'],
      [':path', '/sample/path'],
    ]);
  });

  it('a cancelled blocked stream is forgotten and reported (§4.4.2)', () => {
    const d = new QpackDecoder({ maxTableCapacity: 220 });
    expect(d.decode(4, hex('0381 10 11'))).toBe('blocked');
    d.cancelStream(4);
    expect(d.blockedStreams).toBe(0);
    expect(toHex(d.takeDecoderStreamBytes())).toBe('44');
  });
});

describe('encoder ↔ decoder', () => {
  function link(capacity = 4096): {
    e: QpackEncoder;
    d: QpackDecoder;
    roundTrip: (id: number, f: FieldLine[]) => FieldLine[];
  } {
    const e = new QpackEncoder();
    const d = new QpackDecoder({ maxTableCapacity: capacity });
    e.setPeerSettings(capacity, 100);
    const roundTrip = (id: number, fields: FieldLine[]): FieldLine[] => {
      const block = e.encode(id, fields);
      const ins = e.takeEncoderStreamBytes();
      if (ins !== undefined) d.onEncoderStream(ins);
      const out = d.decode(id, block);
      const back = d.takeDecoderStreamBytes();
      if (back !== undefined) e.onDecoderStream(back);
      if (out === 'blocked') throw new Error('the encoder must never block');
      return out;
    };
    return { e, d, roundTrip };
  }

  it('round-trips 500 header sets through the dynamic table and compresses repeats', () => {
    const { e, roundTrip } = link();
    const rand = mulberry32(7);
    let tableSize = 0;
    let literalSize = 0;
    for (let i = 0; i < 500; i++) {
      const fields: FieldLine[] = [
        [':method', 'GET'],
        [':scheme', 'https'],
        [':authority', 'example.test'],
        [':path', `/item/${i}`],
        ['user-agent', 'ghostnet-test/1.0'],
        ['x-custom', `v${Math.floor(rand() * 20)}`],
        ['authorization', 'Bearer secret'],
      ];
      expect(roundTrip(4 * i, fields)).toEqual(fields);
      if (i === 499) {
        tableSize = e.encode(10_000, fields).length;
        literalSize = new QpackEncoder().encode(0, fields).length;
      }
    }
    expect(e.insertCount).toBeGreaterThan(2);
    expect(tableSize).toBeLessThan(literalSize - 20);
  });

  it('never evicts an entry an unacknowledged section references (§2.1.1)', () => {
    const e = new QpackEncoder();
    const d = new QpackDecoder({ maxTableCapacity: 256 });
    e.setPeerSettings(256, 100);
    d.onEncoderStream(e.takeEncoderStreamBytes()!);
    // Insert a, have it acknowledged, reference it from an unacknowledged section on stream 8.
    e.encode(0, [['x-a', 'aaaaaaaaaaaa']]);
    d.onEncoderStream(e.takeEncoderStreamBytes()!);
    e.onDecoderStream(d.takeDecoderStreamBytes()!);
    const pinned = e.encode(8, [['x-a', 'aaaaaaaaaaaa']]);
    // New fields that would need a's room go as literals instead of evicting it.
    for (let i = 0; i < 5; i++) e.encode(12 + 4 * i, [[`x-b${i}`, 'bbbbbbbbbbbbbbbbbbbb']]);
    const ins = e.takeEncoderStreamBytes();
    if (ins !== undefined) d.onEncoderStream(ins);
    expect(d.decode(8, pinned)).toEqual([['x-a', 'aaaaaaaaaaaa']]);
  });

  it('with capacity 0 uses only the static table and literals', () => {
    const { e, roundTrip } = link(0);
    const fields: FieldLine[] = [
      [':status', '200'],
      ['content-type', 'text/plain'],
      ['x-y', 'z'],
    ];
    expect(roundTrip(0, fields)).toEqual(fields);
    expect(e.insertCount).toBe(0);
    expect(e.takeEncoderStreamBytes()).toBeUndefined();
  });

  it('marks sensitive fields never-indexed (N bit) and does not insert them (§7.1.3)', () => {
    const { e, roundTrip } = link();
    expect(
      roundTrip(0, [
        ['authorization', 'Basic x'],
        ['cookie', 'a=b'],
      ]),
    ).toEqual([
      ['authorization', 'Basic x'],
      ['cookie', 'a=b'],
    ]);
    expect(e.insertCount).toBe(0);
    const block = e.encode(4, [['authorization', 'Basic x']]);
    expect(block[2]! & 0x20).toBe(0x20); // 01 N T: N set
  });
});

describe('errors (RFC 9204 §6)', () => {
  it('encoder stream: capacity above ours, entries past capacity and bad indexes are QPACK_ENCODER_STREAM_ERROR', () => {
    const code = (f: () => unknown): number | undefined => {
      try {
        f();
      } catch (err) {
        return (err as QpackError).wireCode;
      }
      return undefined;
    };
    expect(
      code(() => new QpackDecoder({ maxTableCapacity: 100 }).onEncoderStream(hex('3fbd01'))),
    ).toBe(0x201);
    expect(
      code(() =>
        new QpackDecoder({ maxTableCapacity: 220 }).onEncoderStream(
          hex('c00f7777772e6578616d706c652e636f6d'),
        ),
      ),
    ).toBe(0x201);
    expect(
      code(() => new QpackDecoder({ maxTableCapacity: 220 }).onEncoderStream(hex('3fbd01 ff7f00'))),
    ).toBe(0x201);
    expect(
      code(() => new QpackDecoder({ maxTableCapacity: 220 }).onEncoderStream(hex('3fbd01 8000'))),
    ).toBe(0x201);
  });

  it('decoder stream: an ack with nothing outstanding and a zero increment are QPACK_DECODER_STREAM_ERROR', () => {
    expect(() => new QpackEncoder().onDecoderStream(hex('84'))).toThrow(
      expect.objectContaining({ wireCode: 0x202 }),
    );
    expect(() => new QpackEncoder().onDecoderStream(hex('00'))).toThrow(
      expect.objectContaining({ wireCode: 0x202 }),
    );
    expect(() => new QpackEncoder().onDecoderStream(hex('05'))).toThrow(
      expect.objectContaining({ wireCode: 0x202 }),
    );
  });

  it('a section over maxFieldSectionSize is FieldSectionTooLargeError, not a QPACK failure', () => {
    const e = new QpackEncoder();
    const d = new QpackDecoder({ maxFieldSectionSize: 100 });
    expect(() => d.decode(0, e.encode(0, [['x-big', 'v'.repeat(200)]]))).toThrow(
      FieldSectionTooLargeError,
    );
  });

  it('instructions split at every byte decode the same', () => {
    const all = hex(
      '3fbd01 c00f7777772e6578616d706c652e636f6d c10c2f73616d706c652f70617468 4a637573746f6d2d6b65790c637573746f6d2d76616c7565 02',
    );
    const d = new QpackDecoder({ maxTableCapacity: 220 });
    for (const b of all) d.onEncoderStream(Uint8Array.of(b));
    expect(d.insertCount).toBe(4);
  });

  it('fuzz: random field sections and instructions only ever raise coded errors', () => {
    const rand = mulberry32(99);
    for (let i = 0; i < 3000; i++) {
      const len = 1 + Math.floor(rand() * 40);
      const bytes = Uint8Array.from({ length: len }, () => Math.floor(rand() * 256));
      const d = new QpackDecoder({ maxTableCapacity: 256, maxBlockedStreams: 2 });
      const e = new QpackEncoder();
      for (const f of [
        () => d.onEncoderStream(bytes),
        () => d.decode(i, bytes),
        () => e.onDecoderStream(bytes),
      ]) {
        try {
          f();
        } catch (err) {
          expect(err instanceof QpackError || err instanceof FieldSectionTooLargeError).toBe(true);
        }
      }
    }
  });
});
