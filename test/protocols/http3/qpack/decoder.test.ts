/**
 * QPACK decoder (RFC 9204): the Required Insert Count arithmetic (§4.5.1.1) checked
 * exhaustively, Base (§4.5.1.2), every field line form (§4.5.2–§4.5.6), blocked streams
 * (§2.2.1), cancellation (§4.4.2), the limits, and the error codes (§6).
 */
import { describe, expect, it } from 'vitest';
import {
  FieldSectionTooLargeError,
  QpackDecoder,
  QpackError,
  QpackErrorCode,
} from '../../../../src/protocols/http3/qpack/index.js';
import { GhostnetError, InvalidOptionError } from '../../../../src/errors.js';
import { hex, toHex, ascii } from '../../../helpers/hex.js';

/** The error a call throws (undefined if none). */
function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (err) {
    return err;
  }
  return undefined;
}

/** Wire code of the QpackError a call throws; fails the test on anything else. */
function wireCode(f: () => unknown): number {
  const err = thrown(f);
  expect(err).toBeInstanceOf(QpackError);
  return (err as QpackError).wireCode;
}

const DEC = QpackErrorCode.QPACK_DECOMPRESSION_FAILED;
const ENC = QpackErrorCode.QPACK_ENCODER_STREAM_ERROR;

/** 001 Capacity(5+) */
function setCapacity(cap: number): string {
  if (cap < 31) return (0x20 | cap).toString(16).padStart(2, '0');
  let v = cap - 31;
  let s = '3f';
  while (v >= 128) {
    s += ((v & 0x7f) | 0x80).toString(16).padStart(2, '0');
    v = Math.floor(v / 128);
  }
  return s + v.toString(16).padStart(2, '0');
}

/** Insert With Literal Name (§4.3.3), short strings, no Huffman. */
function insertLiteral(name: string, value: string): string {
  return (
    (0x40 | name.length).toString(16).padStart(2, '0') +
    ascii(name) +
    value.length.toString(16).padStart(2, '0') +
    ascii(value)
  );
}

describe('Required Insert Count (RFC 9204 §4.5.1.1)', () => {
  it('decodes every encoding for every insert count exactly as the window of valid values says', () => {
    // With MaxEntries M, a valid Required Insert Count for a decoder that has received T
    // inserts lies in [max(1, T − M + 1), T + M] (entries older than T − M are gone; the
    // encoder can't be more than M inserts ahead). Those 2M values are distinct modulo 2M,
    // so each encoding 1..2M names at most one of them; any other encoding is an error.
    for (let m = 1; m <= 5; m++) {
      const fullRange = 2 * m;
      // Capacity 32m + 31 keeps MaxEntries = m and holds m entries of 34 octets (two-letter
      // names, empty values), so every valid RIC − 1 is still in the table.
      for (let t = 0; t <= 4 * fullRange + 3; t++) {
        for (let encoded = 0; encoded <= fullRange + 1; encoded++) {
          const d = new QpackDecoder({ maxTableCapacity: 32 * m + 31, maxBlockedStreams: 1 });
          let ins = setCapacity(32 * m + 31);
          for (let i = 0; i < t; i++) ins += insertLiteral(i.toString(36).padStart(2, '0'), '');
          d.onEncoderStream(hex(ins));
          let expected: number | undefined;
          if (encoded === 0) expected = 0;
          for (let ric = Math.max(1, t - m + 1); ric <= t + m && encoded > 0; ric++) {
            if ((ric % fullRange) + 1 === encoded) expected = ric;
          }
          // Prefix: encoded RIC, Base = RIC; then an indexed reference to RIC − 1
          // (relative 0), or to static :path when RIC is 0.
          const block = Uint8Array.of(encoded, 0x00, expected === 0 ? 0xc1 : 0x80);
          const result = thrown(() => d.decode(0, block)) ?? d.decode(0, block);
          if (expected === undefined) {
            expect(result, `m=${m} t=${t} encoded=${encoded}`).toBeInstanceOf(QpackError);
            expect((result as QpackError).wireCode).toBe(DEC);
          } else if (expected === 0) {
            expect(result).toEqual([[':path', '/']]);
          } else if (expected > t) {
            expect(result, `m=${m} t=${t} encoded=${encoded}`).toBe('blocked');
          } else {
            // Entry RIC − 1's name tells which Required Insert Count was decoded.
            expect(result, `m=${m} t=${t} encoded=${encoded}`).toEqual([
              [(expected - 1).toString(36).padStart(2, '0'), ''],
            ]);
          }
        }
      }
    }
  });

  it('rejects an encoded Required Insert Count above 2 × MaxEntries, and any with MaxEntries 0', () => {
    const d = new QpackDecoder({ maxTableCapacity: 64 }); // MaxEntries 2, FullRange 4
    expect(wireCode(() => d.decode(0, hex('05 00 80')))).toBe(DEC);
    expect(thrown(() => d.decode(0, hex('05 00 80')))).toHaveProperty(
      'message',
      expect.stringMatching(/2 × MaxEntries/),
    );
    const zero = new QpackDecoder({ maxTableCapacity: 0 });
    expect(wireCode(() => zero.decode(0, hex('01 00 80')))).toBe(DEC);
    expect(zero.decode(0, hex('00 00 d1'))).toEqual([[':method', 'GET']]);
  });

  it('rejects a Required Insert Count larger than the largest reference needs', () => {
    const d = new QpackDecoder({ maxTableCapacity: 220 });
    d.onEncoderStream(hex(setCapacity(220) + insertLiteral('a', '1') + insertLiteral('b', '2')));
    // RIC 2 (encoded 3), Base 2, references only entry 0 (relative 1).
    expect(thrown(() => d.decode(0, hex('03 00 81')))).toHaveProperty(
      'message',
      expect.stringMatching(/Required Insert Count 2 but the largest dynamic reference is 0/),
    );
    // RIC 2 with no dynamic reference at all.
    expect(wireCode(() => d.decode(0, hex('03 00 d1')))).toBe(DEC);
    expect(d.decode(0, hex('03 00 80 81'))).toEqual([
      ['b', '2'],
      ['a', '1'],
    ]);
  });
});

