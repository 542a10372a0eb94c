/**
 * SWIM membership as memberlist runs it (state.go), sans-I/O (DESIGN §2): no sockets, no
 * timers, no clock. The binding feeds datagrams (`receive`), stream messages
 * (`handleStream`, `streamResult`) and the time; it sends what `takeOutput` and
 * `takeStreams` return and calls `handleTimeout` at `nextDeadline`.
 *
 * - Probing: one member per `probeInterval` in a shuffled round-robin; a ping, then after
 *   `probeTimeout` indirect pings through `indirectChecks` members (with nacks for members
 *   speaking protocol ≥ 4) and a TCP ping (protocol ≥ 3); no ack by the end of the
 *   (awareness-scaled) interval makes the member suspect.
 * - Suspicion (Lifeguard): the timeout starts at `suspicionMaxTimeoutMult` × the minimum
 *   `suspicionMult × max(1, log10 N) × probeInterval` and shrinks towards the minimum with
 *   each independent confirmation; a suspect member that does not refute is dead.
 * - Local health awareness: a score 0..awarenessMaxMultiplier-1 (missed nacks, refutations
 *   raise it, successful probes lower it) stretches our probe interval and timeout.
 * - Incarnations and refutation: a suspect or dead message about us is answered with an
 *   alive message at a higher incarnation.
 * - Dissemination: alive/suspect/dead and user messages ride on pings, acks and a gossip
 *   tick to `gossipNodes` random members through a {@link BroadcastQueue}; push-pull
 *   anti-entropy over a stream with one random member every `pushPullInterval`, scaled up
 *   past 32 members (memberlist `pushPullScale`).
 * - Dead members stay gossiped to for `gossipToTheDeadTime`, then are reaped.
 */
import { InvalidOptionError } from '../../errors.js';
import type { PeerAddress, SocketAddress } from '../../transport/types.js';
import { ipv4Bytes, ipv6Bytes, ipv6Text } from '../kademlia/compact.js';
import { GossipError, GossipErrorCodes } from './errors.js';
import { BroadcastQueue } from './queue.js';
import {
  decodeAck,
  decodeAlive,
  decodeDead,
  decodeErr,
  decodeIndirectPing,
  decodeNack,
  decodePing,
  decodeSuspect,
  encodeAck,
  encodeAlive,
  encodeDead,
  encodeErr,
  encodeIndirectPing,
  encodeNack,
  encodePing,
  encodePushPull,
  encodeSuspect,
  encodeUserStream,
  META_MAX_SIZE,
  MessageType,
  NodeState,
} from './wire/messages.js';
import type { Alive, Dead, PushNodeState, Suspect } from './wire/messages.js';
import {
  COMPOUND_HEADER_OVERHEAD,
  COMPOUND_OVERHEAD,
  decodePushPull,
  decodeUserStream,
  encodeCompound,
  encodeCompounds,
  MAX_COMPOUND_PARTS,
  WireCodec,
} from './wire/packet.js';
import type { WireOptions } from './wire/packet.js';

/** Randomness (sequence numbers, shuffles, member picks, nonces) is injected. */
export interface GossipComponents {
  readonly random: (n: number) => Uint8Array;
}

/** What an application plugs in (memberlist's `Delegate`, `PingDelegate`). */
export interface GossipDelegate {
  /** A user message arrived (packet or stream). */
  notifyMsg?(msg: Uint8Array, now: number): void;
  /** Our application state for a push-pull (memberlist `LocalState`). */
  localState?(join: boolean): Uint8Array;
  /** A peer's application state from a push-pull (memberlist `MergeRemoteState`). */
  mergeRemoteState?(state: Uint8Array, join: boolean, now: number): void;
  /** Bytes to put in acks we send (Serf sends its coordinates here). */
  ackPayload?(): Uint8Array;
}

/** Protocol versions we announce in alive messages: memberlist's and the delegate's. */
export interface VersionInfo {
  readonly protocolMin: number;
  readonly protocolMax: number;
  readonly protocolCur: number;
  readonly delegateMin: number;
  readonly delegateMax: number;
  readonly delegateCur: number;
}

export interface GossipOptions {
  /** Our node name, unique in the cluster. */
  readonly name: string;
  /** The address other members reach us at (an IP literal; UDP and TCP share the port). */
  readonly address: PeerAddress;
  /** Node metadata, at most 512 bytes (Serf puts its tags here). */
  readonly meta?: Uint8Array;
  readonly delegate?: GossipDelegate;
  /** Default: memberlist 1..5, speaking 2 (as Serf 0.8 does); delegate 0,0,0. */
  readonly versions?: Partial<VersionInfo>;
  /** Framing options: label, keyring, compression. */
  readonly wire?: Omit<WireOptions, 'random'>;
  /** Milliseconds between probes. Default 1000 (memberlist DefaultLANConfig). */
  readonly probeInterval?: number;
  /** Milliseconds to wait for a direct ack before indirect probes. Default 500. */
  readonly probeTimeout?: number;
  /** Members asked to probe indirectly. Default 3. */
  readonly indirectChecks?: number;
  /** Suspicion timeout multiplier. Default 4. */
  readonly suspicionMult?: number;
  /** Upper suspicion timeout as a multiple of the lower. Default 6. */
  readonly suspicionMaxTimeoutMult?: number;
  /** Retransmit multiplier for broadcasts. Default 4. */
  readonly retransmitMult?: number;
  /** Milliseconds between gossip ticks. Default 200. */
  readonly gossipInterval?: number;
  /** Members gossiped to per tick. Default 3. */
  readonly gossipNodes?: number;
  /** How long dead members are still gossiped to, then reaped. Default 30000. */
  readonly gossipToTheDeadTime?: number;
  /** Milliseconds between push-pulls (0 disables). Default 30000. */
  readonly pushPullInterval?: number;
  /** Local health awareness ceiling. Default 8. */
  readonly awarenessMaxMultiplier?: number;
  /** Largest datagram we build. Default 1400. */
  readonly udpBufferSize?: number;
  /** Fall back to a TCP ping when UDP probes fail (members with protocol ≥ 3). Default true. */
  readonly tcpPings?: boolean;
  /** Milliseconds a stream exchange may take. Default 10000 (memberlist TCPTimeout). */
  readonly streamTimeout?: number;
  /** Wrap packets to members with protocol ≥ 5 in a CRC. Default false. */
  readonly crc?: boolean;
  /** Most members we track; alive messages about more are dropped. Default 65536. */
  readonly maxMembers?: number;
  /** Most broadcasts queued. Default 4096. */
  readonly maxQueued?: number;
}

