/**
 * QUIC options and their translation into a quiche `Config`. Defaults follow quiche's
 * own examples and RFC 9000 (§18.2 transport parameters); each is documented where it is
 * declared.
 */
import { rootCertificates } from 'node:tls';
import { InvalidOptionError } from '../../errors.js';
import type { Quiche, QuicheConfig } from './native.js';

export type PemInput = string | Uint8Array;

export interface QuicTlsOptions {
  /** PEM certificate chain (leaf first). Required for servers. */
  cert?: PemInput;
  /** PEM private key. Required for servers. */
  key?: PemInput;
  /** PEM CA bundle used to verify the peer. @default Node's bundled root certificates */
  ca?: PemInput;
  /**
   * Verify the peer's certificate against `ca` (clients: the server's; servers: ask for a
   * client certificate). @default true for clients, false for servers
   */
  verifyPeer?: boolean;
  /** ALPN protocols, most preferred first. @default ['h3'] */
  alpn?: readonly string[];
}

export interface QuicTransportOptions {
  /**
   * Close the connection after this long without a packet from the peer (RFC 9000
   * §10.1, `max_idle_timeout`); 0 disables. @default 30_000
   */
  maxIdleTimeoutMs?: number;
  /**
   * Largest UDP payload we send and accept (`max_udp_payload_size`). 1350 keeps clear of
   * fragmentation on common paths, as quiche and Chromium do. @default 1350
   */
  maxUdpPayloadSize?: number;
  /** Connection flow-control window granted at start (`initial_max_data`). @default 16 MiB */
  initialMaxData?: number;
  /** Per-stream window at start (`initial_max_stream_data_*`). @default 4 MiB */
  initialMaxStreamData?: number;
  /** Concurrent bidirectional streams the peer may open (`initial_max_streams_bidi`). @default 100 */
  maxStreamsBidi?: number;
  /** Concurrent unidirectional streams the peer may open. @default 100 */
  maxStreamsUni?: number;
  /** Upper bound of quiche's auto-tuned stream window. @default 16 MiB */
  maxStreamWindow?: number;
  /** Upper bound of quiche's auto-tuned connection window. @default 24 MiB */
  maxConnectionWindow?: number;
  /** Congestion control. @default 'cubic' */
  congestionControl?: 'cubic' | 'reno' | 'bbr';
  /**
   * Enable QUIC DATAGRAM frames (RFC 9221), with queue lengths for each direction.
   * @default disabled
   */
  datagrams?: { recvQueueLength?: number; sendQueueLength?: number } | boolean;
  /** Accept 0-RTT data (servers) / send it when resuming (clients). @default false */
  earlyData?: boolean;
  /** Session-ticket key (48 bytes) so tickets survive restarts or are shared by servers. */
  ticketKey?: Uint8Array;
  /** Refuse connection migration (`disable_active_migration`). @default true */
  disableActiveMigration?: boolean;
  /** Send GREASE values (RFC 9287-style) in transport parameters. @default true */
  grease?: boolean;
}

export type QuicOptions = QuicTlsOptions & QuicTransportOptions;

const SIGALGS = [
  'ecdsa_secp256r1_sha256',
  'ecdsa_secp384r1_sha384',
  'ecdsa_secp521r1_sha512',
  'ed25519',
  'rsa_pss_rsae_sha256',
  'rsa_pss_rsae_sha384',
  'rsa_pss_rsae_sha512',
  'rsa_pkcs1_sha256',
  'rsa_pkcs1_sha384',
  'rsa_pkcs1_sha512',
].join(':');

const encoder = new TextEncoder();

function pem(input: PemInput): Uint8Array {
  return typeof input === 'string' ? encoder.encode(input) : input;
}

function positiveInt(name: string, v: number | undefined, dflt: number, min = 0): number {
  if (v === undefined) return dflt;
  if (!Number.isSafeInteger(v) || v < min) {
    throw new InvalidOptionError(`${name} must be an integer ≥ ${min}, got ${String(v)}`);
  }
  return v;
}

/** Resolved transport settings (exposed for tests and diagnostics). */
export interface ResolvedQuicOptions {
  maxIdleTimeoutMs: number;
  maxUdpPayloadSize: number;
  initialMaxData: number;
  initialMaxStreamData: number;
  maxStreamsBidi: number;
  maxStreamsUni: number;
  maxStreamWindow: number;
  maxConnectionWindow: number;
  datagrams: { recvQueueLength: number; sendQueueLength: number } | undefined;
  alpn: readonly string[];
}

