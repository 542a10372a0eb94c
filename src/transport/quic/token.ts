/**
 * Address-validation tokens for stateless Retry (RFC 9000 §8.1.2, §8.1.4).
 *
 * The server keeps no state between its Retry and the client's second Initial: everything
 * it needs — the client's original destination connection ID, which it must echo in
 * `original_destination_connection_id` (RFC 9000 §7.3) — travels in the token, with an
 * expiry and an HMAC-SHA256 tag over the client's IP address so a token cannot be used
 * from another address or forged (RFC 9000 §8.1.4: "a token SHOULD be constructed in a way
 * that allows the server to identify how it was provided to a client"; §21.3).
 *
 * Layout: `0x01 | expiry (u32 s) | odcidLen (u8) | odcid | tag (16 bytes)`.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

const VERSION = 0x01;
const TAG_BYTES = 16;
const MAX_CID = 20;

export interface AddressTokensOptions {
  /** HMAC key; 32 random bytes by default (tokens then die with the process). */
  key?: Uint8Array;
  /** How long a Retry token is accepted. @default 10_000 ms */
  lifetimeMs?: number;
  /** Clock, for tests. */
  now?: () => number;
}

export class AddressTokens {
  readonly #key: Uint8Array;
  readonly #lifetimeMs: number;
  readonly #now: () => number;

  constructor(options: AddressTokensOptions = {}) {
    this.#key = options.key ?? randomBytes(32);
    this.#lifetimeMs = options.lifetimeMs ?? 10_000;
    this.#now = options.now ?? Date.now;
  }

  /** A token for a client at `ip` whose first Initial was sent to `odcid`. */
  mint(odcid: Uint8Array, ip: string): Uint8Array {
    if (odcid.length > MAX_CID) throw new RangeError('connection ID longer than 20 bytes');
    const body = new Uint8Array(6 + odcid.length);
    const view = new DataView(body.buffer);
    body[0] = VERSION;
    view.setUint32(1, Math.ceil((this.#now() + this.#lifetimeMs) / 1000));
    body[5] = odcid.length;
    body.set(odcid, 6);
    const out = new Uint8Array(body.length + TAG_BYTES);
    out.set(body);
    out.set(this.#tag(body, ip), body.length);
    return out;
  }

  /** The original destination connection ID, or undefined when the token is not valid here. */
  validate(token: Uint8Array, ip: string): Uint8Array | undefined {
    if (token.length < 6 + TAG_BYTES || token[0] !== VERSION) return undefined;
    const len = token[5]!;
    if (len > MAX_CID || token.length !== 6 + len + TAG_BYTES) return undefined;
    const body = token.subarray(0, 6 + len);
    const tag = token.subarray(6 + len);
    if (!timingSafeEqual(tag, this.#tag(body, ip))) return undefined;
    const expiry = new DataView(token.buffer, token.byteOffset).getUint32(1) * 1000;
    if (this.#now() > expiry) return undefined;
    return token.slice(6, 6 + len);
  }

  #tag(body: Uint8Array, ip: string): Uint8Array {
    return createHmac('sha256', this.#key).update(body).update(ip).digest().subarray(0, TAG_BYTES);
  }
}
