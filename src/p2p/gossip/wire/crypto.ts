/**
 * memberlist's message encryption (security.go `encryptPayload` / `decryptPayload`,
 * net.go `encryptLocalState` / `decryptRemoteState`): AES-GCM with a 16-, 24- or 32-byte
 * key (AES-128/192/256), a 12-byte random nonce and a 16-byte tag.
 *
 * ```
 * packet:  [version: u8] [nonce: 12] [ciphertext] [tag: 16]
 *          version 0: the plaintext is PKCS7-padded to a multiple of 16 bytes first
 *          version 1: no padding (memberlist protocol version >= 2 sends this)
 *          additional data: the packet label's bytes (empty when there is no label)
 * stream:  [encryptMsg = 10: u8] [length of what follows: u32 BE] [packet as above]
 *          additional data: the 5 header bytes followed by the stream label's bytes
 * ```
 *
 * Pure functions: the nonce comes from the injected `random` source, so encryption is
 * deterministic under test. AES-GCM itself runs in node:crypto.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { GhostnetError, InvalidOptionError } from '../../../errors.js';

/** The first byte of an encrypted payload. */
export type EncryptionVersion = 0 | 1;

/** Returns `n` cryptographically random bytes (e.g. node:crypto `randomBytes`). */
export type RandomSource = (n: number) => Uint8Array;

export const VERSION_SIZE = 1;
export const NONCE_SIZE = 12;
export const TAG_SIZE = 16;
const BLOCK_SIZE = 16;
/** memberlist's `encryptMsg` message type, which opens an encrypted stream. */
export const ENCRYPT_MSG_TYPE = 10;
/** The `[encryptMsg][u32 length]` header of an encrypted stream. */
export const STREAM_HEADER_SIZE = 5;

/** Error codes raised when decrypting. Match on `code`, never on the message. */
export const GossipCryptoErrorCodes = {
  /** The version byte is not 0 or 1. */
  UNSUPPORTED_VERSION: 'GN_ERR_GOSSIP_ENCRYPTION_VERSION',
  /** Shorter than version + nonce + (one padding block) + tag. */
  TOO_SHORT: 'GN_ERR_GOSSIP_ENCRYPTED_TOO_SHORT',
  /** No key in the keyring authenticates the message (wrong key, label, or tampered). */
  DECRYPT_FAILED: 'GN_ERR_GOSSIP_DECRYPT_FAILED',
  /** Version 0 plaintext whose PKCS7 padding is malformed. */
  BAD_PADDING: 'GN_ERR_GOSSIP_BAD_PADDING',
  /** An encrypted stream frame whose header does not match its length. */
  BAD_STREAM_FRAME: 'GN_ERR_GOSSIP_ENCRYPTED_FRAME',
} as const;

export type GossipCryptoErrorCode =
  (typeof GossipCryptoErrorCodes)[keyof typeof GossipCryptoErrorCodes];

/** An encrypted message from a peer that cannot be decrypted. */
export class GossipCryptoError extends GhostnetError {
  constructor(code: GossipCryptoErrorCode, message: string) {
    super(code, message);
  }
}

/** Throws InvalidOptionError unless `key` selects AES-128, AES-192 or AES-256. */
export function validateKey(key: Uint8Array): void {
  const l = key.length;
  if (l !== 16 && l !== 24 && l !== 32) {
    throw new InvalidOptionError(
      `gossip encryption key must be 16, 24 or 32 bytes (AES-128/192/256), got ${l}`,
    );
  }
}

function cipherName(key: Uint8Array): 'aes-128-gcm' | 'aes-192-gcm' | 'aes-256-gcm' {
  validateKey(key);
  return key.length === 16 ? 'aes-128-gcm' : key.length === 24 ? 'aes-192-gcm' : 'aes-256-gcm';
}

function labelBytes(label: string | Uint8Array): Uint8Array {
  return typeof label === 'string' ? new TextEncoder().encode(label) : label;
}

/** The most bytes encryption adds (security.go `encryptOverhead`): 45 for v0, 29 for v1. */
export function encryptOverhead(version: EncryptionVersion): number {
  return VERSION_SIZE + NONCE_SIZE + TAG_SIZE + (version === 0 ? BLOCK_SIZE : 0);
}

