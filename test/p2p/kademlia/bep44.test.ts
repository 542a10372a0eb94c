import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from '../../../src/errors.js';
import { decode, encode } from '../../../src/p2p/kademlia/bencode.js';
import type { BValue } from '../../../src/p2p/kademlia/bencode.js';
import {
  checkImmutablePut,
  checkMutablePut,
  immutableTarget,
  mutableTarget,
  signatureBuffer,
  signMutable,
  verifyImmutable,
  verifyMutable,
} from '../../../src/p2p/kademlia/bep44.js';
import type { MutablePut, StoredMutable, VerifyFn } from '../../../src/p2p/kademlia/bep44.js';
import { KrpcErrorCode } from '../../../src/p2p/kademlia/codes.js';
import { nodeEd25519 } from '../../../src/p2p/kademlia/ed25519-node.js';
import { KrpcError } from '../../../src/p2p/kademlia/errors.js';

interface MutableVector {
  name: string;
  value: string;
  seq: number;
  salt: string | null;
  signed: string;
  publicKey: string;
  expandedPrivateKey: string;
  target: string;
  signature: string;
}
interface Vectors {
  mutable: MutableVector[];
  immutable: { name: string; value: string; target: string }[];
  rfc8032: { vectors: { seed: string; publicKey: string; message: string; signature: string }[] };
}
const vectors = JSON.parse(
  readFileSync(new URL('../../vectors/kademlia/bep44.json', import.meta.url), 'utf8'),
) as Vectors;

const hex = (s: string) => new Uint8Array(Buffer.from(s, 'hex'));
const flip = (b: Uint8Array, i: number, mask: number) => {
  b[i] = b[i]! ^ mask;
};
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const ascii = (s: string) => new Uint8Array(Buffer.from(s, 'latin1'));
const saltOf = (v: MutableVector) => (v.salt === null ? undefined : ascii(v.salt));

/**
 * Test-only Ed25519 signing from a 64-byte *expanded* secret key (clamped scalar ‖ prefix),
 * the form the BEP 44 vectors print, following RFC 8032 §5.1.6 with BigInt arithmetic.
 * node:crypto only signs from a seed, so this is how the vectors' signatures are
 * reproduced byte for byte. Not constant-time; never use outside tests.
 */
const ref = (() => {
  const p = 2n ** 255n - 19n;
  const L = 2n ** 252n + 27742317777372353535851937790883648493n;
  const mod = (a: bigint, m = p) => ((a % m) + m) % m;
  const pow = (b: bigint, e: bigint) => {
    let r = 1n;
    for (b = mod(b); e > 0n; e >>= 1n, b = mod(b * b)) if (e & 1n) r = mod(r * b);
    return r;
  };
  const inv = (a: bigint) => pow(a, p - 2n);
  const d = mod(-121665n * inv(121666n));
  type Pt = [bigint, bigint, bigint, bigint];
  const add = (P: Pt, Q: Pt): Pt => {
    const A = mod((P[1] - P[0]) * (Q[1] - Q[0]));
    const B = mod((P[1] + P[0]) * (Q[1] + Q[0]));
    const C = mod(2n * P[3] * Q[3] * d);
    const D = mod(2n * P[2] * Q[2]);
    const [E, F, G, H] = [B - A, D - C, D + C, B + A];
    return [mod(E * F), mod(G * H), mod(F * G), mod(E * H)];
  };
  const mul = (s: bigint, P: Pt): Pt => {
    let Q: Pt = [0n, 1n, 1n, 0n];
    for (; s > 0n; s >>= 1n, P = add(P, P)) if (s & 1n) Q = add(Q, P);
    return Q;
  };
  const le = (b: Uint8Array) => BigInt(`0x${toHex(Uint8Array.from(b).reverse()) || '0'}`);
  const toLe = (n: bigint) => hex(n.toString(16).padStart(64, '0')).reverse();
  const encodePt = (P: Pt) => {
    const zi = inv(P[2]);
    const x = mod(P[0] * zi);
    const y = mod(P[1] * zi);
    const out = toLe(y);
    out[31] = out[31]! | (Number(x & 1n) << 7);
    return out;
  };
  const By = mod(4n * inv(5n));
  let Bx = pow(mod((By * By - 1n) * inv(d * By * By + 1n)), (p + 3n) / 8n);
  if (mod(Bx * Bx - (By * By - 1n) * inv(d * By * By + 1n)) !== 0n) {
    Bx = mod(Bx * pow(2n, (p - 1n) / 4n));
  }
  if (Bx & 1n) Bx = p - Bx;
  const base: Pt = [Bx, By, 1n, mod(Bx * By)];
  const sha512 = (...parts: Uint8Array[]) => {
    const h = createHash('sha512');
    for (const part of parts) h.update(part);
    return new Uint8Array(h.digest());
  };
  return {
    publicKey(expanded: Uint8Array): Uint8Array {
      return encodePt(mul(le(expanded.subarray(0, 32)), base));
    },
    sign(message: Uint8Array, expanded: Uint8Array): Uint8Array {
      const a = le(expanded.subarray(0, 32));
      const A = encodePt(mul(a, base));
      const r = mod(le(sha512(expanded.subarray(32), message)), L);
      const R = encodePt(mul(r, base));
      const k = mod(le(sha512(R, A, message)), L);
      return Uint8Array.from([...R, ...toLe(mod(r + k * a, L))]);
    },
  };
})();

