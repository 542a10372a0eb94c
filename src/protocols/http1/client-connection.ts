/**
 * Sans-I/O HTTP/1.1 client connection (DESIGN §2): request intents in → bytes out, response
 * bytes in → events out. No sockets, no timers.
 *
 * ```
 *            sendRequest ──► SENDING BODY ── endBody ──► AWAITING RESPONSE
 *   IDLE ◄──────────────────────────────────────────────── response end (keep-alive)
 *     │  (pipelining: more requests may be sent while responses are outstanding)
 *     └── Connection: close / HTTP/1.0 / error / peer EOF ──► CLOSING (no more requests)
 * ```
 *
 * Responses are matched to requests in order (RFC 9112 §9.3.2). The method of each request
 * is handed to the parser, so HEAD responses, 1xx, 204 and 304 have no body (RFC 9112
 * §6.3). A response that arrives when no request is outstanding, or any parse error, ends
 * the connection: the core reports one `error` event and accepts nothing more.
 */
import { ProtocolError } from '../../errors.js';
import { HeaderList } from '../http/headers.js';
import { ExecuteStatus, HeadersCompleteAction } from './constants.js';
import type { Http1ParseError } from './errors.js';
import type { Http1HeadersInfo } from './handler.js';
import { PRE_BOUND } from './handler.js';
import type { Http1Limits } from './limits.js';
import { Http1Parser } from './parser.js';
import {
  encodeChunk,
  encodeLastChunk,
  serializeRequestHead,
  type RequestFraming,
} from './request-serializer.js';

/** Stable codes of the client core. `wireCode` is 0: nothing is answered on the wire. */
export const Http1ClientErrorCodes = {
  /** The server sent a response with no request outstanding. */
  UNEXPECTED_RESPONSE: 'GN_ERR_HTTP1_UNEXPECTED_RESPONSE',
  /** The connection ended before a response was complete. */
  RESPONSE_INCOMPLETE: 'GN_ERR_HTTP1_RESPONSE_INCOMPLETE',
  /** A 101 or 2xx-to-CONNECT switched protocols; this client does not support that. */
  UPGRADE_UNSUPPORTED: 'GN_ERR_HTTP1_UPGRADE_UNSUPPORTED',
  /** The request body did not match its announced Content-Length. */
  REQUEST_BODY_LENGTH: 'GN_ERR_HTTP1_REQUEST_BODY_LENGTH',
  /** An intent was called in a state that does not allow it. */
  CLIENT_STATE: 'GN_ERR_HTTP1_CLIENT_STATE',
} as const;
export type Http1ClientErrorKind = keyof typeof Http1ClientErrorCodes;

/** A client-side HTTP/1.1 error that is not a parse error. */
export class Http1ClientError extends ProtocolError {
  readonly kind: Http1ClientErrorKind;

  constructor(kind: Http1ClientErrorKind, message: string, options?: { cause?: unknown }) {
    const local = kind === 'REQUEST_BODY_LENGTH' || kind === 'CLIENT_STATE';
    super(Http1ClientErrorCodes[kind], message, 0, local ? 'local' : 'remote', options);
    this.kind = kind;
  }
}

export interface Http1ClientRequest {
  readonly method: string;
  /** Request target, usually origin-form (`/path?query`). */
  readonly target: string;
  /** Host header value (`host[:port]`), used unless `headers` has Host. */
  readonly host: string;
  readonly headers: HeaderList;
  /**
   * Body length in bytes; `null` for a body of unknown length (sent chunked); 0 or
   * undefined for no body. Methods whose semantics define a body (POST, PUT) get
   * `Content-Length: 0` when it is 0; the others get no framing header.
   */
  readonly bodyLength?: number | null;
}

