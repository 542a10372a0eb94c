/**
 * HTTP/3 server (RFC 9114) on the QUIC endpoint, serving the one handler interface every
 * HTTP engine shares (DESIGN §4).
 *
 * Each request stream carries one exchange: the request head is validated as RFC 9114
 * §4.2-§4.3 require (the rules are HTTP/2's, RFC 9113 §8.2-§8.3, checked by the same
 * code); a malformed request is a stream error H3_MESSAGE_ERROR (§4.1.2). The response is
 * HEADERS and DATA frames, with trailers as a final HEADERS. Request bodies are pulled
 * with backpressure: a full body buffer pauses the QUIC stream, so flow control holds the
 * client back (RFC 9000 §4.1).
 *
 * Graceful close sends GOAWAY with the next stream id (§5.2), lets in-flight requests
 * finish, then closes each connection with H3_NO_ERROR.
 */
import type { Drainable } from '../../lifecycle/drainable.js';
import { diagnostics } from '../../monitoring/diagnostics.js';
import type { Logger } from '../../monitoring/logger.js';
import { noopObserver } from '../../monitoring/observer.js';
import type { Observer } from '../../monitoring/observer.js';
import { QuicEndpoint } from '../../transport/quic.js';
import type { QuicConnection, QuicOptions, QuicStream } from '../../transport/quic.js';
import type { SocketAddress } from '../../transport/types.js';
import { BodyStream } from '../http/body.js';
import { errorResponse } from '../http/error-response.js';
import { RequestAbortedError } from '../http/errors.js';
import { HeaderList } from '../http/headers.js';
import { ServerRequest } from '../http/request.js';
import { ServerResponse } from '../http/response.js';
import type { Handler, HttpRequest, ResponseSink } from '../http/types.js';
import { DateCache } from '../http1/serializer.js';
import { validateRequest, validateTrailers } from '../http2/fields.js';
import { FrameType, H3ErrorCode, SettingId, StreamType } from './codes.js';
import type { Http3ConnectionError, Http3StreamError } from './errors.js';
import { encodeFrameHeader } from './frames.js';
import { MessageReader } from './message.js';
import type { FieldLine } from './qpack/index.js';
import { Http3Session } from './session.js';
import {
  CapsuleReader,
  CapsuleType,
  WT_SESSION_GONE,
  WebTransportSession,
} from './webtransport.js';
import { decodeVarint } from './varint.js';
import type { Http3Settings } from './session.js';

export interface Http3ServerOptions {
  /** @default '127.0.0.1' */
  host?: string;
  /** UDP port; 0 picks one. @default 0 */
  port?: number;
  /** TLS and QUIC transport settings; `cert` and `key` are required. ALPN is "h3". */
  quic: Omit<QuicOptions, 'alpn'>;
  /** HTTP/3 and QPACK settings we advertise. */
  settings?: Http3Settings;
  /** Request body bytes buffered per stream before the stream is paused. @default 65536 */
  bodyHighWaterMark?: number;
  /** Limit of `req.bytes()/text()/json()`. @default 1048576 */
  bodyLimit?: number;
  /** Live QUIC connections. @default 10000 */
  maxConnections?: number;
  /** Stateless Retry before accepting (RFC 9000 §8.1.2). @default true */
  retry?: boolean;
  /** An existing endpoint to serve on instead of binding one (it must have server options). */
  endpoint?: QuicEndpoint;
  /**
   * Accept WebTransport sessions (extended CONNECT with `:protocol: webtransport`): turns
   * on QUIC datagrams, SETTINGS_ENABLE_CONNECT_PROTOCOL, SETTINGS_H3_DATAGRAM and the
   * WebTransport settings. `onSession` gets each accepted session.
   */
  webtransport?: {
    onSession: (session: WebTransportSession, req: HttpRequest) => void;
    /** Concurrent sessions per connection (SETTINGS_WT_MAX_SESSIONS). @default 16 */
    maxSessions?: number;
  };
  observer?: Observer;
  logger?: Logger;
}

