/**
 * HTTP/3 wire codecs: QUIC varints (RFC 9000 §16, Appendix A.1 examples), frames (RFC 9114
 * §7), SETTINGS rules (§7.2.4), the incremental reader's bounds, and error code names.
 */
import { describe, expect, it } from 'vitest';
import {
  FrameType,
  H3ErrorCode,
  errorCodeName,
  isReservedGrease,
} from '../../../src/protocols/http3/codes.js';
import { Http3ConnectionError } from '../../../src/protocols/http3/errors.js';
import {
  FrameReader,
  decodeGoaway,
  decodeSettings,
  encodeFrame,
  encodeFrameHeader,
  encodeGoaway,
  encodeSettings,
} from '../../../src/protocols/http3/frames.js';
import type { Frame } from '../../../src/protocols/http3/frames.js';
import { decodeVarint, encodeVarint, varintLength } from '../../../src/protocols/http3/varint.js';
import { mulberry32 } from '../../helpers/prng.js';
import { hex } from '../../helpers/hex.js';

describe('varints (RFC 9000 §16, Appendix A.1)', () => {
  it('decodes the RFC examples', () => {
    expect(decodeVarint(hex('9d7f3e7d'), 0)).toEqual({ value: 494878333, next: 4 });
    expect(decodeVarint(hex('7bbd'), 0)).toEqual({ value: 15293, next: 2 });
    expect(decodeVarint(hex('25'), 0)).toEqual({ value: 37, next: 1 });
    expect(decodeVarint(hex('4025'), 0)).toEqual({ value: 37, next: 2 }); // non-minimal is valid
    // 151288809941952652 does not fit a JavaScript number exactly: flagged, never silently wrong.
    expect(decodeVarint(hex('c2197c5eff14e88c'), 0)?.tooLarge).toBe(true);
  });

  it('encodes minimally and round-trips at every length boundary', () => {
    for (const n of [0, 63, 64, 16383, 16384, 2 ** 30 - 1, 2 ** 30, Number.MAX_SAFE_INTEGER]) {
      const b = encodeVarint(n);
      expect(b.length).toBe(varintLength(n));
      expect(decodeVarint(b, 0)).toEqual({ value: n, next: b.length });
    }
    expect(() => encodeVarint(-1)).toThrow(RangeError);
    expect(() => encodeVarint(1.5)).toThrow(RangeError);
  });

  it('reports truncation as undefined', () => {
    expect(decodeVarint(hex('9d7f3e'), 0)).toBeUndefined();
    expect(decodeVarint(new Uint8Array(0), 0)).toBeUndefined();
  });
});

function readAll(bytes: Uint8Array, split: number[], max = 65_536): Frame[] {
  const r = new FrameReader({ maxFramePayload: max });
  const out: Frame[] = [];
  let at = 0;
  for (const cut of [...split, bytes.length]) {
    r.push(bytes.subarray(at, cut));
    at = cut;
    for (let f = r.next(); f !== undefined; f = r.next()) out.push(f);
  }
  return out;
}

/** Merges DATA pieces back into whole payloads for comparison. */
function normalize(frames: Frame[]): { type: number; bytes: string }[] {
  const out: { type: number; bytes: string }[] = [];
  for (const f of frames) {
    const b = Buffer.from(f.payload ?? f.chunk!).toString('hex');
    const last = out[out.length - 1];
    if (
      f.chunk !== undefined &&
      last !== undefined &&
      last.type === FrameType.DATA &&
      (last as { open?: boolean }).open
    ) {
      last.bytes += b;
    } else {
      out.push(
        f.chunk !== undefined
          ? Object.assign({ type: f.type, bytes: b }, { open: true })
          : { type: f.type, bytes: b },
      );
    }
  }
  return out.map(({ type, bytes }) => ({ type, bytes }));
}