describe('BEP 44 test vectors', () => {
  it.each(vectors.immutable)('$name: target is SHA-1 of the bencoded value', (v) => {
    const value = decode(hex(v.value));
    expect(toHex(immutableTarget(value))).toBe(v.target);
    expect(verifyImmutable(hex(v.target), value)).toBe(true);
    expect(verifyImmutable(hex(v.target), ascii('Hello World?'))).toBe(false);
    expect(verifyImmutable(hex(v.target).subarray(1), value)).toBe(false);
  });

  it.each(vectors.mutable)('$name: target, signed buffer and signature', (v) => {
    const value = decode(hex(v.value));
    const k = hex(v.publicKey);
    const sig = hex(v.signature);
    const salt = saltOf(v);
    expect(toHex(mutableTarget(k, salt))).toBe(v.target);
    const buf = signatureBuffer(v.seq, value, salt);
    expect(Buffer.from(buf).toString('latin1')).toBe(v.signed);
    // The vector's signature verifies over our buffer with node:crypto.
    expect(nodeEd25519.verify(sig, buf, k)).toBe(true);
    expect(
      verifyMutable(hex(v.target), { k, seq: v.seq, sig, v: value, salt }, nodeEd25519.verify),
    ).toBe(true);
    // Reproduced byte for byte from the vector's (expanded) private key.
    const expanded = hex(v.expandedPrivateKey);
    expect(toHex(ref.publicKey(expanded))).toBe(v.publicKey);
    expect(toHex(ref.sign(buf, expanded))).toBe(v.signature);
  });

  it.each(vectors.mutable)('$name: tampering fails verification', (v) => {
    const value = decode(hex(v.value));
    const k = hex(v.publicKey);
    const sig = hex(v.signature);
    const salt = saltOf(v);
    const target = hex(v.target);
    const verify = nodeEd25519.verify;
    const item = { k, seq: v.seq, sig, v: value, salt };
    expect(verifyMutable(target, { ...item, seq: v.seq + 1 }, verify)).toBe(false);
    expect(verifyMutable(target, { ...item, v: ascii('Hello World?') }, verify)).toBe(false);
    const badSig = sig.slice();
    flip(badSig, 0, 1);
    expect(verifyMutable(target, { ...item, sig: badSig }, verify)).toBe(false);
    expect(verifyMutable(target, { ...item, sig: sig.subarray(1) }, verify)).toBe(false);
    expect(verifyMutable(target, { ...item, k: k.subarray(1) }, verify)).toBe(false);
    expect(verifyMutable(target, { ...item, salt: ascii('other') }, verify)).toBe(false);
    expect(verifyMutable(target, { ...item, seq: -1 }, verify)).toBe(false);
    expect(verifyMutable(new Uint8Array(20), item, verify)).toBe(false);
  });
});

