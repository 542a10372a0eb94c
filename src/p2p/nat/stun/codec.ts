/**
 * The STUN message codec (RFC 8489), with the attributes TURN (RFC 8656), ICE (RFC 8445)
 * and NAT behavior discovery (RFC 5780) add. Sans-I/O: bytes in, bytes out; HMAC, hashes
 * and CRC from node:crypto and node:zlib (pure functions).
 *
 * A message is a 20-byte header — two zero bits, the 14-bit type (method and class bits
 * interleaved, §5), the length of the attributes, the magic cookie 0x2112A442 and a 96-bit
 * transaction id — then TLV attributes padded to 4 bytes (§14). {@link decodeStun} never
 * throws anything but {@link StunError}; what it returns keeps every attribute's offset so
 * MESSAGE-INTEGRITY(-SHA256) and FINGERPRINT can be verified over the exact bytes received.
 * {@link StunBuilder} appends the integrity and fingerprint attributes with the length
 * field adjusted as §14.5-§14.7 require.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { GhostnetError, InvalidOptionError } from '../../../errors.js';

export const MAGIC_COOKIE = 0x2112a442;
export const HEADER_SIZE = 20;
/** §14.7: FINGERPRINT = CRC-32 XOR this. */
export const FINGERPRINT_XOR = 0x5354554e;

/** Message classes (§5). */
export const StunClass = { Request: 0, Indication: 1, Success: 2, Error: 3 } as const;
export type StunClassValue = (typeof StunClass)[keyof typeof StunClass];

/** Methods: Binding (RFC 8489), and TURN's (RFC 8656 §18). */
export const StunMethod = {
  Binding: 0x001,
  Allocate: 0x003,
  Refresh: 0x004,
  Send: 0x006,
  Data: 0x007,
  CreatePermission: 0x008,
  ChannelBind: 0x009,
} as const;

/** Attribute types (RFC 8489 §18.3, RFC 8656 §18, RFC 8445 §16.1, RFC 5780 §7). */
export const Attr = {
  MappedAddress: 0x0001,
  ChangeRequest: 0x0003,
  Username: 0x0006,
  MessageIntegrity: 0x0008,
  ErrorCode: 0x0009,
  UnknownAttributes: 0x000a,
  ChannelNumber: 0x000c,
  Lifetime: 0x000d,
  XorPeerAddress: 0x0012,
  Data: 0x0013,
  Realm: 0x0014,
  Nonce: 0x0015,
  XorRelayedAddress: 0x0016,
  RequestedAddressFamily: 0x0017,
  EvenPort: 0x0018,
  RequestedTransport: 0x0019,
  DontFragment: 0x001a,
  MessageIntegritySha256: 0x001c,
  PasswordAlgorithm: 0x001d,
  Userhash: 0x001e,
  XorMappedAddress: 0x0020,
  ReservationToken: 0x0022,
  Priority: 0x0024,
  UseCandidate: 0x0025,
  Padding: 0x0026,
  ResponsePort: 0x0027,
  PasswordAlgorithms: 0x8002,
  AlternateDomain: 0x8003,
  Software: 0x8022,
  AlternateServer: 0x8023,
  Fingerprint: 0x8028,
  IceControlled: 0x8029,
  IceControlling: 0x802a,
  ResponseOrigin: 0x802b,
  OtherAddress: 0x802c,
} as const;

/** Attribute types this codec understands (others are kept raw). */
const KNOWN = new Set<number>(Object.values(Attr));

/** Error codes used here (§14.8, RFC 8656 §18, RFC 8445 §16.1). */
export const StunErrorCode = {
  TryAlternate: 300,
  BadRequest: 400,
  Unauthenticated: 401,
  Forbidden: 403,
  UnknownAttribute: 420,
  AllocationMismatch: 437,
  StaleNonce: 438,
  AddressFamilyNotSupported: 440,
  WrongCredentials: 441,
  UnsupportedTransportProtocol: 442,
  PeerAddressFamilyMismatch: 443,
  AllocationQuotaReached: 486,
  RoleConflict: 487,
  ServerError: 500,
  InsufficientCapacity: 508,
} as const;

