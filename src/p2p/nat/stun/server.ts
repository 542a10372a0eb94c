/**
 * A STUN server core (RFC 8489 §6.3, RFC 5780 §6), sans-I/O: Binding requests in,
 * responses out. It answers with XOR-MAPPED-ADDRESS (RFC 3489 clients, without the magic
 * cookie, are not served), plus RESPONSE-ORIGIN and OTHER-ADDRESS when it knows its
 * alternate address, and honours
 * CHANGE-REQUEST by answering from the alternate IP and/or port. A request with unknown
 * comprehension-required attributes gets 420 with UNKNOWN-ATTRIBUTES (§6.3.1.1); other
 * methods get 400 (§6.3.1); indications and responses are dropped. FINGERPRINT is added
 * when the request had one (§7.3). Nothing is kept per client, so a flood costs only CPU.
 */
import type { PeerAddress, SocketAddress } from '../../../transport/types.js';
import {
  Attr,
  ChangeRequest,
  decodeStun,
  encodeUnknownAttributes,
  HEADER_SIZE,
  MAGIC_COOKIE,
  StunBuilder,
  StunClass,
  StunErrorCode,
  StunMethod,
} from './codec.js';
import type { StunMessage } from './codec.js';

/** Which of the server's (up to four) sockets a response leaves from. */
export type StunServerSocket = 'primary' | 'alt-port' | 'alt-ip' | 'alt-both';

export interface StunServerOptions {
  /** Our primary address, for RESPONSE-ORIGIN. */
  readonly primary?: PeerAddress;
  /**
   * The alternate IP and port (RFC 5780): with both, OTHER-ADDRESS is sent and CHANGE-REQUEST
   * is honoured. Without, CHANGE-REQUEST is answered 420 as an unknown attribute would be.
   */
  readonly alternate?: { readonly address: string; readonly port: number };
  /** SOFTWARE attribute. @default 'ghostnet' */
  readonly software?: string | false;
}

export interface StunServerOutput {
  readonly data: Uint8Array;
  readonly to: PeerAddress;
  readonly via: StunServerSocket;
}

export interface StunServerStats {
  requests: number;
  responses: number;
  errors: number;
  dropped: number;
}

export class StunServerCore {
  readonly #options: StunServerOptions;
  #out: StunServerOutput[] = [];
  readonly #stats: StunServerStats = { requests: 0, responses: 0, errors: 0, dropped: 0 };

  readonly #softwareBytes: Uint8Array | undefined;
  /** Per socket: the attributes after XOR-MAPPED-ADDRESS in a bare Binding answer. */
  readonly #tails = new Map<StunServerSocket, Uint8Array>();

  constructor(options: StunServerOptions = {}) {
    this.#options = options;
    const sw = options.software ?? 'ghostnet';
    this.#softwareBytes = sw === false ? undefined : new TextEncoder().encode(sw).subarray(0, 763);
  }

  stats(): StunServerStats {
    return { ...this.#stats };
  }

  takeOutput(): StunServerOutput[] {
    const out = this.#out;
    this.#out = [];
    return out;
  }

  /**
   * A datagram arrived on socket `on` from `from`. Returns the response (also queued in
   * `takeOutput`), or undefined when nothing is sent.
   */
  receive(
    data: Uint8Array,
    from: SocketAddress | PeerAddress,
    on: StunServerSocket = 'primary',
  ): StunServerOutput | undefined {
    if (
      data.length === HEADER_SIZE &&
      data[0] === 0x00 &&
      data[1] === 0x01 && // Binding request (RFC 8489 §5, §18.2)
      data[2] === 0x00 &&
      data[3] === 0x00 && // no attributes
      data[4] === 0x21 &&
      data[5] === 0x12 &&
      data[6] === 0xa4 &&
      data[7] === 0x42 // magic cookie (§6)
    ) {
      const out = this.#bareBinding(data, from, on);
      if (out !== undefined) return out;
    }
    let req: StunMessage;
    try {
      req = decodeStun(data);
    } catch {
      this.#stats.dropped++;
      return undefined;
    }
    if (req.cls !== StunClass.Request) {
      this.#stats.dropped++;
      return undefined;
    }
    this.#stats.requests++;
    const fingerprint = req.has(Attr.Fingerprint);
    if (fingerprint && !req.verifyFingerprint()) {
      this.#stats.dropped++;
      return undefined; // §7.3: a bad FINGERPRINT means it is not for us.
    }
    const alt = this.#options.alternate;
    const unknown = req.unknownRequired();
    if (alt === undefined && req.has(Attr.ChangeRequest)) unknown.push(Attr.ChangeRequest);
    if (unknown.length > 0) {
      return this.#error(req, from, on, StunErrorCode.UnknownAttribute, 'Unknown Attribute', (b) =>
        b.add(Attr.UnknownAttributes, encodeUnknownAttributes(unknown)),
      );
    }
    if (req.method !== StunMethod.Binding) {
      return this.#error(req, from, on, StunErrorCode.BadRequest, 'Bad Request: only Binding');
    }
    let via: StunServerSocket = on;
    const change = req.has(Attr.ChangeRequest) ? (req.uint32(Attr.ChangeRequest) ?? 0) : 0;
    if (alt !== undefined && change !== 0) {
      const ip = (change & ChangeRequest.ChangeIp) !== 0;
      const port = (change & ChangeRequest.ChangePort) !== 0;
      via = flip(on, ip, port);
    }
    const b = new StunBuilder(StunMethod.Binding, StunClass.Success, req.transactionId);
    b.xorAddress(Attr.XorMappedAddress, from);
    this.#socketAttributes(b, on, via);
    if (fingerprint) b.fingerprint();
    const out = { data: b.build(), to: { address: from.address, port: from.port }, via };
    this.#stats.responses++;
    this.#out.push(out);
    return out;
  }

