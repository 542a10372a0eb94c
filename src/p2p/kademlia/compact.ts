/**
 * Compact encodings of BEP 5 and BEP 32: peer info (IPv4 4+2 bytes, IPv6 16+2) and node
 * info (20-byte id then the peer info: 26 bytes for IPv4, 38 for IPv6). Parsers are
 * strict about lengths and never throw: malformed input yields undefined.
 */
import { COMPACT_NODE6_LENGTH, COMPACT_NODE_LENGTH, ID_LENGTH } from './codes.js';
import type { NodeId } from './id.js';

export type Family = 'IPv4' | 'IPv6';

export interface PeerInfo {
  address: string;
  port: number;
  family: Family;
}

export interface NodeInfo extends PeerInfo {
  id: NodeId;
}

/** 4 bytes of an IPv4 address, or undefined when `address` is not one. */
export function ipv4Bytes(address: string): Uint8Array | undefined {
  const out = new Uint8Array(4);
  return writeIpv4(address, out, 0) ? out : undefined;
}

/**
 * Writes the 4 bytes of dotted-quad `address` (four groups of 1-3 digits, each ≤ 255) at
 * `at` in `out`; false, with `out` partly written, when it is not one. A hand-written scan:
 * every `nodes` answer encodes 8 addresses (a regex here dominated a large simulation).
 */
function writeIpv4(address: string, out: Uint8Array, at: number): boolean {
  const end = address.length;
  if (end < 7 || end > 15) return false;
  let i = 0;
  for (let part = 0; part < 4; part++) {
    if (part > 0) {
      if (address.charCodeAt(i) !== 0x2e) return false; // '.'
      i++;
    }
    let v = 0;
    const start = i;
    while (i < end && i - start < 3) {
      const c = address.charCodeAt(i);
      if (c < 0x30 || c > 0x39) break;
      v = v * 10 + (c - 0x30);
      i++;
    }
    if (i === start || v > 255) return false;
    out[at + part] = v;
  }
  return i === end;
}

/** 16 bytes of an IPv6 address (`::` and embedded IPv4 forms accepted). */
export function ipv6Bytes(address: string): Uint8Array | undefined {
  if (!address.includes(':') || address.length > 45) return undefined;
  let text = address;
  const out = new Uint8Array(16);
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two hextets.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const b = ipv4Bytes(v4[1]!)!;
    text = `${text.slice(0, -v4[1]!.length)}${((b[0]! << 8) | b[1]!).toString(16)}:${((b[2]! << 8) | b[3]!).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const h = head === '' ? [] : head!.split(':');
  const t = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups =
    tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  if (groups.length !== 8 || (text.match(/::/g) ?? []).length > 1) return undefined;
  for (let i = 0; i < 8; i++) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(groups[i]!)) return undefined;
    const v = parseInt(groups[i]!, 16);
    out[i * 2] = v >>> 8;
    out[i * 2 + 1] = v & 0xff;
  }
  return out;
}

/** The text form of the 16-byte IPv6 address at `at` in `b`. */
export function ipv6Text(b: Uint8Array, at: number): string {
  const groups: string[] = [];
  for (let i = 0; i < 8; i++)
    groups.push(((b[at + i * 2]! << 8) | b[at + i * 2 + 1]!).toString(16));
  // Canonical form: the longest run of zero groups (2 or more) collapsed (RFC 5952).
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

/** Compact peer info (BEP 5: 6 bytes; BEP 32: 18 bytes). Undefined for a bad address. */
export function encodePeer(address: string, port: number): Uint8Array | undefined {
  if (!Number.isInteger(port) || port < 0 || port > 65535) return undefined;
  const v4 = new Uint8Array(6);
  if (writeIpv4(address, v4, 0)) {
    v4[4] = port >>> 8;
    v4[5] = port & 0xff;
    return v4;
  }
  const ip = ipv6Bytes(address);
  if (ip === undefined) return undefined;
  const out = new Uint8Array(18);
  out.set(ip);
  out[16] = port >>> 8;
  out[17] = port & 0xff;
  return out;
}

/** Decodes a 6- or 18-byte compact peer; undefined for any other length. */
export function decodePeer(b: Uint8Array): PeerInfo | undefined {
  if (b.length === 6) {
    return {
      address: `${b[0]}.${b[1]}.${b[2]}.${b[3]}`,
      port: (b[4]! << 8) | b[5]!,
      family: 'IPv4',
    };
  }
  if (b.length === 18) {
    return { address: ipv6Text(b, 0), port: (b[16]! << 8) | b[17]!, family: 'IPv6' };
  }
  return undefined;
}

/** Concatenated compact node infos of one family (`nodes` or `nodes6`). */
export function encodeNodes(nodes: readonly NodeInfo[], family: Family): Uint8Array {
  const size = family === 'IPv4' ? COMPACT_NODE_LENGTH : COMPACT_NODE6_LENGTH;
  const out = new Uint8Array(nodes.length * size);
  let n = 0;
  for (const node of nodes) {
    if (node.family !== family) continue;
    const port = node.port;
    if (!Number.isInteger(port) || port < 0 || port > 65535) continue;
    const at = n * size;
    if (family === 'IPv4') {
      // Written in place: no per-node allocation on this path (every find_node answer).
      if (!writeIpv4(node.address, out, at + ID_LENGTH)) continue;
    } else {
      const ip = ipv6Bytes(node.address);
      if (ip === undefined) continue;
      out.set(ip, at + ID_LENGTH);
    }
    const id = node.id;
    // A loop, not `out.set`: for 20 bytes the builtin's call costs more than the copy.
    for (let i = 0; i < ID_LENGTH; i++) out[at + i] = id[i]!;
    out[at + size - 2] = port >>> 8;
    out[at + size - 1] = port & 0xff;
    n++;
  }
  return out.subarray(0, n * size);
}

/**
 * Decodes `nodes` (26-byte entries) or `nodes6` (38-byte entries). A length that is not a
 * multiple of the entry size is malformed: undefined. Entries with port 0 are dropped.
 */
export function decodeNodes(b: Uint8Array, family: Family): NodeInfo[] | undefined {
  const size = family === 'IPv4' ? COMPACT_NODE_LENGTH : COMPACT_NODE6_LENGTH;
  if (b.length % size !== 0) return undefined;
  const out: NodeInfo[] = [];
  for (let at = 0; at < b.length; at += size) {
    const p = at + ID_LENGTH;
    const port = (b[at + size - 2]! << 8) | b[at + size - 1]!;
    if (port === 0) continue;
    out.push({
      id: b.slice(at, p),
      address: family === 'IPv4' ? `${b[p]}.${b[p + 1]}.${b[p + 2]}.${b[p + 3]}` : ipv6Text(b, p),
      port,
      family,
    });
  }
  return out;
}