/** Password algorithms (§18.5). */
export const PasswordAlgorithm = { Md5: 0x0001, Sha256: 0x0002 } as const;

/** Text attributes are at most 763 bytes (§14.3, §14.8-§14.10); 513 for USERNAME. */
const MAX_TEXT = 763;
const MAX_USERNAME = 513;
const textEncoder = new TextEncoder();

/** Bounds on what we decode. */
const MAX_ATTRIBUTES = 128;

export type StunErrorKind =
  | 'GN_ERR_STUN_NOT_STUN'
  | 'GN_ERR_STUN_TRUNCATED'
  | 'GN_ERR_STUN_MALFORMED'
  | 'GN_ERR_STUN_ATTRIBUTE';

/** Input that is not a valid STUN message (or a bad attribute value). */
export class StunError extends GhostnetError {
  constructor(code: StunErrorKind, message: string) {
    super(code, message);
  }
}

/** One attribute as received: type, value (unpadded) and where it starts in the message. */
export interface StunAttribute {
  readonly type: number;
  readonly value: Uint8Array;
  /** Offset of the attribute's 4-byte header in the message. */
  readonly offset: number;
}

/** A decoded message. Typed getters read attributes on demand. */
export class StunMessage {
  constructor(
    readonly method: number,
    readonly cls: StunClassValue,
    readonly transactionId: Uint8Array,
    readonly attributes: readonly StunAttribute[],
    /** The exact bytes, for integrity and fingerprint checks. */
    readonly raw: Uint8Array,
  ) {}

  /** Transaction id as hex (a handy map key). */
  get id(): string {
    return Buffer.from(this.transactionId).toString('hex');
  }

  /** The first attribute of `type`, honouring §14.5: attributes after MESSAGE-INTEGRITY
   * other than MESSAGE-INTEGRITY-SHA256 and FINGERPRINT are ignored, and after
   * MESSAGE-INTEGRITY-SHA256 only FINGERPRINT counts. */
  get(type: number): Uint8Array | undefined {
    return this.visible().find((a) => a.type === type)?.value;
  }

  has(type: number): boolean {
    return this.get(type) !== undefined;
  }

  #visible: StunAttribute[] | undefined;

