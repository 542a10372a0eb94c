/**
 * The TURN client over UDP (the binding): {@link TurnClientCore} on one socket with timers,
 * promise-returning operations and a `data` event for what peers send through the relay.
 */
import { randomBytes } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { EventEmitter } from 'node:events';
import { bindUdp } from '../../../transport/udp.js';
import type { DatagramEndpoint, PeerAddress, SocketAddress } from '../../../transport/types.js';
import { DeadlineTimer, realTimers } from '../../sim/timers.js';
import type { Timers } from '../../sim/timers.js';
import type { TransportAddress } from '../stun/codec.js';
import { TurnClientCore } from './client.js';
import type { Allocation, TurnClientOptions } from './client.js';

export interface TurnClientConnectOptions extends Omit<TurnClientOptions, 'server'> {
  /** The TURN server (a host name is resolved). */
  readonly server: PeerAddress;
  /** Local address to bind. @default '0.0.0.0' */
  readonly host?: string;
  readonly timers?: Timers;
}

export interface TurnClientEvents {
  /** A peer sent `data` to our relayed address. */
  data: [data: Uint8Array, peer: TransportAddress];
  /** The allocation was lost (a refresh failed). */
  lost: [err: Error];
  error: [err: Error];
}

/** A TURN client on one UDP socket. */
export class TurnClient extends EventEmitter<TurnClientEvents> {
  readonly core: TurnClientCore;
  readonly #socket: DatagramEndpoint;
  readonly #timers: Timers;
  readonly #timer: DeadlineTimer;
  #closed = false;

  private constructor(core: TurnClientCore, socket: DatagramEndpoint, timers: Timers) {
    super();
    this.core = core;
    this.#socket = socket;
    this.#timers = timers;
    this.#timer = new DeadlineTimer(this.#timers, (now) => {
      this.core.handleTimeout(now);
      this.#flush();
    });
    socket.on('message', (data, from) => {
      this.core.receive(data, from, this.#timers.now());
      this.#flush();
    });
    socket.on('error', (err) => this.emit('error', err));
  }

  static async connect(options: TurnClientConnectOptions): Promise<TurnClient> {
    const { address } = await lookup(options.server.address);
    const socket = await bindUdp({
      host: options.host ?? (address.includes(':') ? '::' : '0.0.0.0'),
      port: 0,
    });
    const core = new TurnClientCore((n) => randomBytes(n), {
      ...options,
      server: { address, port: options.server.port },
    });
    return new TurnClient(core, socket, options.timers ?? realTimers);
  }

  get localAddress(): SocketAddress {
    return this.#socket.address;
  }

  get allocation(): Allocation | undefined {
    return this.core.allocation;
  }

  #call<T>(
    start: (now: number, done: (err: Error | undefined, v?: T) => void) => void,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      start(this.#timers.now(), (err, v) => (err === undefined ? resolve(v as T) : reject(err)));
      this.#flush();
    });
  }

  allocate(): Promise<Allocation> {
    return this.#call((now, done) => this.core.allocate(now, done));
  }

  createPermission(ips: readonly string[]): Promise<void> {
    return this.#call((now, done) => this.core.createPermission(ips, now, done));
  }

  channelBind(peer: PeerAddress): Promise<number> {
    return this.#call((now, done) => this.core.channelBind(peer, now, done));
  }

  refresh(lifetimeSeconds: number): Promise<number> {
    return this.#call((now, done) => this.core.refresh(lifetimeSeconds, now, done));
  }

  /** Sends to `peer` through the relay (ChannelData when a channel is bound). */
  send(peer: PeerAddress, data: Uint8Array): void {
    this.core.send(peer, data);
    this.#flush();
  }

  #flush(): void {
    if (this.#closed) return;
    for (const d of this.core.takeOutput()) this.#socket.send(d.data, d.to);
    for (const e of this.core.takeEvents()) {
      if (e.type === 'data') this.emit('data', e.data, e.peer);
      else this.emit('lost', e.error);
    }
    this.#timer.arm(this.core.nextDeadline());
  }

  /** Releases the allocation (best effort, bounded by the transaction timeout) and closes. */
  async close(): Promise<void> {
    if (this.#closed) return;
    if (this.core.allocation !== undefined) {
      await this.#call<void>((now, done) => this.core.release(now, done)).catch(() => {});
    }
    this.#closed = true;
    this.#timer.cancel();
    await this.#socket.close();
  }
}
