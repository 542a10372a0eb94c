/**
 * The driver for one quiche connection (DESIGN §2: quiche is the sans-I/O core; this is
 * its binding). It feeds received datagrams to quiche, hands stream bytes to `QuicStream`s,
 * sends every packet quiche has in one batch per event-loop turn, and keeps one timer from
 * `timeout()`.
 *
 * Batching: `receive()` only calls `recv`; the rest (reading streams, flushing queued
 * writes, sending packets, re-arming the timer) runs once per turn in `setImmediate`, so a
 * burst of datagrams from one poll costs one pass and one ACK-bearing flight.
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { ConnectionClosedError } from '../errors.js';
import type { SocketAddress } from '../types.js';
import {
  QuicConnectionError,
  QuicHandshakeError,
  QuicIdleTimeoutError,
  QuicInternalError,
  QuicStreamLimitError,
} from './errors.js';
import { isDone, quicheErrorName } from './native.js';
import type { QuicheConnection, QuicheConnectionError, QuicheHost } from './native.js';
import { isServerInitiated, isUni, QuicStream } from './stream.js';
import type { QuicStreamOptions, StreamHost } from './stream.js';

/** What a connection needs from its endpoint. */
export interface PacketSink {
  /** Allocates the buffer quiche writes the next packet into (≥ `size` bytes). */
  packetBuffer(size: number): Uint8Array;
  /** Send `data` (a view returned by packetBuffer) to `to`. */
  sendPacket(data: Uint8Array, to: QuicheHost): void;
  connectionClosed(conn: QuicConnection): void;
  /** Route datagrams for `cid` to `conn` (a connection ID we issued), or stop routing it. */
  addConnectionId(conn: QuicConnection, cid: Uint8Array): void;
  removeConnectionId(conn: QuicConnection, cid: Uint8Array): void;
}

export interface QuicConnectionEvents {
  /** The handshake completed (or 0-RTT data may be sent, for a resuming client). */
  established: [];
  /** The peer opened a stream. */
  stream: [stream: QuicStream];
  /** A QUIC DATAGRAM frame arrived (RFC 9221). */
  datagram: [data: Uint8Array];
  /** The connection is closed; `error` says why unless it closed cleanly with code 0. */
  close: [error: Error | undefined];
}

export interface QuicStats {
  /** Smoothed RTT in whole milliseconds (as quiche's binding reports it). */
  rttMs: number;
  /** Congestion window in bytes. */
  cwnd: number;
  sentPackets: number;
  recvPackets: number;
  lostPackets: number;
  retransmittedPackets: number;
  sentBytes: number;
  recvBytes: number;
  lostBytes: number;
  /** Current path MTU quiche uses. */
  pmtu: number;
  /** Estimated delivery rate, bytes per second. */
  deliveryRate: number;
}

const decoder = new TextDecoder();

export class QuicConnection extends EventEmitter<QuicConnectionEvents> implements StreamHost {
  readonly q: QuicheConnection;
  readonly side: 'client' | 'server';
  readonly localAddress: SocketAddress;
  readonly remoteAddress: SocketAddress;
  readonly scratch = new Uint8Array(64 * 1024);
  /** Resolves when established; rejects if the connection closes first. */
  readonly ready: Promise<void>;
  /** Resolves once the connection is fully closed (never rejects). */
  readonly closedPromise: Promise<Error | undefined>;
  /** Options for every stream of this connection. */
  streamOptions: QuicStreamOptions = {};

  readonly #sink: PacketSink;
  readonly #local: QuicheHost;
  readonly #streams = new Map<number, QuicStream>();
  readonly #wantWrite = new Set<QuicStream>();
  readonly #wantRead = new Set<QuicStream>();
  /** Peer streams that arrived before anyone listened for 'stream' (delivered later). */
  readonly #unclaimed = new Set<QuicStream>();
  /** Peer stream ids below the high-water mark that have not been seen yet. */
  readonly #skipped = new Set<number>();
  readonly #openedAt = performance.now();
  #nextBidi: number;
  #nextUni: number;
  /** Highest remote stream id seen + 4, per type: ids below are known (RFC 9000 §2.1). */
  #nextRemoteBidi: number;
  #nextRemoteUni: number;
  #scheduled = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #deadline = Infinity;
  #established = false;
  #closed = false;
  #closeError: Error | undefined;
  #alpn: string | undefined;
  #servername: string | undefined;
  #resolveReady!: () => void;
  #rejectReady!: (err: Error) => void;
  #resolveClosed!: (err: Error | undefined) => void;

