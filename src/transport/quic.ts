/**
 * QUIC endpoint (RFC 9000) on one UDP socket, driving quiche through its sans-I/O API
 * (DESIGN §2; the driver is quic/connection.ts, streams quic/stream.ts).
 *
 * One endpoint can accept (with `server` options) and connect. Datagrams are routed by
 * destination connection ID; every connection ID we issue is 20 bytes. New connections:
 * - Initial packets in datagrams under 1200 bytes are dropped (RFC 9000 §14.1), as are
 *   Initials whose destination connection ID is shorter than 8 bytes (§7.2).
 * - An unsupported version gets a Version Negotiation packet (§6.1).
 * - With `retry` (default on) the first Initial gets a stateless Retry carrying an
 *   HMAC-signed address-validation token (§8.1.2, quic/token.ts); only a client that
 *   echoes a valid token from the same IP gets a connection.
 * - At most `maxConnections` live connections; past it new Initials are dropped.
 */
import { createSocket } from 'node:dgram';
import type { RemoteInfo, Socket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { isIP } from 'node:net';
import { AbortError, InvalidOptionError, TimeoutError } from '../errors.js';
import { noopObserver } from '../monitoring/observer.js';
import type { Observer } from '../monitoring/observer.js';
import { BindError, ConnectError } from './errors.js';
import { buildConfig } from './quic/config.js';
import type { QuicOptions } from './quic/config.js';
import { QuicConnection } from './quic/connection.js';
import type { PacketSink } from './quic/connection.js';
import { loadQuiche } from './quic/native.js';
import type { Quiche, QuicheConfig, QuicheHost } from './quic/native.js';
import { AddressTokens } from './quic/token.js';
import type { SocketAddress } from './types.js';

export { QuicConnection } from './quic/connection.js';
export type { QuicConnectionEvents, QuicStats } from './quic/connection.js';
export { QuicStream } from './quic/stream.js';
export type { QuicStreamOptions } from './quic/stream.js';
export type { QuicOptions, QuicTlsOptions, QuicTransportOptions } from './quic/config.js';
export * from './quic/errors.js';
export { AddressTokens } from './quic/token.js';

const CID_LEN = 20;
const MIN_INITIAL_DATAGRAM = 1200;
const SLAB_BYTES = 1 << 20;

export interface QuicEndpointOptions {
  /** Local address. @default '127.0.0.1' */
  host?: string;
  /** Local port; 0 picks one. @default 0 */
  port?: number;
  /** Accept connections with these options (cert and key required). */
  server?: QuicOptions;
  /** Stateless Retry for every new connection (RFC 9000 §8.1.2). @default true */
  retry?: boolean;
  /** HMAC key for Retry tokens (random per endpoint by default). */
  tokenKey?: Uint8Array;
  /** Live connections accepted at most. @default 10_000 */
  maxConnections?: number;
  /** SO_RCVBUF / SO_SNDBUF. @default 4 MiB each */
  socketBufferBytes?: number;
  /**
   * Reports through `observer`: connection counts, packets and bytes per second, and, as
   * gauges every `statsIntervalMs`, `quic_connections`, `quic_rtt_ms` (mean smoothed RTT),
   * `quic_cwnd_bytes` (mean), `quic_packets_lost_total` and `quic_packets_sent_total`.
   */
  observer?: Observer;
  /** Gauge interval for the observer (0 disables). @default 5000 */
  statsIntervalMs?: number;
}

export interface QuicConnectOptions extends QuicOptions {
  host: string;
  port: number;
  /** TLS server name (SNI, and the name verified). @default host when it is a name */
  servername?: string;
  /** A session from an earlier connection's `session()`, for resumption and 0-RTT. */
  session?: Uint8Array;
  /** Give up after this long. @default 10_000 */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface QuicEndpointEvents {
  /** A client connected (handshake complete). */
  connection: [conn: QuicConnection];
  error: [err: Error];
  close: [];
}

/** Counters for diagnostics and tests. */
export interface QuicEndpointCounters {
  datagramsReceived: number;
  datagramsSent: number;
  /** Datagrams that matched no connection and started none. */
  dropped: number;
  retriesSent: number;
  versionNegotiations: number;
  invalidTokens: number;
  accepted: number;
}

export class QuicEndpoint extends EventEmitter<QuicEndpointEvents> implements PacketSink {
  readonly #q: Quiche;
  readonly #socket: Socket;
  readonly #address: SocketAddress;
  readonly #local: QuicheHost;
  readonly #serverConfig: QuicheConfig | undefined;
  readonly #serverOptions: QuicOptions | undefined;
  readonly #retry: boolean;
  readonly #tokens: AddressTokens;
  readonly #maxConnections: number;
  readonly #observer: Observer;
  readonly #byCid = new Map<string, QuicConnection>();
  readonly #cids = new Map<QuicConnection, string[]>();
  readonly #clientConfigs = new WeakMap<object, QuicheConfig>();
  readonly counters: QuicEndpointCounters = {
    datagramsReceived: 0,
    datagramsSent: 0,
    dropped: 0,
    retriesSent: 0,
    versionNegotiations: 0,
    invalidTokens: 0,
    accepted: 0,
  };
  #slab = new Uint8Array(SLAB_BYTES);
  #slabAt = 0;
  #closing: Promise<void> | undefined;
  #trackSends = false;
  #pendingSends = 0;
  #statsTimer: ReturnType<typeof setInterval> | undefined;
  /** Packets sent and lost by connections that already closed. */
  #closedSent = 0;
  #closedLost = 0;

  private constructor(
    q: Quiche,
    socket: Socket,
    options: QuicEndpointOptions,
    serverConfig: QuicheConfig | undefined,
  ) {
    super();
    this.#q = q;
    this.#socket = socket;
    const a = socket.address();
    this.#address = {
      address: a.address,
      port: a.port,
      family: a.family === 'IPv6' ? 'IPv6' : 'IPv4',
    };
    this.#local = { host: a.address, port: a.port };
    this.#serverConfig = serverConfig;
    this.#serverOptions = options.server;
    this.#retry = options.retry ?? true;
    this.#tokens = new AddressTokens(
      options.tokenKey === undefined ? {} : { key: options.tokenKey },
    );
    this.#maxConnections = options.maxConnections ?? 10_000;
    this.#observer = options.observer ?? noopObserver;
    socket.on('message', this.#onMessage);
    const every = options.statsIntervalMs ?? 5000;
    if (this.#observer !== noopObserver && every > 0) {
      this.#statsTimer = setInterval(() => this.publishStats(), every);
      this.#statsTimer.unref();
    }
    socket.on('error', (err) => {
      // Send errors (ENOBUFS, ICMP unreachable) are packet loss to QUIC; count, go on.
      this.#observer.error('quic', (err as NodeJS.ErrnoException).code ?? 'GN_ERR_UDP');
    });
  }

  /** Binds a UDP socket and loads quiche. */
  static async create(options: QuicEndpointOptions = {}): Promise<QuicEndpoint> {
    const q = await loadQuiche();
    const serverConfig =
      options.server === undefined ? undefined : buildConfig(q, 'server', options.server);
    const host = options.host ?? '127.0.0.1';
    const socket = createSocket({ type: isIP(host) === 6 ? 'udp6' : 'udp4' });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', (err) =>
        reject(
          new BindError(`cannot bind UDP ${host}:${options.port ?? 0}: ${err.message}`, {
            cause: err,
          }),
        ),
      );
      socket.bind(options.port ?? 0, host, () => resolve());
    });
    socket.removeAllListeners('error');
    const bufBytes = options.socketBufferBytes ?? 4 << 20;
    try {
      socket.setRecvBufferSize(bufBytes);
      socket.setSendBufferSize(bufBytes);
    } catch {
      // The kernel caps it (net.core.rmem_max); quiche copes with a smaller one.
    }
    return new QuicEndpoint(q, socket, options, serverConfig);
  }

  get address(): SocketAddress {
    return this.#address;
  }

  /** Live connections (both accepted and initiated). */
  get connections(): ReadonlySet<QuicConnection> {
    return new Set(this.#cids.keys());
  }

  /** Publishes the gauges listed under `observer` now. */
  publishStats(): void {
    const o = this.#observer;
    let rtt = 0;
    let cwnd = 0;
    let sent = this.#closedSent;
    let lost = this.#closedLost;
    const live = [...this.#cids.keys()].filter((c) => !c.closed);
    for (const c of live) {
      const s = c.stats();
      rtt += s.rttMs;
      cwnd += s.cwnd;
      sent += s.sentPackets;
      lost += s.lostPackets;
    }
    o.gauge('quic_connections', live.length);
    o.gauge('quic_rtt_ms', live.length === 0 ? 0 : rtt / live.length);
    o.gauge('quic_cwnd_bytes', live.length === 0 ? 0 : cwnd / live.length);
    o.gauge('quic_packets_sent_total', sent);
    o.gauge('quic_packets_lost_total', lost);
  }

  /** Connects to a QUIC server; resolves once the handshake completes (or 0-RTT is possible). */
  async connect(options: QuicConnectOptions): Promise<QuicConnection> {
    if (this.#closing !== undefined) throw new ConnectError('the QUIC endpoint is closed');
    let config = this.#clientConfigs.get(options);
    if (config === undefined) {
      config = buildConfig(this.#q, 'client', options);
      this.#clientConfigs.set(options, config);
    }
    let address = options.host;
    if (isIP(address) === 0) {
      const family = this.#address.family === 'IPv6' ? 6 : 4;
      address = (await lookup(options.host, { family })).address;
    }
    const servername = options.servername ?? (isIP(options.host) === 0 ? options.host : undefined);
    const scid = randomBytes(CID_LEN);
    const remote: QuicheHost = { host: address, port: options.port };
    let qc;
    try {
      qc = this.#q.Connection.connect(servername ?? null, scid, this.#local, remote, config);
      if (options.session !== undefined) qc.setSession(options.session);
    } catch (err) {
      throw new ConnectError(`cannot start a QUIC connection: ${(err as Error).message}`, {
        cause: err,
      });
    }
    const conn = new QuicConnection(
      qc,
      'client',
      this,
      this.#address,
      {
        address,
        port: options.port,
        family: isIP(address) === 6 ? 'IPv6' : 'IPv4',
      },
      servername,
    );
    this.#register(conn, [scid]);
    conn.start();
    const timeoutMs = options.timeoutMs ?? 10_000;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let onAbort: (() => void) | undefined;
    try {
      await Promise.race([
        conn.ready,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new TimeoutError(`QUIC handshake did not finish within ${timeoutMs} ms`)),
            timeoutMs,
          );
          if (options.signal !== undefined) {
            onAbort = () =>
              reject(new AbortError('QUIC connect aborted', { cause: options.signal!.reason }));
            if (options.signal.aborted) onAbort();
            else options.signal.addEventListener('abort', onAbort, { once: true });
          }
        }),
      ]);
    } catch (err) {
      conn.destroy(0x02, 'connect abandoned', false);
      throw err;
    } finally {
      clearTimeout(timer);
      if (onAbort !== undefined) options.signal?.removeEventListener('abort', onAbort);
    }
    return conn;
  }

  /**
   * Sends CONNECTION_CLOSE (application code 0 unless given) on every connection, drops
   * them without waiting out the draining period (RFC 9000 §10.2 lets a closing endpoint
   * discard state it no longer needs), and unbinds.
   */
  close(code = 0, reason = ''): Promise<void> {
    this.#closing ??= (async () => {
      if (this.#statsTimer !== undefined) clearInterval(this.#statsTimer);
      // From here each send reports completion, so the CONNECTION_CLOSE packets leave
      // before the socket is closed under them.
      this.#trackSends = true;
      for (const c of [...this.#cids.keys()]) c.destroy(code, reason);
      const deadline = Date.now() + 500;
      while (this.#pendingSends > 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 5));
      }
      await new Promise<void>((resolve) => this.#socket.close(() => resolve()));
      this.emit('close');
    })();
    return this.#closing;
  }

  // ---- PacketSink ----

  packetBuffer(size: number): Uint8Array {
    if (this.#slab.length - this.#slabAt < size) {
      this.#slab = new Uint8Array(SLAB_BYTES);
      this.#slabAt = 0;
    }
    return this.#slab.subarray(this.#slabAt);
  }

  sendPacket(data: Uint8Array, to: QuicheHost): void {
    // `data` lives in the slab; the bytes behind it are not reused (the slab only moves on).
    this.#slabAt += data.length;
    this.counters.datagramsSent++;
    this.#observer.bytesSent('quic', data.length);
    if (!this.#trackSends) {
      this.#socket.send(data, to.port, to.host);
      return;
    }
    this.#pendingSends++;
    this.#socket.send(data, to.port, to.host, () => this.#pendingSends--);
  }

  addConnectionId(conn: QuicConnection, cid: Uint8Array): void {
    const k = key(cid);
    this.#byCid.set(k, conn);
    this.#cids.get(conn)?.push(k);
  }

  removeConnectionId(conn: QuicConnection, cid: Uint8Array): void {
    const k = key(cid);
    if (this.#byCid.get(k) === conn) this.#byCid.delete(k);
  }

  connectionClosed(conn: QuicConnection): void {
    try {
      const s = conn.q.stats();
      this.#closedSent += s.sent;
      this.#closedLost += s.lost;
    } catch {
      // stats are best effort
    }
    for (const cid of this.#cids.get(conn) ?? []) {
      if (this.#byCid.get(cid) === conn) this.#byCid.delete(cid);
    }
    this.#cids.delete(conn);
    this.#observer.connectionClosed('quic', conn.ageMs / 1000);
  }

  // ---- receive path ----

  readonly #onMessage = (msg: Buffer, rinfo: RemoteInfo): void => {
    this.counters.datagramsReceived++;
    this.#observer.bytesReceived('quic', msg.length);
    let header;
    try {
      header = this.#q.Header.fromSlice(msg, CID_LEN);
    } catch {
      this.counters.dropped++;
      return;
    }
    const conn = this.#byCid.get(key(header.dcid));
    const from: QuicheHost = { host: rinfo.address, port: rinfo.port };
    if (conn !== undefined) {
      conn.receive(msg, from);
      return;
    }
    this.#maybeAccept(msg, header, from);
  };

  #maybeAccept(
    msg: Buffer,
    header: { ty: number; version: number; dcid: Uint8Array; scid: Uint8Array; token?: Uint8Array },
    from: QuicheHost,
  ): void {
    const T = this.#q.Type;
    if (this.#serverConfig === undefined || this.#closing !== undefined) {
      this.counters.dropped++;
      return;
    }
    if (header.ty === T.Short || header.ty === T.VersionNegotiation || header.ty === T.Retry) {
      this.counters.dropped++;
      return;
    }
    if (msg.length < MIN_INITIAL_DATAGRAM) {
      this.counters.dropped++; // RFC 9000 §14.1
      return;
    }
    if (!this.#q.versionIsSupported(header.version)) {
      const out = Buffer.allocUnsafe(1350);
      const n = this.#q.negotiateVersion(header.scid, header.dcid, out);
      this.counters.versionNegotiations++;
      this.#socket.send(out.subarray(0, n), from.port, from.host);
      return;
    }
    if (header.ty !== T.Initial || header.dcid.length < 8) {
      this.counters.dropped++; // 0-RTT before the Initial, or a too-short DCID (§7.2)
      return;
    }
    if (this.#cids.size >= this.#maxConnections) {
      this.counters.dropped++;
      this.#observer.error('quic', 'GN_ERR_QUIC_MAX_CONNECTIONS');
      return;
    }
    let scid: Uint8Array;
    let odcid: Uint8Array | null = null;
    if (this.#retry) {
      const token = header.token ?? new Uint8Array(0);
      if (token.length === 0) {
        const newScid = randomBytes(CID_LEN);
        const out = Buffer.allocUnsafe(1350);
        const n = this.#q.retry(
          header.scid,
          header.dcid,
          newScid,
          this.#tokens.mint(header.dcid, from.host),
          header.version,
          out,
        );
        this.counters.retriesSent++;
        this.#socket.send(out.subarray(0, n), from.port, from.host);
        return;
      }
      const original = this.#tokens.validate(token, from.host);
      if (original === undefined || header.dcid.length !== CID_LEN) {
        this.counters.invalidTokens++;
        return; // RFC 9000 §8.1.3: an invalid token may be treated as no token; we drop.
      }
      scid = header.dcid;
      odcid = original;
    } else {
      scid = randomBytes(CID_LEN);
    }
    let qc;
    try {
      qc = this.#q.Connection.accept(scid, odcid, this.#local, from, this.#serverConfig);
    } catch {
      this.counters.dropped++;
      return;
    }
    const conn = new QuicConnection(qc, 'server', this, this.#address, {
      address: from.host,
      port: from.port,
      family: isIP(from.host) === 6 ? 'IPv6' : 'IPv4',
    });
    if (this.#serverOptions !== undefined) conn.streamOptions = {};
    // Without Retry the client keeps using its own DCID until it sees our SCID.
    this.#register(conn, this.#retry ? [scid] : [scid, header.dcid]);
    this.counters.accepted++;
    // Synchronously at establishment, before streams from the same packet are handed out.
    conn.once('established', () => this.emit('connection', conn));
    conn.receive(msg, from);
  }

  #register(conn: QuicConnection, cids: Uint8Array[]): void {
    const keys = cids.map(key);
    for (const k of keys) this.#byCid.set(k, conn);
    this.#cids.set(conn, keys);
    this.#observer.connectionOpened('quic');
  }
}

function key(cid: Uint8Array): string {
  return Buffer.from(cid.buffer, cid.byteOffset, cid.length).toString('latin1');
}

/** Validates endpoint options early (used by CLIs). */
export function checkQuicEndpointOptions(o: QuicEndpointOptions): void {
  if (
    o.maxConnections !== undefined &&
    (!Number.isSafeInteger(o.maxConnections) || o.maxConnections < 1)
  ) {
    throw new InvalidOptionError('maxConnections must be a positive integer');
  }
}
