/**
 * An in-memory stream connection pair (DESIGN §3): two `StreamConnection`s wired back to
 * back, for tests, examples and the simulator. It follows the TCP contract closely enough
 * that a protocol binding cannot tell the difference:
 *
 * - delivery is asynchronous (never inside `write`) and ordered;
 * - backpressure is advisory, like a socket: `write` returns false once the reader holds
 *   `capacity` unread bytes and `drain` follows when it consumed below that; a writer that
 *   ignores it is destroyed with `GN_ERR_BUFFER_OVERFLOW` past `maxBuffered`;
 * - `end` half-closes (the peer sees `end` and may keep writing); once both directions
 *   ended each side emits `close` on its own;
 * - `destroy` on one side delivers what was already written, then closes the other side;
 * - `close` is emitted exactly once and `destroy` is idempotent;
 * - as in socket-connection.ts: writing after this side called `end`, `close` or `destroy`
 *   throws `WriteAfterEndError`, while writing after the connection failed underneath (the
 *   peer destroyed it, the buffer overflowed) is dropped and returns false; an `error` with
 *   no listener is not thrown (it stays readable as `lastError`).
 */
import { EventEmitter } from 'node:events';
import { GhostnetError, InvalidOptionError } from '../errors.js';
import { IdleTimeoutError, WriteAfterEndError } from './errors.js';
import { nextConnectionId } from './id.js';
import type { SocketAddress, StreamConnection, StreamConnectionEvents } from './types.js';

/** A writer ignored backpressure and the reader's unread buffer passed `maxBuffered`. */
export class BufferOverflowError extends GhostnetError {
  constructor(limit: number) {
    super(
      'GN_ERR_BUFFER_OVERFLOW',
      `More than ${limit} bytes buffered unread: the writer ignored backpressure (wait for 'drain' after write() returns false)`,
    );
  }
}

/** Runs a callback later, outside the current call stack. */
export type Scheduler = (callback: () => void) => void;

export interface MemoryPairOptions {
  /**
   * Bytes the receiving side holds unread before the writer's `write()` returns false.
   * Like a socket's high-water mark, this is advisory.
   * @default 65536
   */
  capacity?: number;
  /**
   * Hard bound on bytes the receiving side holds unread. A write beyond it destroys the
   * writing connection with `BufferOverflowError` (`GN_ERR_BUFFER_OVERFLOW`), so a writer
   * that ignores backpressure cannot grow memory without limit.
   * @default 16777216 (16 MiB)
   */
  maxBuffered?: number;
  /**
   * `localAddress` of the first connection (the `remoteAddress` of the second).
   * @default undefined
   */
  localAddress?: SocketAddress;
  /**
   * `remoteAddress` of the first connection (the `localAddress` of the second).
   * @default undefined
   */
  remoteAddress?: SocketAddress;
  /**
   * ALPN protocol both sides report, to stand in for a TLS or QUIC connection.
   * @default undefined
   */
  alpnProtocol?: string;
  /**
   * SNI server name both sides report.
   * @default undefined
   */
  servername?: string;
  /**
   * Grace period of `close()` called without an argument: how long to wait for the peer's
   * `end` before destroying.
   * @default 5000
   */
  closeGraceMs?: number;
  /**
   * How deliveries are deferred. Microtasks keep the pair working under fake timers
   * (vitest does not fake `queueMicrotask`); a simulator may pass its own.
   * @default queueMicrotask
   */
  schedule?: Scheduler;
}

export const MEMORY_PAIR_DEFAULTS = Object.freeze({
  capacity: 65_536,
  maxBuffered: 16 * 1024 * 1024,
  closeGraceMs: 5000,
});

/** Marks in the inbound queue: the peer ended (FIN) or was destroyed (RST). */
const EOF = Symbol('eof');
const RESET = Symbol('reset');
type Inbound = Uint8Array | typeof EOF | typeof RESET;

interface ResolvedOptions {
  capacity: number;
  maxBuffered: number;
  closeGraceMs: number;
  schedule: Scheduler;
  alpnProtocol: string | undefined;
  servername: string | undefined;
}

function positiveInt(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new InvalidOptionError(`${name} must be a positive integer, got ${String(value)}`);
  }
  return value;
}

function resolveOptions(options: MemoryPairOptions): ResolvedOptions {
  const capacity = positiveInt('capacity', options.capacity, MEMORY_PAIR_DEFAULTS.capacity);
  const maxBuffered = positiveInt(
    'maxBuffered',
    options.maxBuffered,
    Math.max(MEMORY_PAIR_DEFAULTS.maxBuffered, capacity),
  );
  if (maxBuffered < capacity) {
    throw new InvalidOptionError(
      `maxBuffered (${maxBuffered}) must be at least capacity (${capacity}); raise maxBuffered or lower capacity`,
    );
  }
  return {
    capacity,
    maxBuffered,
    closeGraceMs: positiveInt(
      'closeGraceMs',
      options.closeGraceMs,
      MEMORY_PAIR_DEFAULTS.closeGraceMs,
    ),
    schedule: options.schedule ?? queueMicrotask,
    alpnProtocol: options.alpnProtocol,
    servername: options.servername,
  };
}

