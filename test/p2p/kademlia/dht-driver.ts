/**
 * A minimal deterministic driver for DhtCore tests: nodes on 10.0.x.y:6881, datagrams
 * delivered in FIFO order with a fixed 10 ms latency, a virtual clock, optional loss and
 * offline nodes. (The full simulator with latency models and churn is src/p2p/sim.)
 */
import type { SocketAddress } from '../../../src/transport/types.js';
import { DhtCore } from '../../../src/p2p/kademlia/dht.js';
import type { DhtComponents, DhtOptions } from '../../../src/p2p/kademlia/dht.js';
import { mulberry32 } from '../../helpers/prng.js';

export const prng = mulberry32;

export function randomBytes(rand: () => number): (n: number) => Uint8Array {
  return (n) => {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = Math.floor(rand() * 256);
    return b;
  };
}

export class Driver {
  now = 0;
  readonly nodes = new Map<string, DhtCore>();
  readonly addresses = new Map<DhtCore, SocketAddress>();
  readonly offline = new Set<string>();
  readonly #queue: { at: number; data: Uint8Array; from: SocketAddress; to: string }[] = [];
  readonly rand: () => number;
  loss = 0;
  sent = 0;
  /** Drops the datagrams it returns true for (targeted loss), after `loss`. */
  drop: ((from: SocketAddress, to: string, data: Uint8Array) => boolean) | undefined;

  readonly #components: Partial<DhtComponents>;

  constructor(seed = 1, components: Partial<DhtComponents> = {}) {
    this.rand = prng(seed);
    this.#components = components;
  }

  add(options: DhtOptions = {}): DhtCore {
    const i = this.nodes.size + 1;
    const address: SocketAddress = {
      address: `10.0.${i >> 8}.${i & 0xff}`,
      port: 6881,
      family: 'IPv4',
    };
    const core = new DhtCore(
      { random: randomBytes(this.rand), ...this.#components },
      { now: this.now, ...options },
    );
    this.nodes.set(`${address.address}:${address.port}`, core);
    this.addresses.set(core, address);
    return core;
  }

  addr(core: DhtCore): SocketAddress {
    return this.addresses.get(core)!;
  }

  #flush(core: DhtCore): void {
    const from = this.addresses.get(core)!;
    for (const d of core.takeOutput()) {
      this.sent++;
      if (this.loss > 0 && this.rand() < this.loss) continue;
      if (this.drop?.(from, `${d.to.address}:${d.to.port}`, d.data) === true) continue;
      this.#queue.push({
        at: this.now + 10,
        data: d.data,
        from,
        to: `${d.to.address}:${d.to.port}`,
      });
    }
  }

  /** Runs until nothing is queued and no timer is due before `until` (bounded). */
  run(until = this.now + 60_000, maxEvents = 5_000_000): void {
    for (const core of this.nodes.values()) this.#flush(core);
    let events = 0;
    while (events++ < maxEvents) {
      const next = this.#queue[0];
      let timerAt = Infinity;
      let timerCore: DhtCore | undefined;
      for (const [key, core] of this.nodes) {
        if (this.offline.has(key)) continue;
        const d = core.nextDeadline();
        if (d !== undefined && d < timerAt) {
          timerAt = d;
          timerCore = core;
        }
      }
      const at = Math.min(next?.at ?? Infinity, timerAt);
      if (at > until) break;
      this.now = Math.max(this.now, at);
      if (next !== undefined && next.at <= timerAt) {
        this.#queue.shift();
        const core = this.nodes.get(next.to);
        if (core === undefined || this.offline.has(next.to)) continue;
        core.receive(next.data, next.from, this.now);
        this.#flush(core);
      } else if (timerCore !== undefined) {
        timerCore.handleTimeout(this.now);
        this.#flush(timerCore);
      }
    }
    this.now = Math.max(this.now, until);
  }

  /** Runs until `done()` is true (bounded by virtual time). */
  runUntil(done: () => boolean, limitMs = 120_000): void {
    const end = this.now + limitMs;
    while (!done() && this.now < end) this.run(this.now + 100);
  }
}
