/**
 * A `DatagramEndpoint` (src/transport/types.ts) on a `SimNetwork`, for bindings written
 * against sockets and injected `Timers` (gossip, NAT traversal). It emits `message`
 * synchronously at the virtual delivery time, inside the clock's run; a reply sent from the
 * listener is scheduled with the link model like any other datagram, so there is no
 * reentrancy. Pair it with `network.timers` for the binding's timers.
 */
import { EventEmitter } from 'node:events';
import { DatagramSendError, EndpointClosedError } from '../../transport/datagram-errors.js';
import type {
  DatagramEndpoint,
  DatagramEndpointEvents,
  PeerAddress,
  SocketAddress,
} from '../../transport/types.js';
import type { SimCore, SimDatagram, SimNode } from './node.js';

const NO_OUTPUT: readonly SimDatagram[] = Object.freeze([]);

/** The core behind an endpoint: it forwards deliveries and never has output or timers. */
class EndpointCore implements SimCore {
  readonly #onMessage: (data: Uint8Array, from: SocketAddress) => void;

  constructor(onMessage: (data: Uint8Array, from: SocketAddress) => void) {
    this.#onMessage = onMessage;
  }

  receive(data: Uint8Array, from: SocketAddress): void {
    this.#onMessage(data, from);
  }

  takeOutput(): readonly SimDatagram[] {
    return NO_OUTPUT;
  }

  nextDeadline(): undefined {
    return undefined;
  }

  handleTimeout(): void {}
}

/** An endpoint bound on a `SimNetwork` (kind 'sim'). Create with `network.bind()`. */
export class SimDatagramEndpoint
  extends EventEmitter<DatagramEndpointEvents>
  implements DatagramEndpoint
{
  readonly kind = 'sim';
  /** The network node carrying this endpoint (stats, churn: `node.leave()`/`join()`). */
  readonly node: SimNode;
  readonly #schedule: (fn: () => void) => void;
  #closedPromise: Promise<void> | undefined;
  #lastError: Error | undefined;

  /**
   * @internal Use `SimNetwork.bind`. `schedule` runs a callback on the sim clock at the
   * current virtual time.
   */
  constructor(attach: (core: SimCore) => SimNode, schedule: (fn: () => void) => void) {
    super();
    this.#schedule = schedule;
    this.node = attach(new EndpointCore((data, from) => this.emit('message', data, from)));
  }

  get address(): SocketAddress {
    return this.node.address;
  }

  get closed(): boolean {
    return this.#closedPromise !== undefined;
  }

  /** The most recent send error (also when no `error` listener saw it). */
  get lastError(): Error | undefined {
    return this.#lastError;
  }

  /**
   * Send one datagram. Like UDP, loss, partitions, an offline or absent receiver and an
   * oversize datagram (beyond the path MTU the network models) drop it silently and only
   * show in `stats()`. A closed endpoint or an invalid port emits `error` instead (at the
   * current virtual time, never a throw).
   */
  send(data: Uint8Array, to: PeerAddress): void {
    if (this.#closedPromise !== undefined) {
      this.#fail(new EndpointClosedError());
      return;
    }
    if (
      typeof to?.address !== 'string' ||
      !Number.isInteger(to.port) ||
      to.port < 1 ||
      to.port > 65_535
    ) {
      this.#fail(
        new DatagramSendError(
          `Invalid destination ${String(to?.address)}:${String(to?.port)} (port must be 1–65535)`,
        ),
      );
      return;
    }
    this.node.send(data, to);
  }

  /** Unbind: the address is freed at once; `close` is emitted on a microtask. Idempotent. */
  close(): Promise<void> {
    if (this.#closedPromise !== undefined) return this.#closedPromise;
    this.node.stop();
    this.#closedPromise = new Promise((resolve) => {
      queueMicrotask(() => {
        this.emit('close');
        resolve();
      });
    });
    return this.#closedPromise;
  }

  #fail(err: Error): void {
    this.#lastError = err;
    // Asynchronous in virtual time, like UdpEndpoint's errors, and not thrown unheard.
    this.#schedule(() => {
      if (this.listenerCount('error') > 0) this.emit('error', err);
    });
  }
}
