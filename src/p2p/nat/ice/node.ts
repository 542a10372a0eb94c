/**
 * The ICE agent on a UDP socket (the binding): {@link IceAgentCore} with timers, events
 * for candidates (to trickle through signaling), state, the selected pair and data.
 */
import { EventEmitter } from 'node:events';
import { GhostnetError } from '../../../errors.js';
import { bindUdp } from '../../../transport/udp.js';
import type {
  DatagramEndpoint,
  DatagramEndpointEvents,
  PeerAddress,
  SocketAddress,
} from '../../../transport/types.js';
import { DeadlineTimer, realTimers } from '../../sim/timers.js';
import type { Timers } from '../../sim/timers.js';
import { IceAgentCore } from './agent.js';
import type { IceAgentOptions, IceState } from './agent.js';
import { parseCandidate } from './candidates.js';
import type { Candidate } from './candidates.js';

export interface IceAgentCreateOptions extends Omit<IceAgentOptions, 'local'> {
  /** Local address to bind (the host candidate). @default '127.0.0.1' */
  readonly host?: string;
  readonly port?: number;
  readonly timers?: Timers;
}

export interface IceAgentEvents {
  candidate: [candidate: Candidate, sdp: string];
  'gathering-complete': [];
  state: [state: IceState];
  selected: [local: Candidate, remote: Candidate];
  data: [data: Uint8Array, from: PeerAddress];
}

export class IceAgent extends EventEmitter<IceAgentEvents> {
  readonly core: IceAgentCore;
  readonly #socket: DatagramEndpoint;
  readonly #timers: Timers;
  readonly #timer: DeadlineTimer;
  #closed = false;

  private constructor(core: IceAgentCore, socket: DatagramEndpoint, timers: Timers) {
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
    socket.on('error', () => {});
  }

  static async create(options: IceAgentCreateOptions): Promise<IceAgent> {
    const socket = await bindUdp({ host: options.host ?? '127.0.0.1', port: options.port ?? 0 });
    const core = new IceAgentCore({
      ...options,
      local: { address: socket.address.address, port: socket.address.port },
    });
    return new IceAgent(core, socket, options.timers ?? realTimers);
  }

  get address(): SocketAddress {
    return this.#socket.address;
  }

  get ufrag(): string {
    return this.core.ufrag;
  }

  get pwd(): string {
    return this.core.pwd;
  }

  get state(): IceState {
    return this.core.state;
  }

  gather(): void {
    this.core.gather(this.#timers.now());
    this.#flush();
  }

  setRemoteCredentials(ufrag: string, pwd: string): void {
    this.core.setRemoteCredentials(ufrag, pwd);
  }

  /** A remote candidate, as an object or an `a=candidate:` line. */
  addRemoteCandidate(c: Candidate | string): void {
    this.core.addRemoteCandidate(typeof c === 'string' ? parseCandidate(c) : c, this.#timers.now());
    this.#flush();
  }

  send(data: Uint8Array): boolean {
    const ok = this.core.send(data);
    this.#flush();
    return ok;
  }

  /** Resolves once connected; rejects on failure. */
  connected(): Promise<void> {
    if (this.core.state === 'connected') return Promise.resolve();
    return new Promise((resolve, reject) => {
      const on = (s: IceState): void => {
        if (s === 'connected') {
          this.off('state', on);
          resolve();
        } else if (s === 'failed' || s === 'closed') {
          this.off('state', on);
          reject(new GhostnetError('GN_ERR_ICE_FAILED', `ICE ${s}: no candidate pair worked`));
        }
      };
      this.on('state', on);
    });
  }

  #flush(): void {
    if (this.#closed) return;
    for (const d of this.core.takeOutput()) this.#socket.send(d.data, d.to);
    for (const e of this.core.takeEvents()) {
      switch (e.type) {
        case 'candidate':
          this.emit('candidate', e.candidate, e.sdp);
          break;
        case 'gathering-complete':
          this.emit('gathering-complete');
          break;
        case 'state':
          this.emit('state', e.state);
          break;
        case 'selected':
          this.emit('selected', e.local, e.remote);
          break;
        case 'data':
          this.emit('data', e.data, e.from);
          break;
      }
    }
    this.#timer.arm(this.core.nextDeadline());
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.core.close();
    this.#closed = true;
    this.#timer.cancel();
    await this.#socket.close();
  }
}

/**
 * The connected ICE agent as a DatagramEndpoint (DESIGN §3) for upper layers (DHT, gossip,
 * QUIC): `send` goes to the selected pair's remote (the `to` argument must be that
 * address, or an `error` event says otherwise), `message` carries what the peer sends.
 * Its `address` is the local candidate of the selected pair.
 */
export class IceDatagramEndpoint
  extends EventEmitter<DatagramEndpointEvents>
  implements DatagramEndpoint
{
  readonly kind = 'ice';
  readonly #agent: IceAgent;
  readonly #onData = (data: Uint8Array, from: PeerAddress): void => {
    this.emit('message', data, {
      address: from.address,
      port: from.port,
      family: from.address.includes(':') ? 'IPv6' : 'IPv4',
    });
  };
  readonly #onState = (s: IceState): void => {
    if (s === 'failed' || s === 'closed') {
      this.emit('error', new GhostnetError('GN_ERR_ICE_FAILED', `ICE ${s}`));
      this.emit('close');
    }
  };

  /** Wraps a connected agent. */
  constructor(agent: IceAgent) {
    super();
    if (agent.state !== 'connected') {
      throw new GhostnetError('GN_ERR_ICE_STATE', 'the ICE agent is not connected yet');
    }
    this.#agent = agent;
    agent.on('data', this.#onData);
    agent.on('state', this.#onState);
  }

  get address(): SocketAddress {
    const l = this.#agent.core.selected?.local;
    const a = l === undefined ? this.#agent.address : { address: l.address, port: l.port };
    return { address: a.address, port: a.port, family: a.address.includes(':') ? 'IPv6' : 'IPv4' };
  }

  /** The peer's address (the selected pair's remote candidate). */
  get remote(): PeerAddress | undefined {
    const r = this.#agent.core.selected?.remote;
    return r === undefined ? undefined : { address: r.address, port: r.port };
  }

  send(data: Uint8Array, to: PeerAddress): void {
    const r = this.remote;
    if (r === undefined || r.address !== to.address || r.port !== to.port) {
      this.emit(
        'error',
        new GhostnetError(
          'GN_ERR_ICE_DESTINATION',
          `only ${r?.address}:${r?.port} is reachable over this ICE session`,
        ),
      );
      return;
    }
    if (!this.#agent.send(data)) {
      this.emit('error', new GhostnetError('GN_ERR_ICE_STATE', 'the ICE session is not connected'));
    }
  }

  async close(): Promise<void> {
    this.#agent.off('data', this.#onData);
    this.#agent.off('state', this.#onState);
    await this.#agent.close();
    this.emit('close');
  }
}