/** The exact encrypted size of a `plainLength`-byte message (security.go `encryptedLength`). */
export function encryptedLength(version: EncryptionVersion, plainLength: number): number {
  const padding = version === 0 ? BLOCK_SIZE - (plainLength % BLOCK_SIZE) : 0;
  return VERSION_SIZE + NONCE_SIZE + plainLength + padding + TAG_SIZE;
}

/**
 * Encrypts `msg` with `key` (security.go `encryptPayload`).
 *
 * @param version 0 pads with PKCS7 (memberlist protocol version 1), 1 does not (>= 2).
 * @param additionalData authenticated but not encrypted: the packet label (a string is
 *   UTF-8 encoded; '' means no label). For streams use {@link encryptStreamPayload}.
 * @param random source of the 12-byte nonce.
 * @returns `[version][nonce][ciphertext][tag]`.
 */
export function encryptPayload(
  version: EncryptionVersion,
  key: Uint8Array,
  msg: Uint8Array,
  additionalData: string | Uint8Array,
  random: RandomSource,
): Uint8Array {
  if (version !== 0 && version !== 1) {
    throw new InvalidOptionError(`encryption version must be 0 or 1, got ${String(version)}`);
  }
  const algorithm = cipherName(key);
  const nonce = random(NONCE_SIZE);
  if (!(nonce instanceof Uint8Array) || nonce.length !== NONCE_SIZE) {
    throw new InvalidOptionError(`random(${NONCE_SIZE}) must return ${NONCE_SIZE} bytes`);
  }
  let plain = msg;
  if (version === 0) {
    // PKCS7: always 1-16 bytes, each holding the pad length.
    const pad = BLOCK_SIZE - (msg.length % BLOCK_SIZE);
    plain = new Uint8Array(msg.length + pad);
    plain.set(msg);
    plain.fill(pad, msg.length);
  }
  const out = new Uint8Array(encryptedLength(version, msg.length));
  out[0] = version;
  out.set(nonce, VERSION_SIZE);
  const cipher = createCipheriv(algorithm, key, nonce, { authTagLength: TAG_SIZE });
  cipher.setAAD(labelBytes(additionalData));
  let at = VERSION_SIZE + NONCE_SIZE;
  const body = cipher.update(plain);
  out.set(body, at);
  at += body.length;
  const tail = cipher.final();
  out.set(tail, at);
  at += tail.length;
  out.set(cipher.getAuthTag(), at);
  return out;
}

/** Opens one message with one key; undefined when the tag does not verify. */
function open(
  key: Uint8Array,
  msg: Uint8Array,
  additionalData: Uint8Array,
): Uint8Array | undefined {
  const nonce = msg.subarray(VERSION_SIZE, VERSION_SIZE + NONCE_SIZE);
  const ciphertext = msg.subarray(VERSION_SIZE + NONCE_SIZE, msg.length - TAG_SIZE);
  const tag = msg.subarray(msg.length - TAG_SIZE);
  const decipher = createDecipheriv(cipherName(key), key, nonce, { authTagLength: TAG_SIZE });
  decipher.setAAD(additionalData);
  decipher.setAuthTag(tag);
  const head = decipher.update(ciphertext);
  let tail: Uint8Array;
  try {
    tail = decipher.final();
  } catch {
    return undefined; // authentication failed
  }
  if (tail.length === 0) return new Uint8Array(head.buffer, head.byteOffset, head.length);
  const plain = new Uint8Array(head.length + tail.length);
  plain.set(head);
  plain.set(tail, head.length);
  return plain;
}

/**
 * Decrypts a message with the first key of `keys` that authenticates it — the primary key
 * first, as memberlist tries the keyring in order (security.go `decryptPayload`).
 *
 * @param additionalData the label the message must have been sealed with ('' for none).
 * @throws GossipCryptoError for an unknown version, a message too short to hold version,
 *   nonce, padding and tag, no key that authenticates it, or (version 0) bad padding.
 */
