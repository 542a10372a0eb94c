/**
 * An ICE agent (RFC 8445) for one data stream with one component on one local socket,
 * sans-I/O: gathering (host, and server-reflexive through STUN servers), connectivity
 * checks paced every Ta with triggered checks first, peer-reflexive candidates, regular
 * nomination by the controlling agent, role-conflict repair (§7.3.1.1), consent freshness
 * (RFC 7675), and trickle (candidates in and out at any time). Once a pair is selected the
 * agent carries application datagrams on it: `send()` out, `data` events in.
 *
 * A relayed candidate comes from a TURN allocation (RFC 8656) on the same socket: checks
 * and data from it go out as Send indications, and what the relay delivers is handled as
 * if it had arrived from the peer directly. Not done: several components or streams,
 * aggressive nomination.
 */
import { randomBytes } from 'node:crypto';
import { InvalidOptionError } from '../../../errors.js';
import type { PeerAddress, SocketAddress } from '../../../transport/types.js';
import {
  Attr,
  decodeStun,
  isStun,
  shortTermKey,
  StunBuilder,
  StunClass,
  StunErrorCode,
  StunMethod,
} from '../stun/codec.js';
import type { StunMessage } from '../stun/codec.js';
import { StunTransactions } from '../stun/transaction.js';
import { TurnClientCore } from '../turn/client.js';
import type { TurnCredentials } from '../turn/client.js';
import {
  candidateFoundation,
  candidatePriority,
  formatCandidate,
  pairPriority,
  resolveRoleConflict,
} from './candidates.js';
import type { Candidate } from './candidates.js';

export type IceState = 'new' | 'checking' | 'connected' | 'failed' | 'closed';

export interface IceAgentOptions {
  readonly controlling: boolean;
  /** Our socket's address (the host candidate's base). */
  readonly local: PeerAddress;
  /** STUN servers for server-reflexive candidates. */
  readonly stunServers?: readonly PeerAddress[];
  /** §14.2: pacing of checks. @default 50 */
  readonly taMs?: number;
  /** Check retransmission RTO. @default 500 (§14.3) */
  readonly rtoMs?: number;
  /** Sends per check. @default 7 */
  readonly rc?: number;
  /** Give up when nothing succeeded this long after checks began. @default 30000 */
  readonly checkTimeoutMs?: number;
  /** RFC 7675: consent checks every 5 s (randomized ±20%), lost after 30 s. */
  readonly consentIntervalMs?: number;
  readonly consentTimeoutMs?: number;
  /** How long the controlling agent waits for a better pair after the first success. @default 1000 */
  readonly nominationDelayMs?: number;
  /** A TURN server for a relayed candidate (RFC 8656). */
  readonly turn?: { readonly server: PeerAddress; readonly credentials: TurnCredentials };
  /** 'relay' pairs only the relayed candidate (like iceTransportPolicy 'relay'). @default 'all' */
  readonly policy?: 'all' | 'relay';
  /** Random source (ufrag, pwd, tie-breaker, transaction ids). */
  readonly random?: (n: number) => Uint8Array;
}

export type IceEvent =
  | { readonly type: 'candidate'; readonly candidate: Candidate; readonly sdp: string }
  | { readonly type: 'gathering-complete' }
  | { readonly type: 'state'; readonly state: IceState }
  | { readonly type: 'selected'; readonly local: Candidate; readonly remote: Candidate }
  | { readonly type: 'data'; readonly data: Uint8Array; readonly from: PeerAddress };

interface Pair {
  local: Candidate;
  remote: Candidate;
  priority: bigint;
  state: 'waiting' | 'in-progress' | 'succeeded' | 'failed';
  nominated: boolean;
  /** The controlled side saw USE-CANDIDATE for it. */
  useCandidateSeen: boolean;
}

type Pending =
  | { kind: 'check'; pair: Pair; useCandidate: boolean }
  | { kind: 'consent'; pair: Pair }
  | { kind: 'gather'; server: PeerAddress };

const ICE_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

function iceString(random: (n: number) => Uint8Array, length: number): string {
  return [...random(length)].map((b) => ICE_CHARS[b & 63]).join('');
}

const key = (a: PeerAddress): string => `${a.address}|${a.port}`;

