/**
 * The WebSocket binding (both roles): a `WebSocketConnection` core, a `StreamConnection`
 * transport and one timer. The core does the protocol; this class owns the socket, the
 * clock, permessage-deflate (async zlib, kept in order both ways) and backpressure.
 *
 * ```
 *   transport 'data' ─► core.receive ─► events ─► (inflate, in order) ─► 'message' / iterator
 *   send() ─► (deflate, in order) ─► core.send ─► takeOutput() ─► transport.writev
 *   core.nextTimeout() ─► one timer ─► core.handleTimeout (heartbeat, pong, close deadlines)
 *   core.shouldCloseTransport ─► transport.close/destroy ─► 'close' ─► core.handleTransportClose
 * ```
 *
 * Instances are made by `connectWebSocket` (client) and `createWebSocketUpgrade` /
 * `WebSocketServer` (server) once the opening handshake succeeded; the constructor is
 * public for bindings over other transports.
 */
import { randomFillSync } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { noopObserver } from '../../monitoring/observer.js';
import type { Observer } from '../../monitoring/observer.js';
import {
  attachSlotListeners,
  slotListeners,
  type SlotListener,
} from '../../transport/slot-listeners.js';
import type { StreamConnection } from '../../transport/types.js';
import { CloseCode, isValidCloseCode } from './codes.js';
import { WebSocketConnection } from './connection.js';
import type { WsEvent } from './connection.js';
import { DeflateError } from './deflate.js';
import type { PerMessageDeflate } from './deflate.js';
import { WebSocketError } from './errors.js';
import type { WebSocketLimits } from './limits.js';
import { resolveWebSocketLimits } from './limits.js';
import { WebSocketState } from './state.js';
import { isValidUtf8 } from './utf8.js';

export type WebSocketReadyState = 'connecting' | 'open' | 'closing' | 'closed';

export interface WebSocketMessage {
  readonly data: string | Uint8Array;
  readonly isBinary: boolean;
}

export interface WebSocketCloseInfo {
  readonly code: number;
  readonly reason: string;
  readonly wasClean: boolean;
}

export interface WebSocketEvents {
  open: [];
  message: [data: string | Uint8Array, isBinary: boolean];
  ping: [data: Uint8Array];
  pong: [data: Uint8Array];
  close: [code: number, reason: string];
  error: [err: Error];
  drain: [];
}

/** Connection options shared by the server and the client bindings. */
export interface WebSocketSocketOptions {
  /** Receive limits of the core (maxPayload also bounds inflated messages). */
  limits?: Partial<WebSocketLimits>;
  /**
   * `send` returns false once `bufferedAmount` (core, compression queue and transport)
   * reaches this many bytes; wait for 'drain' (or `drained()`).
   * @default 1048576 (1 MiB)
   */
  highWaterMark?: number;
  /**
   * Send a heartbeat ping this often while open.
   * @default undefined (no heartbeat)
   */
  pingIntervalMs?: number;
  /**
   * A pong must follow a heartbeat ping within this time, else the connection is dropped
   * (close 1006).
   * @default pingIntervalMs
   */
  pongTimeoutMs?: number;
  /**
   * The peer must answer our Close frame within this time (else 1006), and the TCP
   * connection is torn down this long after the close handshake at the latest.
   * @default 30000
   */
  closeTimeoutMs?: number;
  /**
   * Split outgoing messages into frames of at most this many payload bytes.
   * @default undefined (one frame per message)
   */
  maxOutgoingFrameSize?: number;
  /**
   * Messages the async iterator buffers before the transport is paused (the peer then
   * sees TCP backpressure). The queue also pauses above `maxQueuedBytes`.
   * @default 16
   */
  maxQueuedMessages?: number;
  /**
   * Bytes of messages the async iterator buffers before the transport is paused.
   * @default 4194304 (4 MiB)
   */
  maxQueuedBytes?: number;
  /**
   * How often idle permessage-deflate contexts are released (`sweepIdle`).
   * @default 30000
   */
  deflateSweepIntervalMs?: number;
  /**
   * How text messages are handed out: `'string'` (decoded, as browsers do) or `'bytes'`
   * (the UTF-8 bytes as a Uint8Array, already validated, with `isBinary` false — as the ws
   * package hands out Buffers). `'bytes'` saves a decode, and an encode when the message is
   * sent on as it is (relays, echo), which is most of the cost of large text messages.
   * @default 'string'
   */
  textAs?: 'string' | 'bytes';
  /** @default noopObserver */
  observer?: Observer;
}

