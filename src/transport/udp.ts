/**
 * UDP datagram endpoint over `node:dgram` (DESIGN §3), kind 'udp'.
 *
 * `send` never throws: oversize datagrams, sends on a closed socket and kernel errors
 * (EMSGSIZE, ENETUNREACH, DNS failures) surface as `error` events carrying coded errors
 * from `datagram-errors.ts` (counted through the observer, and kept as `lastError`; with no
 * `error` listener they are not thrown, so a stray ICMP error cannot crash the process). Received datagrams larger than `maxDatagramSize` are dropped
 * and counted through the observer.
 */
import { createSocket } from 'node:dgram';
import type { RemoteInfo, Socket } from 'node:dgram';
import { EventEmitter } from 'node:events';
import { lookup as dnsLookup } from 'node:dns';
import type { LookupOneOptions } from 'node:dns';
import { isIP, isIPv4, isIPv6 } from 'node:net';
import { GhostnetError, InvalidOptionError } from '../errors.js';
import { noopObserver } from '../monitoring/observer.js';
import type { Observer } from '../monitoring/observer.js';
import { BindError } from './errors.js';
import {
  DatagramSendError,
  DatagramSocketError,
  DatagramTooLargeError,
  EndpointClosedError,
} from './datagram-errors.js';
import type {
  AddressFamily,
  DatagramEndpoint,
  DatagramEndpointEvents,
  PeerAddress,
  SocketAddress,
} from './types.js';

/** Largest UDP payload: 65535 minus the IP header (20 for IPv4; IPv6's is not counted) and 8. */
export const MAX_UDP4_PAYLOAD = 65_507;
export const MAX_UDP6_PAYLOAD = 65_527;

export interface UdpOptions {
  /**
   * Local address to bind. An IPv6 literal selects a 'udp6' socket.
   * @default '127.0.0.1'
   */
  host?: string;
  /**
   * Local port; 0 lets the OS choose.
   * @default 0
   */
  port?: number;
  /**
   * Socket type.
   * @default 'udp6' when `host` is an IPv6 literal, otherwise 'udp4'
   */
  type?: 'udp4' | 'udp6';
  /**
   * For 'udp6' sockets bound to '::', refuse IPv4-mapped traffic (IPV6_V6ONLY).
   * @default false
   */
  ipv6Only?: boolean;
  /**
   * SO_REUSEADDR: let several sockets bind the same address and port (multicast, restarts).
   * @default false
   */
  reuseAddr?: boolean;
  /**
   * SO_RCVBUF in bytes, applied after bind. Linux doubles the value and caps it at
   * `net.core.rmem_max`; read the effective size back from `recvBufferSize`.
   * @default undefined (the OS default)
   */
  recvBufferSize?: number;
  /**
   * SO_SNDBUF in bytes, applied after bind (capped at `net.core.wmem_max` on Linux).
   * @default undefined (the OS default)
   */
  sendBufferSize?: number;
  /**
   * Largest datagram sent or accepted, in bytes. Larger sends emit `DatagramTooLargeError`;
   * larger received datagrams are dropped. Protocols set it lower (DNS 512, QUIC 1200+,
   * KRPC ~1400) to stay clear of IP fragmentation.
   * @default 65507 for 'udp4', 65527 for 'udp6'
   */
  maxDatagramSize?: number;
  /**
   * Metrics sink; bytes are reported under protocol 'udp'.
   * @default noopObserver
   */
  observer?: Observer;
}

function systemCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code = (err as { code: unknown }).code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}

function toFamily(family: unknown): AddressFamily {
  // Node 18.0–18.3 reported a number; everything since reports the string.
  return family === 'IPv6' || family === 6 ? 'IPv6' : 'IPv4';
}

function checkSize(name: string, value: number | undefined): void {
  if (value !== undefined && (!Number.isSafeInteger(value) || value <= 0)) {
    throw new InvalidOptionError(`${name} must be a positive integer, got ${String(value)}`);
  }
}

