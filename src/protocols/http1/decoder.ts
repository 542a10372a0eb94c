/**
 * Http1Decoder: the convenient layer over Http1Parser that the server and client use.
 * It gathers the parser's spans into frozen message heads (method, target, status,
 * version, raw-order headers with case kept and case-insensitive lookup) and hands out
 * body pieces, trailers, end-of-message, upgrade and error events (DESIGN §2:
 * `receive(bytes) → events`).
 *
 * Memory is bounded by the parser limits: names and values are only accumulated up to
 * `maxHeaderBytes` / `maxTrailerBytes` / `maxUrlLength`. Body events are views into the
 * input (no copy); copy them if the input buffer is reused.
 */
import { ExecuteStatus, HeadersCompleteAction } from './constants.js';
import type { Http1MessageKind } from './constants.js';
import { Http1ParseError } from './errors.js';
import type { Http1HeadersInfo } from './handler.js';
import { PRE_BOUND } from './handler.js';
import type { Http1Limits } from './limits.js';
import { Http1Parser } from './parser.js';
import type { Http1ParserOptions } from './parser.js';

export type Http1HeaderList = readonly (readonly [name: string, value: string])[];

/** A parsed request or response head. Immutable. */
export class Http1MessageHead {
  readonly kind: Http1MessageKind;
  /** Request method (`''` for responses). */
  readonly method: string;
  /** Request target as sent (`''` for responses). */
  readonly target: string;
  /** Response status code (0 for requests). */
  readonly statusCode: number;
  /** Response reason phrase (`''` for requests). */
  readonly reason: string;
  readonly versionMajor: number;
  readonly versionMinor: number;
  /** Field lines in received order, names as sent, values without surrounding whitespace. */
  readonly headers: Http1HeaderList;
  readonly keepAlive: boolean;
  readonly upgrade: boolean;
  readonly expectContinue: boolean;
  /** -1 when absent. */
  readonly contentLength: number;
  readonly chunked: boolean;

  constructor(
    info: Http1HeadersInfo,
    target: string,
    reason: string,
    headers: Http1HeaderList,
    upgrade: boolean,
  ) {
    this.kind = info.kind;
    this.method = info.method;
    this.target = target;
    this.statusCode = info.statusCode;
    this.reason = reason;
    this.versionMajor = info.versionMajor;
    this.versionMinor = info.versionMinor;
    this.headers = headers;
    this.keepAlive = info.keepAlive;
    this.upgrade = upgrade;
    this.expectContinue = info.expectContinue;
    this.contentLength = info.contentLength;
    this.chunked = info.chunked;
    Object.freeze(this);
  }

  /** First value of a field, by case-insensitive name. */
  get(name: string): string | undefined {
    const lower = name.toLowerCase();
    for (const [n, v] of this.headers)
      if (n.length === lower.length && n.toLowerCase() === lower) return v;
    return undefined;
  }

  /** Every value of a field, in order (RFC 9110 §5.3: repeated fields keep their order). */
  getAll(name: string): string[] {
    const lower = name.toLowerCase();
    const out: string[] = [];
    for (const [n, v] of this.headers) if (n.toLowerCase() === lower) out.push(v);
    return out;
  }
}

export type Http1DecoderEvent =
  | { readonly type: 'head'; readonly head: Http1MessageHead }
  | { readonly type: 'body'; readonly data: Uint8Array }
  | { readonly type: 'trailers'; readonly trailers: Http1HeaderList }
  | { readonly type: 'end' }
  | { readonly type: 'upgrade'; readonly rest: Uint8Array }
  | { readonly type: 'error'; readonly error: Http1ParseError };

const END: Http1DecoderEvent = Object.freeze({ type: 'end' });

function latin1(bytes: Uint8Array, start: number, end: number): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start).toString('latin1');
}

/** Trailing OWS is part of llhttp-style value spans; a field value excludes it (RFC 9110 §5.5). */
function trimEnd(v: string): string {
  let e = v.length;
  while (e > 0 && (v.charCodeAt(e - 1) === 0x20 || v.charCodeAt(e - 1) === 0x09)) e--;
  return e === v.length ? v : v.slice(0, e);
}

export interface Http1DecoderOptions extends Http1ParserOptions {
  limits?: Partial<Http1Limits>;
}

export class Http1Decoder {
  readonly #parser: Http1Parser;
  #events: Http1DecoderEvent[] = [];
  #target = '';
  #reason = '';
  #name = '';
  #value = '';
  #inValue = false;
  #headers: (readonly [string, string])[] = [];
  #inTrailers = false;
  #skipNext = false;
  #pending: Uint8Array | null = null;

  constructor(kind: Http1MessageKind, options: Http1DecoderOptions = {}) {
    this.#parser = new Http1Parser(kind, this.#handler(), options.limits, options);
  }

  get parser(): Http1Parser {
    return this.#parser;
  }

