/**
 * TLS stream transport over node:tls (DESIGN §3): `listenTls` and `connectTls` hand out
 * `StreamConnection`s with `alpnProtocol` (RFC 7301) and `servername` (SNI, RFC 6066 §3) set.
 *
 * Server certificates are chosen by SNI through pre-built SecureContexts and the matching
 * rules of sni.ts (exact names, single-label wildcards, RFC 6125 §6.4). They can be swapped
 * at runtime with `setCertificates`: new handshakes use the new set, live connections are
 * untouched.
 */
import { X509Certificate, randomBytes } from 'node:crypto';
import { isIP, type Server, type Socket } from 'node:net';
import {
  createSecureContext,
  createServer as createTlsServer,
  connect as tlsConnect,
  type ConnectionOptions,
  type SecureContext,
  type SecureContextOptions,
  type TLSSocket,
} from 'node:tls';
import { InvalidOptionError } from '../errors.js';
import { noopObserver } from '../monitoring/observer.js';
import { TlsError } from './errors.js';
import { ServerNameTable, normalizeServerName } from './sni.js';
import { SocketConnection, checkMs } from './socket-connection.js';
import {
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_SERVER_IDLE_TIMEOUT_MS,
  NetStreamServer,
  checkConnectOptions,
  checkServerOptions,
  connectSocket,
  type TcpConnectOptions,
  type TcpServerOptions,
} from './tcp.js';
import type { StreamConnection } from './types.js';

/** Default deadline for a server-side TLS handshake. */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;
/** Most certificates one server holds. */
export const MAX_CERTIFICATES = 1_000;
/** Most ALPN protocol names in one list. */
export const MAX_ALPN_PROTOCOLS = 32;

/** PEM text or DER/PEM bytes. */
export type TlsPem = string | Uint8Array;
/** One or several trusted CA certificates. */
export type TlsCaInput = TlsPem | TlsPem[];
export type TlsMinVersion = 'TLSv1.2' | 'TLSv1.3';

export interface TlsCertificate {
  /** Certificate chain, PEM (leaf first, then intermediates). */
  cert: TlsPem;
  /** Private key, PEM. */
  key: TlsPem;
  /**
   * Names this certificate serves (exact or `*.`-wildcard). When omitted, the DNS
   * subjectAltNames of the leaf are used, or its subject CN when it has no DNS SAN
   * (RFC 6125 §6.4.4); names that are not valid DNS names are ignored.
   * @default the certificate's DNS subjectAltNames
   */
  serverNames?: string[];
}

export interface TlsServerOptions extends TcpServerOptions {
  /**
   * Certificates to serve, picked by SNI. The first one is the default, used when the
   * client sends no SNI or a name none of them serves. At least one is required.
   */
  certificates: TlsCertificate[];
  /**
   * ALPN protocols in server preference order (RFC 7301 §3.2): the first one the client
   * also offers wins. When omitted, no ALPN is negotiated.
   * @default undefined
   */
  alpnProtocols?: string[];
  /**
   * Ask clients for a certificate; those without one (or with an untrusted one) are still
   * accepted, with `authorized` false on the connection.
   * @default false
   */
  requestClientCertificate?: boolean;
  /**
   * Mutual TLS: refuse clients that do not present a certificate signed by `ca`.
   * @default false
   */
  requireClientCertificate?: boolean;
  /**
   * CAs trusted for client certificates.
   * @default node's bundled root CAs
   */
  ca?: TlsCaInput;
  /**
   * Deadline for a client to complete the handshake; it is destroyed and reported
   * through `clientError` after it.
   * @default 10000
   */
  handshakeTimeoutMs?: number;
  /**
   * Lowest TLS version accepted.
   * @default 'TLSv1.2'
   */
  minVersion?: TlsMinVersion;
}

