/**
 * The gossip binding (DESIGN §2): a {@link GossipCore} with a {@link SerfLayer} on a UDP
 * endpoint and a TCP listener sharing one port (as memberlist's NetTransport does), timers
 * injected. The only gossip code that touches sockets and clocks.
 */
import { randomBytes } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { EventEmitter } from 'node:events';
import { InvalidOptionError } from '../../errors.js';
import { connectTcp, listenTcp } from '../../transport/tcp.js';
import type { TcpServer } from '../../transport/tcp.js';
import { bindUdp } from '../../transport/udp.js';
import type {
  DatagramEndpoint,
  PeerAddress,
  SocketAddress,
  StreamConnection,
} from '../../transport/types.js';
import { noopObserver } from '../../monitoring/observer.js';
import type { Observer } from '../../monitoring/observer.js';
import { realTimers } from '../sim/timers.js';
import type { Timers } from '../sim/timers.js';
import { GossipCore } from './core.js';
import type { GossipOptions, GossipStats, MemberInfo, StreamRequest } from './core.js';
import { GossipError, GossipErrorCodes } from './errors.js';
import { decodeTags, encodeTags, SERF_DELEGATE_VERSIONS, SerfLayer } from './serf.js';
import type { SerfEvent } from './serf.js';
import { Keyring, parseSerfKey } from './wire/keyring.js';

/** memberlist's `maxPushPullRequests`: concurrent inbound streams we serve. */
export const MAX_INBOUND_STREAMS = 128;
/** memberlist's `TCPTimeout`: the most an inbound stream exchange may take. */
export const INBOUND_STREAM_TIMEOUT_MS = 10_000;

export interface GossipAgentOptions extends Omit<
  GossipOptions,
  'name' | 'address' | 'meta' | 'delegate' | 'versions' | 'wire'
> {
  /** Unique node name. */
  readonly name: string;
  /** Address to bind UDP and TCP on. Default '127.0.0.1'. */
  readonly host?: string;
  /** Port for both; 0 picks a free one. Default 7946 (Serf's). */
  readonly port?: number;
  /** The address others should use, when it differs from the bound one. */
  readonly advertise?: PeerAddress;
  /** Serf tags, sent as our metadata. */
  readonly tags?: Readonly<Record<string, string>>;
  /** Serf's `-encrypt` keys (base64, 16/24/32 bytes); the first is primary. */
  readonly encrypt?: readonly string[];
  /** memberlist's label (authenticated, must match across the cluster). */
  readonly label?: string;
  /** LZW-compress messages as Serf does. Default true. */
  readonly compression?: boolean;
  /** Milliseconds to wait for the leave broadcasts to go out. Default 5000 (Serf's). */
  readonly broadcastTimeout?: number;
  /**
   * Milliseconds between attempts to rejoin a failed member (Serf's `ReconnectInterval`;
   * 0 turns it off), so a healed partition merges again.
   * @default 30000
   */
  readonly reconnectInterval?: number;
  /**
   * Milliseconds a failed member is retried before it is forgotten (Serf's
   * `ReconnectTimeout`).
   * @default 86400000 (24 h)
   */
  readonly reconnectTimeout?: number;
  readonly timers?: Timers;
  /** Receives traffic counts and `gossip_*` gauges (see {@link GossipAgent}). */
  readonly observer?: Observer;
}

export interface GossipAgentEvents {
  /** A membership change or a user event, as Serf reports them. */
  event: [event: SerfEvent];
  /** A socket error (the agent keeps running). */
  error: [err: Error];
}

/** A member with its Serf tags. */
export interface AgentMember extends MemberInfo {
  readonly tags: Record<string, string>;
}

function tagsOf(meta: Uint8Array): Record<string, string> {
  try {
    return decodeTags(meta);
  } catch {
    return {};
  }
}

