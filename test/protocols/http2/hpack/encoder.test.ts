/** HpackEncoder: indexing policy, table size signalling, and seeded round trips. */
import { describe, expect, it } from 'vitest';
import { HpackDecoder, HpackEncoder } from '../../../../src/protocols/http2/hpack/index.js';
import type { HpackHeaderBlock } from '../../../../src/protocols/http2/hpack/index.js';
import { prng, toHex } from './vectors.js';

function pair(options: { maxTableSize?: number } = {}) {
  const encoder = new HpackEncoder(options);
  const decoder = new HpackDecoder();
  const send = (names: string[], values: string[], sensitive?: ReadonlySet<string>) => {
    const block = encoder.encode(names, values, sensitive);
    const got = decoder.decode(block);
    expect(got.names).toEqual(names);
    expect(got.values).toEqual(values);
    expect(decoder.tableSize).toBe(encoder.tableSize);
    return { block, got };
  };
  return { encoder, decoder, send };
}

describe('indexing policy', () => {
  it('sends full static matches as one indexed octet', () => {
    const { send } = pair();
    const { block } = send(
      [':method', ':path', ':status', 'accept-encoding'],
      ['GET', '/', '200', 'gzip, deflate'],
    );
    expect(toHex(block)).toBe('82848890');
  });

  it('indexes repeatable fields, then sends them as one octet', () => {
    const { encoder, send } = pair();
    const names = [':authority', 'user-agent', 'x-custom'];
    const values = ['example.com', 'ghostnet/1.0', 'abc'];
    const first = send(names, values).block;
    expect(encoder.tableSize).toBe(
      names.reduce((n, s, i) => n + s.length + values[i]!.length + 32, 0),
    );
    const second = send(names, values).block;
    expect(toHex(second)).toBe('c0bfbe'); // 64, 63, 62: newest first
    expect(first.length).toBeGreaterThan(second.length);
  });

  it('reuses name indices: static first, else the newest dynamic entry', () => {
    const { send } = pair();
    send(['x-name'], ['one']);
    const { block } = send(['x-name', 'user-agent'], ['two', 'agent']);
    expect(block[0]).toBe(0x40 | 62); // literal with indexing, name = dynamic 62
    expect(block).toContain(0x40 | 58); // user-agent: static 58
  });

  it('sends authorization, proxy-authorization and short cookies never indexed (§6.2.3)', () => {
    const { encoder, send } = pair();
    const { got, block } = send(
      ['authorization', 'proxy-authorization', 'cookie', 'cookie'],
      ['Bearer abc', 'Basic xyz', 'sid=1', 'session=0123456789abcdefghij'],
    );
    expect(got.neverIndexed).toEqual([0, 1, 2]);
    expect(block[0]).toBe(0x1f); // never indexed, name index 23 (15 + 8)
    expect(block[1]).toBe(0x08);
    // Only the long cookie entered the table.
    expect(encoder.tableSize).toBe(6 + 28 + 32);
  });

  it('does not index fields that rarely repeat, nor oversized ones', () => {
    const { encoder, send } = pair({ maxTableSize: 256 });
    send(
      [
        ':path',
        'content-length',
        'etag',
        'if-modified-since',
        'if-none-match',
        'location',
        'age',
        'set-cookie',
      ],
      ['/search?q=1', '42', '"abc"', 'x', 'y', '/z', '1', 'a=b'],
    );
    expect(encoder.tableSize).toBe(0);
    send(['x-big'], ['v'.repeat(200)]); // 5 + 200 + 32 > 3/4 × 256
    expect(encoder.tableSize).toBe(0);
    // `date` repeats across responses sent in the same second: indexed.
    send(['date'], ['Mon, 21 Oct 2013 20:13:21 GMT']);
    expect(encoder.tableSize).toBe(4 + 29 + 32);
  });

  it('indexes a :path without a query the second time it is sent', () => {
    const { encoder, send } = pair();
    const first = send([':path'], ['/api/items']).block;
    expect(first[0]).toBe(0x04); // without indexing, name index 4
    expect(encoder.tableSize).toBe(0);
    const second = send([':path'], ['/api/items']).block;
    expect(second[0]).toBe(0x44); // with indexing
    expect(toHex(send([':path'], ['/api/items']).block)).toBe('be');
    send([':path'], ['/api/items?page=2']);
    send([':path'], ['/api/items?page=2']);
    expect(encoder.tableSize).toBe(5 + 10 + 32);
  });

  it('keeps a name indexable when inserting evicts the last entry with that name', () => {
    // A 70-octet table holds one "x-n: …" entry: inserting the next value of the same name
    // evicts the previous one first.
    const { encoder, send } = pair({ maxTableSize: 70 });
    for (let i = 0; i < 5; i++) {
      send(['x-n'], [`value-${i}`]);
      expect(encoder.tableSize).toBe(3 + 7 + 32);
      expect(toHex(send(['x-n'], [`value-${i}`]).block)).toBe('be');
    }
    send(['x-m'], ['1']);
    expect(toHex(send(['x-m', 'x-n'], ['1', 'value-4']).block.subarray(0, 1))).toBe('be');
  });

  it('uses Huffman coding only when shorter, unless told', () => {
    const auto = new HpackEncoder().encode(['x-a'], ['\x00\x01\x02']);
    expect(auto[auto.length - 4]).toBe(3); // raw: length 3 without the H bit
    const always = new HpackEncoder({ huffman: 'always' }).encode(['x-a'], ['\x00\x01\x02']);
    expect(new HpackDecoder().decode(always).values).toEqual(['\x00\x01\x02']);
    const never = new HpackEncoder({ huffman: 'never' }).encode(['x-a'], ['www.example.com']);
    expect(Buffer.from(never).includes(Buffer.from('www.example.com'))).toBe(true);
  });

  it('validates its options', () => {
    expect(() => new HpackEncoder({ maxTableSize: -1 })).toThrow(/maxTableSize/);
    // @ts-expect-error: not a policy
    expect(() => new HpackEncoder({ huffman: 'sometimes' })).toThrow(/huffman/);
  });
});

