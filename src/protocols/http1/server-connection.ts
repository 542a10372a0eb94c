/**
 * Sans-I/O HTTP/1.1 server connection (RFC 9112): bytes in → request events out, response
 * intents in → bytes out. No sockets, no timers, no clock reads: `now` (epoch ms) is passed
 * to `receive` and `handleTimeout`, and the binding schedules `nextTimeout()`.
 *
 * ```
 *            receive() ──► parser ──► onRequest / onBody / onBodyEnd / onUpgrade
 *                                        │ (exchange queued, in arrival order)
 *  writeHead/writeBody/writeTrailers ◄───┘
 *        │ active exchange (queue head) → connection output
 *        │ later exchanges → their own buffer, moved out when they become active
 *        ▼
 *   takeOutput() ──► binding writev
 *
 *   state: OPEN ──(Connection: close, error, timeout, shutdown)──► CLOSING ──► (binding ends)
 *              └──(abort after head sent)──► DESTROY          └──► UPGRADED (hook owns bytes)
 * ```
 *
 * Pipelining (RFC 9112 §9.3.2): requests are parsed ahead and responses leave strictly in
 * order. At most `limits.maxPipelinedRequests` requests are outstanding; beyond that the
 * core keeps the unparsed rest and `blocked` is true, so the binding stops reading.
 */
import { TimeoutError } from '../../errors.js';
import { HeaderList } from '../http/headers.js';
import { ExecuteStatus, HeadersCompleteAction } from './constants.js';
import { Http1ParseError } from './errors.js';
import type { Http1HeadersInfo, Http1ParserHandler } from './handler.js';
import { PRE_BOUND } from './handler.js';
import type { Http1Limits } from './limits.js';
import { Http1Parser } from './parser.js';
import { latin1, OutputBuffer } from './output-buffer.js';
import {
  CONTINUE_TEXT,
  chunkHeader,
  CRLF,
  DateCache,
  encodeErrorResponse,
  encodeInformational,
  encodeResponseHead,
  Framing,
  lastChunk,
  LAST_CHUNK,
  ResponseFramingError,
  ResponseHeadResult,
} from './serializer.js';
import { InvalidOptionError } from '../../errors.js';

/** Deadlines of a server connection (STYLE §4: finite defaults). */
export interface Http1ServerTimeouts {
  /**
   * The request head must be complete this long after its first byte (and a new
   * connection must send a complete head this long after it opened): slowloris defence.
   * Expiry → 408 and close (or a quiet close when no byte of a request arrived).
   * @default 60000 (node:http's headersTimeout)
   */
  headersTimeoutMs: number;
  /**
   * The whole request (head and body) must arrive this long after its first byte.
   * Expiry → 408 and close if the response has not started, else the connection is destroyed.
   * @default 300000 (node:http's requestTimeout)
   */
  requestTimeoutMs: number;
  /**
   * Idle time between requests on a persistent connection before it is closed quietly.
   * @default 5000 (node:http's keepAliveTimeout)
   */
  keepAliveTimeoutMs: number;
}

export const DEFAULT_HTTP1_SERVER_TIMEOUTS: Readonly<Http1ServerTimeouts> = Object.freeze({
  headersTimeoutMs: 60_000,
  requestTimeoutMs: 300_000,
  keepAliveTimeoutMs: 5_000,
});

/** Largest accepted timer value (node timers overflow above 2^31-1 ms). */
const MAX_TIMEOUT_MS = 2_147_483_647;

export function resolveHttp1ServerTimeouts(
  user: Partial<Http1ServerTimeouts> = {},
): Readonly<Http1ServerTimeouts> {
  const out = { ...DEFAULT_HTTP1_SERVER_TIMEOUTS, ...user };
  for (const key of Object.keys(DEFAULT_HTTP1_SERVER_TIMEOUTS) as (keyof Http1ServerTimeouts)[]) {
    const v = out[key];
    if (!Number.isInteger(v) || v < 1 || v > MAX_TIMEOUT_MS) {
      throw new InvalidOptionError(
        `unsupported ${key}: ${String(v)}, use an integer number of ms in [1, ${MAX_TIMEOUT_MS}]`,
      );
    }
  }
  return Object.freeze(out);
}

export interface Http1ServerConnectionOptions {
  limits?: Partial<Http1Limits>;
  timeouts?: Partial<Http1ServerTimeouts>;
  /**
   * Request body bytes read and dropped after the response ended before the body did, to
   * keep the connection reusable. More → the connection is closed instead. A body whose
   * announced remaining length is larger closes the connection at once.
   * @default 65536
   */
  maxDiscardBytes?: number;
  /**
   * Report Upgrade and CONNECT requests through `onUpgrade` (the binding has a hook).
   * When false, the Upgrade header field is ignored (the request is served as a normal one,
   * RFC 9110 §7.8 lets a server ignore it) and CONNECT is answered 501 and closed.
   * A function decides per request (true: hand it over; false: as if `upgrades` were
   * false for it).
   * @default false
   */
  upgrades?: boolean | ((req: Http1RequestInfo) => boolean);
  /** Shared Date cache. @default a new DateCache */
  dateCache?: DateCache;
  /** Accept obs-fold (see Http1ParserOptions). @default false */
  lenientObsFold?: boolean;
}

