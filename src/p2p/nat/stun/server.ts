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
    const origin = this.#address(via);
    if (origin !== undefined) b.address(Attr.ResponseOrigin, origin);
    if (alt !== undefined) {
      const other = this.#address(flip(on, true, true));
      if (other !== undefined) b.address(Attr.OtherAddress, other);
    }
    this.#software(b);
    if (fingerprint) b.fingerprint();
    const out = { data: b.build(), to: { address: from.address, port: from.port }, via };
    this.#stats.responses++;
    this.#out.push(out);
    return out;
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
