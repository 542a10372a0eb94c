/**
 * A STUN client core (RFC 8489 §6.2, §7), sans-I/O: Binding requests with retransmissions
 * from {@link StunTransactions}, responses matched by transaction id, and the NAT behavior
 * discovery of RFC 5780 §4.3-§4.4 written against an injected `binding` function so it runs
 * over UDP or on the simulator alike.
 */
import { TimeoutError } from '../../../errors.js';
import type { PeerAddress, SocketAddress } from '../../../transport/types.js';
import {
  Attr,
  ChangeRequest,
  decodeStun,
  StunBuilder,
  StunClass,
  StunError,
  StunMethod,
} from './codec.js';
import type { StunMessage, TransportAddress } from './codec.js';
import { StunTransactions } from './transaction.js';
import type { TransactionOptions } from './transaction.js';

/** A STUN error response, with its code (§14.8). */
export class StunResponseError extends StunError {
  readonly status: number;
  readonly response: StunMessage;
  constructor(status: number, reason: string, response: StunMessage) {
    super('GN_ERR_STUN_ATTRIBUTE', `STUN error ${status}: ${reason}`);
    this.status = status;
    this.response = response;
  }
}

/** What a Binding success response told us. */
export interface BindingResult {
  /** Our address as the server saw it (XOR-MAPPED-ADDRESS, or MAPPED-ADDRESS). */
  readonly mapped: TransportAddress;
  /** RESPONSE-ORIGIN (RFC 5780): where the response came from. */
  readonly responseOrigin?: TransportAddress;
  /** OTHER-ADDRESS (RFC 5780): the server's alternate IP and port. */
  readonly otherAddress?: TransportAddress;
  readonly software?: string;
  /** Round-trip time of the answered send. */
  readonly rttMs: number;
  readonly response: StunMessage;
}

export interface BindingOptions {
  readonly changeIp?: boolean;
  readonly changePort?: boolean;
  /** Add FINGERPRINT (§7.3; needed when multiplexing). @default true */
  readonly fingerprint?: boolean;
  /** SOFTWARE attribute. @default undefined */
  readonly software?: string;
}

type Done<T> = (err: Error | undefined, value?: T) => void;

/** Outstanding Binding transactions of one client socket. */
export class StunClientCore {
  readonly #tx: StunTransactions;
  readonly #random: (n: number) => Uint8Array;
  readonly #pending = new Map<string, { to: PeerAddress; done: Done<BindingResult> }>();
  #out: { data: Uint8Array; to: PeerAddress }[] = [];

  constructor(random: (n: number) => Uint8Array, options: TransactionOptions = {}) {
    this.#random = random;
    this.#tx = new StunTransactions(options);
  }

  /** Sends a Binding request to `server`; `done` gets the result or the error. */
  binding(
    server: PeerAddress,
    now: number,
    done: Done<BindingResult>,
    options: BindingOptions = {},
  ): void {
    const id = this.#random(12);
    const b = new StunBuilder(StunMethod.Binding, StunClass.Request, id);
    let change = 0;
    if (options.changeIp === true) change |= ChangeRequest.ChangeIp;
    if (options.changePort === true) change |= ChangeRequest.ChangePort;
    if (change !== 0) b.uint32(Attr.ChangeRequest, change);
    if (options.software !== undefined) b.text(Attr.Software, options.software);
    if (options.fingerprint !== false) b.fingerprint();
    const key = Buffer.from(id).toString('hex');
    this.#pending.set(key, { to: server, done });
    this.#tx.start(key, `${server.address}|${server.port}`, b.build(), now, (err, rtt) => {
      if (err === undefined) {
        // Completed through receive(), which reads the RTT right after.
        this.#lastRtt = rtt ?? 0;
        return;
      }
      this.#pending.delete(key);
      done(err);
    });
    this.#drain();
  }

  #drain(): void {
    for (const s of this.#tx.takeSends()) {
      const p = this.#pending.get(s.id);
      if (p !== undefined) this.#out.push({ data: s.data, to: p.to });
    }
  }

  takeOutput(): { data: Uint8Array; to: PeerAddress }[] {
    const out = this.#out;
    this.#out = [];
    return out;
  }

  nextDeadline(): number | undefined {
    return this.#tx.nextDeadline();
  }

  handleTimeout(now: number): void {
    this.#tx.handleTimeout(now);
    this.#drain();
  }

  /**
   * A datagram arrived. Returns true when it answered one of our transactions (so a
   * multiplexing socket knows it was STUN for us).
   */
  receive(data: Uint8Array, _from: SocketAddress | PeerAddress, now: number): boolean {
    let m: StunMessage;
    try {
      m = decodeStun(data);
    } catch {
      return false;
    }
    if (m.cls !== StunClass.Success && m.cls !== StunClass.Error) return false;
    const p = this.#pending.get(m.id);
    if (p === undefined) return false;
    if (m.has(Attr.Fingerprint) && !m.verifyFingerprint()) return false;
    this.#pending.delete(m.id);
    this.#lastRtt = 0;
    this.#tx.complete(m.id, now);
    const rttMs = this.#lastRtt;
    if (m.cls === StunClass.Error) {
      const e = safe(() => m.errorCode()) ?? {
        code: 500,
        reason: 'error response without ERROR-CODE',
      };
      p.done(new StunResponseError(e.code, e.reason, m));
      return true;
    }
    const mapped =
      safe(() => m.xorAddress(Attr.XorMappedAddress)) ?? safe(() => m.address(Attr.MappedAddress));
    if (mapped === undefined) {
      p.done(new StunError('GN_ERR_STUN_ATTRIBUTE', 'Binding response without a mapped address'));
      return true;
    }
    const responseOrigin = safe(() => m.address(Attr.ResponseOrigin));
    const otherAddress = safe(() => m.address(Attr.OtherAddress));
    const software = m.text(Attr.Software);
    p.done(undefined, {
      mapped,
      ...(responseOrigin !== undefined && { responseOrigin }),
      ...(otherAddress !== undefined && { otherAddress }),
      ...(software !== undefined && { software }),
      rttMs,
      response: m,
    });
    return true;
  }

  /** Set by the transaction callback inside `complete`. */
  #lastRtt = 0;
}

