/**
 * QPACK encoder → decoder: round trips through the dynamic table (RFC 9204 §2), a
 * simulated network that delivers field sections, encoder-stream and decoder-stream bytes
 * in any order and split anywhere (blocking §2.1.2/§2.2.1, eviction safety §2.1.1,
 * Required Insert Count wrap-around §4.5.1.1, cancellation §4.4.2), and fuzzing: random
 * or mutated input only ever raises QpackError with the entry point's wire code (§6).
 */
import { describe, expect, it } from 'vitest';
import {
  QpackDecoder,
  QpackEncoder,
  QpackError,
  QpackErrorCode,
} from '../../../../src/protocols/http3/qpack/index.js';
import type { FieldLine } from '../../../../src/protocols/http3/qpack/index.js';
import { mulberry32 } from '../../../helpers/prng.js';

type Rand = () => number;
const pick = <T>(rand: Rand, xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;

/**
 * One section over an in-order network: encode, deliver the encoder-stream bytes, decode
 * (checking the fields), deliver the decoder's answer. Returns the section and inserts.
 */
function exchange(
  e: QpackEncoder,
  d: QpackDecoder,
  streamId: number,
  fields: FieldLine[],
): { block: Uint8Array; ins: Uint8Array | undefined } {
  const block = e.encode(streamId, fields);
  const ins = e.takeEncoderStreamBytes();
  if (ins !== undefined) d.onEncoderStream(ins);
  expect(d.decode(streamId, block)).toEqual(fields);
  const back = d.takeDecoderStreamBytes();
  if (back !== undefined) e.onDecoderStream(back);
  return { block, ins };
}

/** Request- and response-like header sets with realistic repetition. */
function headerSet(rand: Rand, i: number, large = true): FieldLine[] {
  const fields: FieldLine[] = [
    [':method', pick(rand, ['GET', 'GET', 'POST', 'PUT', 'PATCH'])],
    [':scheme', 'https'],
    [':authority', pick(rand, ['example.com', 'api.example.com', 'cdn.example.net'])],
    [':path', pick(rand, ['/', '/index.html', '/api/items', `/item/${i}`, `/q?page=${i % 7}`])],
    ['user-agent', pick(rand, ['ghostnet/1.0', 'curl/8.5.0', 'Mozilla/5.0 (X11; Linux x86_64)'])],
    ['accept', pick(rand, ['*/*', 'application/json', 'text/html,application/xhtml+xml'])],
  ];
  if (rand() < 0.5) fields.push(['x-request-id', `req-${Math.floor(rand() * 1e9)}`]);
  if (rand() < 0.5) fields.push(['x-tenant', `tenant-${Math.floor(rand() * 6)}`]);
  if (rand() < 0.3)
    fields.push(['cookie', `session=${Math.floor(rand() * 4)}; theme=dark; lang=en-US`]);
  if (rand() < 0.2) fields.push(['authorization', `Bearer ${Math.floor(rand() * 3)}`]);
  if (large && rand() < 0.1) fields.push(['x-large', 'L'.repeat(200 + Math.floor(rand() * 3000))]);
  if (rand() < 0.2) fields.push(['x-empty', '']);
  if (rand() < 0.2) fields.push(['x-latin1', 'caf\u00e9 \u00ff']);
  if (rand() < 0.2) fields.push([':status', pick(rand, ['200', '204', '404', '418'])]);
  return fields;
}

const concat = (a: Uint8Array, b: Uint8Array | undefined): Uint8Array => {
  if (b === undefined || b.length === 0) return a;
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
};

describe('round trips (RFC 9204 §2)', () => {
  it('500 header sets in order through a 4096-byte table decode exactly and compress repeats', () => {
    // (No multi-kilobyte values here: they'd dominate both byte counts.)
    const rand = mulberry32(1);
    const e = new QpackEncoder({ maxBlockedStreams: 16 });
    const d = new QpackDecoder();
    e.setPeerSettings(4096, 16);
    let compressed = 0;
    let staticOnly = 0;
    for (let i = 0; i < 500; i++) {
      const fields = headerSet(rand, i, false);
      const { block, ins } = exchange(e, d, 4 * i, fields);
      compressed += block.length + (ins?.length ?? 0);
      staticOnly += new QpackEncoder().encode(0, fields).length;
    }
    expect(e.insertCount).toBeGreaterThan(20);
    expect(e.blockingStreams).toBe(0);
    expect(e.knownReceivedCount).toBe(e.insertCount);
    expect(compressed).toBeLessThan(staticOnly * 0.6);
  });

  it('a repeated header set becomes one octet per field once acknowledged', () => {
    const e = new QpackEncoder();
    const d = new QpackDecoder();
    e.setPeerSettings(4096, 0);
    const fields: FieldLine[] = [
      [':authority', 'example.com'],
      ['user-agent', 'ghostnet/1.0'],
      ['x-tenant', 'acme'],
    ];
    for (let i = 0; i < 3; i++) {
      const { block } = exchange(e, d, 4 * i, fields);
      if (i > 0) expect(block.length).toBe(2 + fields.length);
    }
  });
});

interface SimOptions {
  seed: number;
  capacity: number;
  peerBlocked: number;
  ownBlocked: number;
  sections: number;
  cancelRate: number;
  huffman: 'auto' | 'always' | 'never';
  fields?: (rand: Rand, i: number) => FieldLine[];
}

/** Few fields, from a pool much larger than a small table: entries come and go. */
function churnSet(rand: Rand): FieldLine[] {
  const fields: FieldLine[] = [];
  for (let n = 1 + Math.floor(rand() * 3); n > 0; n--) {
    fields.push([`x-k${Math.floor(rand() * 4)}`, `v${Math.floor(rand() * 60)}`]);
  }
  return fields;
}

/**
 * One connection direction over a network that reorders everything it can: each field
 * section is delivered whenever (sections of one stream in order), the encoder and decoder
 * streams are delivered in order but in random pieces at random times.
 */
function simulate(o: SimOptions): { maxBlocked: number; blockedEver: number; inserts: number } {
  const rand = mulberry32(o.seed);
  const e = new QpackEncoder({ huffman: o.huffman, maxBlockedStreams: o.ownBlocked });
  const d = new QpackDecoder({ maxTableCapacity: o.capacity, maxBlockedStreams: o.peerBlocked });
  e.setPeerSettings(o.capacity, o.peerBlocked);
  let encoderStream: Uint8Array = new Uint8Array(0);
  let decoderStream: Uint8Array = new Uint8Array(0);
  /** Per stream: sections not delivered yet, in order. */
  const inFlight = new Map<number, { block: Uint8Array; fields: FieldLine[] }[]>();
  /** Per stream: the fields of the section the decoder holds (blocked). */
  const held = new Map<number, FieldLine[]>();
  let nextStream = 0;
  let encoded = 0;
  let maxBlocked = 0;
  let blockedEver = 0;

  const takeChunk = (buf: Uint8Array): [Uint8Array, Uint8Array] => {
    const n = 1 + Math.floor(rand() * Math.min(buf.length, rand() < 0.3 ? 3 : 200));
    return [buf.subarray(0, n), buf.subarray(n)];
  };
  const check = (): void => {
    decoderStream = concat(decoderStream, d.takeDecoderStreamBytes());
    expect(e.blockingStreams).toBeLessThanOrEqual(o.peerBlocked);
    expect(d.blockedStreams).toBeLessThanOrEqual(o.peerBlocked);
    maxBlocked = Math.max(maxBlocked, d.blockedStreams);
  };
  const deliverEncoderStream = (all: boolean): void => {
    if (encoderStream.length === 0) return;
    let chunk: Uint8Array;
    if (all) [chunk, encoderStream] = [encoderStream, new Uint8Array(0)];
    else [chunk, encoderStream] = takeChunk(encoderStream);
    for (const id of d.onEncoderStream(chunk)) {
      const fields = held.get(id)!;
      held.delete(id);
      expect(d.resume(id)).toEqual(fields);
    }
  };
  const deliverSection = (id: number): void => {
    const list = inFlight.get(id)!;
    const { block, fields } = list.shift()!;
    if (list.length === 0) inFlight.delete(id);
    const r = d.decode(id, block);
    if (r === 'blocked') {
      held.set(id, fields);
      blockedEver++;
    } else {
      expect(r).toEqual(fields);
    }
  };

  while (encoded < o.sections || inFlight.size > 0 || encoderStream.length > 0) {
    const action = rand();
    if (action < 0.2 && encoded < o.sections) {
      // A new request stream, sometimes with a trailer section later on the same stream.
      const id = nextStream;
      nextStream += 4;
      const list: { block: Uint8Array; fields: FieldLine[] }[] = [];
      for (let k = rand() < 0.15 ? 2 : 1; k > 0; k--) {
        const fields = (o.fields ?? headerSet)(rand, encoded++);
        list.push({ block: e.encode(id, fields), fields });
      }
      inFlight.set(id, list);
      encoderStream = concat(encoderStream, e.takeEncoderStreamBytes());
    } else if (action < 0.4) {
      deliverEncoderStream(false);
    } else if (action < 0.75 && inFlight.size > 0) {
      const ids = [...inFlight.keys()].filter((id) => !held.has(id));
      if (ids.length > 0) deliverSection(pick(rand, ids));
    } else if (action < 0.9 && decoderStream.length > 0) {
      let chunk: Uint8Array;
      [chunk, decoderStream] = takeChunk(decoderStream);
      e.onDecoderStream(chunk);
    } else if (action < 0.9 + o.cancelRate && (inFlight.size > 0 || held.size > 0)) {
      // A reset stream: its remaining sections are never decoded.
      const id = pick(rand, [...inFlight.keys(), ...held.keys()]);
      inFlight.delete(id);
      held.delete(id);
      d.cancelStream(id);
    } else if (encoded >= o.sections) {
      deliverEncoderStream(true);
    }
    check();
  }
  // Drain: everything reaches its destination.
  deliverEncoderStream(true);
  check();
  e.onDecoderStream(decoderStream);
  expect(held.size).toBe(0);
  expect(d.blockedStreams).toBe(0);
  expect(e.blockingStreams).toBe(0);
  expect(e.knownReceivedCount).toBe(e.insertCount);
  expect(d.insertCount).toBe(e.insertCount);
  return { maxBlocked, blockedEver, inserts: e.insertCount };
}

describe('out-of-order delivery (RFC 9204 §2.1.2, §2.2.1)', () => {
  it('sections that arrive before their inserts block, then decode when the inserts arrive', () => {
    for (let seed = 1; seed <= 12; seed++) {
      const r = simulate({
        seed,
        capacity: 4096,
        peerBlocked: 8,
        ownBlocked: 100,
        sections: 300,
        cancelRate: 0,
        huffman: pick(mulberry32(seed), ['auto', 'always', 'never'] as const),
      });
      expect(r.blockedEver).toBeGreaterThan(0);
      expect(r.maxBlocked).toBeLessThanOrEqual(8);
      expect(r.inserts).toBeGreaterThan(20);
    }
  });

  it('never blocks more streams than the peer allows, down to 1 and 0', () => {
    for (const peerBlocked of [0, 1, 2]) {
      for (let seed = 1; seed <= 6; seed++) {
        const r = simulate({
          seed: 100 * peerBlocked + seed,
          capacity: 1024,
          peerBlocked,
          ownBlocked: 100,
          sections: 200,
          cancelRate: 0,
          huffman: 'auto',
        });
        expect(r.maxBlocked).toBeLessThanOrEqual(peerBlocked);
        if (peerBlocked === 0) expect(r.blockedEver).toBe(0);
      }
    }
  });

  it('a small table wraps the Required Insert Count many times while sections arrive late (§4.5.1.1, §2.1.1)', () => {
    for (let seed = 1; seed <= 8; seed++) {
      const r = simulate({
        seed: 1000 + seed,
        capacity: 256, // MaxEntries 8, FullRange 16
        peerBlocked: 4,
        ownBlocked: 4,
        sections: 400,
        cancelRate: 0,
        huffman: 'auto',
        fields: churnSet,
      });
      expect(r.inserts).toBeGreaterThan(64);
      expect(r.blockedEver).toBeGreaterThan(0);
    }
  });

  it('streams reset at any point are cancelled and release their references (§4.4.2)', () => {
    for (let seed = 1; seed <= 8; seed++) {
      simulate({
        seed: 2000 + seed,
        capacity: 512,
        peerBlocked: 6,
        ownBlocked: 6,
        sections: 300,
        cancelRate: 0.05,
        huffman: 'auto',
      });
    }
  });

  it('the default encoder never blocks a stream, however late the inserts arrive', () => {
    for (let seed = 1; seed <= 6; seed++) {
      const r = simulate({
        seed: 3000 + seed,
        capacity: 4096,
        peerBlocked: 100,
        ownBlocked: 0,
        sections: 200,
        cancelRate: 0.02,
        huffman: 'auto',
      });
      expect(r.blockedEver).toBe(0);
    }
  });
});

describe('fuzz (RFC 9204 §6): every bad input is a QpackError with the right code', () => {
  const DEC = QpackErrorCode.QPACK_DECOMPRESSION_FAILED;
  const ENC = QpackErrorCode.QPACK_ENCODER_STREAM_ERROR;
  const DSE = QpackErrorCode.QPACK_DECODER_STREAM_ERROR;

  /** Runs `f`; anything thrown must be a QpackError with `code`. */
  function only(code: number, f: () => unknown): boolean {
    try {
      f();
      return true;
    } catch (err) {
      if (!(err instanceof QpackError)) throw err;
      expect(err.wireCode).toBe(code);
      return false;
    }
  }

  /** A decoder with a populated table and the encoder that filled it. */
  function primed(seed: number): {
    e: QpackEncoder;
    d: QpackDecoder;
    blocks: Uint8Array[];
    ins: Uint8Array;
  } {
    const rand = mulberry32(seed);
    const e = new QpackEncoder({ maxBlockedStreams: 4 });
    const d = new QpackDecoder({ maxTableCapacity: 1024, maxBlockedStreams: 4 });
    e.setPeerSettings(1024, 4);
    const blocks: Uint8Array[] = [];
    let ins: Uint8Array = new Uint8Array(0);
    for (let i = 0; i < 20; i++) {
      blocks.push(e.encode(4 * i, headerSet(rand, i)));
      const b = e.takeEncoderStreamBytes();
      if (b !== undefined) ins = concat(ins, b);
    }
    d.onEncoderStream(ins);
    return { e, d, blocks, ins };
  }

  it('random bytes: field sections, encoder stream, decoder stream', () => {
    const rand = mulberry32(99);
    for (let i = 0; i < 4000; i++) {
      const len = 1 + Math.floor(rand() * 48);
      const bytes = Uint8Array.from({ length: len }, () => Math.floor(rand() * 256));
      const cap = pick(rand, [0, 64, 256, 4096]);
      only(DEC, () =>
        new QpackDecoder({ maxTableCapacity: cap, maxBlockedStreams: 2 }).decode(i, bytes),
      );
      const d = new QpackDecoder({ maxTableCapacity: cap });
      // A capacity first, so inserts get parsed past their first octet.
      only(ENC, () => {
        d.onEncoderStream(Uint8Array.of(0x3f, 0xe1, 0x1f).subarray(0, cap === 4096 ? 3 : 0));
        for (let p = 0; p < bytes.length;) {
          const n = 1 + Math.floor(rand() * 8);
          d.onEncoderStream(bytes.subarray(p, p + n));
          p += n;
        }
      });
      only(DSE, () => new QpackEncoder().onDecoderStream(bytes));
    }
  });

  it('random bytes against populated tables, and random decoder-stream bytes against an encoder with outstanding sections', () => {
    const rand = mulberry32(7);
    const { e, d } = primed(7);
    let okSections = 0;
    for (let i = 0; i < 3000; i++) {
      const len = 2 + Math.floor(rand() * 40);
      const bytes = Uint8Array.from({ length: len }, () => Math.floor(rand() * 256));
      // Make prefixes plausible half the time: a small encoded RIC and Base.
      if (rand() < 0.5) {
        bytes[0] = Math.floor(rand() * 20);
        bytes[1] = Math.floor(rand() * 4) | (rand() < 0.5 ? 0x80 : 0);
      }
      if (only(DEC, () => d.decode(1_000_000 + 4 * i, bytes))) okSections++;
      d.cancelStream(1_000_000 + 4 * i);
    }
    expect(okSections).toBeGreaterThan(0);
    for (let i = 0; i < 2000; i++) {
      const enc = new QpackEncoder({ maxBlockedStreams: 4 });
      enc.setPeerSettings(1024, 4);
      for (let k = 0; k < 5; k++) enc.encode(4 * k, [[`x-${k}`, 'v']]);
      const bytes = Uint8Array.from({ length: 1 + Math.floor(rand() * 12) }, () =>
        pick(rand, [
          0x80,
          0x81,
          0x84,
          0x88,
          0x40,
          0x44,
          0x01,
          0x02,
          0x05,
          0x3f,
          0xff,
          Math.floor(rand() * 256),
        ]),
      );
      only(DSE, () => enc.onDecoderStream(bytes));
    }
    expect(e.insertCount).toBeGreaterThan(0);
  });

  it('mutated valid sections and instructions (bit flips, truncation, insertion)', () => {
    const rand = mulberry32(2024);
    const { blocks, ins } = primed(2024);
    const mutate = (b: Uint8Array): Uint8Array => {
      const out = Array.from(b);
      const n = 1 + Math.floor(rand() * 3);
      for (let k = 0; k < n; k++) {
        const r = rand();
        const at = Math.floor(rand() * Math.max(1, out.length));
        if (r < 0.5 && out.length > 0) out[at] = out[at]! ^ (1 << Math.floor(rand() * 8));
        else if (r < 0.7) out.splice(at, 1);
        else if (r < 0.85) out.splice(at, 0, Math.floor(rand() * 256));
        else out.length = Math.floor(rand() * out.length);
      }
      return Uint8Array.from(out);
    };
    for (let i = 0; i < 1500; i++) {
      // Encoder stream: a fresh decoder replays a mutated copy, in random pieces.
      const d = new QpackDecoder({ maxTableCapacity: 1024, maxBlockedStreams: 4 });
      const bad = mutate(ins);
      const ok = only(ENC, () => {
        for (let p = 0; p < bad.length;) {
          const n = 1 + Math.floor(rand() * 64);
          d.onEncoderStream(bad.subarray(p, p + n));
          p += n;
        }
      });
      // Field sections against the intact table.
      const good = new QpackDecoder({ maxTableCapacity: 1024, maxBlockedStreams: 4 });
      good.onEncoderStream(ins);
      only(DEC, () => good.decode(4 * i, mutate(pick(rand, blocks))));
      if (ok) only(DEC, () => d.decode(4 * i, pick(rand, blocks)));
    }
  });

  it('a long run of junk on the encoder stream is refused or bounded, never buffered without limit', () => {
    const rand = mulberry32(5);
    for (let i = 0; i < 200; i++) {
      const d = new QpackDecoder({ maxTableCapacity: 256 });
      let threw = false;
      d.onEncoderStream(Uint8Array.of(0x3f, 0xe1, 0x01)); // capacity 31 + 225 = 256
      for (let k = 0; k < 2000 && !threw; k++) {
        const chunk = Uint8Array.from({ length: 1 + Math.floor(rand() * 16) }, () =>
          Math.floor(rand() * 256),
        );
        threw = !only(ENC, () => d.onEncoderStream(chunk));
      }
      // 32 000 random octets can't all be valid instructions for a 256-octet table.
      expect(threw).toBe(true);
    }
  });
});
