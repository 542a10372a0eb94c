/** HpackDecoder: every MUST of RFC 7541 it enforces, its limits, and a bounded fuzz. */
import { describe, expect, it } from 'vitest';
import { HpackError } from '../../../../src/protocols/http2/errors.js';
import { HpackDecoder, HpackEncoder } from '../../../../src/protocols/http2/hpack/index.js';
import { encodeInteger } from '../../../../src/protocols/http2/hpack/primitives.js';
import { fromHex, loadStories, prng } from './vectors.js';

const hex = fromHex;

function fails(decoder: HpackDecoder, block: string, message: RegExp): void {
  let error: unknown;
  try {
    decoder.decode(hex(block));
  } catch (err) {
    error = err;
  }
  expect(error, `${block} must fail`).toBeInstanceOf(HpackError);
  expect((error as HpackError).message).toMatch(message);
  expect((error as HpackError).code).toBe('GN_ERR_H2_COMPRESSION_ERROR');
  expect((error as HpackError).wireCode).toBe(0x9);
}

/** Size update (§6.3) to `size`, as hex. */
function update(size: number): string {
  const out = new Uint8Array(8);
  return Buffer.from(out.subarray(0, encodeInteger(out, 0, size, 5, 0x20))).toString('hex');
}

// "x-a: 1" as a literal with incremental indexing, new name: 40 03 782d61 01 31
const ADD_XA = '4003782d610131';

describe('§2.3.3 / §6.1 index address space', () => {
  it('index 0 is an error (§6.1)', () => {
    fails(new HpackDecoder(), '80', /index 0/);
  });

  it('an index beyond static + dynamic tables is an error (§2.3.3)', () => {
    const d = new HpackDecoder();
    fails(d, 'be', /beyond/); // 62, empty dynamic table
    const d2 = new HpackDecoder();
    expect(d2.decode(hex(`${ADD_XA}be`)).values).toEqual(['1', '1']);
    fails(d2, 'bf', /index 63 beyond/);
    // As a literal's name index too, on all three literal kinds.
    fails(new HpackDecoder(), '7e0131', /beyond/);
    fails(new HpackDecoder(), '0f2f0131', /beyond/);
    fails(new HpackDecoder(), '1f2f0131', /beyond/);
  });

  it('static index 61 is the last static entry', () => {
    const got = new HpackDecoder().decode(hex('bd'));
    expect(got.names).toEqual(['www-authenticate']);
  });
});

describe('§4.2 / §6.3 dynamic table size updates', () => {
  it('are accepted at the start of a block, one or two', () => {
    const d = new HpackDecoder();
    expect(d.decode(hex(`${ADD_XA}`)).names).toEqual(['x-a']);
    expect(d.tableLength).toBe(1);
    expect(d.decode(hex(`${update(0)}${update(4096)}82`)).names).toEqual([':method']);
    expect(d.tableLength).toBe(0); // §4.3: the update to 0 evicted everything
  });

  it('after a field is an error (§4.2)', () => {
    fails(new HpackDecoder(), `82${update(100)}`, /size update after a field/);
  });

  it('above the maximum is an error (§6.3)', () => {
    fails(new HpackDecoder(), update(4097), /exceeds the limit 4096.*§6\.3/);
    fails(new HpackDecoder({ maxTableSize: 0 }), update(1), /exceeds/);
    expect(new HpackDecoder({ maxTableSize: 0 }).decode(hex(update(0))).names).toEqual([]);
  });

  it('a missing required update after setMaxTableSize shrank is an error (§4.2)', () => {
    const d = new HpackDecoder();
    d.decode(hex(ADD_XA));
    d.setMaxTableSize(100);
    fails(d, '82', /does not begin with a dynamic table size update/);

    const d2 = new HpackDecoder();
    d2.setMaxTableSize(100);
    fails(d2, '', /does not begin/); // an empty block too

    const d3 = new HpackDecoder();
    d3.decode(hex(ADD_XA));
    d3.setMaxTableSize(100);
    expect(d3.decode(hex(`${update(100)}82`)).names).toEqual([':method']);
    expect(d3.tableLength).toBe(1); // x-a (36 octets) still fits in 100
    expect(d3.decode(hex('82')).names).toEqual([':method']); // required only once
  });

  it('shrink then grow between blocks requires the smallest value (§4.2)', () => {
    const d = new HpackDecoder();
    d.setMaxTableSize(0);
    d.setMaxTableSize(4096);
    fails(d, `${update(4096)}82`, /at most 0/);
    const d2 = new HpackDecoder();
    d2.setMaxTableSize(0);
    d2.setMaxTableSize(4096);
    expect(d2.decode(hex(`${update(0)}${update(4096)}${ADD_XA}`)).names).toEqual(['x-a']);
  });

  it('growth of the setting requires no update, and allows a larger one', () => {
    const d = new HpackDecoder();
    d.setMaxTableSize(8192);
    expect(d.decode(hex('82')).names).toEqual([':method']);
    expect(d.decode(hex(`${update(8192)}82`)).names).toEqual([':method']);
    fails(d, update(8193), /exceeds/);
  });
});

