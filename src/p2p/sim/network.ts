/**
 * A simulated datagram network on a virtual clock (DESIGN §5 `p2p/sim`): hundreds to
 * thousands of sans-I/O cores in one process, with per-pair latency, loss, partitions,
 * churn and a datagram size limit. Everything random comes from one seeded `Rng`, so a run
 * is reproducible from its seed.
 *
 * The path of a datagram: a core's `takeOutput()` (or `node.send`, or an endpoint's `send`)
 * → size check → address lookup → partition check → loss draw → latency draw → a queued
 * delivery event → at delivery time, if the receiver is online, `core.receive(data, from,
 * now)`, then its output is drained and its timer re-read. Every drop is counted by reason.
 */
import { InvalidOptionError } from '../../errors.js';
import { BindError } from '../../transport/errors.js';
import type { AddressFamily, PeerAddress, SocketAddress } from '../../transport/types.js';
import { SimClock } from './clock.js';
import { SimDatagramEndpoint } from './endpoint.js';
import { pairwiseLatency } from './latency.js';
import type { LatencyModel } from './latency.js';
import { SimNat } from './nat.js';
import type { SimNatOptions } from './nat.js';
import { NodeSlot, slotOf } from './node.js';
import type { NodeOps, SimCore, SimNode } from './node.js';
import { Rng } from './rng.js';
import type { RngSeed } from './rng.js';
import type { Timers } from './timers.js';

export type SimDropReason =
  'loss' | 'partition' | 'offline' | 'oversize' | 'unreachable' | 'filtered';

/** One line of the optional trace: a datagram sent, delivered or dropped, or a timeout. */
export interface SimTraceRecord {
  readonly type: 'send' | 'deliver' | 'drop' | 'timeout';
  readonly time: number;
  readonly from: SocketAddress;
  /** The destination (for 'timeout', the node itself). */
  readonly to: PeerAddress;
  readonly size: number;
  /** Set on 'drop'. */
  readonly reason: SimDropReason | undefined;
}

export interface SimNetworkOptions {
  /**
   * Seed of every random choice the network makes (loss, latency, per-node streams).
   * @default 1
   */
  seed?: RngSeed;
  /**
   * The clock to run on; pass one to share it with other simulated components.
   * @default a new SimClock()
   */
  clock?: SimClock;
  /**
   * One-way delay of each datagram.
   * @default pairwiseLatency() — log-normal per-pair base around 50 ms, plus 5 ms mean
   * exponential jitter, seeded from `seed`
   */
  latency?: LatencyModel;
  /**
   * Probability that any datagram is lost; `setLinkLoss` overrides it per link.
   * @default 0
   */
  loss?: number;
  /**
   * Largest datagram delivered; larger ones are dropped (reason 'oversize'). The default is
   * UDP over IPv4 over Ethernet without fragmentation: 1500 − 20 − 8.
   * @default 1472
   */
  maxDatagramSize?: number;
  /**
   * Family of automatically assigned addresses (10.0.0.0/8 or fd00::/64).
   * @default 'IPv4'
   */
  family?: AddressFamily;
  /**
   * Port of nodes added without one (the BitTorrent DHT's customary port).
   * @default 6881
   */
  port?: number;
  /**
   * Copy each datagram when it is sent, so a core may reuse its output buffers, as it could
   * with a real socket. Turn off only for cores known not to.
   * @default true
   */
  copyDatagrams?: boolean;
  /**
   * Called for every send, delivery, drop and timeout (for determinism checks and
   * debugging). Costs an object per call; leave unset in large runs.
   * @default undefined
   */
  trace?: (record: SimTraceRecord) => void;
}

