/**
 * `StreamConnection` over a node:net `Socket` or a node:tls `TLSSocket` (DESIGN §3). Shared by
 * tcp.ts and tls.ts; protocol bindings only ever see the `StreamConnection` shape.
 *
 * Semantics:
 * - `write` returns false once more than `highWaterMark` bytes are buffered; `drain` follows
 *   when the buffer has been fully handed to the kernel (STYLE §6).
 * - `end` is a half-close (TCP FIN, or TLS close_notify + FIN): reading continues. The
 *   socket is half-open capable, so after the peer's `end` the connection stays writable
 *   until the application ends its side too (then it closes by itself).
 * - `close(graceMs)` ends and destroys the socket once the peer has ended too, or after
 *   `graceMs`.
 * - socket errors surface as `error` then `close(true)`. Unlike node:net, an `error` with
 *   no listener is not thrown (a peer reset must not crash the process); it is counted
 *   through the observer and remains readable as `lastError`.
 * - writing after the local side called `end`/`close`/`destroy` throws WriteAfterEndError;
 *   writing after the socket failed underneath is dropped and returns false (`close`
 *   follows or has happened).
 */
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import type { DetailedPeerCertificate, TLSSocket } from 'node:tls';
import { InvalidOptionError } from '../errors.js';
import { noopObserver, type Observer } from '../monitoring/observer.js';
import { IdleTimeoutError, TlsError, WriteAfterEndError } from './errors.js';
import { nextConnectionId } from './id.js';
import { attachSlotListeners, slotListeners, type SlotListener } from './slot-listeners.js';
import type { SocketAddress, StreamConnection, StreamConnectionEvents } from './types.js';

/** Default write high-water mark in bytes. */
export const DEFAULT_HIGH_WATER_MARK = 64 * 1024;
/** Default grace period of `close()` before the socket is destroyed. */
export const DEFAULT_CLOSE_GRACE_MS = 5_000;
/** Largest accepted timer value (node timers overflow above 2^31-1 ms). */
const MAX_TIMER_MS = 2_147_483_647;

export interface SocketConnectionOptions {
  /** 'tcp' or 'tls': the connection's `kind` and its observer protocol label. */
  kind: 'tcp' | 'tls';
  /**
   * Bytes buffered above which `write` returns false.
   * @default 65536
   */
  highWaterMark?: number;
  /**
   * Idle timeout in ms (no bytes in either direction); 0 disables.
   * @default 0
   */
  idleTimeoutMs?: number;
  /**
   * Default grace period for `close()` in ms.
   * @default 5000
   */
  closeGraceMs?: number;
  /**
   * SNI server name: on the client the name it sent, on the server the name it received.
   * @default the TLS socket's `servername`, or undefined for TCP
   */
  servername?: string;
  /**
   * Metrics sink.
   * @default noopObserver
   */
  observer?: Observer;
}

/** Validate a millisecond duration option: a finite integer in [0, 2^31-1]. */
export function checkMs(name: string, value: number | undefined, allowZero = true): void {
  if (value === undefined) return;
  if (!Number.isInteger(value) || value < (allowZero ? 0 : 1) || value > MAX_TIMER_MS) {
    throw new InvalidOptionError(
      `${name} must be an integer number of milliseconds in [${allowZero ? 0 : 1}, ${MAX_TIMER_MS}], got ${String(value)}`,
    );
  }
}

/** Validate a positive integer size option. */
export function checkSize(name: string, value: number | undefined, max = 2 ** 31): void {
  if (value === undefined) return;
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new InvalidOptionError(`${name} must be an integer in [1, ${max}], got ${String(value)}`);
  }
}

/** Convert node's address triple into a SocketAddress, or undefined if unknown. */
export function toSocketAddress(
  address: string | undefined,
  port: number | undefined,
  family?: string | number,
): SocketAddress | undefined {
  if (address === undefined || port === undefined) return undefined;
  const v6 = family === 'IPv6' || family === 6 || address.includes(':');
  return { address, port, family: v6 ? 'IPv6' : 'IPv4' };
}

