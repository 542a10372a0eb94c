/**
 * The default `Ed25519` (BEP 44 signatures) on node:crypto. Cores receive it injected
 * (DESIGN §2); only bindings and tests import this file.
 *
 * node:crypto takes keys as KeyObjects, so the raw 32-byte seed is wrapped in a PKCS#8 DER
 * (RFC 8410) and the raw public key in an SPKI DER; both prefixes are fixed for Ed25519.
 */
import { createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { InvalidOptionError } from '../../errors.js';
import {
  ED25519_PUBLIC_KEY_LENGTH,
  ED25519_SEED_LENGTH,
  ED25519_SIGNATURE_LENGTH,
} from './bep44.js';
import type { Ed25519 } from './bep44.js';

/** PKCS#8 PrivateKeyInfo for id-Ed25519 (1.3.101.112) with a 32-byte OCTET STRING seed. */
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
/** SubjectPublicKeyInfo for id-Ed25519 with a 32-byte BIT STRING key. */
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

function privateKey(seed: Uint8Array): KeyObject {
  if (!(seed instanceof Uint8Array) || seed.length !== ED25519_SEED_LENGTH) {
    throw new InvalidOptionError(
      `an ed25519 secret key is the ${ED25519_SEED_LENGTH}-byte seed, got ${String(
        (seed as Uint8Array | undefined)?.length,
      )} bytes (a 64-byte "expanded" key is not supported)`,
    );
  }
  return createPrivateKey({
    key: Buffer.concat([PKCS8_PREFIX, seed]),
    format: 'der',
    type: 'pkcs8',
  });
}

export const nodeEd25519: Ed25519 = {
  sign(message: Uint8Array, secretKey: Uint8Array): Uint8Array {
    return new Uint8Array(sign(null, message, privateKey(secretKey)));
  },

  verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
    if (signature.length !== ED25519_SIGNATURE_LENGTH) return false;
    if (publicKey.length !== ED25519_PUBLIC_KEY_LENGTH) return false;
    try {
      const key = createPublicKey({
        key: Buffer.concat([SPKI_PREFIX, publicKey]),
        format: 'der',
        type: 'spki',
      });
      return verify(null, message, key, signature);
    } catch (_err) {
      return false; // a public key that is not a valid curve point
    }
  },

  publicKeyFromSecret(secretKey: Uint8Array): Uint8Array {
    const der = createPublicKey(privateKey(secretKey)).export({ format: 'der', type: 'spki' });
    return new Uint8Array(der.subarray(der.length - ED25519_PUBLIC_KEY_LENGTH));
  },
};