export type Http1ClientEvent =
  | {
      readonly type: 'informational';
      readonly requestId: number;
      readonly status: number;
      readonly reason: string;
      readonly headers: HeaderList;
    }
  | {
      readonly type: 'response';
      readonly requestId: number;
      readonly status: number;
      readonly reason: string;
      readonly versionMinor: number;
      readonly headers: HeaderList;
      /** Content-Length, or -1 (chunked, close-delimited, or none). */
      readonly contentLength: number;
      /** The response has no body (HEAD, 204, 304). */
      readonly bodyless: boolean;
    }
  | { readonly type: 'data'; readonly requestId: number; readonly data: Uint8Array }
  | { readonly type: 'trailers'; readonly requestId: number; readonly trailers: HeaderList }
  | {
      readonly type: 'end';
      readonly requestId: number;
      /** This exchange leaves the connection reusable (both sides allow keep-alive). */
      readonly keepAlive: boolean;
    }
  | { readonly type: 'error'; readonly error: Http1ParseError | Http1ClientError };

interface Outstanding {
  readonly id: number;
  readonly method: string;
  readonly close: boolean;
  bodyDone: boolean;
}

interface Sending {
  readonly req: Outstanding;
  readonly framing: RequestFraming;
  remaining: number;
}

/** Methods that send `Content-Length: 0` for an empty body (RFC 9110 §8.6 SHOULD). */
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);

function latin1(bytes: Uint8Array, start: number, end: number): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start).toString('latin1');
}

/** A value span includes trailing OWS; the field value does not (RFC 9110 §5.5). */
function trimOws(v: string): string {
  let e = v.length;
  while (e > 0 && (v.charCodeAt(e - 1) === 0x20 || v.charCodeAt(e - 1) === 0x09)) e--;
  return v.slice(0, e);
}

export interface Http1ClientConnectionOptions {
  /** Parser limits for responses (header size, body size, trailers). */
  limits?: Partial<Http1Limits>;
}

export class Http1ClientConnection {
  readonly #parser: Http1Parser;
  readonly #maxPipelined: number;
  #events: Http1ClientEvent[] = [];
  #output: Uint8Array[] = [];
  #outputBytes = 0;
  /** Requests sent whose response is not complete, in order. */
  readonly #outstanding: Outstanding[] = [];
  /** The request whose body is being sent. */
  #sending: Sending | null = null;
  #nextId = 1;
  #closing = false;
  #failed = false;
  #peerEnded = false;

  // Response being parsed.
  #reason = '';
  #name = '';
  #value = '';
  #inValue = false;
  #names: string[] = [];
  #lower: string[] = [];
  #values: string[] = [];
  #informational = false;
  #inTrailers = false;
  #current: Outstanding | undefined;

  constructor(options: Http1ClientConnectionOptions = {}) {
    this.#parser = new Http1Parser('response', this.#handler(), options.limits);
    this.#maxPipelined = this.#parser.limits.maxPipelinedRequests;
  }

  /** True when another request may be sent now (pipelining included). */
  get canSend(): boolean {
    return (
      !this.#failed &&
      !this.#closing &&
      !this.#peerEnded &&
      this.#sending === null &&
      this.#outstanding.length < this.#maxPipelined
    );
  }

  /** Idle and reusable: nothing outstanding, and both sides allow keep-alive. */
  get reusable(): boolean {
    return this.canSend && this.#outstanding.length === 0 && this.#parser.idle;
  }

  /** Requests sent whose response has not completed. */
  get outstanding(): number {
    return this.#outstanding.length;
  }

  /** True while a request body is open (`sendBody`/`endBody` expected). */
  get sendingBody(): boolean {
    return this.#sending !== null;
  }

  /** No more requests will be sent (close was decided, the peer ended, or an error). */
  get closing(): boolean {
    return this.#closing || this.#failed || this.#peerEnded;
  }

  /** Bytes queued by intents and not yet taken. */
  get bufferedAmount(): number {
    return this.#outputBytes;
  }