function safe<T>(f: () => T | undefined): T | undefined {
  try {
    return f();
  } catch {
    return undefined;
  }
}

/** RFC 5780 §4.3: how the NAT maps our address towards different destinations. */
export type MappingBehavior =
  'no-nat' | 'endpoint-independent' | 'address-dependent' | 'address-and-port-dependent';

/** RFC 5780 §4.4: which inbound packets the NAT lets through to a mapping. */
export type FilteringBehavior =
  'endpoint-independent' | 'address-dependent' | 'address-and-port-dependent';

export interface NatBehavior {
  readonly mapped: TransportAddress;
  readonly mapping: MappingBehavior;
  readonly filtering: FilteringBehavior;
  /** A short name: 'open', 'full-cone', 'restricted', 'port-restricted' or 'symmetric'. */
  readonly kind: 'open' | 'full-cone' | 'restricted' | 'port-restricted' | 'symmetric';
}

/** A Binding request function (resolves with the result, rejects on timeout or error). */
export type BindingFn = (server: PeerAddress, options?: BindingOptions) => Promise<BindingResult>;

/**
 * RFC 5780 §4.3 (mapping) and §4.4 (filtering) against a server that returns OTHER-ADDRESS.
 * `localAddress` is our socket's address (to tell "no NAT" apart). Throws when the server
 * gives no OTHER-ADDRESS (it does not support RFC 5780).
 */
export async function discoverNatBehavior(
  binding: BindingFn,
  server: PeerAddress,
  localAddress: PeerAddress,
): Promise<NatBehavior> {
  // Test I: a plain Binding request.
  const t1 = await binding(server);
  const other = t1.otherAddress;
  if (other === undefined) {
    throw new StunError(
      'GN_ERR_STUN_ATTRIBUTE',
      'the server sent no OTHER-ADDRESS: it does not support RFC 5780 behavior discovery',
    );
  }
  // Filtering first (§4.4), while the only destination our mapping has seen is the primary
  // address: the mapping tests below send to the alternate IP, which would open an
  // address-dependent filter and make it look endpoint-independent. Test II asks for an
  // answer from the other IP and port, Test III from the other port; a timeout means the
  // NAT filtered it.
  let filtering: FilteringBehavior;
  if (await answered(binding(server, { changeIp: true, changePort: true }))) {
    filtering = 'endpoint-independent';
  } else if (await answered(binding(server, { changePort: true }))) {
    filtering = 'address-dependent';
  } else {
    filtering = 'address-and-port-dependent';
  }
  let mapping: MappingBehavior;
  if (t1.mapped.address === localAddress.address && t1.mapped.port === localAddress.port) {
    mapping = 'no-nat';
  } else {
    // §4.3 Test II: to the alternate IP, primary port.
    const t2 = await binding({ address: other.address, port: server.port });
    if (sameAddress(t2.mapped, t1.mapped)) {
      mapping = 'endpoint-independent';
    } else {
      // Test III: to the alternate IP and port.
      const t3 = await binding({ address: other.address, port: other.port });
      mapping = sameAddress(t3.mapped, t2.mapped)
        ? 'address-dependent'
        : 'address-and-port-dependent';
    }
  }
  const kind =
    mapping === 'no-nat'
      ? 'open'
      : mapping !== 'endpoint-independent'
        ? 'symmetric'
        : filtering === 'endpoint-independent'
          ? 'full-cone'
          : filtering === 'address-dependent'
            ? 'restricted'
            : 'port-restricted';
  return { mapped: t1.mapped, mapping, filtering, kind };
}

function sameAddress(a: TransportAddress, b: TransportAddress): boolean {
  return a.address === b.address && a.port === b.port;
}

async function answered(p: Promise<BindingResult>): Promise<boolean> {
  try {
    await p;
    return true;
  } catch (err) {
    if (err instanceof TimeoutError) return false;
    throw err;
  }
}