/** One ICE agent. */
export class IceAgentCore {
  readonly ufrag: string;
  readonly pwd: string;
  #controlling: boolean;
  readonly #tieBreaker: bigint;
  readonly #random: (n: number) => Uint8Array;
  readonly #local: PeerAddress;
  readonly #stunServers: readonly PeerAddress[];
  readonly #ta: number;
  readonly #checkTimeout: number;
  readonly #consentInterval: number;
  readonly #consentTimeout: number;
  readonly #tx: StunTransactions;
  readonly #pending = new Map<string, Pending>();
  #remoteUfrag: string | undefined;
  #remotePwd: string | undefined;
  readonly #locals: Candidate[] = [];
  readonly #remotes: Candidate[] = [];
  readonly #pairs: Pair[] = [];
  readonly #triggered: Pair[] = [];
  #selected: Pair | undefined;
  #state: IceState = 'new';
  #nextCheck = Infinity;
  #checksSince = Infinity;
  #firstSuccess = Infinity;
  /** The time of the input being handled (for callbacks that fire inside it). */
  #now = 0;
  readonly #nominationDelay: number;
  #consentAt = Infinity;
  #consentOk = 0;
  #gathering = 0;
  #events: IceEvent[] = [];
  #out: { data: Uint8Array; to: PeerAddress }[] = [];
  readonly #turn: TurnClientCore | undefined;
  readonly #policy: 'all' | 'relay';

  constructor(options: IceAgentOptions) {
    this.#random = options.random ?? ((n) => new Uint8Array(randomBytes(n)));
    this.#controlling = options.controlling;
    const tb = this.#random(8);
    this.#tieBreaker = new DataView(tb.buffer, tb.byteOffset, 8).getBigUint64(0);
    // RFC 8445 §5.3: ufrag ≥ 4 and pwd ≥ 22 ice-chars.
    this.ufrag = iceString(this.#random, 8);
    this.pwd = iceString(this.#random, 24);
    this.#local = options.local;
    this.#stunServers = options.stunServers ?? [];
    this.#ta = options.taMs ?? 50;
    this.#checkTimeout = options.checkTimeoutMs ?? 30_000;
    this.#consentInterval = options.consentIntervalMs ?? 5000;
    this.#consentTimeout = options.consentTimeoutMs ?? 30_000;
    this.#nominationDelay = options.nominationDelayMs ?? 1000;
    this.#tx = new StunTransactions({
      rto: options.rtoMs ?? 500,
      minRto: Math.min(options.rtoMs ?? 500, 500),
      rc: options.rc ?? 7,
      maxOutstanding: 1000,
    });
    if (this.#ta < 5) throw new InvalidOptionError('Ta must be at least 5 ms (RFC 8445 §14.2)');
    this.#policy = options.policy ?? 'all';
    this.#turn =
      options.turn === undefined
        ? undefined
        : new TurnClientCore(this.#random, {
            server: options.turn.server,
            credentials: options.turn.credentials,
          });
    if (this.#policy === 'relay' && this.#turn === undefined) {
      throw new InvalidOptionError("policy 'relay' needs a turn server");
    }
  }

  get state(): IceState {
    return this.#state;
  }

  get controlling(): boolean {
    return this.#controlling;
  }