describe('frames (RFC 9114 §7)', () => {
  const stream = Buffer.concat([
    encodeSettings(
      new Map([
        [0x06, 16384],
        [0x01, 4096],
      ]),
    ),
    encodeFrame(FrameType.HEADERS, hex('0000d1')),
    encodeFrame(FrameType.DATA, new Uint8Array(300).fill(5)),
    encodeFrame(0x21, hex('deadbeef')), // grease: skipped
    encodeGoaway(8),
  ]);

  it('gives the same frames for every split of the input (DATA streamed, grease skipped)', () => {
    const whole = normalize(readAll(stream, []));
    expect(whole.map((f) => f.type)).toEqual([
      FrameType.SETTINGS,
      FrameType.HEADERS,
      FrameType.DATA,
      FrameType.GOAWAY,
    ]);
    for (let i = 1; i < stream.length; i++) expect(normalize(readAll(stream, [i]))).toEqual(whole);
    const bytes = Array.from({ length: stream.length - 1 }, (_, i) => i + 1);
    expect(normalize(readAll(stream, bytes))).toEqual(whole);
  });

  it('SETTINGS and GOAWAY payloads decode; a truncated GOAWAY is H3_FRAME_ERROR (§7.1)', () => {
    const frames = readAll(stream, []);
    expect(decodeSettings(frames[0]!.payload!)).toEqual(
      new Map([
        [0x06, 16384],
        [0x01, 4096],
      ]),
    );
    expect(decodeGoaway(frames.at(-1)!.payload!)).toBe(8);
    expect(() => decodeGoaway(hex('40'))).toThrow(
      expect.objectContaining({ wireCode: H3ErrorCode.H3_FRAME_ERROR }),
    );
    expect(() => decodeGoaway(hex('0801'))).toThrow(
      expect.objectContaining({ wireCode: H3ErrorCode.H3_FRAME_ERROR }),
    );
  });

  it('§7.2.4: repeated or HTTP/2 setting identifiers are H3_SETTINGS_ERROR; unknown ones are kept', () => {
    expect(() => decodeSettings(hex('0601 0602'))).toThrow(
      expect.objectContaining({ wireCode: H3ErrorCode.H3_SETTINGS_ERROR }),
    );
    for (const id of [0x00, 0x02, 0x03, 0x04, 0x05]) {
      expect(() => decodeSettings(Uint8Array.of(id, 1))).toThrow(
        expect.objectContaining({ wireCode: H3ErrorCode.H3_SETTINGS_ERROR }),
      );
    }
    expect(decodeSettings(hex('2107'))).toEqual(new Map([[0x21, 7]]));
    expect(() => decodeSettings(hex('06'))).toThrow(
      expect.objectContaining({ wireCode: H3ErrorCode.H3_FRAME_ERROR }),
    );
  });

  it('§7.2.8: reserved HTTP/2 frame types are H3_FRAME_UNEXPECTED', () => {
    for (const t of [0x02, 0x06, 0x08, 0x09]) {
      expect(() => readAll(encodeFrame(t, new Uint8Array(1)), [])).toThrow(
        expect.objectContaining({ wireCode: H3ErrorCode.H3_FRAME_UNEXPECTED }),
      );
    }
  });

  it('a non-DATA frame over maxFramePayload is refused before it is buffered (H3_EXCESSIVE_LOAD)', () => {
    const r = new FrameReader({ maxFramePayload: 1024 });
    r.push(encodeFrameHeader(FrameType.HEADERS, 1 << 30));
    expect(() => r.next()).toThrow(
      expect.objectContaining({ wireCode: H3ErrorCode.H3_EXCESSIVE_LOAD }),
    );
    // DATA and unknown frames of any size stream through without buffering.
    const big = new FrameReader({ maxFramePayload: 1024 });
    big.push(encodeFrameHeader(FrameType.DATA, 1 << 30));
    big.push(new Uint8Array(4096));
    expect(big.next()?.chunk?.length).toBe(4096);
    expect(big.idle).toBe(false);
  });

  it('fuzz: random bytes only ever raise Http3ConnectionError', () => {
    const rand = mulberry32(5);
    for (let i = 0; i < 5000; i++) {
      const bytes = Uint8Array.from({ length: 1 + Math.floor(rand() * 64) }, () =>
        Math.floor(rand() * 256),
      );
      try {
        const frames = readAll(bytes, [Math.floor(rand() * bytes.length)], 256);
        for (const f of frames) {
          if (f.type === FrameType.SETTINGS) decodeSettings(f.payload!);
          if (f.type === FrameType.GOAWAY) decodeGoaway(f.payload!);
        }
      } catch (err) {
        expect(err).toBeInstanceOf(Http3ConnectionError);
      }
    }
  });
});

describe('codes (RFC 9114 §8.1)', () => {
  it('names error codes and recognises grease values', () => {
    expect(errorCodeName(0x10c)).toBe('H3_REQUEST_CANCELLED');
    expect(errorCodeName(0x200)).toBe('QPACK_DECOMPRESSION_FAILED');
    expect(errorCodeName(0x21)).toBe('0x21');
    expect(isReservedGrease(0x21)).toBe(true);
    expect(isReservedGrease(0x21 + 0x1f * 1000)).toBe(true);
    expect(isReservedGrease(0x22)).toBe(false);
  });
});
