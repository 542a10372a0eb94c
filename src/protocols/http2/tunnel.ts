/**
 * An HTTP/2 stream opened with extended CONNECT (RFC 8441) seen as a `StreamConnection`, so
 * a protocol written for a byte stream (WebSocket) runs on it unchanged: `write` sends
 * DATA (false when the stream's queue is full, `drain` when it empties), `data` delivers
 * the peer's DATA (`pause` withholds WINDOW_UPDATE, which is HTTP/2's backpressure), `end`
 * sends END_STREAM, and `destroy` resets the stream (RFC 8441 §5: a TCP RST maps to
 * RST_STREAM CANCEL).
 */
import { EventEmitter } from 'node:events';
import { nextConnectionId } from '../../transport/id.js';
import type { StreamConnection, StreamConnectionEvents } from '../../transport/types.js';
import { WriteAfterEndError } from '../../transport/errors.js';
import { ErrorCode } from './codes.js';
import type { Http2Connection } from './connection.js';
import type { Http2Stream } from './stream.js';

const EMPTY = new Uint8Array(0);

export class TunnelConnection
  extends EventEmitter<StreamConnectionEvents>
  implements StreamConnection
{
  readonly id = nextConnectionId('h2-stream');
  readonly kind = 'h2-stream';
  readonly #core: Http2Connection;
  readonly #stream: Http2Stream;
  readonly #parent: StreamConnection;
  readonly #flush: () => void;
  #ended = false;
  #closed = false;
  #paused = false;
  #held: Uint8Array[] = [];
  #heldEnd = false;
  #bytesRead = 0;
  #bytesWritten = 0;
  #responded = false;

  constructor(
    core: Http2Connection,
    stream: Http2Stream,
    parent: StreamConnection,
    flush: () => void,
  ) {
    super();
    this.#core = core;
    this.#stream = stream;
    this.#parent = parent;
    this.#flush = flush;
  }

  /** The tunnel itself (what the CONNECT hook hands to the WebSocket server). */
  get connection(): StreamConnection {
    return this;
  }

  /** Answers the CONNECT: 2xx opens the tunnel (RFC 8441 §5); anything else ends it. */
  respond(status: number, headers: Record<string, string> = {}): void {
    if (this.#responded) return;
    this.#responded = true;
    const names = [':status'];
    const values = [String(status)];
    for (const [k, v] of Object.entries(headers)) {
      names.push(k.toLowerCase());
      values.push(v);
    }
    const ok = status >= 200 && status < 300;
    this.#core.sendHeaders(this.#stream, names, values, !ok);
    if (!ok) this.#ended = true;
    this.#flush();
  }

  get localAddress() {
    return this.#parent.localAddress;
  }
  get remoteAddress() {
    return this.#parent.remoteAddress;
  }
  get alpnProtocol(): string | undefined {
    return this.#parent.alpnProtocol;
  }
  get servername(): string | undefined {
    return this.#parent.servername;
  }
  get bufferedAmount(): number {
    return this.#core.bufferedAmount(this.#stream);
  }
  get writable(): boolean {
    return !this.#ended && !this.#closed;
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

  write(chunk: Uint8Array): boolean {
    if (this.#ended) throw new WriteAfterEndError();
    if (this.#closed) return false;
    if (!this.#responded) this.respond(200);
    this.#bytesWritten += chunk.length;
    const ok = this.#core.sendData(this.#stream, chunk, false);
    this.#flush();
    return ok;
  }

  writev(chunks: readonly Uint8Array[]): boolean {
    let ok = true;
    for (const c of chunks) ok = this.write(c) && ok;
    return ok;
  }

  end(): void {
    if (this.#ended || this.#closed) return;
    this.#ended = true;
    this.#core.sendData(this.#stream, EMPTY, true);
    this.#flush();
  }

  /** Ends our side; resets the stream if the peer has not ended its side within `graceMs`. */
  close(graceMs = 5000): void {
    this.end();
    if (this.#closed) return;
    const timer = setTimeout(() => this.destroy(), graceMs);
    timer.unref();
    this.once('close', () => clearTimeout(timer));
  }

  destroy(err?: Error): void {
    if (this.#closed) return;
    this.#ended = true;
    this.#core.resetStream(this.#stream, ErrorCode.CANCEL);
    this.#flush();
    this.#finish(err);
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    const held = this.#held;
    this.#held = [];
    for (const c of held) this.#emitData(c);
    if (this.#heldEnd) {
      this.#heldEnd = false;
      this.emit('end');
    }
  }

  /** Idle detection belongs to the HTTP/2 connection; a no-op here. */
  setIdleTimeout(): void {}

  // ── from the server binding ──
  deliver(chunk: Uint8Array, end: boolean): void {
    if (this.#paused) {
      if (chunk.length > 0) this.#held.push(chunk);
      if (end) this.#heldEnd = true;
      return;
    }
    if (chunk.length > 0) this.#emitData(chunk);
    if (end) this.emit('end');
  }

  #emitData(chunk: Uint8Array): void {
    this.#bytesRead += chunk.length;
    // Window returns once the listener took the bytes: a paused tunnel holds at most one
    // stream window.
    this.#core.consume(this.#stream, chunk.length);
    this.#flush();
    this.emit('data', chunk);
  }

  onWritable(): void {
    this.emit('drain');
  }

  /** The peer reset the stream or the connection died. */
  reset(err: Error): void {
    this.#finish(err);
  }

  /** Both directions ended normally. */
  onClosed(): void {
    this.#finish(undefined);
  }

  #finish(err: Error | undefined): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#ended = true;
    if (err !== undefined && this.listenerCount('error') > 0) this.emit('error', err);
    this.emit('close', err !== undefined);
  }
}