  /** Attributes that count (see `get`); computed once. */
  visible(): StunAttribute[] {
    if (this.#visible !== undefined) return this.#visible;
    const out: StunAttribute[] = [];
    let afterMi = false;
    let afterMi256 = false;
    for (const a of this.attributes) {
      if (afterMi256 && a.type !== Attr.Fingerprint) continue;
      if (afterMi && a.type !== Attr.MessageIntegritySha256 && a.type !== Attr.Fingerprint) {
        continue;
      }
      out.push(a);
      if (a.type === Attr.MessageIntegrity) afterMi = true;
      if (a.type === Attr.MessageIntegritySha256) afterMi256 = true;
    }
    this.#visible = out;
    return out;
  }

  /** Comprehension-required attributes (type < 0x8000) we do not understand (→ 420). */
  unknownRequired(): number[] {
    return this.visible()
      .map((a) => a.type)
      .filter((t) => t < 0x8000 && !KNOWN.has(t));
  }

  text(type: number): string | undefined {
    const v = this.get(type);
    return v === undefined ? undefined : new TextDecoder().decode(v);
  }

  xorAddress(type: number = Attr.XorMappedAddress): TransportAddress | undefined {
    const v = this.get(type);
    return v === undefined ? undefined : decodeXorAddress(v, this.transactionId);
  }

  address(type: number = Attr.MappedAddress): TransportAddress | undefined {
    const v = this.get(type);
    return v === undefined ? undefined : decodeAddress(v);
  }

  errorCode(): { code: number; reason: string } | undefined {
    const v = this.get(Attr.ErrorCode);
    return v === undefined ? undefined : decodeErrorCode(v);
  }

  uint32(type: number): number | undefined {
    const v = this.get(type);
    if (v === undefined) return undefined;
    if (v.length !== 4)
      throw new StunError(
        'GN_ERR_STUN_ATTRIBUTE',
        `attribute 0x${type.toString(16)} is not 4 bytes`,
      );
    return new DataView(v.buffer, v.byteOffset, 4).getUint32(0);
  }

  uint64(type: number): bigint | undefined {
    const v = this.get(type);
    if (v === undefined) return undefined;
    if (v.length !== 8)
      throw new StunError(
        'GN_ERR_STUN_ATTRIBUTE',
        `attribute 0x${type.toString(16)} is not 8 bytes`,
      );
    return new DataView(v.buffer, v.byteOffset, 8).getBigUint64(0);
  }

  /** §14.5: MESSAGE-INTEGRITY (HMAC-SHA1) under `key`. False when absent or wrong. */
  verifyIntegrity(key: Uint8Array): boolean {
    return this.#verifyMac(Attr.MessageIntegrity, key);
  }

  /** §14.6: MESSAGE-INTEGRITY-SHA256 under `key`. False when absent or wrong. */
  verifyIntegritySha256(key: Uint8Array): boolean {
    return this.#verifyMac(Attr.MessageIntegritySha256, key);
  }

  #verifyMac(type: number, key: Uint8Array): boolean {
    const attr = this.visible().find((a) => a.type === type);
    if (attr === undefined) return false;
    const sha256 = type === Attr.MessageIntegritySha256;
    const len = attr.value.length;
    if (sha256 ? len < 16 || len > 32 || len % 4 !== 0 : len !== 20) return false;
    const mac = macOver(this.raw, attr.offset, attr.offset + 4 + len, key, sha256).subarray(0, len);
    return timingSafeEqual(mac, attr.value);
  }

  /** §14.7: FINGERPRINT present, last, and matching. */
  verifyFingerprint(): boolean {
    const last = this.attributes.at(-1);
    if (last === undefined || last.type !== Attr.Fingerprint || last.value.length !== 4)
      return false;
    const expected = (crc32(this.raw.subarray(0, last.offset)) ^ FINGERPRINT_XOR) >>> 0;
    return new DataView(last.value.buffer, last.value.byteOffset, 4).getUint32(0) === expected;
  }
}

/** The message type field for `method` and `cls` (§5). */
export function encodeType(method: number, cls: number): number {
  if (!Number.isInteger(method) || method < 0 || method > 0xfff) {
    throw new InvalidOptionError('STUN method is 12 bits');
  }
  return (
    ((method & 0xf80) << 2) |
    ((method & 0x070) << 1) |
    (method & 0x00f) |
    ((cls & 2) << 7) |
    ((cls & 1) << 4)
  );
}

/** Splits a message type into method and class (§5). */
export function decodeType(type: number): { method: number; cls: StunClassValue } {
  const method = (type & 0x000f) | ((type >> 1) & 0x0070) | ((type >> 2) & 0x0f80);
  const cls = (((type >> 7) & 2) | ((type >> 4) & 1)) as StunClassValue;
  return { method, cls };
}

/**
 * Whether `buf` looks like a STUN message: top two bits zero, the magic cookie, a length
 * that is a multiple of 4 (RFC 8489 §5 / RFC 7983 demultiplexing).
 */
export function isStun(buf: Uint8Array): boolean {
  return (
    buf.length >= HEADER_SIZE &&
    (buf[0]! & 0xc0) === 0 &&
    buf[4] === 0x21 &&
    buf[5] === 0x12 &&
    buf[6] === 0xa4 &&
    buf[7] === 0x42 &&
    (buf[3]! & 3) === 0
  );
}