  /**
   * Queue a request head. Returns its id; responses carry it. Throws `Http1ClientError`
   * (CLIENT_STATE) when `canSend` is false, `InvalidOptionError` for a bad request.
   */
  sendRequest(request: Http1ClientRequest): number {
    if (!this.canSend) {
      throw new Http1ClientError(
        'CLIENT_STATE',
        'This connection cannot take another request now (check canSend)',
      );
    }
    const method = request.method;
    const length = request.bodyLength;
    let framing: RequestFraming;
    if (length === null) framing = { kind: 'chunked' };
    else if (length !== undefined && length > 0) framing = { kind: 'length', length };
    else if (BODY_METHODS.has(method.toUpperCase())) framing = { kind: 'length', length: 0 };
    else framing = { kind: 'none' };
    const bytes = serializeRequestHead({
      method,
      target: request.target,
      host: request.host,
      headers: request.headers,
      framing,
    });
    // RFC 9112 §9.6: a client that sends "close" must not send further requests.
    const close = /(?:^|,)\s*close\s*(?:,|$)/i.test(request.headers.get('connection') ?? '');
    const req: Outstanding = { id: this.#nextId++, method, close, bodyDone: false };
    this.#push(bytes);
    this.#outstanding.push(req);
    this.#parser.pushRequestMethod(method);
    if (close) this.#closing = true;
    if (framing.kind === 'none' || (framing.kind === 'length' && framing.length === 0)) {
      req.bodyDone = true;
    } else {
      this.#sending = {
        req,
        framing,
        remaining: framing.kind === 'length' ? framing.length : -1,
      };
    }
    return req.id;
  }

  /** Queue body bytes of the request being sent. */
  sendBody(data: Uint8Array): void {
    const s = this.#requireSending();
    if (s.framing.kind === 'length') {
      if (data.length > s.remaining) {
        this.#closing = true;
        throw new Http1ClientError(
          'REQUEST_BODY_LENGTH',
          `Request body is longer than its Content-Length (${s.framing.length})`,
        );
      }
      s.remaining -= data.length;
      if (data.length > 0) this.#push(data);
    } else {
      for (const piece of encodeChunk(data)) this.#push(piece);
    }
  }

  /** End the request body; trailers only with a body of unknown length (chunked). */
  endBody(trailers?: HeaderList): void {
    const s = this.#requireSending();
    if (s.framing.kind === 'length') {
      if (s.remaining !== 0) {
        this.#closing = true;
        throw new Http1ClientError(
          'REQUEST_BODY_LENGTH',
          `Request body ended ${s.remaining} bytes short of its Content-Length`,
        );
      }
      if (trailers !== undefined && trailers.size > 0) {
        throw new Http1ClientError(
          'CLIENT_STATE',
          'Trailers need a body of unknown length (chunked); this one has a Content-Length',
        );
      }
    } else {
      this.#push(encodeLastChunk(trailers));
    }
    s.req.bodyDone = true;
    this.#sending = null;
  }

  /**
   * Give up on the request body being sent (the response already ended or the caller
   * failed). The message is incomplete on the wire, so the connection cannot be reused.
   */
  abandonBody(): void {
    if (this.#sending === null) return;
    this.#sending = null;
    this.#closing = true;
  }

  /** Bytes to write, in order. */
  takeOutput(): Uint8Array[] {
    const out = this.#output;
    this.#output = [];
    this.#outputBytes = 0;
    return out;
  }

  /** Bytes from the server; returns the events they completed. */
  receive(bytes: Uint8Array): Http1ClientEvent[] {
    if (this.#failed || bytes.length === 0) return [];
    const status = this.#parser.execute(bytes);
    if (status === ExecuteStatus.UPGRADE && !this.#failed) {
      this.#fail(
        new Http1ClientError('UPGRADE_UNSUPPORTED', 'The server switched protocols (101)'),
      );
    }
    return this.#take();
  }

  /**
   * The server closed its side (EOF). Completes a close-delimited body; any response still
   * outstanding fails with RESPONSE_INCOMPLETE (the parse error when the EOF came mid-message).
   */
  finish(): Http1ClientEvent[] {
    if (this.#peerEnded || this.#failed) {
      this.#peerEnded = true;
      return this.#take();
    }
    this.#peerEnded = true;
    const mid = !this.#parser.idle;
    this.#parser.finish();
    if (!this.#failed && this.#outstanding.length > 0) {
      this.#fail(
        new Http1ClientError(
          'RESPONSE_INCOMPLETE',
          mid
            ? 'The server closed the connection in the middle of a response'
            : 'The server closed the connection before sending a response',
        ),
      );
    }
    return this.#take();
  }

