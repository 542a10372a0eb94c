/**
 * HTTP/1.1 and HTTP/2 on one port, with one handler (DESIGN §4):
 *
 * - TLS: ALPN picks "h2" or "http/1.1" (RFC 9113 §3.2);
 * - cleartext: a connection that starts with the client preface is h2c with prior
 *   knowledge (RFC 9113 §3.3); any other is HTTP/1.1, and a request carrying
 *   `Upgrade: h2c` with HTTP2-Settings and no body switches to HTTP/2 (RFC 7540 §3.2).
 */
import type { Drainable } from '../../lifecycle/drainable.js';
import { listenTcp } from '../../transport/tcp.js';
import type { TcpServerOptions } from '../../transport/tcp.js';
import { listenTls } from '../../transport/tls.js';
import type { SocketAddress, StreamConnection, StreamServer } from '../../transport/types.js';
import type { HeaderList } from '../http/headers.js';
import type { Handler, HttpRequest } from '../http/types.js';
import { Http1Server } from '../http1/server.js';
import type { Http1ServerOptions } from '../http1/server.js';
import { CLIENT_PREFACE } from './codes.js';
import { Http2Server } from './server.js';
import type { Http2ServerOptions } from './server.js';

export interface HttpServerOptions extends Http1ServerOptions {
  /**
   * HTTP/2 settings (limits, body sizes, the extended CONNECT hook), or false to serve
   * HTTP/1.1 only.
   * @default {} (HTTP/2 on)
   */
  http2?: false | Omit<Http2ServerOptions, 'host' | 'port' | 'tls' | 'observer' | 'logger'>;
  /**
   * Accept h2c Upgrade requests from HTTP/1.1 (cleartext only).
   * @default true
   */
  h2cUpgrade?: boolean;
}

/** The Upgrade field offers h2c and nothing else a user hook could want. */
function offersOnlyH2c(headers: HeaderList): boolean {
  const upgrade = headers.get('upgrade');
  if (upgrade === undefined) return false;
  return upgrade.split(',').every((t) => /^\s*h2c\s*$/i.test(t));
}

/** Whether an HTTP/1.1 request may switch to h2c (RFC 7540 §3.2, §3.2.1). */
function isH2cUpgrade(method: string, headers: HeaderList): boolean {
  const upgrade = headers.get('upgrade');
  if (upgrade === undefined || !/(^|,)\s*h2c\s*(,|$)/i.test(upgrade)) return false;
  // §3.2.1: exactly one HTTP2-Settings field, and it is a connection option.
  if (headers.getAll('http2-settings').length !== 1) return false;
  const connection = headers.get('connection') ?? '';
  if (!/(^|,)\s*http2-settings\s*(,|$)/i.test(connection)) return false;
  // A request with a body would have to be read entirely before switching; such requests
  // are served over HTTP/1.1 (the Upgrade is ignored, RFC 9110 §7.8).
  const cl = headers.get('content-length');
  if (headers.has('transfer-encoding') || (cl !== undefined && cl !== '0')) return false;
  return method !== 'CONNECT';
}

export class HttpServer {
  readonly http1: Http1Server;
  readonly http2: Http2Server | undefined;
  readonly options: Readonly<HttpServerOptions>;
  #transport: StreamServer | undefined = undefined;
  #closing: Promise<void> | undefined = undefined;
  #tls = false;

  constructor(handler: Handler, options: HttpServerOptions = {}) {
    this.options = options;
    const h2 = options.http2;
    this.http2 =
      h2 === false
        ? undefined
        : new Http2Server(handler, {
            ...h2,
            ...(options.observer !== undefined ? { observer: options.observer } : {}),
            ...(options.logger !== undefined ? { logger: options.logger } : {}),
          });
    const userUpgrade = options.onUpgrade;
    const userShould = options.shouldUpgrade;
    const h2c =
      this.http2 !== undefined && options.h2cUpgrade !== false && options.tls === undefined;
    const h2server = this.http2;
    this.http1 = new Http1Server(handler, {
      ...options,
      ...(h2c || userUpgrade !== undefined
        ? {
            shouldUpgrade: (method: string, headers: HeaderList) =>
              (h2c && isH2cUpgrade(method, headers)) ||
              // An h2c offer we cannot take (a body, no HTTP2-Settings) is served as plain
              // HTTP/1.1 (RFC 9110 §7.8), never handed to the user's (WebSocket) hook.
              (userUpgrade !== undefined &&
                !offersOnlyH2c(headers) &&
                (userShould?.(method, headers) ?? true)),
            onUpgrade: (req: HttpRequest, conn: StreamConnection, head: Uint8Array) => {
              if (h2c && h2server !== undefined && isH2cUpgrade(req.method, req.headers)) {
                h2server.upgradeFromHttp1(req, conn, head);
              } else if (userUpgrade !== undefined) {
                userUpgrade(req, conn, head);
              } else {
                conn.destroy();
              }
            },
          }
        : {}),
    });
  }

