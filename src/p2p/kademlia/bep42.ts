/**
 * BEP 42 (DHT security extension): node ids derived from the node's external IP address.
 *
 * The first 21 bits of a compliant id equal the first 21 bits of
 *   crc32c((ip & 0x030f3fff) | (r << 29))            for IPv4, and
 *   crc32c((ip & 0x0103070f1f3f7fff) | (r << 61))    for IPv6 (ip = the high 64 bits),
 * hashed as big-endian bytes, where r is the low 3 bits of the id's last byte. Peers on
 * local-network addresses are exempt from the check.
 */
import { InvalidOptionError } from '../../errors.js';
import { ID_LENGTH } from './codes.js';
import { ipv4Bytes, ipv6Bytes } from './compact.js';
import { crc32c } from './crc32c.js';
import type { NodeId, RandomBytes } from './id.js';

const V4_MASK = [0x03, 0x0f, 0x3f, 0xff];
const V6_MASK = [0x01, 0x03, 0x07, 0x0f, 0x1f, 0x3f, 0x7f, 0xff];

/**
 * 4 bytes for an IPv4 address (text, 4 bytes, or an IPv4-mapped IPv6 address such as
 * `::ffff:1.2.3.4`, which dual-stack sockets report), 16 for IPv6; undefined otherwise.
 */
function ipBytes(ip: string | Uint8Array): Uint8Array | undefined {
  let b: Uint8Array | undefined;
  if (typeof ip === 'string') b = ipv4Bytes(ip) ?? ipv6Bytes(ip);
  else if (ip instanceof Uint8Array && (ip.length === 4 || ip.length === 16)) b = ip;
  if (b === undefined) return undefined;
  if (b.length === 16 && isV4Mapped(b)) return b.slice(12);
  return b;
}

function isV4Mapped(b: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false;
  return b[10] === 0xff && b[11] === 0xff;
}

/**
 * The BEP 42 CRC-32C for `ip` (4 or 16 bytes, network order) and `r` (0-7): the hash
 * whose first 21 bits a compliant node id starts with.
 */
export function bep42Hash(ip: Uint8Array, r: number): number {
  const mask = ip.length === 4 ? V4_MASK : V6_MASK;
  const masked = new Uint8Array(mask.length);
  for (let i = 0; i < mask.length; i++) masked[i] = ip[i]! & mask[i]!;
  // r << 29 (IPv4) or r << 61 (IPv6): r fills the top 3 bits of the first byte.
  masked[0] = masked[0]! | ((r & 7) << 5);
  return crc32c(masked);
}

/**
 * Local-network addresses exempt from the node-id check (BEP 42 "Enforcement"): 10/8,
 * 172.16/12, 192.168/16, 169.254/16 and 127/8. For IPv6, the corresponding blocks as
 * libtorrent treats them: loopback ::1, link-local fe80::/10 and unique-local fc00::/7.
 * An unparsable address is not exempt.
 */
export function isBep42Exempt(ip: string | Uint8Array): boolean {
  const b = ipBytes(ip);
  if (b === undefined) return false;
  if (b.length === 4) {
    const [a, c] = [b[0]!, b[1]!];
    return (
      a === 10 ||
      (a === 172 && (c & 0xf0) === 16) ||
      (a === 192 && c === 168) ||
      (a === 169 && c === 254) ||
      a === 127
    );
  }
  let loopback = b[15] === 1;
  for (let i = 0; i < 15 && loopback; i++) if (b[i] !== 0) loopback = false;
  return loopback || (b[0] === 0xfe && (b[1]! & 0xc0) === 0x80) || (b[0]! & 0xfe) === 0xfc;
}

/**
 * A BEP 42 compliant node id for the external address `ip`. `rand` (an integer 0-255, from
 * the injected randomness) becomes the last byte and selects r = rand & 7; `random`
 * supplies the other free bits.
 */
export function nodeIdForIp(ip: string | Uint8Array, rand: number, random: RandomBytes): NodeId {
  const b = ipBytes(ip);
  if (b === undefined) {
    throw new InvalidOptionError(
      `ip must be an IPv4 or IPv6 address (text, 4 or 16 bytes), got ${String(ip)}`,
    );
  }
  if (!Number.isInteger(rand) || rand < 0 || rand > 255) {
    throw new InvalidOptionError(`rand must be an integer 0-255, got ${rand}`);
  }
  const crc = bep42Hash(b, rand & 7);
  const id = random(ID_LENGTH).slice(0, ID_LENGTH);
  if (id.length !== ID_LENGTH) {
    throw new InvalidOptionError(`random(${ID_LENGTH}) must return ${ID_LENGTH} bytes`);
  }
  id[0] = crc >>> 24;
  id[1] = (crc >>> 16) & 0xff;
  id[2] = ((crc >>> 8) & 0xf8) | (id[2]! & 0x07);
  id[ID_LENGTH - 1] = rand;
  return id;
}

/**
 * Whether `id` is valid for a node at `ip` under BEP 42: its first 21 bits match the hash
 * of `ip` with r taken from the low 3 bits of its last byte, or `ip` is exempt. False for
 * an id that is not 20 bytes or an unparsable address.
 */
export function isCompliantId(id: NodeId, ip: string | Uint8Array): boolean {
  if (!(id instanceof Uint8Array) || id.length !== ID_LENGTH) return false;
  const b = ipBytes(ip);
  if (b === undefined) return false;
  if (isBep42Exempt(b)) return true;
  const crc = bep42Hash(b, id[ID_LENGTH - 1]! & 7);
  return (
    id[0] === crc >>> 24 &&
    id[1] === ((crc >>> 16) & 0xff) &&
    (id[2]! & 0xf8) === ((crc >>> 8) & 0xf8)
  );
}
