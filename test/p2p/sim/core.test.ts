import { describe, expect, it } from 'vitest';
import { constantLatency } from '../../../src/p2p/sim/latency.js';
import { SimNetwork } from '../../../src/p2p/sim/network.js';
import type { SimCore, SimDatagram, SimNode } from '../../../src/p2p/sim/node.js';
import type { PeerAddress, SocketAddress } from '../../../src/transport/types.js';

const PING = 1;
const PONG = 2;
const NO_OUTPUT: readonly SimDatagram[] = [];

/** A toy sans-I/O core: answers pings with pongs, counts pongs. No timers. */
class PingCore implements SimCore {
  #out: SimDatagram[] = [];
  pings = 0;
  pongs = 0;

  ping(to: PeerAddress): void {
    this.#out.push({ data: Uint8Array.of(PING), to });
  }

  receive(data: Uint8Array, from: SocketAddress): void {
    if (data[0] === PING) {
      this.pings++;
      this.#out.push({ data: Uint8Array.of(PONG), to: from });
    } else {
      this.pongs++;
    }
  }

  takeOutput(): readonly SimDatagram[] {
    if (this.#out.length === 0) return NO_OUTPUT;
    const out = this.#out;
    this.#out = [];
    return out;
  }

  nextDeadline(): number | undefined {
    return undefined;
  }

  handleTimeout(): void {}
}

function pingMesh(nodeCount: number, pingsEach: number, seed = 1) {
  const net = new SimNetwork({ seed });
  const nodes = Array.from({ length: nodeCount }, () => net.addNode(new PingCore()));
  for (const node of nodes) {
    for (let i = 0; i < pingsEach; i++) {
      let peer = node;
      while (peer === node) peer = node.rng.pick(nodes);
      node.core.ping(peer.address);
    }
    node.poke();
  }
  const events = net.runUntilIdle();
  return { net, nodes, events };
}

describe('driving SimCores', () => {
  it('1,000 nodes each pinging 10 random others: every pong arrives', () => {
    const { net, nodes, events } = pingMesh(1000, 10);
    expect(events).toBe(20_000); // one delivery event per datagram, nothing else
    expect(nodes.reduce((n, x) => n + x.core.pongs, 0)).toBe(10_000);
    expect(nodes.reduce((n, x) => n + x.core.pings, 0)).toBe(10_000);
    expect(net.stats()).toMatchObject({ sent: 20_000, delivered: 20_000, inFlight: 0 });
    expect(net.stats().dropped.total).toBe(0);
    for (const n of nodes) expect(n.core.pongs).toBe(10);
    // Virtual time moved by a few round trips, not by wall time.
    expect(net.now).toBeGreaterThan(20);
    expect(net.now).toBeLessThan(2_000);
  });

  // Perf check, not asserted (timing never goes into npm test). Node 20, compiled JS, one
  // core of the development machine: 1,000 nodes × 100 pings (100,000 pings sent at once,
  // 200,000 deliveries) run in ≈0.25 s, ≈0.8M events/s; × 500 pings (1e6 events, 500,000 in
  // flight at the peak) in ≈1.5 s. With traffic spread out over time ≈1.1M events/s. The
  // bare clock does ≈4–5M events/s with 1,000 pending, ≈1.6M/s with 100,000 pending.
  it('1,000 nodes × 100 pings', () => {
    const { events, nodes } = pingMesh(1000, 100, 7);
    expect(events).toBe(200_000);
    expect(nodes.every((n) => n.core.pongs === 100)).toBe(true);
  });
});

/** A request with retransmission: sends, waits `rtoMs`, resends up to `retries` times. */
class RetryCore implements SimCore {
  #out: SimDatagram[] = [];
  #deadline: number | undefined;
  #to: PeerAddress | undefined;
  #left = 0;
  timeouts: number[] = [];
  answered: number[] = [];
  replies = 0;
  /** When set, a received datagram pulls the deadline in to now + this. */
  shortenOnReceive: number | undefined;

  constructor(
    readonly rtoMs = 1000,
    readonly retries = 3,
  ) {}

  request(to: PeerAddress, now: number): void {
    this.#to = to;
    this.#left = this.retries;
    this.#out.push({ data: Uint8Array.of(1), to });
    this.#deadline = now + this.rtoMs;
  }