/** Decodes one STUN message (the whole of `buf`). */
export function decodeStun(buf: Uint8Array): StunMessage {
  if (buf.length < HEADER_SIZE) {
    throw new StunError(
      'GN_ERR_STUN_TRUNCATED',
      `${buf.length} bytes is shorter than a STUN header`,
    );
  }
  if (!isStun(buf)) {
    throw new StunError(
      'GN_ERR_STUN_NOT_STUN',
      'not a STUN message (leading bits, magic cookie or length)',
    );
  }
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const length = view.getUint16(2);
  if (HEADER_SIZE + length !== buf.length) {
    throw new StunError(
      'GN_ERR_STUN_TRUNCATED',
      `header announces ${length} attribute bytes but ${buf.length - HEADER_SIZE} arrived`,
    );
  }
  const { method, cls } = decodeType(view.getUint16(0));
  const attributes: StunAttribute[] = [];
  let at = HEADER_SIZE;
  while (at < buf.length) {
    if (at + 4 > buf.length)
      throw new StunError('GN_ERR_STUN_MALFORMED', 'truncated attribute header');
    const type = view.getUint16(at);
    const len = view.getUint16(at + 2);
    if (at + 4 + len > buf.length) {
      throw new StunError(
        'GN_ERR_STUN_MALFORMED',
        `attribute 0x${type.toString(16)} runs past the message`,
      );
    }
    if (attributes.length >= MAX_ATTRIBUTES) {
      throw new StunError('GN_ERR_STUN_MALFORMED', `more than ${MAX_ATTRIBUTES} attributes`);
    }
    attributes.push({ type, value: buf.subarray(at + 4, at + 4 + len), offset: at });
    at += 4 + ((len + 3) & ~3);
  }
  if (at !== buf.length)
    throw new StunError('GN_ERR_STUN_MALFORMED', 'attribute padding runs past the message');
  return new StunMessage(method, cls, buf.subarray(8, 20), attributes, buf);
}

// ---- attribute values ------------------------------------------------------------------

export interface TransportAddress {
  readonly address: string;
  readonly port: number;
  readonly family: 'IPv4' | 'IPv6';
}

/** Parsed addresses (servers answer the same clients again and again). Bounded. */
const ipCache = new Map<string, Uint8Array>();

function ipBytes(address: string): Uint8Array {
  const cached = ipCache.get(address);
  if (cached !== undefined) return cached;
  const bytes = parseIp(address);
  if (ipCache.size >= 1024) ipCache.delete(ipCache.keys().next().value!);
  ipCache.set(address, bytes);
  return bytes;
}

function parseIp(address: string): Uint8Array {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(address);
  if (v4 !== null) {
    const b = v4.slice(1).map(Number);
    if (b.every((x) => x <= 255)) return Uint8Array.from(b);
  }
  if (address.includes(':')) {
    const [head, tail] = address.includes('::') ? address.split('::') : [address, undefined];
    const h = head === '' ? [] : head!.split(':');
    const t = tail === undefined || tail === '' ? [] : tail.split(':');
    const groups =
      tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
    if (groups.length === 8 && groups.every((g) => /^[0-9a-fA-F]{1,4}$/.test(g))) {
      const out = new Uint8Array(16);
      groups.forEach((g, i) => {
        const v = parseInt(g, 16);
        out[2 * i] = v >>> 8;
        out[2 * i + 1] = v & 0xff;
      });
      return out;
    }
  }
  throw new InvalidOptionError(`not an IP address: ${address}`);
}

function ipText(b: Uint8Array): string {
  if (b.length === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((b[i]! << 8) | b[i + 1]!).toString(16));
  // Compress the longest run of zero groups (RFC 5952).
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen && j - i > 1) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

/** MAPPED-ADDRESS / ALTERNATE-SERVER / OTHER-ADDRESS / RESPONSE-ORIGIN value (§14.1). */
export function encodeAddress(a: { address: string; port: number }): Uint8Array {
  const ip = ipBytes(a.address);
  const out = new Uint8Array(4 + ip.length);
  out[1] = ip.length === 4 ? 1 : 2;
  out[2] = a.port >>> 8;
  out[3] = a.port & 0xff;
  out.set(ip, 4);
  return out;
}

