/**
 * A TURN client core (RFC 8656) over UDP, sans-I/O: Allocate with long-term credentials
 * (§7.2: a 401 brings REALM and NONCE, the request is retried signed; a 438 brings a fresh
 * NONCE), Refresh before the allocation expires (§8) and with LIFETIME 0 to release it,
 * CreatePermission (§9, refreshed every 4 minutes of the 5 a permission lasts), Send and
 * Data indications (§11), ChannelBind (§12, refreshed every 9 minutes of the 10 a binding
 * lasts) and ChannelData (§12.4; first byte 0x40-0x4F, told apart from STUN by its top
 * bits). Requests are retransmitted as RFC 8489 §6.2.1 says; SHA-256 keys are used when the
 * server offers them (RFC 8489 §9.2.4), MD5 otherwise.
 */
import { GhostnetError, InvalidOptionError } from '../../../errors.js';
import type { PeerAddress, SocketAddress } from '../../../transport/types.js';
import {
  Attr,
  decodePasswordAlgorithms,
  decodeStun,
  encodePasswordAlgorithms,
  isStun,
  longTermKey,
  PasswordAlgorithm,
  StunBuilder,
  StunClass,
  StunErrorCode,
  StunMethod,
} from '../stun/codec.js';
import type { StunMessage, TransportAddress } from '../stun/codec.js';
import { StunResponseError } from '../stun/client.js';
import { StunTransactions } from '../stun/transaction.js';
import type { TransactionOptions } from '../stun/transaction.js';

/** §14.7: REQUESTED-TRANSPORT for UDP. */
const UDP = 17;
/** §9: permissions last 300 s; we refresh at 240 s. */
export const PERMISSION_LIFETIME_MS = 300_000;
export const PERMISSION_REFRESH_MS = 240_000;
/** §12: channel bindings last 600 s; we refresh at 540 s. */
export const CHANNEL_LIFETIME_MS = 600_000;
export const CHANNEL_REFRESH_MS = 540_000;
/** §12: channel numbers 0x4000-0x4FFF. */
export const MIN_CHANNEL = 0x4000;
export const MAX_CHANNEL = 0x4fff;

export interface TurnCredentials {
  readonly username: string;
  readonly password: string;
}

export interface TurnClientOptions extends TransactionOptions {
  readonly server: PeerAddress;
  readonly credentials: TurnCredentials;
  /** Allocation lifetime to ask for, in seconds. @default 600 (§7.2) */
  readonly lifetime?: number;
  /** SOFTWARE attribute. @default undefined */
  readonly software?: string;
}

export interface Allocation {
  readonly relayed: TransportAddress;
  readonly mapped: TransportAddress | undefined;
  /** Seconds granted. */
  readonly lifetime: number;
}

export type TurnEvent =
  | { readonly type: 'data'; readonly peer: TransportAddress; readonly data: Uint8Array }
  | { readonly type: 'allocation-lost'; readonly error: Error };

/** A TURN error that is not a STUN error response (e.g. no allocation). */
export class TurnError extends GhostnetError {}

type Done<T> = (err: Error | undefined, value?: T) => void;

interface Pending {
  method: number;
  build: (b: StunBuilder) => void;
  done: Done<StunMessage>;
  retried401: boolean;
  retried438: boolean;
}

/** Is `buf` ChannelData (§12.4)? Its first two bits are 01. */
export function isChannelData(buf: Uint8Array): boolean {
  return buf.length >= 4 && (buf[0]! & 0xc0) === 0x40;
}

/** One TURN allocation's client side. */
export class TurnClientCore {
  readonly server: PeerAddress;
  readonly #random: (n: number) => Uint8Array;
  readonly #credentials: TurnCredentials;
  readonly #lifetime: number;
  readonly #software: string | undefined;
  readonly #tx: StunTransactions;
  readonly #pending = new Map<string, Pending>();
  #realm: string | undefined;
  #nonce: string | undefined;
  #algorithm: number = PasswordAlgorithm.Md5;
  #algorithms: number[] | undefined;
  #key: Uint8Array | undefined;
  #allocation: Allocation | undefined;
  #allocationRefreshAt = Infinity;
  /** Peer IP → next refresh time. */
  readonly #permissions = new Map<string, number>();
  /** Channel number → peer; and "ip|port" → channel. */
  readonly #channels = new Map<number, { peer: PeerAddress; refreshAt: number; bound: boolean }>();
  readonly #channelByPeer = new Map<string, number>();
  #nextChannel = MIN_CHANNEL;
  #out: { data: Uint8Array; to: PeerAddress }[] = [];
  #events: TurnEvent[] = [];