  receive(data: Uint8Array, from: SocketAddress, now: number): void {
    if (data[0] === 1) {
      this.#out.push({ data: Uint8Array.of(2), to: from });
      return;
    }
    this.replies++;
    this.answered.push(now);
    this.#deadline = this.shortenOnReceive === undefined ? undefined : now + this.shortenOnReceive;
  }

  takeOutput(): readonly SimDatagram[] {
    const out = this.#out;
    this.#out = [];
    return out;
  }

  nextDeadline(): number | undefined {
    return this.#deadline;
  }

  handleTimeout(now: number): void {
    if (this.#deadline === undefined || now < this.#deadline) return;
    this.timeouts.push(now);
    if (this.#left === 0 || this.#to === undefined) {
      this.#deadline = undefined;
      return;
    }
    this.#left--;
    this.#out.push({ data: Uint8Array.of(1), to: this.#to });
    this.#deadline = now + this.rtoMs;
  }
}

describe('timers from nextDeadline', () => {
  function pair(latencyMs = 30): {
    net: SimNetwork;
    client: SimNode<RetryCore>;
    server: SimNode<RetryCore>;
  } {
    const net = new SimNetwork({ latency: constantLatency(latencyMs) });
    const client = net.addNode(new RetryCore());
    const server = net.addNode(new RetryCore());
    return { net, client, server };
  }

  it('fire at the deadline, are re-armed after each timeout, and stop when none is due', () => {
    const { net, client, server } = pair();
    server.leave();
    client.core.request(server.address, net.now);
    expect(client.timerAt).toBeUndefined(); // nothing happens before poke()
    client.poke();
    expect(client.timerAt).toBe(1000);
    expect(net.runUntilIdle()).toBe(4 + 4); // 4 timeouts + 4 (dropped) deliveries
    expect(client.core.timeouts).toEqual([1000, 2000, 3000, 4000]);
    expect(client.stats()).toMatchObject({ sent: 4, timeouts: 4 });
    expect(net.stats().dropped.offline).toBe(4);
    expect(client.timerAt).toBeUndefined();
    expect(net.now).toBe(4000);
  });

  it('are cancelled when a reply clears the deadline', () => {
    const { net, client, server } = pair();
    client.core.request(server.address, net.now);
    client.poke();
    expect(net.runUntilIdle()).toBe(2);
    expect(client.core.answered).toEqual([60]);
    expect(client.core.timeouts).toEqual([]);
    expect(client.timerAt).toBeUndefined();
    expect(net.clock.pending).toBe(0);
  });

  it('move earlier when the deadline does, and fire at once when it is already past', () => {
    const { net, client, server } = pair();
    client.core.shortenOnReceive = 5;
    client.core.request(server.address, net.now);
    client.poke();
    net.runUntil(60);
    expect(client.timerAt).toBe(65);
    net.runUntil(100);
    expect(client.core.timeouts).toEqual([65]);
    expect(client.timerAt).toBe(1065);

    // A deadline in the past (an intent recorded with a stale `now`) fires at once.
    client.core.request(server.address, net.now - 5000);
    client.poke();
    expect(client.timerAt).toBe(100);
    net.clock.step();
    expect(client.core.timeouts).toEqual([65, 100]);
  });

  it('do not fire while the node is offline; join re-arms them', () => {
    const { net, client, server } = pair();
    server.leave();
    client.core.request(server.address, 0);
    client.poke();
    client.leave();
    expect(client.timerAt).toBeUndefined();
    net.runUntil(5000);
    expect(client.core.timeouts).toEqual([]);
    client.join();
    expect(client.timerAt).toBe(5000); // overdue: due now
    net.runUntil(5000);
    expect(client.core.timeouts).toEqual([5000]);
    expect(client.timerAt).toBe(6000);
  });

  it('a core whose deadline never advances is stopped by the event bound', () => {
    const net = new SimNetwork();
    const stuck: SimCore = {
      receive() {},
      takeOutput: () => NO_OUTPUT,
      nextDeadline: () => 0,
      handleTimeout() {},
    };
    const node = net.addNode(stuck);
    expect(net.runUntilIdle(500)).toBe(500);
    expect(node.stats().timeouts).toBe(500);
    node.stop();
    expect(net.runUntilIdle()).toBe(0);
  });
});
