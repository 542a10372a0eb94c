/**
 * Bounded fuzzing of the WebSocket receive path (STYLE §10: a fuzz target for every
 * decoder). Valid client traffic is mutated with a seeded PRNG and fed to a server core in
 * random splits. The core must never throw, must end in a coded error or keep going, must
 * never report more than one terminal `closed`, and must never hold more than its limits.
 */
import { describe, expect, it } from 'vitest';
import { WebSocketConnection } from '../../../src/protocols/websocket/connection.js';
import type { WsEvent } from '../../../src/protocols/websocket/connection.js';
import { WebSocketError } from '../../../src/protocols/websocket/errors.js';
import { concatBytes, frame, utf8 } from './helpers.js';

/** xorshift32: deterministic, so a failure is reproducible from the seed. */
function prng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x100000000;
  };
}

const MASK = new Uint8Array([1, 2, 3, 4]);
const SEEDS: Uint8Array[] = [
  concatBytes([frame({ opcode: 1, payload: utf8('hello'), mask: MASK })]),
  concatBytes([
    frame({ opcode: 1, fin: false, payload: utf8('héllo '), mask: MASK }),
    frame({ opcode: 9, payload: utf8('ping'), mask: MASK }),
    frame({ opcode: 0, payload: utf8('wörld'), mask: MASK }),
  ]),
  concatBytes([frame({ opcode: 2, payload: new Uint8Array(300).fill(7), mask: MASK })]),
  concatBytes([frame({ opcode: 2, payload: new Uint8Array(70_000).fill(9), mask: MASK })]),
  concatBytes([
    frame({ opcode: 8, payload: new Uint8Array([0x03, 0xe8, 0x62, 0x79, 0x65]), mask: MASK }),
  ]),
  concatBytes([frame({ opcode: 10, payload: new Uint8Array(0), mask: MASK })]),
];

const LIMITS = { maxPayload: 64 * 1024, maxFrameSize: 64 * 1024, maxFragments: 64 };

function mutate(input: Uint8Array, rand: () => number): Uint8Array {
  const bytes = Array.from(input);
  const edits = 1 + Math.floor(rand() * 6);
  for (let e = 0; e < edits; e++) {
    const at = Math.floor(rand() * Math.max(1, bytes.length));
    const kind = rand();
    if (kind < 0.5) bytes[at] = Math.floor(rand() * 256);
    else if (kind < 0.7) bytes.splice(at, 1);
    else if (kind < 0.85) bytes.splice(at, 0, Math.floor(rand() * 256));
    else bytes.splice(at, Math.floor(rand() * 16));
  }
  // Sometimes glue a second seed behind, so state carries across frames.
  if (rand() < 0.3) bytes.push(...SEEDS[Math.floor(rand() * SEEDS.length)]!);
  return new Uint8Array(bytes);
}

describe('WebSocket receive path under mutation (seeded, bounded)', () => {
  it('never throws, ends at most once, and errors carry close codes', () => {
    const rand = prng(0x5eed);
    let errors = 0;
    let messages = 0;
    for (let iteration = 0; iteration < 3000; iteration++) {
      const seed = SEEDS[iteration % SEEDS.length]!;
      const input = mutate(seed, rand);
      const core = new WebSocketConnection({ role: 'server', now: 0 }, { limits: LIMITS });
      const events: WsEvent[] = [];
      let offset = 0;
      let steps = 0;
      while (offset < input.length) {
        const size = 1 + Math.floor(rand() * 64);
        const piece = input.slice(offset, offset + size); // a fresh copy: receive may unmask in place
        offset += size;
        events.push(...core.receive(piece, steps++));
        core.takeOutput();
        expect(steps).toBeLessThanOrEqual(input.length + 1);
      }
      const closed = events.filter((e) => e.type === 'closed');
      expect(closed.length).toBeLessThanOrEqual(1);
      for (const event of events) {
        if (event.type === 'error') {
          errors++;
          expect(event.error).toBeInstanceOf(WebSocketError);
          expect([1002, 1007, 1009]).toContain(event.error.wireCode);
        }
        if (event.type === 'message') {
          messages++;
          const size = Array.isArray(event.data)
            ? event.data.reduce((n: number, d: Uint8Array) => n + d.length, 0)
            : (event.data as Uint8Array).length;
          expect(size).toBeLessThanOrEqual(LIMITS.maxPayload);
        }
      }
      expect(core.bufferedAmount).toBeLessThan(1024 * 1024);
    }
    // The corpus exercises both outcomes; a fuzzer that never reaches one proves little.
    expect(errors).toBeGreaterThan(100);
    expect(messages).toBeGreaterThan(100);
  });
});
