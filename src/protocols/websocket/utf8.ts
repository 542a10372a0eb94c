/**
 * Incremental UTF-8 validation (RFC 3629 §4, Unicode Table 3-7 "well-formed byte
 * sequences"). RFC 6455 §8.1: when an endpoint receives text that is not valid UTF-8 it
 * MUST fail the connection (1007). The validator keeps its state across chunks and
 * fragments and reports the first invalid byte as soon as it arrives ("fail fast"),
 * instead of waiting for the end of the message.
 *
 * Rejects overlong forms (C0, C1, E0 80-9F, F0 80-8F), surrogates (ED A0-BF) and code
 * points above U+10FFFF (F4 90-BF, F5-FF).
 */

import { isUtf8 } from 'node:buffer';

const ASCII_RUN = 8;
/** From this many bytes a chunk is first checked whole by node's native validator. */
const NATIVE_FROM = 64;

/** Streaming validator. `update` may be called any number of times, then `end`. */
export class Utf8Validator {
  /** Continuation bytes still expected for the current sequence. */
  #need = 0;
  /** Inclusive bounds of the next continuation byte (narrowed after E0, ED, F0, F4). */
  #lo = 0x80;
  #hi = 0xbf;

  /**
   * Validate `bytes[start, end)`. Returns -1 if all of it is valid so far, else the index
   * of the first invalid byte (the validator then stays failed until `reset`).
   */
  update(bytes: Uint8Array, start = 0, end = bytes.length): number {
    // Between sequences, a chunk that is complete, well-formed UTF-8 on its own leaves the
    // state as it is: node's (simdutf) check settles the common case. Anything else — a
    // sequence cut at the chunk's end, or an error to locate — takes the loop below.
    if (this.#need === 0 && end - start >= NATIVE_FROM) {
      const whole = start === 0 && end === bytes.length ? bytes : bytes.subarray(start, end);
      if (isUtf8(whole)) return -1;
    }
    let need = this.#need;
    let lo = this.#lo;
    let hi = this.#hi;
    let i = start;
    while (i < end) {
      const b = bytes[i]!;
      if (need === 0) {
        if (b < 0x80) {
          i++;
          // Fast path: skip ASCII runs without touching the state.
          while (i + ASCII_RUN <= end) {
            if (
              (bytes[i]! |
                bytes[i + 1]! |
                bytes[i + 2]! |
                bytes[i + 3]! |
                bytes[i + 4]! |
                bytes[i + 5]! |
                bytes[i + 6]! |
                bytes[i + 7]!) &
              0x80
            ) {
              break;
            }
            i += ASCII_RUN;
          }
          continue;
        }
        if (b >= 0xc2 && b <= 0xdf) {
          need = 1;
        } else if (b >= 0xe0 && b <= 0xef) {
          need = 2;
          if (b === 0xe0) lo = 0xa0;
          else if (b === 0xed) hi = 0x9f;
        } else if (b >= 0xf0 && b <= 0xf4) {
          need = 3;
          if (b === 0xf0) lo = 0x90;
          else if (b === 0xf4) hi = 0x8f;
        } else {
          return this.#fail(i);
        }
      } else {
        if (b < lo || b > hi) return this.#fail(i);
        need--;
        lo = 0x80;
        hi = 0xbf;
      }
      i++;
    }
    this.#need = need;
    this.#lo = lo;
    this.#hi = hi;
    return -1;
  }

  /** True when the input so far ends on a character boundary (no truncated sequence). */
  end(): boolean {
    return this.#need === 0;
  }

  /** Forget all state, ready for a new message. */
  reset(): void {
    this.#need = 0;
    this.#lo = 0x80;
    this.#hi = 0xbf;
  }

  #fail(index: number): number {
    // Park in an impossible state so every later byte fails too.
    this.#need = 1;
    this.#lo = 0x100;
    this.#hi = 0;
    return index;
  }
}

/** One-shot check: is `bytes` a complete, well-formed UTF-8 string? */
export function isValidUtf8(bytes: Uint8Array): boolean {
  return isUtf8(bytes);
}

const DECODER = new TextDecoder('utf-8');

/** Decode bytes already known to be valid UTF-8 (e.g. a text message's `data`). */
export function decodeUtf8(bytes: Uint8Array): string {
  return DECODER.decode(bytes);
}