describe('Base and field line representations (RFC 9204 §4.5.1.2, §4.5.2–§4.5.6)', () => {
  const primed = (): QpackDecoder => {
    const d = new QpackDecoder({ maxTableCapacity: 4096 });
    // Entries 0..3: n0=v0 … n3=v3.
    d.onEncoderStream(
      hex(setCapacity(4096) + [0, 1, 2, 3].map((i) => insertLiteral(`n${i}`, `v${i}`)).join('')),
    );
    d.takeDecoderStreamBytes();
    return d;
  };

  it('decodes relative (pre-base) and post-base indexed lines with Base above, at and below the Required Insert Count', () => {
    const d = primed();
    // RIC 4 (encoded 5), Sign 0 Delta 0 → Base 4: relative 0 = entry 3.
    expect(d.decode(0, hex('05 00 80 83'))).toEqual([
      ['n3', 'v3'],
      ['n0', 'v0'],
    ]);
    // RIC 4, Sign 1 Delta 1 → Base 2: relative 0 = entry 1, post-base 0 = entry 2, 1 = entry 3.
    expect(d.decode(0, hex('05 81 80 10 11'))).toEqual([
      ['n1', 'v1'],
      ['n2', 'v2'],
      ['n3', 'v3'],
    ]);
    // RIC 4, Sign 1 Delta 3 → Base 0: everything post-base.
    expect(d.decode(0, hex('05 83 13 10'))).toEqual([
      ['n3', 'v3'],
      ['n0', 'v0'],
    ]);
    // RIC 1 (encoded 2), Sign 0 Delta 3 → Base 4 (past RIC is allowed): relative 3 = entry 0.
    expect(d.decode(0, hex('02 03 83'))).toEqual([['n0', 'v0']]);
  });

  it('decodes literal lines with static, dynamic, post-base and literal names, with and without the N bit and Huffman', () => {
    const d = primed();
    // RIC 4 (encoded 5), Sign 1 Delta 0 → Base 3.
    const block = hex(
      '05 80' +
        // 01 N=0 T=1 index 1 (:path), value "/x"
        '51 02' +
        ascii('/x') +
        // 01 N=1 T=1 index 15 + 69 = 84 (authorization), value "s"
        '7f 45 01' +
        ascii('s') +
        // 01 N=0 T=0 relative 0 = entry 2 (n2), value "w"
        '40 01' +
        ascii('w') +
        // 0000 N=1 post-base 0 = entry 3 (n3), value "p"
        '08 01' +
        ascii('p') +
        // 001 N=1 H=0 length 3 "x-a", value "b"
        '33' +
        ascii('x-a') +
        '01' +
        ascii('b') +
        // 001 N=0 H=1 length 7 + 1: Huffman "custom-key"; value Huffman "custom-value"
        // (RFC 7541 C.4.3)
        '2f 01 25a849e95ba97d7f 89 25a849e95bb8e8b4bf',
    );
    expect(d.decode(0, block)).toEqual([
      [':path', '/x'],
      ['authorization', 's'],
      ['n2', 'w'],
      ['n3', 'p'],
      ['x-a', 'b'],
      ['custom-key', 'custom-value'],
    ]);
  });

  it('rejects a negative Base (§4.5.1.2)', () => {
    const d = primed();
    // RIC 4, Sign 1, Delta Base 4 → Base −1.
    expect(thrown(() => d.decode(0, hex('05 84 10')))).toHaveProperty(
      'message',
      expect.stringMatching(/negative Base/),
    );
    expect(wireCode(() => d.decode(0, hex('05 84 10')))).toBe(DEC);
  });

  it('rejects references at or past the Required Insert Count, evicted entries and bad static indexes (§2.2.3, §3.1)', () => {
    const d = primed();
    // RIC 2 (encoded 3), Base 2, post-base 0 = entry 2 ≥ RIC.
    expect(wireCode(() => d.decode(0, hex('03 00 10')))).toBe(DEC);
    expect(thrown(() => d.decode(0, hex('03 00 10')))).toHaveProperty(
      'message',
      expect.stringMatching(/entry 2, at or past the Required Insert Count 2/),
    );
    // RIC 4, Base 4, relative 4 → entry −1.
    expect(wireCode(() => d.decode(0, hex('05 00 84')))).toBe(DEC);
    // Static index 99 (indexed and name reference).
    expect(wireCode(() => d.decode(0, hex('00 00 ff 24')))).toBe(DEC);
    expect(wireCode(() => d.decode(0, hex('00 00 5f 54 00')))).toBe(DEC);
    // An evicted entry: shrink the capacity so entries 0 and 1 go.
    d.onEncoderStream(hex(setCapacity(2 * 36)));
    expect(d.entry(1)).toBeUndefined();
    expect(d.entry(2)).toEqual(['n2', 'v2']);
    expect(thrown(() => d.decode(0, hex('05 00 83')))).toHaveProperty(
      'message',
      expect.stringMatching(/not in the table/),
    );
  });

  it('rejects truncated and malformed sections with QPACK_DECOMPRESSION_FAILED', () => {
    const d = primed();
    for (const s of [
      '', // no prefix
      '00', // no Base
      '05', // no Base
      '00 00 51', // name reference without a value
      '00 00 51 05 2f', // value shorter than its length
      '00 00 23 61', // literal name without value
      '00 00 ff', // static index cut short
      '00 00 ff ff ff ff ff ff ff ff ff ff 01', // integer longer than 10 octets
      '00 00 ff ff ff ff ff ff ff ff ff 7f', // integer of 2^62 or more
      '00 00 ff 80 80 80 80 80 80 80 80 80 00', // padded integer (no NaN, no hang)
      '00 00 51 81 ff', // Huffman string holding EOS bits only past 7 bits of padding
      '00 00 51 83 ff ff ff', // Huffman EOS
    ]) {
      expect(
        wireCode(() => d.decode(0, hex(s))),
        s,
      ).toBe(DEC);
    }
  });
});

