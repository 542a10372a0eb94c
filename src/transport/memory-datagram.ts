/**
 * An in-memory datagram network (DESIGN §3): endpoints bind addresses on a `MemoryNetwork`
 * and exchange datagrams with UDP semantics — asynchronous delivery, datagrams to unbound
 * addresses or to a full receive queue are dropped silently, oversize sends fail with a
 * coded `error` event.
 *
 * The network itself adds no latency or loss. `p2p/sim` builds on it: override
 * `transmit` (called for every datagram accepted by `send`) to hold a datagram until a
 * virtual time and then call `deliver`, or pass the `transmit` filter option to drop some.
 */
import { EventEmitter } from 'node:events';
import { isIPv6 } from 'node:net';
import { InvalidOptionError } from '../errors.js';
import { BindError } from './errors.js';
import {
  DatagramSendError,
  DatagramTooLargeError,
  EndpointClosedError,
} from './datagram-errors.js';
import type { Scheduler } from './memory-stream.js';
import type {
  DatagramEndpoint,
  DatagramEndpointEvents,
  PeerAddress,
  SocketAddress,
} from './types.js';

/** One datagram in flight on a `MemoryNetwork`. The `data` is a private copy. */
export interface MemoryDatagram {
  readonly data: Uint8Array;
  readonly from: SocketAddress;
  readonly to: PeerAddress;
}

export interface MemoryNetworkOptions {
  /**
   * Largest datagram `send` accepts, in bytes. Larger sends emit `DatagramTooLargeError`.
   * The default is the largest UDP payload over IPv4 (65535 − 20 − 8).
   * @default 65507
   */
  maxDatagramSize?: number;
  /**
   * Datagrams an endpoint holds delivered but not yet emitted. Beyond it new datagrams are
   * dropped, as a kernel drops them when a socket's receive buffer is full.
   * @default 1024
   */
  maxQueued?: number;
  /**
   * Called for every datagram accepted by `send`; return false to drop it (loss,
   * partitions, firewalls in tests).
   * @default undefined (deliver everything)
   */
  filter?: (datagram: MemoryDatagram) => boolean;
  /**
   * Address `bind()` uses when none is given.
   * @default '127.0.0.1'
   */
  defaultAddress?: string;
  /**
   * How emission is deferred. Microtasks keep the network working under fake timers.
   * @default queueMicrotask
   */
  schedule?: Scheduler;
}

export interface MemoryBindOptions {
  /**
   * Address to bind; any string works (IP literals get the right `family`).
   * @default the network's `defaultAddress`
   */
  address?: string;
  /**
   * Port to bind; 0 allocates a free one from 49152–65535.
   * @default 0
   */
  port?: number;
  /**
   * This endpoint's receive queue bound, overriding the network's `maxQueued`.
   * @default the network's `maxQueued`
   */
  maxQueued?: number;
}

export const MEMORY_NETWORK_DEFAULTS = Object.freeze({
  maxDatagramSize: 65_507,
  maxQueued: 1024,
  defaultAddress: '127.0.0.1',
});

const EPHEMERAL_FIRST = 49_152;
const EPHEMERAL_COUNT = 65_536 - EPHEMERAL_FIRST;

function endpointKey(address: string, port: number): string {
  return `${address.toLowerCase()}|${port}`;
}

function validPort(port: unknown): port is number {
  return Number.isInteger(port) && (port as number) >= 1 && (port as number) <= 65_535;
}

function positiveInt(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new InvalidOptionError(`${name} must be a positive integer, got ${String(value)}`);
  }
  return value;
}

export class MemoryNetwork {
  readonly maxDatagramSize: number;
  readonly maxQueued: number;
  readonly #filter: ((datagram: MemoryDatagram) => boolean) | undefined;
  readonly #defaultAddress: string;
  readonly #schedule: Scheduler;
  readonly #endpoints = new Map<string, MemoryDatagramEndpoint>();
  #nextPort = 0;
  #delivered = 0;
  #dropped = 0;

  constructor(options: MemoryNetworkOptions = {}) {
    this.maxDatagramSize = positiveInt(
      'maxDatagramSize',
      options.maxDatagramSize,
      MEMORY_NETWORK_DEFAULTS.maxDatagramSize,
    );
    this.maxQueued = positiveInt('maxQueued', options.maxQueued, MEMORY_NETWORK_DEFAULTS.maxQueued);
    this.#filter = options.filter;
    this.#defaultAddress = options.defaultAddress ?? MEMORY_NETWORK_DEFAULTS.defaultAddress;
    this.#schedule = options.schedule ?? queueMicrotask;
  }

  /** Endpoints currently bound. */
  get size(): number {
    return this.#endpoints.size;
  }

