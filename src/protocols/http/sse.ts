/**
 * Server-Sent Events: a `text/event-stream` response (WHATWG HTML §9.2 "Server-sent
 * events", §9.2.5 "Event stream format") with heartbeats, Last-Event-ID and backpressure.
 *
 * ```ts
 * const stream = startSse(req, res, { retryMs: 5000 });
 * for await (const update of updates(stream.lastEventId)) {
 *   if (!stream.send({ event: 'update', data: JSON.stringify(update), id: update.id })) {
 *     await stream.drained();
 *   }
 * }
 * ```
 */
import { GhostnetError, InvalidOptionError } from '../../errors.js';
import { systemClock } from '../../lifecycle/clock.js';
import type { Clock } from '../../lifecycle/clock.js';
import type { HttpRequest, HttpResponse } from './types.js';

export interface SseEvent {
  /** Event type (`event:` field); dispatched as `message` when omitted. No CR or LF. */
  event?: string;
  /** Payload; several lines become several `data:` lines and arrive joined by LF. */
  data: string;
  /** Sets the client's last event ID (`id:` field), sent back as Last-Event-ID on reconnect. */
  id?: string;
  /** Reconnection time in milliseconds (`retry:` field), a non-negative integer. */
  retry?: number;
}

export interface SseOptions {
  /**
   * Interval of heartbeat comments (`:\n\n`) that keep proxies and load balancers from
   * closing an idle stream. A heartbeat is skipped when something else was written in the
   * interval or the response is still backpressured. 0 disables heartbeats.
   * @default 15000
   */
  heartbeatMs?: number;
  /** When set, a `retry:` field is sent first, telling the client how long to wait before reconnecting. */
  retryMs?: number;
  /** Timer source; inject a manual clock in tests. @default systemClock */
  clock?: Clock;
}

export interface SseStream {
  /** The client's Last-Event-ID request header (it is reconnecting), if any. */
  readonly lastEventId: string | undefined;
  /** True after `close()` or once the client went away. */
  readonly isClosed: boolean;
  /** Resolves when the stream closes, by `close()` or because the request was aborted. */
  readonly closed: Promise<void>;
  /**
   * Writes one event. False: the response is backpressured — `await drained()` before
   * sending more. Throws `SseFieldError` for an invalid field and `SseClosedError` after
   * the stream closed (so a producer loop stops when the client leaves).
   */
  send(event: SseEvent): boolean;
  /** Writes a comment (ignored by clients). Same return value and errors as `send`. */
  comment(text: string): boolean;
  /** Resolves when the response can take more, or when the stream closed. */
  drained(): Promise<void>;
  /** Stops heartbeats and ends the response. Idempotent. */
  close(): void;
}

/** An event field that the event-stream format cannot carry. */
export class SseFieldError extends GhostnetError {
  constructor(message: string) {
    super('GN_ERR_SSE_INVALID_FIELD', message);
  }
}

/** Writing to an SSE stream that was closed or whose client went away. */
export class SseClosedError extends GhostnetError {
  constructor() {
    super('GN_ERR_SSE_CLOSED', 'The event stream is closed');
  }
}

export const DEFAULT_SSE_HEARTBEAT_MS = 15_000;
/** Largest accepted heartbeat interval and retry value: the longest Node.js timer. */
const MAX_MS = 2_147_483_647;

const LINE_BREAK = /\r\n|\r|\n/;
const HAS_LINE_BREAK = /[\r\n]/;
const HEARTBEAT = ':\n\n';

/**
 * Serializes one event in the event-stream format (HTML §9.2.5). Lines end with LF; the
 * blank line dispatches the event.
 */
export function formatSseEvent(event: SseEvent): string {
  let out = '';
  if (event.event !== undefined) {
    // §9.2.5: a field value runs to the end of the line, so it cannot hold CR or LF.
    if (HAS_LINE_BREAK.test(event.event)) {
      throw new SseFieldError('An SSE event name must not contain CR or LF');
    }
    out += `event: ${event.event}\n`;
  }
  if (event.id !== undefined) {
    // §9.2.6: an id field containing NUL is ignored by the client, so refuse it here.
    if (HAS_LINE_BREAK.test(event.id) || event.id.includes('\0')) {
      throw new SseFieldError('An SSE event id must not contain CR, LF or NUL');
    }
    out += `id: ${event.id}\n`;
  }
  if (event.retry !== undefined) {
    // §9.2.6: the client only accepts a retry value made of ASCII digits.
    if (!Number.isInteger(event.retry) || event.retry < 0 || event.retry > MAX_MS) {
      throw new SseFieldError(`SSE retry must be an integer of milliseconds, got ${event.retry}`);
    }
    out += `retry: ${event.retry}\n`;
  }
  if (typeof event.data !== 'string') {
    throw new SseFieldError('SSE data must be a string (serialize objects with JSON.stringify)');
  }
  // §9.2.6: each data line is appended to the data buffer followed by LF, so splitting on
  // every line break and sending one `data:` line each reproduces the text (with CRLF and
  // CR normalized to LF).
  for (const line of event.data.split(LINE_BREAK)) out += `data: ${line}\n`;
  return `${out}\n`;
}

