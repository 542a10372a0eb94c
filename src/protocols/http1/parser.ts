/**
 * Sans-I/O incremental HTTP/1.1 parser (RFC 9112), request or response side.
 *
 * Bytes go in through `execute()`; results come out through a handler object given at
 * construction, llhttp style (STYLE §12: no event object per byte). Spans (method, URL,
 * field names and values, body) are reported as `(bytes, start, end)` views into the input
 * and may arrive in several pieces when the input is split; everything else is a single
 * call. Any split of the input produces the same calls with the same joined spans.
 *
 * ```
 *  START ─► start line ─► field lines ─► CRLF ─► headers complete
 *    ▲                                              │
 *    │        ┌─ none / skip (HEAD, 1xx, 204, 304) ─┤
 *    │        ├─ Content-Length ─► fixed body ──────┤
 *    │        ├─ chunked ─► size[;ext] CRLF data CRLF … 0 CRLF trailers CRLF
 *    │        └─ neither (response) ─► body until finish()
 *    └── keep-alive ◄── message complete ──► CLOSED (Connection: close / 1.0)
 *                              └─► UPGRADED (Upgrade / CONNECT: caller takes the rest)
 * ```
 *
 * Strict by default (RFC 9112 §2.2, §5, §6, §7): bare CR or LF, obs-fold, whitespace before
 * the colon, non-token names, control bytes in values, Content-Length with
 * Transfer-Encoding, repeated or malformed Content-Length, a request Transfer-Encoding not
 * ending in chunked, bad chunk sizes and missing CRLF after chunk data are all errors. An
 * error is reported once through `onError`, stored in `parser.error`, and the parser stays
 * in the error state until `reset()`. It never throws for any input (exceptions thrown by
 * the handler's own callbacks do propagate).
 *
 * The byte-level state machine is a switch over small integer states (parser-core.ts),
 * split into head.ts (start line, field lines, trailers) and body.ts (bodies, chunked
 * coding), the way llhttp is generated; STYLE §3 tables describe connection-level states,
 * not per-byte scanning.
 */
import { runBody } from './body.js';
import { ExecuteStatus } from './constants.js';
import type { Http1MessageKind } from './constants.js';
import type { Http1ParseError } from './errors.js';
import type { Http1ParserHandler } from './handler.js';
import { runHead } from './head.js';
import type { Http1Limits } from './limits.js';
import {
  P_NONE,
  ParserCore,
  S_BODY_EOF,
  S_BODY_FIXED,
  S_CLOSED,
  S_ERROR,
  S_FIELD_WS,
  S_START,
  S_UPGRADED,
} from './parser-core.js';

export type { Http1HeadersInfo, Http1ParserHandler } from './handler.js';

export interface Http1ParserOptions {
  /**
   * Accept obs-fold (a field line continued on the next line starting with SP/HTAB) as part
   * of the previous value, as RFC 9112 §5.2 allows a recipient to do, instead of rejecting it.
   * Lenient; never needed for conforming peers.
   * @default false
   */
  lenientObsFold?: boolean;
}

export class Http1Parser {
  readonly kind: Http1MessageKind;
  readonly limits: Readonly<Http1Limits>;
  readonly #c: ParserCore;

  constructor(
    kind: Http1MessageKind,
    handler: Http1ParserHandler,
    limits: Partial<Http1Limits> = {},
    options: Http1ParserOptions = {},
  ) {
    this.#c = new ParserCore(kind, handler, limits, options.lenientObsFold === true);
    this.kind = kind;
    this.limits = this.#c.limits;
  }

  /** The error that stopped the parser, or null. */
  get error(): Http1ParseError | null {
    return this.#c.error;
  }

  /** Bytes of the last `execute()` input that were consumed (where an upgrade tunnel begins). */
  get consumed(): number {
    return this.#c.consumed;
  }

  /** Index in the current `execute()` input at which the current callback fires. */
  get eventOffset(): number {
    return this.#c.at;
  }

