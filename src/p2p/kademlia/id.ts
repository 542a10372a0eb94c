/**
 * 160-bit identifiers (BEP 5): node ids, infohashes and BEP 44 targets, and the XOR metric
 * of Kademlia. Ids are 20-byte Uint8Arrays; functions never keep or modify their inputs.
 */
import { InvalidOptionError } from '../../errors.js';
import { ID_LENGTH } from './codes.js';

export type NodeId = Uint8Array;

/** Random bytes from an injected source (DESIGN §2: no Math.random in a core). */
export type RandomBytes = (n: number) => Uint8Array;

export function isId(x: unknown): x is NodeId {
  return x instanceof Uint8Array && x.length === ID_LENGTH;
}

export function idFromHex(hex: string): NodeId {
  if (!/^[0-9a-fA-F]{40}$/.test(hex)) {
    throw new InvalidOptionError(`an id is 40 hex digits, got ${JSON.stringify(hex)}`);
  }
  return Uint8Array.from(Buffer.from(hex, 'hex'));
}

export function idToHex(id: NodeId): string {
  return Buffer.from(id.buffer, id.byteOffset, id.length).toString('hex');
}

export function idEquals(a: NodeId, b: NodeId): boolean {
  // Last byte first: ids compared in a k-bucket or near a target share their leading bits,
  // so a mismatch shows at the end at once.
  for (let i = ID_LENGTH - 1; i >= 0; i--) if (a[i] !== b[i]) return false;
  return true;
}

/** The first 4 bytes of an id as an unsigned 32-bit number (its top bits). */
export function idHead32(id: NodeId): number {
  return ((id[0]! << 24) | (id[1]! << 16) | (id[2]! << 8) | id[3]!) >>> 0;
}

/** The last 4 bytes of an id as an unsigned 32-bit number (a cheap first test of equality). */
export function idTail32(id: NodeId): number {
  return ((id[16]! << 24) | (id[17]! << 16) | (id[18]! << 8) | id[19]!) >>> 0;
}

/** a XOR b. */
export function distance(a: NodeId, b: NodeId): Uint8Array {
  const d = new Uint8Array(ID_LENGTH);
  for (let i = 0; i < ID_LENGTH; i++) d[i] = a[i]! ^ b[i]!;
  return d;
}

/**
 * Compares the distances of `a` and `b` to `target`: negative when `a` is closer, 0 when
 * equal (a === b), positive when `b` is closer. No allocation.
 */
export function compareDistance(target: NodeId, a: NodeId, b: NodeId): number {
  for (let i = 0; i < ID_LENGTH; i++) {
    const da = a[i]! ^ target[i]!;
    const db = b[i]! ^ target[i]!;
    if (da !== db) return da - db;
  }
  return 0;
}

/** Leading bits `a` and `b` share (0-160); 160 when equal. */
export function commonPrefixLength(a: NodeId, b: NodeId): number {
  for (let i = 0; i < ID_LENGTH; i++) {
    const x = a[i]! ^ b[i]!;
    if (x !== 0) return i * 8 + Math.clz32(x) - 24;
  }
  return ID_LENGTH * 8;
}

/**
 * A random id sharing exactly `prefix` leading bits with `self` (bit `prefix` differs), for
 * refreshing the bucket at that depth. `prefix` 160 returns a copy of `self`.
 */
export function randomIdWithPrefix(self: NodeId, prefix: number, random: RandomBytes): NodeId {
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > ID_LENGTH * 8) {
    throw new InvalidOptionError(`prefix must be 0-160, got ${prefix}`);
  }
  if (prefix === ID_LENGTH * 8) return self.slice();
  const out = random(ID_LENGTH).slice(0, ID_LENGTH);
  const byte = prefix >>> 3;
  const bit = prefix & 7;
  for (let i = 0; i < byte; i++) out[i] = self[i]!;
  // Keep the first `bit` bits of self's byte, flip the next one, keep the random rest.
  const keep = (0xff00 >>> bit) & 0xff;
  const flip = 0x80 >>> bit;
  out[byte] = (self[byte]! & keep) | (~self[byte]! & flip) | (out[byte]! & ~(keep | flip) & 0xff);
  return out;
}