export function decodeAddress(v: Uint8Array): TransportAddress {
  const family = v[1];
  if (v.length !== (family === 1 ? 8 : family === 2 ? 20 : -1)) {
    throw new StunError('GN_ERR_STUN_ATTRIBUTE', 'bad address attribute (family or length)');
  }
  return {
    address: ipText(v.subarray(4)),
    port: (v[2]! << 8) | v[3]!,
    family: family === 1 ? 'IPv4' : 'IPv6',
  };
}

function xorKey(transactionId: Uint8Array): Uint8Array {
  const k = new Uint8Array(16);
  k.set([0x21, 0x12, 0xa4, 0x42]);
  k.set(transactionId, 4);
  return k;
}

/** XOR-MAPPED-ADDRESS / XOR-PEER-ADDRESS / XOR-RELAYED-ADDRESS value (§14.2). */
export function encodeXorAddress(
  a: { address: string; port: number },
  transactionId: Uint8Array,
): Uint8Array {
  const out = encodeAddress(a);
  const k = xorKey(transactionId);
  out[2]! ^= 0x21;
  out[3]! ^= 0x12;
  for (let i = 4; i < out.length; i++) out[i]! ^= k[i - 4]!;
  return out;
}

export function decodeXorAddress(v: Uint8Array, transactionId: Uint8Array): TransportAddress {
  const plain = v.slice();
  if (plain.length === 8 || plain.length === 20) {
    const k = xorKey(transactionId);
    plain[2]! ^= 0x21;
    plain[3]! ^= 0x12;
    for (let i = 4; i < plain.length; i++) plain[i]! ^= k[i - 4]!;
  }
  return decodeAddress(plain);
}

/** ERROR-CODE value (§14.8): class × 100 + number, and a UTF-8 reason. */
export function encodeErrorCode(code: number, reason: string): Uint8Array {
  if (!Number.isInteger(code) || code < 300 || code > 699) {
    throw new InvalidOptionError('STUN error codes are 300..699');
  }
  const text = new TextEncoder().encode(reason).subarray(0, MAX_TEXT);
  const out = new Uint8Array(4 + text.length);
  out[2] = Math.floor(code / 100);
  out[3] = code % 100;
  out.set(text, 4);
  return out;
}

export function decodeErrorCode(v: Uint8Array): { code: number; reason: string } {
  if (v.length < 4) throw new StunError('GN_ERR_STUN_ATTRIBUTE', 'ERROR-CODE is too short');
  const cls = v[2]! & 7;
  const num = v[3]!;
  if (cls < 3 || cls > 6 || num > 99)
    throw new StunError('GN_ERR_STUN_ATTRIBUTE', 'ERROR-CODE out of range');
  return { code: cls * 100 + num, reason: new TextDecoder().decode(v.subarray(4)) };
}

/** UNKNOWN-ATTRIBUTES value (§14.13). */
export function encodeUnknownAttributes(types: readonly number[]): Uint8Array {
  const out = new Uint8Array(2 * types.length);
  types.forEach((t, i) => {
    out[2 * i] = t >>> 8;
    out[2 * i + 1] = t & 0xff;
  });
  return out;
}

export function decodeUnknownAttributes(v: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = 0; i + 1 < v.length; i += 2) out.push((v[i]! << 8) | v[i + 1]!);
  return out;
}

/** PASSWORD-ALGORITHMS value (§14.11): a list of algorithm numbers (no parameters). */
export function encodePasswordAlgorithms(algorithms: readonly number[]): Uint8Array {
  const out = new Uint8Array(4 * algorithms.length);
  algorithms.forEach((a, i) => {
    out[4 * i] = a >>> 8;
    out[4 * i + 1] = a & 0xff;
  });
  return out;
}

export function decodePasswordAlgorithms(v: Uint8Array): number[] {
  const out: number[] = [];
  let at = 0;
  while (at < v.length) {
    if (at + 4 > v.length)
      throw new StunError('GN_ERR_STUN_ATTRIBUTE', 'truncated PASSWORD-ALGORITHMS');
    const alg = (v[at]! << 8) | v[at + 1]!;
    const plen = (v[at + 2]! << 8) | v[at + 3]!;
    at += 4 + ((plen + 3) & ~3);
    if (at > v.length)
      throw new StunError('GN_ERR_STUN_ATTRIBUTE', 'truncated PASSWORD-ALGORITHMS');
    out.push(alg);
  }
  return out;
}