/** Response fields that are connection-specific and never sent over HTTP/3 (§4.2). */
const DROPPED = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
]);

function responseFields(
  status: number,
  headers: HeaderList,
  date: string | undefined,
): FieldLine[] {
  const out: FieldLine[] = [[':status', String(status)]];
  let hasDate = false;
  for (let i = 0; i < headers.size; i++) {
    const name = headers.lowerNameAt(i);
    if (DROPPED.has(name)) continue;
    if (name === 'date') hasDate = true;
    out.push([name, headers.valueAt(i)]);
  }
  if (!hasDate && date !== undefined) out.push(['date', date]);
  return out;
}

function split(fields: readonly FieldLine[]): [string[], string[]] {
  const names: string[] = [];
  const values: string[] = [];
  for (const [n, v] of fields) {
    names.push(n);
    values.push(v);
  }
  return [names, values];
}

/** One request/response on one request stream; the shared response's sink. */
class Exchange implements ResponseSink {
  readonly session: ServerSession;
  readonly stream: QuicStream;
  readonly reader: MessageReader;
  req: ServerRequest | undefined;
  res: ServerResponse | undefined;
  body: BodyStream | undefined;
  method = '';
  status = 0;
  started = 0;
  done = false;
  #expected = -1;
  #received = 0;
  #noBody = false;
  #ended = false;
  #drain: (() => void) | undefined;

  #wt: WebTransportSession | undefined;
  #capsules: CapsuleReader | undefined;