/** What a binding hands over once the opening handshake is done. */
export interface WebSocketInit extends WebSocketSocketOptions {
  role: 'client' | 'server';
  /** The transport, now owned by the WebSocket. */
  conn: StreamConnection;
  /** Bytes received after the handshake head (the first frames). */
  head?: Uint8Array;
  /** The agreed subprotocol ('' for none). */
  protocol?: string;
  /** The Sec-WebSocket-Extensions value agreed ('' for none). */
  extensions?: string;
  /** The permessage-deflate context when the extension was agreed. */
  deflate?: PerMessageDeflate;
  url?: string;
  /** Milliseconds from any monotonic origin. @default performance.now */
  now?: () => number;
}

const EMPTY = new Uint8Array(0);
const PROTO = 'websocket';
/** Compressed messages inflating at once before the transport is paused. */
const MAX_INFLATING = 8;

function toBuffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

/** @throws WebSocketError INVALID_ARGUMENT unless `textAs` is undefined, 'string' or 'bytes'. */
export function checkTextAs(textAs: unknown): void {
  if (textAs !== undefined && textAs !== 'string' && textAs !== 'bytes') {
    throw new WebSocketError('INVALID_ARGUMENT', "textAs must be 'string' or 'bytes'");
  }
}

function defaultNow(): number {
  return performance.now();
}

/**
 * The settled start of the inflate/deflate ordering chains. Shared: a settled promise can be
 * chained from any number of times, and one per socket costs ~100 bytes on every idle
 * connection.
 */
const RESOLVED: Promise<void> = Promise.resolve();

/** The iterator queue before anyone iterates (shared; never pushed to). */
const NO_MESSAGES: WebSocketMessage[] = Object.freeze([]) as unknown as WebSocketMessage[];

/** The transport's slot pointing back to the WebSocket that owns it (see CONN_LISTENERS). */
const OWNER = Symbol('ghostnet.webSocket');
type OwnedConnection = StreamConnection & { [OWNER]?: WebSocket };

/** The transport listeners, shared by every WebSocket (see transport/slot-listeners.ts). */
let CONN_LISTENERS: Readonly<Record<'data' | 'drain' | 'end' | 'error' | 'close', SlotListener>>;

/**
 * A WebSocket (RFC 6455) over a stream transport, for either role. `send` queues a
 * message and returns false above the high-water mark. Messages arrive in order as
 * 'message' events and through the async iterator, which pauses the transport when the
 * consumer lags. 'close' fires once, after the transport closed; `closed` resolves then.
 *
 * 'error' is emitted only when a listener is registered (a peer's protocol violation must
 * not crash the process); the close code carries the outcome either way.
 */
