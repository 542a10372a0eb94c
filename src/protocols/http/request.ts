/** The engine-neutral request object (see types.ts). Engines build it with `new ServerRequest`. */
import { randomUUID } from 'node:crypto';
import type { SocketAddress } from '../../transport/types.js';
import type { BodyStream } from './body.js';
import type { HeaderList } from './headers.js';
import type { HttpProtocol, HttpRequest } from './types.js';

/** A client-supplied X-Request-Id is kept only when it looks like an id (no log injection). */
const VALID_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export interface ServerRequestInit {
  method: string;
  target: string;
  headers: HeaderList;
  protocol: HttpProtocol;
  scheme: 'http' | 'https';
  authority: string | undefined;
  remoteAddress: SocketAddress | undefined;
  localAddress: SocketAddress | undefined;
  body: BodyStream;
  /**
   * A signal the engine already owns (HTTP/2 stream, fetch). Without one, the request makes
   * its own lazily — most handlers never look at it — and the engine aborts it through
   * `ServerRequest.abort(req, reason)`.
   */
  signal?: AbortSignal;
}

export class ServerRequest implements HttpRequest {
  readonly method: string;
  readonly target: string;
  readonly path: string;
  readonly search: string;
  readonly headers: HeaderList;
  readonly protocol: HttpProtocol;
  readonly scheme: 'http' | 'https';
  readonly authority: string | undefined;
  readonly remoteAddress: SocketAddress | undefined;
  readonly localAddress: SocketAddress | undefined;
  readonly body: BodyStream;
  params: Record<string, string> = {};
  readonly locals: Record<string, unknown> = {};
  #id: string | undefined;
  #query: URLSearchParams | undefined;
  #signal: AbortSignal | undefined;
  #controller: AbortController | undefined;
  #abortReason: unknown = undefined;
  #aborted = false;

  constructor(init: ServerRequestInit) {
    this.method = init.method;
    this.target = init.target;
    this.headers = init.headers;
    this.protocol = init.protocol;
    this.scheme = init.scheme;
    this.authority = init.authority;
    this.remoteAddress = init.remoteAddress;
    this.localAddress = init.localAddress;
    this.body = init.body;
    this.#signal = init.signal;
    const [path, search] = splitTarget(init.target);
    this.path = path;
    this.search = search;
  }

  get id(): string {
    if (this.#id === undefined) {
      const given = this.headers.get('x-request-id');
      this.#id = given !== undefined && VALID_REQUEST_ID.test(given) ? given : randomUUID();
    }
    return this.#id;
  }

  /**
   * Aborts `req.signal` (the client went away, the stream was reset). Creating an
   * AbortController per request costs more than the rest of a small request's handling,
   * so the signal exists only once somebody reads it.
   */
  static abort(req: ServerRequest, reason: unknown): void {
    if (req.#aborted) return;
    req.#aborted = true;
    req.#abortReason = reason;
    req.#controller?.abort(reason);
  }

  /** Aborted when the client goes away before the response ended. */
  get signal(): AbortSignal {
    if (this.#signal === undefined) {
      if (this.#aborted) {
        this.#signal = AbortSignal.abort(this.#abortReason);
      } else {
        this.#controller = new AbortController();
        this.#signal = this.#controller.signal;
      }
    }
    return this.#signal;
  }

  get query(): URLSearchParams {
    this.#query ??= new URLSearchParams(this.search);
    return this.#query;
  }

  text(): Promise<string> {
    return this.body.text();
  }

  json<T = unknown>(): Promise<T> {
    return this.body.json<T>();
  }

  bytes(): Promise<Uint8Array> {
    return this.body.bytes();
  }
}

/**
 * Splits a request target into path and query (RFC 9112 §3.2). Absolute-form
 * (`http://host/p?q`) yields its path; authority-form (CONNECT) and asterisk-form yield
 * the target itself as the path.
 */
export function splitTarget(target: string): [path: string, search: string] {
  let start = 0;
  if (target.charCodeAt(0) !== 0x2f /* / */) {
    const scheme = target.indexOf('://');
    if (scheme > 0 && scheme < 10) {
      const slash = target.indexOf('/', scheme + 3);
      const question = target.indexOf('?', scheme + 3);
      if (slash < 0 || (question >= 0 && question < slash)) {
        return ['/', question >= 0 ? target.slice(question + 1) : ''];
      }
      start = slash;
    } else {
      return [target, ''];
    }
  }
  const question = target.indexOf('?', start);
  return question < 0
    ? [start === 0 ? target : target.slice(start), '']
    : [target.slice(start, question), target.slice(question + 1)];
}