describe('§4.4 eviction', () => {
  it('evicts oldest entries first to make room, and indices shift', () => {
    // Each "x-N: v" entry is 3 + 1 + 32 = 36 octets; 100 octets hold two.
    const d = new HpackDecoder({ maxTableSize: 100 });
    const add = (n: number) => `4003782d${(0x30 + n).toString(16)}0176`;
    d.decode(hex(add(1) + add(2)));
    expect([d.tableLength, d.tableSize]).toEqual([2, 72]);
    expect(d.decode(hex('bebf')).names).toEqual(['x-2', 'x-1']);
    d.decode(hex(add(3)));
    expect([d.tableLength, d.tableSize]).toEqual([2, 72]);
    expect(d.decode(hex('bebf')).names).toEqual(['x-3', 'x-2']);
    fails(d, 'c0', /beyond/); // x-1 is gone
  });

  it('an entry larger than the table empties it and is not added', () => {
    const d = new HpackDecoder({ maxTableSize: 100 });
    d.decode(hex(ADD_XA));
    const big = 'v'.repeat(70); // 3 + 70 + 32 = 105 > 100
    const block = `4003782d62${(70).toString(16)}${Buffer.from(big).toString('hex')}`;
    const got = d.decode(hex(block));
    expect(got.values).toEqual([big]);
    expect([d.tableLength, d.tableSize]).toEqual([0, 0]);
  });

  it('a literal whose name refers to the entry it evicts still gets that name', () => {
    const d = new HpackDecoder({ maxTableSize: 36 + 36 });
    d.decode(hex(ADD_XA)); // [62] x-a: 1
    d.decode(hex('4003782d620132')); // [62] x-b: 2, [63] x-a: 1
    // Literal with indexing, name index 63 (x-a, the oldest, evicted to add this one).
    const got = d.decode(hex('7f000133'));
    expect(got.names).toEqual(['x-a']);
    expect(d.decode(hex('bebf')).names).toEqual(['x-a', 'x-b']);
  });
});

describe('§5.1 integers', () => {
  it('above 2^31 − 1 are an error', () => {
    fails(new HpackDecoder(), 'ffffffffff0f', /2\^31-1/); // 127 + 2^35 − 1
    fails(new HpackDecoder(), '3fe1ffffff0f', /2\^31-1/); // as a size update
  });

  it('with more than five continuation octets are an error', () => {
    fails(new HpackDecoder(), 'ff808080808000', /too long/);
  });

  it('2^31 − 1 itself is a valid integer (then an index out of range)', () => {
    // 127 + 0x7fffff80 = 2^31 − 1
    fails(new HpackDecoder(), 'ff80ffffff07', /index 2147483647 beyond/);
  });
});

describe('§5.2 Huffman strings in blocks', () => {
  it('EOS in a string is an error', () => fails(new HpackDecoder(), '0084ffffffff00', /EOS/));
  it('padding longer than 7 bits is an error', () =>
    fails(new HpackDecoder(), '00821fff00', /padding/));
  it('padding not the MSBs of EOS is an error', () =>
    fails(new HpackDecoder(), '00811800', /padding/));
  it('valid padding decodes', () =>
    expect(new HpackDecoder().decode(hex('00811f00')).names).toEqual(['a']));
});

describe('truncated input', () => {
  const blocks = [
    '828684410f7777772e6578616d706c652e636f6d',
    '828684418cf1e3c2e5f23a6ba0ab90f4ff',
    '488264025885aec3771a4b6196d07abe941054d444a8200595040b8166e082a62d1bff6e919d29ad171863c78f0b97c8e9ae82ae43d3',
    '100870617373776f726406736563726574',
    `${update(4096)}ff80808001`,
  ];

  it('is an error wherever a representation is cut', () => {
    for (const full of blocks) {
      const bytes = hex(full);
      let complete: string[] = [];
      try {
        complete = new HpackDecoder().decode(bytes).names;
      } catch (err) {
        expect(err).toBeInstanceOf(HpackError); // the last block ends in a bad index
      }
      let errors = 0;
      for (let cut = 1; cut < bytes.length; cut++) {
        let names: string[] | undefined;
        try {
          names = new HpackDecoder().decode(bytes.subarray(0, cut)).names;
        } catch (err) {
          expect(err).toBeInstanceOf(HpackError);
          errors++;
        }
        // A cut between representations decodes the fields before it.
        if (names !== undefined) expect(complete.slice(0, names.length)).toEqual(names);
      }
      expect(errors).toBeGreaterThan(bytes.length / 2);
    }
  });

  it('names the cut', () => {
    fails(new HpackDecoder(), '41', /truncated/); // literal: value missing
    fails(new HpackDecoder(), '410f7777', /truncated string/);
    fails(new HpackDecoder(), '40', /truncated/); // name missing
    fails(new HpackDecoder(), '7f', /truncated integer/);
    fails(new HpackDecoder(), 'ff80', /truncated integer/);
    fails(new HpackDecoder(), '3f', /truncated integer/);
    fails(new HpackDecoder(), '418c', /truncated string/); // Huffman string cut
  });
});