  /**
   * The common case, answered without the general codec: a Binding request with no
   * attributes (what clients send to learn or keep their mapping) from an IPv4 address.
   * The answer is byte for byte what the general path builds — XOR-MAPPED-ADDRESS, then
   * the attributes that depend only on the socket (RESPONSE-ORIGIN, OTHER-ADDRESS,
   * SOFTWARE), cached per socket. Returns undefined to leave the request to the general
   * path (IPv6, or an address that is not dotted-quad).
   */
  #bareBinding(
    data: Uint8Array,
    from: SocketAddress | PeerAddress,
    on: StunServerSocket,
  ): StunServerOutput | undefined {
    const ip = parseIpv4(from.address);
    if (ip < 0) return undefined;
    let tail = this.#tails.get(on);
    if (tail === undefined) {
      // Build the same message the general path would for this socket, keep what follows
      // the 12-byte XOR-MAPPED-ADDRESS.
      const b = new StunBuilder(StunMethod.Binding, StunClass.Success, data.subarray(8, 20));
      b.xorAddress(Attr.XorMappedAddress, { address: '0.0.0.0', port: 1 });
      this.#socketAttributes(b, on, on);
      tail = b.build().slice(HEADER_SIZE + 12);
      this.#tails.set(on, tail);
    }
    const length = 12 + tail.length;
    const res = Buffer.allocUnsafe(HEADER_SIZE + length);
    res[0] = 0x01;
    res[1] = 0x01; // Binding success response
    res[2] = length >>> 8;
    res[3] = length & 0xff;
    res.set(data.subarray(4, 20), 4); // magic cookie and transaction ID
    // XOR-MAPPED-ADDRESS (§14.2): family 1, port ^ 0x2112, address ^ magic cookie.
    res[20] = 0x00;
    res[21] = 0x20;
    res[22] = 0x00;
    res[23] = 0x08;
    res[24] = 0x00;
    res[25] = 0x01;
    const xport = from.port ^ (MAGIC_COOKIE >>> 16);
    res[26] = xport >>> 8;
    res[27] = xport & 0xff;
    const xip = (ip ^ MAGIC_COOKIE) >>> 0;
    res[28] = xip >>> 24;
    res[29] = (xip >>> 16) & 0xff;
    res[30] = (xip >>> 8) & 0xff;
    res[31] = xip & 0xff;
    res.set(tail, 32);
    this.#stats.requests++;
    this.#stats.responses++;
    const out = { data: res, to: { address: from.address, port: from.port }, via: on };
    this.#out.push(out);
    return out;
  }

  /** RESPONSE-ORIGIN, OTHER-ADDRESS and SOFTWARE of an answer leaving `via`. */
  #socketAttributes(b: StunBuilder, on: StunServerSocket, via: StunServerSocket): void {
    const origin = this.#address(via);
    if (origin !== undefined) b.address(Attr.ResponseOrigin, origin);
    if (this.#options.alternate !== undefined) {
      const other = this.#address(flip(on, true, true));
      if (other !== undefined) b.address(Attr.OtherAddress, other);
    }
    this.#software(b);
  }

  #address(s: StunServerSocket): PeerAddress | undefined {
    const p = this.#options.primary;
    const a = this.#options.alternate;
    if (p === undefined) return undefined;
    if (s === 'primary') return p;
    if (a === undefined) return undefined;
    return {
      address: s === 'alt-ip' || s === 'alt-both' ? a.address : p.address,
      port: s === 'alt-port' || s === 'alt-both' ? a.port : p.port,
    };
  }

  #software(b: StunBuilder): void {
    if (this.#softwareBytes !== undefined) b.add(Attr.Software, this.#softwareBytes);
  }

  #error(
    req: StunMessage,
    from: PeerAddress,
    on: StunServerSocket,
    code: number,
    reason: string,
    extra?: (b: StunBuilder) => void,
  ): StunServerOutput {
    const b = new StunBuilder(req.method, StunClass.Error, req.transactionId);
    b.errorCode(code, reason);
    extra?.(b);
    this.#software(b);
    if (req.has(Attr.Fingerprint)) b.fingerprint();
    const out = { data: b.build(), to: { address: from.address, port: from.port }, via: on };
    this.#stats.errors++;
    this.#out.push(out);
    return out;
  }
}

/** The socket reached by changing the IP and/or port from `s`. */
function flip(s: StunServerSocket, ip: boolean, port: boolean): StunServerSocket {
  let hasIp = s === 'alt-ip' || s === 'alt-both';
  let hasPort = s === 'alt-port' || s === 'alt-both';
  if (ip) hasIp = !hasIp;
  if (port) hasPort = !hasPort;
  return hasIp ? (hasPort ? 'alt-both' : 'alt-ip') : hasPort ? 'alt-port' : 'primary';
}

/** A dotted-quad IPv4 address as an unsigned 32-bit number, or -1. */
function parseIpv4(address: string): number {
  let value = 0;
  let part = -1;
  let parts = 0;
  for (let i = 0; i <= address.length; i++) {
    const c = i < address.length ? address.charCodeAt(i) : 0x2e;
    if (c === 0x2e) {
      if (part < 0 || ++parts > 4) return -1;
      value = value * 256 + part;
      part = -1;
    } else if (c >= 0x30 && c <= 0x39) {
      if (part === 0) return -1; // no leading zeros
      part = (part < 0 ? 0 : part * 10) + (c - 0x30);
      if (part > 255) return -1;
    } else {
      return -1;
    }
  }
  return parts === 4 ? value : -1;
}