  /** Counters since construction: datagrams handed to an endpoint, and dropped ones. */
  stats(): { delivered: number; dropped: number; endpoints: number } {
    return { delivered: this.#delivered, dropped: this.#dropped, endpoints: this.#endpoints.size };
  }

  /** Bind an endpoint. Throws `BindError` when the address and port are taken. */
  bind(options: MemoryBindOptions = {}): MemoryDatagramEndpoint {
    const address = options.address ?? this.#defaultAddress;
    if (typeof address !== 'string' || address.length === 0) {
      throw new InvalidOptionError('address must be a non-empty string');
    }
    const requested = options.port ?? 0;
    if (requested !== 0 && !validPort(requested)) {
      throw new InvalidOptionError(`port must be an integer 0–65535, got ${String(requested)}`);
    }
    const port = requested === 0 ? this.#allocatePort(address) : requested;
    const key = endpointKey(address, port);
    if (this.#endpoints.has(key)) {
      throw new BindError(`Address ${address}:${port} is already bound on this memory network`);
    }
    const maxQueued = positiveInt('maxQueued', options.maxQueued, this.maxQueued);
    const family = isIPv6(address) ? 'IPv6' : 'IPv4';
    const endpoint = new MemoryDatagramEndpoint(
      this,
      { address, port, family },
      { schedule: this.#schedule, maxQueued },
      () => this.#endpoints.delete(key),
    );
    this.#endpoints.set(key, endpoint);
    return endpoint;
  }

  /**
   * Every datagram accepted by an endpoint's `send` passes through here. The default drops
   * it if the `filter` option says so and delivers it otherwise. A simulator overrides this
   * to add latency, loss or reordering, and calls `deliver` when the datagram arrives.
   */
  protected transmit(datagram: MemoryDatagram): void {
    if (this.#filter !== undefined && !this.#filter(datagram)) {
      this.#dropped += 1;
      return;
    }
    this.deliver(datagram);
  }

  /**
   * Hand a datagram to the endpoint bound at `datagram.to`; it emits `message`
   * asynchronously. Returns false when it was dropped (nothing bound there, or the
   * endpoint's queue is full).
   */
  deliver(datagram: MemoryDatagram): boolean {
    const target = this.#endpoints.get(endpointKey(datagram.to.address, datagram.to.port));
    if (target === undefined || !target.enqueue(datagram)) {
      this.#dropped += 1;
      return false;
    }
    this.#delivered += 1;
    return true;
  }

  /** @internal Called by `MemoryDatagramEndpoint.send` after validation. */
  accept(datagram: MemoryDatagram): void {
    this.transmit(datagram);
  }

  #allocatePort(address: string): number {
    // Bounded scan over the ephemeral range, starting after the last port handed out.
    for (let i = 0; i < EPHEMERAL_COUNT; i += 1) {
      const port = EPHEMERAL_FIRST + ((this.#nextPort + i) % EPHEMERAL_COUNT);
      if (!this.#endpoints.has(endpointKey(address, port))) {
        this.#nextPort = (this.#nextPort + i + 1) % EPHEMERAL_COUNT;
        return port;
      }
    }
    throw new BindError(`No free port left on ${address} in this memory network`);
  }
}

/** An endpoint bound on a `MemoryNetwork` (kind 'memory'). */
export class MemoryDatagramEndpoint
  extends EventEmitter<DatagramEndpointEvents>
  implements DatagramEndpoint
{
  readonly kind = 'memory';
  readonly address: SocketAddress;
  readonly #network: MemoryNetwork;
  readonly #schedule: Scheduler;
  readonly #maxQueued: number;
  readonly #unregister: () => void;
  #queue: MemoryDatagram[] = [];
  #flushScheduled = false;
  #closing = false;
  #closedPromise: Promise<void> | undefined;
  #lastError: Error | undefined;

  /** @internal Use `MemoryNetwork.bind`. */
  constructor(
    network: MemoryNetwork,
    address: SocketAddress,
    settings: { schedule: Scheduler; maxQueued: number },
    unregister: () => void,
  ) {
    super();
    this.#network = network;
    this.address = Object.freeze({ ...address });
    this.#schedule = settings.schedule;
    this.#maxQueued = settings.maxQueued;
    this.#unregister = unregister;
  }

  /** True once `close()` was called. */
  get closed(): boolean {
    return this.#closing;
  }

  /** The most recent send error (also when no `error` listener saw it). */
  get lastError(): Error | undefined {
    return this.#lastError;
  }

  /** Datagrams delivered to this endpoint and not yet emitted. */
  get queued(): number {
    return this.#queue.length;
  }

  send(data: Uint8Array, to: PeerAddress): void {
    if (this.#closing) {
      this.#fail(new EndpointClosedError());
      return;
    }
    if (data.byteLength > this.#network.maxDatagramSize) {
      this.#fail(new DatagramTooLargeError(data.byteLength, this.#network.maxDatagramSize));
      return;
    }
    if (typeof to?.address !== 'string' || !validPort(to.port)) {
      this.#fail(
        new DatagramSendError(
          `Invalid destination ${String(to?.address)}:${String(to?.port)} (port must be 1–65535)`,
        ),
      );
      return;
    }
    this.#network.accept({
      data: Buffer.from(data),
      from: this.address,
      to: { address: to.address, port: to.port },
    });
  }

  close(): Promise<void> {
    if (this.#closedPromise !== undefined) return this.#closedPromise;
    this.#closing = true;
    this.#queue = [];
    this.#unregister();
    this.#closedPromise = new Promise((resolve) => {
      this.#schedule(() => {
        this.emit('close');
        resolve();
      });
    });
    return this.#closedPromise;
  }

  /** @internal Called by the network; false when the datagram was dropped. */
  enqueue(datagram: MemoryDatagram): boolean {
    if (this.#closing || this.#queue.length >= this.#maxQueued) return false;
    this.#queue.push(datagram);
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      this.#schedule(() => this.#flush());
    }
    return true;
  }

  #flush(): void {
    this.#flushScheduled = false;
    // Emit only what is queued now; datagrams sent from inside a listener wait for the next
    // flush, so a ping-pong between two endpoints cannot loop inside one call.
    const batch = this.#queue;
    this.#queue = [];
    for (const datagram of batch) {
      if (this.#closing) return;
      this.emit('message', datagram.data, datagram.from);
    }
  }

  #fail(err: Error): void {
    this.#lastError = err;
    // Like UdpEndpoint: asynchronous, and not thrown when nobody listens.
    this.#schedule(() => {
      if (this.listenerCount('error') > 0) this.emit('error', err);
    });
  }
}