export const DEFAULT_MAX_DISCARD_BYTES = 64 * 1024;

/** A parsed request as the binding sees it. */
export interface Http1RequestInfo {
  readonly method: string;
  readonly target: string;
  /** 0 (HTTP/1.0) or 1 (HTTP/1.1). */
  readonly versionMinor: number;
  readonly headers: HeaderList;
  /** The Host field value (the request's authority), or undefined without one. */
  readonly host: string | undefined;
  /** The client allows another request after this one (RFC 9112 §9.3). */
  readonly keepAlive: boolean;
  readonly expectContinue: boolean;
  /** Content-Length, or -1. */
  readonly contentLength: number;
  readonly chunked: boolean;
  readonly upgrade: boolean;
  /** A body follows the head (Content-Length > 0 or chunked). */
  readonly hasBody: boolean;
  /** The whole request body arrived (or it had none). */
  readonly bodyComplete: boolean;
  /** The core considers the response finished (sent, replaced by an error, or abandoned). */
  readonly responseEnded: boolean;
  readonly headSent: boolean;
  /** The response was abandoned (abort, timeout, connection closing). */
  readonly aborted: boolean;
  /** Status of the response head, 0 before it was written. */
  readonly status: number;
  /** Time (`now`) the request's first byte was parsed. */
  readonly startedAt: number;
  /** Free slot for the binding (its request/response objects). */
  context: unknown;
}

/** Callbacks of the core (STYLE §12: a handler object, no event object per chunk). */
export interface Http1ServerConnectionHandler {
  /** A request head arrived; answer it with the core's intent methods. */
  onRequest(req: Http1RequestInfo): void;
  /** A piece of the request body: a view into the `receive` input (do not reuse that buffer). */
  onBody(req: Http1RequestInfo, chunk: Uint8Array): void;
  /** The request body is complete; `trailers` from a chunked body, if any. */
  onBodyEnd(req: Http1RequestInfo, trailers: HeaderList | undefined): void;
  /** The request body cannot complete (parse error, timeout, connection closing). */
  onBodyError(req: Http1RequestInfo, err: Error): void;
  /** The response of `req` left the queue (sent, or abandoned: see `req.aborted`). */
  onResponseDone(req: Http1RequestInfo): void;
  /**
   * Upgrade or CONNECT (only with `upgrades: true`). `rest` are the bytes after the head;
   * input stops. The binding hands the transport over once `inFlight` is 0 and the output
   * was written.
   */
  onUpgrade(req: Http1RequestInfo, rest: Uint8Array): void;
  /** The peer broke the protocol or a deadline passed (for logs and metrics). */
  onProtocolError(err: Http1ParseError | TimeoutError): void;
}

export const Http1ConnectionState = {
  OPEN: 0,
  /** Write the remaining output, then end the transport. */
  CLOSING: 1,
  /** Tear the transport down now (a response was abandoned after its head). */
  DESTROY: 2,
  /** The upgrade hook owns the transport (after the remaining output). */
  UPGRADED: 3,
} as const;
export type Http1ConnectionState = (typeof Http1ConnectionState)[keyof typeof Http1ConnectionState];

const NONE = -1;

/**
 * Field names most requests carry, as sent by browsers and tools (canonical case) and in
 * lowercase. A name read in one piece that matches one of them reuses these strings: no
 * string is made from the bytes and no `toLowerCase` runs (STYLE §12).
 */
const COMMON_FIELD_NAMES: readonly (readonly [raw: string, lower: string])[] = [
  'Host',
  'User-Agent',
  'Accept',
  'Accept-Encoding',
  'Accept-Language',
  'Connection',
  'Content-Length',
  'Content-Type',
  'Cookie',
  'Referer',
  'Origin',
  'Authorization',
  'Cache-Control',
  'Upgrade',
  'If-None-Match',
  'If-Modified-Since',
  'X-Forwarded-For',
].flatMap((n) => [[n, n.toLowerCase()] as const, [n.toLowerCase(), n.toLowerCase()] as const]);

/** COMMON_FIELD_NAMES by length. */
const FIELD_NAMES_BY_LENGTH: (readonly (readonly [string, string])[])[] = (() => {
  const t: (readonly [string, string])[][] = [];
  for (const e of COMMON_FIELD_NAMES) (t[e[0].length] ??= []).push(e);
  return t;
})();

/** The interned entry whose raw name equals `b[s, e)` exactly, or undefined. */
function commonFieldName(
  b: Uint8Array,
  s: number,
  e: number,
): readonly [string, string] | undefined {
  const list = FIELD_NAMES_BY_LENGTH[e - s];
  if (list === undefined) return undefined;
  for (let k = 0; k < list.length; k++) {
    const raw = list[k]![0];
    let i = 0;
    while (i < raw.length && raw.charCodeAt(i) === b[s + i]) i++;
    if (i === raw.length) return list[k];
  }
  return undefined;
}

