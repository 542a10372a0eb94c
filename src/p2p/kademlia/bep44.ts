/**
 * BEP 44 (storing arbitrary data in the DHT): targets, the signed buffer, and the checks a
 * storing node makes before accepting a `put`. Pure functions; ed25519 is injected through
 * the `Ed25519` interface (DESIGN §2), with a node:crypto implementation in
 * `ed25519-node.ts`.
 *
 * Values are given decoded (`BValue`). Because `decode` accepts only canonical bencode,
 * re-encoding a decoded `v` reproduces the bytes that appeared in the message, which is
 * what BEP 44 hashes and signs.
 */
import { createHash } from 'node:crypto';
import { encode } from './bencode.js';
import type { BValue } from './bencode.js';
import { ID_LENGTH, KrpcErrorCode, MAX_ITEM_VALUE_LENGTH, MAX_SALT_LENGTH } from './codes.js';
import { KrpcError } from './errors.js';
import type { NodeId } from './id.js';

/** BEP 44: `k` is a 32-byte ed25519 public key. */
export const ED25519_PUBLIC_KEY_LENGTH = 32;
/** BEP 44: `sig` is a 64-byte ed25519 signature. */
export const ED25519_SIGNATURE_LENGTH = 64;
/** The ed25519 secret key as RFC 8032 defines it: a 32-byte seed. */
export const ED25519_SEED_LENGTH = 32;

/**
 * Ed25519 (RFC 8032), injected. `secretKey` is the 32-byte seed. `verify` returns false
 * (never throws) for a malformed signature or key.
 */
export interface Ed25519 {
  sign(message: Uint8Array, secretKey: Uint8Array): Uint8Array;
  verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean;
  publicKeyFromSecret(secretKey: Uint8Array): Uint8Array;
}

export type VerifyFn = Ed25519['verify'];

/** A signed mutable item, as carried by `put` requests and `get` responses. */
export interface MutableItem {
  /** ed25519 public key, 32 bytes. */
  k: Uint8Array;
  /** Sequence number, a non-negative integer. */
  seq: number;
  /** ed25519 signature of `signatureBuffer(seq, v, salt)`, 64 bytes. */
  sig: Uint8Array;
  v: BValue;
  /** Optional salt, at most 64 bytes; empty is the same as absent. */
  salt?: Uint8Array;
}

/** What a storing node keeps for a mutable target. */
export type StoredMutable = MutableItem;

/** A mutable `put` request's arguments. */
export interface MutablePut extends MutableItem {
  /** Compare-and-swap: the sequence number the writer expects to replace. */
  cas?: number;
}