export function decryptPayload(
  keys: readonly Uint8Array[],
  msg: Uint8Array,
  additionalData: string | Uint8Array,
): Uint8Array {
  if (msg.length === 0) {
    throw new GossipCryptoError(GossipCryptoErrorCodes.TOO_SHORT, 'cannot decrypt empty payload');
  }
  const version = msg[0]!;
  if (version !== 0 && version !== 1) {
    throw new GossipCryptoError(
      GossipCryptoErrorCodes.UNSUPPORTED_VERSION,
      `unsupported encryption version ${version}`,
    );
  }
  if (msg.length < encryptedLength(version, 0)) {
    throw new GossipCryptoError(
      GossipCryptoErrorCodes.TOO_SHORT,
      `payload is too small to decrypt: ${msg.length} bytes`,
    );
  }
  const aad = labelBytes(additionalData);
  for (const key of keys) {
    const plain = open(key, msg, aad);
    if (plain === undefined) continue;
    return version === 0 ? unpad(plain) : plain;
  }
  throw new GossipCryptoError(
    GossipCryptoErrorCodes.DECRYPT_FAILED,
    keys.length === 0
      ? 'no keys installed to decrypt the message'
      : 'no installed keys could decrypt the message',
  );
}

/**
 * Strips PKCS7 padding. memberlist's own `pkcs7decode` trusts the last byte; the plaintext is
 * already authenticated, so a well-behaved peer always pads correctly and we insist on it
 * rather than slicing out of range.
 */
function unpad(plain: Uint8Array): Uint8Array {
  const pad = plain[plain.length - 1] ?? 0;
  let ok = pad >= 1 && pad <= BLOCK_SIZE && pad <= plain.length;
  for (let i = plain.length - pad; ok && i < plain.length; i++) ok = plain[i] === pad;
  if (!ok) {
    throw new GossipCryptoError(GossipCryptoErrorCodes.BAD_PADDING, 'invalid PKCS7 padding');
  }
  return plain.subarray(0, plain.length - pad);
}

/** `[encryptMsg][u32 length] + label`: the additional data of an encrypted stream. */
function streamAdditionalData(header: Uint8Array, label: string | Uint8Array): Uint8Array {
  const l = labelBytes(label);
  const aad = new Uint8Array(STREAM_HEADER_SIZE + l.length);
  aad.set(header.subarray(0, STREAM_HEADER_SIZE));
  aad.set(l, STREAM_HEADER_SIZE);
  return aad;
}

/**
 * Encrypts a whole stream message (push/pull state, user data) as memberlist's
 * `encryptLocalState`: `[encryptMsg][u32 BE length][encrypted payload]`, the 5 header bytes
 * plus the stream label being the GCM additional data.
 */
export function encryptStreamPayload(
  version: EncryptionVersion,
  key: Uint8Array,
  msg: Uint8Array,
  label: string | Uint8Array,
  random: RandomSource,
): Uint8Array {
  const header = new Uint8Array(STREAM_HEADER_SIZE);
  header[0] = ENCRYPT_MSG_TYPE;
  new DataView(header.buffer).setUint32(1, encryptedLength(version, msg.length));
  const sealed = encryptPayload(version, key, msg, streamAdditionalData(header, label), random);
  const out = new Uint8Array(STREAM_HEADER_SIZE + sealed.length);
  out.set(header);
  out.set(sealed, STREAM_HEADER_SIZE);
  return out;
}

/**
 * Reads the payload length from the 5-byte header of an encrypted stream message, so a
 * stream reader knows how many bytes to collect (and can refuse too many first, as
 * memberlist refuses more than `maxPushStateBytes`).
 */
export function encryptedStreamLength(header: Uint8Array): number {
  if (header.length < STREAM_HEADER_SIZE || header[0] !== ENCRYPT_MSG_TYPE) {
    throw new GossipCryptoError(
      GossipCryptoErrorCodes.BAD_STREAM_FRAME,
      'an encrypted stream message starts with encryptMsg (10) and a 4-byte length',
    );
  }
  return new DataView(header.buffer, header.byteOffset, STREAM_HEADER_SIZE).getUint32(1);
}

/**
 * Decrypts a whole encrypted stream message (memberlist's `decryptRemoteState`): `frame`
 * is the 5-byte header followed by exactly the length it announces.
 */
export function decryptStreamPayload(
  keys: readonly Uint8Array[],
  frame: Uint8Array,
  label: string | Uint8Array,
): Uint8Array {
  const length = encryptedStreamLength(frame);
  if (frame.length !== STREAM_HEADER_SIZE + length) {
    throw new GossipCryptoError(
      GossipCryptoErrorCodes.BAD_STREAM_FRAME,
      `encrypted stream header announces ${length} bytes but ${frame.length - STREAM_HEADER_SIZE} follow`,
    );
  }
  return decryptPayload(
    keys,
    frame.subarray(STREAM_HEADER_SIZE),
    streamAdditionalData(frame, label),
  );
}
