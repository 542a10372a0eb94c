/**
 * The response the multiplexed HTTP clients (HTTP/2, HTTP/3) hand back: status, headers,
 * 1xx responses seen before it, and the body as a `BodyStream` with text/json/bytes
 * helpers and async iteration; `cancel()` resets the stream.
 */
import { AbortError } from '../../errors.js';
import type { BodyStream } from './body.js';
import type { HeaderList } from './headers.js';

export class ClientResponse implements AsyncIterable<Uint8Array> {
  readonly status: number;
  readonly headers: HeaderList;
  /** '2' or '3'. */
  readonly httpVersion: string;
  readonly url: string;
  /** 1xx responses received before this one, in order. */
  readonly informational: readonly { status: number; headers: HeaderList }[];
  readonly body: BodyStream;
  readonly #cancel: () => void;

  constructor(
    httpVersion: string,
    status: number,
    headers: HeaderList,
    url: string,
    informational: { status: number; headers: HeaderList }[],
    body: BodyStream,
    cancel: () => void,
  ) {
    this.httpVersion = httpVersion;
    this.status = status;
    this.headers = headers.freeze();
    this.url = url;
    this.informational = informational;
    this.body = body;
    this.#cancel = cancel;
  }

  get trailers(): HeaderList | undefined {
    return this.body.trailers;
  }

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return this.body[Symbol.asyncIterator]();
  }

  bytes(): Promise<Uint8Array> {
    return this.body.bytes();
  }

  text(): Promise<string> {
    return this.body.text();
  }

  json<T = unknown>(): Promise<T> {
    return this.body.json<T>();
  }

  /** Stops reading: the stream is reset (HTTP/2 CANCEL, HTTP/3 H3_REQUEST_CANCELLED). */
  cancel(): void {
    this.body.fail(new AbortError('The response body was cancelled'));
    this.#cancel();
  }
}