describe('never-indexed fields (§6.2.3) survive an intermediary', () => {
  it('decoded as never indexed, re-encoded as never indexed even when an entry matches', () => {
    const origin = pair();
    // The intermediary's encoder has already indexed x-secret: 1 (sent before as plain).
    const relay = pair();
    relay.send(['x-secret'], ['1']);
    expect(relay.encoder.tableSize).toBeGreaterThan(0);

    const first = origin.send(['x-secret', 'x-plain'], ['1', '2'], new Set(['x-secret']));
    expect(first.got.neverIndexed).toEqual([0]);
    expect(first.block[0]! & 0xf0).toBe(0x10);

    // The relay forwards the fields, keeping the never-indexed ones as such.
    const got: HpackHeaderBlock = first.got;
    const sensitive = new Set((got.neverIndexed ?? []).map((i) => got.names[i]!));
    const forwarded = relay.send(got.names, got.values, sensitive);
    expect(forwarded.got.neverIndexed).toEqual([0]);
    expect(forwarded.block[0]! & 0xf0).toBe(0x10); // not the indexed 0xbe
  });
});

describe('dynamic table size updates (§4.2, §6.3)', () => {
  it('signals a cap below 4096 in the first block', () => {
    const e = new HpackEncoder({ maxTableSize: 1024 });
    expect(toHex(e.encode([':method'], ['GET']))).toBe('3fe10782');
    expect(toHex(e.encode([':method'], ['GET']))).toBe('82');
  });

  it('signals nothing when the peer setting does not change the size used', () => {
    const e = new HpackEncoder();
    e.setPeerMaxTableSize(4096);
    expect(toHex(e.encode([':method'], ['GET']))).toBe('82');
    e.setPeerMaxTableSize(65536); // above our cap: still 4096
    expect(toHex(e.encode([':method'], ['GET']))).toBe('82');
  });

  it('shrinks, evicting, and grows', () => {
    const { encoder, decoder, send } = pair();
    send(['x-a', 'x-b'], ['1', '2']);
    encoder.setPeerMaxTableSize(0);
    decoder.setMaxTableSize(0);
    const { block } = send(['x-a'], ['1']);
    expect(block[0]).toBe(0x20); // update to 0
    expect(decoder.tableLength).toBe(0);
    encoder.setPeerMaxTableSize(4096);
    decoder.setMaxTableSize(4096);
    const grown = send(['x-a'], ['1']).block;
    expect(toHex(grown.subarray(0, 3))).toBe('3fe11f'); // update to 4096
    expect(decoder.tableLength).toBe(1);
  });

  it('signals the smallest value, then the final one, after a shrink and grow between blocks', () => {
    const { encoder, decoder, send } = pair();
    send(['x-a'], ['1']);
    encoder.setPeerMaxTableSize(100);
    decoder.setMaxTableSize(100);
    encoder.setPeerMaxTableSize(2000);
    decoder.setMaxTableSize(2000);
    const { block } = send(['x-b'], ['2']);
    expect(toHex(block.subarray(0, 5))).toBe('3f453fb10f'); // 100, then 2000
    expect(decoder.tableLength).toBe(2);
  });
});

