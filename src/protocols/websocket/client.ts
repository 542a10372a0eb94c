/**
 * The WebSocket client binding: opens TCP (ws:) or TLS (wss:, SNI and ALPN http/1.1),
 * writes the opening handshake built by the core (`createClientHandshake`), parses the
 * response with the HTTP/1.1 decoder, checks it (`verifyServerHandshake`) and hands the
 * transport and the bytes after the 101 to a `WebSocket`.
 */
import { randomBytes } from 'node:crypto';
import { GhostnetError, TimeoutError } from '../../errors.js';
import { abortReason } from '../../lifecycle/deadline.js';
import { HeaderList } from '../http/headers.js';
import { Http1Decoder } from '../http1/decoder.js';
import { ConnectionClosedError } from '../../transport/errors.js';
import { connectTcp } from '../../transport/tcp.js';
import { connectTls } from '../../transport/tls.js';
import type { TlsCaInput } from '../../transport/tls.js';
import type { StreamConnection } from '../../transport/types.js';
import { PerMessageDeflate } from './deflate.js';
import type { PerMessageDeflateOptions } from './deflate.js';
import { createClientHandshake, HandshakeError, verifyServerHandshake } from './handshake.js';
import type { HandshakeErrorKind } from './handshake.js';
import type { WebSocketLimits } from './limits.js';
import { checkTextAs, WebSocket } from './socket.js';
import type { WebSocketSocketOptions } from './socket.js';

export interface WebSocketClientOptions extends Omit<WebSocketSocketOptions, 'limits'> {
  /** Subprotocols to offer, most preferred first. */
  protocols?: string[];
  /** Extra request headers (Authorization, Cookie, …). */
  headers?: Record<string, string>;
  /**
   * Offer permessage-deflate (RFC 7692): true for the defaults, or settings.
   * @default false
   */
  perMessageDeflate?: PerMessageDeflateOptions | boolean;
  /** TLS settings for wss: URLs. */
  tls?: {
    /** CAs to trust. @default node's bundled roots */
    ca?: TlsCaInput;
    /** Verify the certificate; never disable outside tests. @default true */
    rejectUnauthorized?: boolean;
    /** SNI name. @default the URL's host name (none for an IP literal) */
    servername?: string;
  };
  /**
   * Deadline for connecting and the whole opening handshake.
   * @default 10000
   */
  handshakeTimeoutMs?: number;
  /** Aborts the connection attempt (it has no effect once the WebSocket is open). */
  signal?: AbortSignal;
  /** Receive limits (see WebSocketLimits). */
  limits?: Partial<WebSocketLimits>;
  /** The Origin header to send. @default none */
  origin?: string;
}

/**
 * The server refused or botched the opening handshake. `status` is the HTTP status
 * received (101 when the 101 itself was invalid); `headers` are the response's.
 */
export class WebSocketHandshakeError extends HandshakeError {
  readonly status: number;
  readonly headers: HeaderList;

  constructor(cause: HandshakeError, status: number, headers: HeaderList) {
    super(cause.kind as HandshakeErrorKind, cause.message, cause.wireCode, cause.initiator);
    this.status = status;
    this.headers = headers;
  }
}

/** RFC 6066 §3: no IP literals in SNI. */
function isIpLiteral(host: string): boolean {
  return host.includes(':') || /^\d{1,3}(\.\d{1,3}){3}$/.test(host);
}

/** The response head was larger than this: the server is not speaking the protocol. */
const MAX_RESPONSE_BYTES = 64 * 1024;

/**
 * Open a WebSocket to a ws: or wss: URL. Rejects with WebSocketHandshakeError (carries
 * the HTTP status), ConnectError, TlsError, TimeoutError (`handshakeTimeoutMs`), AbortError
 * or ConnectionClosedError.
 */