  /** True while `maxPipelinedRequests` requests await `release()`; stop reading the socket. */
  get blocked(): boolean {
    return this.#pending !== null;
  }

  /** Response side: the next request's method (HEAD → no body, CONNECT 2xx → tunnel). */
  pushRequestMethod(method: string): boolean {
    return this.#parser.pushRequestMethod(method);
  }

  /** The next response has no body whatever its headers say (e.g. answering HEAD). */
  skipNextBody(): void {
    this.#skipNext = true;
  }

  /** Parse bytes; returns the events they completed. */
  receive(bytes: Uint8Array): Http1DecoderEvent[] {
    if (this.#pending !== null) {
      const limit = this.#parser.limits.maxHeaderBytes + this.#parser.limits.maxUrlLength;
      if (this.#pending.length + bytes.length > limit) {
        return [
          {
            type: 'error',
            error: new Http1ParseError(
              'PIPELINE_OVERFLOW',
              'Too many pipelined requests buffered while blocked',
              0,
            ),
          },
        ];
      }
      const joined = new Uint8Array(this.#pending.length + bytes.length);
      joined.set(this.#pending, 0);
      joined.set(bytes, this.#pending.length);
      this.#pending = joined;
      return [];
    }
    return this.#feed(bytes);
  }

  /** The application finished one request (pipelining); returns events it unblocked. */
  release(): Http1DecoderEvent[] {
    this.#parser.releaseMessage();
    const pending = this.#pending;
    if (pending === null) return [];
    this.#pending = null;
    return this.#feed(pending);
  }

  /** End of stream (completes a close-delimited response body, or reports truncation). */
  finish(): Http1DecoderEvent[] {
    this.#parser.finish();
    return this.#take();
  }

  #feed(bytes: Uint8Array): Http1DecoderEvent[] {
    const st = this.#parser.execute(bytes);
    if (st === ExecuteStatus.UPGRADE) {
      this.#events.push({ type: 'upgrade', rest: bytes.subarray(this.#parser.consumed) });
    } else if (st === ExecuteStatus.BLOCKED) {
      this.#pending = bytes.slice(this.#parser.consumed);
    }
    return this.#take();
  }

  #take(): Http1DecoderEvent[] {
    const out = this.#events;
    this.#events = [];
    return out;
  }

  #endField(): void {
    if (this.#inValue) {
      this.#headers.push(Object.freeze([this.#name, trimEnd(this.#value)] as const));
      this.#name = '';
      this.#value = '';
      this.#inValue = false;
    }
  }

  #handler() {
    return {
      [PRE_BOUND]: true,
      onMessageBegin: (): void => {
        this.#target = '';
        this.#reason = '';
        this.#headers = [];
        this.#inTrailers = false;
      },
      onUrl: (b: Uint8Array, s: number, e: number): void => {
        this.#target += latin1(b, s, e);
      },
      onStatus: (b: Uint8Array, s: number, e: number): void => {
        this.#reason += latin1(b, s, e);
      },
      onHeaderField: (b: Uint8Array, s: number, e: number): void => {
        this.#endField();
        this.#name += latin1(b, s, e);
      },
      onHeaderValue: (b: Uint8Array, s: number, e: number): void => {
        // Pieces of one value (split input, or obs-fold when lenient) are joined; an obs-fold
        // continuation keeps its leading whitespace and loses the CRLF (RFC 9112 §5.2).
        this.#value += latin1(b, s, e);
        this.#inValue = true;
      },
      onHeaderValueComplete: (): void => {
        this.#inValue = true;
        this.#endField();
      },
      onHeadersComplete: (info: Http1HeadersInfo): HeadersCompleteAction | undefined => {
        this.#endField();
        const headers = Object.freeze(this.#headers);
        this.#headers = [];
        this.#inTrailers = true;
        const head = new Http1MessageHead(
          info,
          this.#target,
          trimEnd(this.#reason),
          headers,
          info.upgrade,
        );
        this.#events.push(Object.freeze({ type: 'head', head }) as Http1DecoderEvent);
        if (
          this.#skipNext &&
          info.kind === 'response' &&
          (info.statusCode < 100 || info.statusCode > 199)
        ) {
          this.#skipNext = false;
          return HeadersCompleteAction.SKIP_BODY;
        }
        return undefined;
      },
      onBody: (b: Uint8Array, s: number, e: number): void => {
        if (e > s) this.#events.push({ type: 'body', data: b.subarray(s, e) });
      },
      onMessageComplete: (): void => {
        if (this.#inTrailers && this.#headers.length > 0) {
          this.#events.push({ type: 'trailers', trailers: Object.freeze(this.#headers) });
        }
        this.#headers = [];
        this.#events.push(END);
      },
      onError: (error: Http1ParseError): void => {
        this.#events.push({ type: 'error', error });
      },
    };
  }
}