  /** The selected pair once connected. */
  get selected(): { local: Candidate; remote: Candidate } | undefined {
    return this.#selected === undefined
      ? undefined
      : { local: this.#selected.local, remote: this.#selected.remote };
  }

  /** The checklist, for diagnostics: each pair's candidates and state. */
  pairs(): { local: string; remote: string; state: string; nominated: boolean }[] {
    return this.#pairs.map((p) => ({
      local: `${p.local.type} ${p.local.address}:${p.local.port}`,
      remote: `${p.remote.type} ${p.remote.address}:${p.remote.port}`,
      state: p.state,
      nominated: p.nominated,
    }));
  }

  localCandidates(): Candidate[] {
    return [...this.#locals];
  }

  takeEvents(): IceEvent[] {
    const out = this.#events;
    this.#events = [];
    return out;
  }

  takeOutput(): { data: Uint8Array; to: PeerAddress }[] {
    for (const s of this.#tx.takeSends()) {
      const p = this.#pending.get(s.id);
      if (p === undefined) continue;
      if (p.kind === 'gather')
        this.#out.push({ data: s.data, to: { address: p.server.address, port: p.server.port } });
      else this.#sendOn(p.pair.local, p.pair.remote, s.data);
    }
    if (this.#turn !== undefined) this.#out.push(...this.#turn.takeOutput());
    const out = this.#out;
    this.#out = [];
    return out;
  }

  /** Sends from `local` (directly, or through the relay for a relayed candidate). */
  #sendOn(local: Candidate, to: PeerAddress, data: Uint8Array): void {
    if (local.type === 'relay' && this.#turn !== undefined) {
      if (this.#turn.allocation !== undefined)
        this.#turn.send({ address: to.address, port: to.port }, data);
      return;
    }
    this.#out.push({ data, to: { address: to.address, port: to.port } });
  }

  /** Starts gathering: the host candidate at once, srflx ones as STUN answers arrive. */
  gather(now: number): void {
    this.#now = now;
    const host: Candidate = {
      foundation: candidateFoundation('host', this.#local.address),
      component: 1,
      transport: 'udp',
      priority: candidatePriority('host', 65535),
      address: this.#local.address,
      port: this.#local.port,
      type: 'host',
    };
    this.#addLocal(host, now);
    for (const server of this.#stunServers) {
      const id = this.#random(12);
      const b = new StunBuilder(StunMethod.Binding, StunClass.Request, id).fingerprint();
      const k = Buffer.from(id).toString('hex');
      this.#pending.set(k, { kind: 'gather', server });
      this.#gathering++;
      this.#tx.start(k, key(server), b.build(), now, (err) => {
        if (err === undefined) return;
        this.#pending.delete(k);
        this.#gatherDone();
      });
    }
    if (this.#turn !== undefined) {
      this.#gathering++;
      this.#turn.allocate(now, (err, a) => {
        if (err === undefined && a !== undefined) {
          this.#addLocal(
            {
              foundation: candidateFoundation(
                'relay',
                this.#local.address,
                this.#turn!.server.address,
              ),
              component: 1,
              transport: 'udp',
              priority: candidatePriority('relay', 65535),
              address: a.relayed.address,
              port: a.relayed.port,
              type: 'relay',
              ...(a.mapped !== undefined && {
                relatedAddress: a.mapped.address,
                relatedPort: a.mapped.port,
              }),
            },
            this.#now,
          );
        }
        this.#gatherDone();
      });
    }
    if (this.#gathering === 0) this.#events.push({ type: 'gathering-complete' });
  }

  #gatherDone(): void {
    if (--this.#gathering === 0) this.#events.push({ type: 'gathering-complete' });
  }

  #addLocal(c: Candidate, now: number): void {
    if (this.#locals.some((x) => x.address === c.address && x.port === c.port && x.type === c.type))
      return;
    this.#locals.push(c);
    this.#events.push({ type: 'candidate', candidate: c, sdp: formatCandidate(c) });
    if (this.#pairable(c)) for (const r of this.#remotes) this.#pair(c, r, now);
  }

  /** The other agent's ufrag and password (from signaling). */
  setRemoteCredentials(ufrag: string, pwd: string): void {
    if (!/^[A-Za-z0-9+/]{4,256}$/.test(ufrag) || !/^[A-Za-z0-9+/]{22,256}$/.test(pwd)) {
      throw new InvalidOptionError('remote ufrag/pwd are not ICE credentials (RFC 8445 §5.3)');
    }
    this.#remoteUfrag = ufrag;
    this.#remotePwd = pwd;
  }

  /** A remote candidate (trickled or from the offer). */
  addRemoteCandidate(c: Candidate, now: number): void {
    if (c.component !== 1) return;
    if (this.#remotes.some((x) => x.address === c.address && x.port === c.port)) return;
    if (this.#remotes.length >= 100) return;
    this.#remotes.push(c);
    // Pairs use the base: only the host candidate (§6.1.2.4).
    for (const l of this.#locals) if (this.#pairable(l)) this.#pair(l, c, now);
    this.#startChecks(now);
  }

  /** Local candidates that pair: the base (host) and the relayed one (§6.1.2.4). */
  #pairable(c: Candidate): boolean {
    return this.#policy === 'relay' ? c.type === 'relay' : c.type === 'host' || c.type === 'relay';
  }

  #pair(local: Candidate, remote: Candidate, now: number): Pair {
    const existing = this.#pairs.find(
      (p) =>
        p.local.type === local.type &&
        p.remote.address === remote.address &&
        p.remote.port === remote.port,
    );
    if (existing !== undefined) return existing;
    if (local.type === 'relay') this.#turn?.createPermission([remote.address], now, () => {});
    const pair: Pair = {
      local,
      remote,
      priority: this.#pairPriority(local, remote),
      state: 'waiting',
      nominated: false,
      useCandidateSeen: false,
    };
    this.#pairs.push(pair);
    this.#pairs.sort((a, b) => (a.priority === b.priority ? 0 : a.priority > b.priority ? -1 : 1));
    return pair;
  }

  #pairPriority(local: Candidate, remote: Candidate): bigint {
    return this.#controlling
      ? pairPriority(local.priority, remote.priority)
      : pairPriority(remote.priority, local.priority);
  }

  #startChecks(now: number): void {
    if (this.#state === 'new' && this.#remoteUfrag !== undefined && this.#pairs.length > 0) {
      this.#setState('checking');
      this.#checksSince = now;
      this.#nextCheck = now;
    }
  }

  /** Sends application data on the selected pair. False when there is none. */
  send(data: Uint8Array): boolean {
    const p = this.#selected;
    if (p === undefined || this.#state !== 'connected') return false;
    this.#sendOn(p.local, p.remote, data);
    return true;
  }

  nextDeadline(): number | undefined {
    let t = Math.min(
      this.#tx.nextDeadline() ?? Infinity,
      this.#consentAt,
      this.#turn?.nextDeadline() ?? Infinity,
    );
    if (this.#state === 'checking') {
      t = Math.min(t, this.#checksSince + this.#checkTimeout);
      if (
        this.#controlling &&
        this.#firstSuccess !== Infinity &&
        !this.#pairs.some((x) => x.nominated)
      ) {
        t = Math.min(t, this.#firstSuccess + this.#nominationDelay);
      }
      if (this.#triggered.length > 0 || this.#pairs.some((p) => p.state === 'waiting')) {
        t = Math.min(t, this.#nextCheck);
      }
    }
    return Number.isFinite(t) ? t : undefined;
  }

  handleTimeout(now: number): void {
    this.#now = now;
    this.#tx.handleTimeout(now);
    this.#turn?.handleTimeout(now);
    if (this.#state === 'checking') {
      if (this.#controlling) this.#maybeNominate(now);
      if (now >= this.#nextCheck) this.#checkTick(now);
      if (this.#selected === undefined && now >= this.#checksSince + this.#checkTimeout) {
        this.#setState('failed');
      }
    }
    if (this.#state === 'connected' && now >= this.#consentAt) {
      if (now - this.#consentOk > this.#consentTimeout) {
        this.#setState('failed'); // RFC 7675 §5.1: consent expired
        return;
      }
      const jitter = 0.8 + (this.#random(1)[0]! / 255) * 0.4;
      this.#consentAt = now + this.#consentInterval * jitter;
      this.#check(this.#selected!, now, false, 'consent');
    }
  }

  #checkTick(now: number): void {
    const pair = this.#triggered.shift() ?? this.#pairs.find((p) => p.state === 'waiting');
    if (pair !== undefined) {
      this.#check(pair, now, this.#controlling && pair.nominated, 'check');
      this.#nextCheck = now + this.#ta;
    } else {
      this.#nextCheck = Infinity;
    }
  }

  #check(pair: Pair, now: number, useCandidate: boolean, kind: 'check' | 'consent'): void {
    if (this.#remoteUfrag === undefined || this.#remotePwd === undefined) return;
    if (kind === 'check') pair.state = 'in-progress';
    const id = this.#random(12);
    const b = new StunBuilder(StunMethod.Binding, StunClass.Request, id)
      .text(Attr.Username, `${this.#remoteUfrag}:${this.ufrag}`)
      .uint32(Attr.Priority, candidatePriority('prflx', 65535))
      .uint64(this.#controlling ? Attr.IceControlling : Attr.IceControlled, this.#tieBreaker);
    if (useCandidate) b.add(Attr.UseCandidate, new Uint8Array(0));
    b.integrity(shortTermKey(this.#remotePwd)).fingerprint();
    const k = Buffer.from(id).toString('hex');
    this.#pending.set(k, kind === 'check' ? { kind, pair, useCandidate } : { kind, pair });
    this.#tx.start(k, key(pair.remote), b.build(), now, (err) => {
      if (err === undefined) return;
      this.#pending.delete(k);
      // Without end-of-candidates signaling more candidates may come: only the check
      // timeout declares the agent failed.
      if (kind === 'check') pair.state = 'failed';
    });
  }

  /**
   * A datagram arrived on our socket. STUN is handled here; anything else from the
   * selected pair's remote is application data (a `data` event).
   */
  receive(data: Uint8Array, from: SocketAddress | PeerAddress, now: number): void {
    this.#now = now;
    const turn = this.#turn;
    if (
      turn !== undefined &&
      from.address === turn.server.address &&
      from.port === turn.server.port
    ) {
      const forTurn = turn.receive(data, from, now);
      for (const e of turn.takeEvents()) {
        if (e.type === 'data') this.#receiveVia(e.data, e.peer, 'relay', now);
      }
      // The TURN server is often our STUN server too: what TURN did not take (a Binding
      // answer for gathering) is ours.
      if (forTurn) return;
    }
    this.#receiveVia(data, from, 'host', now);
  }

  #receiveVia(data: Uint8Array, from: PeerAddress, via: 'host' | 'relay', now: number): void {
    if (!isStun(data)) {
      const p = this.#selected;
      if (
        p !== undefined &&
        p.local.type === via &&
        p.remote.address === from.address &&
        p.remote.port === from.port
      ) {
        this.#events.push({ type: 'data', data, from: { address: from.address, port: from.port } });
      }
      return;
    }
    let m: StunMessage;
    try {
      m = decodeStun(data);
    } catch {
      return;
    }
    if (m.has(Attr.Fingerprint) && !m.verifyFingerprint()) return;
    if (m.cls === StunClass.Request && m.method === StunMethod.Binding) {
      this.#onRequest(m, from, via, now);
    } else if (m.cls === StunClass.Success || m.cls === StunClass.Error) {
      this.#onResponse(m, from, via, now);
    }
  }

  #onRequest(m: StunMessage, from: PeerAddress, via: 'host' | 'relay', now: number): void {
    const local = this.#locals.find((l) => l.type === via);
    if (local === undefined || (this.#policy === 'relay' && via !== 'relay')) return;
    const reply = (build: (b: StunBuilder) => void, cls: number = StunClass.Success): void => {
      const b = new StunBuilder(StunMethod.Binding, cls, m.transactionId);
      build(b);
      b.integrity(shortTermKey(this.pwd)).fingerprint();
      this.#sendOn(local, from, b.build());
    };
    // §7.3: USERNAME must be ours and MESSAGE-INTEGRITY must verify under our password.
    const username = m.text(Attr.Username);
    if (
      username === undefined ||
      !username.startsWith(`${this.ufrag}:`) ||
      !m.verifyIntegrity(shortTermKey(this.pwd))
    ) {
      const b = new StunBuilder(StunMethod.Binding, StunClass.Error, m.transactionId)
        .errorCode(
          username === undefined ? StunErrorCode.BadRequest : StunErrorCode.Unauthenticated,
          'Unauthenticated',
        )
        .fingerprint();
      this.#sendOn(local, from, b.build());
      return;
    }
    // §7.3.1.1: role conflicts.
    const theirControlling = m.has(Attr.IceControlling);
    const theirTie =
      (theirControlling ? m.uint64(Attr.IceControlling) : m.uint64(Attr.IceControlled)) ?? 0n;
    const action = resolveRoleConflict(
      this.#controlling,
      theirControlling,
      this.#tieBreaker,
      theirTie,
    );
    if (action === 'reply-487') {
      reply((b) => b.errorCode(StunErrorCode.RoleConflict, 'Role Conflict'), StunClass.Error);
      return;
    }
    if (action === 'switch') this.#switchRole();
    reply((b) => b.xorAddress(Attr.XorMappedAddress, from));
    // §7.3.1.3: a source we do not know is a peer-reflexive remote candidate.
    let remote = this.#remotes.find((r) => r.address === from.address && r.port === from.port);
    if (remote === undefined) {
      remote = {
        foundation: candidateFoundation('prflx', from.address),
        component: 1,
        transport: 'udp',
        priority: m.uint32(Attr.Priority) ?? candidatePriority('prflx', 65535),
        address: from.address,
        port: from.port,
        type: 'prflx',
      };
      this.#remotes.push(remote);
    }
    const pair = this.#pair(local, remote, now);
    if (m.has(Attr.UseCandidate) && !this.#controlling) {
      pair.useCandidateSeen = true;
      if (pair.state === 'succeeded') this.#select(pair, now);
    }
    // §7.3.1.4: a triggered check, unless the pair already succeeded.
    if (
      pair.state !== 'succeeded' &&
      pair.state !== 'in-progress' &&
      !this.#triggered.includes(pair)
    ) {
      this.#triggered.push(pair);
      pair.state = 'waiting';
    }
    this.#startChecks(now);
    if (this.#state === 'checking') this.#nextCheck = Math.min(this.#nextCheck, now);
  }

  #switchRole(): void {
    this.#controlling = !this.#controlling;
    for (const p of this.#pairs) p.priority = this.#pairPriority(p.local, p.remote);
    this.#pairs.sort((a, b) => (a.priority === b.priority ? 0 : a.priority > b.priority ? -1 : 1));
  }

  #onResponse(m: StunMessage, from: PeerAddress, via: 'host' | 'relay', now: number): void {
    const p = this.#pending.get(m.id);
    if (p === undefined) return;
    if (p.kind === 'gather') {
      if (from.address !== p.server.address || from.port !== p.server.port) return;
      this.#pending.delete(m.id);
      this.#tx.complete(m.id, now);
      const mapped = m.cls === StunClass.Success ? safe(() => m.xorAddress()) : undefined;
      if (
        mapped !== undefined &&
        (mapped.address !== this.#local.address || mapped.port !== this.#local.port)
      ) {
        this.#addLocal(
          {
            foundation: candidateFoundation('srflx', this.#local.address, p.server.address),
            component: 1,
            transport: 'udp',
            priority: candidatePriority('srflx', 65535),
            address: mapped.address,
            port: mapped.port,
            type: 'srflx',
            relatedAddress: this.#local.address,
            relatedPort: this.#local.port,
          },
          this.#now,
        );
      }
      this.#gatherDone();
      return;
    }
    // §7.2.5.2.1: the response must come from where the request went (symmetric), on the
    // same local candidate.
    if (from.address !== p.pair.remote.address || from.port !== p.pair.remote.port) return;
    if (p.pair.local.type !== via) return;
    if (this.#remotePwd === undefined || !m.verifyIntegrity(shortTermKey(this.#remotePwd))) return;
    this.#pending.delete(m.id);
    this.#tx.complete(m.id, now);
    if (p.kind === 'consent') {
      if (m.cls === StunClass.Success) this.#consentOk = now;
      return;
    }
    const pair = p.pair;
    if (m.cls === StunClass.Error) {
      const code = safe(() => m.errorCode())?.code;
      if (code === StunErrorCode.RoleConflict) {
        // §7.2.5.1: switch role and retry the check.
        this.#switchRole();
        pair.state = 'waiting';
        this.#triggered.push(pair);
        this.#nextCheck = Math.min(this.#nextCheck, now);
        return;
      }
      pair.state = 'failed';
      return;
    }
    pair.state = 'succeeded';
    if (this.#controlling) {
      if (p.useCandidate) {
        this.#select(pair, now);
      } else {
        this.#maybeNominate(now);
      }
    } else if (pair.useCandidateSeen) {
      this.#select(pair, now);
    }
  }

  /**
   * Regular nomination (§8.1.1): the controlling agent picks a valid pair and checks it again
   * with USE-CANDIDATE. It takes the best valid pair once no better pair can still succeed,
   * or, after `nominationDelayMs` from the first success, the best valid pair so far — so a
   * relayed pair that answers first does not win over a direct one a moment behind it.
   */
  #maybeNominate(now: number): void {
    if (this.#pairs.some((x) => x.nominated) || this.#selected !== undefined) return;
    const best = this.#pairs.find((x) => x.state === 'succeeded');
    if (best === undefined) return;
    const betterPending = this.#pairs.some(
      (x) => x.priority > best.priority && (x.state === 'waiting' || x.state === 'in-progress'),
    );
    if (this.#firstSuccess === Infinity) this.#firstSuccess = now;
    if (betterPending && now < this.#firstSuccess + this.#nominationDelay) return;
    best.nominated = true;
    this.#triggered.push(best);
    this.#nextCheck = Math.min(this.#nextCheck, now);
  }

  #select(pair: Pair, now: number): void {
    if (this.#selected !== undefined) return;
    this.#selected = pair;
    pair.nominated = true;
    this.#events.push({ type: 'selected', local: pair.local, remote: pair.remote });
    this.#setState('connected');
    this.#consentOk = now;
    this.#consentAt = now + this.#consentInterval;
    this.#nextCheck = Infinity;
    this.#triggered.length = 0;
  }

  #setState(s: IceState): void {
    if (this.#state === s) return;
    this.#state = s;
    this.#events.push({ type: 'state', state: s });
    if (s === 'failed' || s === 'closed') {
      this.#consentAt = Infinity;
      this.#nextCheck = Infinity;
    }
  }

  close(): void {
    this.#setState('closed');
    this.#selected = undefined;
  }
}

function safe<T>(f: () => T | undefined): T | undefined {
  try {
    return f();
  } catch {
    return undefined;
  }
}