/** Internal per-request state. Monomorphic: every field initialised in the constructor. */
class Exchange implements Http1RequestInfo {
  readonly method: string;
  readonly target: string;
  readonly versionMinor: number;
  readonly headers: HeaderList;
  host: string | undefined = undefined;
  readonly keepAlive: boolean;
  readonly expectContinue: boolean;
  readonly contentLength: number;
  readonly chunked: boolean;
  readonly upgrade: boolean;
  readonly hasBody: boolean;
  readonly startedAt: number;
  context: unknown = undefined;
  bodyComplete = false;
  responseEnded = false;
  headSent = false;
  aborted = false;
  status = 0;
  /** Left the queue. */
  retired = false;
  continueSent = false;
  discarding = false;
  discarded = 0;
  closeAfter = false;
  /** The parser counted it as outstanding and it was not released yet. */
  counted = false;
  framing: Framing = Framing.NONE;
  remaining = 0;
  buf: OutputBuffer | null = null;

  constructor(
    info: Http1HeadersInfo | null,
    method: string,
    target: string,
    headers: HeaderList,
    startedAt: number,
  ) {
    this.method = method;
    this.target = target;
    this.headers = headers;
    this.startedAt = startedAt;
    if (info === null) {
      this.versionMinor = 1;
      this.keepAlive = false;
      this.expectContinue = false;
      this.contentLength = -1;
      this.chunked = false;
      this.upgrade = false;
      this.hasBody = false;
    } else {
      this.versionMinor = info.versionMinor;
      this.keepAlive = info.keepAlive;
      this.expectContinue = info.expectContinue;
      this.contentLength = info.contentLength;
      this.chunked = info.chunked;
      this.upgrade = info.upgrade;
      this.hasBody = info.chunked || info.contentLength > 0;
    }
    this.bodyComplete = !this.hasBody;
  }
}

const EMPTY_HEADERS = new HeaderList().freeze();

/** The parser handler class (set in Http1ServerConnection's static block). */
let ServerParserSink: new (c: Http1ServerConnection) => Http1ParserHandler;

export class Http1ServerConnection {
  readonly limits: Readonly<Http1Limits>;
  readonly timeouts: Readonly<Http1ServerTimeouts>;
  readonly #parser: Http1Parser;
  readonly #h: Http1ServerConnectionHandler;
  readonly #date: DateCache;
  readonly #maxDiscard: number;
  readonly #upgrades: boolean | ((req: Http1RequestInfo) => boolean);
  readonly #out = new OutputBuffer();
  readonly #head = new ResponseHeadResult();
  /** Reused for every head (encodeResponseHead does not keep it). */
  readonly #ctx = { head: false, clientMinor: 1, keepAlive: true, end: false, date: '' };
  readonly #queue: Exchange[] = [];
  #state: Http1ConnectionState = Http1ConnectionState.OPEN;
  #now: number;

  // Parse state of the current message.
  #target = '';
  #name = '';
  /** Lowercase `#name` when it is an interned common name, else '' (computed on use). */
  #nameLower = '';
  #value = '';
  #names: string[] = [];
  #lower: string[] = [];
  #values: string[] = [];
  #cur: Exchange | null = null;
  #inHead = false;
  #beganAt = 0;
  /** The current message must not be delivered (upgrade taken over, rejected, or ignored). */
  #skipCur = false;
  #inMessage = false;
  #owed = 0;

  /** Hard stop: input bytes are dropped. */
  #inputClosed = false;
  /** No new requests are delivered (Connection: close, shutdown); the current body still is. */
  #noMore = false;
  #shutdown = false;
  #pending: Uint8Array | null = null;
  #pendingBudget = 0;
  #upgradeEx: Exchange | null = null;
  #upgradeRest: Uint8Array | null = null;

  #headDeadline = NONE;
  #requestDeadline = NONE;
  #idleDeadline = NONE;