describe('signatureBuffer', () => {
  it('omits an empty salt, as if it were absent (BEP 44)', () => {
    const text = (b: Uint8Array) => Buffer.from(b).toString('latin1');
    expect(text(signatureBuffer(4, 'Hello world!'))).toBe('3:seqi4e1:v12:Hello world!');
    expect(text(signatureBuffer(4, 'Hello world!', new Uint8Array(0)))).toBe(
      '3:seqi4e1:v12:Hello world!',
    );
    expect(text(signatureBuffer(4, 'Hello world!', ascii('foobar')))).toBe(
      '4:salt6:foobar3:seqi4e1:v12:Hello world!',
    );
  });

  it('embeds the bencoded value of any type and binary salts', () => {
    const text = (b: Uint8Array) => Buffer.from(b).toString('latin1');
    expect(text(signatureBuffer(0, { b: [1, 'x'], a: -2 }))).toBe(
      '3:seqi0e1:vd1:ai-2e1:bli1e1:xee',
    );
    expect(text(signatureBuffer(7, 5))).toBe('3:seqi7e1:vi5e');
    expect(text(signatureBuffer(0x7fffffffffffffffn, ''))).toBe('3:seqi9223372036854775807e1:v0:');
    expect(text(signatureBuffer(1, 'v', Uint8Array.of(0, 0xff)))).toBe(
      '4:salt2:\x00\xff3:seqi1e1:v1:v',
    );
  });

  it('hashes the salt after the key for the target', () => {
    const k = new Uint8Array(32).fill(9);
    const salt = ascii('s');
    const expected = createHash('sha1').update(k).update(salt).digest('hex');
    expect(toHex(mutableTarget(k, salt))).toBe(expected);
    expect(toHex(mutableTarget(k, new Uint8Array(0)))).toBe(toHex(mutableTarget(k)));
    expect(() => mutableTarget(new Uint8Array(31))).toThrow(KrpcError);
  });
});

describe('nodeEd25519 (seed-based, node:crypto)', () => {
  it.each(vectors.rfc8032.vectors)('RFC 8032 vector $publicKey', (v) => {
    const seed = hex(v.seed);
    expect(toHex(nodeEd25519.publicKeyFromSecret(seed))).toBe(v.publicKey);
    const sig = nodeEd25519.sign(hex(v.message), seed);
    expect(sig.constructor).toBe(Uint8Array);
    expect(toHex(sig)).toBe(v.signature);
    expect(nodeEd25519.verify(sig, hex(v.message), hex(v.publicKey))).toBe(true);
    expect(nodeEd25519.verify(sig, ascii('x'), hex(v.publicKey))).toBe(false);
  });

  it('verify returns false, never throws, for malformed input', () => {
    const seed = new Uint8Array(32).fill(1);
    const pk = nodeEd25519.publicKeyFromSecret(seed);
    const sig = nodeEd25519.sign(ascii('m'), seed);
    expect(nodeEd25519.verify(sig.subarray(1), ascii('m'), pk)).toBe(false);
    expect(nodeEd25519.verify(sig, ascii('m'), pk.subarray(1))).toBe(false);
    expect(nodeEd25519.verify(new Uint8Array(64), ascii('m'), new Uint8Array(32).fill(0xff))).toBe(
      false,
    );
  });

  it('rejects a secret key that is not a 32-byte seed', () => {
    expect(() => nodeEd25519.sign(ascii('m'), new Uint8Array(64))).toThrow(InvalidOptionError);
    expect(() => nodeEd25519.publicKeyFromSecret(new Uint8Array(31))).toThrow(InvalidOptionError);
  });
});