export interface SimNodeOptions {
  /**
   * IP literal to bind; the family follows from it.
   * @default the next free address of `family` (10.0.0.1, 10.0.0.2, … or fd00::1, …)
   */
  address?: string;
  /**
   * @default the network's `port`
   */
  port?: number;
  /**
   * Family of an automatically assigned address.
   * @default the network's `family`
   */
  family?: AddressFamily;
  /**
   * Whether the node starts online; false is as if `leave()` was called right away.
   * @default true
   */
  online?: boolean;
  /**
   * Put the node behind this NAT (from `addNat`): it gets a private address in
   * 192.168.0.0/16 unless `address` is given, reachable directly only from nodes behind
   * the same NAT; everyone else sees its datagrams come from the NAT's public address.
   * @default undefined (a public node)
   */
  nat?: SimNat;
}

/** What a core factory passed to `addNode` gets to build its core from. */
export interface SimNodeContext {
  readonly address: SocketAddress;
  /** The node's own stream, `network.rng.child('node:<address>|<port>')`. */
  readonly rng: Rng;
  /** Virtual time now. */
  readonly now: number;
}

/** Drop counters by reason. */
export interface SimDropStats {
  readonly total: number;
  readonly loss: number;
  readonly partition: number;
  readonly offline: number;
  readonly oversize: number;
  readonly unreachable: number;
  /** Refused by a NAT: no mapping for the port, or its filtering. */
  readonly filtered: number;
}

export interface SimNetworkStats {
  readonly nodes: number;
  readonly online: number;
  /** Datagrams handed to the network (including ones dropped on sending). */
  readonly sent: number;
  readonly bytesSent: number;
  readonly delivered: number;
  readonly bytesDelivered: number;
  /** Queued for delivery now. */
  readonly inFlight: number;
  readonly dropped: SimDropStats;
  /** Clock events run so far (deliveries, timeouts, anything else scheduled). */
  readonly events: number;
}

/** An active partition rule; `heal()` removes just this one. */
export interface SimPartition {
  readonly active: boolean;
  heal(): void;
}

export const SIM_NETWORK_DEFAULTS = Object.freeze({
  seed: 1,
  loss: 0,
  maxDatagramSize: 1472,
  family: 'IPv4' as AddressFamily,
  port: 6881,
  copyDatagrams: true,
});

/** Partition rules are bits in a 32-bit mask. */
const MAX_PARTITIONS = 31;
/** Link keys are `from.id * LINK_STRIDE + to.id`: exact below 2^53. */
const LINK_STRIDE = 67_108_864;

function addressKey(address: string, port: number): string {
  return `${address.toLowerCase()}|${port}`;
}

function checkProbability(name: string, p: number): number {
  if (!(p >= 0 && p <= 1)) {
    throw new InvalidOptionError(`${name} must be a probability in [0, 1], got ${String(p)}`);
  }
  return p;
}

function checkPort(port: number): number {
  if (!Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new InvalidOptionError(`port must be an integer 1–65535, got ${String(port)}`);
  }
  return port;
}

export type SimNodeRef = SimNode | PeerAddress;

export class SimNetwork {
  readonly clock: SimClock;
  /** The root stream. Nodes and the network's own choices use children of it. */
  readonly rng: Rng;
  readonly maxDatagramSize: number;
  readonly #latency: LatencyModel;
  readonly #lossRng: Rng;
  readonly #latencyRng: Rng;
  readonly #family: AddressFamily;
  readonly #port: number;
  readonly #copy: boolean;
  readonly #trace: ((record: SimTraceRecord) => void) | undefined;
  /** Identity of this network, so nodes of another network are refused. */
  readonly #id = {};
  readonly #ops: NodeOps;
  readonly #slots: NodeSlot[] = [];
  readonly #byKey = new Map<string, NodeSlot>();
  /** Fast path: cores usually reply to the very `from` object they were given. */
  readonly #byObject = new Map<object, NodeSlot>();
  readonly #linkLoss = new Map<number, number>();
  readonly #healers = new Set<SimPartition>();
  #loss: number;
  #partitionBits = 0;
  #complementBits = 0;
  #nextV4 = 0;
  #nextV6 = 0;
  #nextPrivate = 0;
  readonly #nats = new Map<string, SimNat>();

