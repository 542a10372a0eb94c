/**
 * The DHT node binding: a `DhtCore` on a UDP endpoint (or any DatagramEndpoint, such as the
 * simulator's), one timer from `nextDeadline()`, Promises over the core's callbacks, the
 * routing table saved to a file and loaded on restart, and stats for monitoring.
 *
 * Nothing is contacted unless the caller says so: `bootstrap` is empty by default (the
 * public Mainline routers are listed in MAINLINE_ROUTERS for `ghostnet dht --mainline`).
 */
import { randomBytes as cryptoRandomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { lookup } from 'node:dns/promises';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { diagnostics } from '../../monitoring/diagnostics.js';
import type { Logger } from '../../monitoring/logger.js';
import type { Observer } from '../../monitoring/observer.js';
import { noopObserver } from '../../monitoring/observer.js';
import { bindUdp } from '../../transport/udp.js';
import type { DatagramEndpoint, SocketAddress } from '../../transport/types.js';
import { realTimers } from '../sim/timers.js';
import type { Timers } from '../sim/timers.js';
import type { BValue } from './bencode.js';
import type { PeerInfo } from './compact.js';
import { DhtCore } from './dht.js';
import type { DhtOptions, DhtStats, GotItem, LookupResult, PutResult } from './dht.js';
import { nodeEd25519 } from './ed25519-node.js';
import type { NodeId } from './id.js';
import { idToHex } from './id.js';
import { isIPv4, isIPv6, parseRoutingState, serializeRoutingState } from './routing-state.js';

/** The well-known Mainline bootstrap routers (used only when asked: `--mainline`). */
export const MAINLINE_ROUTERS: readonly { address: string; port: number }[] = Object.freeze([
  { address: 'router.bittorrent.com', port: 6881 },
  { address: 'router.utorrent.com', port: 6881 },
  { address: 'dht.transmissionbt.com', port: 6881 },
]);

export interface DhtNodeOptions extends Omit<DhtOptions, 'now'> {
  /** @default '0.0.0.0' is NOT the default: '127.0.0.1' (tests and local use). */
  host?: string;
  /** @default 0 (any) */
  port?: number;
  /** Nodes to join through. @default [] (no bootstrap) */
  bootstrap?: readonly { address: string; port: number }[];
  /** Routing table file: loaded at start (our id and contacts), saved on close and every 5 minutes. */
  statePath?: string;
  /** An endpoint to run on instead of binding UDP (the simulator, tests). */
  endpoint?: DatagramEndpoint;
  timers?: Timers;
  observer?: Observer;
  logger?: Logger;
}

export interface DhtNodeEvents {
  /** A bootstrap lookup finished (the routing table is filled). */
  ready: [];
  error: [err: Error];
}

const SAVE_INTERVAL_MS = 5 * 60_000;

/** Publishes a finished lookup on `ghostnet:dht:lookup` (when someone listens). */
function published(kind: string, r: LookupResult): LookupResult {
  if (diagnostics.dhtLookup.hasSubscribers) {
    diagnostics.dhtLookup.publish({
      kind,
      target: r.target,
      queries: r.queries,
      peers: r.peers.length,
      closest: r.closest.length,
    });
  }
  return r;
}

function promise<T>(
  start: (done: (err: Error | undefined, r: T | undefined) => void) => void,
): Promise<T> {
  return new Promise((resolve, reject) => {
    start((err, r) => (err !== undefined ? reject(err) : resolve(r as T)));
  });
}

export class DhtNode extends EventEmitter<DhtNodeEvents> {
  readonly core: DhtCore;
  readonly endpoint: DatagramEndpoint;
  readonly #timers: Timers;
  readonly #observer: Observer;
  readonly #logger: Logger | undefined;
  readonly #statePath: string | undefined;
  #timer: unknown = undefined;
  #timerAt = Infinity;
  #saveTimer: unknown = undefined;
  #closed = false;

  private constructor(
    core: DhtCore,
    endpoint: DatagramEndpoint,
    options: DhtNodeOptions,
    timers: Timers,
  ) {
    super();
    this.core = core;
    this.endpoint = endpoint;
    this.#timers = timers;
    this.#observer = options.observer ?? noopObserver;
    this.#logger = options.logger;
    this.#statePath = options.statePath;
    endpoint.on('message', this.#onMessage);
    endpoint.on('error', (err) => this.#logger?.debug({ err }, 'dht endpoint error'));
    if (this.#statePath !== undefined) {
      const save = (): void => {
        this.#saveTimer = timers.setTimeout(() => {
          void this.save().catch((err: unknown) =>
            this.#logger?.warn({ err }, 'dht state save failed'),
          );
          save();
        }, SAVE_INTERVAL_MS);
        (this.#saveTimer as { unref?: () => void }).unref?.();
      };
      save();
    }
  }

  /** Binds (or adopts `options.endpoint`), loads the state file, bootstraps. */
  static async start(options: DhtNodeOptions = {}): Promise<DhtNode> {
    const timers = options.timers ?? realTimers;
    let id = options.id;
    let saved: PeerInfo[] = [];
    if (options.statePath !== undefined) {
      const state = await readFile(options.statePath).then(
        (b) => parseRoutingState(b),
        (err: NodeJS.ErrnoException) => {
          if (err.code === 'ENOENT') return undefined; // first start
          throw err;
        },
      );
      if (state !== undefined) {
        id ??= state.id;
        saved = state.contacts.map((c) => ({ address: c.address, port: c.port, family: c.family }));
      }
    }
    const endpoint =
      options.endpoint ??
      (await bindUdp({ host: options.host ?? '127.0.0.1', port: options.port ?? 0 }));
    const core = new DhtCore(
      { random: (n) => new Uint8Array(cryptoRandomBytes(n)), ed25519: nodeEd25519 },
      { ...options, ...(id !== undefined ? { id } : {}), now: timers.now() },
    );
    const node = new DhtNode(core, endpoint, options, timers);
    const seeds: PeerInfo[] = [...saved];
    for (const b of options.bootstrap ?? []) {
      // Host names (the Mainline routers) are resolved once: responses come from addresses.
      let address = b.address;
      if (!isIPv4(address) && !isIPv6(address)) {
        try {
          address = (await lookup(address)).address;
        } catch (err) {
          node.#logger?.warn({ err, host: b.address }, 'dht bootstrap host does not resolve');
          continue;
        }
      }
      seeds.push({ address, port: b.port, family: isIPv6(address) ? 'IPv6' : 'IPv4' });
    }
    if (seeds.length > 0) {
      void node
        .bootstrap(seeds)
        .catch((err: unknown) => node.#logger?.warn({ err }, 'dht bootstrap failed'));
    }
    node.#flush();
    return node;
  }

  get id(): NodeId {
    return this.core.id;
  }

  get address(): SocketAddress {
    return this.endpoint.address;
  }

  stats(): DhtStats {
    return this.core.stats();
  }

  async bootstrap(seeds: readonly PeerInfo[]): Promise<LookupResult> {
    const r = await this.#run<LookupResult>((done) =>
      this.core.bootstrap(seeds, this.#timers.now(), done),
    );
    this.emit('ready');
    return r;
  }

  findNode(target: NodeId): Promise<LookupResult> {
    return this.#run<LookupResult>((done) =>
      this.core.findNode(target, this.#timers.now(), done),
    ).then((r) => published('find_node', r));
  }

  getPeers(infohash: NodeId): Promise<LookupResult> {
    return this.#run<LookupResult>((done) =>
      this.core.getPeers(infohash, this.#timers.now(), done),
    ).then((r) => published('get_peers', r));
  }

  announce(
    infohash: NodeId,
    port: number,
    impliedPort = false,
  ): Promise<LookupResult & { announced: number }> {
    return this.#run((done) =>
      this.core.announce(infohash, port, impliedPort, this.#timers.now(), done),
    );
  }

  get(target: NodeId): Promise<{ item: GotItem | undefined; result: LookupResult }> {
    return this.#run((done) => this.core.get(target, this.#timers.now(), done));
  }

  getMutable(
    publicKey: Uint8Array,
    salt?: Uint8Array,
  ): Promise<{ item: GotItem | undefined; result: LookupResult }> {
    return this.#run((done) => this.core.getMutable(publicKey, salt, this.#timers.now(), done));
  }

  putImmutable(v: BValue): Promise<PutResult> {
    return this.#run((done) => this.core.putImmutable(v, this.#timers.now(), done));
  }

  putMutable(
    secretKey: Uint8Array,
    item: { v: BValue; seq: number; salt?: Uint8Array; cas?: number },
  ): Promise<PutResult> {
    return this.#run((done) => this.core.putMutable(secretKey, item, this.#timers.now(), done));
  }

  /** Writes the routing table (both families) and our id to `statePath` (atomically). */
  async save(): Promise<void> {
    if (this.#statePath === undefined) return;
    const contacts = [...this.core.table4.contacts(), ...this.core.table6.contacts()];
    const bytes = serializeRoutingState({
      id: this.core.id,
      contacts,
      savedAt: this.#timers.now(),
    });
    const tmp = `${this.#statePath}.tmp`;
    await writeFile(tmp, bytes);
    await rename(tmp, this.#statePath);
  }

  /** Saves the state, stops the timers and closes the endpoint. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#saveTimer !== undefined) this.#timers.clearTimeout(this.#saveTimer);
    if (this.#timer !== undefined) this.#timers.clearTimeout(this.#timer);
    try {
      await this.save();
    } finally {
      this.endpoint.off('message', this.#onMessage);
      await this.endpoint.close();
    }
  }

  #run<T>(start: (done: (err: Error | undefined, r: T | undefined) => void) => void): Promise<T> {
    const p = promise<T>(start);
    this.#flush();
    return p;
  }

  readonly #onMessage = (data: Uint8Array, from: SocketAddress): void => {
    if (this.#closed) return;
    this.#observer.bytesReceived('dht', data.length);
    this.core.receive(data, from, this.#timers.now());
    this.#flush();
  };

  readonly #onTimer = (): void => {
    this.#timer = undefined;
    this.#timerAt = Infinity;
    if (this.#closed) return;
    this.core.handleTimeout(this.#timers.now());
    this.#flush();
    this.#publish();
  };

  /** Routing table and traffic gauges for monitoring (`ghostnet_dht_*`). */
  #publish(): void {
    const s = this.core.stats();
    const o = this.#observer;
    o.gauge('dht_routing_table_nodes', s.nodes, { family: 'ipv4' });
    o.gauge('dht_routing_table_nodes', s.nodes6, { family: 'ipv6' });
    o.gauge('dht_queries', s.queriesIn, { direction: 'in' });
    o.gauge('dht_queries', s.queriesOut, { direction: 'out' });
    o.gauge('dht_lookups', s.lookups, { state: 'started' });
    o.gauge('dht_lookups', s.lookupsActive, { state: 'active' });
    o.gauge('dht_query_timeouts', s.timeouts);
    o.gauge('dht_infohashes', s.infohashes);
  }

  #flush(): void {
    if (this.#closed) return;
    for (const d of this.core.takeOutput()) {
      this.#observer.bytesSent('dht', d.data.length);
      this.endpoint.send(d.data, d.to);
    }
    const at = this.core.nextDeadline();
    if (at === undefined || at >= this.#timerAt) return;
    if (this.#timer !== undefined) this.#timers.clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = this.#timers.setTimeout(this.#onTimer, Math.max(0, at - this.#timers.now()));
    (this.#timer as { unref?: () => void }).unref?.();
  }

  override toString(): string {
    return `dht node ${idToHex(this.id)}`;
  }
}