describe('limits', () => {
  it('refuses a string over maxStringLength before reading it', () => {
    const d = new HpackDecoder({ maxStringLength: 10 });
    expect(d.decode(hex('000a616161616161616161610a62626262626262626262')).names).toEqual([
      'aaaaaaaaaa',
    ]);
    fails(
      new HpackDecoder({ maxStringLength: 10 }),
      '000b6161616161616161616161',
      /maxStringLength/,
    );
  });

  it('refuses a huge declared length at once, without allocating it', () => {
    // Name length 2^31 − 1 in a 7-octet block.
    const block = '007f80ffffff07';
    const t0 = performance.now();
    fails(new HpackDecoder(), block, /exceeds maxStringLength 65536/);
    fails(new HpackDecoder({ maxStringLength: 2 ** 31 - 1 }), block, /truncated string/);
    // Huffman-coded: the output buffer is sized from the declared length only after the
    // length was checked against the input.
    fails(new HpackDecoder({ maxStringLength: 2 ** 31 - 1 }), '00ff80ffffff07', /truncated string/);
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  it('marks a block over maxHeaderListSize oversized but keeps the table in step', () => {
    const e = new HpackEncoder();
    const d = new HpackDecoder({ maxHeaderListSize: 200 });
    const names = ['x-one', 'x-two', 'x-three', 'x-four', 'x-five'];
    const values = ['a'.repeat(40), 'b'.repeat(40), 'c'.repeat(40), 'd'.repeat(40), 'e'.repeat(40)];
    const got = d.decode(e.encode(names, values));
    expect(got.oversized).toBe(true);
    // 77 + 77 = 154 fits; 154 + 79 = 233 does not: the rest is dropped.
    expect(got.names).toEqual(['x-one', 'x-two']);
    expect(got.size).toBe(
      names.reduce((n, name, i) => n + name.length + values[i]!.length + 32, 0),
    );
    expect(d.tableLength).toBe(5);
    expect(d.tableSize).toBe(e.tableSize);
    // The next block refers to entries added by dropped fields: they decode.
    d.maxHeaderListSize = 65536;
    const next = d.decode(e.encode(['x-five', 'x-three'], [values[4]!, values[2]!]));
    expect(next.oversized).toBe(false);
    expect(next.names).toEqual(['x-five', 'x-three']);
    expect(next.values).toEqual([values[4], values[2]]);
  });

  it('marks a block over maxFields oversized but keeps the table in step', () => {
    const e = new HpackEncoder();
    const d = new HpackDecoder({ maxFields: 3 });
    const names = ['a1', 'a2', 'a3', 'a4', 'a5'];
    const values = ['1', '2', '3', '4', '5'];
    const got = d.decode(e.encode(names, values));
    expect(got.oversized).toBe(true);
    expect(got.names).toEqual(['a1', 'a2', 'a3']);
    expect(d.tableLength).toBe(5);
    const next = d.decode(e.encode(['a5', 'a4'], ['5', '4']));
    expect(next.names).toEqual(['a5', 'a4']);
    expect(next.oversized).toBe(false);
  });

  it('validates its options', () => {
    expect(() => new HpackDecoder({ maxTableSize: -1 })).toThrow(/maxTableSize/);
    expect(() => new HpackDecoder({ maxFields: 1.5 })).toThrow(/maxFields/);
    expect(() => new HpackDecoder().setMaxTableSize(Number.NaN)).toThrow(/setMaxTableSize/);
  });
});

describe('fuzz', () => {
  it('2000 random and mutated blocks either decode or throw HpackError', () => {
    const rand = prng(0x5eed);
    const seeds = loadStories('nghttp2')
      .slice(0, 8)
      .flatMap((s) => s.cases.slice(0, 20).map((c) => hex(c.wire!)));
    let decoded = 0;
    let failed = 0;
    for (let n = 0; n < 2000; n++) {
      let block: Uint8Array;
      if (n % 4 === 0) {
        block = new Uint8Array(Math.floor(rand() * 64));
        for (let i = 0; i < block.length; i++) block[i] = Math.floor(rand() * 256);
      } else {
        block = Uint8Array.from(seeds[Math.floor(rand() * seeds.length)]!);
        const edits = 1 + Math.floor(rand() * 4);
        for (let k = 0; k < edits && block.length > 0; k++) {
          const at = Math.floor(rand() * block.length);
          const op = rand();
          if (op < 0.5) block[at] = Math.floor(rand() * 256);
          else if (op < 0.75) block[at]! ^= 1 << Math.floor(rand() * 8);
          else block = block.subarray(0, at);
        }
      }
      const d = new HpackDecoder({ maxTableSize: 4096, maxStringLength: 1 << 20 });
      try {
        const got = d.decode(block);
        expect(got.names.length).toBe(got.values.length);
        decoded++;
      } catch (err) {
        if (!(err instanceof HpackError)) throw err;
        failed++;
      }
    }
    expect(decoded + failed).toBe(2000);
    expect(decoded).toBeGreaterThan(50);
    expect(failed).toBeGreaterThan(50);
  });
});
