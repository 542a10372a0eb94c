/**
 * Gossip clusters on the simulated network (p2p/sim): every member a {@link GossipCore} on
 * a {@link SimNetwork} node, with the stream exchanges the core asks for (push-pull, TCP
 * pings, user messages) carried as reliable messages with the network's latency — failing
 * when the target is offline or cut off by the cluster's own partition rule. For tests and
 * benchmarks of SWIM at scale: joins, dissemination, failure detection, Lifeguard's slow
 * member, partitions that heal. With the `serf` option every member also runs a
 * {@link SerfLayer} (its delegate, with its own timer: Serf's reconnect to failed members).
 */
import { InvalidOptionError } from '../../errors.js';
import type { SocketAddress } from '../../transport/types.js';
import type { SimNetwork } from '../sim/network.js';
import type { SimCore, SimDatagram, SimNode } from '../sim/node.js';
import { GossipCore } from './core.js';
import type { GossipEvent, GossipOptions, StreamRequest } from './core.js';
import { GossipError, GossipErrorCodes } from './errors.js';
import { SERF_DELEGATE_VERSIONS, SerfLayer } from './serf.js';
import type { SerfEvent, SerfLayerOptions } from './serf.js';

/** One event seen by one member, with its virtual time. */
export interface SimGossipEvent {
  readonly time: number;
  readonly node: string;
  readonly event: GossipEvent;
}

/** One Serf event seen by one member (clusters with the `serf` option). */
export interface SimSerfEvent {
  readonly time: number;
  readonly node: string;
  readonly event: SerfEvent;
}

/** Per-member options (name and address come from the cluster). */
export type SimMemberOptions = Omit<GossipOptions, 'name' | 'address'>;

/** The SimCore wrapper of one member. */
export class SimGossipMember implements SimCore {
  readonly name: string;
  readonly core: GossipCore;
  /** The member's Serf layer, when the cluster has the `serf` option. */
  readonly serf: SerfLayer | undefined;
  readonly #cluster: GossipSimCluster;
  node: SimNode | undefined;
  /** Extra delay before this member handles anything (Lifeguard's "slow member"). */
  slowMs = 0;

  constructor(cluster: GossipSimCluster, core: GossipCore, serf?: SerfLayer) {
    this.#cluster = cluster;
    this.core = core;
    this.serf = serf;
    this.name = core.name;
  }

  receive(data: Uint8Array, from: SocketAddress, now: number): void {
    if (this.slowMs > 0) {
      // A slow member processes its input late: re-deliver after the delay.
      this.#cluster.later(this.slowMs, () => {
        this.core.receive(data, from, this.#cluster.now);
        this.node?.poke();
      });
      return;
    }
    this.core.receive(data, from, now);
  }

  takeOutput(): SimDatagram[] {
    for (const s of this.core.takeStreams()) this.#cluster.stream(this, s);
    const now = this.#cluster.now;
    const events = this.core.takeEvents();
    for (const event of events) this.#cluster.record({ time: now, node: this.name, event });
    if (this.serf !== undefined) {
      for (const event of this.serf.translate(events, now)) {
        this.#cluster.recordSerf({ time: now, node: this.name, event });
      }
    }
    return this.core.takeOutput();
  }

  nextDeadline(): number | undefined {
    const a = this.core.nextDeadline();
    const b = this.serf?.nextDeadline();
    if (a === undefined) return b;
    return b === undefined ? a : Math.min(a, b);
  }

  handleTimeout(now: number): void {
    this.core.handleTimeout(now);
    this.serf?.handleTimeout(now);
  }
}

export interface GossipSimClusterOptions {
  /** Options for every member (timings default to memberlist's LAN profile). */
  readonly member?: SimMemberOptions;
  /** Keep every event (costs memory in big runs). @default true */
  readonly recordEvents?: boolean;
  /** Called for each event as it happens. */
  readonly onEvent?: (e: SimGossipEvent) => void;
  /**
   * Run a {@link SerfLayer} on every member (as its delegate, speaking Serf's delegate
   * versions); `true` for Serf's defaults (reconnect every 30 s).
   */
  readonly serf?: SerfLayerOptions | boolean;
}

/** A cluster of gossip members on one SimNetwork. */
export class GossipSimCluster {
  readonly net: SimNetwork;
  readonly members: SimGossipMember[] = [];
  readonly events: SimGossipEvent[] = [];
  /** Serf events (clusters with the `serf` option), when events are recorded. */
  readonly serfEvents: SimSerfEvent[] = [];
  /** Streams carried (push-pulls, TCP pings, user messages). */
  streams = 0;
  readonly #options: GossipSimClusterOptions;
  readonly #byKey = new Map<string, SimGossipMember>();
  /** Members cut off from each other: `side` maps a name to its partition side. */
  #side: Map<string, number> | undefined;

  constructor(net: SimNetwork, options: GossipSimClusterOptions = {}) {
    this.net = net;
    this.#options = options;
  }

  get now(): number {
    return this.net.now;
  }

