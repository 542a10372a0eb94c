/**
 * One QUIC stream as the transport's stream-connection shape (DESIGN §3), kind 'quic'.
 *
 * Writes go straight into quiche while the stream has flow-control capacity; the rest
 * waits in a bounded JS queue (`write` returns false past `highWaterMark`, `drain`
 * follows). Reading: `pause()` stops pulling from quiche, so the peer is held back by
 * stream flow control (RFC 9000 §4.1) rather than by our memory.
 *
 * Beyond the common shape: `streamId`, `reset(code)` (RESET_STREAM, RFC 9000 §19.4),
 * `stopSending(code)` (STOP_SENDING, §19.5), and the callbacks `onPeerReset` and
 * `onPeerStopSending` (with `peerResetCode` / `peerStopSendingCode`) when the peer does
 * either.
 */
import { EventEmitter } from 'node:events';
import { WriteAfterEndError } from '../errors.js';
import { nextConnectionId } from '../id.js';
import type { SocketAddress, StreamConnection, StreamConnectionEvents } from '../types.js';
import { QuicInternalError, QuicStopSendingError, QuicStreamResetError } from './errors.js';
import { isDone, quicheErrorName, streamErrorCode } from './native.js';
import type { QuicheConnection } from './native.js';

/** What a stream needs from its connection. */
export interface StreamHost {
  readonly q: QuicheConnection;
  readonly localAddress: SocketAddress | undefined;
  readonly remoteAddress: SocketAddress | undefined;
  readonly alpnProtocol: string | undefined;
  readonly servername: string | undefined;
  /** Bytes were handed to quiche, or a stream state changed: send packets soon. */
  scheduleFlush(): void;
  /** The stream has queued bytes waiting for capacity. */
  wantWrite(s: QuicStream): void;
  /** The stream was resumed: read what quiche buffered. */
  wantRead(s: QuicStream): void;
  /** Both directions are finished. */
  streamClosed(s: QuicStream): void;
  /** Shared read buffer. */
  readonly scratch: Uint8Array;
}

/** Stream IDs (RFC 9000 §2.1): bit 0 = server-initiated, bit 1 = unidirectional. */
export function isUni(streamId: number): boolean {
  return (streamId & 2) !== 0;
}

export function isServerInitiated(streamId: number): boolean {
  return (streamId & 1) !== 0;
}

export interface QuicStreamOptions {
  /** Queued bytes above which `write` returns false. @default 256 KiB */
  highWaterMark?: number;
  /** Error code sent by `destroy()` (RESET_STREAM / STOP_SENDING). @default 0 */
  destroyCode?: number;
}

export class QuicStream extends EventEmitter<StreamConnectionEvents> implements StreamConnection {
  readonly id = nextConnectionId('quic');
  readonly kind = 'quic';
  readonly streamId: number;
  /** True when we opened the stream. */
  readonly local: boolean;
  readonly uni: boolean;
  highWaterMark: number;
  destroyCode: number;
  /** Called when the peer resets its sending side (RESET_STREAM), before `close`. */
  onPeerReset: ((code: number) => void) | undefined;
  /** Called when the peer sends STOP_SENDING; quiche has answered with RESET_STREAM. */
  onPeerStopSending: ((code: number) => void) | undefined;
  /** The peer's RESET_STREAM code, once received. */
  peerResetCode: number | undefined;
  /** The peer's STOP_SENDING code, once received. */
  peerStopSendingCode: number | undefined;