export function resolveOptions(o: QuicOptions): ResolvedQuicOptions {
  const alpn = o.alpn ?? ['h3'];
  if (alpn.length === 0 || alpn.some((p) => p.length === 0 || p.length > 255)) {
    throw new InvalidOptionError('alpn must list 1-255 byte protocol names');
  }
  let datagrams: ResolvedQuicOptions['datagrams'];
  if (o.datagrams === true) datagrams = { recvQueueLength: 1024, sendQueueLength: 1024 };
  else if (typeof o.datagrams === 'object') {
    datagrams = {
      recvQueueLength: positiveInt(
        'datagrams.recvQueueLength',
        o.datagrams.recvQueueLength,
        1024,
        1,
      ),
      sendQueueLength: positiveInt(
        'datagrams.sendQueueLength',
        o.datagrams.sendQueueLength,
        1024,
        1,
      ),
    };
  }
  return {
    maxIdleTimeoutMs: positiveInt('maxIdleTimeoutMs', o.maxIdleTimeoutMs, 30_000),
    maxUdpPayloadSize: positiveInt('maxUdpPayloadSize', o.maxUdpPayloadSize, 1350, 1200),
    initialMaxData: positiveInt('initialMaxData', o.initialMaxData, 16 << 20),
    initialMaxStreamData: positiveInt('initialMaxStreamData', o.initialMaxStreamData, 4 << 20),
    maxStreamsBidi: positiveInt('maxStreamsBidi', o.maxStreamsBidi, 100),
    maxStreamsUni: positiveInt('maxStreamsUni', o.maxStreamsUni, 100),
    maxStreamWindow: positiveInt('maxStreamWindow', o.maxStreamWindow, 16 << 20),
    maxConnectionWindow: positiveInt('maxConnectionWindow', o.maxConnectionWindow, 24 << 20),
    datagrams,
    alpn,
  };
}

/** Builds a quiche Config for one side. Throws InvalidOptionError on bad PEM or options. */
export function buildConfig(q: Quiche, side: 'server' | 'client', o: QuicOptions): QuicheConfig {
  const r = resolveOptions(o);
  if (side === 'server' && (o.cert === undefined || o.key === undefined)) {
    throw new InvalidOptionError('a QUIC server needs cert and key (PEM)');
  }
  if ((o.cert === undefined) !== (o.key === undefined)) {
    throw new InvalidOptionError('cert and key must be given together');
  }
  const verify = o.verifyPeer ?? side === 'client';
  // BoringSSL starts with no trust anchors: a verifying client without a CA uses Node's.
  const ca = o.ca ?? (verify && side === 'client' ? rootCertificates.join('\n') : undefined);
  let config: QuicheConfig;
  try {
    config = q.Config.withBoringSslCtx(
      verify,
      false,
      ca === undefined ? null : pem(ca),
      o.key === undefined ? null : [pem(o.key)],
      o.cert === undefined ? null : [pem(o.cert)],
      SIGALGS,
    );
  } catch (err) {
    throw new InvalidOptionError(
      `QUIC TLS configuration rejected (cert, key or ca is not valid PEM?): ${(err as Error).message}`,
    );
  }
  config.setApplicationProtos([...r.alpn]);
  config.setMaxIdleTimeout(r.maxIdleTimeoutMs);
  config.setMaxRecvUdpPayloadSize(r.maxUdpPayloadSize);
  config.setMaxSendUdpPayloadSize(r.maxUdpPayloadSize);
  config.setInitialMaxData(r.initialMaxData);
  config.setInitialMaxStreamDataBidiLocal(r.initialMaxStreamData);
  config.setInitialMaxStreamDataBidiRemote(r.initialMaxStreamData);
  config.setInitialMaxStreamDataUni(r.initialMaxStreamData);
  config.setInitialMaxStreamsBidi(r.maxStreamsBidi);
  config.setInitialMaxStreamsUni(r.maxStreamsUni);
  config.setMaxStreamWindow(r.maxStreamWindow);
  config.setMaxConnectionWindow(r.maxConnectionWindow);
  config.setDisableActiveMigration(o.disableActiveMigration ?? true);
  config.grease(o.grease ?? true);
  config.setCcAlgorithmName(o.congestionControl ?? 'cubic');
  if (r.datagrams !== undefined) {
    config.enableDgram(true, r.datagrams.recvQueueLength, r.datagrams.sendQueueLength);
  }
  if (o.earlyData === true) config.enableEarlyData();
  if (o.ticketKey !== undefined) config.setTicketKey(o.ticketKey);
  return config;
}