  constructor(
    handler: Http1ServerConnectionHandler,
    now: number,
    options: Http1ServerConnectionOptions = {},
  ) {
    this.#h = handler;
    this.#now = now;
    this.timeouts = resolveHttp1ServerTimeouts(options.timeouts);
    this.#maxDiscard = options.maxDiscardBytes ?? DEFAULT_MAX_DISCARD_BYTES;
    if (!Number.isSafeInteger(this.#maxDiscard) || this.#maxDiscard < 0) {
      throw new InvalidOptionError('maxDiscardBytes must be a non-negative safe integer');
    }
    this.#upgrades = options.upgrades ?? false;
    this.#date = options.dateCache ?? new DateCache();
    this.#parser = new Http1Parser('request', this.#parserHandler(), options.limits, {
      lenientObsFold: options.lenientObsFold ?? false,
    });
    this.limits = this.#parser.limits;
    // A new connection must deliver a complete head within headersTimeoutMs.
    this.#headDeadline = now + this.timeouts.headersTimeoutMs;
  }

  // ── getters ─────────────────────────────────────────────────────────────────

  get state(): Http1ConnectionState {
    return this.#state;
  }

  /** Requests whose responses have not left the queue. */
  get inFlight(): number {
    return this.#queue.length;
  }

  /** Requests whose responses have not left the queue, oldest first (a copy). */
  inFlightRequests(): Http1RequestInfo[] {
    return this.#queue.slice();
  }

  /** Input is held back (pipelining limit): stop reading until `resumeInput`. */
  get blocked(): boolean {
    return this.#pending !== null;
  }

  /** Bytes queued for the transport. */
  get outputBytes(): number {
    return this.#out.bytes;
  }

  /** The Upgrade/CONNECT request reported through `onUpgrade`, if any. */
  get upgradeRequest(): Http1RequestInfo | null {
    return this.#upgradeEx;
  }

  /** Bytes after the upgrade request's head. */
  get upgradeRest(): Uint8Array | null {
    return this.#upgradeRest;
  }

  /** Bytes of `req`'s response queued in the core (its own buffer until it is active). */
  bufferedAmount(req: Http1RequestInfo): number {
    const ex = req as Exchange;
    if (ex.retired) return 0;
    if (ex === this.#queue[0]) return this.#out.bytes;
    return ex.buf === null ? 0 : ex.buf.bytes;
  }

  /** `req`'s response is the one being written to the connection. */
  isActive(req: Http1RequestInfo): boolean {
    return req === this.#queue[0];
  }

  // ── input ──────────────────────────────────────────────────────────────────

  /** Feed bytes from the peer. The input must not be reused (body chunks are views). */
  receive(data: Uint8Array, now: number): void {
    this.#now = now;
    if (this.#state !== Http1ConnectionState.OPEN || this.#inputClosed) return;
    if (data.length === 0) return;
    if (this.#pending !== null) {
      this.#pendingBudget -= data.length;
      if (this.#pendingBudget < 0) {
        this.#protocolError(
          new Http1ParseError(
            'PIPELINE_OVERFLOW',
            'Too many pipelined bytes buffered while blocked',
            0,
          ),
        );
        return;
      }
      const joined = new Uint8Array(this.#pending.length + data.length);
      joined.set(this.#pending, 0);
      joined.set(data, this.#pending.length);
      this.#pending = joined;
      return;
    }
    this.#feed(data);
  }

  /** Parse input held back by the pipelining limit, if the limit allows now. */
  resumeInput(now: number): void {
    this.#now = now;
    const p = this.#pending;
    if (p === null || this.#state !== Http1ConnectionState.OPEN || this.#inputClosed) return;
    if (this.#parser.outstandingRequests >= this.limits.maxPipelinedRequests) return;
    this.#pending = null;
    this.#feed(p);
  }

  /** The peer finished sending (FIN). A partial request is an error; otherwise close. */
  receiveEnd(now: number): void {
    this.#now = now;
    if (this.#state !== Http1ConnectionState.OPEN || this.#inputClosed) return;
    if (this.#pending !== null || this.#inMessage) {
      this.#parser.finish();
      this.#inputClosed = true;
      // A half-sent request: nobody is left to read an error answer; close after in-flight.
      if (this.#cur !== null) {
        this.#failCur(
          new Http1ParseError('INCOMPLETE_MESSAGE', 'The stream ended inside a message', 0),
        );
      }
    }
    this.#inputClosed = true;
    for (const ex of this.#queue) ex.closeAfter = true;
    if (this.#queue.length === 0) this.#state = Http1ConnectionState.CLOSING;
  }

  #feed(data: Uint8Array): void {
    const parser = this.#parser;
    let input = data;
    for (;;) {
      const st = parser.execute(input);
      this.#applyOwed();
      if (st === ExecuteStatus.OK || st === ExecuteStatus.ERROR) return;
      const rest = input.subarray(parser.consumed);
      if (st === ExecuteStatus.BLOCKED) {
        if (parser.outstandingRequests < this.limits.maxPipelinedRequests) {
          input = rest;
          continue;
        }
        this.#pending = rest;
        this.#pendingBudget = this.limits.maxHeaderBytes + this.limits.maxUrlLength;
        return;
      }
      // UPGRADE
      if (this.#upgradeEx !== null) {
        this.#upgradeRest = rest;
        this.#inputClosed = true;
        this.#headDeadline = NONE;
        this.#requestDeadline = NONE;
        this.#h.onUpgrade(this.#upgradeEx, rest);
        this.#maybeUpgraded();
        return;
      }
      if (this.#inputClosed || this.#state !== Http1ConnectionState.OPEN) return;
      // Upgrade ignored (RFC 9110 §7.8): continue as HTTP/1.1 on the same connection.
      parser.reset();
      for (const ex of this.#queue) ex.counted = false;
      if (rest.length === 0) return;
      input = rest;
    }
  }

  #applyOwed(): void {
    while (this.#owed > 0) {
      this.#owed--;
      this.#parser.releaseMessage();
    }
  }

  // ── parser callbacks ──────────────────────────────────────────────────────────

  #parserHandler(): Http1ParserHandler {
    return new ServerParserSink(this);
  }

  static {
    /**
     * The parser's handler: one small object per connection whose methods (on the
     * prototype, shared) reach the connection's private state through `c`. A literal of
     * arrow functions cost ~2 KB per held keep-alive connection (ten closures and their
     * context, and the object itself, which the parser's no-op filling turned into a
     * dictionary). Every callback is on the prototype, so the parser adds none.
     */
    ServerParserSink = class {
      readonly c: Http1ServerConnection;

      constructor(c: Http1ServerConnection) {
        this.c = c;
      }

      onMessageBegin(): void {
        const c = this.c;
        c.#target = '';
        c.#name = '';
        c.#nameLower = '';
        c.#value = '';
        // Arrays left empty by the previous message (no trailers) are reused.
        if (c.#names.length !== 0) {
          c.#names = [];
          c.#lower = [];
          c.#values = [];
        }
        c.#inHead = true;
        c.#inMessage = true;
        c.#skipCur = false;
        c.#beganAt = c.#now;
        c.#idleDeadline = NONE;
        c.#headDeadline = c.#now + c.timeouts.headersTimeoutMs;
        c.#requestDeadline = c.#now + c.timeouts.requestTimeoutMs;
      }

      onUrl(b: Uint8Array, s: number, e: number): void {
        const c = this.c;
        c.#target += latin1(b, s, e);
      }

      onHeaderField(b: Uint8Array, s: number, e: number): void {
        const c = this.c;
        if (c.#name === '') {
          const common = commonFieldName(b, s, e);
          if (common !== undefined) {
            c.#name = common[0];
            c.#nameLower = common[1];
            return;
          }
        }
        c.#name += latin1(b, s, e);
        c.#nameLower = ''; // a piece of a longer name (or an uncommon one)
      }

      onHeaderValue(b: Uint8Array, s: number, e: number): void {
        const c = this.c;
        c.#value += latin1(b, s, e);
      }

      onHeaderValueComplete(): void {
        const c = this.c;
        const name = c.#name;
        let v = c.#value;
        // Trailing OWS is not part of the field value (RFC 9110 §5.5).
        let end = v.length;
        while (end > 0 && (v.charCodeAt(end - 1) === 0x20 || v.charCodeAt(end - 1) === 0x09)) end--;
        if (end !== v.length) v = v.slice(0, end);
        c.#names.push(name);
        c.#lower.push(c.#nameLower !== '' ? c.#nameLower : name.toLowerCase());
        c.#values.push(v);
        c.#name = '';
        c.#nameLower = '';
        c.#value = '';
      }

      onHeadersComplete(info: Http1HeadersInfo): HeadersCompleteAction | undefined {
        const c = this.c;
        return c.#onHeadersComplete(info);
      }

      onBody(b: Uint8Array, s: number, e: number): void {
        const c = this.c;
        const ex = c.#cur;
        if (ex === null || e <= s) return;
        if (ex.discarding || ex.responseEnded) {
          ex.discarded += e - s;
          if (ex.discarded > c.#maxDiscard) {
            // Too much unread body: stop reading and close (after the queued responses).
            c.#inputClosed = true;
            c.#closeAfterQueue();
          }
          return;
        }
        c.#h.onBody(ex, b.subarray(s, e));
      }

      onMessageComplete(): void {
        const c = this.c;
        c.#onMessageComplete();
      }

      onError(err: Http1ParseError): void {
        const c = this.c;
        c.#inMessage = false;
        if (c.#inputClosed || c.#state !== Http1ConnectionState.OPEN) return;
        if (c.#cur === null && c.#noMore) return; // e.g. bytes after Connection: close
        c.#protocolError(err);
      }

      // Callbacks the server does not need (the parser calls every one).
      onMethod(): void {}
      onMethodComplete(): void {}
      onUrlComplete(): void {}
      onProtocol(): void {}
      onProtocolComplete(): void {}
      onVersion(): void {}
      onVersionComplete(): void {}
      onStatus(): void {}
      onStatusComplete(): void {}
      onHeaderFieldComplete(): void {}
      onChunkHeader(): void {}
      onChunkExtensionName(): void {}
      onChunkExtensionNameComplete(): void {}
      onChunkExtensionValue(): void {}
      onChunkExtensionValueComplete(): void {}
      onChunkComplete(): void {}
    };
    (ServerParserSink.prototype as unknown as Record<symbol, boolean>)[PRE_BOUND] = true;
  }

  #onHeadersComplete(info: Http1HeadersInfo): HeadersCompleteAction | undefined {
    this.#inHead = false;
    this.#headDeadline = NONE;
    if (this.#inputClosed || this.#noMore || this.#state !== Http1ConnectionState.OPEN) {
      this.#skipCur = true;
      return HeadersCompleteAction.SKIP_BODY;
    }
    const headers = HeaderList.fromTrusted(this.#names, this.#lower, this.#values).freeze();
    const ex = new Exchange(info, info.method, this.#target, headers, this.#beganAt);
    // RFC 9112 §3.2: a server MUST respond 400 to an HTTP/1.1 request without a Host
    // field, and to any request with more than one.
    let hosts = 0;
    const lower = this.#lower;
    for (let i = 0; i < lower.length; i++) {
      if (lower[i] === 'host') {
        if (hosts++ === 0) ex.host = this.#values[i];
      }
    }
    // The list owns the arrays now; trailers (rare) start from fresh ones.
    this.#names = [];
    this.#lower = [];
    this.#values = [];
    if (hosts > 1 || (hosts === 0 && info.versionMinor >= 1)) {
      this.#skipCur = true;
      this.#protocolError(
        new Http1ParseError('INVALID_HEADER_VALUE', 'Missing or repeated Host header field', 0),
      );
      return HeadersCompleteAction.SKIP_BODY;
    }
    if (info.contentLength > this.limits.maxBodySize) {
      this.#skipCur = true; // the parser answers 413 right after this callback
      return undefined;
    }
    if (info.upgrade) {
      if (this.#upgrades === true || (this.#upgrades !== false && this.#upgrades(ex))) {
        this.#skipCur = true;
        this.#upgradeEx = ex;
        return undefined;
      }
      if (info.method === 'CONNECT') {
        // No tunnel support without a hook: 501 (RFC 9110 §15.6.2) and close, since the
        // bytes after the head belong to the tunnel.
        this.#skipCur = true;
        this.#queueErrorResponse(501);
        return HeadersCompleteAction.SKIP_BODY;
      }
    }
    this.#cur = ex;
    this.#queue.push(ex);
    this.#h.onRequest(ex);
    return undefined;
  }

  #onMessageComplete(): void {
    this.#requestDeadline = NONE;
    this.#inMessage = false;
    const ex = this.#cur;
    this.#cur = null;
    if (ex === null) {
      if (this.#skipCur && this.#upgradeEx === null) this.#owed++; // counted; never answered
      this.#skipCur = false;
      return;
    }
    let trailers: HeaderList | undefined;
    if (this.#names.length > 0) {
      trailers = HeaderList.fromTrusted(this.#names, this.#lower, this.#values).freeze();
      this.#names = [];
      this.#lower = [];
      this.#values = [];
    }
    ex.bodyComplete = true;
    if (!ex.keepAlive) this.#noMore = true; // RFC 9112 §9.6: no further requests
    if (!ex.responseEnded && !ex.discarding) this.#h.onBodyEnd(ex, trailers);
    if (ex.retired) this.#owed++;
    else ex.counted = true;
    this.#startIdle();
  }

  // ── response intents ───────────────────────────────────────────────────────────

  /**
   * Sends `100 Continue` (RFC 9110 §10.1.1) if the client asked for it and no final
   * response was started. The binding calls this when the application first reads the body.
   */
  sendContinue(req: Http1RequestInfo): void {
    const ex = req as Exchange;
    if (!ex.expectContinue || ex.continueSent || ex.headSent || ex.responseEnded) return;
    if (ex.versionMinor < 1 || ex.bodyComplete) return;
    ex.continueSent = true;
    this.#outFor(ex).text(CONTINUE_TEXT);
  }

  /** A 1xx response (103 Early Hints…). Dropped for HTTP/1.0 clients (RFC 9110 §15.2). */
  writeInformational(req: Http1RequestInfo, status: number, headers: HeaderList): void {
    const ex = req as Exchange;
    if (ex.headSent || ex.responseEnded || ex.versionMinor < 1) return;
    const text = encodeInformational(status, headers);
    if (status === 100) {
      if (ex.continueSent) return;
      ex.continueSent = true;
    }
    this.#outFor(ex).text(text);
  }

  /**
   * The final response head. Framing (RFC 9112 §6.3): Content-Length when the headers carry
   * it, else chunked (HTTP/1.1) or close-delimited (HTTP/1.0); no body for HEAD, 1xx, 204
   * and 304. Throws ResponseFramingError for a status or header the wire cannot carry.
   */
  writeHead(
    req: Http1RequestInfo,
    status: number,
    reason: string | undefined,
    headers: HeaderList,
    end: boolean,
  ): void {
    const ex = req as Exchange;
    if (ex.responseEnded) return;
    if (ex.headSent) throw new ResponseFramingError('The response head was already written');
    if (status < 200) {
      throw new ResponseFramingError(
        `writeHead takes a final status (got ${status}); use writeInformational, or the upgrade hook for 101`,
      );
    }
    const r = this.#head;
    // Keep the connection only if the unread rest of the request body can be discarded.
    let keep = ex.keepAlive && !this.#shutdown;
    if (keep && !ex.bodyComplete) {
      if (ex.expectContinue && !ex.continueSent)
        keep = false; // client may never send it
      else if (ex.contentLength > this.#maxDiscard) keep = false;
    }
    const ctx = this.#ctx;
    ctx.head = ex.method === 'HEAD';
    ctx.clientMinor = ex.versionMinor;
    ctx.keepAlive = keep;
    ctx.end = end;
    ctx.date = this.#date.get(this.#now);
    const text = encodeResponseHead(r, status, reason, headers, ctx);
    ex.headSent = true;
    ex.status = status;
    ex.framing = r.framing;
    ex.remaining = r.contentLength;
    if (r.close) ex.closeAfter = true;
    this.#outFor(ex).text(text);
    if (end) this.#endResponse(ex);
  }

  /**
   * A body chunk; `end` finishes the response. Bytes beyond Content-Length throw
   * ResponseFramingError; ending short of it closes the connection after what was sent.
   * Body bytes of a response without a body (HEAD, 204, 304) are dropped.
   */
  writeBody(req: Http1RequestInfo, chunk: Uint8Array, end: boolean): void {
    const ex = req as Exchange;
    if (ex.responseEnded) return;
    if (!ex.headSent) throw new ResponseFramingError('writeBody before writeHead');
    const n = chunk.length;
    if (n > 0) {
      switch (ex.framing) {
        case Framing.LENGTH:
          if (n > ex.remaining) {
            throw new ResponseFramingError(
              `Body longer than Content-Length (${ex.remaining} bytes left, got ${n})`,
            );
          }
          ex.remaining -= n;
          this.#outFor(ex).data(chunk);
          break;
        case Framing.CHUNKED: {
          const o = this.#outFor(ex);
          o.text(chunkHeader(n));
          o.data(chunk);
          o.text(CRLF);
          break;
        }
        case Framing.CLOSE:
          this.#outFor(ex).data(chunk);
          break;
        default:
          break;
      }
    }
    if (end) {
      if (ex.framing === Framing.CHUNKED) this.#outFor(ex).text(LAST_CHUNK);
      this.#endResponse(ex);
    }
  }

  /** Ends a response with trailer fields (chunked only; otherwise they are dropped). */
  writeTrailers(req: Http1RequestInfo, trailers: HeaderList): void {
    const ex = req as Exchange;
    if (ex.responseEnded) return;
    if (!ex.headSent) throw new ResponseFramingError('writeTrailers before writeHead');
    if (ex.framing === Framing.CHUNKED) this.#outFor(ex).text(lastChunk(trailers));
    this.#endResponse(ex);
  }

  /**
   * Abandons the response. Before its head: the connection closes after earlier responses
   * (nothing is sent for this one). After its head: the transport is destroyed once this
   * response is the active one (the client sees a truncated response, not a wrong one).
   */
  abort(req: Http1RequestInfo): void {
    const ex = req as Exchange;
    if (ex.responseEnded) return;
    ex.aborted = true;
    ex.closeAfter = true;
    if (ex.headSent && ex === this.#queue[0]) {
      this.#destroy();
      return;
    }
    if (ex.headSent) ex.buf = null; // drop its partial response; close before it
    this.#endResponse(ex);
  }

  /** Graceful shutdown: new heads say `Connection: close`; close once in-flight are done. */
  shutdown(): void {
    this.#shutdown = true;
    this.#noMore = true;
    if (this.#queue.length === 0 && !this.#inMessage && this.#state === Http1ConnectionState.OPEN) {
      this.#state = Http1ConnectionState.CLOSING;
    }
  }

  /** Bytes to write, as chunks for one writev. Empty when there is nothing. */
  takeOutput(): Uint8Array[] {
    return this.#out.take();
  }

  // ── time ────────────────────────────────────────────────────────────────────────

  /** The earliest deadline, or undefined. */
  nextTimeout(): number | undefined {
    if (this.#state !== Http1ConnectionState.OPEN) return undefined;
    let t = NONE;
    if (this.#headDeadline !== NONE) t = this.#headDeadline;
    if (this.#requestDeadline !== NONE && (t === NONE || this.#requestDeadline < t)) {
      t = this.#requestDeadline;
    }
    if (this.#idleDeadline !== NONE && (t === NONE || this.#idleDeadline < t)) {
      t = this.#idleDeadline;
    }
    return t === NONE ? undefined : t;
  }

  handleTimeout(now: number): void {
    this.#now = now;
    if (this.#state !== Http1ConnectionState.OPEN) return;
    if (this.#idleDeadline !== NONE && now >= this.#idleDeadline) {
      this.#idleDeadline = NONE;
      if (this.#queue.length === 0) {
        this.#inputClosed = true;
        this.#state = Http1ConnectionState.CLOSING;
        return;
      }
    }
    const headExpired = this.#headDeadline !== NONE && now >= this.#headDeadline;
    const reqExpired = this.#requestDeadline !== NONE && now >= this.#requestDeadline;
    if (!headExpired && !reqExpired) return;
    this.#headDeadline = NONE;
    this.#requestDeadline = NONE;
    const which = headExpired ? 'headersTimeoutMs' : 'requestTimeoutMs';
    const err = new TimeoutError(`HTTP/1.1 request not received within ${which}`);
    this.#h.onProtocolError(err);
    this.#inputClosed = true;
    const cur = this.#cur;
    if (cur !== null) {
      // The head was delivered; the body is late.
      this.#cur = null;
      cur.closeAfter = true;
      if (!cur.responseEnded) this.#h.onBodyError(cur, err);
      if (!cur.headSent && !cur.responseEnded) {
        this.#replaceWithError(cur, 408);
      } else if (!cur.responseEnded && cur === this.#queue[0]) {
        this.#destroy();
      } else {
        this.#closeAfterQueue();
      }
      return;
    }
    if (this.#inHead || this.#pending !== null) {
      this.#queueErrorResponse(408); // RFC 9110 §15.5.9
    } else if (this.#queue.length === 0) {
      this.#state = Http1ConnectionState.CLOSING; // nothing was asked: close quietly
    } else {
      this.#closeAfterQueue();
    }
  }

  // ── internals ───────────────────────────────────────────────────────────────────

  #outFor(ex: Exchange): OutputBuffer {
    if (ex === this.#queue[0]) return this.#out;
    return (ex.buf ??= new OutputBuffer());
  }

  #endResponse(ex: Exchange): void {
    ex.responseEnded = true;
    if (ex.framing === Framing.LENGTH && ex.remaining > 0 && !ex.aborted) {
      ex.closeAfter = true; // RFC 9112 §8: an incomplete message; only closing tells the client
    }
    if (!ex.bodyComplete && !ex.closeAfter) ex.discarding = true;
    if (ex === this.#queue[0]) this.#advance();
  }

  /** Retire finished responses at the head of the queue, promoting the next one. */
  #advance(): void {
    const q = this.#queue;
    for (;;) {
      const ex = q[0];
      if (ex === undefined || !ex.responseEnded) return;
      q.shift();
      ex.retired = true;
      if (ex.counted) {
        ex.counted = false;
        this.#parser.releaseMessage();
      }
      if (ex === this.#cur && ex.closeAfter && !ex.bodyComplete) {
        this.#cur = null;
        this.#h.onBodyError(
          ex,
          new Http1ParseError(
            'INCOMPLETE_MESSAGE',
            'Connection closing before the request body arrived',
            0,
          ),
        );
      }
      this.#h.onResponseDone(ex);
      if (ex.closeAfter || (this.#shutdown && q.length === 0)) {
        this.#closeNow();
        return;
      }
      const next = q[0];
      if (next !== undefined && next.buf !== null) {
        next.buf.moveTo(this.#out);
        next.buf = null;
      }
      if (next === undefined) this.#startIdle();
    }
  }

  #startIdle(): void {
    if (
      this.#queue.length === 0 &&
      this.#cur === null &&
      !this.#inMessage &&
      this.#pending === null &&
      this.#state === Http1ConnectionState.OPEN
    ) {
      if (this.#inputClosed || this.#noMore) {
        if (this.#upgradeEx === null) this.#state = Http1ConnectionState.CLOSING;
        else this.#maybeUpgraded();
        return;
      }
      this.#idleDeadline = this.#now + this.timeouts.keepAliveTimeoutMs;
      this.#headDeadline = NONE;
      this.#requestDeadline = NONE;
    }
  }

  #maybeUpgraded(): void {
    if (this.#upgradeEx !== null && this.#queue.length === 0) {
      this.#state = Http1ConnectionState.UPGRADED;
    }
  }

  /** Close after the active response; later ones are abandoned. */
  #closeNow(): void {
    this.#inputClosed = true;
    this.#state = Http1ConnectionState.CLOSING;
    this.#abandonQueue();
  }

  #destroy(): void {
    this.#inputClosed = true;
    this.#state = Http1ConnectionState.DESTROY;
    this.#abandonQueue();
  }

  #abandonQueue(): void {
    const q = this.#queue.splice(0);
    const cur = this.#cur;
    this.#cur = null;
    for (const ex of q) {
      if (ex.retired) continue;
      ex.retired = true;
      if (!ex.responseEnded) {
        ex.aborted = true;
        ex.responseEnded = true;
      }
      if (ex === cur && !ex.bodyComplete) {
        this.#h.onBodyError(
          ex,
          new Http1ParseError(
            'INCOMPLETE_MESSAGE',
            'Connection closed before the request body arrived',
            0,
          ),
        );
      }
      this.#h.onResponseDone(ex);
    }
  }

  /** The connection ends after every response queued so far. */
  #closeAfterQueue(): void {
    const q = this.#queue;
    if (q.length === 0) {
      this.#state = Http1ConnectionState.CLOSING;
      return;
    }
    q[q.length - 1]!.closeAfter = true;
  }

  #failCur(err: Error): void {
    const cur = this.#cur;
    if (cur === null) return;
    this.#cur = null;
    cur.closeAfter = true;
    if (!cur.responseEnded) this.#h.onBodyError(cur, err);
    else this.#closeAfterQueue();
  }

  #protocolError(err: Http1ParseError): void {
    this.#h.onProtocolError(err);
    this.#inputClosed = true;
    this.#pending = null;
    this.#headDeadline = NONE;
    this.#requestDeadline = NONE;
    if (this.#cur !== null) {
      // Inside a delivered request's body: the handler learns through its body stream and
      // answers; the connection closes after that response.
      this.#failCur(err);
      return;
    }
    this.#queueErrorResponse(err.wireCode);
  }

  /** A core-generated `status` response with `Connection: close`, after in-flight ones. */
  #queueErrorResponse(status: number): void {
    const ex = new Exchange(null, '', '', EMPTY_HEADERS, this.#now);
    ex.bodyComplete = true;
    ex.headSent = true;
    ex.status = status;
    ex.closeAfter = true;
    this.#inputClosed = true;
    this.#queue.push(ex);
    this.#outFor(ex).text(encodeErrorResponse(status, this.#date.get(this.#now)));
    this.#endResponse(ex);
  }

  /** Answer `ex` with a core-generated error instead of the application (timeout). */
  #replaceWithError(ex: Exchange, status: number): void {
    ex.aborted = true;
    ex.headSent = true;
    ex.status = status;
    ex.closeAfter = true;
    ex.framing = Framing.NONE;
    if (ex.buf !== null) ex.buf = null;
    this.#outFor(ex).text(encodeErrorResponse(status, this.#date.get(this.#now)));
    this.#endResponse(ex);
  }
}