/** A bound UDP socket. Create it with `bindUdp`. */
export class UdpEndpoint extends EventEmitter<DatagramEndpointEvents> implements DatagramEndpoint {
  readonly kind = 'udp';
  readonly address: SocketAddress;
  readonly maxDatagramSize: number;
  readonly #socket: Socket;
  readonly #observer: Observer;
  #closing = false;
  #closedPromise: Promise<void>;
  #lastError: GhostnetError | undefined;
  #recvBufferSize = 0;
  #sendBufferSize = 0;

  /** @internal Use `bindUdp`. */
  constructor(socket: Socket, maxDatagramSize: number, observer: Observer) {
    super();
    this.#socket = socket;
    this.#observer = observer;
    this.maxDatagramSize = maxDatagramSize;
    const bound = socket.address();
    this.address = Object.freeze({
      address: bound.address,
      port: bound.port,
      family: toFamily(bound.family),
    });
    this.#readBufferSizes();
    this.#closedPromise = new Promise((resolve) => {
      socket.once('close', () => {
        this.#closing = true;
        this.emit('close');
        resolve();
      });
    });
    socket.on('message', (msg, rinfo) => this.#onMessage(msg, rinfo));
    socket.on('error', (err) => {
      this.#report(new DatagramSocketError(`UDP socket error: ${err.message}`, { cause: err }));
    });
  }

  /** Effective SO_RCVBUF in bytes (Linux reports double what was requested). */
  get recvBufferSize(): number {
    this.#readBufferSizes();
    return this.#recvBufferSize;
  }

  /** Effective SO_SNDBUF in bytes. */
  get sendBufferSize(): number {
    this.#readBufferSizes();
    return this.#sendBufferSize;
  }

  /** The most recent error reported (also when no `error` listener saw it). */
  get lastError(): GhostnetError | undefined {
    return this.#lastError;
  }

  /** True once `close()` was called or the socket closed. */
  get closed(): boolean {
    return this.#closing;
  }

  send(data: Uint8Array, to: PeerAddress): void {
    if (this.#closing) {
      this.#fail(new EndpointClosedError());
      return;
    }
    const size = data.byteLength;
    if (size > this.maxDatagramSize) {
      this.#fail(new DatagramTooLargeError(size, this.maxDatagramSize));
      return;
    }
    const port = to?.port;
    const address = to?.address;
    if (typeof address !== 'string' || !Number.isInteger(port) || port < 1 || port > 65_535) {
      this.#fail(
        new DatagramSendError(
          `Invalid destination ${String(address)}:${String(port)} (port must be 1–65535)`,
        ),
      );
      return;
    }
    try {
      this.#socket.send(data, port, address, (err) => {
        if (err === null || err === undefined) {
          this.#observer.bytesSent('udp', size);
          return;
        }
        // A send still in flight when close() was called is not an error the caller can act on.
        if (this.#closing) return;
        this.#report(this.#wrapSendError(err, size));
      });
    } catch (err) {
      // dgram throws synchronously for a socket that is not running and for bad arguments.
      this.#fail(
        systemCode(err) === 'ERR_SOCKET_DGRAM_NOT_RUNNING'
          ? new EndpointClosedError()
          : this.#wrapSendError(err, size),
      );
    }
  }

  close(): Promise<void> {
    if (!this.#closing) {
      this.#closing = true;
      try {
        this.#socket.close();
      } catch {
        // Already closed by the OS side; the 'close' listener has run or will run.
      }
    }
    return this.#closedPromise;
  }

  /** Let the process exit while this socket is open. */
  unref(): this {
    this.#socket.unref();
    return this;
  }

  /** Keep the process alive while this socket is open (the default). */
  ref(): this {
    this.#socket.ref();
    return this;
  }

  #onMessage(msg: Buffer, rinfo: RemoteInfo): void {
    if (msg.byteLength > this.maxDatagramSize) {
      this.#observer.error('udp', 'GN_ERR_DATAGRAM_TOO_LARGE');
      return;
    }
    this.#observer.bytesReceived('udp', msg.byteLength);
    this.emit('message', msg, {
      address: rinfo.address,
      port: rinfo.port,
      family: toFamily(rinfo.family),
    });
  }

  #wrapSendError(err: unknown, size: number): GhostnetError {
    if (err instanceof GhostnetError) return err;
    if (systemCode(err) === 'EMSGSIZE') {
      return new DatagramTooLargeError(size, this.maxDatagramSize, { cause: err });
    }
    const message = err instanceof Error ? err.message : String(err);
    return new DatagramSendError(`UDP send failed: ${message}`, { cause: err });
  }

  #readBufferSizes(): void {
    if (this.#closing) return;
    try {
      this.#recvBufferSize = this.#socket.getRecvBufferSize();
      this.#sendBufferSize = this.#socket.getSendBufferSize();
    } catch {
      // The socket closed under us: keep the last values read.
    }
  }

  /** Emit asynchronously, so `send` never re-enters the caller's listeners. */
  #fail(err: GhostnetError): void {
    queueMicrotask(() => this.#report(err));
  }

  #report(err: GhostnetError): void {
    this.#lastError = err;
    this.#observer.error('udp', err.code);
    // As for stream connections: an error nobody listens for must not crash the process.
    if (this.listenerCount('error') > 0) this.emit('error', err);
  }
}