describe('checkImmutablePut', () => {
  it('accepts values up to 1000 bytes bencoded, rejects larger with 205', () => {
    const ofSize = (n: number) => 'x'.repeat(n - String(n - 4).length - 1); // "<len>:<x…>"
    expect(encode(ofSize(1000)).length).toBe(1000);
    expect(checkImmutablePut(ofSize(1000))).toBeUndefined();
    expect(encode(ofSize(1001)).length).toBe(1001);
    const err = checkImmutablePut(ofSize(1001));
    expect(err).toBeInstanceOf(KrpcError);
    expect(err?.wireCode).toBe(KrpcErrorCode.MESSAGE_TOO_BIG);
    expect(err?.code).toBe('GN_ERR_KRPC_205');
    expect(err?.initiator).toBe('remote');
  });

  it('answers 203 for a value that cannot be bencoded', () => {
    expect(checkImmutablePut(1.5)?.wireCode).toBe(KrpcErrorCode.PROTOCOL);
  });
});

describe('checkMutablePut', () => {
  const seed = new Uint8Array(32).fill(0x42);
  const verify: VerifyFn = nodeEd25519.verify;
  const put = (seq: number, v: BValue, extra: Partial<MutablePut> = {}): MutablePut => ({
    ...signMutable(nodeEd25519, seed, { seq, v, salt: extra.salt }),
    ...extra,
  });
  const codeOf = (current: StoredMutable | undefined, p: MutablePut, fn: VerifyFn = verify) =>
    checkMutablePut(current, p, fn)?.wireCode;

  it('accepts a valid first put, with or without salt', () => {
    expect(checkMutablePut(undefined, put(1, 'hello'), verify)).toBeUndefined();
    expect(codeOf(undefined, put(0, 'hello', { salt: ascii('foobar') }))).toBeUndefined();
    expect(codeOf(undefined, put(0, 'hello', { salt: new Uint8Array(64) }))).toBeUndefined();
  });

  it('205: value over 1000 bytes bencoded', () => {
    const p = put(1, 'x');
    expect(codeOf(undefined, { ...p, v: 'x'.repeat(997) })).toBe(KrpcErrorCode.MESSAGE_TOO_BIG);
  });

  it('207: salt over 64 bytes', () => {
    const p = put(1, 'x', { salt: new Uint8Array(64) });
    expect(codeOf(undefined, { ...p, salt: new Uint8Array(65) })).toBe(KrpcErrorCode.SALT_TOO_BIG);
  });

  it('206: invalid signature', () => {
    const p = put(1, 'hello');
    const bad = p.sig.slice();
    flip(bad, 10, 0x80);
    expect(codeOf(undefined, { ...p, sig: bad })).toBe(KrpcErrorCode.INVALID_SIGNATURE);
    expect(codeOf(undefined, { ...p, sig: p.sig.subarray(0, 63) })).toBe(
      KrpcErrorCode.INVALID_SIGNATURE,
    );
    expect(codeOf(undefined, { ...p, v: 'hellp' })).toBe(KrpcErrorCode.INVALID_SIGNATURE);
    expect(codeOf(undefined, { ...p, seq: 2 })).toBe(KrpcErrorCode.INVALID_SIGNATURE);
    // Signed without salt, put with one: the signed buffer differs.
    expect(codeOf(undefined, { ...p, salt: ascii('s') })).toBe(KrpcErrorCode.INVALID_SIGNATURE);
    // Another key.
    const other = nodeEd25519.publicKeyFromSecret(new Uint8Array(32).fill(1));
    expect(codeOf(undefined, { ...p, k: other })).toBe(KrpcErrorCode.INVALID_SIGNATURE);
    // A verify function that throws counts as a failed verification.
    const throwing: VerifyFn = () => {
      throw new Error('boom');
    };
    expect(codeOf(undefined, p, throwing)).toBe(KrpcErrorCode.INVALID_SIGNATURE);
  });

  it('203: malformed k, seq or cas', () => {
    const p = put(1, 'hello');
    expect(codeOf(undefined, { ...p, k: p.k.subarray(1) })).toBe(KrpcErrorCode.PROTOCOL);
    expect(codeOf(undefined, { ...p, seq: -1 })).toBe(KrpcErrorCode.PROTOCOL);
    expect(codeOf(undefined, { ...p, seq: 1.5 })).toBe(KrpcErrorCode.PROTOCOL);
    expect(codeOf(undefined, { ...p, cas: 0.5 })).toBe(KrpcErrorCode.PROTOCOL);
  });

  it('301: cas differs from the stored seq; ignored without a stored item', () => {
    const stored = put(5, 'five');
    expect(codeOf(stored, put(6, 'six', { cas: 4 }))).toBe(KrpcErrorCode.CAS_MISMATCH);
    expect(codeOf(stored, put(6, 'six', { cas: 5 }))).toBeUndefined();
    expect(codeOf(undefined, put(6, 'six', { cas: 4 }))).toBeUndefined();
    const err = checkMutablePut(stored, put(6, 'six', { cas: 4 }), verify);
    expect(err?.message).toContain('re-read');
  });

  it('302: seq lower than stored, or equal with another value', () => {
    const stored = put(5, 'five');
    expect(codeOf(stored, put(4, 'four'))).toBe(KrpcErrorCode.SEQ_TOO_LOW);
    expect(codeOf(stored, put(5, 'other'))).toBe(KrpcErrorCode.SEQ_TOO_LOW);
    // Equal seq and value: accepted (the node refreshes the item).
    expect(codeOf(stored, put(5, 'five'))).toBeUndefined();
    expect(codeOf(stored, put(6, 'six'))).toBeUndefined();
  });

  it('checks in order: size, salt, k/seq, signature, cas, seq', () => {
    const stored = put(5, 'five');
    const p = put(4, 'four', { cas: 1 });
    expect(codeOf(stored, p)).toBe(KrpcErrorCode.CAS_MISMATCH);
    expect(codeOf(stored, { ...p, sig: new Uint8Array(64) })).toBe(KrpcErrorCode.INVALID_SIGNATURE);
    expect(codeOf(stored, { ...p, sig: new Uint8Array(64), salt: new Uint8Array(65) })).toBe(
      KrpcErrorCode.SALT_TOO_BIG,
    );
    expect(codeOf(stored, { ...p, v: 'x'.repeat(2000), salt: new Uint8Array(65) })).toBe(
      KrpcErrorCode.MESSAGE_TOO_BIG,
    );
  });
});

