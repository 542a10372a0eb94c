/**
 * The two shapes every protocol binding runs on (DESIGN §3): a stream connection and a
 * datagram endpoint. TCP, TLS, QUIC streams, WebRTC data channels and the in-memory pairs
 * all implement them, so a protocol binding never knows which one it has.
 */
import type { EventEmitter } from 'node:events';

export type AddressFamily = 'IPv4' | 'IPv6';

/** A resolved socket address. */
export interface SocketAddress {
  readonly address: string;
  readonly port: number;
  readonly family: AddressFamily;
}

/** Where to send a datagram or connect to: a host name or IP literal and a port. */
export interface PeerAddress {
  readonly address: string;
  readonly port: number;
}

export interface StreamConnectionEvents {
  /** Bytes arrived. The chunk is owned by the listener (it is not reused). */
  data: [chunk: Uint8Array];
  /** The write buffer drained below the high-water mark after `write` returned false. */
  drain: [];
  /** The peer finished sending (half-close, TCP FIN). Writing may continue. */
  end: [];
  /** No bytes moved in either direction for the idle timeout. The connection is destroyed next. */
  timeout: [];
  /** The connection failed; `close` follows. */
  error: [err: Error];
  /** The connection is fully closed. Emitted exactly once. */
  close: [hadError: boolean];
}

/**
 * A reliable, ordered byte stream.
 *
 * Backpressure (STYLE §6): `write` returns false once more than `highWaterMark` bytes are
 * buffered; `drain` follows when the buffer empties. Writers should stop on false.
 * Reading: `pause()` stops `data` events and lets the kernel (or the in-memory peer) apply
 * backpressure; `resume()` restarts them.
 */
export interface StreamConnection extends EventEmitter<StreamConnectionEvents> {
  /** Process-unique connection id, for logs and metrics. */
  readonly id: string;
  /** 'tcp', 'tls', 'memory', 'quic', 'webrtc'. */
  readonly kind: string;
  readonly localAddress: SocketAddress | undefined;
  readonly remoteAddress: SocketAddress | undefined;
  /** The ALPN protocol negotiated (TLS, QUIC), or undefined. */
  readonly alpnProtocol: string | undefined;
  /** TLS SNI server name the client asked for, if any. */
  readonly servername: string | undefined;
  /** Bytes accepted by `write` and not yet handed to the kernel or peer. */
  readonly bufferedAmount: number;
  /** False after `end`, `close` or `destroy`, or once the connection failed. */
  readonly writable: boolean;
  /** True once `close` was emitted. */
  readonly closed: boolean;
  /** Bytes received and sent so far. */
  readonly bytesRead: number;
  readonly bytesWritten: number;

  /** Queue bytes; false means "stop writing until `drain`". Writing after `end` throws. */
  write(chunk: Uint8Array): boolean;
  /** Queue several chunks in one system call where the transport can (writev). */
  writev(chunks: readonly Uint8Array[]): boolean;
  /** Graceful half-close: flush what is queued, then send FIN. Reading continues. */
  end(): void;
  /** Graceful close: `end()`, and destroy once the peer has ended too or after `graceMs`. */
  close(graceMs?: number): void;
  /** Immediate teardown; pending writes are dropped. Idempotent. */
  destroy(err?: Error): void;
  pause(): void;
  resume(): void;
  /**
   * Destroy the connection after `ms` without traffic (0 disables). Emits `timeout` first.
   * TCP and TLS check every quarter of `ms`, so the silence that fires it is at least `ms`
   * and at most 1.25 × `ms`.
   */
  setIdleTimeout(ms: number): void;
}

export interface StreamServerEvents {
  connection: [conn: StreamConnection];
  /** A connection failed before it was handed out (e.g. a TLS handshake error). */
  clientError: [err: Error, remote: SocketAddress | undefined];
  error: [err: Error];
  close: [];
}

/** A listening stream server (TCP or TLS). */
export interface StreamServer extends EventEmitter<StreamServerEvents> {
  readonly kind: string;
  /** The bound address (after `listen` resolved). */
  readonly address: SocketAddress;
  /** Live connections accepted by this server. */
  readonly connections: ReadonlySet<StreamConnection>;
  /** Whether the server still accepts new connections. */
  readonly listening: boolean;
  /** Stop accepting new connections; live ones are untouched. Resolves once unbound. */
  stopAccepting(): Promise<void>;
  /** Stop accepting and destroy every live connection. Idempotent. */
  destroy(): Promise<void>;
}

export interface DatagramEndpointEvents {
  message: [data: Uint8Array, from: SocketAddress];
  error: [err: Error];
  close: [];
}

/** An unreliable datagram socket (UDP, or the in-memory network). */
export interface DatagramEndpoint extends EventEmitter<DatagramEndpointEvents> {
  readonly kind: string;
  readonly address: SocketAddress;
  /** Send one datagram. Failures surface as `error` events, never as throws. */
  send(data: Uint8Array, to: PeerAddress): void;
  /** Unbind. Idempotent. */
  close(): Promise<void>;
}
