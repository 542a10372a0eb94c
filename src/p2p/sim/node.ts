/**
 * A node on a `SimNetwork`: one sans-I/O core (DESIGN §2) at one address. The network
 * drives the core directly — `receive` at delivery time, then `takeOutput`, then
 * `nextDeadline` — with no event emitter or promise in between.
 */
import type { PeerAddress, SocketAddress } from '../../transport/types.js';
import type { SimTimer } from './clock.js';
import type { SimNat } from './nat.js';
import type { Rng } from './rng.js';

/** One datagram a core wants sent. */
export interface SimDatagram {
  readonly data: Uint8Array;
  readonly to: PeerAddress;
}

/**
 * The shape of a sans-I/O datagram core as the simulator drives it. The Kademlia, SWIM and
 * STUN cores fit it as they are (a `receive` that returns events is fine: the sim ignores
 * the result; the test reads the core's own state or events).
 */
export interface SimCore {
  /** A datagram arrived from `from` at virtual time `now`. */
  receive(data: Uint8Array, from: SocketAddress, now: number): void;
  /** Datagrams to send now; the sim calls it after every input and on `poke()`. */
  takeOutput(): readonly SimDatagram[];
  /** When `handleTimeout` is next due (absolute virtual ms), or undefined for never. */
  nextDeadline(): number | undefined;
  /** The deadline passed. */
  handleTimeout(now: number): void;
}

/** Per-node counters (pull-style, STYLE §9). */
export interface SimNodeStats {
  /** Datagrams this node sent (including ones the network then dropped). */
  readonly sent: number;
  readonly bytesSent: number;
  /** Datagrams handed to this node's core. */
  readonly received: number;
  readonly bytesReceived: number;
  /** Datagrams addressed to this node that the network dropped (loss, partition, offline). */
  readonly dropped: number;
  /** `handleTimeout` calls. */
  readonly timeouts: number;
}

/** @internal The network's mutable per-node record; public fields for the hot path. */
export class NodeSlot {
  readonly id: number;
  readonly address: SocketAddress;
  readonly key: string;
  readonly core: SimCore;
  readonly handle: SimNode;
  online = true;
  stopped = false;
  /** Partition rule bits: side A and side B of each active rule. */
  maskA = 0;
  maskB = 0;
  timer: SimTimer | undefined = undefined;
  rng: Rng | undefined = undefined;
  /** The NAT this node sits behind, if any. */
  nat: SimNat | undefined = undefined;
  sent = 0;
  bytesSent = 0;
  received = 0;
  bytesReceived = 0;
  dropped = 0;
  timeouts = 0;

  constructor(
    id: number,
    address: SocketAddress,
    key: string,
    core: SimCore,
    ops: NodeOps,
    networkId: object,
  ) {
    this.id = id;
    this.address = address;
    this.key = key;
    this.core = core;
    this.handle = new SimNode(this, ops, networkId);
  }
}

/** @internal What a `SimNode` asks of its network. */
export interface NodeOps {
  poke(slot: NodeSlot): void;
  send(slot: NodeSlot, data: Uint8Array, to: PeerAddress): void;
  leave(slot: NodeSlot): void;
  join(slot: NodeSlot): void;
  stop(slot: NodeSlot): void;
  rng(slot: NodeSlot): Rng;
}

// Intentionally module-level: assigned once by SimNode's static block so the network (and
// only code in this package) can reach a node's slot without a public accessor. Not state.
let getSlot: (node: SimNode, networkId: object) => NodeSlot | undefined;

/** @internal The slot behind `node` if it belongs to the network with `networkId`. */
export function slotOf(node: SimNode, networkId: object): NodeSlot | undefined {
  return getSlot(node, networkId);
}

/** A core attached to a `SimNetwork`, returned by `addNode`. */
export class SimNode<C extends SimCore = SimCore> {
  readonly #slot: NodeSlot;
  readonly #ops: NodeOps;
  readonly #networkId: object;

  static {
    getSlot = (node, networkId) => (node.#networkId === networkId ? node.#slot : undefined);
  }

  /** @internal Use `SimNetwork.addNode`. */
  constructor(slot: NodeSlot, ops: NodeOps, networkId: object) {
    this.#slot = slot;
    this.#ops = ops;
    this.#networkId = networkId;
  }

  /** Dense id in the order nodes were added (0, 1, 2, …); latency models key on it. */
  get id(): number {
    return this.#slot.id;
  }

  get address(): SocketAddress {
    return this.#slot.address;
  }

  get core(): C {
    return this.#slot.core as C;
  }

  /** False after `leave()` (until `join()`) and after `stop()`. */
  get online(): boolean {
    return this.#slot.online && !this.#slot.stopped;
  }

  get stopped(): boolean {
    return this.#slot.stopped;
  }

  /** This node's own random stream: `network.rng.child('node:<address>:<port>')`. */
  get rng(): Rng {
    return this.#ops.rng(this.#slot);
  }

  /** Virtual time of the pending `handleTimeout`, or undefined. */
  get timerAt(): number | undefined {
    const timer = this.#slot.timer;
    return timer !== undefined && timer.pending ? timer.time : undefined;
  }

  /**
   * Tell the sim the core changed outside a delivery or timeout (a test called an intent
   * such as `core.lookup(target)`): drain `takeOutput()` now and re-read `nextDeadline()`.
   */
  poke(): void {
    this.#ops.poke(this.#slot);
  }

  /** Send a raw datagram from this node's address (for tests injecting traffic). */
  send(data: Uint8Array, to: PeerAddress): void {
    this.#ops.send(this.#slot, data, to);
  }

  /**
   * Churn: the node goes silent. Datagrams to it are dropped (reason 'offline'), its timer is
   * cancelled and its core is not called until `join()`; the core keeps its state, like a
   * suspended process.
   */
  leave(): void {
    this.#ops.leave(this.#slot);
  }

  /** Come back after `leave()`: the core's output is drained and its timer re-armed. */
  join(): void {
    this.#ops.join(this.#slot);
  }

  /** Remove the node for good and free its address. Idempotent. */
  stop(): void {
    this.#ops.stop(this.#slot);
  }

  stats(): SimNodeStats {
    const s = this.#slot;
    return {
      sent: s.sent,
      bytesSent: s.bytesSent,
      received: s.received,
      bytesReceived: s.bytesReceived,
      dropped: s.dropped,
      timeouts: s.timeouts,
    };
  }
}