  get address(): SocketAddress {
    if (this.#transport === undefined) return { address: '', port: 0, family: 'IPv4' };
    return this.#transport.address;
  }

  /** Serve a connection from any transport, choosing the protocol (see the file comment). */
  handleConnection = (conn: StreamConnection): void => {
    const h2 = this.http2;
    if (h2 === undefined) {
      this.http1.handleConnection(conn);
      return;
    }
    if (this.#tls || conn.alpnProtocol !== undefined) {
      if (conn.alpnProtocol === 'h2') h2.handleConnection(conn);
      else this.http1.handleConnection(conn);
      return;
    }
    // Cleartext: sniff for the client preface before choosing.
    let seen: Uint8Array[] = [];
    let length = 0;
    const onData = (chunk: Uint8Array): void => {
      seen.push(chunk);
      length += chunk.length;
      const bytes = seen.length === 1 ? chunk : Buffer.concat(seen, length);
      const n = Math.min(bytes.length, CLIENT_PREFACE.length);
      let match = true;
      for (let i = 0; i < n; i++) {
        if (bytes[i] !== CLIENT_PREFACE[i]) {
          match = false;
          break;
        }
      }
      if (match && n < CLIENT_PREFACE.length) {
        seen = [bytes];
        return; // not enough bytes yet
      }
      conn.off('data', onData);
      conn.off('close', onClose);
      if (match) h2.handleConnection(conn, bytes);
      else this.http1.handleConnection(conn, bytes);
    };
    const onClose = (): void => {
      conn.off('data', onData);
    };
    conn.on('data', onData);
    conn.on('close', onClose);
    // A client that connects and says nothing is closed by the transport's idle timeout.
  };

  async listen(): Promise<this> {
    const o = this.options;
    const tcp: TcpServerOptions = {
      ...(o.host !== undefined ? { host: o.host } : {}),
      ...(o.port !== undefined ? { port: o.port } : {}),
      ...(o.backlog !== undefined ? { backlog: o.backlog } : {}),
      ...(o.maxConnections !== undefined ? { maxConnections: o.maxConnections } : {}),
      ...(o.highWaterMark !== undefined ? { highWaterMark: o.highWaterMark } : {}),
      ...(o.observer !== undefined ? { observer: o.observer } : {}),
    };
    if (o.tls !== undefined) {
      this.#tls = true;
      this.http1.scheme = 'https';
      if (this.http2 !== undefined) this.http2.scheme = 'https';
      this.#transport = await listenTls(
        {
          ...tcp,
          alpnProtocols: this.http2 !== undefined ? ['h2', 'http/1.1'] : ['http/1.1'],
          ...o.tls,
        },
        this.handleConnection,
      );
    } else {
      this.#transport = await listenTcp(tcp, this.handleConnection);
    }
    return this;
  }

  /** Graceful close: stop accepting; HTTP/1.1 finishes in-flight requests, HTTP/2 sends GOAWAY. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.#transport?.stopAccepting();
      await Promise.all([this.http1.close(), this.http2?.close()]);
      await this.#transport?.destroy();
    })();
    return this.#closing;
  }

  async destroy(): Promise<void> {
    this.#closing ??= Promise.resolve();
    await Promise.all([this.http1.destroy(), this.http2?.destroy()]);
    await this.#transport?.destroy();
  }

  get drainable(): Drainable {
    return {
      name: 'http',
      stopAccepting: async () => {
        await this.#transport?.stopAccepting();
      },
      drain: () => this.close(),
      destroy: () => this.destroy(),
    };
  }
}

/** Listen for HTTP/1.1 and HTTP/2 on one port (HTTPS with `options.tls`). */
export function listenHttp(options: HttpServerOptions, handler: Handler): Promise<HttpServer> {
  return new HttpServer(handler, options).listen();
}
