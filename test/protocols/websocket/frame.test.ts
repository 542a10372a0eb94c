import { describe, expect, it } from 'vitest';
import type { WebSocketError } from '../../../src/protocols/websocket/errors.js';
import {
  encodeFrame,
  encodeFrameHeader,
  FrameParser,
} from '../../../src/protocols/websocket/frame.js';
import type { FrameSink } from '../../../src/protocols/websocket/frame.js';
import { applyMask, maskInto } from '../../../src/protocols/websocket/mask.js';
import { concatBytes, frame, hex, RFC_KEY, toHex } from './helpers.js';

interface Parsed {
  fin: boolean;
  rsv: number;
  opcode: number;
  masked: boolean;
  length: number;
  payload: string;
}

/** Parse `input` in the given pieces; returns frames and the error kind, if any. */
function parse(input: Uint8Array, cuts: number[] = []) {
  const frames: Parsed[] = [];
  let cur: { h: Omit<Parsed, 'payload'>; parts: Uint8Array[] } | null = null;
  let error: string | null = null;
  const sink: FrameSink = {
    onHeader(fin, rsv, opcode, masked, length) {
      cur = { h: { fin, rsv, opcode, masked, length }, parts: [] };
      return true;
    },
    onPayload(chunk) {
      expect(chunk.length).toBeGreaterThan(0);
      cur!.parts.push(chunk.slice());
      return true;
    },
    onFrameEnd() {
      frames.push({ ...cur!.h, payload: toHex(concatBytes(cur!.parts)) });
      cur = null;
      return true;
    },
    onError(e: WebSocketError) {
      error = e.kind;
    },
  };
  const p = new FrameParser(sink);
  const copy = input.slice();
  let prev = 0;
  for (const cut of [...cuts, copy.length]) {
    p.execute(copy.subarray(prev, cut));
    prev = cut;
  }
  return { frames, error, idle: p.idle };
}

function parseAllSplits(input: Uint8Array) {
  const whole = parse(input);
  const step = input.length > 4096 ? 97 : 1;
  for (let i = 1; i < input.length; i += step)
    expect(parse(input, [i]), `split ${i}`).toEqual(whole);
  if (input.length < 70_000) {
    expect(parse(input, [...Array(input.length).keys()].slice(1)), 'bytewise').toEqual(whole);
  }
  return whole;
}

const HELLO = toHex(Buffer.from('Hello'));
const bytes256 = Uint8Array.from({ length: 256 }, (_, i) => i);
const bytes64k = Uint8Array.from({ length: 65536 }, (_, i) => (i * 7) & 0xff);

describe('RFC 6455 §5.7 examples', () => {
  const cases: [string, string, Partial<Parsed>[]][] = [
    ['unmasked text', '810548656c6c6f', [{ fin: true, opcode: 1, masked: false, payload: HELLO }]],
    [
      'masked text',
      '818537fa213d7f9f4d5158',
      [{ fin: true, opcode: 1, masked: true, payload: HELLO }],
    ],
    [
      'fragmented unmasked text',
      '010348656c 80026c6f',
      [
        { fin: false, opcode: 1, payload: '48656c' },
        { fin: true, opcode: 0, payload: '6c6f' },
      ],
    ],
    ['unmasked ping', '890548656c6c6f', [{ fin: true, opcode: 9, masked: false, payload: HELLO }]],
    [
      'masked pong',
      '8a8537fa213d7f9f4d5158',
      [{ fin: true, opcode: 10, masked: true, payload: HELLO }],
    ],
  ];
  for (const [name, wire, expected] of cases) {
    it(`parses ${name} in every split`, () => {
      const r = parseAllSplits(hex(wire));
      expect(r.error).toBeNull();
      expect(r.idle).toBe(true);
      expect(r.frames).toHaveLength(expected.length);
      expected.forEach((e, i) => expect(r.frames[i]).toMatchObject(e));
    });
  }

  it('encodes the examples byte for byte', () => {
    const h = new Uint8Array(Buffer.from('Hello'));
    expect(toHex(concatBytes(encodeFrame(true, 0, 1, h, null)))).toBe('810548656c6c6f');
    expect(toHex(concatBytes(encodeFrame(true, 0, 1, h, RFC_KEY)))).toBe('818537fa213d7f9f4d5158');
    expect(toHex(concatBytes(encodeFrame(false, 0, 1, h.subarray(0, 3), null)))).toBe('010348656c');
    expect(toHex(concatBytes(encodeFrame(true, 0, 0, h.subarray(3), null)))).toBe('80026c6f');
    expect(toHex(concatBytes(encodeFrame(true, 0, 9, h, null)))).toBe('890548656c6c6f');
    expect(toHex(concatBytes(encodeFrame(true, 0, 10, h, RFC_KEY)))).toBe('8a8537fa213d7f9f4d5158');
    expect(toHex(h)).toBe(HELLO); // the caller's payload is not masked in place
    expect(toHex(encodeFrameHeader(true, 0, 2, 256, null))).toBe('827e0100');
    expect(toHex(encodeFrameHeader(true, 0, 2, 65536, null))).toBe('827f0000000000010000');
  });

  it('server encoding does not copy the payload', () => {
    const parts = encodeFrame(true, 0, 2, bytes256, null);
    expect(parts[1]).toBe(bytes256);
  });

  it('parses 256-byte and 64 KiB binary frames, masked and unmasked', () => {
    for (const payload of [bytes256, bytes64k]) {
      for (const mask of [null, RFC_KEY]) {
        const wire = concatBytes(encodeFrame(true, 0, 2, payload, mask));
        expect(toHex(wire.subarray(0, 2))).toBe(
          payload.length === 256 ? (mask ? '82fe' : '827e') : mask ? '82ff' : '827f',
        );
        const r = parseAllSplits(wire);
        expect(r.frames).toEqual([
          {
            fin: true,
            rsv: 0,
            opcode: 2,
            masked: !!mask,
            length: payload.length,
            payload: toHex(payload),
          },
        ]);
      }
    }
  });
});