  constructor(session: ServerSession, stream: QuicStream, initial?: Uint8Array) {
    this.session = session;
    this.stream = stream;
    stream.destroyCode = H3ErrorCode.H3_REQUEST_CANCELLED;
    this.reader = new MessageReader(
      stream,
      session.decoder,
      {
        onHeaders: (f) => this.#onHead(f),
        onData: (c) => this.#onData(c),
        onTrailers: (f) => this.#onTrailers(f),
        onEnd: () => this.#onEnd(),
        onFieldsTooLarge: () => this.#tooLarge(),
        onStreamError: (e) => this.#streamError(e),
        onConnectionError: (e) => session.fail(e),
      },
      () => session.flushDecoder(),
      session.settings.maxFramePayload,
      initial,
    );
    stream.on('drain', () => this.#drain?.());
    stream.on('close', () => this.#closed());
    stream.on('error', () => {});
  }

  #onHead(fields: FieldLine[]): void {
    const s = this.session.server;
    const [names, values] = split(fields);
    const wt = s.options.webtransport;
    const head = validateRequest(names, values, wt !== undefined);
    if (typeof head === 'string') {
      // §4.1.2: a malformed request is a stream error of type H3_MESSAGE_ERROR.
      this.#streamError({
        wireCode: H3ErrorCode.H3_MESSAGE_ERROR,
        message: head,
      } as Http3StreamError);
      return;
    }
    if (this.session.rejecting(this.stream.streamId)) {
      // §5.2: requests past our GOAWAY id were not processed; H3_REQUEST_REJECTED.
      this.stream.reset(H3ErrorCode.H3_REQUEST_REJECTED);
      this.stream.stopSending(H3ErrorCode.H3_REQUEST_REJECTED);
      return;
    }
    this.method = head.method;
    if (head.protocol !== undefined && wt !== undefined) {
      this.#webtransport(head.protocol, head.path ?? '/', head.authority, head.names, head.values);
      return;
    }
    this.#expected = head.contentLength;
    this.started = s.observing ? performance.now() : 0;
    this.body = new BodyStream({
      highWaterMark: s.bodyHighWaterMark,
      limit: s.bodyLimit,
      ...(head.contentLength >= 0 ? { expectedLength: head.contentLength } : {}),
      onPull: () => this.reader.resume(),
    });
    const conn = this.session.quic;
    this.req = new ServerRequest({
      method: head.method,
      target: head.path ?? head.authority ?? '',
      headers: HeaderList.fromTrusted(head.names, head.names.slice(), head.values),
      protocol: 'h3',
      scheme: 'https',
      authority: head.authority,
      remoteAddress: conn.remoteAddress,
      localAddress: conn.localAddress,
      body: this.body,
    });
    this.res = new ServerResponse(this, { request: this.req });
    if (diagnostics.httpRequestStart.hasSubscribers) {
      diagnostics.httpRequestStart.publish({ request: this.req });
    }
    try {
      const r = s.handler(this.req, this.res);
      if (r !== undefined && typeof (r as Promise<void>).then === 'function') {
        (r as Promise<void>).then(undefined, (err: unknown) => this.fail(err));
      }
    } catch (err) {
      this.fail(err);
    }
  }

  /** Extended CONNECT (RFC 9220): a WebTransport session, or 501 for other protocols. */
  #webtransport(
    protocol: string,
    path: string,
    authority: string | undefined,
    names: string[],
    values: string[],
  ): void {
    const session = this.session;
    const wt = session.server.options.webtransport!;
    if (protocol !== 'webtransport') {
      this.writeHead(501, undefined, new HeaderList([['content-length', '0']]), true);
      return;
    }
    if (session.webtransportSessions.size >= (wt.maxSessions ?? 16)) {
      this.writeHead(429, undefined, new HeaderList([['content-length', '0']]), true);
      return;
    }
    const req = new ServerRequest({
      method: 'CONNECT',
      target: path,
      headers: HeaderList.fromTrusted(names, names.slice(), values),
      protocol: 'h3',
      scheme: 'https',
      authority,
      remoteAddress: session.quic.remoteAddress,
      localAddress: session.quic.localAddress,
      body: BodyStream.empty(),
    });
    // Older Chromium builds speak draft-02 and want to see it confirmed.
    this.#sendFields(
      responseFields(200, new HeaderList([['sec-webtransport-http3-draft', 'draft02']]), undefined),
    );
    const wts = new WebTransportSession(session.quic, this.stream, path);
    this.#wt = wts;
    this.#capsules = new CapsuleReader();
    session.webtransportSessions.set(wts.id, wts);
    wts.once('close', () => session.webtransportSessions.delete(wts.id));
    try {
      wt.onSession(wts, req);
    } catch (err) {
      session.server.logger?.error({ err }, 'webtransport onSession failed');
      wts.close(0, 'internal error');
    }
  }

  #onData(chunk: Uint8Array): boolean {
    if (this.#capsules !== undefined) {
      try {
        for (const c of this.#capsules.push(chunk)) {
          if (c.type === CapsuleType.CLOSE_WEBTRANSPORT_SESSION && c.value.length >= 4) {
            const code = new DataView(c.value.buffer, c.value.byteOffset).getUint32(0);
            this.#wt?.terminate(code, new TextDecoder().decode(c.value.subarray(4)));
          }
        }
      } catch {
        this.#streamError({
          wireCode: H3ErrorCode.H3_MESSAGE_ERROR,
          message: 'bad capsule',
        } as Http3StreamError);
      }
      return true;
    }
    this.#received += chunk.length;
    if (this.#expected >= 0 && this.#received > this.#expected) {
      // §4.1.2: more DATA than content-length says is malformed.
      this.#streamError({
        wireCode: H3ErrorCode.H3_MESSAGE_ERROR,
        message: 'body longer than content-length',
      } as Http3StreamError);
      return true;
    }
    if (this.body === undefined) return true;
    return this.body.push(chunk);
  }

  #onTrailers(fields: FieldLine[]): void {
    const [names, values] = split(fields);
    const t = validateTrailers(names, values);
    if (typeof t === 'string') {
      this.#streamError({ wireCode: H3ErrorCode.H3_MESSAGE_ERROR, message: t } as Http3StreamError);
      return;
    }
    if (!this.#checkLength()) return;
    this.body?.end(HeaderList.fromTrusted(t.names, t.names.slice(), t.values));
  }

  #onEnd(): void {
    if (this.#wt !== undefined) {
      // The peer ended the CONNECT stream: the session is over (we end ours too).
      this.#wt.terminate(0, '');
      if (this.stream.writable) this.stream.end();
      return;
    }
    if (!this.#checkLength()) return;
    this.body?.end();
  }

  #checkLength(): boolean {
    if (this.#expected >= 0 && this.#received !== this.#expected) {
      this.#streamError({
        wireCode: H3ErrorCode.H3_MESSAGE_ERROR,
        message: 'body shorter than content-length',
      } as Http3StreamError);
      return false;
    }
    return true;
  }

  #tooLarge(): void {
    // RFC 9114 §4.2.2: a header section over our limit; answer 431 and stop reading.
    this.session.server.observer.error('h3', 'GN_ERR_H3_FIELD_SECTION_TOO_LARGE');
    this.method = 'GET';
    this.writeHead(431, undefined, new HeaderList([['content-length', '0']]), true);
    this.stream.stopSending(H3ErrorCode.H3_REQUEST_REJECTED);
  }

  #streamError(err: Pick<Http3StreamError, 'wireCode' | 'message'>): void {
    this.session.server.observer.error('h3', `GN_ERR_H3_STREAM_${err.wireCode.toString(16)}`);
    this.reader.cancel();
    this.stream.reset(err.wireCode);
    this.stream.stopSending(err.wireCode);
    this.#abortRequest(new RequestAbortedError(`HTTP/3 stream error: ${err.message}`));
  }

  #abortRequest(reason: Error): void {
    if (this.done) return;
    this.done = true;
    this.body?.fail(reason);
    if (this.req !== undefined) ServerRequest.abort(this.req, reason);
    this.session.finished(this, 'aborted');
  }

  #closed(): void {
    this.#wt?.terminate(WT_SESSION_GONE, 'CONNECT stream closed');
    this.reader.cancel();
    if (this.done) return;
    if (this.#ended) {
      this.done = true;
      this.session.finished(this, String(this.status));
      return;
    }
    const code = this.stream.peerResetCode ?? this.stream.peerStopSendingCode;
    this.#abortRequest(
      new RequestAbortedError(
        `The stream was reset${code === undefined ? '' : ` (code 0x${code.toString(16)})`}`,
      ),
    );
  }

  // ── ResponseSink ──
  get supportsTrailers(): boolean {
    return true;
  }

  get bufferedAmount(): number {
    return this.stream.bufferedAmount;
  }

  writeHead(status: number, _reason: string | undefined, headers: HeaderList, end: boolean): void {
    this.status = status;
    // HEAD responses and 204/304 carry no content (RFC 9110 §9.3.2, §6.4.1).
    if (this.method === 'HEAD' || status === 204 || status === 304) {
      this.#noBody = true;
      end = true;
    }
    this.#sendFields(responseFields(status, headers, this.session.server.date()));
    if (end) this.#end();
  }

  writeBody(chunk: Uint8Array, end: boolean): boolean {
    if (this.#noBody || !this.stream.writable) {
      if (end) this.#end();
      return true;
    }
    let ok = true;
    if (chunk.length > 0)
      ok = this.stream.writev([encodeFrameHeader(FrameType.DATA, chunk.length), chunk]);
    if (end) this.#end();
    return ok || end;
  }

  writeTrailers(trailers: HeaderList): void {
    if (this.#noBody) {
      this.#end();
      return;
    }
    const fields: FieldLine[] = [];
    for (let i = 0; i < trailers.size; i++) {
      const name = trailers.lowerNameAt(i);
      if (!DROPPED.has(name)) fields.push([name, trailers.valueAt(i)]);
    }
    this.#sendFields(fields);
    this.#end();
  }

  writeInformational(status: number, headers: HeaderList): void {
    this.#sendFields(responseFields(status, headers, undefined));
  }

  onDrain(listener: () => void): void {
    this.#drain = listener;
  }

  abort(): void {
    this.reader.cancel();
    this.stream.reset(H3ErrorCode.H3_INTERNAL_ERROR);
    this.stream.stopSending(H3ErrorCode.H3_INTERNAL_ERROR);
  }

  #sendFields(fields: FieldLine[]): void {
    if (!this.stream.writable) return;
    const block = this.session.encodeFields(this.stream.streamId, fields);
    this.stream.writev([encodeFrameHeader(FrameType.HEADERS, block.length), block]);
  }

  #end(): void {
    if (this.#ended) return;
    this.#ended = true;
    if (this.stream.writable) this.stream.end();
    // §4.1: the response is complete; an unread request body is not needed any more.
    if (this.body !== undefined && !this.body.complete && !this.stream.readEnded) {
      this.reader.cancel();
      this.stream.stopSending(H3ErrorCode.H3_NO_ERROR);
    }
  }

  /** The handler threw or rejected: answer with its status if nothing was sent, else reset. */
  fail(err: unknown): void {
    const s = this.session.server;
    if (this.done || this.stream.closed) return;
    if (this.res?.headersSent === true) {
      s.logger?.warn(
        { err, conn: this.session.quic.remoteAddress },
        'h3 handler failed mid-response',
      );
      this.abort();
      return;
    }
    const { status, headers, body, unexpected } = errorResponse(err);
    if (unexpected) s.logger?.error({ err }, 'h3 handler failed');
    this.writeHead(status, undefined, headers, false);
    this.writeBody(body, true);
  }
}