/** One end of an in-memory pair. Create pairs with `createMemoryPair`. */
export class MemoryStreamConnection
  extends EventEmitter<StreamConnectionEvents>
  implements StreamConnection
{
  readonly id = nextConnectionId('memory');
  readonly kind = 'memory';
  readonly localAddress: SocketAddress | undefined;
  readonly remoteAddress: SocketAddress | undefined;
  readonly alpnProtocol: string | undefined;
  readonly servername: string | undefined;

  #peer: MemoryStreamConnection | undefined;
  readonly #options: ResolvedOptions;
  /**
   * Bytes and marks the peer sent that this side has not emitted yet: `#inbound` from
   * index `#head` on (an index instead of `shift()`, which is O(n) on long arrays).
   */
  #inbound: Array<Inbound | undefined> = [];
  #head = 0;
  #inboundBytes = 0;
  /** A RESET mark is queued (the peer was destroyed). */
  #resetQueued = false;
  #flushScheduled = false;
  #paused = false;
  #needDrain = false;
  /** We sent EOF (by `end`, or as part of a graceful finish). */
  #writableEnded = false;
  /** The application called `end`, `close` or `destroy`: writing now throws. */
  #locallyEnded = false;
  #lastError: Error | undefined;
  /** We emitted `end` (consumed the peer's EOF). */
  #readableEnded = false;
  #destroyed = false;
  #closed = false;
  #bytesRead = 0;
  #bytesWritten = 0;
  #idleMs = 0;
  #idleTimer: ReturnType<typeof setTimeout> | undefined;
  #graceTimer: ReturnType<typeof setTimeout> | undefined;

  /** @internal Use `createMemoryPair`. */
  constructor(
    options: ResolvedOptions,
    local: SocketAddress | undefined,
    remote: SocketAddress | undefined,
  ) {
    super();
    this.#options = options;
    this.localAddress = local;
    this.remoteAddress = remote;
    this.alpnProtocol = options.alpnProtocol;
    this.servername = options.servername;
  }

  /** @internal */
  static link(a: MemoryStreamConnection, b: MemoryStreamConnection): void {
    a.#peer = b;
    b.#peer = a;
  }

  get bufferedAmount(): number {
    const peer = this.#peer;
    return peer === undefined || peer.#destroyed ? 0 : peer.#inboundBytes;
  }

  get writable(): boolean {
    return !this.#writableEnded && !this.#destroyed;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get destroyed(): boolean {
    return this.#destroyed;
  }

  get bytesRead(): number {
    return this.#bytesRead;
  }

  get bytesWritten(): number {
    return this.#bytesWritten;
  }

  get isPaused(): boolean {
    return this.#paused;
  }

  /** The first error this connection failed with, if any (even if no listener saw it). */
  get lastError(): Error | undefined {
    return this.#lastError;
  }

  write(chunk: Uint8Array): boolean {
    return this.writev([chunk]);
  }

  writev(chunks: readonly Uint8Array[]): boolean {
    if (this.#locallyEnded) throw new WriteAfterEndError();
    // Failed underneath (peer reset, overflow): drop silently; `close` tells the writer.
    if (this.#destroyed) return false;
    const peer = this.#peer;
    let total = 0;
    for (const chunk of chunks) total += chunk.byteLength;
    if (peer === undefined || peer.#destroyed) {
      // The peer is gone and our RESET mark is on its way: drop, as a socket would.
      this.#bytesWritten += total;
      return false;
    }
    if (peer.#inboundBytes + total > this.#options.maxBuffered) {
      this.#teardown(new BufferOverflowError(this.#options.maxBuffered));
      return false;
    }
    for (const chunk of chunks) {
      if (chunk.byteLength === 0) continue;
      // Copy: the caller may reuse its buffer once write returns, and the reader owns what
      // it receives.
      peer.#inbound.push(Buffer.from(chunk));
    }
    peer.#inboundBytes += total;
    this.#bytesWritten += total;
    if (total > 0) {
      this.#touch();
      peer.#scheduleFlush();
    }
    if (peer.#inboundBytes >= this.#options.capacity) {
      this.#needDrain = true;
      return false;
    }
    return true;
  }

  end(): void {
    this.#locallyEnded = true;
    if (this.#writableEnded || this.#destroyed) return;
    this.#writableEnded = true;
    const peer = this.#peer;
    if (peer !== undefined && !peer.#destroyed) {
      peer.#inbound.push(EOF);
      peer.#scheduleFlush();
    }
    this.#maybeFinish();
  }

  close(graceMs: number = this.#options.closeGraceMs): void {
    if (!Number.isFinite(graceMs) || graceMs < 0) {
      throw new InvalidOptionError(`graceMs must be a finite number >= 0, got ${graceMs}`);
    }
    this.#locallyEnded = true;
    if (this.#destroyed) return;
    this.end();
    if (this.#destroyed || this.#graceTimer !== undefined) return;
    this.#graceTimer = setTimeout(() => {
      this.#graceTimer = undefined;
      this.destroy();
    }, graceMs);
    this.#graceTimer.unref?.();
  }

  destroy(err?: Error): void {
    this.#locallyEnded = true;
    this.#teardown(err);
  }

  /** Immediate teardown, whoever asked for it (the application, the peer, a limit). */
  #teardown(err?: Error): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.#clearTimers();
    this.#inbound = [];
    this.#head = 0;
    this.#inboundBytes = 0;
    const peer = this.#peer;
    if (peer !== undefined && !peer.#destroyed) {
      peer.#inbound.push(RESET);
      peer.#resetQueued = true;
      peer.#scheduleFlush();
    }
    // Like Node sockets, `error` and `close` follow asynchronously, never inside the call.
    if (err !== undefined) this.#lastError ??= err;
    this.#options.schedule(() => {
      // A failure nobody listens for must not crash the process (as in socket-connection.ts).
      if (err !== undefined && this.listenerCount('error') > 0) this.emit('error', err);
      this.#closed = true;
      this.emit('close', err !== undefined);
    });
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    if (this.#inbound.length > this.#head) this.#scheduleFlush();
  }

  setIdleTimeout(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) {
      throw new InvalidOptionError(`idle timeout must be a finite number >= 0, got ${ms}`);
    }
    this.#idleMs = ms;
    this.#touch();
  }

  #touch(): void {
    if (this.#idleTimer !== undefined) {
      clearTimeout(this.#idleTimer);
      this.#idleTimer = undefined;
    }
    if (this.#idleMs === 0 || this.#destroyed) return;
    const ms = this.#idleMs;
    this.#idleTimer = setTimeout(() => {
      this.#idleTimer = undefined;
      if (this.#destroyed) return;
      this.emit('timeout');
      this.destroy(new IdleTimeoutError(ms));
    }, ms);
    this.#idleTimer.unref?.();
  }

  #clearTimers(): void {
    if (this.#idleTimer !== undefined) clearTimeout(this.#idleTimer);
    if (this.#graceTimer !== undefined) clearTimeout(this.#graceTimer);
    this.#idleTimer = undefined;
    this.#graceTimer = undefined;
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled || this.#destroyed) return;
    this.#flushScheduled = true;
    this.#options.schedule(() => {
      this.#flushScheduled = false;
      this.#flush();
    });
  }

  /** Emit what arrived, in order, until paused or empty. */
  #flush(): void {
    let delivered = false;
    while (!this.#destroyed) {
      if (this.#head >= this.#inbound.length) {
        this.#inbound = [];
        this.#head = 0;
        break;
      }
      const head = this.#inbound[this.#head] as Inbound;
      if (head === RESET || (this.#paused && this.#resetQueued)) {
        // Data before the reset was delivered (or we are paused and it is lost, as unread
        // bytes are when a TCP peer resets).
        this.#teardown();
        break;
      }
      if (this.#paused) break;
      this.#inbound[this.#head] = undefined; // let the chunk be collected
      this.#head += 1;
      if (this.#head >= 1024 && this.#head * 2 >= this.#inbound.length) {
        this.#inbound = this.#inbound.slice(this.#head);
        this.#head = 0;
      }
      if (head === EOF) {
        this.#readableEnded = true;
        this.emit('end');
        this.#maybeFinish();
        continue;
      }
      this.#inboundBytes -= head.byteLength;
      this.#bytesRead += head.byteLength;
      delivered = true;
      this.emit('data', head);
    }
    if (delivered) this.#touch();
    const peer = this.#peer;
    if (
      peer !== undefined &&
      peer.#needDrain &&
      !peer.#destroyed &&
      this.#inboundBytes < this.#options.capacity
    ) {
      peer.#needDrain = false;
      peer.emit('drain');
    }
  }

  /** Both directions ended: the connection is done, like a TCP socket after FIN both ways. */
  #maybeFinish(): void {
    if (this.#writableEnded && this.#readableEnded && !this.#destroyed) {
      this.#destroyed = true;
      this.#clearTimers();
      this.#options.schedule(() => {
        this.#closed = true;
        this.emit('close', false);
      });
    }
  }
}

/**
 * Two connected in-memory stream connections (kind 'memory'). What one writes the other
 * receives, asynchronously and in order.
 */
export function createMemoryPair(
  options: MemoryPairOptions = {},
): [MemoryStreamConnection, MemoryStreamConnection] {
  const resolved = resolveOptions(options);
  const a = new MemoryStreamConnection(resolved, options.localAddress, options.remoteAddress);
  const b = new MemoryStreamConnection(resolved, options.remoteAddress, options.localAddress);
  MemoryStreamConnection.link(a, b);
  return [a, b];
}