describe('length encodings', () => {
  for (const n of [0, 1, 125, 126, 127, 128, 65535, 65536, 65537]) {
    it(`round-trips ${n} bytes with the minimal encoding`, () => {
      const payload = Uint8Array.from({ length: n }, (_, i) => (i * 13) & 0xff);
      const ours = concatBytes(encodeFrame(true, 0, 2, payload, null));
      expect(toHex(ours)).toBe(toHex(frame({ opcode: 2, payload })));
      const r = parse(ours, [1, 3]);
      expect(r.frames[0]!.length).toBe(n);
      expect(r.frames[0]!.payload).toBe(toHex(payload));
    });
  }

  it('rejects non-minimal 16- and 64-bit lengths (§5.2 MUST)', () => {
    expect(parse(frame({ opcode: 2, payload: new Uint8Array(5), lengthBits: 16 })).error).toBe(
      'NON_MINIMAL_LENGTH',
    );
    expect(parse(frame({ opcode: 2, payload: new Uint8Array(300), lengthBits: 64 })).error).toBe(
      'NON_MINIMAL_LENGTH',
    );
  });

  it('rejects a 64-bit length with the top bit set', () => {
    const r = parse(hex('827f8000000000000001'), [3]);
    expect(r.error).toBe('LENGTH_TOP_BIT');
    expect(r.frames).toEqual([]);
  });

  it('reports huge lengths to the sink before any payload', () => {
    let seen = -1;
    const p = new FrameParser({
      onHeader: (_f, _r, _o, _m, len) => ((seen = len), false),
      onPayload: () => true,
      onFrameEnd: () => true,
      onError: () => undefined,
    });
    p.execute(hex('827f7fffffffffffffff'));
    expect(seen).toBeGreaterThan(2 ** 62);
    expect(p.stopped).toBe(true);
  });

  it('passes RSV bits and opcodes through', () => {
    const r = parse(concatBytes([frame({ opcode: 5, rsv: 7 }), frame({ opcode: 0xf, rsv: 2 })]));
    expect(r.frames.map((f) => [f.rsv, f.opcode])).toEqual([
      [0x70, 5],
      [0x20, 0xf],
    ]);
  });
});

describe('mask', () => {
  const naive = (b: Uint8Array, m: Uint8Array, off: number) =>
    b.map((x, i) => x ^ m[(off + i) % 4]!);
  it('matches a byte loop at every length, offset and alignment', () => {
    const mask = hex('a1b2c3d4');
    const backing = new Uint8Array(300);
    for (let i = 0; i < backing.length; i++) backing[i] = (i * 37 + 11) & 0xff;
    for (let align = 0; align < 4; align++) {
      for (const n of [0, 1, 3, 4, 5, 31, 32, 33, 64, 127, 250]) {
        for (let off = 0; off < 4; off++) {
          const buf = backing.slice().subarray(align, align + n);
          const want = naive(buf, mask, off);
          applyMask(buf, mask, off);
          expect(toHex(buf)).toBe(toHex(want));
        }
      }
    }
  });

  it('maskInto leaves the source untouched', () => {
    const src = Uint8Array.from({ length: 100 }, (_, i) => i);
    const dst = new Uint8Array(103);
    maskInto(src, dst, 3, RFC_KEY);
    expect(toHex(dst.subarray(3))).toBe(toHex(naive(src, RFC_KEY, 0)));
    expect(src[5]).toBe(5);
  });
});