/** The SETTINGS a WebTransport server adds (RFC 9220, RFC 9297, the WebTransport drafts). */
function webtransportSettings(maxSessions: number): Map<number, number> {
  return new Map<number, number>([
    [SettingId.ENABLE_CONNECT_PROTOCOL, 1],
    [SettingId.H3_DATAGRAM, 1],
    [0xffd277, 1], // H3_DATAGRAM as draft-ietf-masque-h3-datagram-04 numbered it
    [SettingId.ENABLE_WEBTRANSPORT, 1], // draft-02
    [SettingId.WEBTRANSPORT_MAX_SESSIONS, maxSessions], // drafts 07-12
    [0x14e9cd29, maxSessions], // SETTINGS_WT_MAX_SESSIONS, drafts 13+
  ]);
}

class ServerSession extends Http3Session {
  readonly server: Http3Server;
  readonly exchanges = new Set<Exchange>();
  readonly webtransportSessions = new Map<number, WebTransportSession>();
  #goawayId: number | undefined;
  #shutdown = false;

  constructor(server: Http3Server, quic: QuicConnection) {
    const wt = server.options.webtransport;
    super(
      quic,
      server.options.settings ?? {},
      wt === undefined ? new Map<number, number>() : webtransportSettings(wt.maxSessions ?? 16),
    );
    this.server = server;
    if (wt !== undefined) quic.on('datagram', (d) => this.#onDatagram(d));
  }

  protected onRequestStream(s: QuicStream): void {
    if (s.local) return; // server-initiated bidirectional streams are not used by HTTP/3
    if (this.server.options.webtransport === undefined) {
      this.exchanges.add(new Exchange(this, s));
      return;
    }
    // A bidirectional stream is a request, or (WEBTRANSPORT_STREAM signal) a session's.
    this.#readSignal(s, (first, rest) => {
      if (first === FrameType.WEBTRANSPORT_STREAM) return 'session';
      this.exchanges.add(new Exchange(this, s, rest));
      return 'done';
    });
  }

  protected override onUnknownUniStream(s: QuicStream, type: number, rest: Uint8Array): boolean {
    if (type !== StreamType.WEBTRANSPORT_UNI || this.server.options.webtransport === undefined) {
      return false;
    }
    this.#readSessionId(s, rest);
    return true;
  }

  /**
   * Reads the first varint of `s`; `decide` either takes the stream over ('done', given
   * every byte read so far) or asks for the WebTransport session ID to follow ('session').
   */
  #readSignal(s: QuicStream, decide: (first: number, all: Uint8Array) => 'done' | 'session'): void {
    let buf: Uint8Array = new Uint8Array(0);
    const onData = (chunk: Uint8Array): void => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      const t = decodeVarint(buf, 0);
      if (t === undefined) return;
      s.off('data', onData);
      if (decide(t.value, buf) === 'session') this.#readSessionId(s, buf.subarray(t.next));
    };
    s.on('data', onData);
  }

  /** Reads the session ID after a WebTransport signal and hands the stream to its session. */
  #readSessionId(s: QuicStream, initial: Uint8Array): void {
    let buf = initial;
    const route = (): boolean => {
      const id = decodeVarint(buf, 0);
      if (id === undefined) return false;
      const wts = this.webtransportSessions.get(id.value);
      if (wts === undefined || wts.closed) {
        // Unknown or finished session (we do not buffer streams for sessions to come).
        s.destroyCode = WT_SESSION_GONE;
        s.destroy();
      } else {
        wts.deliverStream(s, buf.subarray(id.next));
      }
      return true;
    };
    if (route()) return;
    const onData = (chunk: Uint8Array): void => {
      buf = Buffer.concat([buf, chunk]);
      if (route()) s.off('data', onData);
    };
    s.on('data', onData);
  }

  /** RFC 9297 §2.1: a datagram starts with the quarter stream ID of its request stream. */
  #onDatagram(d: Uint8Array): void {
    const q = decodeVarint(d, 0);
    if (q === undefined || q.tooLarge === true) {
      this.connectionError(H3ErrorCode.H3_DATAGRAM_ERROR, 'malformed HTTP datagram');
      return;
    }
    // Datagrams for unknown or closed sessions are dropped (§2.1 allows it).
    this.webtransportSessions.get(q.value * 4)?.deliverDatagram(d.subarray(q.next));
  }

  protected onUnblocked(ids: number[]): void {
    for (const ex of this.exchanges) if (ids.includes(ex.stream.streamId)) ex.reader.unblock();
  }

  protected onClosed(): void {
    for (const wts of [...this.webtransportSessions.values()])
      wts.terminate(WT_SESSION_GONE, 'connection closed');
    for (const ex of [...this.exchanges])
      ex.stream.abort(new RequestAbortedError('The connection closed'));
    this.server.sessions.delete(this);
  }

  /** Requests on streams at or past our GOAWAY id are rejected (§5.2). */
  rejecting(streamId: number): boolean {
    return this.#goawayId !== undefined && streamId >= this.#goawayId;
  }

  finished(ex: Exchange, outcome: string): void {
    if (!this.exchanges.delete(ex)) return;
    const s = this.server;
    if (s.observing && ex.req !== undefined) {
      s.observer.requestFinished('h3', ex.method, outcome, (performance.now() - ex.started) / 1000);
    }
    if (this.#shutdown && this.exchanges.size === 0) this.#closeSoon();
  }

  /**
   * Closes once the last responses had time to reach the client: a response's stream
   * closes when its bytes are handed to QUIC, not when they are acknowledged, and
   * CONNECTION_CLOSE discards unsent data. The client usually closes first (it does so
   * after GOAWAY once idle).
   */
  #closeSoon(): void {
    const rtt = this.quic.closed ? 0 : this.quic.stats().rttMs;
    const t = setTimeout(
      () => void this.quic.close(H3ErrorCode.H3_NO_ERROR),
      Math.max(100, 4 * rtt),
    );
    t.unref();
  }

  fail(err: Http3ConnectionError | Error): void {
    const code = (err as Http3ConnectionError).wireCode;
    this.server.observer.error('h3', (err as { code?: string }).code ?? 'GN_ERR_H3');
    this.connectionError(
      typeof code === 'number' ? code : H3ErrorCode.H3_INTERNAL_ERROR,
      err.message,
    );
  }

  /** GOAWAY, then close once in-flight requests are done (§5.2). */
  shutdown(): void {
    if (this.#shutdown) return;
    this.#shutdown = true;
    let next = 0;
    for (const ex of this.exchanges) next = Math.max(next, ex.stream.streamId + 4);
    this.#goawayId = next;
    this.sendGoaway(next);
    if (this.exchanges.size === 0) this.#closeSoon();
  }
}

