/**
 * Bounded fuzz: mutated llhttp vector inputs, fed in random splits. The parser must never
 * throw, must make progress (bounded callbacks per input byte), and what a consumer
 * retains of one head stays under the limits. Seeded, so a failure reproduces.
 */
import { describe, expect, it } from 'vitest';
import { ExecuteStatus } from '../../../src/protocols/http1/constants.js';
import type { Http1MessageKind } from '../../../src/protocols/http1/constants.js';
import { Http1Decoder } from '../../../src/protocols/http1/decoder.js';
import { Http1Parser } from '../../../src/protocols/http1/parser.js';
import { loadLlhttpVectors } from '../../helpers/llhttp-vectors.js';
import { mulberry32 } from '../../helpers/prng.js';

const ITERATIONS = 4000;
const LIMITS = {
  maxUrlLength: 128,
  maxMethodLength: 16,
  maxHeaderBytes: 512,
  maxHeaderCount: 8,
  maxBodySize: 4096,
  maxChunkExtensionLength: 32,
  maxTrailerBytes: 128,
  maxPipelinedRequests: 4,
};
const INTERESTING = [0x0d, 0x0a, 0x20, 0x09, 0x3a, 0x3b, 0x22, 0x2c, 0x30, 0x61, 0x00, 0xff, 0x7f];

const prng = mulberry32;

function mutate(input: Uint8Array, rnd: () => number): Uint8Array {
  const bytes = Array.from(input);
  const ops = 1 + Math.floor(rnd() * 4);
  for (let k = 0; k < ops; k++) {
    const at = Math.floor(rnd() * (bytes.length + 1));
    const pick = (): number =>
      rnd() < 0.7 ? INTERESTING[Math.floor(rnd() * INTERESTING.length)]! : Math.floor(rnd() * 256);
    switch (Math.floor(rnd() * 5)) {
      case 0:
        if (at < bytes.length) bytes[at] = pick();
        break;
      case 1:
        bytes.splice(at, 0, pick());
        break;
      case 2:
        bytes.splice(at, 1);
        break;
      case 3: {
        const n = Math.floor(rnd() * 300);
        bytes.splice(at, 0, ...bytes.slice(at, at + n), ...Array<number>(n % 50).fill(0x61));
        break;
      }
      default:
        bytes.length = Math.min(bytes.length, at);
    }
  }
  return Uint8Array.from(bytes);
}

describe('HTTP/1.1 parser fuzz', () => {
  const vectors = loadLlhttpVectors().filter((c) => c.kind === 'http');

  it(`${ITERATIONS} mutated vectors: no throw, progress, bounded retention`, () => {
    const rnd = prng(0x5eed);
    let errors = 0;
    let completes = 0;
    for (let iter = 0; iter < ITERATIONS; iter++) {
      const c = vectors[Math.floor(rnd() * vectors.length)]!;
      const kind: Http1MessageKind = c.meta.type.startsWith('response') ? 'response' : 'request';
      const input = mutate(c.input, rnd);
      let callbacks = 0;
      let headBytes = 0;
      let maxHeadBytes = 0;
      const span = (_b: Uint8Array, s: number, e: number): void => {
        callbacks++;
        headBytes += e - s;
        if (headBytes > maxHeadBytes) maxHeadBytes = headBytes;
      };
      const parser = new Http1Parser(
        kind,
        {
          onMessageBegin: () => {
            callbacks++;
            headBytes = 0;
          },
          onMethod: span,
          onUrl: span,
          onStatus: span,
          onHeaderField: span,
          onHeaderValue: span,
          onHeadersComplete: () => {
            callbacks++;
            headBytes = 0;
          },
          onBody: () => callbacks++,
          onMessageComplete: () => {
            callbacks++;
            completes++;
            if (kind === 'request') parser.releaseMessage();
          },
          onError: () => errors++,
        },
        LIMITS,
      );
      const decoder = new Http1Decoder(kind, { limits: LIMITS });
      let pos = 0;
      let status: ExecuteStatus = ExecuteStatus.OK;
      while (pos < input.length && status === ExecuteStatus.OK) {
        const n = 1 + Math.floor(rnd() * 64);
        const piece = input.subarray(pos, pos + n);
        expect(() => {
          status = parser.execute(piece);
        }).not.toThrow();
        expect(parser.consumed).toBeLessThanOrEqual(piece.length);
        for (const e of decoder.receive(piece)) {
          if (e.type === 'head') {
            const kept = e.head.headers.reduce((sum, [k, v]) => sum + k.length + v.length, 0);
            expect(kept + e.head.target.length).toBeLessThanOrEqual(
              LIMITS.maxHeaderBytes + LIMITS.maxUrlLength,
            );
            expect(e.head.headers.length).toBeLessThanOrEqual(LIMITS.maxHeaderCount);
          }
        }
        pos += piece.length;
      }
      expect(() => parser.finish()).not.toThrow();
      expect(() => decoder.finish()).not.toThrow();
      // Progress: a bounded number of callbacks per byte (spans may come per input piece).
      expect(callbacks).toBeLessThanOrEqual(8 * input.length + 16);
      // Retention: a consumer gathering the head never holds more than the limits allow.
      expect(maxHeadBytes).toBeLessThanOrEqual(LIMITS.maxHeaderBytes + LIMITS.maxUrlLength);
    }
    // The corpus exercised both outcomes.
    expect(errors).toBeGreaterThan(ITERATIONS / 10);
    expect(completes).toBeGreaterThan(ITERATIONS / 10);
  });
});
