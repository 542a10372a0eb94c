/**
 * In-memory transports (DESIGN §3): stream pairs, a stream server, and a datagram network.
 * They implement the same shapes as TCP and UDP, so protocol bindings, the pool and the
 * simulator run on them unchanged.
 */
import { EventEmitter } from 'node:events';
import { isIPv6 } from 'node:net';
import { InvalidOptionError } from '../errors.js';
import { ConnectError } from './errors.js';
import { createMemoryPair } from './memory-stream.js';
import type { MemoryPairOptions, MemoryStreamConnection } from './memory-stream.js';
import type { SocketAddress, StreamConnection, StreamServer, StreamServerEvents } from './types.js';

export {
  BufferOverflowError,
  createMemoryPair,
  MEMORY_PAIR_DEFAULTS,
  MemoryStreamConnection,
} from './memory-stream.js';
export type { MemoryPairOptions, Scheduler } from './memory-stream.js';
export {
  MEMORY_NETWORK_DEFAULTS,
  MemoryDatagramEndpoint,
  MemoryNetwork,
} from './memory-datagram.js';
export type { MemoryBindOptions, MemoryDatagram, MemoryNetworkOptions } from './memory-datagram.js';

export interface MemoryServerOptions {
  /**
   * Address the server reports (any string; IP literals get the right family).
   * @default '127.0.0.1'
   */
  host?: string;
  /**
   * Port the server reports. Nothing is bound; it only labels the connections.
   * @default 0
   */
  port?: number;
  /**
   * Live connections the server keeps; `connect` beyond it is refused with `ConnectError`,
   * like a full accept backlog.
   * @default 1024
   */
  maxConnections?: number;
  /**
   * Options for every pair the server creates (capacity, ALPN, …). Addresses are set by
   * the server.
   * @default {}
   */
  pair?: Omit<MemoryPairOptions, 'localAddress' | 'remoteAddress'>;
}

/**
 * A `StreamServer` with no socket: `connect()` makes a memory pair, emits the server side
 * as `connection` and resolves with the client side. Useful wherever a test needs a
 * server and a `connect` function (the pool, HTTP bindings).
 */
export class MemoryServer extends EventEmitter<StreamServerEvents> implements StreamServer {
  readonly kind = 'memory';
  readonly address: SocketAddress;
  readonly #connections = new Set<StreamConnection>();
  readonly #maxConnections: number;
  readonly #pairOptions: MemoryPairOptions;
  #listening = true;
  #nextClientPort = 49_152;
  #closeEmitted = false;

  constructor(options: MemoryServerOptions = {}) {
    super();
    const host = options.host ?? '127.0.0.1';
    const port = options.port ?? 0;
    if (!Number.isInteger(port) || port < 0 || port > 65_535) {
      throw new InvalidOptionError(`port must be an integer 0–65535, got ${String(port)}`);
    }
    const maxConnections = options.maxConnections ?? 1024;
    if (!Number.isSafeInteger(maxConnections) || maxConnections <= 0) {
      throw new InvalidOptionError(
        `maxConnections must be a positive integer, got ${String(maxConnections)}`,
      );
    }
    this.#maxConnections = maxConnections;
    this.address = Object.freeze({
      address: host,
      port,
      family: isIPv6(host) ? 'IPv6' : 'IPv4',
    });
    this.#pairOptions = { ...options.pair };
  }

  get connections(): ReadonlySet<StreamConnection> {
    return this.#connections;
  }

  get listening(): boolean {
    return this.#listening;
  }

  /** Open a connection to this server; rejects with `ConnectError` when not listening. */
  async connect(): Promise<MemoryStreamConnection> {
    // Never hand out the connection inside the caller's stack, like a real connect.
    await Promise.resolve();
    if (!this.#listening) {
      throw new ConnectError(
        `Connection refused: memory server ${this.address.address}:${this.address.port} is not listening`,
      );
    }
    if (this.#connections.size >= this.#maxConnections) {
      throw new ConnectError(
        `Connection refused: memory server has ${this.#maxConnections} connections (maxConnections)`,
      );
    }
    const clientAddress: SocketAddress = Object.freeze({
      address: this.address.address,
      port: this.#allocateClientPort(),
      family: this.address.family,
    });
    const [client, server] = createMemoryPair({
      ...this.#pairOptions,
      localAddress: clientAddress,
      remoteAddress: this.address,
    });
    this.#connections.add(server);
    server.once('close', () => this.#connections.delete(server));
    this.emit('connection', server);
    return client;
  }

  async stopAccepting(): Promise<void> {
    if (!this.#listening) return;
    this.#listening = false;
    await Promise.resolve();
    if (!this.#closeEmitted) {
      this.#closeEmitted = true;
      this.emit('close');
    }
  }

  async destroy(): Promise<void> {
    const live = [...this.#connections];
    for (const conn of live) conn.destroy();
    await this.stopAccepting();
    // Wait (bounded by the number of live connections) until each emitted close.
    await Promise.all(
      live.map((conn) =>
        conn.closed
          ? undefined
          : new Promise<void>((resolve) => conn.once('close', () => resolve())),
      ),
    );
  }

  #allocateClientPort(): number {
    const port = this.#nextClientPort;
    this.#nextClientPort = port >= 65_535 ? 49_152 : port + 1;
    return port;
  }
}

/** Create a listening `MemoryServer`. */
export function listenMemory(options: MemoryServerOptions = {}): MemoryServer {
  return new MemoryServer(options);
}