/** Formats a comment: one `:` line per line of text. */
export function formatSseComment(text: string): string {
  let out = '';
  for (const line of text.split(LINE_BREAK)) out += line === '' ? ':\n' : `: ${line}\n`;
  return `${out}\n`;
}

/**
 * Starts an event stream on `res`: sends status 200 with `text/event-stream`, then
 * heartbeats until `close()` or until the request is aborted.
 */
export function startSse(req: HttpRequest, res: HttpResponse, options: SseOptions = {}): SseStream {
  const heartbeatMs = options.heartbeatMs ?? DEFAULT_SSE_HEARTBEAT_MS;
  if (!Number.isInteger(heartbeatMs) || heartbeatMs < 0 || heartbeatMs > MAX_MS) {
    throw new InvalidOptionError(
      `heartbeatMs must be an integer between 0 (no heartbeats) and ${MAX_MS}, got ${heartbeatMs}`,
    );
  }
  const retryMs = options.retryMs;
  if (retryMs !== undefined && (!Number.isInteger(retryMs) || retryMs < 0 || retryMs > MAX_MS)) {
    throw new InvalidOptionError(`retryMs must be an integer of milliseconds, got ${retryMs}`);
  }
  return new EventStream(req, res, heartbeatMs, retryMs, options.clock ?? systemClock);
}

class EventStream implements SseStream {
  readonly lastEventId: string | undefined;
  readonly closed: Promise<void>;
  readonly #res: HttpResponse;
  readonly #signal: AbortSignal;
  readonly #clock: Clock;
  readonly #heartbeatMs: number;
  #timer: unknown;
  #isClosed = false;
  #wroteSinceTick = false;
  #blocked = false;
  #resolveClosed!: () => void;
  readonly #onAbort = (): void => this.#shutdown(false);

  constructor(
    req: HttpRequest,
    res: HttpResponse,
    heartbeatMs: number,
    retryMs: number | undefined,
    clock: Clock,
  ) {
    this.#res = res;
    this.#signal = req.signal;
    this.#clock = clock;
    this.#heartbeatMs = heartbeatMs;
    this.lastEventId = req.headers.get('last-event-id');
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));

    // HTML §9.2.3: the client requires `text/event-stream`; caches must not store it.
    res.status = 200;
    res.setHeader('content-type', 'text/event-stream; charset=utf-8');
    res.setHeader('cache-control', 'no-cache');
    // Tells buffering reverse proxies (nginx) to pass events through at once.
    res.setHeader('x-accel-buffering', 'no');
    res.writeHead();
    if (retryMs !== undefined) this.#write(`retry: ${retryMs}\n\n`);

    if (this.#signal.aborted) {
      this.#shutdown(false);
      return;
    }
    this.#signal.addEventListener('abort', this.#onAbort, { once: true });
    this.#schedule();
  }

  get isClosed(): boolean {
    return this.#isClosed;
  }

  send(event: SseEvent): boolean {
    const text = formatSseEvent(event);
    this.#checkOpen();
    return this.#write(text);
  }

  comment(text: string): boolean {
    const formatted = formatSseComment(text);
    this.#checkOpen();
    return this.#write(formatted);
  }

  drained(): Promise<void> {
    if (this.#isClosed) return Promise.resolve();
    return Promise.race([this.#res.drained(), this.closed]);
  }

  close(): void {
    this.#shutdown(true);
  }

  #write(text: string): boolean {
    this.#wroteSinceTick = true;
    const ok = this.#res.write(text);
    if (!ok && !this.#blocked) {
      // Heartbeats pause while the response is backpressured (no growing buffer).
      this.#blocked = true;
      void this.#res.drained().then(() => {
        this.#blocked = false;
      });
    }
    return ok;
  }

  #checkOpen(): void {
    if (this.#isClosed || this.#res.finished) {
      this.#shutdown(false);
      throw new SseClosedError();
    }
  }

  #schedule(): void {
    if (this.#heartbeatMs === 0 || this.#isClosed) return;
    this.#timer = this.#clock.setTimeout(() => this.#tick(), this.#heartbeatMs);
  }

  #tick(): void {
    this.#timer = undefined;
    if (this.#isClosed) return;
    if (this.#res.finished) {
      this.#shutdown(false);
      return;
    }
    if (!this.#wroteSinceTick && !this.#blocked) this.#write(HEARTBEAT);
    this.#wroteSinceTick = false;
    this.#schedule();
  }

  #shutdown(end: boolean): void {
    if (this.#isClosed) return;
    this.#isClosed = true;
    if (this.#timer !== undefined) {
      this.#clock.clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    this.#signal.removeEventListener('abort', this.#onAbort);
    if (end && !this.#res.finished && !this.#signal.aborted) this.#res.end();
    this.#resolveClosed();
  }
}