describe('signMutable', () => {
  const seed = new Uint8Array(32).fill(7);

  it('produces an item that verifies against its target', () => {
    const salt = ascii('foobar');
    const item = signMutable(nodeEd25519, seed, { seq: 3, v: { a: [1, 2] }, salt });
    expect(item.k).toEqual(nodeEd25519.publicKeyFromSecret(seed));
    expect(item.salt).toEqual(salt);
    expect(verifyMutable(mutableTarget(item.k, salt), item, nodeEd25519.verify)).toBe(true);
    const noSalt = signMutable(nodeEd25519, seed, { seq: 3, v: 'x', salt: new Uint8Array(0) });
    expect(noSalt.salt).toBeUndefined();
    expect(verifyMutable(mutableTarget(noSalt.k), noSalt, nodeEd25519.verify)).toBe(true);
  });

  it('refuses oversized values and salts with local KrpcErrors', () => {
    const tooBig = (): unknown => signMutable(nodeEd25519, seed, { seq: 1, v: 'x'.repeat(1000) });
    expect(tooBig).toThrow(KrpcError);
    try {
      tooBig();
    } catch (err) {
      expect((err as KrpcError).wireCode).toBe(205);
      expect((err as KrpcError).initiator).toBe('local');
    }
    expect(() =>
      signMutable(nodeEd25519, seed, { seq: 1, v: 'x', salt: new Uint8Array(65) }),
    ).toThrow(expect.objectContaining({ wireCode: 207 }) as Error);
    expect(() => signMutable(nodeEd25519, seed, { seq: -1, v: 'x' })).toThrow(
      expect.objectContaining({ wireCode: 203 }) as Error,
    );
  });
});