export type MemberState = 'alive' | 'suspect' | 'dead' | 'left';

/** A member as the application sees it. */
export interface MemberInfo {
  readonly name: string;
  readonly address: string;
  readonly port: number;
  readonly meta: Uint8Array;
  readonly incarnation: number;
  readonly state: MemberState;
  /** Protocol versions: pmin, pmax, pcur, dmin, dmax, dcur. */
  readonly vsn: readonly number[];
}

export type GossipEvent =
  | {
      readonly type: 'member-join' | 'member-update' | 'member-leave' | 'member-failed';
      readonly member: MemberInfo;
    }
  | { readonly type: 'user-message'; readonly payload: Uint8Array };

export interface GossipStats {
  packetsIn: number;
  packetsOut: number;
  bytesIn: number;
  bytesOut: number;
  /** Packets or streams dropped as malformed, mislabelled or undecryptable. */
  dropped: number;
  probes: number;
  probeFailures: number;
  indirectProbes: number;
  suspicions: number;
  refutations: number;
  pushPulls: number;
  /** Current local health score (0 is healthy). */
  health: number;
  /** Broadcasts waiting to be piggybacked. */
  queued: number;
  /** Known members (ourselves included) by state. */
  members: Record<MemberState, number>;
}

/** A stream exchange the binding should run: connect, write `data`, read one reply. */
export interface StreamRequest {
  readonly id: number;
  readonly to: PeerAddress;
  readonly data: Uint8Array;
  /** Whether a reply is expected (false for user messages: write and close). */
  readonly expectReply: boolean;
  readonly timeoutMs: number;
}

/** One datagram to send. */
export interface GossipDatagram {
  readonly data: Uint8Array;
  readonly to: PeerAddress;
}

type Done<T> = (err: Error | undefined, value?: T) => void;

const STATE_NAMES: readonly MemberState[] = ['alive', 'suspect', 'dead', 'left'];
const PUSH_PULL_SCALE_THRESHOLD = 32;

interface Member {
  name: string;
  addr: Uint8Array;
  host: string;
  port: number;
  meta: Uint8Array;
  incarnation: number;
  state: number;
  stateChange: number;
  vsn: Uint8Array;
}

interface Probe {
  seq: number;
  name: string;
  directDeadline: number;
  deadline: number;
  indirectSent: boolean;
  expectedNacks: number;
  nacks: number;
  tcpAcked: boolean;
}

interface Relay {
  /** The requester's sequence number and where to answer. */
  seq: number;
  to: PeerAddress;
  nack: boolean;
  expires: number;
}

interface Suspicion {
  confirmations: Set<string>;
  n: number;
  k: number;
  min: number;
  max: number;
  start: number;
  deadline: number;
  stateChange: number;
}

interface PendingStream {
  kind: 'push-pull' | 'tcp-ping' | 'user';
  seq: number;
  expires: number;
  done: Done<void> | undefined;
}

function checkInt(name: string, v: number | undefined, min: number, max: number): void {
  if (v !== undefined && (!Number.isSafeInteger(v) || v < min || v > max)) {
    throw new InvalidOptionError(`${name} must be an integer in ${min}..${max}, got ${v}`);
  }
}

/** An IP literal as memberlist's `Addr` bytes (4 or 16). */
export function addressBytes(host: string): Uint8Array {
  const b = ipv4Bytes(host) ?? ipv6Bytes(host);
  if (b === undefined) throw new InvalidOptionError(`not an IP address: ${host}`);
  return b;
}

