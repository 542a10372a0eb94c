/**
 * STUN over UDP (the binding, DESIGN §2): {@link StunServer} runs {@link StunServerCore} on
 * one socket, or on four for RFC 5780 (primary and alternate IP × primary and alternate
 * port); {@link StunClient} runs {@link StunClientCore} on one socket with timers.
 */
import { randomBytes } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { bindUdp } from '../../../transport/udp.js';
import type { DatagramEndpoint, PeerAddress, SocketAddress } from '../../../transport/types.js';
import { DeadlineTimer, realTimers } from '../../sim/timers.js';
import type { Timers } from '../../sim/timers.js';
import { discoverNatBehavior, StunClientCore } from './client.js';
import type { BindingOptions, BindingResult, NatBehavior } from './client.js';
import { StunServerCore } from './server.js';
import type { StunServerSocket, StunServerStats } from './server.js';
import type { TransactionOptions } from './transaction.js';

export interface StunServerListenOptions {
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** @default 3478 */
  readonly port?: number;
  /** A second IP and port for RFC 5780 (CHANGE-REQUEST, OTHER-ADDRESS). */
  readonly alternate?: { readonly host: string; readonly port: number };
  /** SOFTWARE attribute, or false for none. @default 'ghostnet' */
  readonly software?: string | false;
}

/** A STUN server on UDP. */
export class StunServer {
  readonly core: StunServerCore;
  readonly #sockets: Map<StunServerSocket, DatagramEndpoint>;

  private constructor(core: StunServerCore, sockets: Map<StunServerSocket, DatagramEndpoint>) {
    this.core = core;
    this.#sockets = sockets;
    for (const [via, socket] of sockets) {
      socket.on('message', (data, from) => {
        const out = this.core.receive(data, from, via);
        this.core.takeOutput();
        if (out !== undefined) (this.#sockets.get(out.via) ?? socket).send(out.data, out.to);
      });
      socket.on('error', () => {});
    }
  }

  static async listen(options: StunServerListenOptions = {}): Promise<StunServer> {
    const host = options.host ?? '127.0.0.1';
    const sockets = new Map<StunServerSocket, DatagramEndpoint>();
    try {
      const primary = await bindUdp({ host, port: options.port ?? 3478 });
      sockets.set('primary', primary);
      const alt = options.alternate;
      let altPort = 0;
      if (alt !== undefined) {
        const p2 = await bindUdp({ host, port: alt.port });
        altPort = p2.address.port; // the OS's choice when alt.port is 0
        sockets.set('alt-port', p2);
        sockets.set('alt-ip', await bindUdp({ host: alt.host, port: primary.address.port }));
        sockets.set('alt-both', await bindUdp({ host: alt.host, port: altPort }));
      }
      const core = new StunServerCore({
        primary: { address: primary.address.address, port: primary.address.port },
        ...(alt !== undefined && { alternate: { address: alt.host, port: altPort } }),
        ...(options.software !== undefined && { software: options.software }),
      });
      return new StunServer(core, sockets);
    } catch (err) {
      await Promise.all([...sockets.values()].map((s) => s.close()));
      throw err;
    }
  }

  get address(): SocketAddress {
    return this.#sockets.get('primary')!.address;
  }

  stats(): StunServerStats {
    return this.core.stats();
  }

  async close(): Promise<void> {
    await Promise.all([...this.#sockets.values()].map((s) => s.close()));
  }
}

export interface StunClientOptions extends TransactionOptions {
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** @default 0 */
  readonly port?: number;
  readonly timers?: Timers;
  /** Use this socket instead of binding one (it is not closed by `close`). */
  readonly endpoint?: DatagramEndpoint;
}

/** A STUN client on one UDP socket. */
export class StunClient {
  readonly core: StunClientCore;
  readonly #socket: DatagramEndpoint;
  readonly #owned: boolean;
  readonly #timers: Timers;
  readonly #timer: DeadlineTimer;

  private constructor(socket: DatagramEndpoint, owned: boolean, options: StunClientOptions) {
    this.#socket = socket;
    this.#owned = owned;
    this.#timers = options.timers ?? realTimers;
    this.#timer = new DeadlineTimer(this.#timers, (now) => {
      this.core.handleTimeout(now);
      this.#flush();
    });
    this.core = new StunClientCore((n) => randomBytes(n), options);
    socket.on('message', (data, from) => {
      this.core.receive(data, from, this.#timers.now());
      this.#flush();
    });
    socket.on('error', () => {});
  }

  static async create(options: StunClientOptions = {}): Promise<StunClient> {
    if (options.endpoint !== undefined) return new StunClient(options.endpoint, false, options);
    const socket = await bindUdp({ host: options.host ?? '127.0.0.1', port: options.port ?? 0 });
    return new StunClient(socket, true, options);
  }

  get address(): SocketAddress {
    return this.#socket.address;
  }

  /** One Binding transaction with `server` (host names are resolved). */
  async binding(server: PeerAddress, options: BindingOptions = {}): Promise<BindingResult> {
    const { address } = await lookup(server.address);
    return new Promise<BindingResult>((resolve, reject) => {
      this.core.binding(
        { address, port: server.port },
        this.#timers.now(),
        (err, r) => (err === undefined ? resolve(r!) : reject(err)),
        options,
      );
      this.#flush();
    });
  }

  /** RFC 5780 NAT behavior discovery against a server with an alternate address. */
  behavior(server: PeerAddress): Promise<NatBehavior> {
    return discoverNatBehavior((s, o) => this.binding(s, o), server, {
      address: this.address.address,
      port: this.address.port,
    });
  }

  #flush(): void {
    for (const d of this.core.takeOutput()) this.#socket.send(d.data, d.to);
    this.#timer.arm(this.core.nextDeadline());
  }

  async close(): Promise<void> {
    this.#timer.cancel();
    if (this.#owned) await this.#socket.close();
  }
}