export class Http3Server {
  readonly handler: Handler;
  readonly options: Readonly<Http3ServerOptions>;
  readonly observer: Observer;
  readonly observing: boolean;
  readonly logger: Logger | undefined;
  readonly bodyHighWaterMark: number;
  readonly bodyLimit: number;
  readonly sessions = new Set<ServerSession>();
  #endpoint: QuicEndpoint | undefined;
  #ownEndpoint = false;
  #closing: Promise<void> | undefined;
  readonly #dates = new DateCache();

  constructor(handler: Handler, options: Http3ServerOptions) {
    this.handler = handler;
    this.options = options;
    this.observer = options.observer ?? noopObserver;
    this.observing = this.observer !== noopObserver;
    this.logger = options.logger;
    this.bodyHighWaterMark = options.bodyHighWaterMark ?? 64 * 1024;
    this.bodyLimit = options.bodyLimit ?? 1024 * 1024;
  }

  get address(): SocketAddress {
    return this.#endpoint?.address ?? { address: '', port: 0, family: 'IPv4' };
  }

  get endpoint(): QuicEndpoint | undefined {
    return this.#endpoint;
  }

  date(): string {
    return this.#dates.get(Date.now());
  }

  async listen(): Promise<this> {
    const o = this.options;
    if (o.endpoint !== undefined) {
      this.#endpoint = o.endpoint;
    } else {
      this.#endpoint = await QuicEndpoint.create({
        ...(o.host !== undefined ? { host: o.host } : {}),
        ...(o.port !== undefined ? { port: o.port } : {}),
        ...(o.maxConnections !== undefined ? { maxConnections: o.maxConnections } : {}),
        ...(o.retry !== undefined ? { retry: o.retry } : {}),
        ...(o.observer !== undefined ? { observer: o.observer } : {}),
        server: {
          ...o.quic,
          ...(o.webtransport !== undefined && o.quic.datagrams === undefined
            ? { datagrams: true }
            : {}),
          alpn: ['h3'],
        },
      });
      this.#ownEndpoint = true;
    }
    this.#endpoint.on('connection', this.handleConnection);
    return this;
  }

  /** Serve HTTP/3 on an established QUIC connection (ALPN h3). */
  handleConnection = (quic: QuicConnection): void => {
    if (this.#closing !== undefined) {
      void quic.close(H3ErrorCode.H3_NO_ERROR);
      return;
    }
    if (quic.alpnProtocol !== 'h3') {
      void quic.close(H3ErrorCode.H3_GENERAL_PROTOCOL_ERROR, 'ALPN is not h3');
      return;
    }
    this.sessions.add(new ServerSession(this, quic));
  };

  /** Graceful: GOAWAY to every connection, wait for in-flight requests (bounded), unbind. */
  close(timeoutMs = 10_000): Promise<void> {
    this.#closing ??= (async () => {
      this.#endpoint?.off('connection', this.handleConnection);
      const all = [...this.sessions];
      for (const s of all) s.shutdown();
      await Promise.race([
        Promise.all(all.map((s) => s.quic.closedPromise)),
        new Promise((r) => setTimeout(r, timeoutMs).unref()),
      ]);
      if (this.#ownEndpoint) await this.#endpoint?.close(H3ErrorCode.H3_NO_ERROR);
    })();
    return this.#closing;
  }

  async destroy(): Promise<void> {
    this.#closing ??= Promise.resolve();
    for (const s of this.sessions) s.quic.destroy(H3ErrorCode.H3_NO_ERROR);
    if (this.#ownEndpoint) await this.#endpoint?.close(H3ErrorCode.H3_NO_ERROR);
  }

  get drainable(): Drainable {
    return {
      name: 'h3',
      stopAccepting: async () => {
        this.#endpoint?.off('connection', this.handleConnection);
      },
      drain: () => this.close(),
      destroy: () => this.destroy(),
    };
  }
}

/** Listen for HTTP/3 on UDP. */
export function listenHttp3(options: Http3ServerOptions, handler: Handler): Promise<Http3Server> {
  return new Http3Server(handler, options).listen();
}

export type { HttpRequest };