/** memberlist `Addr` bytes as an IP literal. */
export function addressText(addr: Uint8Array): string {
  if (addr.length === 4) return `${addr[0]}.${addr[1]}.${addr[2]}.${addr[3]}`;
  if (addr.length === 16) return ipv6Text(addr, 0);
  return '';
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** memberlist's `suspicionTimeout`. */
export function suspicionTimeout(mult: number, n: number, intervalMs: number): number {
  const scale = Math.max(1, Math.log10(Math.max(1, n)));
  return Math.floor((mult * Math.floor(scale * 1000) * intervalMs) / 1000);
}

/** memberlist's `remainingSuspicionTime` (total, not remaining: add to the start). */
export function suspicionDuration(n: number, k: number, min: number, max: number): number {
  const frac = Math.log(n + 1) / Math.log(k + 1);
  const raw = max - frac * (max - min);
  return Math.max(min, Math.floor(raw));
}

/** memberlist's `pushPullScale`. */
export function pushPullScale(intervalMs: number, n: number): number {
  if (n <= PUSH_PULL_SCALE_THRESHOLD) return intervalMs;
  const mult = Math.ceil(Math.log2(n) - Math.log2(PUSH_PULL_SCALE_THRESHOLD)) + 1;
  return mult * intervalMs;
}

/** The SWIM core for one member. */
export class GossipCore {
  readonly name: string;
  readonly codec: WireCodec;
  readonly #random: (n: number) => Uint8Array;
  readonly #delegate: GossipDelegate | undefined;
  readonly #self: Member;
  readonly #members = new Map<string, Member>();
  /** Probe order: names, shuffled each round; dead members are reaped at the wrap. */
  #order: string[] = [];
  #probeIndex = 0;
  readonly #queue: BroadcastQueue;
  readonly #suspicions = new Map<string, Suspicion>();
  readonly #relays = new Map<number, Relay>();
  readonly #streams = new Map<number, PendingStream>();
  #probe: Probe | undefined;
  #seq = 0;
  #streamId = 0;
  #awareness = 0;
  #left = false;
  #output: GossipDatagram[] = [];
  #streamOut: StreamRequest[] = [];
  #events: GossipEvent[] = [];
  #nextProbe: number;
  #nextGossip: number;
  #nextPushPull: number;

  readonly #probeInterval: number;
  readonly #probeTimeout: number;
  readonly #indirectChecks: number;
  readonly #suspicionMult: number;
  readonly #suspicionMaxMult: number;
  readonly #retransmitMult: number;
  readonly #gossipInterval: number;
  readonly #gossipNodes: number;
  readonly #toTheDead: number;
  readonly #pushPullInterval: number;
  readonly #awarenessMax: number;
  readonly #udpBufferSize: number;
  readonly #tcpPings: boolean;
  readonly #streamTimeout: number;
  readonly #crc: boolean;
  readonly #maxMembers: number;

  readonly #stats: Omit<GossipStats, 'health' | 'queued' | 'members'> = {
    packetsIn: 0,
    packetsOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    dropped: 0,
    probes: 0,
    probeFailures: 0,
    indirectProbes: 0,
    suspicions: 0,
    refutations: 0,
    pushPulls: 0,
  };

  constructor(components: GossipComponents, options: GossipOptions, now: number) {
    if (typeof options.name !== 'string' || options.name === '' || options.name.length > 512) {
      throw new InvalidOptionError('name must be a non-empty string of at most 512 characters');
    }
    checkInt('address.port', options.address.port, 1, 65535);
    const meta = options.meta ?? new Uint8Array(0);
    if (meta.length > META_MAX_SIZE) {
      throw new InvalidOptionError(`meta is ${meta.length} bytes; the limit is ${META_MAX_SIZE}`);
    }
    checkInt('probeInterval', options.probeInterval, 1, 3_600_000);
    checkInt('probeTimeout', options.probeTimeout, 1, 3_600_000);
    checkInt('indirectChecks', options.indirectChecks, 0, 64);
    checkInt('suspicionMult', options.suspicionMult, 1, 100);
    checkInt('suspicionMaxTimeoutMult', options.suspicionMaxTimeoutMult, 1, 100);
    checkInt('retransmitMult', options.retransmitMult, 1, 100);
    checkInt('gossipInterval', options.gossipInterval, 1, 3_600_000);
    checkInt('gossipNodes', options.gossipNodes, 0, 64);
    checkInt('gossipToTheDeadTime', options.gossipToTheDeadTime, 0, 86_400_000);
    checkInt('pushPullInterval', options.pushPullInterval, 0, 86_400_000);
    checkInt('awarenessMaxMultiplier', options.awarenessMaxMultiplier, 1, 64);
    checkInt('udpBufferSize', options.udpBufferSize, 64, 65_000);
    checkInt('streamTimeout', options.streamTimeout, 1, 3_600_000);
    checkInt('maxMembers', options.maxMembers, 1, 1 << 20);
    const v = options.versions ?? {};
    const vsn = Uint8Array.of(
      v.protocolMin ?? 1,
      v.protocolMax ?? 5,
      v.protocolCur ?? 2,
      v.delegateMin ?? 0,
      v.delegateMax ?? 0,
      v.delegateCur ?? 0,
    );
    if (vsn[0]! === 0 || vsn[0]! > vsn[1]! || vsn[2]! < vsn[0]! || vsn[2]! > vsn[1]!) {
      throw new InvalidOptionError('versions: need 0 < protocolMin <= protocolCur <= protocolMax');
    }

    this.name = options.name;
    this.#random = components.random;
    this.#delegate = options.delegate;
    this.codec = new WireCodec({ ...options.wire, random: components.random });
    this.#probeInterval = options.probeInterval ?? 1000;
    this.#probeTimeout = options.probeTimeout ?? 500;
    this.#indirectChecks = options.indirectChecks ?? 3;
    this.#suspicionMult = options.suspicionMult ?? 4;
    this.#suspicionMaxMult = options.suspicionMaxTimeoutMult ?? 6;
    this.#retransmitMult = options.retransmitMult ?? 4;
    this.#gossipInterval = options.gossipInterval ?? 200;
    this.#gossipNodes = options.gossipNodes ?? 3;
    this.#toTheDead = options.gossipToTheDeadTime ?? 30_000;
    this.#pushPullInterval = options.pushPullInterval ?? 30_000;
    this.#awarenessMax = options.awarenessMaxMultiplier ?? 8;
    this.#udpBufferSize = options.udpBufferSize ?? 1400;
    this.#tcpPings = options.tcpPings ?? true;
    this.#streamTimeout = options.streamTimeout ?? 10_000;
    this.#crc = options.crc ?? false;
    this.#maxMembers = options.maxMembers ?? 65_536;
    this.#queue = new BroadcastQueue(options.maxQueued ?? 4096);

    // memberlist.go setAlive: we enter our own member table through aliveNode with
    // bootstrap set (incarnation 1), which also queues our alive message for gossip, so
    // members other than the one we join through hear of us without waiting for a
    // push-pull; and we see our own member-join.
    this.#aliveNode(
      {
        incarnation: 1,
        node: this.name,
        addr: addressBytes(options.address.address),
        port: options.address.port,
        meta,
        vsn,
      },
      now,
      true,
    );
    this.#self = this.#members.get(this.name)!;
    // Stagger the periodic work as memberlist does (random start within one interval).
    this.#nextProbe = now + this.#randInt(this.#probeInterval);
    this.#nextGossip = now + this.#randInt(this.#gossipInterval);
    this.#nextPushPull =
      this.#pushPullInterval > 0 ? now + this.#randInt(this.#pushPullInterval) : Infinity;
  }

  // ---- public API ------------------------------------------------------------------------

  /** Our incarnation number. */
  get incarnation(): number {
    return this.#self.incarnation;
  }

  /** Whether `leave` was called. */
  get left(): boolean {
    return this.#left;
  }

  /** Current local health score (0 = healthy). */
  get health(): number {
    return this.#awareness;
  }

  stats(): GossipStats {
    const members: Record<MemberState, number> = { alive: 0, suspect: 0, dead: 0, left: 0 };
    for (const m of this.#members.values()) members[STATE_NAMES[m.state] ?? 'dead']++;
    return { ...this.#stats, health: this.#awareness, queued: this.#queue.length, members };
  }

  /** Every known member (ourselves included), with dead ones not yet reaped. */
  members(): MemberInfo[] {
    return [...this.#members.values()].map((m) => this.#info(m));
  }

  member(name: string): MemberInfo | undefined {
    const m = this.#members.get(name);
    return m === undefined ? undefined : this.#info(m);
  }

  /** Members alive or suspect (the ones that count), ourselves included. */
  get size(): number {
    let n = 0;
    for (const m of this.#members.values()) {
      if (m.state === NodeState.Alive || m.state === NodeState.Suspect) n++;
    }
    return n;
  }

  takeOutput(): GossipDatagram[] {
    const out = this.#output;
    this.#output = [];
    return out;
  }

  takeStreams(): StreamRequest[] {
    const out = this.#streamOut;
    this.#streamOut = [];
    return out;
  }

  takeEvents(): GossipEvent[] {
    const out = this.#events;
    this.#events = [];
    return out;
  }

  /**
   * Joins through `seeds` with a push-pull (join flag set) to each; `done` gets how many
   * answered. Like memberlist's Join, at least one must answer for success.
   */
  join(seeds: readonly PeerAddress[], now: number, done: Done<number>): void {
    if (seeds.length === 0) {
      done(new InvalidOptionError('join needs at least one address'));
      return;
    }
    let pending = seeds.length;
    let ok = 0;
    let lastError: Error | undefined;
    for (const seed of seeds) {
      this.#pushPullTo(seed, true, now, (err) => {
        if (err === undefined) ok++;
        else lastError = err;
        if (--pending === 0) {
          if (ok > 0) done(undefined, ok);
          else done(lastError ?? new GossipError(GossipErrorCodes.REMOTE_ERROR, 'join failed'));
        }
      });
    }
  }

  /** Queues a user message for every member (piggybacked gossip). */
  broadcastUser(payload: Uint8Array, finished?: (sent: boolean) => void): void {
    const msg = new Uint8Array(1 + payload.length);
    msg[0] = MessageType.User;
    msg.set(payload, 1);
    if (msg.length > this.#udpBufferSize - COMPOUND_HEADER_OVERHEAD - COMPOUND_OVERHEAD) {
      throw new InvalidOptionError(
        `user broadcast of ${payload.length} bytes does not fit a packet`,
      );
    }
    this.#queue.queue({ msg, key: undefined, finished });
  }

  /** Sends a user message straight to one member over a stream (memberlist SendReliable). */
  sendUser(to: PeerAddress, payload: Uint8Array, now: number, done?: Done<void>): void {
    const id = this.#nextStream();
    this.#streams.set(id, {
      kind: 'user',
      seq: 0,
      expires: now + this.#streamTimeout,
      done,
    });
    this.#streamOut.push({
      id,
      to,
      data: this.codec.sealStream(encodeUserStream(payload)),
      expectReply: false,
      timeoutMs: this.#streamTimeout,
    });
  }

  /** Changes our metadata and tells everyone (a member-update elsewhere). */
  setMeta(meta: Uint8Array, now: number): void {
    if (meta.length > META_MAX_SIZE) {
      throw new InvalidOptionError(`meta is ${meta.length} bytes; the limit is ${META_MAX_SIZE}`);
    }
    this.#self.meta = meta;
    this.#self.incarnation++;
    this.#broadcastAlive(this.#self);
    this.#emit('member-update', this.#self);
    void now;
  }

  /**
   * Leaves gracefully: a dead message about ourselves (From = our name, which memberlist
   * reads as "left"). `done` runs when it has been sent as often as the retransmit limit
   * asks, or at once when nobody else is alive. The binding bounds the wait.
   */
  leave(now: number, done: () => void): void {
    if (this.#left) {
      done();
      return;
    }
    this.#left = true;
    const others = [...this.#members.values()].some(
      (m) => m !== this.#self && m.state === NodeState.Alive,
    );
    const d: Dead = { incarnation: this.#self.incarnation, node: this.name, from: this.name };
    this.#self.state = NodeState.Left;
    this.#self.stateChange = now;
    if (!others) {
      done();
      return;
    }
    this.#queue.queue({ msg: encodeDead(d), key: this.name, finished: () => done() });
  }

  nextDeadline(): number | undefined {
    let t = Math.min(this.#nextProbe, this.#nextGossip, this.#nextPushPull);
    const p = this.#probe;
    if (p !== undefined) t = Math.min(t, p.indirectSent ? p.deadline : p.directDeadline);
    for (const r of this.#relays.values()) t = Math.min(t, r.expires);
    for (const s of this.#suspicions.values()) t = Math.min(t, s.deadline);
    for (const s of this.#streams.values()) t = Math.min(t, s.expires);
    return Number.isFinite(t) ? t : undefined;
  }

  handleTimeout(now: number): void {
    const p = this.#probe;
    if (p !== undefined && !p.indirectSent && now >= p.directDeadline) this.#indirect(p, now);
    if (p !== undefined && now >= p.deadline) this.#probeDeadline(p, now);
    for (const [seq, r] of this.#relays) {
      if (now < r.expires) continue;
      this.#relays.delete(seq);
      if (r.nack) this.#sendTo(r.to, encodeNack({ seqNo: r.seq }), true);
    }
    for (const [name, s] of this.#suspicions) {
      if (now >= s.deadline) this.#suspicionExpired(name, s, now);
    }
    for (const [id, s] of this.#streams) {
      if (now < s.expires) continue;
      this.#streams.delete(id);
      s.done?.(new GossipError(GossipErrorCodes.REMOTE_ERROR, 'stream exchange timed out'));
    }
    if (now >= this.#nextProbe) {
      this.#nextProbe = now + this.#scaled(this.#probeInterval);
      if (this.#probe === undefined) this.#startProbe(now);
    }
    if (now >= this.#nextGossip) {
      this.#nextGossip = now + this.#gossipInterval;
      this.#gossip(now);
    }
    if (now >= this.#nextPushPull) {
      this.#nextPushPull = now + pushPullScale(this.#pushPullInterval, this.#members.size);
      const peer = this.#randomMembers(1, (m) => m.state === NodeState.Alive)[0];
      if (peer !== undefined) {
        this.#pushPullTo({ address: peer.host, port: peer.port }, false, now, () => {});
      }
    }
  }

  /** A datagram arrived. Bad input is counted and dropped, never thrown. */
  receive(data: Uint8Array, from: SocketAddress, now: number): void {
    this.#stats.packetsIn++;
    this.#stats.bytesIn += data.length;
    let messages: Uint8Array[];
    try {
      // A bad part of a compound is dropped alone (net.go handleCompound).
      messages = this.codec.openPacket(data, () => this.#stats.dropped++);
    } catch {
      this.#stats.dropped++;
      return;
    }
    for (const msg of messages) {
      try {
        this.#handle(msg, from, now);
      } catch {
        this.#stats.dropped++;
      }
    }
  }

  /**
   * Whole stream messages at the start of `buf`: the byte count of the first one, or
   * undefined until it has all arrived. Throws GossipError for malformed or oversized input
   * (the binding closes the connection).
   */
  frameStream(buf: Uint8Array): number | undefined {
    return this.codec.frameStream(buf);
  }

  /**
   * An inbound stream delivered one framed message; returns the reply to write before
   * closing, if any. Bad input returns an errResp where memberlist sends one.
   */
  handleStream(frame: Uint8Array, from: SocketAddress, now: number): Uint8Array | undefined {
    let msg;
    try {
      msg = this.codec.openStream(frame);
    } catch (err) {
      this.#stats.dropped++;
      return this.codec.sealStream(encodeErr({ error: (err as Error).message }));
    }
    try {
      switch (msg.type) {
        case MessageType.PushPull: {
          const pp = decodePushPull(msg.body, this.#maxMembers);
          const reply = this.#localState(pp.header.join);
          this.#stats.pushPulls++;
          this.#mergeRemote(pp.nodes, pp.userState, pp.header.join, now);
          return reply;
        }
        case MessageType.Ping: {
          const ping = decodePing(msg.body);
          if (ping.node !== '' && ping.node !== this.name) return undefined;
          return this.codec.sealStream(encodeAck({ seqNo: ping.seqNo, payload: new Uint8Array() }));
        }
        case MessageType.User:
          this.#deliverUser(decodeUserStream(msg.body), now);
          return undefined;
        default:
          this.#stats.dropped++;
          return undefined;
      }
    } catch (err) {
      this.#stats.dropped++;
      void from;
      return this.codec.sealStream(encodeErr({ error: (err as Error).message }));
    }
  }

  /** The reply to a stream from `takeStreams` (a framed message), or the error it hit. */
  streamResult(id: number, result: Uint8Array | Error | undefined, now: number): void {
    const s = this.#streams.get(id);
    if (s === undefined) return;
    this.#streams.delete(id);
    if (result instanceof Error) {
      s.done?.(result);
      return;
    }
    if (s.kind === 'user') {
      s.done?.(undefined);
      return;
    }
    try {
      if (result === undefined) throw new GossipError(GossipErrorCodes.MALFORMED, 'no reply');
      const msg = this.codec.openStream(result);
      if (msg.type === MessageType.Err) {
        throw new GossipError(
          GossipErrorCodes.REMOTE_ERROR,
          `remote error: ${decodeErr(msg.body).error}`,
        );
      }
      if (s.kind === 'tcp-ping') {
        if (msg.type !== MessageType.Ack)
          throw new GossipError(GossipErrorCodes.MALFORMED, 'not an ack');
        const ack = decodeAck(msg.body);
        const p = this.#probe;
        if (p !== undefined && ack.seqNo === s.seq) p.tcpAcked = true;
        s.done?.(undefined);
        return;
      }
      if (msg.type !== MessageType.PushPull) {
        throw new GossipError(GossipErrorCodes.MALFORMED, `expected push-pull, got ${msg.type}`);
      }
      const pp = decodePushPull(msg.body, this.#maxMembers);
      this.#stats.pushPulls++;
      this.#mergeRemote(pp.nodes, pp.userState, false, now);
      s.done?.(undefined);
    } catch (err) {
      this.#stats.dropped++;
      s.done?.(err as Error);
    }
  }

  // ---- message handling -----------------------------------------------------------------

  #handle(msg: Uint8Array, from: SocketAddress, now: number): void {
    const body = msg.subarray(1);
    switch (msg[0]) {
      case MessageType.Ping: {
        const ping = decodePing(body);
        if (ping.node !== '' && ping.node !== this.name) return;
        const to =
          ping.sourceAddr !== undefined && ping.sourcePort !== undefined
            ? { address: addressText(ping.sourceAddr), port: ping.sourcePort }
            : from;
        const payload = this.#delegate?.ackPayload?.() ?? new Uint8Array(0);
        this.#sendTo(to, encodeAck({ seqNo: ping.seqNo, payload }), true);
        return;
      }
      case MessageType.IndirectPing: {
        const ind = decodeIndirectPing(body);
        if (ind.target.length === 0 || ind.port === 0) return;
        const seq = this.#nextSeq();
        const replyTo =
          ind.sourceAddr !== undefined && ind.sourcePort !== undefined
            ? { address: addressText(ind.sourceAddr), port: ind.sourcePort }
            : from;
        this.#relays.set(seq, {
          seq: ind.seqNo,
          to: replyTo,
          nack: ind.nack,
          expires: now + this.#probeTimeout,
        });
        if (this.#relays.size > 1024) {
          // Bounded: drop the oldest relay (insertion order).
          const first = this.#relays.keys().next().value!;
          this.#relays.delete(first);
        }
        this.#sendTo(
          { address: addressText(ind.target), port: ind.port },
          encodePing({
            seqNo: seq,
            node: ind.node,
            sourceAddr: this.#self.addr,
            sourcePort: this.#self.port,
            sourceNode: this.name,
          }),
          true,
        );
        return;
      }
      case MessageType.Ack: {
        const ack = decodeAck(body);
        const relay = this.#relays.get(ack.seqNo);
        if (relay !== undefined) {
          this.#relays.delete(ack.seqNo);
          this.#sendTo(relay.to, encodeAck({ seqNo: relay.seq, payload: new Uint8Array() }), true);
          return;
        }
        const p = this.#probe;
        if (p !== undefined && p.seq === ack.seqNo && now < p.deadline) {
          this.#probe = undefined;
          this.#applyAwareness(-1);
        }
        return;
      }
      case MessageType.Nack: {
        const nack = decodeNack(body);
        const p = this.#probe;
        if (p !== undefined && p.seq === nack.seqNo) p.nacks++;
        return;
      }
      case MessageType.Alive:
        this.#aliveNode(decodeAlive(body), now, false);
        return;
      case MessageType.Suspect:
        this.#suspectNode(decodeSuspect(body), now);
        return;
      case MessageType.Dead:
        this.#deadNode(decodeDead(body), now);
        return;
      case MessageType.User:
        this.#deliverUser(body, now);
        return;
      default:
        throw new GossipError(
          GossipErrorCodes.UNKNOWN_TYPE,
          `message type ${msg[0]} not supported`,
        );
    }
  }

  #deliverUser(payload: Uint8Array, now: number): void {
    if (payload.length === 0) return;
    const copy = payload.slice();
    if (this.#delegate?.notifyMsg !== undefined) this.#delegate.notifyMsg(copy, now);
    else this.#events.push({ type: 'user-message', payload: copy });
  }

  #aliveNode(a: Alive, now: number, bootstrap: boolean): void {
    if (this.#left && a.node === this.name) return;
    if (a.vsn.length >= 3) {
      const [pmin, pmax] = [a.vsn[0]!, a.vsn[1]!];
      if (pmin === 0 || pmax === 0 || pmin > pmax) return;
    }
    if (a.addr.length !== 4 && a.addr.length !== 16) return;
    if (a.port === 0) return;
    let m = this.#members.get(a.node);
    let updatesNode = false;
    if (m === undefined) {
      if (this.#members.size >= this.#maxMembers) return;
      m = {
        name: a.node,
        addr: a.addr,
        host: addressText(a.addr),
        port: a.port,
        meta: a.meta,
        incarnation: 0,
        state: NodeState.Dead,
        stateChange: now,
        vsn: a.vsn.length >= 6 ? a.vsn : Uint8Array.of(1, 1, 1, 0, 0, 0),
      };
      this.#members.set(a.node, m);
      // Append, then swap with a random position in the probe order (memberlist does the
      // same): O(1), and the newcomer is probed at a random point of the round.
      const n = this.#order.length;
      const at = this.#randInt(n + 1);
      this.#order.push(a.node);
      this.#order[n] = this.#order[at]!;
      this.#order[at] = a.node;
      updatesNode = true;
    } else if (!equal(m.addr, a.addr) || m.port !== a.port) {
      if (m.state === NodeState.Left || m.state === NodeState.Dead) updatesNode = true;
      else return; // A conflicting address for a live member: memberlist refuses it.
    }
    const isLocal = m === this.#self;
    if (a.incarnation <= m.incarnation && !isLocal && !updatesNode) return;
    if (a.incarnation < m.incarnation && isLocal) return;
    this.#suspicions.delete(a.node);
    const oldState = m.state;
    const oldMeta = m.meta;
    if (!bootstrap && isLocal) {
      if (a.incarnation === m.incarnation && equal(a.meta, m.meta) && equal(a.vsn, m.vsn)) return;
      this.#refute(a.incarnation);
      return;
    }
    this.#queue.queue({ msg: encodeAlive(a), key: a.node, finished: undefined });
    if (a.vsn.length >= 6) m.vsn = a.vsn.slice(0, 6);
    m.incarnation = a.incarnation;
    m.meta = a.meta;
    m.addr = a.addr;
    m.host = addressText(a.addr);
    m.port = a.port;
    if (m.state !== NodeState.Alive) {
      m.state = NodeState.Alive;
      m.stateChange = now;
    }
    if (oldState === NodeState.Dead || oldState === NodeState.Left) this.#emit('member-join', m);
    else if (!equal(oldMeta, m.meta)) this.#emit('member-update', m);
  }

  #suspectNode(s: Suspect, now: number): void {
    const m = this.#members.get(s.node);
    if (m === undefined || s.incarnation < m.incarnation) return;
    const existing = this.#suspicions.get(s.node);
    if (existing !== undefined) {
      if (this.#confirm(existing, s.from)) {
        this.#queue.queue({ msg: encodeSuspect(s), key: s.node, finished: undefined });
      }
      return;
    }
    if (m.state !== NodeState.Alive) return;
    if (m === this.#self) {
      this.#refute(s.incarnation);
      return;
    }
    this.#queue.queue({ msg: encodeSuspect(s), key: s.node, finished: undefined });
    this.#stats.suspicions++;
    m.incarnation = s.incarnation;
    m.state = NodeState.Suspect;
    m.stateChange = now;
    const n = this.#members.size;
    let k = this.#suspicionMult - 2;
    if (n - 2 < k) k = 0;
    const min = suspicionTimeout(this.#suspicionMult, n, this.#probeInterval);
    const max = this.#suspicionMaxMult * min;
    this.#suspicions.set(s.node, {
      confirmations: new Set([s.from]),
      n: 0,
      k,
      min,
      max,
      start: now,
      deadline: now + (k < 1 ? min : max),
      stateChange: now,
    });
  }

  /** A Lifeguard confirmation: true when it was new (and the suspect message travels on). */
  #confirm(s: Suspicion, from: string): boolean {
    if (s.n >= s.k || s.confirmations.has(from)) return false;
    s.confirmations.add(from);
    s.n++;
    s.deadline = s.start + suspicionDuration(s.n, s.k, s.min, s.max);
    return true;
  }

  #suspicionExpired(name: string, s: Suspicion, now: number): void {
    this.#suspicions.delete(name);
    const m = this.#members.get(name);
    if (m === undefined || m.state !== NodeState.Suspect || m.stateChange !== s.stateChange) return;
    this.#deadNode({ incarnation: m.incarnation, node: name, from: this.name }, now);
  }

  #deadNode(d: Dead, now: number): void {
    const m = this.#members.get(d.node);
    if (m === undefined || d.incarnation < m.incarnation) return;
    this.#suspicions.delete(d.node);
    if (m.state === NodeState.Dead || m.state === NodeState.Left) return;
    if (m === this.#self) {
      if (!this.#left) this.#refute(d.incarnation);
      return;
    }
    this.#queue.queue({ msg: encodeDead(d), key: d.node, finished: undefined });
    m.incarnation = d.incarnation;
    m.state = d.node === d.from ? NodeState.Left : NodeState.Dead;
    m.stateChange = now;
    this.#emit(m.state === NodeState.Left ? 'member-leave' : 'member-failed', m);
  }

  #refute(accused: number): void {
    let inc = this.#self.incarnation + 1;
    if (accused >= inc) inc = accused + 1;
    this.#self.incarnation = inc;
    this.#stats.refutations++;
    this.#applyAwareness(1);
    this.#broadcastAlive(this.#self);
  }

  #broadcastAlive(m: Member): void {
    const a: Alive = {
      incarnation: m.incarnation,
      node: m.name,
      addr: m.addr,
      port: m.port,
      meta: m.meta,
      vsn: m.vsn,
    };
    this.#queue.queue({ msg: encodeAlive(a), key: m.name, finished: undefined });
  }

  #mergeRemote(
    nodes: readonly PushNodeState[],
    userState: Uint8Array,
    join: boolean,
    now: number,
  ): void {
    for (const r of nodes) {
      switch (r.state) {
        case NodeState.Alive:
          this.#aliveNode(
            {
              incarnation: r.incarnation,
              node: r.name,
              addr: r.addr,
              port: r.port,
              meta: r.meta,
              vsn: r.vsn,
            },
            now,
            false,
          );
          break;
        case NodeState.Left:
          this.#deadNode({ incarnation: r.incarnation, node: r.name, from: r.name }, now);
          break;
        case NodeState.Dead:
        case NodeState.Suspect:
          this.#suspectNode({ incarnation: r.incarnation, node: r.name, from: this.name }, now);
          break;
        default:
          break;
      }
    }
    if (userState.length > 0) this.#delegate?.mergeRemoteState?.(userState.slice(), join, now);
  }

  #localState(join: boolean): Uint8Array {
    const nodes: PushNodeState[] = [];
    for (const m of this.#members.values()) {
      nodes.push({
        name: m.name,
        addr: m.addr,
        port: m.port,
        meta: m.meta,
        incarnation: m.incarnation,
        state: m.state,
        vsn: m.vsn,
      });
    }
    const user = this.#delegate?.localState?.(join) ?? new Uint8Array(0);
    return this.codec.sealStream(encodePushPull(nodes, user, join));
  }

  #pushPullTo(to: PeerAddress, join: boolean, now: number, done: Done<void>): void {
    const id = this.#nextStream();
    this.#streams.set(id, {
      kind: 'push-pull',
      seq: 0,
      expires: now + this.#streamTimeout + 1000,
      done,
    });
    this.#streamOut.push({
      id,
      to,
      data: this.#localState(join),
      expectReply: true,
      timeoutMs: this.#streamTimeout,
    });
  }

  // ---- probing and gossip ---------------------------------------------------------------

  #startProbe(now: number): void {
    let checked = 0;
    while (checked <= this.#order.length) {
      if (this.#probeIndex >= this.#order.length) {
        this.#resetOrder(now);
        this.#probeIndex = 0;
        checked++;
        continue;
      }
      const name = this.#order[this.#probeIndex++]!;
      const m = this.#members.get(name);
      checked++;
      if (m === undefined || m === this.#self) continue;
      if (m.state === NodeState.Dead || m.state === NodeState.Left) continue;
      this.#probeMember(m, now);
      return;
    }
  }

  /** memberlist `resetNodes`: reap members dead for longer than gossipToTheDeadTime, shuffle. */
  #resetOrder(now: number): void {
    const keep: string[] = [];
    for (const name of this.#order) {
      const m = this.#members.get(name);
      if (m === undefined) continue;
      const dead = m.state === NodeState.Dead || m.state === NodeState.Left;
      if (dead && m !== this.#self && now - m.stateChange > this.#toTheDead) {
        this.#members.delete(name);
        this.#suspicions.delete(name);
        continue;
      }
      keep.push(name);
    }
    for (let i = keep.length - 1; i > 0; i--) {
      const j = this.#randInt(i + 1);
      [keep[i], keep[j]] = [keep[j]!, keep[i]!];
    }
    this.#order = keep;
  }

  #probeMember(m: Member, now: number): void {
    const seq = this.#nextSeq();
    this.#stats.probes++;
    const ping = encodePing({
      seqNo: seq,
      node: m.name,
      sourceAddr: this.#self.addr,
      sourcePort: this.#self.port,
      sourceNode: this.name,
    });
    const to = { address: m.host, port: m.port };
    if (m.state === NodeState.Alive) {
      this.#sendTo(to, ping, true, m);
    } else {
      const s = encodeSuspect({ incarnation: m.incarnation, node: m.name, from: this.name });
      this.#raw(to, encodeCompound([ping, s]), m);
    }
    this.#probe = {
      seq,
      name: m.name,
      directDeadline: now + this.#probeTimeout,
      deadline: now + this.#scaled(this.#probeInterval),
      indirectSent: false,
      expectedNacks: 0,
      nacks: 0,
      tcpAcked: false,
    };
  }

  #indirect(p: Probe, now: number): void {
    p.indirectSent = true;
    const target = this.#members.get(p.name);
    if (target === undefined) return;
    const peers = this.#randomMembers(
      this.#indirectChecks,
      (m) => m.name !== p.name && m.state === NodeState.Alive,
    );
    for (const peer of peers) {
      const nack = peer.vsn[1]! >= 4;
      if (nack) p.expectedNacks++;
      this.#stats.indirectProbes++;
      this.#sendTo(
        { address: peer.host, port: peer.port },
        encodeIndirectPing({
          seqNo: p.seq,
          target: target.addr,
          port: target.port,
          node: target.name,
          nack,
          sourceAddr: this.#self.addr,
          sourcePort: this.#self.port,
          sourceNode: this.name,
        }),
        true,
        peer,
      );
    }
    if (this.#tcpPings && target.vsn[1]! >= 3) {
      const id = this.#nextStream();
      const timeout = Math.max(1, p.deadline - now);
      this.#streams.set(id, { kind: 'tcp-ping', seq: p.seq, expires: p.deadline, done: undefined });
      this.#streamOut.push({
        id,
        to: { address: target.host, port: target.port },
        data: this.codec.sealStream(
          encodePing({
            seqNo: p.seq,
            node: target.name,
            sourceAddr: this.#self.addr,
            sourcePort: this.#self.port,
            sourceNode: this.name,
          }),
        ),
        expectReply: true,
        timeoutMs: timeout,
      });
    }
  }

  #probeDeadline(p: Probe, now: number): void {
    this.#probe = undefined;
    if (p.tcpAcked) {
      this.#applyAwareness(-1);
      return;
    }
    this.#stats.probeFailures++;
    let delta = 0;
    if (p.expectedNacks > 0) {
      if (p.nacks < p.expectedNacks) delta += p.expectedNacks - p.nacks;
    } else {
      delta += 1;
    }
    this.#applyAwareness(delta);
    const m = this.#members.get(p.name);
    if (m === undefined) return;
    this.#suspectNode({ incarnation: m.incarnation, node: m.name, from: this.name }, now);
  }

  #gossip(now: number): void {
    const peers = this.#randomMembers(this.#gossipNodes, (m) => {
      if (m.state === NodeState.Alive || m.state === NodeState.Suspect) return true;
      return m.state === NodeState.Dead && now - m.stateChange <= this.#toTheDead;
    });
    const avail = this.#udpBufferSize - COMPOUND_HEADER_OVERHEAD - this.codec.packetOverhead;
    for (const peer of peers) {
      const msgs = this.#queue.take(
        COMPOUND_OVERHEAD,
        avail,
        this.#members.size,
        this.#retransmitMult,
      );
      if (msgs.length === 0) return;
      const to = { address: peer.host, port: peer.port };
      if (msgs.length === 1) this.#raw(to, msgs[0]!, peer);
      else for (const c of encodeCompounds(msgs)) this.#raw(to, c, peer);
    }
  }

  // ---- sending --------------------------------------------------------------------------

  /** Sends `msg`, piggybacking queued broadcasts when `piggyback` (memberlist `sendMsg`). */
  #sendTo(to: PeerAddress, msg: Uint8Array, piggyback: boolean, member?: Member): void {
    if (piggyback) {
      const avail =
        this.#udpBufferSize - msg.length - COMPOUND_HEADER_OVERHEAD - this.codec.packetOverhead;
      // One compound holds MAX_COMPOUND_PARTS parts, `msg` among them: take no more than
      // fit, so broadcasts that would not fit stay queued instead of being counted as sent.
      const extra =
        avail > 0
          ? this.#queue.take(
              COMPOUND_OVERHEAD,
              avail,
              this.#members.size,
              this.#retransmitMult,
              MAX_COMPOUND_PARTS - 1,
            )
          : [];
      if (extra.length > 0) {
        this.#raw(to, encodeCompound([msg, ...extra]), member);
        return;
      }
    }
    this.#raw(to, msg, member);
  }

  #raw(to: PeerAddress, msg: Uint8Array, member?: Member): void {
    const crc = this.#crc && member !== undefined && member.vsn[1]! >= 5;
    const data = this.codec.sealPacket(msg, crc);
    this.#stats.packetsOut++;
    this.#stats.bytesOut += data.length;
    this.#output.push({ data, to });
  }

  // ---- helpers --------------------------------------------------------------------------

  #emit(type: 'member-join' | 'member-update' | 'member-leave' | 'member-failed', m: Member): void {
    this.#events.push({ type, member: this.#info(m) });
  }

  #info(m: Member): MemberInfo {
    return {
      name: m.name,
      address: m.host,
      port: m.port,
      meta: m.meta,
      incarnation: m.incarnation,
      state: STATE_NAMES[m.state] ?? 'dead',
      vsn: [...m.vsn],
    };
  }

  #applyAwareness(delta: number): void {
    this.#awareness = Math.min(this.#awarenessMax - 1, Math.max(0, this.#awareness + delta));
  }

  #scaled(ms: number): number {
    return ms * (this.#awareness + 1);
  }

  #nextSeq(): number {
    this.#seq = (this.#seq + 1) >>> 0;
    return this.#seq;
  }

  #nextStream(): number {
    return ++this.#streamId;
  }

  #randInt(n: number): number {
    if (n <= 1) return 0;
    const b = this.#random(4);
    return (((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0) % n;
  }

  /** Up to `k` distinct random members other than us passing `filter` (memberlist `kRandomNodes`). */
  #randomMembers(k: number, filter: (m: Member) => boolean): Member[] {
    const n = this.#order.length;
    const out: Member[] = [];
    if (k <= 0 || n === 0) return out;
    for (let i = 0; i < 3 * n && out.length < k; i++) {
      const m = this.#members.get(this.#order[this.#randInt(n)]!);
      if (m === undefined || m === this.#self || !filter(m) || out.includes(m)) continue;
      out.push(m);
    }
    return out;
  }
}