  constructor(random: (n: number) => Uint8Array, options: TurnClientOptions) {
    this.server = options.server;
    this.#random = random;
    this.#credentials = options.credentials;
    this.#lifetime = options.lifetime ?? 600;
    this.#software = options.software;
    this.#tx = new StunTransactions(options);
    if (!Number.isInteger(this.#lifetime) || this.#lifetime < 0) {
      throw new InvalidOptionError('lifetime is a non-negative number of seconds');
    }
  }

  get allocation(): Allocation | undefined {
    return this.#allocation;
  }

  takeOutput(): { data: Uint8Array; to: PeerAddress }[] {
    for (const s of this.#tx.takeSends()) this.#out.push({ data: s.data, to: this.server });
    const out = this.#out;
    this.#out = [];
    return out;
  }

  takeEvents(): TurnEvent[] {
    const out = this.#events;
    this.#events = [];
    return out;
  }

  nextDeadline(): number | undefined {
    let t = Math.min(this.#tx.nextDeadline() ?? Infinity, this.#allocationRefreshAt);
    for (const at of this.#permissions.values()) t = Math.min(t, at);
    for (const c of this.#channels.values()) if (c.bound) t = Math.min(t, c.refreshAt);
    return Number.isFinite(t) ? t : undefined;
  }

  handleTimeout(now: number): void {
    this.#tx.handleTimeout(now);
    if (this.#allocation === undefined) return;
    if (now >= this.#allocationRefreshAt) {
      this.#allocationRefreshAt = Infinity;
      this.refresh(this.#lifetime, now, (err) => {
        if (err !== undefined) this.#lose(err);
      });
    }
    const due = [...this.#permissions].filter(([, at]) => now >= at).map(([ip]) => ip);
    if (due.length > 0) {
      for (const ip of due) this.#permissions.set(ip, Infinity);
      this.createPermission(due, now, () => {});
    }
    for (const [n, c] of this.#channels) {
      if (c.bound && now >= c.refreshAt) {
        c.refreshAt = Infinity;
        this.#channelBind(n, c.peer, now, () => {});
      }
    }
  }

  #lose(error: Error): void {
    if (this.#allocation === undefined) return;
    this.#allocation = undefined;
    this.#allocationRefreshAt = Infinity;
    this.#permissions.clear();
    this.#channels.clear();
    this.#channelByPeer.clear();
    this.#events.push({ type: 'allocation-lost', error });
  }

  /** §7.1: requests an allocation (UDP relay). */
  allocate(now: number, done: Done<Allocation>): void {
    if (this.#allocation !== undefined) {
      done(new TurnError('GN_ERR_TURN_STATE', 'already allocated'));
      return;
    }
    this.#request(
      StunMethod.Allocate,
      (b) => {
        b.uint32(Attr.RequestedTransport, UDP << 24);
        if (this.#lifetime !== 600) b.uint32(Attr.Lifetime, this.#lifetime);
      },
      now,
      (err, m) => {
        if (err !== undefined) {
          done(err);
          return;
        }
        const relayed = m!.xorAddress(Attr.XorRelayedAddress);
        if (relayed === undefined) {
          done(
            new TurnError('GN_ERR_TURN_RESPONSE', 'Allocate success without XOR-RELAYED-ADDRESS'),
          );
          return;
        }
        const lifetime = m!.uint32(Attr.Lifetime) ?? this.#lifetime;
        this.#allocation = { relayed, mapped: m!.xorAddress(Attr.XorMappedAddress), lifetime };
        this.#scheduleRefresh(lifetime, now);
        done(undefined, this.#allocation);
      },
    );
  }

  #scheduleRefresh(lifetime: number, now: number): void {
    // Refresh a minute before expiry (or halfway for short lifetimes).
    const ms = lifetime * 1000;
    this.#allocationRefreshAt = now + Math.max(ms / 2, ms - 60_000);
  }

  /** §8: refreshes the allocation; `lifetime` 0 deletes it. */
  refresh(lifetime: number, now: number, done: Done<number>): void {
    this.#request(
      StunMethod.Refresh,
      (b) => b.uint32(Attr.Lifetime, lifetime),
      now,
      (err, m) => {
        if (err !== undefined) {
          // §8: a 437 on a refresh means the allocation is gone.
          if (err instanceof StunResponseError && err.status === StunErrorCode.AllocationMismatch) {
            this.#lose(err);
          }
          done(err);
          return;
        }
        const granted = m!.uint32(Attr.Lifetime) ?? lifetime;
        if (lifetime === 0) {
          this.#allocation = undefined;
          this.#allocationRefreshAt = Infinity;
          this.#permissions.clear();
          this.#channels.clear();
          this.#channelByPeer.clear();
        } else if (this.#allocation !== undefined) {
          this.#allocation = { ...this.#allocation, lifetime: granted };
          this.#scheduleRefresh(granted, now);
        }
        done(undefined, granted);
      },
    );
  }

  /** Releases the allocation (Refresh with LIFETIME 0). */
  release(now: number, done: Done<void>): void {
    if (this.#allocation === undefined) {
      done(undefined);
      return;
    }
    this.refresh(0, now, (err) => done(err));
  }

  /** §9: installs permissions for these peer IPs. */
  createPermission(ips: readonly string[], now: number, done: Done<void>): void {
    if (this.#allocation === undefined) {
      done(new TurnError('GN_ERR_TURN_STATE', 'no allocation'));
      return;
    }
    this.#request(
      StunMethod.CreatePermission,
      (b) => {
        for (const ip of ips) b.xorAddress(Attr.XorPeerAddress, { address: ip, port: 0 });
      },
      now,
      (err) => {
        if (err === undefined)
          for (const ip of ips) this.#permissions.set(ip, now + PERMISSION_REFRESH_MS);
        done(err);
      },
    );
  }

  /** §12: binds a channel to `peer` (which also installs its permission). */
  channelBind(peer: PeerAddress, now: number, done: Done<number>): void {
    if (this.#allocation === undefined) {
      done(new TurnError('GN_ERR_TURN_STATE', 'no allocation'));
      return;
    }
    const key = `${peer.address}|${peer.port}`;
    let n = this.#channelByPeer.get(key);
    if (n === undefined) {
      if (this.#nextChannel > MAX_CHANNEL) {
        done(new TurnError('GN_ERR_TURN_STATE', 'out of channel numbers'));
        return;
      }
      n = this.#nextChannel++;
      this.#channels.set(n, { peer, refreshAt: Infinity, bound: false });
      this.#channelByPeer.set(key, n);
    }
    this.#channelBind(n, peer, now, done);
  }

  #channelBind(n: number, peer: PeerAddress, now: number, done: Done<number>): void {
    this.#request(
      StunMethod.ChannelBind,
      (b) => {
        b.uint32(Attr.ChannelNumber, n << 16);
        b.xorAddress(Attr.XorPeerAddress, peer);
      },
      now,
      (err) => {
        const c = this.#channels.get(n);
        if (err === undefined && c !== undefined) {
          c.bound = true;
          c.refreshAt = now + CHANNEL_REFRESH_MS;
          this.#permissions.set(peer.address, now + PERMISSION_REFRESH_MS);
        }
        done(err, n);
      },
    );
  }

  /**
   * Sends `data` to `peer` through the relay: as ChannelData when a channel is bound,
   * otherwise in a Send indication (§11.1). The peer needs a permission.
   */
  send(peer: PeerAddress, data: Uint8Array): void {
    if (this.#allocation === undefined) throw new TurnError('GN_ERR_TURN_STATE', 'no allocation');
    const n = this.#channelByPeer.get(`${peer.address}|${peer.port}`);
    const c = n === undefined ? undefined : this.#channels.get(n);
    if (n !== undefined && c?.bound === true) {
      if (data.length > 0xffff)
        throw new InvalidOptionError('ChannelData carries at most 65535 bytes');
      const out = new Uint8Array(4 + data.length);
      out[0] = n >>> 8;
      out[1] = n & 0xff;
      out[2] = data.length >>> 8;
      out[3] = data.length & 0xff;
      out.set(data, 4);
      this.#out.push({ data: out, to: this.server });
      return;
    }
    const b = new StunBuilder(StunMethod.Send, StunClass.Indication, this.#random(12));
    b.xorAddress(Attr.XorPeerAddress, peer).add(Attr.Data, data);
    this.#out.push({ data: b.build(), to: this.server });
  }

  /** A datagram arrived. Returns true when it was for this client. */
  receive(data: Uint8Array, from: SocketAddress | PeerAddress, now: number): boolean {
    if (from.address !== this.server.address || from.port !== this.server.port) return false;
    if (isChannelData(data)) {
      const n = (data[0]! << 8) | data[1]!;
      const len = (data[2]! << 8) | data[3]!;
      const c = this.#channels.get(n);
      if (c === undefined || 4 + len > data.length) return true; // unknown or truncated: drop
      this.#events.push({
        type: 'data',
        peer: { ...c.peer, family: c.peer.address.includes(':') ? 'IPv6' : 'IPv4' },
        data: data.slice(4, 4 + len),
      });
      return true;
    }
    if (!isStun(data)) return false;
    let m: StunMessage;
    try {
      m = decodeStun(data);
    } catch {
      return false;
    }
    if (m.cls === StunClass.Indication && m.method === StunMethod.Data) {
      try {
        const peer = m.xorAddress(Attr.XorPeerAddress);
        const payload = m.get(Attr.Data);
        if (peer !== undefined && payload !== undefined) {
          this.#events.push({ type: 'data', peer, data: payload.slice() });
        }
      } catch {
        // A malformed Data indication is dropped.
      }
      return true;
    }
    if (m.cls !== StunClass.Success && m.cls !== StunClass.Error) return false;
    const p = this.#pending.get(m.id);
    if (p === undefined) return false;
    // §7.3 of RFC 8489: responses to signed requests must be signed with the same key.
    if (this.#key !== undefined && this.#signed.has(m.id)) {
      const ok =
        this.#algorithms !== undefined
          ? m.verifyIntegritySha256(this.#key) || m.verifyIntegrity(this.#key)
          : m.verifyIntegrity(this.#key);
      if (!ok && m.cls === StunClass.Success) return true; // forged or corrupted: ignore
    }
    this.#pending.delete(m.id);
    this.#signed.delete(m.id);
    this.#tx.complete(m.id, now);
    if (m.cls === StunClass.Success) {
      p.done(undefined, m);
      return true;
    }
    const e = safeError(m);
    if (e.code === StunErrorCode.Unauthenticated && !p.retried401) {
      this.#challenge(m);
      this.#request(p.method, p.build, now, p.done, { retried401: true, retried438: p.retried438 });
      return true;
    }
    if (e.code === StunErrorCode.StaleNonce && !p.retried438) {
      this.#challenge(m);
      this.#request(p.method, p.build, now, p.done, { retried401: p.retried401, retried438: true });
      return true;
    }
    p.done(new StunResponseError(e.code, e.reason, m));
    return true;
  }

  readonly #signed = new Set<string>();

  /** Takes REALM, NONCE and PASSWORD-ALGORITHMS from a 401/438 (RFC 8489 §9.2.5). */
  #challenge(m: StunMessage): void {
    const realm = m.text(Attr.Realm);
    const nonce = m.text(Attr.Nonce);
    if (realm !== undefined) this.#realm = realm;
    if (nonce !== undefined) this.#nonce = nonce;
    const algs = m.get(Attr.PasswordAlgorithms);
    if (algs !== undefined) {
      try {
        this.#algorithms = decodePasswordAlgorithms(algs);
        this.#algorithm = this.#algorithms.includes(PasswordAlgorithm.Sha256)
          ? PasswordAlgorithm.Sha256
          : PasswordAlgorithm.Md5;
      } catch {
        this.#algorithms = undefined;
      }
    }
    if (this.#realm !== undefined) {
      this.#key = longTermKey(
        this.#credentials.username,
        this.#realm,
        this.#credentials.password,
        this.#algorithm,
      );
    }
  }

  #request(
    method: number,
    build: (b: StunBuilder) => void,
    now: number,
    done: Done<StunMessage>,
    flags = { retried401: false, retried438: false },
  ): void {
    const id = this.#random(12);
    const b = new StunBuilder(method, StunClass.Request, id);
    build(b);
    if (this.#software !== undefined) b.text(Attr.Software, this.#software);
    const key = Buffer.from(id).toString('hex');
    if (this.#key !== undefined && this.#realm !== undefined && this.#nonce !== undefined) {
      b.text(Attr.Username, this.#credentials.username);
      b.text(Attr.Realm, this.#realm);
      b.text(Attr.Nonce, this.#nonce);
      if (this.#algorithms !== undefined) {
        b.add(Attr.PasswordAlgorithms, encodePasswordAlgorithms(this.#algorithms));
        b.add(Attr.PasswordAlgorithm, encodePasswordAlgorithms([this.#algorithm]));
        b.integritySha256(this.#key);
      } else {
        b.integrity(this.#key);
      }
      this.#signed.add(key);
    }
    b.fingerprint();
    const data = b.build();
    this.#pending.set(key, { method, build, done, ...flags });
    this.#tx.start(key, `${this.server.address}|${this.server.port}`, data, now, (err) => {
      if (err === undefined) return;
      this.#pending.delete(key);
      this.#signed.delete(key);
      done(err);
    });
  }
}

function safeError(m: StunMessage): { code: number; reason: string } {
  try {
    return m.errorCode() ?? { code: 500, reason: 'error response without ERROR-CODE' };
  } catch {
    return { code: 500, reason: 'malformed ERROR-CODE' };
  }
}