  /** @internal */
  later(ms: number, fn: () => void): void {
    this.net.clock.schedule(ms, fn);
  }

  /** @internal */
  record(e: SimGossipEvent): void {
    if (this.#options.recordEvents !== false) this.events.push(e);
    this.#options.onEvent?.(e);
  }

  /** @internal */
  recordSerf(e: SimSerfEvent): void {
    if (this.#options.recordEvents !== false) this.serfEvents.push(e);
  }

  /** Adds a member (not joined to anyone yet). */
  add(name: string, extra: SimMemberOptions = {}): SimGossipMember {
    let member: SimGossipMember | undefined;
    const serfOption = this.#options.serf;
    const node = this.net.addNode(({ address, rng, now }) => {
      const random = (n: number): Uint8Array => rng.randomBytes(n);
      const serf =
        serfOption === undefined || serfOption === false
          ? undefined
          : new SerfLayer(serfOption === true ? {} : serfOption, { random });
      const core = new GossipCore(
        { random },
        {
          wire: { compression: false },
          ...this.#options.member,
          ...extra,
          ...(serf !== undefined && { delegate: serf, versions: SERF_DELEGATE_VERSIONS }),
          name,
          address: { address: address.address, port: address.port },
        },
        now,
      );
      serf?.attach(core);
      member = new SimGossipMember(this, core, serf);
      return member;
    });
    member!.node = node;
    this.members.push(member!);
    this.#byKey.set(`${node.address.address}|${node.address.port}`, member!);
    return member!;
  }

  /** `member` joins through `seed` (a push-pull with the join flag). */
  join(member: SimGossipMember, seed: SimGossipMember, done?: (err?: Error) => void): void {
    const a = seed.node!.address;
    member.core.join([{ address: a.address, port: a.port }], this.now, (err) => done?.(err));
    member.node!.poke();
  }

  /** Takes a member off the network (crash: no leave). */
  kill(member: SimGossipMember): void {
    member.node!.leave();
  }

  /** Brings a killed member back with its old state (as after a long pause). */
  revive(member: SimGossipMember): void {
    member.node!.join();
  }

  /** Splits the cluster: members in `a` and the rest cannot exchange anything. */
  partition(a: readonly SimGossipMember[]): void {
    this.net.partition(a.map((m) => m.node!));
    const side = new Map<string, number>();
    for (const m of this.members) side.set(m.name, 1);
    for (const m of a) side.set(m.name, 0);
    this.#side = side;
  }

  heal(): void {
    this.net.heal();
    this.#side = undefined;
  }

  #reachable(from: SimGossipMember, to: SimGossipMember): boolean {
    if (!to.node!.online || !from.node!.online) return false;
    return this.#side === undefined || this.#side.get(from.name) === this.#side.get(to.name);
  }

  /** @internal Carries one stream exchange: request there, reply back, each one latency. */
  stream(from: SimGossipMember, req: StreamRequest): void {
    this.streams++;
    const to = this.#byKey.get(`${req.to.address}|${req.to.port}`);
    const oneWay = 10;
    const fail = (why: string): void =>
      this.later(Math.min(req.timeoutMs, 1000), () => {
        from.core.streamResult(
          req.id,
          new GossipError(GossipErrorCodes.REMOTE_ERROR, why),
          this.now,
        );
        from.node!.poke();
      });
    if (to === undefined) {
      fail(`no member at ${req.to.address}:${req.to.port}`);
      return;
    }
    this.later(oneWay + to.slowMs, () => {
      if (!this.#reachable(from, to)) {
        fail('connection refused');
        return;
      }
      const fromAddr = from.node!.address;
      const reply = to.core.handleStream(req.data, fromAddr, this.now);
      to.node!.poke();
      this.later(oneWay + from.slowMs, () => {
        from.core.streamResult(req.id, req.expectReply ? reply : undefined, this.now);
        from.node!.poke();
      });
    });
  }

  /** Members that `observer` sees alive (itself included). */
  aliveSeenBy(observer: SimGossipMember): number {
    return observer.core.members().filter((m) => m.state === 'alive').length;
  }

  /** Whether every online member sees exactly the online members alive. */
  converged(): boolean {
    const online = this.members.filter((m) => m.node!.online);
    const names = new Set(online.map((m) => m.name));
    return online.every((m) => {
      const alive = m.core.members().filter((x) => x.state === 'alive');
      return alive.length === names.size && alive.every((x) => names.has(x.name));
    });
  }

  /** Runs until `check` holds or `maxMs` of virtual time passes; returns the time taken. */
  runUntil(check: () => boolean, maxMs: number, stepMs = 100): number | undefined {
    const start = this.now;
    while (this.now - start <= maxMs) {
      if (check()) return this.now - start;
      this.net.runFor(stepMs);
    }
    return check() ? this.now - start : undefined;
  }

  member(name: string): SimGossipMember {
    const m = this.members.find((x) => x.name === name);
    if (m === undefined) throw new InvalidOptionError(`no member named ${name}`);
    return m;
  }
}