/** CHANGE-REQUEST flags (RFC 5780 §7.2). */
export const ChangeRequest = { ChangeIp: 0x4, ChangePort: 0x2 } as const;

// ---- keys ------------------------------------------------------------------------------

/** RFC 3454 table B.1: code points mapped to nothing. */
const MAPPED_TO_NOTHING = new Set<number>([
  0x00ad, 0x034f, 0x1806, 0x180b, 0x180c, 0x180d, 0x200b, 0x200c, 0x200d, 0x2060, 0xfe00, 0xfe01,
  0xfe02, 0xfe03, 0xfe04, 0xfe05, 0xfe06, 0xfe07, 0xfe08, 0xfe09, 0xfe0a, 0xfe0b, 0xfe0c, 0xfe0d,
  0xfe0e, 0xfe0f, 0xfeff,
]);

/**
 * SASLprep as RFC 8489's predecessors used it for credentials (RFC 4013): characters
 * mapped to nothing (RFC 3454 B.1) removed, non-ASCII spaces (C.1.2) mapped to a space,
 * NFKC normalization; control characters are refused. (RFC 8489 names OpaqueString, RFC
 * 8265; the two agree on ASCII, which is what interoperates.)
 */
export function saslprep(s: string): string {
  const mapped = [...s]
    .filter((ch) => !MAPPED_TO_NOTHING.has(ch.codePointAt(0)!))
    .join('')
    .replace(/[\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]/g, ' ')
    .normalize('NFKC');
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f]/.test(mapped)) {
    throw new InvalidOptionError('credentials must not contain control characters');
  }
  return mapped;
}

/** §9.1.1: the short-term credential key is the (prepared) password. */
export function shortTermKey(password: string): Uint8Array {
  return new TextEncoder().encode(saslprep(password));
}

/**
 * §9.2.2: the long-term credential key, MD5(username ":" realm ":" password) or, for
 * PASSWORD-ALGORITHM SHA-256, SHA-256 of the same string (§18.5.1.2).
 */
export function longTermKey(
  username: string,
  realm: string,
  password: string,
  algorithm: number = PasswordAlgorithm.Md5,
): Uint8Array {
  const input = `${username}:${saslprep(realm)}:${saslprep(password)}`;
  const hash =
    algorithm === PasswordAlgorithm.Sha256
      ? 'sha256'
      : algorithm === PasswordAlgorithm.Md5
        ? 'md5'
        : undefined;
  if (hash === undefined) throw new InvalidOptionError(`unknown password algorithm ${algorithm}`);
  return new Uint8Array(createHash(hash).update(input, 'utf8').digest());
}

/** §14.4: USERHASH = SHA-256(username ":" realm). */
export function userhash(username: string, realm: string): Uint8Array {
  return new Uint8Array(
    createHash('sha256')
      .update(`${username}:${saslprep(realm)}`, 'utf8')
      .digest(),
  );
}

/**
 * HMAC over `raw[0..end)` of a message whose integrity attribute starts at `end`, with the
 * header length rewritten to `lengthThrough - 20` (the message as if it ended right after
 * the integrity attribute: §14.5/§14.6).
 */
function macOver(
  raw: Uint8Array,
  end: number,
  lengthThrough: number,
  key: Uint8Array,
  sha256: boolean,
): Uint8Array {
  const header = raw.slice(0, 4);
  const len = lengthThrough - HEADER_SIZE;
  header[2] = len >>> 8;
  header[3] = len & 0xff;
  return new Uint8Array(
    createHmac(sha256 ? 'sha256' : 'sha1', key)
      .update(header)
      .update(raw.subarray(4, end))
      .digest(),
  );
}