  #sent = 0;
  #bytesSent = 0;
  #delivered = 0;
  #bytesDelivered = 0;
  #dropLoss = 0;
  #dropPartition = 0;
  #dropOffline = 0;
  #dropOversize = 0;
  #dropUnreachable = 0;
  #dropFiltered = 0;

  readonly #deliverFn = (from: NodeSlot, to: NodeSlot, data: Uint8Array | NatDelivery): void =>
    data instanceof NatDelivery
      ? this.#deliver(from, to, data.data, data.source)
      : this.#deliver(from, to, data, from.address);
  readonly #timeoutFn = (slot: NodeSlot): void => this.#timeout(slot);

  constructor(options: SimNetworkOptions = {}) {
    const o = { ...SIM_NETWORK_DEFAULTS, ...options };
    this.clock = options.clock ?? new SimClock();
    this.rng = new Rng(o.seed);
    this.#lossRng = this.rng.child('loss');
    this.#latencyRng = this.rng.child('latency');
    this.#latency =
      options.latency ?? pairwiseLatency({ seed: this.rng.child('latency-pairs').nextUint32() });
    this.#loss = checkProbability('loss', o.loss);
    if (!Number.isSafeInteger(o.maxDatagramSize) || o.maxDatagramSize < 0) {
      throw new InvalidOptionError(
        `maxDatagramSize must be a non-negative integer, got ${String(o.maxDatagramSize)}`,
      );
    }
    this.maxDatagramSize = o.maxDatagramSize;
    if (o.family !== 'IPv4' && o.family !== 'IPv6') {
      throw new InvalidOptionError(`family must be 'IPv4' or 'IPv6', got ${String(o.family)}`);
    }
    this.#family = o.family;
    this.#port = checkPort(o.port);
    this.#copy = o.copyDatagrams;
    this.#trace = options.trace;
    this.#ops = {
      poke: (slot) => this.#poke(slot),
      send: (slot, data, to) => this.#transmit(slot, data, to),
      leave: (slot) => this.#leave(slot),
      join: (slot) => this.#join(slot),
      stop: (slot) => this.#stop(slot),
      rng: (slot) => (slot.rng ??= this.rng.child(`node:${slot.key}`)),
    };
  }

  /** Virtual time now. */
  get now(): number {
    return this.clock.now;
  }

  /** The clock as injectable `Timers`, for bindings run on `bind()` endpoints. */
  get timers(): Timers {
    return this.clock.timers;
  }

  /** Nodes added and not stopped. */
  get size(): number {
    return this.#byKey.size;
  }

  /** Global loss probability (links set with `setLinkLoss` keep their own). */
  get loss(): number {
    return this.#loss;
  }

  set loss(p: number) {
    this.#loss = checkProbability('loss', p);
  }

  /**
   * Attach a core. Pass the core, or a factory that builds it from the node's address and
   * random stream (e.g. a BEP 42 node id needs the IP). Its pending output is sent and its
   * timer armed right away, so add every node a core will talk to first, or `poke()` later.
   * Throws `BindError` if the address and port are taken.
   */
  addNode<C extends SimCore>(
    core: C | ((context: SimNodeContext) => C),
    options: SimNodeOptions = {},
  ): SimNode<C> {
    const port = checkPort(options.port ?? this.#port);
    let address = options.address;
    let family: AddressFamily;
    const nat = options.nat;
    if (nat !== undefined && this.#nats.get(nat.publicAddress) !== nat) {
      throw new InvalidOptionError('that NAT belongs to another network (use addNat)');
    }
    if (address === undefined && nat !== undefined) {
      family = 'IPv4';
      address = this.#allocatePrivate(port);
    } else if (address === undefined) {
      family = options.family ?? this.#family;
      address = this.#allocate(family, port);
    } else {
      if (typeof address !== 'string' || address.length === 0) {
        throw new InvalidOptionError('address must be a non-empty IP literal');
      }
      family = address.includes(':') ? 'IPv6' : 'IPv4';
    }
    const key = addressKey(address, port);
    if (this.#byKey.has(key) || (nat === undefined && this.#nats.has(address))) {
      throw new BindError(`${address}:${port} is already taken on this sim network`);
    }
    if (this.#slots.length >= LINK_STRIDE) {
      throw new InvalidOptionError(`a sim network holds at most ${LINK_STRIDE} nodes`);
    }
    const socketAddress: SocketAddress = Object.freeze({ address, port, family });
    let actual: C;
    let rng: Rng | undefined;
    if (typeof core === 'function') {
      rng = this.rng.child(`node:${key}`);
      actual = core({ address: socketAddress, rng, now: this.clock.now });
    } else {
      actual = core;
    }
    const slot = new NodeSlot(this.#slots.length, socketAddress, key, actual, this.#ops, this.#id);
    slot.rng = rng;
    slot.nat = nat;
    slot.timer = this.clock.createTimer(this.#timeoutFn, slot);
    this.#slots.push(slot);
    this.#byKey.set(key, slot);
    this.#byObject.set(socketAddress, slot);
    if (options.online === false) slot.online = false;
    else this.#poke(slot);
    return slot.handle as SimNode<C>;
  }

  /**
   * Adds a NAT router with a public address (see nat.ts for the four behaviours). Nodes go
   * behind it with `addNode(core, { nat })`.
   */
  addNat(options: SimNatOptions): SimNat {
    const address = options.publicAddress ?? this.#allocate('IPv4', 0);
    if (address.includes(':')) throw new InvalidOptionError('NATs have IPv4 public addresses');
    if (this.#nats.has(address) || this.#slots.some((s) => s.address.address === address)) {
      throw new BindError(`${address} is already in use on this sim network`);
    }
    const nat = new SimNat(options, address);
    this.#nats.set(address, nat);
    return nat;
  }

  /** A `DatagramEndpoint` on this network, for bindings written against sockets. */
  bind(options: SimNodeOptions = {}): SimDatagramEndpoint {
    return new SimDatagramEndpoint(
      (core) => this.addNode(core, options),
      (fn) => {
        this.clock.schedule(0, fn);
      },
    );
  }

  /** The live (not stopped) node at `address`, if any. */
  getNode(address: PeerAddress): SimNode | undefined {
    return this.#byKey.get(addressKey(address.address, address.port))?.handle;
  }

  /** Every node not stopped, in the order added. */
  nodes(): SimNode[] {
    const out: SimNode[] = [];
    for (const slot of this.#slots) if (!slot.stopped) out.push(slot.handle);
    return out;
  }

  /** Churn: `node.leave()` by reference or address. */
  leave(target: SimNodeRef): void {
    this.#leave(this.#resolve(target));
  }

  /** Churn: `node.join()` by reference or address. */
  join(target: SimNodeRef): void {
    this.#join(this.#resolve(target));
  }

  /**
   * Cut every datagram between `groupA` and `groupB` (both directions) from now on; traffic
   * within each group and to nodes in neither is untouched. Without `groupB`, `groupA` is cut
   * off from every other node, including ones added later. Rules stack (up to 31 at once);
   * datagrams already in flight still arrive.
   */
  partition(groupA: Iterable<SimNodeRef>, groupB?: Iterable<SimNodeRef>): SimPartition {
    const free = ~this.#partitionBits & 0x7fffffff;
    if (free === 0) {
      throw new InvalidOptionError(
        `at most ${MAX_PARTITIONS} partitions at once; heal() some first`,
      );
    }
    const bit = free & -free;
    const a = new Set<NodeSlot>();
    for (const ref of groupA) a.add(this.#resolve(ref));
    const b = new Set<NodeSlot>();
    if (groupB !== undefined) {
      for (const ref of groupB) {
        const slot = this.#resolve(ref);
        if (a.has(slot)) {
          throw new InvalidOptionError(
            `${slot.address.address}:${slot.address.port} is in both partition groups`,
          );
        }
        b.add(slot);
      }
    }
    this.#partitionBits |= bit;
    if (groupB === undefined) this.#complementBits |= bit;
    for (const slot of a) slot.maskA |= bit;
    for (const slot of b) slot.maskB |= bit;
    let active = true;
    const rule: SimPartition = {
      get active(): boolean {
        return active;
      },
      heal: (): void => {
        if (!active) return;
        active = false;
        this.#healers.delete(rule);
        this.#clearBits(bit);
      },
    };
    this.#healers.add(rule);
    return rule;
  }

  /** Remove every partition. */
  heal(): void {
    for (const rule of [...this.#healers]) rule.heal();
  }

  /**
   * Loss probability for datagrams from `from` to `to` (and back, unless `bidirectional` is
   * false), overriding the global `loss`. `undefined` removes the override.
   */
  setLinkLoss(
    from: SimNodeRef,
    to: SimNodeRef,
    p: number | undefined,
    options: { bidirectional?: boolean } = {},
  ): void {
    const a = this.#resolve(from);
    const b = this.#resolve(to);
    const keys = [a.id * LINK_STRIDE + b.id];
    if (options.bidirectional !== false) keys.push(b.id * LINK_STRIDE + a.id);
    for (const k of keys) {
      if (p === undefined) this.#linkLoss.delete(k);
      else this.#linkLoss.set(k, checkProbability('link loss', p));
    }
  }

  stats(): SimNetworkStats {
    let online = 0;
    for (const slot of this.#byKey.values()) if (slot.online) online++;
    const dropped =
      this.#dropLoss +
      this.#dropPartition +
      this.#dropOffline +
      this.#dropOversize +
      this.#dropUnreachable +
      this.#dropFiltered;
    return {
      nodes: this.#byKey.size,
      online,
      sent: this.#sent,
      bytesSent: this.#bytesSent,
      delivered: this.#delivered,
      bytesDelivered: this.#bytesDelivered,
      inFlight: this.#sent - this.#delivered - dropped,
      dropped: {
        total: dropped,
        loss: this.#dropLoss,
        partition: this.#dropPartition,
        offline: this.#dropOffline,
        oversize: this.#dropOversize,
        unreachable: this.#dropUnreachable,
        filtered: this.#dropFiltered,
      },
      events: this.clock.eventsRun,
    };
  }

  /** `clock.runUntil(time, maxEvents)`: returns the number of events run. */
  runUntil(time: number, maxEvents?: number): number {
    return this.clock.runUntil(time, maxEvents);
  }

  /** `clock.runFor(ms, maxEvents)`. */
  runFor(ms: number, maxEvents?: number): number {
    return this.clock.runFor(ms, maxEvents);
  }

  /** `clock.runUntilIdle(maxEvents)`. */
  runUntilIdle(maxEvents?: number): number {
    return this.clock.runUntilIdle(maxEvents);
  }

  // ——— hot path ———

  #transmit(from: NodeSlot, data: Uint8Array, to: PeerAddress): void {
    const size = data.byteLength;
    this.#sent++;
    this.#bytesSent += size;
    from.sent++;
    from.bytesSent += size;
    if (this.#trace !== undefined) this.#record('send', from.address, to, size, undefined);
    if (!from.online || from.stopped) {
      this.#drop('offline', from, undefined, to, size);
      return;
    }
    if (size > this.maxDatagramSize) {
      this.#drop('oversize', from, undefined, to, size);
      return;
    }
    let dest = this.#byObject.get(to) ?? this.#byKey.get(addressKey(to.address, to.port));
    let source = from.address;
    if (this.#nats.size !== 0) {
      // Private addresses route only inside their NAT; anything leaving it is translated,
      // and a datagram to a NAT's public address goes through its mapping and filtering.
      if (dest !== undefined && dest.nat !== undefined && dest.nat !== from.nat) dest = undefined;
      if (from.nat !== undefined && (dest === undefined || dest.nat !== from.nat)) {
        source = from.nat.outbound(from.address, to, this.clock.now);
      }
      const nat = dest === undefined ? this.#nats.get(to.address) : undefined;
      if (nat !== undefined) {
        if (from.nat === nat && !nat.hairpin) {
          this.#drop('filtered', from, undefined, to, size);
          return;
        }
        const inner = nat.inbound(to.port, source, this.clock.now);
        if (inner === undefined) {
          this.#drop('filtered', from, undefined, to, size);
          return;
        }
        dest = this.#byKey.get(addressKey(inner.address, inner.port));
      }
    }
    if (dest === undefined) {
      this.#drop('unreachable', from, undefined, to, size);
      return;
    }
    if (this.#partitionBits !== 0) {
      const blocked =
        (from.maskA & dest.maskB) |
        (from.maskB & dest.maskA) |
        ((from.maskA ^ dest.maskA) & this.#complementBits);
      if (blocked !== 0) {
        this.#drop('partition', from, dest, to, size);
        return;
      }
    }
    let p = this.#loss;
    if (this.#linkLoss.size !== 0) p = this.#linkLoss.get(from.id * LINK_STRIDE + dest.id) ?? p;
    if (p > 0 && this.#lossRng.next() < p) {
      this.#drop('loss', from, dest, to, size);
      return;
    }
    let delay = this.#latency(from.handle, dest.handle, this.#latencyRng);
    if (!(delay > 0)) delay = 0;
    const payload = this.#copy ? Buffer.from(data) : data;
    this.clock.scheduleCall(
      this.clock.now + delay,
      this.#deliverFn,
      from,
      dest,
      source === from.address ? payload : new NatDelivery(payload, source),
    );
  }

  #deliver(from: NodeSlot, dest: NodeSlot, data: Uint8Array, source: SocketAddress): void {
    let to = dest;
    if (to.stopped) {
      // Whoever holds the address now gets it, as a restarted process would.
      to = this.#byKey.get(to.key) ?? to;
    }
    const size = data.byteLength;
    if (!to.online || to.stopped) {
      this.#drop('offline', from, to, to.address, size);
      return;
    }
    this.#delivered++;
    this.#bytesDelivered += size;
    to.received++;
    to.bytesReceived += size;
    const now = this.clock.now;
    if (this.#trace !== undefined)
      this.#record('deliver', from.address, to.address, size, undefined);
    to.core.receive(data, source, now);
    this.#poke(to);
  }

  #timeout(slot: NodeSlot): void {
    if (!slot.online || slot.stopped) return;
    slot.timeouts++;
    if (this.#trace !== undefined)
      this.#record('timeout', slot.address, slot.address, 0, undefined);
    slot.core.handleTimeout(this.clock.now);
    this.#poke(slot);
  }

  /** Drain the core's output, then re-arm its one timer from `nextDeadline()`. */
  #poke(slot: NodeSlot): void {
    if (slot.stopped) return;
    const out = slot.core.takeOutput();
    for (let i = 0; i < out.length; i++) {
      const d = out[i]!;
      this.#transmit(slot, d.data, d.to);
    }
    if (!slot.online) return;
    const timer = slot.timer!;
    const deadline = slot.core.nextDeadline();
    if (deadline === undefined) {
      if (timer.pending) this.clock.cancel(timer);
      return;
    }
    const now = this.clock.now;
    const at = deadline < now ? now : deadline;
    if (timer.pending && timer.time === at) return;
    this.clock.reschedule(timer, at);
  }

  #drop(
    reason: SimDropReason,
    from: NodeSlot,
    dest: NodeSlot | undefined,
    to: PeerAddress,
    size: number,
  ): void {
    switch (reason) {
      case 'loss':
        this.#dropLoss++;
        break;
      case 'partition':
        this.#dropPartition++;
        break;
      case 'offline':
        this.#dropOffline++;
        break;
      case 'oversize':
        this.#dropOversize++;
        break;
      case 'unreachable':
        this.#dropUnreachable++;
        break;
      case 'filtered':
        this.#dropFiltered++;
        break;
    }
    if (dest !== undefined) dest.dropped++;
    if (this.#trace !== undefined) this.#record('drop', from.address, to, size, reason);
  }

  #record(
    type: SimTraceRecord['type'],
    from: SocketAddress,
    to: PeerAddress,
    size: number,
    reason: SimDropReason | undefined,
  ): void {
    this.#trace!({ type, time: this.clock.now, from, to, size, reason });
  }

  // ——— membership ———

  #leave(slot: NodeSlot): void {
    if (slot.stopped || !slot.online) return;
    slot.online = false;
    if (slot.timer!.pending) this.clock.cancel(slot.timer!);
  }

  #join(slot: NodeSlot): void {
    if (slot.stopped || slot.online) return;
    slot.online = true;
    this.#poke(slot);
  }

  #stop(slot: NodeSlot): void {
    if (slot.stopped) return;
    this.#leave(slot);
    slot.stopped = true;
    slot.maskA = 0;
    slot.maskB = 0;
    if (this.#byKey.get(slot.key) === slot) this.#byKey.delete(slot.key);
    this.#byObject.delete(slot.address);
  }

  #resolve(ref: SimNodeRef): NodeSlot {
    if (typeof (ref as SimNode).poke === 'function') {
      const slot = slotOf(ref as SimNode, this.#id);
      if (slot === undefined) throw new InvalidOptionError('that node belongs to another network');
      return slot;
    }
    const address = ref as PeerAddress;
    const slot = this.#byKey.get(addressKey(address.address, address.port));
    if (slot === undefined) {
      throw new InvalidOptionError(
        `no node at ${String(address.address)}:${String(address.port)} on this sim network`,
      );
    }
    return slot;
  }

  #clearBits(bit: number): void {
    this.#partitionBits &= ~bit;
    this.#complementBits &= ~bit;
    for (const slot of this.#slots) {
      slot.maskA &= ~bit;
      slot.maskB &= ~bit;
    }
  }

  #allocatePrivate(port: number): string {
    for (;;) {
      const n = ++this.#nextPrivate;
      if (n >= 0xffff) throw new BindError('192.168.0.0/16 is exhausted on this sim network');
      const last = n & 0xff;
      if (last === 0 || last === 0xff) continue;
      const address = `192.168.${(n >>> 8) & 0xff}.${last}`;
      if (!this.#byKey.has(addressKey(address, port))) return address;
    }
  }

  #allocate(family: AddressFamily, port: number): string {
    // Bounded: at most 2^24 candidates in 10/8, 2^32 in fd00::/96 (never reached).
    for (;;) {
      let address: string;
      if (family === 'IPv4') {
        const n = ++this.#nextV4;
        if (n >= 0xffffff) throw new BindError('10.0.0.0/8 is exhausted on this sim network');
        const last = n & 0xff;
        if (last === 0 || last === 0xff) continue;
        address = `10.${(n >>> 16) & 0xff}.${(n >>> 8) & 0xff}.${last}`;
      } else {
        const n = ++this.#nextV6;
        const hi = Math.floor(n / 65_536);
        const lo = n % 65_536;
        address =
          hi === 0 ? `fd00::${lo.toString(16)}` : `fd00::${hi.toString(16)}:${lo.toString(16)}`;
      }
      if (!this.#byKey.has(addressKey(address, port)) && !this.#nats.has(address)) return address;
    }
  }
}

/** A datagram whose source a NAT rewrote (only allocated when one did). */
class NatDelivery {
  constructor(
    readonly data: Uint8Array,
    readonly source: SocketAddress,
  ) {}
}