describe('blocked streams (RFC 9204 §2.2.1)', () => {
  const INSERT_A = setCapacity(220) + insertLiteral('a', '1');
  const INSERT_B = insertLiteral('b', '2');
  // RIC 2 (encoded 3), Base 2: relative 1 (a), relative 0 (b).
  const SECTION = '03 00 81 80';

  it('holds a section until its inserts arrive, reports the stream once, then resumes it', () => {
    const d = new QpackDecoder({ maxTableCapacity: 220 });
    const block = hex(SECTION);
    expect(d.decode(4, block)).toBe('blocked');
    block.fill(0); // the decoder kept its own copy
    expect(d.blockedStreams).toBe(1);
    expect(d.takeDecoderStreamBytes()).toBeUndefined();
    expect(d.onEncoderStream(hex(INSERT_A))).toEqual([]);
    expect(d.onEncoderStream(hex(INSERT_B))).toEqual([4]);
    expect(d.blockedStreams).toBe(0);
    expect(d.onEncoderStream(hex(insertLiteral('c', '3')))).toEqual([]); // reported once
    expect(d.resume(4)).toEqual([
      ['a', '1'],
      ['b', '2'],
    ]);
    // Increments for the inserts, then the acknowledgment.
    expect(toHex(d.takeDecoderStreamBytes())).toBe('01' + '01' + '01' + '84');
    expect(thrown(() => d.resume(4))).toBeInstanceOf(GhostnetError);
  });

  it('decodes the held section from the same bytes again once unblocked (instead of resume)', () => {
    const d = new QpackDecoder({ maxTableCapacity: 220 });
    expect(d.decode(4, hex(SECTION))).toBe('blocked');
    expect(d.onEncoderStream(hex(INSERT_A + INSERT_B))).toEqual([4]);
    expect(d.decode(4, hex(SECTION))).toEqual([
      ['a', '1'],
      ['b', '2'],
    ]);
    expect(d.blockedStreams).toBe(0);
    expect(thrown(() => d.resume(4))).toHaveProperty('code', 'GN_ERR_QPACK_NOT_UNBLOCKED');
  });

  it('keeps the Required Insert Count it decoded while blocked, even after the count wraps', () => {
    // MaxEntries 2 (FullRange 4): RIC 2 is encoded 3. By the time the stream resumes, 5
    // inserts have arrived, and re-decoding "3" then would give 6.
    const d = new QpackDecoder({ maxTableCapacity: 64 + 20 });
    expect(d.decode(0, hex('03 00 80'))).toBe('blocked');
    d.onEncoderStream(
      hex(setCapacity(84) + ['a', 'b', 'c', 'd', 'e'].map((n) => insertLiteral(n, '')).join('')),
    );
    // Entry 1 ("b") was evicted by then; the section is decoded against RIC 2, not 6.
    expect(thrown(() => d.resume(0))).toHaveProperty('message', expect.stringMatching(/entry 1,/));
  });

  it('refuses to block more streams than SETTINGS_QPACK_BLOCKED_STREAMS', () => {
    const d = new QpackDecoder({ maxTableCapacity: 220, maxBlockedStreams: 2 });
    expect(d.decode(0, hex(SECTION))).toBe('blocked');
    expect(d.decode(4, hex(SECTION))).toBe('blocked');
    expect(d.decode(4, hex(SECTION))).toBe('blocked'); // the same stream again: still 2
    const err = thrown(() => d.decode(8, hex(SECTION)));
    expect(err).toBeInstanceOf(QpackError);
    expect((err as QpackError).wireCode).toBe(DEC);
    expect((err as QpackError).code).toBe('GN_ERR_QPACK_DECOMPRESSION_FAILED');
    // None at all with 0.
    expect(
      wireCode(() =>
        new QpackDecoder({ maxTableCapacity: 220, maxBlockedStreams: 0 }).decode(0, hex(SECTION)),
      ),
    ).toBe(DEC);
  });

  it('a cancelled stream is forgotten and reported with Stream Cancellation (§4.4.2)', () => {
    const d = new QpackDecoder({ maxTableCapacity: 220, maxBlockedStreams: 1 });
    expect(d.decode(4, hex(SECTION))).toBe('blocked');
    d.cancelStream(4);
    expect(d.blockedStreams).toBe(0);
    expect(toHex(d.takeDecoderStreamBytes())).toBe('44');
    // Its slot is free again, and its inserts no longer report it.
    expect(d.decode(8, hex(SECTION))).toBe('blocked');
    expect(d.onEncoderStream(hex(INSERT_A + INSERT_B))).toEqual([8]);
    // A large stream id takes a multi-octet integer: 01 111111 then 1000 − 63.
    d.cancelStream(1000);
    expect(toHex(d.takeDecoderStreamBytes())).toBe('02' + '7fa907');
    // With a maximum capacity of 0 no section can reference the table: nothing to send.
    const z = new QpackDecoder({ maxTableCapacity: 0 });
    z.cancelStream(4);
    expect(z.takeDecoderStreamBytes()).toBeUndefined();
  });
});

