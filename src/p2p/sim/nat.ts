/**
 * NATs for the simulated network (RFC 4787's vocabulary): a router with one public
 * address that translates the datagrams of the nodes behind it.
 *
 * - `full-cone`: endpoint-independent mapping and filtering — once a node sent anything, any
 *   host may reach it at its mapped address and port;
 * - `restricted`: endpoint-independent mapping, address-dependent filtering — only hosts
 *   (any port) the node has sent to may reach it;
 * - `port-restricted`: endpoint-independent mapping, address-and-port-dependent filtering —
 *   only the exact host:port it sent to (Linux MASQUERADE);
 * - `symmetric`: address-and-port-dependent mapping — a new public port for every
 *   destination — and the same filtering.
 *
 * Mappings expire after `mappingTimeoutMs` without outbound traffic (RFC 4787 REQ-5: at
 * least 2 minutes) and are bounded in number. Hairpinning (a node reaching another behind
 * the same NAT through the public address) is off by default, as on many home routers.
 */
import { InvalidOptionError } from '../../errors.js';
import type { PeerAddress, SocketAddress } from '../../transport/types.js';

export type SimNatType = 'full-cone' | 'restricted' | 'port-restricted' | 'symmetric';

export interface SimNatOptions {
  readonly type: SimNatType;
  /** The router's public IPv4 address. @default the network's next free address */
  readonly publicAddress?: string;
  /** Idle time after which a mapping is forgotten. @default 120000 */
  readonly mappingTimeoutMs?: number;
  /** First public port handed out. @default 49152 */
  readonly firstPort?: number;
  /** Let nodes behind this NAT reach each other through the public address. @default false */
  readonly hairpin?: boolean;
  /** Most live mappings; the oldest is dropped beyond. @default 65536 */
  readonly maxMappings?: number;
}

const TYPES: readonly SimNatType[] = ['full-cone', 'restricted', 'port-restricted', 'symmetric'];

interface Mapping {
  readonly key: string;
  readonly internal: SocketAddress;
  readonly external: SocketAddress;
  /** Remote hosts ('ip') or endpoints ('ip|port') allowed in, by filtering type. */
  readonly permitted: Set<string>;
  expires: number;
}

/** Counters for a NAT. */
export interface SimNatStats {
  readonly mappings: number;
  /** Inbound datagrams refused by filtering or for lack of a mapping. */
  readonly filtered: number;
  readonly translatedOut: number;
  readonly translatedIn: number;
}

/** One NAT router. Create it with `SimNetwork.addNat`. */
export class SimNat {
  readonly type: SimNatType;
  readonly publicAddress: string;
  readonly hairpin: boolean;
  readonly #timeout: number;
  readonly #maxMappings: number;
  readonly #byKey = new Map<string, Mapping>();
  readonly #byPort = new Map<number, Mapping>();
  readonly #firstPort: number;
  #nextPort: number;
  #filtered = 0;
  #out = 0;
  #in = 0;

  /** @internal Use `SimNetwork.addNat`. */
  constructor(options: SimNatOptions, publicAddress: string) {
    if (!TYPES.includes(options.type)) {
      throw new InvalidOptionError(`NAT type must be one of ${TYPES.join(', ')}`);
    }
    this.type = options.type;
    this.publicAddress = publicAddress;
    this.hairpin = options.hairpin ?? false;
    this.#timeout = options.mappingTimeoutMs ?? 120_000;
    this.#maxMappings = options.maxMappings ?? 65_536;
    this.#firstPort = options.firstPort ?? 49_152;
    this.#nextPort = this.#firstPort;
    if (!(this.#timeout > 0)) throw new InvalidOptionError('mappingTimeoutMs must be positive');
    if (!Number.isInteger(this.#firstPort) || this.#firstPort < 1 || this.#firstPort > 65_535) {
      throw new InvalidOptionError('firstPort must be 1-65535');
    }
  }

  stats(): SimNatStats {
    return {
      mappings: this.#byKey.size,
      filtered: this.#filtered,
      translatedOut: this.#out,
      translatedIn: this.#in,
    };
  }

  /** Forgets every mapping (a router reboot). */
  reset(): void {
    this.#byKey.clear();
    this.#byPort.clear();
  }

  /** @internal The public source address for a datagram from `internal` to `remote`. */
  outbound(internal: SocketAddress, remote: PeerAddress, now: number): SocketAddress {
    const key =
      this.type === 'symmetric'
        ? `${internal.address}|${internal.port}>${remote.address}|${remote.port}`
        : `${internal.address}|${internal.port}`;
    let m = this.#byKey.get(key);
    if (m !== undefined && m.expires <= now) {
      this.#remove(m);
      m = undefined;
    }
    if (m === undefined) {
      m = {
        key,
        internal,
        external: Object.freeze({
          address: this.publicAddress,
          port: this.#allocatePort(now),
          family: 'IPv4' as const,
        }),
        permitted: new Set(),
        expires: 0,
      };
      this.#byKey.set(key, m);
      this.#byPort.set(m.external.port, m);
      if (this.#byKey.size > this.#maxMappings) this.#remove(this.#byKey.values().next().value!);
    }
    m.expires = now + this.#timeout;
    if (this.type === 'restricted') m.permitted.add(remote.address);
    else if (this.type !== 'full-cone') m.permitted.add(`${remote.address}|${remote.port}`);
    this.#out++;
    return m.external;
  }

  /** @internal The internal node a datagram to public `port` from `remote` goes to, if any. */
  inbound(port: number, remote: PeerAddress, now: number): SocketAddress | undefined {
    const m = this.#byPort.get(port);
    if (m === undefined || m.expires <= now) {
      this.#filtered++;
      return undefined;
    }
    const allowed =
      this.type === 'full-cone' ||
      (this.type === 'restricted'
        ? m.permitted.has(remote.address)
        : m.permitted.has(`${remote.address}|${remote.port}`));
    if (!allowed) {
      this.#filtered++;
      return undefined;
    }
    this.#in++;
    return m.internal;
  }

  #remove(m: Mapping): void {
    this.#byKey.delete(m.key);
    if (this.#byPort.get(m.external.port) === m) this.#byPort.delete(m.external.port);
  }

  #allocatePort(now: number): number {
    for (let tries = 0; tries < 65_536; tries++) {
      const port = this.#nextPort;
      this.#nextPort = port >= 65_535 ? this.#firstPort : port + 1;
      const used = this.#byPort.get(port);
      if (used === undefined) return port;
      if (used.expires <= now) {
        this.#remove(used);
        return port;
      }
    }
    throw new InvalidOptionError(`NAT ${this.publicAddress} has no free port`);
  }
}