/**
 * Bind a UDP socket. Rejects with `BindError` when the address is in use or not available,
 * and with `InvalidOptionError` for bad options.
 */
export async function bindUdp(options: UdpOptions = {}): Promise<UdpEndpoint> {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new InvalidOptionError(`port must be an integer 0–65535, got ${String(port)}`);
  }
  const type = options.type ?? (isIPv6(host) ? 'udp6' : 'udp4');
  if (type === 'udp4' && isIPv6(host)) {
    throw new InvalidOptionError(`host ${host} is IPv6; use type 'udp6' or an IPv4 address`);
  }
  if (type === 'udp6' && isIPv4(host)) {
    throw new InvalidOptionError(`host ${host} is IPv4; use type 'udp4' or an IPv6 address`);
  }
  checkSize('recvBufferSize', options.recvBufferSize);
  checkSize('sendBufferSize', options.sendBufferSize);
  const ceiling = type === 'udp6' ? MAX_UDP6_PAYLOAD : MAX_UDP4_PAYLOAD;
  const maxDatagramSize = options.maxDatagramSize ?? ceiling;
  if (!Number.isSafeInteger(maxDatagramSize) || maxDatagramSize <= 0 || maxDatagramSize > ceiling) {
    throw new InvalidOptionError(
      `maxDatagramSize must be an integer 1–${ceiling} for ${type}, got ${String(maxDatagramSize)}`,
    );
  }

  const socket = createSocket({
    type,
    reuseAddr: options.reuseAddr ?? false,
    ipv6Only: options.ipv6Only ?? false,
    lookup: lookupLiteral,
  });

  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => {
      socket.off('listening', onListening);
      try {
        socket.close();
      } catch {
        // The failed socket may already be closed.
      }
      reject(new BindError(`Cannot bind UDP ${host}:${port}: ${err.message}`, { cause: err }));
    };
    const onListening = (): void => {
      socket.off('error', onError);
      resolve();
    };
    socket.once('error', onError);
    socket.once('listening', onListening);
    socket.bind({ address: host, port });
  });

  try {
    if (options.recvBufferSize !== undefined) socket.setRecvBufferSize(options.recvBufferSize);
    if (options.sendBufferSize !== undefined) socket.setSendBufferSize(options.sendBufferSize);
  } catch (err) {
    socket.close();
    const message = err instanceof Error ? err.message : String(err);
    throw new BindError(`Cannot set UDP buffer sizes: ${message}`, { cause: err });
  }

  return new UdpEndpoint(socket, maxDatagramSize, options.observer ?? noopObserver);
}

/**
 * dgram resolves every destination through `lookup` before sending. dns.lookup answers an
 * IP literal on the next tick; answering it at once saves a tick and a closure per datagram
 * (a STUN server sends one per request). Names still go to dns.lookup.
 */
function lookupLiteral(
  hostname: string,
  options: LookupOneOptions | number,
  callback: (err: NodeJS.ErrnoException | null, address: string, family: number) => void,
): void {
  const family = isIP(hostname);
  if (family !== 0) {
    callback(null, hostname, family);
    return;
  }
  dnsLookup(hostname, typeof options === 'number' ? { family: options } : options, callback);
}