  constructor(
    q: QuicheConnection,
    side: 'client' | 'server',
    sink: PacketSink,
    local: SocketAddress,
    remote: SocketAddress,
    servername?: string,
  ) {
    super();
    this.q = q;
    this.side = side;
    this.#sink = sink;
    this.localAddress = local;
    this.remoteAddress = remote;
    this.#local = { host: local.address, port: local.port };
    this.#servername = servername;
    const server = side === 'server' ? 1 : 0;
    this.#nextBidi = server;
    this.#nextUni = 2 | server;
    this.#nextRemoteBidi = 1 - server;
    this.#nextRemoteUni = 2 | (1 - server);
    this.ready = new Promise<void>((resolve, reject) => {
      this.#resolveReady = resolve;
      this.#rejectReady = reject;
    });
    this.ready.catch(() => {});
    this.closedPromise = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
    // A stream that arrives with the handshake's last packet must not be lost because the
    // application attaches its 'stream' listener a tick later.
    (this as EventEmitter).on('newListener', (event: string | symbol) => {
      if (event === 'stream' && this.#unclaimed.size > 0) queueMicrotask(this.#deliverUnclaimed);
    });
  }

  readonly #deliverUnclaimed = (): void => {
    if (this.listenerCount('stream') === 0) return;
    const list = [...this.#unclaimed];
    this.#unclaimed.clear();
    for (const s of list) {
      if (s.closed) continue;
      this.emit('stream', s);
      this.wantRead(s);
    }
  };

  get established(): boolean {
    return this.#established;
  }
  get closed(): boolean {
    return this.#closed;
  }
  get alpnProtocol(): string | undefined {
    return this.#alpn;
  }
  get servername(): string | undefined {
    return this.#servername;
  }
  /** The client resumed a session (a server: the client did). */
  get resumed(): boolean {
    return this.q.isResumed();
  }
  /** 0-RTT: the handshake is not finished yet but early data may flow. */
  get inEarlyData(): boolean {
    return this.q.isInEarlyData();
  }
  /** Live streams. */
  get streams(): ReadonlyMap<number, QuicStream> {
    return this.#streams;
  }
  /** Streams the peer still lets us open. */
  get streamsLeft(): { bidi: number; uni: number } {
    return { bidi: this.q.peerStreamsLeftBidi(), uni: this.q.peerStreamsLeftUni() };
  }
  /** Why the connection closed (undefined while open or after a clean close). */
  get closeError(): Error | undefined {
    return this.#closeError;
  }

  /** The TLS session for resumption (clients; set once the server's ticket arrived). */
  session(): Uint8Array | undefined {
    return this.q.session() ?? undefined;
  }

  /** The peer's certificate chain (DER), leaf first. */
  peerCertificates(): Uint8Array[] {
    return this.q.peerCertChain() ?? [];
  }

  /**
   * Opens a stream. Throws QuicStreamLimitError when the peer's limit is reached
   * (RFC 9000 §4.6): wait for it to grant more (`streamsLeft`) and retry.
   */
  openStream(options: { uni?: boolean } & QuicStreamOptions = {}): QuicStream {
    if (this.#closed) throw new ConnectionClosedError('the QUIC connection is closed');
    const uni = options.uni === true;
    const id = uni ? this.#nextUni : this.#nextBidi;
    try {
      // Creating the stream in quiche now keeps peerStreamsLeft* exact. Urgency 3,
      // non-incremental is RFC 9218's default priority.
      this.q.streamPriority(id, 3, false);
    } catch (err) {
      if (quicheErrorName(err) === 'StreamLimit') throw new QuicStreamLimitError(uni);
      throw new QuicInternalError(`cannot open stream ${id}: ${quicheErrorName(err)}`, {
        cause: err,
      });
    }
    if (uni) this.#nextUni += 4;
    else this.#nextBidi += 4;
    const s = new QuicStream(this, id, true, { ...this.streamOptions, ...options });
    this.#streams.set(id, s);
    return s;
  }

  /**
   * Queues a DATAGRAM frame (RFC 9221). Returns false when the send queue is full.
   * Throws RangeError when it cannot fit in a packet, or when datagrams were not negotiated.
   */
  sendDatagram(data: Uint8Array): boolean {
    if (this.#closed) return false;
    try {
      this.q.dgramSend(data);
    } catch (err) {
      const name = quicheErrorName(err);
      if (name === 'Done') return false;
      if (name === 'BufferTooShort') {
        throw new RangeError(
          `datagram of ${data.length} bytes exceeds ${this.maxDatagramSize} bytes`,
        );
      }
      throw new RangeError(
        `cannot send a datagram: ${name} (were datagrams enabled on both sides?)`,
      );
    }
    this.scheduleFlush();
    return true;
  }

  /** Largest datagram payload that fits, or 0 when datagrams are not available. */
  get maxDatagramSize(): number {
    return this.q.dgramMaxWritableLen() ?? 0;
  }

  stats(): QuicStats {
    const s = this.q.stats();
    const p = this.q.pathStats()[0];
    return {
      rttMs: p === undefined ? 0 : p.rtt,
      cwnd: p?.cwnd ?? 0,
      sentPackets: s.sent,
      recvPackets: s.recv,
      lostPackets: s.lost,
      retransmittedPackets: s.retrans,
      sentBytes: s.sentBytes,
      recvBytes: s.recvBytes,
      lostBytes: s.lostBytes,
      pmtu: p?.pmtu ?? 0,
      deliveryRate: p?.deliveryRate ?? 0,
    };
  }

  /**
   * Closes the connection with CONNECTION_CLOSE (RFC 9000 §10.2): an application code by
   * default, a transport code with `app: false`. Resolves once closed (after draining).
   */
  close(code = 0, reason = '', app = true): Promise<Error | undefined> {
    if (!this.#closed) {
      try {
        this.q.close(app, code, new TextEncoder().encode(reason));
      } catch {
        // Already closing.
      }
      this.#runSoon();
    }
    return this.closedPromise;
  }

  /**
   * Sends CONNECTION_CLOSE now and drops the connection at once, without the draining
   * period `close()` waits out (RFC 9000 §10.2). For shutdown and abandoned handshakes.
   */
  destroy(code = 0, reason = '', app = true): void {
    if (this.#closed) return;
    try {
      this.q.close(app, code, new TextEncoder().encode(reason));
    } catch {
      // Already closing.
    }
    try {
      this.#flush();
    } catch {
      // Nothing more can be sent; drop anyway.
    }
    this.#finish();
  }

  // ---- driven by the endpoint ----

  /** A datagram for this connection arrived. */
  receive(data: Uint8Array, from: QuicheHost): void {
    if (this.#closed) return;
    try {
      this.q.recv(data, { from, to: this.#local });
    } catch (err) {
      // `Done` and per-packet failures (undecryptable, duplicate) are not fatal; fatal
      // ones leave quiche closing, which the next pass notices.
      if (!isDone(err)) this.#lastRecvError = quicheErrorName(err);
    }
    this.#received = true;
    this.#runSoon();
  }

  #lastRecvError: string | undefined;
  /** Packets arrived since the last pass (so STOP_SENDING may have too). */
  #received = false;

  /** Send the first flight (clients) — the endpoint calls it after registering us. */
  start(): void {
    this.#run();
  }

  // ---- StreamHost ----

  scheduleFlush(): void {
    this.#runSoon();
  }

  wantWrite(s: QuicStream): void {
    this.#wantWrite.add(s);
  }

  wantRead(s: QuicStream): void {
    this.#wantRead.add(s);
    this.#runSoon();
  }

  streamClosed(s: QuicStream): void {
    this.#streams.delete(s.streamId);
    this.#wantWrite.delete(s);
    this.#wantRead.delete(s);
    this.#unclaimed.delete(s);
  }

  // ---- the pass ----

  #runSoon(): void {
    if (this.#scheduled || this.#closed) return;
    this.#scheduled = true;
    setImmediate(this.#onImmediate);
  }

  readonly #onImmediate = (): void => {
    this.#scheduled = false;
    this.#run();
  };

  #run(): void {
    if (this.#closed) return;
    try {
      this.#process();
      this.#flush();
    } catch (err) {
      // A bug in a listener or in this driver must not take down the endpoint.
      try {
        this.q.close(false, 0x01, new TextEncoder().encode('internal error'));
      } catch {
        // closing already
      }
      this.#closeError ??= new QuicInternalError(`QUIC driver failure: ${(err as Error).message}`, {
        cause: err,
      });
      this.#flush();
    }
    // A handshake that failed has nothing to drain: report it now rather than after 3 PTO.
    if (
      this.q.isClosed() ||
      (!this.#established && (this.q.isDraining() || this.q.localError() !== null))
    ) {
      this.#finish();
    }
  }

  #process(): void {
    const q = this.q;
    if (!this.#established && (q.isEstablished() || q.isInEarlyData())) {
      this.#established = true;
      const proto = q.applicationProto();
      this.#alpn = proto.length === 0 ? undefined : decoder.decode(proto);
      this.#servername ??= q.serverName() ?? undefined;
      this.#issueConnectionIds();
      this.#resolveReady();
      this.emit('established');
    }
    for (const id of q.readable()) {
      let s = this.#streams.get(id);
      if (s === undefined) {
        s = this.#remoteStream(id);
        if (s === undefined) continue;
      }
      if (this.#unclaimed.has(s)) continue;
      s.onReadable();
    }
    if (this.#wantRead.size > 0) {
      const again = [...this.#wantRead];
      this.#wantRead.clear();
      for (const s of again) s.onReadable();
    }
    if (this.#received) {
      this.#received = false;
      for (const id of q.writable()) {
        const s = this.#streams.get(id);
        if (s !== undefined && !this.#wantWrite.has(s)) s.probeStopped();
      }
    }
    if (this.#wantWrite.size > 0) {
      for (const s of this.#wantWrite) {
        s.flushWrites();
        if (!s.hasQueuedWrites) this.#wantWrite.delete(s);
      }
    }
    for (let i = 0; i < 16; i++) {
      const retired = q.retiredScidNext();
      if (retired === null) break;
      this.#sink.removeConnectionId(this, retired);
    }
    if (this.#established && q.sourceCidsLeft() > 0) this.#issueConnectionIds();
    if (this.listenerCount('datagram') > 0) {
      for (let i = 0; i < 4096; i++) {
        const d = q.dgramRecvVec();
        if (d === null) break;
        this.emit('datagram', d);
      }
    }
  }

  /**
   * Gives the peer spare connection IDs (NEW_CONNECTION_ID, RFC 9000 §5.1.1) up to its
   * active_connection_id_limit, so it can move to a new path with a fresh ID (§9.5).
   */
  #issueConnectionIds(): void {
    const q = this.q;
    for (let i = 0; i < 8 && q.sourceCidsLeft() > 0; i++) {
      const cid = randomBytes(20);
      const token = BigInt(`0x${randomBytes(16).toString('hex')}`); // stateless reset token
      try {
        q.newSourceCid(cid, token, false);
      } catch {
        return;
      }
      this.#sink.addConnectionId(this, cid);
    }
  }

  /** A stream the peer opened, or undefined if it is one we already finished. */
  #remoteStream(id: number): QuicStream | undefined {
    if (isServerInitiated(id) === (this.side === 'server')) return undefined; // ours, gone
    const uni = isUni(id);
    const next = uni ? this.#nextRemoteUni : this.#nextRemoteBidi;
    if (id < next) {
      // Streams can become readable out of order: an id below the high-water mark is new
      // only if it was skipped over (RFC 9000 §3.2: opening stream N opens all below it).
      if (!this.#skipped.delete(id)) return undefined; // seen before and finished
    } else {
      // quiche enforces the stream limit, so at most maxStreams ids are ever skipped.
      for (let gap = next; gap < id; gap += 4) this.#skipped.add(gap);
      if (uni) this.#nextRemoteUni = id + 4;
      else this.#nextRemoteBidi = id + 4;
    }
    const s = new QuicStream(this, id, false, this.streamOptions);
    this.#streams.set(id, s);
    if (this.listenerCount('stream') === 0) {
      this.#unclaimed.add(s);
      return s;
    }
    this.emit('stream', s);
    return s.closed ? undefined : s;
  }

  #flush(): void {
    const q = this.q;
    const size = 65_536;
    for (;;) {
      const buf = this.#sink.packetBuffer(size);
      let r: [number, { to: QuicheHost }] | null;
      try {
        r = q.send(buf);
      } catch (err) {
        if (isDone(err)) break;
        throw err;
      }
      if (r === null) break;
      this.#sink.sendPacket(buf.subarray(0, r[0]), r[1].to);
    }
    this.#arm();
  }

  #arm(): void {
    const t = this.q.timeout();
    if (t === null) {
      if (this.#timer !== undefined) clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#deadline = Infinity;
      return;
    }
    const deadline = performance.now() + t;
    if (this.#timer !== undefined && Math.abs(deadline - this.#deadline) < 1) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#deadline = deadline;
    this.#timer = setTimeout(this.#onTimer, t);
  }

  readonly #onTimer = (): void => {
    this.#timer = undefined;
    this.#deadline = Infinity;
    if (this.#closed) return;
    this.q.onTimeout();
    this.#run();
  };

  #finish(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    const err = this.#closeError ?? this.#errorFromQuiche();
    this.#closeError = err;
    const streamErr = err ?? new ConnectionClosedError('the QUIC connection closed');
    for (const s of [...this.#streams.values()]) s.abort(streamErr);
    this.#streams.clear();
    this.#wantWrite.clear();
    this.#wantRead.clear();
    this.#unclaimed.clear();
    this.#rejectReady(
      err ?? new ConnectionClosedError('the QUIC connection closed before the handshake finished'),
    );
    this.#sink.connectionClosed(this);
    this.emit('close', err);
    this.#resolveClosed(err);
  }

  #errorFromQuiche(): Error | undefined {
    const q = this.q;
    if (q.isTimedOut()) return new QuicIdleTimeoutError();
    const describe = (
      initiator: 'local' | 'remote',
      e: QuicheConnectionError,
    ): Error | undefined => {
      if (e.errorCode === 0 && (e.isApp || initiator === 'local')) return undefined;
      const reason = decoder.decode(e.reason);
      if (!e.isApp && e.errorCode >= 0x100 && e.errorCode <= 0x1ff) {
        return new QuicHandshakeError(
          e.errorCode,
          `QUIC handshake failed (${initiator === 'local' ? 'we' : 'the peer'} sent TLS alert ${e.errorCode - 0x100}${reason === '' ? '' : `: ${reason}`})`,
        );
      }
      return new QuicConnectionError(initiator, e.isApp, e.errorCode, reason);
    };
    const peer = q.peerError();
    if (peer !== null) return describe('remote', peer);
    const local = q.localError();
    if (local !== null) return describe('local', local);
    if (!this.#established) {
      return new QuicHandshakeError(
        0,
        `QUIC handshake failed${this.#lastRecvError === undefined ? '' : `: ${this.#lastRecvError}`}`,
      );
    }
    return undefined;
  }

  /** Milliseconds since the connection object was created. */
  get ageMs(): number {
    return performance.now() - this.#openedAt;
  }
}