export interface TlsConnectOptions extends TcpConnectOptions {
  /**
   * SNI name to send and to verify the server certificate against. IP literals are not
   * allowed in SNI (RFC 6066 §3).
   * @default `host` when it is a DNS name; none for an IP literal
   */
  servername?: string;
  /**
   * CAs trusted for the server certificate.
   * @default node's bundled root CAs
   */
  ca?: TlsCaInput;
  /**
   * Client certificate chain for mutual TLS.
   * @default undefined
   */
  cert?: TlsPem;
  /**
   * Private key of `cert`.
   * @default undefined
   */
  key?: TlsPem;
  /**
   * ALPN protocols to offer, in preference order.
   * @default undefined (no ALPN extension)
   */
  alpnProtocols?: string[];
  /**
   * Verify the server certificate chain and name; never disable outside tests.
   * @default true
   */
  rejectUnauthorized?: boolean;
  /**
   * Lowest TLS version accepted.
   * @default 'TLSv1.2'
   */
  minVersion?: TlsMinVersion;
}

function toBuffer(value: TlsPem): string | Buffer {
  if (typeof value === 'string') return value;
  return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

function toCa(ca: TlsCaInput | undefined): string | Buffer | Array<string | Buffer> | undefined {
  if (ca === undefined) return undefined;
  return Array.isArray(ca) ? ca.map(toBuffer) : toBuffer(ca);
}

function checkAlpn(list: string[] | undefined): void {
  if (list === undefined) return;
  if (!Array.isArray(list) || list.length === 0 || list.length > MAX_ALPN_PROTOCOLS) {
    throw new InvalidOptionError(
      `alpnProtocols must be a non-empty array of at most ${MAX_ALPN_PROTOCOLS} names`,
    );
  }
  for (const p of list) {
    // RFC 7301 §3.1: each protocol name is 1 to 255 bytes.
    if (typeof p !== 'string' || p.length === 0 || Buffer.byteLength(p) > 255) {
      throw new InvalidOptionError(`invalid ALPN protocol name ${JSON.stringify(p)} (1–255 bytes)`);
    }
  }
}

function checkMinVersion(v: string | undefined): void {
  if (v !== undefined && v !== 'TLSv1.2' && v !== 'TLSv1.3') {
    throw new InvalidOptionError(`minVersion must be 'TLSv1.2' or 'TLSv1.3', got ${String(v)}`);
  }
}

/** DNS names a certificate serves: its DNS SANs, else its subject CN (RFC 6125 §6.4.4). */
export function certificateServerNames(cert: TlsPem): string[] {
  const x509 = new X509Certificate(toBuffer(cert));
  const names: string[] = [];
  const san = x509.subjectAltName;
  if (san !== undefined) {
    for (const entry of san.split(', ')) {
      if (!entry.startsWith('DNS:')) continue;
      let name = entry.slice(4);
      if (name.startsWith('"') && name.endsWith('"')) name = name.slice(1, -1);
      names.push(name);
    }
    if (names.length > 0) return names;
  }
  for (const line of x509.subject.split('\n')) {
    if (line.startsWith('CN=')) names.push(line.slice(3));
  }
  return names;
}

function isUsableName(name: string): boolean {
  return normalizeServerName(name.startsWith('*.') ? name.slice(2) : name) !== undefined;
}

interface ServerTlsSettings {
  readonly ca: string | Buffer | Array<string | Buffer> | undefined;
  readonly minVersion: TlsMinVersion;
  readonly sessionIdContext: string;
}

interface BuiltCertificates {
  readonly table: ServerNameTable<SecureContext>;
  readonly defaultOptions: SecureContextOptions;
}

function buildCertificates(
  certificates: TlsCertificate[],
  settings: ServerTlsSettings,
): BuiltCertificates {
  if (!Array.isArray(certificates) || certificates.length === 0) {
    throw new InvalidOptionError('certificates must hold at least one { cert, key }');
  }
  if (certificates.length > MAX_CERTIFICATES) {
    throw new InvalidOptionError(`at most ${MAX_CERTIFICATES} certificates per server`);
  }
  const table = new ServerNameTable<SecureContext>();
  let defaultOptions: SecureContextOptions | undefined;
  certificates.forEach((c, i) => {
    if (c === null || typeof c !== 'object' || c.cert === undefined || c.key === undefined) {
      throw new InvalidOptionError(`certificates[${i}] needs both cert and key`);
    }
    const options: SecureContextOptions = {
      cert: toBuffer(c.cert),
      key: toBuffer(c.key),
      minVersion: settings.minVersion,
      sessionIdContext: settings.sessionIdContext,
      // The CA store must travel with every context: after an SNI switch, OpenSSL verifies
      // client certificates against the selected context's store.
      ...(settings.ca !== undefined ? { ca: settings.ca } : {}),
    };
    let ctx: SecureContext;
    let derived: string[];
    try {
      ctx = createSecureContext(options);
      derived = c.serverNames ?? certificateServerNames(c.cert).filter(isUsableName);
    } catch (err) {
      throw new TlsError(`certificates[${i}] is not a usable certificate and key`, { cause: err });
    }
    for (const name of derived) table.add(name, ctx);
    defaultOptions ??= options;
  });
  return { table, defaultOptions: defaultOptions as SecureContextOptions };
}

/** A listening TLS server. */
export class TlsServer extends NetStreamServer {
  readonly kind = 'tls' as const;
  readonly #settings: ServerTlsSettings;
  #table: ServerNameTable<SecureContext>;

  /** Use `listenTls`. */
  private constructor(
    server: Server,
    options: TlsServerOptions,
    built: BuiltCertificates,
    settings: ServerTlsSettings,
  ) {
    super(server, {
      kind: 'tls',
      highWaterMark: options.highWaterMark,
      idleTimeoutMs: options.idleTimeoutMs ?? DEFAULT_SERVER_IDLE_TIMEOUT_MS,
      observer: options.observer ?? noopObserver,
    });
    this.#settings = settings;
    this.#table = built.table;
    server.on('secureConnection', (socket: TLSSocket) => {
      const sn = (socket as { servername?: string | false }).servername;
      this.adopt(socket, typeof sn === 'string' && sn !== '' ? sn : undefined);
    });
    server.on('tlsClientError', (err: Error, socket: TLSSocket) => {
      const code = (err as { code?: unknown }).code;
      const detail = typeof code === 'string' ? `${code}: ${err.message}` : err.message;
      this.emitClientError(
        new TlsError(`TLS handshake failed (${detail})`, { cause: err }),
        socket,
      );
    });
  }

  /** SNICallback: the pre-built context for the name, or the default (undefined). */
  readonly #selectContext = (
    servername: string,
    cb: (err: Error | null, ctx?: SecureContext) => void,
  ): void => {
    cb(null, this.#table.match(servername));
  };

  /**
   * Replace the certificates without a restart. New handshakes use the new set; live
   * connections keep the certificate they negotiated. Throws (and keeps the old set) when
   * the new set is invalid.
   */
  setCertificates(certificates: TlsCertificate[]): void {
    const built = buildCertificates(certificates, this.#settings);
    (this.server as Server & { setSecureContext(o: SecureContextOptions): void }).setSecureContext(
      built.defaultOptions,
    );
    this.#table = built.table;
  }

  /** @internal Construct and bind; use `listenTls`. */
  static async open(
    options: TlsServerOptions,
    onConnection?: (conn: StreamConnection) => void,
  ): Promise<TlsServer> {
    if (options === null || typeof options !== 'object') {
      throw new InvalidOptionError('listenTls needs options with at least { certificates }');
    }
    checkServerOptions(options);
    checkAlpn(options.alpnProtocols);
    checkMinVersion(options.minVersion);
    checkMs('handshakeTimeoutMs', options.handshakeTimeoutMs, false);
    const settings: ServerTlsSettings = {
      ca: toCa(options.ca),
      minVersion: options.minVersion ?? 'TLSv1.2',
      // Up to 32 bytes (SSL_MAX_SID_CTX_LENGTH); needed for resumption with client certs.
      sessionIdContext: randomBytes(16).toString('hex'),
    };
    const built = buildCertificates(options.certificates, settings);
    const requireCert = options.requireClientCertificate ?? false;
    // Lets the SNICallback reach the instance constructed just below.
    const holder: { server?: TlsServer } = {};
    const server = createTlsServer({
      ...built.defaultOptions,
      SNICallback: (name, cb) => {
        if (holder.server === undefined) cb(null, undefined);
        else holder.server.#selectContext(name, cb);
      },
      ...(options.alpnProtocols !== undefined ? { ALPNProtocols: options.alpnProtocols } : {}),
      requestCert: requireCert || (options.requestClientCertificate ?? false),
      rejectUnauthorized: requireCert,
      handshakeTimeout: options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS,
      allowHalfOpen: true,
      noDelay: options.noDelay ?? true,
      ...(options.highWaterMark !== undefined ? { highWaterMark: options.highWaterMark } : {}),
    });
    server.maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
    const tls = new TlsServer(server, options, built, settings);
    holder.server = tls;
    if (onConnection !== undefined) tls.on('connection', onConnection);
    await tls.listen(options);
    return tls;
  }
}

/** Listen for TLS connections; resolves once bound, rejects with BindError. */
export function listenTls(
  options: TlsServerOptions,
  onConnection?: (conn: StreamConnection) => void,
): Promise<TlsServer> {
  return TlsServer.open(options, onConnection);
}

/**
 * Open a TLS connection; resolves after the handshake with `alpnProtocol` and `servername`
 * set. Rejects with ConnectError, TlsError (`GN_ERR_TLS`: handshake or certificate check
 * failed), ConnectTimeoutError (connect plus handshake) or AbortError.
 */
export async function connectTls(options: TlsConnectOptions): Promise<StreamConnection> {
  checkConnectOptions(options);
  checkAlpn(options.alpnProtocols);
  checkMinVersion(options.minVersion);
  if (options.servername !== undefined && normalizeServerName(options.servername) === undefined) {
    throw new InvalidOptionError(
      `servername must be a DNS name, got ${JSON.stringify(options.servername)} (RFC 6066 §3 forbids IP literals)`,
    );
  }
  if ((options.cert === undefined) !== (options.key === undefined)) {
    throw new InvalidOptionError('cert and key must be given together');
  }
  const servername = options.servername ?? (isIP(options.host) === 0 ? options.host : undefined);
  const ca = toCa(options.ca);
  return connectSocket(options, {
    kind: 'tls',
    readyEvent: 'secureConnect',
    create: (): Socket => {
      // node:tls passes allowHalfOpen on to the TLSSocket; @types/node lacks it.
      const connectOptions: ConnectionOptions & { allowHalfOpen: boolean } = {
        host: options.host,
        port: options.port,
        allowHalfOpen: true,
        rejectUnauthorized: options.rejectUnauthorized ?? true,
        minVersion: options.minVersion ?? 'TLSv1.2',
        ...(servername !== undefined ? { servername } : {}),
        ...(ca !== undefined ? { ca } : {}),
        ...(options.cert !== undefined ? { cert: toBuffer(options.cert) } : {}),
        ...(options.key !== undefined ? { key: toBuffer(options.key) } : {}),
        ...(options.alpnProtocols !== undefined ? { ALPNProtocols: options.alpnProtocols } : {}),
      };
      const socket = tlsConnect(connectOptions);
      socket.setNoDelay(options.noDelay ?? true);
      return socket;
    },
    wrap: (socket) =>
      new SocketConnection(socket, {
        kind: 'tls',
        highWaterMark: options.highWaterMark,
        idleTimeoutMs: options.idleTimeoutMs ?? 0,
        observer: options.observer ?? noopObserver,
        ...(servername !== undefined ? { servername } : {}),
      }),
  });
}