/** The node socket's slot pointing back to its SocketConnection (see SOCKET_LISTENERS). */
const OWNER = Symbol('ghostnet.socketConnection');
type OwnedSocket = Socket & { [OWNER]: SocketConnection };

/** The socket listeners, shared by every connection (see slot-listeners.ts). */
let SOCKET_LISTENERS: Readonly<Record<'data' | 'end' | 'error' | 'close', SlotListener>>;

function isTlsSocket(socket: Socket): socket is TLSSocket {
  return (socket as Partial<TLSSocket>).encrypted === true;
}

/** A StreamConnection backed by a connected node:net or node:tls socket. */
export class SocketConnection
  extends EventEmitter<StreamConnectionEvents>
  implements StreamConnection
{
  readonly id: string;
  readonly kind: 'tcp' | 'tls';
  readonly localAddress: SocketAddress | undefined;
  readonly remoteAddress: SocketAddress | undefined;
  readonly alpnProtocol: string | undefined;
  readonly servername: string | undefined;

  readonly #socket: Socket;
  readonly #observer: Observer;
  readonly #highWaterMark: number;
  readonly #closeGraceMs: number;
  readonly #openedAt: number;
  readonly #peerCertificate: DetailedPeerCertificate | undefined;
  readonly #authorized: boolean;
  readonly #authorizationError: Error | undefined;
  #bytesRead = 0;
  #bytesWritten = 0;
  #needDrain = false;
  /** The local side called end/close/destroy. */
  #ended = false;
  #remoteEnded = false;
  #destroyed = false;
  #closed = false;
  #idleTimeoutMs = 0;
  /**
   * The idle timeout is our own, not node's `socket.setTimeout`: that one refreshes a timer
   * on every read and write and keeps its Timeout (and a bound function) on the socket for
   * good once set, even at 0. Ours counts activity (`#activity`, bumped per read and write)
   * and checks it every quarter of the timeout; five quiet checks in a row — silence for at
   * least the timeout and at most 1.25 times it — fire it. At 0 nothing is kept.
   */
  #idleTimer: NodeJS.Timeout | undefined;
  #activity = 0;
  #seenActivity = 0;
  #quietChecks = 0;
  #graceTimer: NodeJS.Timeout | undefined;
  #lastError: Error | undefined;

  constructor(socket: Socket, options: SocketConnectionOptions) {
    super();
    checkSize('highWaterMark', options.highWaterMark);
    checkMs('idleTimeoutMs', options.idleTimeoutMs);
    checkMs('closeGraceMs', options.closeGraceMs);
    this.kind = options.kind;
    this.id = nextConnectionId(options.kind);
    this.#socket = socket;
    this.#observer = options.observer ?? noopObserver;
    this.#highWaterMark = options.highWaterMark ?? DEFAULT_HIGH_WATER_MARK;
    this.#closeGraceMs = options.closeGraceMs ?? DEFAULT_CLOSE_GRACE_MS;
    this.#openedAt = performance.now();

    this.localAddress = toSocketAddress(socket.localAddress, socket.localPort, socket.localFamily);
    this.remoteAddress = toSocketAddress(
      socket.remoteAddress,
      socket.remotePort,
      socket.remoteFamily,
    );
    if (isTlsSocket(socket)) {
      this.alpnProtocol = socket.alpnProtocol || undefined;
      const sn = options.servername ?? (socket as { servername?: string | false }).servername;
      this.servername = typeof sn === 'string' && sn.length > 0 ? sn : undefined;
      const peer = socket.getPeerCertificate(true);
      // An empty object means "no certificate" (e.g. a server that did not request one).
      this.#peerCertificate = peer && Object.keys(peer).length > 0 ? peer : undefined;
      this.#authorized = socket.authorized;
      const authErr = socket.authorizationError as Error | string | undefined | null;
      this.#authorizationError =
        authErr === undefined || authErr === null
          ? undefined
          : typeof authErr === 'string'
            ? new TlsError(`peer certificate not authorized: ${authErr}`)
            : authErr;
    } else {
      this.alpnProtocol = undefined;
      this.servername = options.servername;
      this.#peerCertificate = undefined;
      this.#authorized = false;
      this.#authorizationError = undefined;
    }

    // One wrapper per socket: the shared listeners find it through this slot.
    if ((socket as Partial<OwnedSocket>)[OWNER] !== undefined) {
      throw new InvalidOptionError('this socket is already wrapped by a SocketConnection');
    }
    attachSlotListeners(socket, OWNER, this, SOCKET_LISTENERS);
    socket.on('drain', this.#onFlushed);

    this.#observer.connectionOpened(this.kind);
    if (options.idleTimeoutMs !== undefined && options.idleTimeoutMs > 0) {
      this.setIdleTimeout(options.idleTimeoutMs);
    }
    // The socket may already be gone (destroyed between accept and wrap).
    if (socket.destroyed) {
      this.#destroyed = true;
      this.#ended = true;
      // Its 'close' may already have fired; make sure ours still fires exactly once.
      if (socket.closed) process.nextTick(() => this.#handleClose(false));
    }
  }

  get bufferedAmount(): number {
    return this.#socket.writableLength;
  }

  get writable(): boolean {
    return !this.#ended && !this.#destroyed && this.#socket.writable;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get bytesRead(): number {
    return this.#bytesRead;
  }

  /** Bytes accepted by `write`/`writev` (they may still be buffered). */
  get bytesWritten(): number {
    return this.#bytesWritten;
  }

  /** The peer's certificate chain head (TLS), captured after the handshake; else undefined. */
  get peerCertificate(): DetailedPeerCertificate | undefined {
    return this.#peerCertificate;
  }

  /** TLS: whether the peer's certificate verified against the trusted CAs. False for TCP. */
  get authorized(): boolean {
    return this.#authorized;
  }

  /** TLS: why the peer's certificate did not verify, if it did not. */
  get authorizationError(): Error | undefined {
    return this.#authorizationError;
  }

  /** The error that failed the connection, if any. */
  get lastError(): Error | undefined {
    return this.#lastError;
  }

  /** Whether the peer has half-closed (sent FIN / close_notify). */
  get remoteEnded(): boolean {
    return this.#remoteEnded;
  }

  write(chunk: Uint8Array): boolean {
    if (!this.#checkWritable()) return false;
    this.#bytesWritten += chunk.byteLength;
    this.#activity++;
    this.#observer.bytesSent(this.kind, chunk.byteLength);
    this.#socket.write(chunk, this.#onFlushed);
    return this.#afterWrite();
  }

  writev(chunks: readonly Uint8Array[]): boolean {
    if (!this.#checkWritable()) return false;
    if (chunks.length === 0) return this.#afterWrite();
    let total = 0;
    this.#socket.cork();
    try {
      for (let i = 0; i < chunks.length; i++) {
        const c = chunks[i] as Uint8Array;
        total += c.byteLength;
        // Only the last write needs the flush callback: it completes after the others.
        this.#socket.write(c, i === chunks.length - 1 ? this.#onFlushed : undefined);
      }
    } finally {
      this.#socket.uncork();
    }
    this.#bytesWritten += total;
    this.#activity++;
    this.#observer.bytesSent(this.kind, total);
    return this.#afterWrite();
  }

  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#socket.end();
  }

  close(graceMs: number = this.#closeGraceMs): void {
    checkMs('graceMs', graceMs);
    if (this.#destroyed || this.#closed) return;
    this.end();
    // With allowHalfOpen, node destroys the socket by itself once both directions are done.
    if (this.#graceTimer === undefined) {
      this.#graceTimer = setTimeout(() => {
        this.#graceTimer = undefined;
        this.destroy();
      }, graceMs);
    }
  }

  destroy(err?: Error): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.#ended = true;
    this.#needDrain = false;
    this.#socket.destroy(err);
  }

  pause(): void {
    this.#socket.pause();
  }

  resume(): void {
    this.#socket.resume();
  }

  setIdleTimeout(ms: number): void {
    checkMs('idleTimeoutMs', ms);
    this.#idleTimeoutMs = ms;
    this.#stopIdleTimer();
    if (ms === 0 || this.#destroyed) return;
    this.#seenActivity = this.#activity;
    this.#quietChecks = 0;
    this.#onIdleCheck ??= () => this.#checkIdle();
    this.#idleTimer = setInterval(this.#onIdleCheck, Math.max(1, Math.ceil(ms / 4)));
    this.#idleTimer.unref();
  }

  #stopIdleTimer(): void {
    if (this.#idleTimer === undefined) return;
    clearInterval(this.#idleTimer);
    this.#idleTimer = undefined;
  }

  /** The idle timer's callback, made when a timeout is first set. */
  #onIdleCheck: (() => void) | undefined;

  /** One check of the idle timer (see `#idleTimer`). */
  #checkIdle(): void {
    if (this.#activity !== this.#seenActivity) {
      this.#seenActivity = this.#activity;
      this.#quietChecks = 0;
      return;
    }
    if (++this.#quietChecks < 5) return;
    this.#stopIdleTimer();
    this.#handleTimeout();
  }

  #checkWritable(): boolean {
    if (this.#ended) throw new WriteAfterEndError();
    // Failed underneath (reset, error): drop silently; `close` tells the writer.
    return !this.#socket.destroyed && this.#socket.writable;
  }

  #afterWrite(): boolean {
    if (this.#socket.writableLength > this.#highWaterMark) {
      this.#needDrain = true;
      return false;
    }
    return !this.#needDrain;
  }

  // Arrow properties: one function per connection, not one closure per write (STYLE §12).
  readonly #onFlushed = (): void => {
    if (this.#needDrain && this.#socket.writableLength === 0 && !this.#destroyed) {
      this.#needDrain = false;
      this.emit('drain');
    }
  };

  static {
    SOCKET_LISTENERS = slotListeners<SocketConnection, 'data' | 'end' | 'error' | 'close'>(OWNER, {
      data: (c, chunk: Buffer) => c.#handleData(chunk),
      end: (c) => c.#handleEnd(),
      error: (c, err: Error) => c.#handleError(err),
      close: (c, hadError: boolean) => c.#handleClose(hadError),
    });
  }

  #handleData(chunk: Buffer): void {
    this.#bytesRead += chunk.byteLength;
    this.#activity++;
    this.#observer.bytesReceived(this.kind, chunk.byteLength);
    this.emit('data', chunk);
  }

  #handleEnd(): void {
    this.#remoteEnded = true;
    this.emit('end');
  }

  #handleTimeout(): void {
    if (this.#destroyed) return;
    this.emit('timeout');
    this.destroy(new IdleTimeoutError(this.#idleTimeoutMs));
  }

  #handleError(err: Error): void {
    this.#lastError ??= err;
    const code = (err as { code?: unknown }).code;
    this.#observer.error(this.kind, typeof code === 'string' ? code : 'GN_ERR_SOCKET');
    if (this.listenerCount('error') > 0) this.emit('error', err);
  }

  #handleClose(hadError: boolean): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#destroyed = true;
    this.#ended = true;
    this.#needDrain = false;
    this.#stopIdleTimer();
    if (this.#graceTimer !== undefined) {
      clearTimeout(this.#graceTimer);
      this.#graceTimer = undefined;
    }
    this.#observer.connectionClosed(this.kind, (performance.now() - this.#openedAt) / 1000);
    this.emit('close', hadError || this.#lastError !== undefined);
  }
}