// ---- building --------------------------------------------------------------------------

/** Builds a message attribute by attribute. */
export class StunBuilder {
  readonly transactionId: Uint8Array;
  #buf = new Uint8Array(128);
  #at = HEADER_SIZE;

  /**
   * @param transactionId 12 bytes (from a cryptographic random source for requests,
   *   §6.1; a response copies its request's).
   */
  constructor(method: number, cls: number, transactionId: Uint8Array) {
    if (transactionId.length !== 12)
      throw new InvalidOptionError('a STUN transaction id is 12 bytes');
    this.transactionId = transactionId;
    const type = encodeType(method, cls);
    this.#buf[0] = type >>> 8;
    this.#buf[1] = type & 0xff;
    this.#buf.set([0x21, 0x12, 0xa4, 0x42], 4);
    this.#buf.set(transactionId, 8);
  }

  #reserve(n: number): void {
    if (this.#at + n <= this.#buf.length) return;
    const next = new Uint8Array(Math.max(this.#buf.length * 2, this.#at + n));
    next.set(this.#buf.subarray(0, this.#at));
    this.#buf = next;
  }

  /** Appends an attribute (padding with zero bytes). */
  add(type: number, value: Uint8Array): this {
    if (value.length > 0xffff) throw new InvalidOptionError('attribute value over 65535 bytes');
    const padded = (value.length + 3) & ~3;
    this.#reserve(4 + padded);
    const b = this.#buf;
    b[this.#at] = type >>> 8;
    b[this.#at + 1] = type & 0xff;
    b[this.#at + 2] = value.length >>> 8;
    b[this.#at + 3] = value.length & 0xff;
    b.set(value, this.#at + 4);
    b.fill(0, this.#at + 4 + value.length, this.#at + 4 + padded);
    this.#at += 4 + padded;
    this.#setLength(this.#at);
    return this;
  }

  text(type: number, value: string): this {
    const bytes = textEncoder.encode(value);
    const max = type === Attr.Username ? MAX_USERNAME : MAX_TEXT;
    if (bytes.length > max) throw new InvalidOptionError(`attribute text over ${max} bytes`);
    return this.add(type, bytes);
  }

  uint32(type: number, v: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v >>> 0);
    return this.add(type, b);
  }

  uint64(type: number, v: bigint): this {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, v);
    return this.add(type, b);
  }

  xorAddress(type: number, a: { address: string; port: number }): this {
    return this.add(type, encodeXorAddress(a, this.transactionId));
  }

  address(type: number, a: { address: string; port: number }): this {
    return this.add(type, encodeAddress(a));
  }

  errorCode(code: number, reason: string): this {
    return this.add(Attr.ErrorCode, encodeErrorCode(code, reason));
  }

  /** §14.5: appends MESSAGE-INTEGRITY (HMAC-SHA1) under `key`. */
  integrity(key: Uint8Array): this {
    return this.#mac(Attr.MessageIntegrity, key, false);
  }

  /** §14.6: appends MESSAGE-INTEGRITY-SHA256 under `key`. */
  integritySha256(key: Uint8Array): this {
    return this.#mac(Attr.MessageIntegritySha256, key, true);
  }

  #mac(type: number, key: Uint8Array, sha256: boolean): this {
    const len = sha256 ? 32 : 20;
    const start = this.#at;
    const mac = macOver(this.#buf, start, start + 4 + len, key, sha256);
    return this.add(type, mac);
  }

  /** §14.7: appends FINGERPRINT (must be last). */
  fingerprint(): this {
    const start = this.#at;
    this.#setLength(start + 8);
    const crc = (crc32(this.#buf.subarray(0, start)) ^ FINGERPRINT_XOR) >>> 0;
    return this.uint32(Attr.Fingerprint, crc);
  }

  #setLength(end: number): void {
    const len = end - HEADER_SIZE;
    this.#buf[2] = len >>> 8;
    this.#buf[3] = len & 0xff;
  }

  build(): Uint8Array {
    return this.#buf.slice(0, this.#at);
  }
}