  #requireSending(): Sending {
    if (this.#sending === null || this.#failed) {
      throw new Http1ClientError('CLIENT_STATE', 'No request body is being sent');
    }
    return this.#sending;
  }

  #push(bytes: Uint8Array): void {
    this.#output.push(bytes);
    this.#outputBytes += bytes.length;
  }

  #take(): Http1ClientEvent[] {
    const out = this.#events;
    this.#events = [];
    return out;
  }

  #fail(error: Http1ParseError | Http1ClientError): void {
    if (this.#failed) return;
    this.#failed = true;
    this.#sending = null;
    this.#events.push(Object.freeze({ type: 'error', error }));
  }

  #endField(): void {
    if (!this.#inValue) return;
    this.#names.push(this.#name);
    this.#lower.push(this.#name.toLowerCase());
    this.#values.push(trimOws(this.#value));
    this.#name = '';
    this.#value = '';
    this.#inValue = false;
  }

  #takeFields(): HeaderList {
    const list = HeaderList.fromTrusted(this.#names, this.#lower, this.#values);
    this.#names = [];
    this.#lower = [];
    this.#values = [];
    return list;
  }

  #handler() {
    return {
      [PRE_BOUND]: true,
      onMessageBegin: (): void => {
        if (this.#failed) return;
        this.#reason = '';
        this.#names = [];
        this.#lower = [];
        this.#values = [];
        this.#inTrailers = false;
        this.#current = this.#outstanding[0];
        if (this.#current === undefined) {
          this.#fail(
            new Http1ClientError(
              'UNEXPECTED_RESPONSE',
              'The server sent a response with no request outstanding',
            ),
          );
        }
      },
      onStatus: (b: Uint8Array, s: number, e: number): void => {
        this.#reason += latin1(b, s, e);
      },
      onHeaderField: (b: Uint8Array, s: number, e: number): void => {
        this.#endField();
        this.#name += latin1(b, s, e);
      },
      onHeaderValue: (b: Uint8Array, s: number, e: number): void => {
        this.#value += latin1(b, s, e);
        this.#inValue = true;
      },
      onHeaderValueComplete: (): void => {
        this.#inValue = true;
        this.#endField();
      },
      onHeadersComplete: (info: Http1HeadersInfo): HeadersCompleteAction | undefined => {
        this.#endField();
        const req = this.#current;
        if (this.#failed || req === undefined) return HeadersCompleteAction.SKIP_BODY;
        const status = info.statusCode;
        const headers = this.#takeFields();
        const reason = trimOws(this.#reason);
        this.#informational = status >= 100 && status < 200;
        if (this.#informational) {
          this.#events.push(
            Object.freeze({ type: 'informational', requestId: req.id, status, reason, headers }),
          );
          return undefined;
        }
        if (!info.keepAlive) this.#closing = true;
        this.#inTrailers = true;
        const bodyless = req.method.toUpperCase() === 'HEAD' || status === 204 || status === 304;
        this.#events.push(
          Object.freeze({
            type: 'response',
            requestId: req.id,
            status,
            reason,
            versionMinor: info.versionMinor,
            headers,
            contentLength: bodyless ? 0 : info.contentLength,
            bodyless,
          }),
        );
        return undefined;
      },
      onBody: (b: Uint8Array, s: number, e: number): void => {
        const req = this.#current;
        if (this.#failed || req === undefined || e <= s) return;
        this.#events.push({ type: 'data', requestId: req.id, data: b.subarray(s, e) });
      },
      onMessageComplete: (): void => {
        const req = this.#current;
        if (this.#failed || req === undefined) return;
        if (this.#informational) {
          this.#informational = false;
          return;
        }
        this.#endField();
        if (this.#inTrailers && this.#names.length > 0) {
          this.#events.push(
            Object.freeze({ type: 'trailers', requestId: req.id, trailers: this.#takeFields() }),
          );
        }
        this.#outstanding.shift();
        this.#current = undefined;
        // The server answered before the body was complete: the rest of the body can no
        // longer be framed for this exchange, so the connection is not reused.
        if (!req.bodyDone) this.abandonBody();
        if (req.close) this.#closing = true;
        const keepAlive = !this.#closing && !this.#peerEnded;
        this.#events.push(Object.freeze({ type: 'end', requestId: req.id, keepAlive }));
      },
      onError: (error: Http1ParseError): void => {
        this.#fail(error);
      },
    };
  }
}