function sha1(...parts: Uint8Array[]): NodeId {
  const h = createHash('sha1');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const ASCII = new TextEncoder(); // stateless

/** BEP 44: an immutable item is stored under the SHA-1 of its bencoded value. */
export function immutableTarget(v: BValue): NodeId {
  return sha1(encode(v));
}

/**
 * BEP 44: a mutable item is stored under SHA-1(k ‖ salt), k the 32-byte public key "as it
 * appears in the put message". Throws KrpcError 203 (local) for a key of another length.
 */
export function mutableTarget(publicKey: Uint8Array, salt?: Uint8Array): NodeId {
  if (publicKey.length !== ED25519_PUBLIC_KEY_LENGTH) {
    throw new KrpcError(
      KrpcErrorCode.PROTOCOL,
      `k must be a ${ED25519_PUBLIC_KEY_LENGTH}-byte ed25519 public key, got ${publicKey.length} bytes`,
      'local',
    );
  }
  return salt === undefined ? sha1(publicKey) : sha1(publicKey, salt);
}

/**
 * BEP 44 "Signature Verification": the buffer that is signed,
 * `4:salt<len>:<salt>3:seqi<seq>e1:v<bencoded v>`, the salt part only for a non-empty salt.
 */
export function signatureBuffer(seq: number | bigint, v: BValue, salt?: Uint8Array): Uint8Array {
  const head =
    salt !== undefined && salt.length > 0
      ? [ASCII.encode(`4:salt${salt.length}:`), salt]
      : ([] as Uint8Array[]);
  const seqPart = encode(seq); // i<seq>e, canonical; throws for a non-integer
  const parts = [...head, ASCII.encode('3:seq'), seqPart, ASCII.encode('1:v'), encode(v)];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function valueTooBig(v: BValue): KrpcError | undefined {
  let size: number;
  try {
    size = encode(v).length;
  } catch (_err) {
    return new KrpcError(KrpcErrorCode.PROTOCOL, 'v is not a bencodable value');
  }
  // BEP 44: "Storing nodes MAY reject put requests where the bencoded form of v is longer
  // than 1000 bytes."
  if (size > MAX_ITEM_VALUE_LENGTH) {
    return new KrpcError(
      KrpcErrorCode.MESSAGE_TOO_BIG,
      `v is ${size} bytes bencoded, more than ${MAX_ITEM_VALUE_LENGTH}`,
    );
  }
  return undefined;
}

/** Checks an immutable `put`'s value: 205 when bencoded `v` exceeds 1000 bytes. */
export function checkImmutablePut(v: BValue): KrpcError | undefined {
  return valueTooBig(v);
}

function safeVerify(verify: VerifyFn, sig: Uint8Array, msg: Uint8Array, k: Uint8Array): boolean {
  try {
    return verify(sig, msg, k) === true;
  } catch (_err) {
    return false;
  }
}

/**
 * The checks a storing node makes on a mutable `put` (BEP 44), in order; the first failure
 * is returned as the KrpcError to answer with, or undefined to accept:
 * - 205 when bencoded `v` exceeds 1000 bytes; 207 when `salt` exceeds 64 bytes;
 * - 203 when `k` is not 32 bytes or `seq` is not a non-negative integer (BEP 44: a node
 *   "MAY also reject any message with a negative sequence number");
 * - 206 when `sig` is not 64 bytes or does not verify ("the signature MUST be verified
 *   before accepting the store command");
 * - with an item already stored: 301 when `cas` is present and differs from its `seq`
 *   ("An implementation MUST emit 301 errors if the cas mismatches"; without a stored item
 *   `cas` is ignored, as the BEP says it SHOULD be); 302 when `seq` is lower than the stored
 *   one, or equal with a different value (a put "where seq is lower than or equal to what's
 *   already stored on the node, MUST" be rejected). Equal `seq` and the same value is
 *   accepted: the BEP says the node SHOULD then reset the item's timeout.
 *
 * `current` is the item stored under this put's target (mutableTarget(put.k, put.salt)).
 */
export function checkMutablePut(
  current: StoredMutable | undefined,
  put: MutablePut,
  verify: VerifyFn,
): KrpcError | undefined {
  const big = valueTooBig(put.v);
  if (big !== undefined) return big;
  // BEP 44: "The salt string MUST NOT be longer than 64 bytes."
  if (put.salt !== undefined && put.salt.length > MAX_SALT_LENGTH) {
    return new KrpcError(
      KrpcErrorCode.SALT_TOO_BIG,
      `salt is ${put.salt.length} bytes, more than ${MAX_SALT_LENGTH}`,
    );
  }
  if (put.k.length !== ED25519_PUBLIC_KEY_LENGTH) {
    return new KrpcError(KrpcErrorCode.PROTOCOL, `k must be ${ED25519_PUBLIC_KEY_LENGTH} bytes`);
  }
  if (!Number.isSafeInteger(put.seq) || put.seq < 0) {
    return new KrpcError(KrpcErrorCode.PROTOCOL, 'seq must be a non-negative integer');
  }
  if (put.cas !== undefined && !Number.isSafeInteger(put.cas)) {
    return new KrpcError(KrpcErrorCode.PROTOCOL, 'cas must be an integer');
  }
  if (
    put.sig.length !== ED25519_SIGNATURE_LENGTH ||
    !safeVerify(verify, put.sig, signatureBuffer(put.seq, put.v, put.salt), put.k)
  ) {
    return new KrpcError(KrpcErrorCode.INVALID_SIGNATURE, 'invalid signature');
  }
  if (current === undefined) return undefined;
  if (put.cas !== undefined && put.cas !== current.seq) {
    return new KrpcError(
      KrpcErrorCode.CAS_MISMATCH,
      `cas ${put.cas} does not match the stored seq ${current.seq}; re-read and try again`,
    );
  }
  if (put.seq < current.seq) {
    return new KrpcError(
      KrpcErrorCode.SEQ_TOO_LOW,
      `seq ${put.seq} is less than the stored seq ${current.seq}`,
    );
  }
  if (put.seq === current.seq && !bytesEqual(encode(put.v), encode(current.v))) {
    return new KrpcError(
      KrpcErrorCode.SEQ_TOO_LOW,
      `seq ${put.seq} equals the stored seq with a different value`,
    );
  }
  return undefined;
}

/**
 * Requesting side (BEP 44 "Signature Verification"): an immutable item from a `get`
 * response is valid when SHA-1 of its bencoded value is the target looked up.
 */
export function verifyImmutable(target: NodeId, v: BValue): boolean {
  try {
    return target.length === ID_LENGTH && bytesEqual(immutableTarget(v), target);
  } catch (_err) {
    return false;
  }
}

/**
 * Requesting side: a mutable item from a `get` response is valid when SHA-1(k ‖ salt) is
 * the target looked up and `sig` verifies ("If any of these fail, the response SHOULD be
 * considered invalid"). `salt` is the one the lookup used (responses do not carry it).
 */
export function verifyMutable(target: NodeId, item: MutableItem, verify: VerifyFn): boolean {
  if (item.k.length !== ED25519_PUBLIC_KEY_LENGTH) return false;
  if (item.sig.length !== ED25519_SIGNATURE_LENGTH) return false;
  if (!Number.isSafeInteger(item.seq) || item.seq < 0) return false;
  if (!bytesEqual(mutableTarget(item.k, item.salt), target)) return false;
  let msg: Uint8Array;
  try {
    msg = signatureBuffer(item.seq, item.v, item.salt);
  } catch (_err) {
    return false;
  }
  return safeVerify(verify, item.sig, msg, item.k);
}

/**
 * Publisher side: signs `v` at `seq` (with `salt`) under `secretKey` (32-byte seed).
 * Throws KrpcError 205 / 207 (initiator 'local') when the value or salt is over the BEP 44
 * limits, so an oversized item is caught before it is sent.
 */
export function signMutable(
  ed25519: Ed25519,
  secretKey: Uint8Array,
  item: { seq: number; v: BValue; salt?: Uint8Array },
): MutableItem {
  const size = encode(item.v).length;
  if (size > MAX_ITEM_VALUE_LENGTH) {
    throw new KrpcError(
      KrpcErrorCode.MESSAGE_TOO_BIG,
      `v is ${size} bytes bencoded; BEP 44 allows ${MAX_ITEM_VALUE_LENGTH}`,
      'local',
    );
  }
  if (item.salt !== undefined && item.salt.length > MAX_SALT_LENGTH) {
    throw new KrpcError(
      KrpcErrorCode.SALT_TOO_BIG,
      `salt is ${item.salt.length} bytes; BEP 44 allows ${MAX_SALT_LENGTH}`,
      'local',
    );
  }
  if (!Number.isSafeInteger(item.seq) || item.seq < 0) {
    throw new KrpcError(KrpcErrorCode.PROTOCOL, 'seq must be a non-negative integer', 'local');
  }
  const k = ed25519.publicKeyFromSecret(secretKey);
  const sig = ed25519.sign(signatureBuffer(item.seq, item.v, item.salt), secretKey);
  const out: MutableItem = { k, seq: item.seq, sig, v: item.v };
  if (item.salt !== undefined && item.salt.length > 0) out.salt = item.salt;
  return out;
}
