/**
 * A client WebSocket that reconnects after the connection drops, waiting a full-jitter
 * exponential backoff (lifecycle/backoff) between attempts, up to `maxAttempts` failures
 * in a row. Messages sent while disconnected are refused (`send` returns false): the
 * application decides what to replay on 'open'.
 */
import { EventEmitter } from 'node:events';
import { InvalidOptionError } from '../../errors.js';
import { computeBackoff, MAX_ATTEMPTS_LIMIT } from '../../lifecycle/backoff.js';
import { connectWebSocket } from './client.js';
import type { WebSocketClientOptions } from './client.js';
import { CloseCode } from './codes.js';
import type { WebSocket } from './socket.js';

export interface ReconnectBackoffOptions {
  /** Ceiling of the first wait, in ms. @default 100 */
  baseMs?: number;
  /** Largest wait, in ms. @default 30000 */
  maxMs?: number;
  /**
   * Reconnection attempts in a row (after the first connect failed or a connection
   * dropped) before giving up with 'close'.
   * @default 10
   */
  maxAttempts?: number;
}

export interface ReconnectingWebSocketOptions extends WebSocketClientOptions {
  backoff?: ReconnectBackoffOptions;
  /** Uniform random numbers in [0, 1) for the jitter. @default Math.random */
  random?: () => number;
}

export interface ReconnectingWebSocketEvents {
  /** A connection is open (the first one or a reconnection). */
  open: [ws: WebSocket];
  message: [data: string | Uint8Array, isBinary: boolean];
  /** Given up, or closed by `close()`: no reconnection follows. */
  close: [code: number, reason: string];
  /** A reconnection attempt is scheduled after `delayMs`. */
  reconnecting: [attempt: number, delayMs: number];
  error: [err: Error];
}

export class ReconnectingWebSocket extends EventEmitter<ReconnectingWebSocketEvents> {
  readonly url: string;
  readonly #options: ReconnectingWebSocketOptions;
  readonly #maxAttempts: number;
  #ws: WebSocket | undefined;
  #attempt = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #abort = new AbortController();
  #stopped = false;

  constructor(url: string | URL, options: ReconnectingWebSocketOptions = {}) {
    super();
    this.url = new URL(url).href;
    this.#options = options;
    this.#maxAttempts = options.backoff?.maxAttempts ?? 10;
    if (
      !Number.isInteger(this.#maxAttempts) ||
      this.#maxAttempts < 1 ||
      this.#maxAttempts > MAX_ATTEMPTS_LIMIT
    ) {
      throw new InvalidOptionError(
        `backoff.maxAttempts must be an integer in 1..${MAX_ATTEMPTS_LIMIT}`,
      );
    }
    // Validates baseMs/maxMs now rather than at the first reconnection.
    computeBackoff(0, this.#backoff());
    void this.#connect();
  }

  /** The current connection, if open. */
  get socket(): WebSocket | undefined {
    return this.#ws?.readyState === 'open' ? this.#ws : undefined;
  }

  /** Send on the current connection; false when disconnected or above its high-water mark. */
  send(data: string | Uint8Array, options?: { binary?: boolean; compress?: boolean }): boolean {
    const ws = this.socket;
    if (ws === undefined) return false;
    return ws.send(data, options);
  }

  /** Close for good: no more reconnections. */
  close(code: number = CloseCode.NORMAL_CLOSURE, reason = ''): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#abort.abort();
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    const ws = this.#ws;
    if (ws !== undefined && ws.readyState === 'open') {
      ws.close(code, reason);
      // 'close' is emitted by the socket's close listener.
    } else {
      this.emit('close', code, reason);
    }
  }

  #backoff(): { baseMs?: number; maxMs?: number } {
    const b = this.#options.backoff ?? {};
    return {
      ...(b.baseMs !== undefined ? { baseMs: b.baseMs } : {}),
      ...(b.maxMs !== undefined ? { maxMs: b.maxMs } : {}),
    };
  }

  async #connect(): Promise<void> {
    let ws: WebSocket;
    try {
      ws = await connectWebSocket(this.url, { ...this.#options, signal: this.#abort.signal });
    } catch (err) {
      if (this.#stopped) return;
      if (this.listenerCount('error') > 0) this.emit('error', err as Error);
      this.#retry(CloseCode.ABNORMAL_CLOSURE, '');
      return;
    }
    if (this.#stopped) {
      ws.terminate();
      return;
    }
    this.#ws = ws;
    this.#attempt = 0;
    ws.on('message', (data, isBinary) => this.emit('message', data, isBinary));
    ws.on('close', (code, reason) => {
      if (this.#ws === ws) this.#ws = undefined;
      if (this.#stopped) this.emit('close', code, reason);
      else this.#retry(code, reason);
    });
    this.emit('open', ws);
  }

  #retry(code: number, reason: string): void {
    if (this.#attempt >= this.#maxAttempts) {
      this.#stopped = true;
      this.emit('close', code, reason);
      return;
    }
    const delayMs = computeBackoff(this.#attempt, this.#backoff(), this.#options.random);
    this.#attempt++;
    this.emit('reconnecting', this.#attempt, delayMs);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (!this.#stopped) void this.#connect();
    }, delayMs);
  }
}