describe('encoder stream (RFC 9204 §4.3) errors and limits', () => {
  it('rejects a capacity above our maximum, entries larger than the capacity, and references to missing entries with QPACK_ENCODER_STREAM_ERROR', () => {
    const d = (): QpackDecoder => new QpackDecoder({ maxTableCapacity: 220 });
    expect(wireCode(() => d().onEncoderStream(hex(setCapacity(221))))).toBe(ENC);
    // Insert before any Set Dynamic Table Capacity (capacity 0).
    expect(wireCode(() => d().onEncoderStream(hex(insertLiteral('a', 'b'))))).toBe(ENC);
    // Static index 99; dynamic relative index past the table; Duplicate of a missing entry.
    expect(wireCode(() => d().onEncoderStream(hex(setCapacity(220) + 'ff24 00')))).toBe(ENC);
    expect(wireCode(() => d().onEncoderStream(hex(setCapacity(220) + '8000')))).toBe(ENC);
    expect(wireCode(() => d().onEncoderStream(hex(setCapacity(220) + '00')))).toBe(ENC);
    // An entry of exactly the capacity fits; one octet more does not (§3.2.2).
    const ok = d();
    ok.onEncoderStream(hex(setCapacity(40) + insertLiteral('abcd', 'efgh')));
    expect(ok.tableSize).toBe(40);
    expect(wireCode(() => ok.onEncoderStream(hex(insertLiteral('abcd', 'efghi'))))).toBe(ENC);
    // Bad Huffman in an instruction.
    expect(wireCode(() => d().onEncoderStream(hex(setCapacity(220) + '63ffffff00')))).toBe(ENC);
  });

  it('refuses a string longer than the table capacity from its length prefix, before its bytes arrive', () => {
    const d = new QpackDecoder({ maxTableCapacity: 4096 });
    d.onEncoderStream(hex(setCapacity(100)));
    // Insert With Literal Name, name length 69 (> 100 − 32): only the prefix is sent.
    expect(wireCode(() => d.onEncoderStream(hex('5f 26')))).toBe(ENC);
    const h = new QpackDecoder({ maxTableCapacity: 4096 });
    h.onEncoderStream(hex(setCapacity(100)));
    // A :authority value in 300 Huffman octets decodes to at least 80 > 100 − 32 − 10.
    expect(wireCode(() => h.onEncoderStream(hex('c0 ff ad 01')))).toBe(ENC);
    // In 200 Huffman octets it might decode to 54 ≤ 58: buffered, not refused yet.
    const ok = new QpackDecoder({ maxTableCapacity: 4096 });
    ok.onEncoderStream(hex(setCapacity(100)));
    expect(ok.onEncoderStream(hex('c0 ff 49'))).toEqual([]);
    expect(ok.onEncoderStream(new Uint8Array(150).fill(0x55))).toEqual([]);
  });

  it('parses instructions split anywhere, including inside integers and Huffman strings', () => {
    const all = hex(
      setCapacity(3000) +
        // Insert With Literal Name: a 40-octet name overflows the 5-bit prefix (31 + 9).
        '5f09' +
        ascii('x'.repeat(40)) +
        '0a' +
        ascii('0123456789') +
        // :authority, Huffman "www.example.com" (RFC 7541 C.4.1)
        'c0 8c f1e3c2e5f23a6ba0ab90f4ff' +
        '81 03' +
        ascii('abc') + // name of relative 1 (the x… entry)
        '01', // Duplicate of relative 1
    );
    const whole = new QpackDecoder({ maxTableCapacity: 4096 });
    whole.onEncoderStream(all);
    for (let split = 1; split < all.length; split++) {
      const d = new QpackDecoder({ maxTableCapacity: 4096 });
      d.onEncoderStream(all.subarray(0, split));
      d.onEncoderStream(all.subarray(split));
      expect(d.insertCount).toBe(4);
      expect(d.tableSize).toBe(whole.tableSize);
    }
    const bytewise = new QpackDecoder({ maxTableCapacity: 4096 });
    for (const b of all) bytewise.onEncoderStream(Uint8Array.of(b));
    for (let abs = 0; abs < 4; abs++) expect(bytewise.entry(abs)).toEqual(whole.entry(abs));
    expect(whole.entry(1)).toEqual([':authority', 'www.example.com']);
    expect(whole.entry(2)).toEqual(['x'.repeat(40), 'abc']);
    expect(whole.entry(3)).toEqual([':authority', 'www.example.com']);
    // Increments: one per call that completed inserts.
    expect(toHex(whole.takeDecoderStreamBytes())).toBe('04');
  });

  it('evicts on capacity reduction and can clear the table with capacity 0 (§3.2.3)', () => {
    const d = new QpackDecoder({ maxTableCapacity: 220 });
    d.onEncoderStream(hex(setCapacity(220) + insertLiteral('a', '1') + insertLiteral('b', '2')));
    expect(d.tableSize).toBe(68);
    d.onEncoderStream(hex(setCapacity(40)));
    expect(d.tableSize).toBe(34);
    expect(d.entry(0)).toBeUndefined();
    d.onEncoderStream(hex(setCapacity(0)));
    expect(d.tableSize).toBe(0);
    expect(d.insertCount).toBe(2);
  });
});