export async function connectWebSocket(
  url: string | URL,
  options: WebSocketClientOptions = {},
): Promise<WebSocket> {
  checkTextAs(options.textAs);
  const target = new URL(url);
  const pmd =
    options.perMessageDeflate === undefined || options.perMessageDeflate === false
      ? false
      : options.perMessageDeflate === true
        ? {}
        : options.perMessageDeflate;
  const headers: Record<string, string> = { ...options.headers };
  if (options.origin !== undefined) headers.Origin = options.origin;
  const state = createClientHandshake({
    url: target,
    protocols: options.protocols ?? [],
    extensions: pmd,
    headers,
    randomBytes: (n) => randomBytes(n),
  });
  const timeoutMs = options.handshakeTimeoutMs ?? 10_000;
  const secure = target.protocol === 'wss:' || target.protocol === 'https:';
  const host = target.hostname.startsWith('[') ? target.hostname.slice(1, -1) : target.hostname;
  const port = target.port !== '' ? Number(target.port) : secure ? 443 : 80;
  const signal = options.signal;
  if (signal?.aborted) throw abortReason(signal);

  const tcp = {
    host,
    port,
    connectTimeoutMs: timeoutMs,
    ...(signal !== undefined ? { signal } : {}),
    ...(options.observer !== undefined ? { observer: options.observer } : {}),
  };
  const started = performance.now();
  let conn: StreamConnection;
  if (secure) {
    const servername = options.tls?.servername ?? (isIpLiteral(host) ? undefined : host);
    conn = await connectTls({
      ...tcp,
      alpnProtocols: ['http/1.1'],
      ...(servername !== undefined ? { servername } : {}),
      ...(options.tls?.ca !== undefined ? { ca: options.tls.ca } : {}),
      ...(options.tls?.rejectUnauthorized !== undefined
        ? { rejectUnauthorized: options.tls.rejectUnauthorized }
        : {}),
    });
  } else {
    conn = await connectTcp(tcp);
  }

  let head = `GET ${state.path} HTTP/1.1\r\n`;
  for (const [name, value] of state.requestHeaders) head += `${name}: ${value}\r\n`;
  head += '\r\n';

  return new Promise<WebSocket>((resolve, reject) => {
    const decoder = new Http1Decoder('response');
    decoder.pushRequestMethod('GET');
    let received = 0;
    let done = false;
    const left = Math.max(1, timeoutMs - (performance.now() - started));
    const timer = setTimeout(() => {
      fail(new TimeoutError(`WebSocket handshake did not complete within ${timeoutMs} ms`));
    }, left);
    const onAbort = (): void => fail(abortReason(signal!));
    const cleanup = (): void => {
      done = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      conn.off('data', onData);
      conn.off('close', onClose);
      conn.off('error', onError);
      conn.off('end', onEnd);
    };
    const fail = (err: Error): void => {
      if (done) return;
      cleanup();
      conn.destroy();
      reject(err);
    };
    const onError = (err: Error): void => fail(err);
    const onEnd = (): void => {
      for (const ev of decoder.finish()) if (ev.type === 'error') return fail(ev.error);
      fail(new ConnectionClosedError('The server closed the connection during the handshake'));
    };
    const onClose = (): void =>
      fail(new ConnectionClosedError('The connection closed during the WebSocket handshake'));
    const onData = (chunk: Uint8Array): void => {
      received += chunk.length;
      for (const ev of decoder.receive(chunk)) {
        if (ev.type === 'error') return fail(ev.error);
        if (ev.type === 'head') {
          const status = ev.head.statusCode;
          // RFC 6455 §4.1: a 1xx other than 101 is interim; keep reading.
          if (status >= 100 && status < 200 && status !== 101) continue;
          const resHeaders = new HeaderList(ev.head.headers);
          const verdict = verifyServerHandshake({ status, headers: resHeaders }, state);
          if (!verdict.ok) {
            return fail(new WebSocketHandshakeError(verdict.error, status, resHeaders));
          }
          pendingOpen = {
            protocol: verdict.protocol ?? '',
            extensions: resHeaders.get('sec-websocket-extensions') ?? '',
            deflate:
              verdict.deflateParams !== undefined && pmd !== false
                ? new PerMessageDeflate('client', verdict.deflateParams, pmd)
                : undefined,
          };
        } else if (ev.type === 'upgrade' && pendingOpen !== undefined) {
          cleanup();
          const ws = new WebSocket({
            ...socketOptions(options),
            role: 'client',
            conn,
            head: ev.rest,
            protocol: pendingOpen.protocol,
            extensions: pendingOpen.extensions,
            ...(pendingOpen.deflate !== undefined ? { deflate: pendingOpen.deflate } : {}),
            url: target.href,
          });
          resolve(ws);
          return;
        }
      }
      if (pendingOpen !== undefined) {
        // A 101 without `Connection: Upgrade` was refused by verifyServerHandshake already.
        return fail(new ConnectionClosedError('The 101 response did not switch protocols'));
      }
      if (received > MAX_RESPONSE_BYTES) {
        fail(
          new GhostnetError('GN_ERR_WS_HANDSHAKE_TOO_LARGE', 'The handshake response is too large'),
        );
      }
    };
    let pendingOpen:
      { protocol: string; extensions: string; deflate: PerMessageDeflate | undefined } | undefined;
    signal?.addEventListener('abort', onAbort, { once: true });
    conn.on('data', onData);
    conn.on('close', onClose);
    conn.on('error', onError);
    conn.on('end', onEnd);
    conn.write(Buffer.from(head, 'latin1'));
  });
}

function socketOptions(o: WebSocketClientOptions): WebSocketSocketOptions {
  const out: WebSocketSocketOptions = {};
  if (o.limits !== undefined) out.limits = o.limits;
  if (o.highWaterMark !== undefined) out.highWaterMark = o.highWaterMark;
  if (o.pingIntervalMs !== undefined) out.pingIntervalMs = o.pingIntervalMs;
  if (o.pongTimeoutMs !== undefined) out.pongTimeoutMs = o.pongTimeoutMs;
  if (o.closeTimeoutMs !== undefined) out.closeTimeoutMs = o.closeTimeoutMs;
  if (o.maxOutgoingFrameSize !== undefined) out.maxOutgoingFrameSize = o.maxOutgoingFrameSize;
  if (o.maxQueuedMessages !== undefined) out.maxQueuedMessages = o.maxQueuedMessages;
  if (o.maxQueuedBytes !== undefined) out.maxQueuedBytes = o.maxQueuedBytes;
  if (o.deflateSweepIntervalMs !== undefined) out.deflateSweepIntervalMs = o.deflateSweepIntervalMs;
  if (o.textAs !== undefined) out.textAs = o.textAs;
  if (o.observer !== undefined) out.observer = o.observer;
  return out;
}
