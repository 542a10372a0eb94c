/**
 * announce_peer / put tokens (BEP 5): a token is a hash of the querier's IP address and a
 * secret that changes every 5 minutes; tokens up to 10 minutes old are accepted (the
 * current and the previous secret). The secret comes from the injected random source and
 * the rotation from the time passed in, so the core stays deterministic (DESIGN §2).
 */
import { createHash } from 'node:crypto';
import type { RandomBytes } from './id.js';

/** Token length: 8 bytes, as libtorrent (BEP 5 leaves it to the implementation). */
const TOKEN_LENGTH = 8;

export class TokenManager {
  readonly #random: RandomBytes;
  readonly #rotateMs: number;
  #current: Uint8Array;
  #previous: Uint8Array;
  #rotatedAt: number;

  constructor(random: RandomBytes, now: number, rotateMs = 5 * 60_000) {
    this.#random = random;
    this.#rotateMs = rotateMs;
    this.#current = random(16).slice(0, 16);
    this.#previous = this.#current;
    this.#rotatedAt = now;
  }

  #rotate(now: number): void {
    while (now - this.#rotatedAt >= this.#rotateMs) {
      this.#previous = this.#current;
      this.#current = this.#random(16).slice(0, 16);
      this.#rotatedAt += this.#rotateMs;
      // After a long pause both secrets are replaced: no stale token survives.
      if (now - this.#rotatedAt >= this.#rotateMs) this.#rotatedAt = now - this.#rotateMs;
    }
  }

  /** The next rotation, for the core's timer. */
  get nextRotation(): number {
    return this.#rotatedAt + this.#rotateMs;
  }

  issue(address: string, now: number): Uint8Array {
    this.#rotate(now);
    return token(this.#current, address);
  }

  /** True for a token issued to `address` under the current or the previous secret. */
  check(tok: Uint8Array, address: string, now: number): boolean {
    this.#rotate(now);
    return equal(tok, token(this.#current, address)) || equal(tok, token(this.#previous, address));
  }
}

function token(secret: Uint8Array, address: string): Uint8Array {
  const h = createHash('sha1').update(secret).update(address, 'latin1').digest();
  return new Uint8Array(h.buffer, h.byteOffset, TOKEN_LENGTH);
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let x = 0;
  for (let i = 0; i < a.length; i++) x |= a[i]! ^ b[i]!;
  return x === 0;
}