describe('seeded round trips', () => {
  const POOL_NAMES = [
    ':method',
    ':path',
    ':authority',
    ':scheme',
    'user-agent',
    'accept',
    'cookie',
    'authorization',
    'content-type',
    'content-length',
    'date',
    'x-trace',
    'x-request-id',
    'set-cookie',
    'etag',
    'x-Ünicode-free',
  ];
  const SIZES = [0, 0, 32, 64, 100, 256, 1024, 4096, 4096, 8192, 65536];

  function randomValue(rand: () => number): string {
    const kind = rand();
    if (kind < 0.5)
      return ['GET', '/', '/index.html', 'example.com', 'gzip', 'text/html', '1', 'a=b'][
        Math.floor(rand() * 8)
      ]!;
    let s = '';
    const len = kind < 0.95 ? Math.floor(rand() * 40) : Math.floor(rand() * 3000);
    for (let i = 0; i < len; i++) {
      s += String.fromCharCode(
        rand() < 0.9 ? 0x20 + Math.floor(rand() * 95) : Math.floor(rand() * 256),
      );
    }
    return s;
  }

  for (const [seed, cap] of [
    [1, 4096],
    [2, 256],
    [3, 0],
    [4, 16384],
  ] as const) {
    it(`seed ${seed}: 400 blocks through one pair, cap ${cap}, with table size changes`, () => {
      const rand = prng(seed);
      const encoder = new HpackEncoder({
        maxTableSize: cap,
        huffman: seed === 3 ? 'always' : 'auto',
      });
      const decoder = new HpackDecoder({ maxHeaderListSize: 1 << 20 });
      let changes = 0;
      for (let n = 0; n < 400; n++) {
        if (rand() < 0.08) {
          // One or two SETTINGS between blocks, applied to both sides in step.
          const times = rand() < 0.3 ? 2 : 1;
          for (let t = 0; t < times; t++) {
            const size = SIZES[Math.floor(rand() * SIZES.length)]!;
            encoder.setPeerMaxTableSize(size);
            decoder.setMaxTableSize(size);
            changes++;
          }
        }
        const count = Math.floor(rand() * 20);
        const names: string[] = [];
        const values: string[] = [];
        for (let i = 0; i < count; i++) {
          names.push(
            rand() < 0.8
              ? POOL_NAMES[Math.floor(rand() * POOL_NAMES.length)]!
              : `x-${Math.floor(rand() * 50)}`,
          );
          values.push(randomValue(rand));
        }
        const sensitive = rand() < 0.2 ? new Set(['x-trace']) : undefined;
        const got = decoder.decode(encoder.encode(names, values, sensitive));
        expect(got.names).toEqual(names);
        expect(got.values).toEqual(values);
        expect(decoder.tableSize).toBe(encoder.tableSize);
        expect(decoder.tableLength).toBeGreaterThanOrEqual(0);
        const never = (got.neverIndexed ?? []).map((i) => got.names[i]);
        for (const name of never) {
          expect(['authorization', 'cookie', 'x-trace']).toContain(name);
        }
      }
      expect(changes).toBeGreaterThan(10);
    });
  }
});

describe('output blocks', () => {
  it('stay intact while later blocks, large and small, are encoded', () => {
    const { encoder, decoder } = pair();
    const kept: { block: Uint8Array; hex: string; names: string[]; values: string[] }[] = [];
    for (let i = 0; i < 300; i++) {
      const big = i % 50 === 7;
      const names = ['x-i', 'x-v'];
      const values = [String(i), big ? 'z'.repeat(40_000) : `value ${i}`];
      const block = encoder.encode(names, values);
      kept.push({ block, hex: toHex(block), names, values });
    }
    for (const k of kept) {
      expect(toHex(k.block)).toBe(k.hex);
      const got = decoder.decode(k.block);
      expect(got.values).toEqual(k.values);
    }
  });
});