  /** True after an Upgrade/CONNECT message: the rest of the stream is not HTTP/1.1. */
  get upgraded(): boolean {
    return this.#c.state === S_UPGRADED;
  }

  /** Requests parsed and not yet released (pipelining). */
  get outstandingRequests(): number {
    return this.#c.outstanding;
  }

  /** True between messages: `finish()` now would lose nothing. */
  get idle(): boolean {
    return this.#c.state === S_START || this.#c.state === S_CLOSED;
  }

  /** A request parser: the application answered one request (pipelining, see limits). */
  releaseMessage(): void {
    if (this.#c.outstanding > 0) this.#c.outstanding--;
  }

  /**
   * A response parser: the method of the next request sent on this connection, so HEAD
   * responses have no body and 2xx answers to CONNECT become a tunnel (RFC 9112 §6.3).
   * Call once per request, in order; 1xx responses do not consume an entry. Returns false
   * (and queues nothing) when `maxPipelinedRequests` methods are already queued.
   */
  pushRequestMethod(method: string): boolean {
    const q = this.#c.requestMethods;
    if (q.length >= this.limits.maxPipelinedRequests) return false;
    q.push(method.toUpperCase());
    return true;
  }

  /** Back to the initial state; clears the error and any queued request methods. */
  reset(): void {
    this.#c.state = S_START;
    this.#c.span = P_NONE;
    this.#c.error = null;
    this.#c.outstanding = 0;
    this.#c.requestMethods.length = 0;
    this.#c.beginMessage();
  }

  /**
   * End of input. Completes a close-delimited response body; reports an error when the
   * stream ends inside a message. Returns `ExecuteStatus.OK` or `.ERROR`.
   */
  finish(): ExecuteStatus {
    switch (this.#c.state) {
      case S_START:
      case S_CLOSED:
      case S_UPGRADED:
        return ExecuteStatus.OK;
      case S_ERROR:
        return ExecuteStatus.ERROR;
      case S_BODY_EOF:
        this.#c.at = 0;
        this.#c.state = S_CLOSED;
        this.#c.h.onMessageComplete();
        return ExecuteStatus.OK;
      default:
        this.#c.fail('INCOMPLETE_MESSAGE', 'The stream ended inside a message', 0);
        return ExecuteStatus.ERROR;
    }
  }

  /**
   * Parse `data`. Returns `ExecuteStatus.OK` when all of it was consumed; otherwise
   * `.ERROR` (see `error`), `.UPGRADE` or `.BLOCKED`, with `consumed` telling where it
   * stopped.
   */
  execute(data: Uint8Array): ExecuteStatus {
    const st = this.#c.state;
    if (st === S_ERROR) return ExecuteStatus.ERROR;
    if (st === S_UPGRADED) {
      this.#c.consumed = 0;
      return ExecuteStatus.UPGRADE;
    }
    if (this.#c.span !== P_NONE) this.#c.mark = 0;
    // Keep #wsStart relative to the new input (it may point into an earlier one).
    if (this.#c.state === S_FIELD_WS) this.#c.wsStart -= this.#c.data.length;
    this.#c.data = data;
    const status = this.#run(data);
    if (status === ExecuteStatus.OK && this.#c.span !== P_NONE) {
      if (this.#c.mark < data.length) this.#c.emitSpan(data, this.#c.mark, data.length);
      this.#c.mark = 0;
    }
    return status;
  }

  #run(data: Uint8Array): ExecuteStatus {
    const c = this.#c;
    const len = data.length;
    let i = 0;
    while (i < len) {
      const st = c.state < S_BODY_FIXED ? runHead(c, data, i) : runBody(c, data, i);
      if (st !== ExecuteStatus.OK) return st;
      i = c.pos;
    }
    c.consumed = len;
    return c.state === S_UPGRADED ? ExecuteStatus.UPGRADE : ExecuteStatus.OK;
  }
}
