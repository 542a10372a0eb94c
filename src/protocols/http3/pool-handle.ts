/**
 * A QUIC connection as the transport's connection pool sees connections (DESIGN §3, STYLE
 * §8: client → pool → connection). HTTP/3 multiplexes requests over one QUIC connection
 * the way HTTP/2 does over one TCP connection, so the pool's per-connection stream leases,
 * per-origin limits, FIFO waiting, idle timeout and eviction apply unchanged; this handle
 * gives the pool the few parts of `StreamConnection` it uses:
 *
 * - `close` when the QUIC connection closes (the pool evicts it),
 * - `end` when the server sent GOAWAY (the pool stops handing it out and closes it once
 *   its last lease is released),
 * - `close()`/`destroy()` to end it with H3_NO_ERROR.
 *
 * Bytes never flow through the handle: `write` and `writev` refuse.
 */
import { EventEmitter } from 'node:events';
import { GhostnetError } from '../../errors.js';
import { nextConnectionId } from '../../transport/id.js';
import type { QuicConnection } from '../../transport/quic.js';
import type {
  SocketAddress,
  StreamConnection,
  StreamConnectionEvents,
} from '../../transport/types.js';
import { H3ErrorCode } from './codes.js';

export class QuicPoolHandle
  extends EventEmitter<StreamConnectionEvents>
  implements StreamConnection
{
  readonly id = nextConnectionId('quic');
  readonly kind = 'quic';
  readonly quic: QuicConnection;
  #ended = false;

  constructor(quic: QuicConnection) {
    super();
    this.quic = quic;
    quic.once('close', () => this.emit('close', false));
  }

  /** The server sent GOAWAY: no new requests here (§5.2). */
  goaway(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.emit('end');
  }

  get localAddress(): SocketAddress | undefined {
    return this.quic.localAddress;
  }
  get remoteAddress(): SocketAddress | undefined {
    return this.quic.remoteAddress;
  }
  get alpnProtocol(): string | undefined {
    return this.quic.alpnProtocol;
  }
  get servername(): string | undefined {
    return this.quic.servername;
  }
  get bufferedAmount(): number {
    return 0;
  }
  get writable(): boolean {
    return !this.quic.closed && !this.#ended;
  }
  get closed(): boolean {
    return this.quic.closed;
  }
  get bytesRead(): number {
    return this.quic.closed ? 0 : this.quic.stats().recvBytes;
  }
  get bytesWritten(): number {
    return this.quic.closed ? 0 : this.quic.stats().sentBytes;
  }

  write(): boolean {
    throw new GhostnetError(
      'GN_ERR_UNSUPPORTED',
      'a pooled QUIC connection carries HTTP/3 streams, not bytes',
    );
  }

  writev(): boolean {
    return this.write();
  }

  end(): void {
    this.close();
  }

  close(): void {
    void this.quic.close(H3ErrorCode.H3_NO_ERROR);
  }

  destroy(): void {
    this.quic.destroy(H3ErrorCode.H3_NO_ERROR);
  }

  pause(): void {}

  resume(): void {}

  /** QUIC has its own idle timeout (max_idle_timeout); the pool's idle timeout still applies. */
  setIdleTimeout(): void {}
}
