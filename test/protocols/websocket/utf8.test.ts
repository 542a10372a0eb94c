import { describe, expect, it } from 'vitest';
import { isValidUtf8, Utf8Validator } from '../../../src/protocols/websocket/utf8.js';
import { hex } from './helpers.js';

/** Valid sequences (Autobahn 6.x style plus boundaries of Unicode Table 3-7). */
export const VALID_UTF8 = [
  '',
  '48656c6c6f',
  'cebae1bdb9cf83cebcceb5', // κόσμε
  'c280',
  'dfbf',
  'e0a080',
  'e0bfbf',
  'e1808080'.slice(0, 6),
  'ec8080',
  'ed9fbf', // U+D7FF
  'ee8080', // U+E000
  'efbfbf', // U+FFFF
  'efbbbf', // BOM
  'f0908080', // U+10000
  'f3bfbfbf',
  'f48fbfbf', // U+10FFFF
  '7f',
  '00',
  'e282ac', // €
  'f09f9880', // 😀
];

/** Invalid sequences and the index of the first byte that makes them invalid (-1: truncated). */
export const INVALID_UTF8: [string, number][] = [
  ['80', 0], // lone continuation
  ['bf', 0],
  ['c0af', 0], // overlong '/'
  ['c1bf', 0],
  ['e080af', 1], // overlong 3-byte
  ['e09fbf', 1],
  ['f08080af', 1], // overlong 4-byte
  ['f08fbfbf', 1],
  ['eda080', 1], // U+D800 surrogate
  ['edbfbf', 1], // U+DFFF
  ['eda080edb080', 1], // surrogate pair in UTF-8 (CESU)
  ['f4908080', 1], // U+110000
  ['f5808080', 0],
  ['f8888080', 0],
  ['fe', 0],
  ['ff', 0],
  ['c2', -1], // truncated
  ['e0a0', -1],
  ['f09080', -1],
  ['48656c6cc2', -1],
  ['c241', 1], // missing continuation
  ['e0a041', 2],
  ['cebae1bdb9cf83cebcceb5eda080656469746564', 12], // κόσμε + surrogate + "edited"
];

describe('Utf8Validator', () => {
  it('accepts valid sequences whole and split anywhere', () => {
    for (const h of VALID_UTF8) {
      const b = hex(h);
      expect(isValidUtf8(b), h).toBe(true);
      for (let i = 0; i <= b.length; i++) {
        const v = new Utf8Validator();
        expect(v.update(b, 0, i)).toBe(-1);
        expect(v.update(b, i)).toBe(-1);
        expect(v.end()).toBe(true);
      }
    }
  });

  it('matches TextDecoder fatal on every 1- and 2-byte input and sampled 3/4-byte ones', () => {
    const fatal = new TextDecoder('utf-8', { fatal: true });
    const ok = (b: Uint8Array) => {
      try {
        fatal.decode(b);
        return true;
      } catch {
        return false;
      }
    };
    for (let a = 0; a < 256; a++) {
      expect(isValidUtf8(Uint8Array.of(a))).toBe(ok(Uint8Array.of(a)));
      for (let b = 0; b < 256; b++) {
        const x = Uint8Array.of(a, b);
        expect(isValidUtf8(x)).toBe(ok(x));
      }
    }
    for (const lead of [0xe0, 0xe1, 0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf4, 0xf5]) {
      for (let b = 0x70; b < 0xd0; b += 3) {
        for (const c of [0x41, 0x80, 0x9f, 0xa0, 0xbf, 0xc0]) {
          const x3 = Uint8Array.of(lead, b, c);
          expect(isValidUtf8(x3), x3.join()).toBe(ok(x3));
          const x4 = Uint8Array.of(lead, b, c, 0x80);
          expect(isValidUtf8(x4), x4.join()).toBe(ok(x4));
        }
      }
    }
  });

  it('fails fast at the first invalid byte, across any split', () => {
    for (const [h, at] of INVALID_UTF8) {
      const b = hex(h);
      expect(isValidUtf8(b), h).toBe(false);
      for (let i = 0; i <= b.length; i++) {
        const v = new Utf8Validator();
        const r1 = v.update(b, 0, i);
        const r2 = r1 === -1 ? v.update(b, i) : r1;
        expect(r2, `${h} split ${i}`).toBe(at);
        if (at === -1) expect(v.end()).toBe(false);
      }
      // Byte by byte: nothing before the bad byte fails; the bad byte does.
      const v = new Utf8Validator();
      for (let i = 0; i < b.length; i++) {
        const r = v.update(b, i, i + 1);
        if (i < at || at === -1) expect(r).toBe(-1);
        else if (i === at) expect(r).toBe(at);
      }
    }
  });

  it('stays failed and resets', () => {
    const v = new Utf8Validator();
    expect(v.update(hex('ff'))).toBe(0);
    expect(v.update(hex('41'))).toBe(0);
    v.reset();
    expect(v.update(hex('41'))).toBe(-1);
    expect(v.end()).toBe(true);
  });

  it('handles long ASCII runs with a trailing multibyte character', () => {
    const b = new Uint8Array(Buffer.from('a'.repeat(1000) + 'é' + 'b'.repeat(17) + '\u{1F600}'));
    expect(isValidUtf8(b)).toBe(true);
    b[1003] = 0xff;
    const v = new Utf8Validator();
    expect(v.update(b)).toBe(1003);
  });

  it('long chunks (the native fast path) agree with the byte loop, whole and split anywhere', () => {
    // Chunks of 64 bytes and more are first checked whole by node's validator; every
    // valid and invalid sequence above, placed in a 100-byte ASCII frame at every offset,
    // must give the same answer and the same index as the short-chunk path.
    const pad = 'a'.repeat(100);
    const fatal = new TextDecoder('utf-8', { fatal: true });
    const cases: [string, number][] = [
      ...VALID_UTF8.map((h): [string, number] => [h, -2]),
      ...INVALID_UTF8,
    ];
    for (const [h, at] of cases) {
      for (const before of [0, 37, 64, 99]) {
        const body = Buffer.concat([
          Buffer.from(pad.slice(0, before)),
          Buffer.from(h, 'hex'),
          Buffer.from(at === -1 ? '' : pad), // a truncated sequence stays at the end
        ]);
        const b = new Uint8Array(body);
        let ok = true;
        try {
          fatal.decode(b);
        } catch {
          ok = false;
        }
        expect(isValidUtf8(b), `${h} at ${before}`).toBe(ok);
        expect(ok, `${h} at ${before}`).toBe(at === -2);
        const want = at >= 0 ? before + at : -1;
        const whole = new Utf8Validator();
        expect(whole.update(b), `${h} at ${before}`).toBe(want);
        if (at === -1) expect(whole.end()).toBe(false);
        for (const cut of [1, before, before + 1, b.length - 64, b.length - 1]) {
          if (cut <= 0 || cut >= b.length) continue;
          const v = new Utf8Validator();
          const r1 = v.update(b, 0, cut);
          const r = r1 === -1 ? v.update(b, cut) : r1;
          expect(r, `${h} at ${before} split ${cut}`).toBe(want);
        }
      }
    }
  });
});