  readonly #host: StreamHost;
  readonly #queue: Uint8Array[] = [];
  #queueHead = 0;
  #buffered = 0;
  #needDrain = false;
  #ending = false;
  #finSent = false;
  #writeDone: boolean;
  #readDone: boolean;
  #paused = false;
  #readPending = false;
  #closed = false;
  #bytesRead = 0;
  #bytesWritten = 0;
  #idleMs = 0;
  #idleTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(host: StreamHost, streamId: number, local: boolean, options: QuicStreamOptions = {}) {
    super();
    this.#host = host;
    this.streamId = streamId;
    this.local = local;
    this.uni = isUni(streamId);
    this.highWaterMark = options.highWaterMark ?? 256 * 1024;
    this.destroyCode = options.destroyCode ?? 0;
    // A unidirectional stream has one direction only (RFC 9000 §2.1).
    this.#writeDone = this.uni && !local;
    this.#readDone = this.uni && local;
  }

  get localAddress(): SocketAddress | undefined {
    return this.#host.localAddress;
  }
  get remoteAddress(): SocketAddress | undefined {
    return this.#host.remoteAddress;
  }
  get alpnProtocol(): string | undefined {
    return this.#host.alpnProtocol;
  }
  get servername(): string | undefined {
    return this.#host.servername;
  }
  get bufferedAmount(): number {
    return this.#buffered;
  }
  get writable(): boolean {
    return !this.#ending && !this.#writeDone && !this.#closed;
  }
  get closed(): boolean {
    return this.#closed;
  }
  get bytesRead(): number {
    return this.#bytesRead;
  }
  get bytesWritten(): number {
    return this.#bytesWritten;
  }
  /** True once the peer's FIN (or reset) was read. */
  get readEnded(): boolean {
    return this.#readDone;
  }

  write(chunk: Uint8Array): boolean {
    if (!this.writable) throw new WriteAfterEndError();
    if (chunk.length === 0) return this.#buffered < this.highWaterMark;
    this.#touch();
    if (this.#buffered === 0) {
      // Fast path: straight into quiche while there is capacity.
      const n = this.#send(chunk, false);
      if (n === undefined) return false; // the stream failed
      if (n < chunk.length) this.#enqueue(n === 0 ? chunk : chunk.subarray(n));
    } else {
      this.#enqueue(chunk);
    }
    this.#host.scheduleFlush();
    if (this.#buffered >= this.highWaterMark) {
      this.#needDrain = true;
      return false;
    }
    return true;
  }

  writev(chunks: readonly Uint8Array[]): boolean {
    let ok = true;
    for (const c of chunks) ok = this.write(c);
    return ok;
  }

  /** Send FIN once queued bytes are out. */
  end(): void {
    if (this.#ending || this.#writeDone || this.#closed) return;
    this.#ending = true;
    this.flushWrites();
    this.#host.scheduleFlush();
  }

  close(graceMs = 30_000): void {
    this.end();
    if (this.#readDone) return;
    const t = setTimeout(() => this.destroy(), graceMs);
    t.unref?.();
    this.once('close', () => clearTimeout(t));
  }

  /** Abandon both directions: RESET_STREAM and STOP_SENDING with `destroyCode`. */
  destroy(err?: Error): void {
    if (this.#closed) return;
    if (!this.#writeDone) this.reset(this.destroyCode);
    if (!this.#readDone) this.stopSending(this.destroyCode);
    this.#finish(err);
  }

  /** Abruptly end our sending side (RESET_STREAM with `code`, RFC 9000 §19.4). */
  reset(code: number): void {
    if (this.#writeDone) return;
    this.#writeDone = true;
    this.#dropQueue();
    this.#shutdown(1, code);
    this.#maybeClose();
  }

  /** Ask the peer to stop sending (STOP_SENDING with `code`, RFC 9000 §19.5). */
  stopSending(code: number): void {
    if (this.#readDone) return;
    this.#readDone = true;
    this.#shutdown(0, code);
    this.#maybeClose();
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    if (this.#readPending) this.#host.wantRead(this);
  }

  setIdleTimeout(ms: number): void {
    this.#idleMs = ms;
    this.#touch();
  }

  // ---- driven by the connection ----

  /** quiche says the stream is readable (or was reset). */
  onReadable(): void {
    if (this.#readDone) {
      // Drain and discard anything quiche still reports after we stopped reading.
      this.#discardReadable();
      return;
    }
    if (this.#paused) {
      this.#readPending = true;
      return;
    }
    this.#readPending = false;
    const q = this.#host.q;
    const scratch = this.#host.scratch;
    for (;;) {
      let r: [number, boolean] | null;
      try {
        r = q.streamRecv(this.streamId, scratch);
      } catch (err) {
        if (isDone(err)) return;
        const code = streamErrorCode(err, 'StreamReset');
        this.#readDone = true;
        if (code !== undefined) {
          this.peerResetCode = code;
          this.onPeerReset?.(code);
          this.#finish(new QuicStreamResetError(code));
        } else {
          this.#finish(
            new QuicInternalError(`streamRecv: ${quicheErrorName(err)}`, { cause: err }),
          );
        }
        return;
      }
      if (r === null) return;
      const [n, fin] = r;
      if (n > 0) {
        this.#bytesRead += n;
        this.#touch();
        this.emit('data', scratch.slice(0, n));
      }
      if (fin) {
        this.#readDone = true;
        this.emit('end');
        this.#maybeClose();
        return;
      }
      if (this.#paused || this.#closed) {
        this.#readPending = !this.#closed;
        return;
      }
    }
  }

  /** Push queued bytes into quiche; called when capacity may have opened. */
  flushWrites(): void {
    while (this.#queueHead < this.#queue.length) {
      const head = this.#queue[this.#queueHead]!;
      const n = this.#send(head, false);
      if (n === undefined) return;
      this.#buffered -= n;
      if (n < head.length) {
        this.#queue[this.#queueHead] = head.subarray(n);
        return;
      }
      this.#queue[this.#queueHead++] = EMPTY;
    }
    this.#queue.length = 0;
    this.#queueHead = 0;
    if (this.#ending && !this.#finSent && !this.#writeDone) {
      if (this.#send(EMPTY, true) === undefined) return;
      this.#finSent = true;
      this.#writeDone = true;
      this.#maybeClose();
    }
    if (this.#needDrain && !this.#closed) {
      this.#needDrain = false;
      this.emit('drain');
    }
  }

  /**
   * quiche lists a stream as writable when the peer sent STOP_SENDING; a stream with
   * nothing queued would otherwise only learn of it on its next write.
   */
  probeStopped(): void {
    if (this.#writeDone || this.#closed || this.#queueHead < this.#queue.length) return;
    try {
      this.#host.q.streamCapacity(this.streamId);
    } catch (err) {
      const code = streamErrorCode(err, 'StreamStopped');
      if (code === undefined) return;
      this.#writeDone = true;
      this.#dropQueue();
      this.peerStopSendingCode = code;
      this.onPeerStopSending?.(code);
      if (this.#readDone) this.#finish(new QuicStopSendingError(code));
      else this.#maybeClose();
    }
  }

  get hasQueuedWrites(): boolean {
    return (
      this.#queueHead < this.#queue.length || (this.#ending && !this.#finSent && !this.#writeDone)
    );
  }

  /** The connection ended under the stream. */
  abort(err: Error): void {
    if (this.#closed) return;
    this.#readDone = true;
    this.#writeDone = true;
    this.#dropQueue();
    this.#finish(err);
  }

  // ---- internals ----

  /** Bytes accepted by quiche (0 when it has no capacity), undefined when the stream failed. */
  #send(chunk: Uint8Array, fin: boolean): number | undefined {
    let n: number | null;
    try {
      n = this.#host.q.streamSend(this.streamId, chunk, fin);
    } catch (err) {
      if (isDone(err)) return 0;
      const code = streamErrorCode(err, 'StreamStopped');
      // quiche answers STOP_SENDING with RESET_STREAM itself (RFC 9000 §3.5).
      this.#writeDone = true;
      this.#dropQueue();
      if (code !== undefined) {
        this.peerStopSendingCode = code;
        this.onPeerStopSending?.(code);
        if (this.#readDone) this.#finish(new QuicStopSendingError(code));
        else this.#maybeClose();
      } else {
        this.#finish(new QuicInternalError(`streamSend: ${quicheErrorName(err)}`, { cause: err }));
      }
      return undefined;
    }
    const sent = n ?? 0;
    this.#bytesWritten += sent;
    return sent;
  }

  #enqueue(chunk: Uint8Array): void {
    this.#queue.push(chunk);
    this.#buffered += chunk.length;
    this.#host.wantWrite(this);
  }

  #dropQueue(): void {
    this.#queue.length = 0;
    this.#queueHead = 0;
    this.#buffered = 0;
  }

  #shutdown(direction: 0 | 1, code: number): void {
    try {
      this.#host.q.streamShutdown(this.streamId, direction, code);
    } catch {
      // Already finished or collected in quiche: nothing to tell the peer.
    }
    this.#host.scheduleFlush();
  }

  #discardReadable(): void {
    const scratch = this.#host.scratch;
    for (let i = 0; i < 1024; i++) {
      try {
        if (this.#host.q.streamRecv(this.streamId, scratch) === null) return;
      } catch {
        return;
      }
    }
  }

  #maybeClose(): void {
    if (this.#readDone && this.#writeDone) this.#finish(undefined);
  }

  #finish(err: Error | undefined): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#readDone = true;
    this.#writeDone = true;
    this.#dropQueue();
    if (this.#idleTimer !== undefined) clearTimeout(this.#idleTimer);
    this.#host.streamClosed(this);
    if (err !== undefined && this.listenerCount('error') > 0) this.emit('error', err);
    this.emit('close', err !== undefined);
  }

  #touch(): void {
    if (this.#idleMs <= 0) {
      if (this.#idleTimer !== undefined) clearTimeout(this.#idleTimer);
      this.#idleTimer = undefined;
      return;
    }
    if (this.#idleTimer !== undefined) {
      this.#idleTimer.refresh();
      return;
    }
    this.#idleTimer = setTimeout(() => {
      this.emit('timeout');
      this.destroy();
    }, this.#idleMs);
    this.#idleTimer.unref?.();
  }
}

const EMPTY = new Uint8Array(0);