export class WebSocket
  extends EventEmitter<WebSocketEvents>
  implements AsyncIterable<WebSocketMessage>
{
  readonly protocol: string;
  readonly extensions: string;
  readonly url: string | undefined;

  readonly #core: WebSocketConnection;
  readonly #conn: StreamConnection;
  readonly #deflate: PerMessageDeflate | undefined;
  readonly #now: () => number;
  readonly #observer: Observer;
  readonly #maxPayload: number;
  readonly #highWaterMark: number;
  readonly #closeTimeoutMs: number;
  readonly #maxQueuedMessages: number;
  readonly #maxQueuedBytes: number;
  readonly #textAsBytes: boolean;
  readonly #openedAt: number;
  /** `closed`, made on first use (most servers never ask), and how it ended. */
  #closed: Promise<WebSocketCloseInfo> | undefined;
  #resolveClosed: ((info: WebSocketCloseInfo) => void) | undefined;
  #closeInfo: WebSocketCloseInfo | undefined;

  #readyState: WebSocketReadyState = 'open';
  #droppedAfterClose = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerAt: number | undefined;
  /** The timer callback, made the first time a deadline is scheduled. */
  #onTimer: (() => void) | undefined;
  #sweep: ReturnType<typeof setInterval> | undefined;

  // Incoming: events after a pending inflate wait for it (messages stay in order).
  #inflating = 0;
  #inTail: Promise<void> = RESOLVED;
  // Outgoing: messages after a pending deflate wait for it.
  #outPending = 0;
  #outPendingBytes = 0;
  #outTail: Promise<void> = RESOLVED;

  #needDrain = false;
  #drainWaiters: (() => void)[] | undefined;
  #transportEnding = false;
  #transportClosed = false;
  #coreClosed: WebSocketCloseInfo | undefined;
  #finished = false;

  // Flow control: the transport is paused while any reason holds.
  #pausedByQueue = false;
  #pausedByInflate = false;
  #transportPaused = false;

  // The async iterator's bounded queue.
  #iterating = false;
  #queue: WebSocketMessage[] = NO_MESSAGES;
  #queueBytes = 0;
  #waiter: ((r: IteratorResult<WebSocketMessage>) => void) | undefined;

  constructor(init: WebSocketInit) {
    super();
    // One WebSocket per transport: the shared listeners find it through this slot.
    if ((init.conn as OwnedConnection)[OWNER] !== undefined) {
      throw new WebSocketError('INVALID_ARGUMENT', 'this transport already carries a WebSocket');
    }
    checkTextAs(init.textAs);
    this.#conn = init.conn;
    this.#deflate = init.deflate;
    this.#now = init.now ?? defaultNow;
    this.#observer = init.observer ?? noopObserver;
    this.protocol = init.protocol ?? '';
    this.extensions = init.extensions ?? '';
    this.url = init.url;
    this.#maxPayload = resolveWebSocketLimits(init.limits).maxPayload;
    this.#highWaterMark = init.highWaterMark ?? 1024 * 1024;
    this.#closeTimeoutMs = init.closeTimeoutMs ?? 30_000;
    this.#maxQueuedMessages = init.maxQueuedMessages ?? 16;
    this.#maxQueuedBytes = init.maxQueuedBytes ?? 4 * 1024 * 1024;
    this.#textAsBytes = init.textAs === 'bytes';
    this.#core = new WebSocketConnection(
      {
        role: init.role,
        now: this.#now(),
        ...(init.role === 'client' ? { randomMask: (b: Uint8Array) => randomFillSync(b) } : {}),
      },
      {
        ...(init.limits !== undefined ? { limits: init.limits } : {}),
        extensions: { perMessageDeflate: init.deflate !== undefined },
        highWaterMark: this.#highWaterMark,
        ...(init.maxOutgoingFrameSize !== undefined
          ? { maxOutgoingFrameSize: init.maxOutgoingFrameSize }
          : {}),
        ...(init.pingIntervalMs !== undefined ? { pingIntervalMs: init.pingIntervalMs } : {}),
        ...(init.pongTimeoutMs !== undefined ? { pongTimeoutMs: init.pongTimeoutMs } : {}),
        closeTimeoutMs: this.#closeTimeoutMs,
      },
    );
    this.#openedAt = this.#now();
    this.#observer.connectionOpened(PROTO);
    if (this.#deflate !== undefined) {
      const every = init.deflateSweepIntervalMs ?? 30_000;
      this.#sweep = setInterval(() => this.#deflate?.sweepIdle(), every);
      this.#sweep.unref();
    }
    const conn = this.#conn;
    attachSlotListeners(conn, OWNER, this, CONN_LISTENERS);
    this.#schedule();
    // The first frames (and anything the transport delivers) are processed after the
    // caller had a chance to attach listeners.
    const head = init.head ?? EMPTY;
    this.#setPaused('queue', true);
    setImmediate(() => {
      this.#setPaused('queue', false);
      if (this.#readyState === 'open') this.emit('open');
      if (head.length > 0 && !this.#transportClosed) this.#handleData(head);
      if (conn.closed && !this.#transportClosed) this.#handleClose();
    });
  }

  /** Resolves once, after the transport closed, with how the WebSocket ended. */
  get closed(): Promise<WebSocketCloseInfo> {
    if (this.#closed === undefined) {
      const info = this.#closeInfo;
      this.#closed =
        info !== undefined
          ? Promise.resolve(info)
          : new Promise((resolve) => (this.#resolveClosed = resolve));
    }
    return this.#closed;
  }

  get readyState(): WebSocketReadyState {
    return this.#readyState;
  }

  /** Bytes queued and not yet handed to the kernel: core, compression queue and transport. */
  get bufferedAmount(): number {
    return this.#core.bufferedAmount + this.#outPendingBytes + this.#conn.bufferedAmount;
  }

  /** The underlying transport (for addresses and ALPN; do not read or write it). */
  /** Messages and pings dropped because `send`/`ping` came after the close started. */
  get droppedAfterClose(): number {
    return this.#droppedAfterClose;
  }

  get transport(): StreamConnection {
    return this.#conn;
  }

  /**
   * Queue a message: text for strings, binary for bytes (`binary: false` sends bytes as a
   * text frame; they must be UTF-8). Compressed when permessage-deflate was agreed and the
   * message reaches the threshold, unless `compress: false`. Server side, the bytes are not
   * copied: do not modify them until 'drain'. Returns false at or above the high-water mark.
   *
   * Once the socket is closing or closed the message is dropped and `send` returns false
   * (check `readyState` to tell this from backpressure). It does not throw: a peer's last
   * messages can still arrive while the close handshake runs, and an echo handler that
   * answers them must not take the process down (RFC 6455 §5.5.1: nothing is sent after a
   * Close frame).
   */
  send(data: string | Uint8Array, options?: { binary?: boolean; compress?: boolean }): boolean {
    // The core may be further along than readyState: a message delivered from the same
    // input batch as the peer's Close is handed out after the core already answered it.
    if (this.#readyState !== 'open' || !this.#core.canSend) {
      this.#droppedAfterClose++;
      return false;
    }
    let bytes: Uint8Array;
    let binary: boolean;
    if (typeof data === 'string') {
      bytes = Buffer.from(data, 'utf8');
      binary = options?.binary === true;
    } else if (data instanceof Uint8Array) {
      bytes = data;
      binary = options?.binary !== false;
    } else {
      throw new WebSocketError('INVALID_ARGUMENT', 'send takes a string or a Uint8Array');
    }
    const opcode = binary ? 'binary' : 'text';
    const deflate = this.#deflate;
    const compress =
      deflate !== undefined && options?.compress !== false && deflate.shouldCompress(bytes.length);
    if (!compress && this.#outPending === 0) {
      this.#core.send(opcode, bytes);
      this.#flush();
    } else {
      this.#enqueueOut(bytes.length, async () => {
        const payload = compress ? await deflate!.compress(bytes) : bytes;
        if (!this.#core.canSend) return;
        this.#core.send(opcode, payload, compress ? { compressed: true } : undefined);
        this.#flush();
      });
    }
    return this.#checkBuffered();
  }

  /**
   * Send a ping (at most 125 bytes). Returns false at or above the high-water mark, and
   * (dropping the ping) once the socket is closing or closed.
   */
  ping(data: Uint8Array = EMPTY): boolean {
    if (this.#readyState !== 'open' || !this.#core.canSend) {
      this.#droppedAfterClose++;
      return false;
    }
    if (data.length > 125) throw new WebSocketError('INVALID_ARGUMENT', 'ping over 125 bytes');
    if (this.#outPending === 0) {
      this.#core.ping(data);
      this.#flush();
    } else {
      this.#enqueueOut(0, () => {
        if (this.#core.canSend) {
          this.#core.ping(data);
          this.#flush();
        }
        return Promise.resolve();
      });
    }
    return this.#checkBuffered();
  }

  /**
   * Start the closing handshake (after messages still being compressed). Without a code
   * the peer sees 1005. Does nothing once closing.
   * @throws WebSocketError INVALID_ARGUMENT for a code that may not be sent or a reason
   * over 123 bytes.
   */
  close(code?: number, reason = ''): void {
    if (code === undefined && reason !== '') {
      throw new WebSocketError('INVALID_ARGUMENT', 'a close reason needs a code');
    }
    if (code !== undefined && (!Number.isInteger(code) || !isValidCloseCode(code))) {
      throw new WebSocketError(
        'INVALID_ARGUMENT',
        `close code ${code} may not be sent, use 1000-1003, 1007-1014, 3000-4999`,
      );
    }
    if (Buffer.byteLength(reason, 'utf8') > 123) {
      throw new WebSocketError('INVALID_ARGUMENT', 'close reason over 123 bytes');
    }
    if (this.#readyState !== 'open') return;
    this.#readyState = 'closing';
    const run = (): void => {
      if (!this.#core.canSend) return;
      this.#core.close(code, reason);
      this.#flush();
    };
    if (this.#outPending === 0) run();
    else {
      this.#enqueueOut(0, () => {
        run();
        return Promise.resolve();
      });
    }
  }

  /** Destroy the transport now (the peer sees an abrupt disconnect; 'close' gets 1006). */
  terminate(): void {
    if (this.#readyState === 'open') this.#readyState = 'closing';
    this.#conn.destroy();
  }

  /** Resolves when `bufferedAmount` is below the high-water mark (or the socket closed). */
  drained(): Promise<void> {
    if (this.bufferedAmount < this.#highWaterMark || this.#finished) return Promise.resolve();
    this.#needDrain = true;
    return new Promise((resolve) => (this.#drainWaiters ??= []).push(resolve));
  }

  /**
   * Iterate over messages until the socket closes. While iterating, received messages are
   * queued (bounded by `maxQueuedMessages` / `maxQueuedBytes`, after which the transport
   * is paused). One iterator at a time; leaving the loop stops queueing.
   */
  [Symbol.asyncIterator](): AsyncIterator<WebSocketMessage> {
    if (this.#iterating) {
      throw new WebSocketError('INVALID_ARGUMENT', 'a WebSocket has one iterator at a time');
    }
    this.#iterating = true;
    this.#queue = [];
    const stop = (): IteratorResult<WebSocketMessage> => {
      this.#iterating = false;
      this.#queue = NO_MESSAGES;
      this.#queueBytes = 0;
      this.#setPaused('queue', false);
      return { done: true, value: undefined };
    };
    return {
      next: (): Promise<IteratorResult<WebSocketMessage>> => {
        // (shift() would throw on the frozen NO_MESSAGES once iteration stopped)
        const msg = this.#queue.length > 0 ? this.#queue.shift() : undefined;
        if (msg !== undefined) {
          this.#queueBytes -= msg.data.length;
          if (
            this.#queue.length <= this.#maxQueuedMessages >> 1 &&
            this.#queueBytes <= this.#maxQueuedBytes >> 1
          ) {
            this.#setPaused('queue', false);
          }
          return Promise.resolve({ done: false, value: msg });
        }
        if (this.#finished || !this.#iterating) return Promise.resolve(stop());
        return new Promise((resolve) => (this.#waiter = resolve));
      },
      return: (): Promise<IteratorResult<WebSocketMessage>> => {
        const w = this.#waiter;
        this.#waiter = undefined;
        const done = stop();
        w?.(done);
        return Promise.resolve(done);
      },
    };
  }

  // ── transport events ────────────────────────────────────────────────────────────────

  static {
    CONN_LISTENERS = slotListeners<WebSocket, 'data' | 'drain' | 'end' | 'error' | 'close'>(OWNER, {
      data: (ws, chunk: Uint8Array) => ws.#handleData(chunk),
      drain: (ws) => ws.#maybeDrain(),
      end: (ws) => ws.#handleEnd(),
      error: (ws, err: Error) => ws.#handleError(err),
      close: (ws) => ws.#handleClose(),
    });
  }

  #handleData(chunk: Uint8Array): void {
    this.#observer.bytesReceived(PROTO, chunk.length);
    const events = this.#core.receive(chunk, this.#now());
    // The close outcome must be known before #flush decides how to end the transport: a
    // clean close ends it gracefully (our Close frame must reach the peer — over an HTTP/2
    // stream, destroying would reset the stream and drop it), anything else destroys it.
    for (const ev of events) {
      if (ev.type === 'closed') {
        this.#coreClosed ??= { code: ev.code, reason: ev.reason, wasClean: ev.wasClean };
      }
    }
    this.#flush();
    this.#handleEvents(events);
  }

  #handleEnd(): void {
    // The peer finished sending: finish our side too (the core output is already written).
    if (this.#conn.writable) this.#conn.end();
  }

  #handleError(err: Error): void {
    this.#observer.error(PROTO, (err as { code?: string }).code ?? 'GN_ERR_TRANSPORT');
    this.#emitError(err);
  }

  #handleClose(): void {
    if (this.#transportClosed) return;
    this.#transportClosed = true;
    this.#clearTimer();
    const events = this.#core.handleTransportClose();
    this.#handleEvents(events);
    this.#ordered(() => this.#finish());
  }

  #handleTimer(): void {
    this.#timer = undefined;
    this.#timerAt = undefined;
    const events = this.#core.handleTimeout(this.#now());
    this.#flush();
    this.#handleEvents(events);
  }

  // ── core events ─────────────────────────────────────────────────────────────────────

  #handleEvents(events: WsEvent[]): void {
    for (const ev of events) {
      switch (ev.type) {
        case 'message':
          if (ev.compressed) this.#inflate(ev.opcode === 'binary', ev.data);
          else {
            const binary = ev.opcode === 'binary';
            const data = binary || this.#textAsBytes ? ev.data : toBuffer(ev.data).toString('utf8');
            // No closure per message unless an inflate is pending (#ordered).
            if (this.#inflating === 0) this.#deliver(data, binary);
            else this.#ordered(() => this.#deliver(data, binary));
          }
          break;
        case 'ping':
          this.#ordered(() => this.emit('ping', ev.data));
          break;
        case 'pong':
          this.#ordered(() => this.emit('pong', ev.data));
          break;
        case 'close-received':
          if (this.#readyState === 'open') this.#readyState = 'closing';
          break;
        case 'closed':
          if (this.#readyState === 'open') this.#readyState = 'closing';
          this.#coreClosed ??= { code: ev.code, reason: ev.reason, wasClean: ev.wasClean };
          break;
        case 'error':
          this.#observer.error(PROTO, ev.error.code);
          this.#ordered(() => this.#emitError(ev.error));
          break;
        case 'timeout':
          break;
      }
    }
    this.#afterCore();
  }

  #inflate(binary: boolean, fragments: readonly Uint8Array[]): void {
    const deflate = this.#deflate!;
    this.#inflating++;
    if (this.#inflating >= MAX_INFLATING) this.#setPaused('inflate', true);
    const job = deflate.decompress(fragments, this.#maxPayload).then(
      (bytes): { ok: true; data: string | Uint8Array } | { ok: false; code: number } => {
        if (binary) return { ok: true, data: bytes };
        // RFC 7692 §6: text is checked for UTF-8 after inflation (RFC 6455 §8.1 → 1007).
        if (!isValidUtf8(bytes)) return { ok: false, code: CloseCode.INVALID_FRAME_PAYLOAD_DATA };
        return { ok: true, data: this.#textAsBytes ? bytes : toBuffer(bytes).toString('utf8') };
      },
      (err: unknown) => ({
        ok: false as const,
        code: err instanceof DeflateError ? err.wireCode : CloseCode.INTERNAL_ERROR,
      }),
    );
    this.#inTail = this.#inTail
      .then(() => job)
      .then((r) => {
        this.#inflating--;
        if (this.#inflating < MAX_INFLATING >> 1) this.#setPaused('inflate', false);
        if (r.ok) this.#deliver(r.data, binary);
        else if (this.#core.state !== WebSocketState.CLOSED && !this.#transportClosed) {
          this.#fail(r.code);
        }
      });
  }

  /** Run `fn` now, or after pending inflates so events keep their order. */
  #ordered(fn: () => void): void {
    if (this.#inflating === 0) fn();
    else this.#inTail = this.#inTail.then(fn);
  }

  #deliver(data: string | Uint8Array, isBinary: boolean): void {
    if (this.#finished) return;
    if (this.#iterating) {
      const msg: WebSocketMessage = Object.freeze({ data, isBinary });
      const w = this.#waiter;
      if (w !== undefined) {
        this.#waiter = undefined;
        w({ done: false, value: msg });
      } else {
        this.#queue.push(msg);
        this.#queueBytes += data.length;
        if (
          this.#queue.length >= this.#maxQueuedMessages ||
          this.#queueBytes >= this.#maxQueuedBytes
        ) {
          this.#setPaused('queue', true);
        }
      }
    }
    this.emit('message', data, isBinary);
  }

  #fail(code: number): void {
    const events = this.#core.fail(code);
    this.#flush();
    this.#handleEvents(events);
  }

  #emitError(err: Error): void {
    if (this.listenerCount('error') > 0) this.emit('error', err);
  }

  // ── output, timers, closing ─────────────────────────────────────────────────────────

  #enqueueOut(bytes: number, job: () => Promise<void>): void {
    this.#outPending++;
    this.#outPendingBytes += bytes;
    this.#outTail = this.#outTail
      .then(job)
      .catch((err: unknown) => {
        if (err instanceof DeflateError && err.kind !== 'CLOSED') this.#fail(err.wireCode);
      })
      .finally(() => {
        this.#outPending--;
        this.#outPendingBytes -= bytes;
        this.#maybeDrain();
      });
  }

  #flush(): void {
    const out = this.#core.takeOutput();
    if (out.length > 0 && this.#conn.writable) {
      let n = 0;
      for (const b of out) n += b.length;
      this.#observer.bytesSent(PROTO, n);
      if (out.length === 1) this.#conn.write(out[0]!);
      else this.#conn.writev(out);
    }
    this.#afterCore();
  }

  /** After any core call: close the transport when the core says so, reschedule the timer. */
  #afterCore(): void {
    if (this.#core.shouldCloseTransport && !this.#transportEnding) {
      this.#transportEnding = true;
      const info = this.#coreClosed;
      if (info === undefined || info.code === CloseCode.ABNORMAL_CLOSURE) {
        // A timeout (unresponsive peer) or the client's deadline: drop the connection.
        this.#conn.destroy();
      } else {
        // §7.1.1: the server closes the TCP connection first (FIN, then wait for the peer's).
        this.#conn.close(this.#closeTimeoutMs);
      }
    }
    if (!this.#transportClosed) this.#schedule();
  }

  #schedule(): void {
    const at = this.#core.nextTimeout();
    if (at === this.#timerAt) return;
    this.#clearTimer();
    if (at === undefined) return;
    this.#timerAt = at;
    this.#onTimer ??= () => this.#handleTimer();
    this.#timer = setTimeout(this.#onTimer, Math.max(0, Math.ceil(at - this.#now())));
    this.#timer.unref?.();
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = undefined;
  }

  #checkBuffered(): boolean {
    if (this.bufferedAmount < this.#highWaterMark) return true;
    this.#needDrain = true;
    return false;
  }

  #maybeDrain(): void {
    if (!this.#needDrain || this.bufferedAmount >= this.#highWaterMark) return;
    this.#needDrain = false;
    const waiters = this.#drainWaiters;
    this.#drainWaiters = undefined;
    if (waiters !== undefined) for (const w of waiters) w();
    if (!this.#finished) this.emit('drain');
  }

  #setPaused(reason: 'queue' | 'inflate', on: boolean): void {
    if (reason === 'queue') this.#pausedByQueue = on;
    else this.#pausedByInflate = on;
    const want = this.#pausedByQueue || this.#pausedByInflate;
    if (want === this.#transportPaused || this.#transportClosed) return;
    this.#transportPaused = want;
    if (want) this.#conn.pause();
    else this.#conn.resume();
  }

  #finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#readyState = 'closed';
    this.#clearTimer();
    if (this.#sweep !== undefined) clearInterval(this.#sweep);
    this.#deflate?.destroy();
    const info = this.#coreClosed ?? {
      code: CloseCode.ABNORMAL_CLOSURE,
      reason: '',
      wasClean: false,
    };
    this.#observer.connectionClosed(PROTO, (this.#now() - this.#openedAt) / 1000);
    const conn = this.#conn;
    const on = CONN_LISTENERS;
    conn.off('data', on.data);
    conn.off('drain', on.drain);
    conn.off('end', on.end);
    conn.off('close', on.close);
    // Late transport errors after close are ignored.
    const waiters = this.#drainWaiters;
    this.#drainWaiters = undefined;
    if (waiters !== undefined) for (const w of waiters) w();
    const w = this.#waiter;
    this.#waiter = undefined;
    if (w !== undefined) {
      this.#iterating = false;
      w({ done: true, value: undefined });
    }
    this.#closeInfo = Object.freeze({ ...info });
    this.#resolveClosed?.(this.#closeInfo);
    this.emit('close', info.code, info.reason);
  }
}