/** Parses `host:port` or `[v6]:port` (port defaults to 7946). */
export function parseHostPort(text: string, defaultPort = 7946): PeerAddress {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(text) ?? /^([^:]+)(?::(\d+))?$/.exec(text);
  if (m === null) throw new InvalidOptionError(`not host:port: ${text}`);
  const port = m[2] === undefined ? defaultPort : Number(m[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new InvalidOptionError(`bad port in ${text}`);
  }
  return { address: m[1]!, port };
}

async function resolve(addr: PeerAddress): Promise<PeerAddress> {
  const { address } = await lookup(addr.address);
  return { address, port: addr.port };
}

/** A gossip agent: membership over UDP+TCP, Serf-compatible. */
export class GossipAgent extends EventEmitter<GossipAgentEvents> {
  readonly core: GossipCore;
  readonly serf: SerfLayer;
  readonly #udp: DatagramEndpoint;
  readonly #tcp: TcpServer;
  readonly #timers: Timers;
  readonly #broadcastTimeout: number;
  readonly #observer: Observer;
  readonly #outbound = new Set<StreamConnection>();
  #timer: unknown;
  #timerAt = Infinity;
  #closed = false;

  private constructor(
    core: GossipCore,
    serf: SerfLayer,
    udp: DatagramEndpoint,
    tcp: TcpServer,
    timers: Timers,
    broadcastTimeout: number,
    observer: Observer,
  ) {
    super();
    this.#observer = observer;
    this.core = core;
    this.serf = serf;
    this.#udp = udp;
    this.#tcp = tcp;
    this.#timers = timers;
    this.#broadcastTimeout = broadcastTimeout;
    udp.on('message', (data, from) => {
      if (this.#closed) return;
      this.#observer.bytesReceived('gossip', data.length);
      this.core.receive(data, from, this.#timers.now());
      this.#flush();
    });
    udp.on('error', (err) => this.emit('error', err));
    tcp.on('connection', (conn) => this.#inbound(conn));
    tcp.on('error', (err) => this.emit('error', err));
  }

  /** Binds the sockets and starts the protocol (alone until `join`). */
  static async start(options: GossipAgentOptions): Promise<GossipAgent> {
    const host = options.host ?? '127.0.0.1';
    const timers = options.timers ?? realTimers;
    const keyring =
      options.encrypt !== undefined && options.encrypt.length > 0
        ? new Keyring(options.encrypt.map(parseSerfKey), parseSerfKey(options.encrypt[0]!))
        : undefined;
    const meta = encodeTags(options.tags ?? {});
    const serf = new SerfLayer(
      { reconnectInterval: options.reconnectInterval, reconnectTimeout: options.reconnectTimeout },
      { random: (n) => randomBytes(n) },
    );
    // TCP first (port 0 lets the OS choose), then UDP on the same number.
    let tcp: TcpServer | undefined;
    let udp: DatagramEndpoint | undefined;
    for (let attempt = 0; attempt < 10 && udp === undefined; attempt++) {
      tcp = await listenTcp({ host, port: options.port ?? 7946 });
      try {
        udp = await bindUdp({ host, port: tcp.address.port });
      } catch (err) {
        await tcp.destroy();
        if ((options.port ?? 7946) !== 0) throw err;
      }
    }
    if (tcp === undefined || udp === undefined) {
      throw new InvalidOptionError('could not bind UDP and TCP on one port');
    }
    const advertise = options.advertise ?? {
      address: host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host,
      port: tcp.address.port,
    };
    let core: GossipCore;
    try {
      core = new GossipCore(
        { random: (n) => randomBytes(n) },
        {
          ...options,
          address: advertise,
          meta,
          delegate: serf,
          versions: SERF_DELEGATE_VERSIONS,
          wire: {
            ...(options.label !== undefined && { label: options.label }),
            ...(keyring !== undefined && { keyring }),
            ...(options.compression !== undefined && { compression: options.compression }),
          },
        },
        timers.now(),
      );
    } catch (err) {
      await tcp.destroy();
      await udp.close();
      throw err;
    }
    serf.attach(core);
    const agent = new GossipAgent(
      core,
      serf,
      udp,
      tcp,
      timers,
      options.broadcastTimeout ?? 5000,
      options.observer ?? noopObserver,
    );
    // The first flush waits a turn so listeners attached after `await start()` see our own
    // member-join, as a Serf agent reports its own.
    agent.#timer = timers.setTimeout(() => {
      agent.#timer = undefined;
      agent.#flush();
    }, 0);
    agent.#timerAt = timers.now();
    return agent;
  }

  /** The bound address (UDP and TCP). */
  get address(): SocketAddress {
    return this.#udp.address;
  }

  get name(): string {
    return this.core.name;
  }

  stats(): GossipStats {
    return this.core.stats();
  }

  /** Every known member with its tags (dead ones until reaped). */
  members(): AgentMember[] {
    return this.core.members().map((m) => ({ ...m, tags: tagsOf(m.meta) }));
  }

  /** Joins a cluster through any of `addresses`; resolves with how many answered. */
  async join(addresses: readonly PeerAddress[]): Promise<number> {
    const resolved = await Promise.all(addresses.map(resolve));
    const n = await new Promise<number>((res, rej) => {
      this.core.join(resolved, this.#timers.now(), (err, count) => {
        if (err !== undefined) rej(err);
        else res(count ?? 0);
      });
      this.#flush();
    });
    this.serf.announceJoin();
    this.#flush();
    return n;
  }

  /** Replaces our tags; members see a member-update (Serf's `serf tags -set`). */
  setTags(tags: Readonly<Record<string, string>>): void {
    this.core.setMeta(encodeTags(tags), this.#timers.now());
    this.#flush();
  }

  /** Sends a Serf user event to every member. */
  userEvent(name: string, payload: Uint8Array, coalesce = true): void {
    this.serf.userEvent(name, payload, coalesce);
    this.#flush();
  }

  /**
   * Leaves gracefully as Serf does: our leave intent, then memberlist's dead-about-ourselves
   * message, each waited for up to `broadcastTimeout`. The agent keeps running; `close` next.
   */
  async leave(): Promise<void> {
    if (this.#closed || this.core.left) return;
    const hasPeers = this.core.members().some((m) => m.name !== this.name && m.state === 'alive');
    if (hasPeers) {
      await this.#waitFor((done) => this.serf.announceLeave(done));
    }
    await this.#waitFor((done) => this.core.leave(this.#timers.now(), done));
  }

  #waitFor(start: (done: () => void) => void): Promise<void> {
    return new Promise<void>((res) => {
      let settled = false;
      const finish = (): void => {
        if (settled) return;
        settled = true;
        this.#timers.clearTimeout(timer);
        res();
      };
      const timer = this.#timers.setTimeout(finish, this.#broadcastTimeout);
      start(finish);
      this.#flush();
    });
  }

  /** Stops timers and closes the sockets (call `leave` first for a graceful exit). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== undefined) this.#timers.clearTimeout(this.#timer);
    for (const c of this.#outbound) c.destroy();
    await Promise.all([this.#udp.close(), this.#tcp.destroy()]);
  }

  // ---- driving the core -----------------------------------------------------------------

  #flush(): void {
    if (this.#closed) return;
    for (const d of this.core.takeOutput()) {
      this.#observer.bytesSent('gossip', d.data.length);
      this.#udp.send(d.data, d.to);
    }
    for (const s of this.core.takeStreams()) this.#outboundStream(s);
    const events = this.serf.translate(this.core.takeEvents(), this.#timers.now());
    for (const e of [...events, ...this.serf.takeEvents()]) this.emit('event', e);
    const at = Math.min(this.core.nextDeadline() ?? Infinity, this.serf.nextDeadline() ?? Infinity);
    if (at === Infinity) return;
    if (this.#timer !== undefined && at >= this.#timerAt) return;
    if (this.#timer !== undefined) this.#timers.clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = this.#timers.setTimeout(
      () => {
        this.#timer = undefined;
        this.#timerAt = Infinity;
        if (this.#closed) return;
        const now = this.#timers.now();
        this.core.handleTimeout(now);
        this.serf.handleTimeout(now); // reconnects to failed members (serf.go handleReconnect)
        this.#flush();
        this.#publish();
      },
      Math.max(0, at - this.#timers.now()),
    );
  }

  /**
   * Gauges for monitoring: `gossip_members{state}`, `gossip_probes{outcome}`,
   * `gossip_suspicions`, `gossip_refutations`, `gossip_broadcast_queue`,
   * `gossip_health_score`, `gossip_dropped`, `gossip_push_pulls`.
   */
  #publish(): void {
    const s = this.core.stats();
    const o = this.#observer;
    for (const [state, n] of Object.entries(s.members)) o.gauge('gossip_members', n, { state });
    o.gauge('gossip_probes', s.probes - s.probeFailures, { outcome: 'acked' });
    o.gauge('gossip_probes', s.probeFailures, { outcome: 'failed' });
    o.gauge('gossip_suspicions', s.suspicions);
    o.gauge('gossip_refutations', s.refutations);
    o.gauge('gossip_broadcast_queue', s.queued);
    o.gauge('gossip_health_score', s.health);
    o.gauge('gossip_dropped', s.dropped);
    o.gauge('gossip_push_pulls', s.pushPulls);
  }

  #outboundStream(req: StreamRequest): void {
    let buf = new Uint8Array(0);
    let done = false;
    let conn: StreamConnection | undefined;
    const finish = (result: Uint8Array | Error | undefined): void => {
      if (done) return;
      done = true;
      this.#timers.clearTimeout(timer);
      if (conn !== undefined) {
        this.#outbound.delete(conn);
        conn.close(100);
      }
      if (this.#closed) return;
      this.core.streamResult(req.id, result, this.#timers.now());
      this.#flush();
    };
    const timer = this.#timers.setTimeout(
      () => finish(new GossipError(GossipErrorCodes.REMOTE_ERROR, 'stream timed out')),
      req.timeoutMs,
    );
    connectTcp({
      host: req.to.address,
      port: req.to.port,
      connectTimeoutMs: req.timeoutMs,
    }).then(
      (c) => {
        if (done || this.#closed) {
          c.destroy();
          return;
        }
        conn = c;
        this.#outbound.add(c);
        c.on('error', (err) => finish(err));
        c.on('close', () =>
          finish(
            req.expectReply
              ? new GossipError(GossipErrorCodes.MALFORMED, 'stream closed before a reply')
              : undefined,
          ),
        );
        if (req.expectReply) {
          c.on('data', (chunk) => {
            const next = new Uint8Array(buf.length + chunk.length);
            next.set(buf);
            next.set(chunk, buf.length);
            buf = next;
            try {
              const len = this.core.frameStream(buf);
              if (len !== undefined) finish(buf.subarray(0, len));
            } catch (err) {
              finish(err as Error);
            }
          });
        }
        c.write(req.data);
        if (!req.expectReply) {
          c.end();
          finish(undefined);
        }
      },
      (err: Error) => finish(err),
    );
  }

  #inbound(conn: StreamConnection): void {
    if (this.#closed || this.#tcp.connections.size > MAX_INBOUND_STREAMS) {
      conn.destroy();
      return;
    }
    // memberlist's TCPTimeout: the whole exchange has 10 s, however slowly bytes trickle in.
    const deadline = this.#timers.setTimeout(() => conn.destroy(), INBOUND_STREAM_TIMEOUT_MS);
    conn.once('close', () => this.#timers.clearTimeout(deadline));
    let buf = new Uint8Array(0);
    let handled = false;
    conn.on('error', () => {});
    conn.on('data', (chunk) => {
      if (handled) return;
      const next = new Uint8Array(buf.length + chunk.length);
      next.set(buf);
      next.set(chunk, buf.length);
      buf = next;
      let len: number | undefined;
      try {
        len = this.core.frameStream(buf);
      } catch {
        conn.destroy();
        return;
      }
      if (len === undefined) return;
      handled = true;
      const from = conn.remoteAddress ?? { address: '0.0.0.0', port: 0, family: 'IPv4' as const };
      const reply = this.core.handleStream(buf.subarray(0, len), from, this.#timers.now());
      if (reply !== undefined && conn.writable) conn.write(reply);
      conn.close(1000);
      this.#flush();
    });
  }
}