describe('field section size (RFC 9114 §4.2.2) and options', () => {
  it('throws FieldSectionTooLargeError past maxFieldSectionSize, and still acknowledges the section', () => {
    const d = new QpackDecoder({ maxTableCapacity: 220, maxFieldSectionSize: 100 });
    // 1 + 60 + 32 = 93 fits.
    expect(
      d.decode(0, hex('00 00 2' + '1' + ascii('x') + '3c' + ascii('v'.repeat(60)))),
    ).toHaveLength(1);
    // :method GET is 42: the third goes past 100.
    const err = thrown(() => d.decode(0, hex('00 00 d1 d1 d1')));
    expect(err).toBeInstanceOf(FieldSectionTooLargeError);
    expect((err as FieldSectionTooLargeError).code).toBe('GN_ERR_H3_FIELD_SECTION_TOO_LARGE');
    // A literal whose length alone is too large is refused before it is decoded.
    const big = thrown(() => d.decode(0, hex('00 00 51 7f 00' + '61'.repeat(127))));
    expect(big).toBeInstanceOf(FieldSectionTooLargeError);
    // … but a length running past the block is malformed, not large.
    expect(wireCode(() => d.decode(0, hex('00 00 51 7f 00 61')))).toBe(DEC);
    // A section that referenced the table is acknowledged even when too large.
    d.onEncoderStream(hex(setCapacity(220) + insertLiteral('k', 'v'.repeat(60))));
    d.takeDecoderStreamBytes();
    expect(thrown(() => d.decode(4, hex('02 00 80 80')))).toBeInstanceOf(FieldSectionTooLargeError);
    expect(toHex(d.takeDecoderStreamBytes())).toBe('84');
  });

  it('validates options', () => {
    expect(() => new QpackDecoder({ maxTableCapacity: -1 })).toThrow(InvalidOptionError);
    expect(() => new QpackDecoder({ maxBlockedStreams: 1.5 })).toThrow(InvalidOptionError);
    expect(() => new QpackDecoder({ maxFieldSectionSize: Number.NaN })).toThrow(InvalidOptionError);
    const d = new QpackDecoder();
    expect([d.maxTableCapacity, d.maxBlockedStreams, d.maxFieldSectionSize]).toEqual([
      4096, 100, 65536,
    ]);
  });
});
