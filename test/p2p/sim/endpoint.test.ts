import { describe, expect, it } from 'vitest';
import { constantLatency } from '../../../src/p2p/sim/latency.js';
import { SimNetwork } from '../../../src/p2p/sim/network.js';
import { realTimers } from '../../../src/p2p/sim/timers.js';
import type { Timers } from '../../../src/p2p/sim/timers.js';
import { DatagramSendError, EndpointClosedError } from '../../../src/transport/datagram-errors.js';
import type { DatagramEndpoint, PeerAddress, SocketAddress } from '../../../src/transport/types.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

/**
 * A socket-style binding of the kind the gossip and NAT issues will write: it takes a
 * `DatagramEndpoint` and injected `Timers`, and retries a request until answered.
 */
class Requester {
  readonly log: string[] = [];
  #timer: unknown;
  #tries = 0;

  constructor(
    readonly endpoint: DatagramEndpoint,
    readonly timers: Timers,
  ) {
    endpoint.on('message', (data) => {
      this.log.push(`${timers.now()} got ${dec.decode(data)}`);
      timers.clearTimeout(this.#timer);
    });
  }

  request(to: PeerAddress): void {
    this.#tries++;
    this.log.push(`${this.timers.now()} try ${this.#tries}`);
    this.endpoint.send(enc.encode(`req ${this.#tries}`), to);
    this.#timer = this.timers.setTimeout(() => this.request(to), 100);
  }
}

describe('SimDatagramEndpoint', () => {
  it('emits message at the virtual delivery time; replies from the listener work', () => {
    const net = new SimNetwork({ latency: constantLatency(25) });
    const a = net.bind();
    const b = net.bind({ address: '192.168.1.2', port: 5000 });
    expect(a.kind).toBe('sim');
    expect(a.address).toEqual({ address: '10.0.0.1', port: 6881, family: 'IPv4' });
    expect(b.address.address).toBe('192.168.1.2');
    const seen: [string, SocketAddress, number][] = [];
    b.on('message', (data, from) => {
      seen.push([dec.decode(data), from, net.now]);
      b.send(enc.encode('pong'), from);
    });
    a.on('message', (data, from) => seen.push([dec.decode(data), from, net.now]));
    a.send(enc.encode('ping'), b.address);
    net.runUntilIdle();
    expect(seen).toEqual([
      ['ping', a.address, 25],
      ['pong', b.address, 50],
    ]);
    expect(a.node.stats()).toMatchObject({ sent: 1, received: 1 });
  });

  it('runs a timer-driven binding on virtual Timers over a lossy link, reproducibly', () => {
    function run(): string[] {
      const net = new SimNetwork({ seed: 4, latency: constantLatency(30), loss: 0.5 });
      const server = net.bind();
      server.on('message', (data, from) =>
        server.send(enc.encode(`ack ${dec.decode(data)}`), from),
      );
      const client = new Requester(net.bind(), net.timers);
      client.request(server.address);
      net.runUntilIdle(1000);
      return client.log;
    }
    const log = run();
    expect(log.at(-1)).toMatch(/^\d+ got ack req \d+$/);
    // Retries happen every 100 virtual ms exactly.
    const tries = log.filter((l) => l.includes('try')).map((l) => Number(l.split(' ')[0]));
    expect(tries).toEqual(tries.map((_, i) => i * 100));
    expect(tries.length).toBeGreaterThan(1); // with seed 4 the first exchange is lost
    expect(run()).toEqual(log);
  });

  it('reports a closed endpoint and bad destinations through error events', async () => {
    const net = new SimNetwork();
    const a = net.bind();
    const errors: Error[] = [];
    a.on('error', (err) => errors.push(err));
    a.send(new Uint8Array(1), { address: '10.0.0.2', port: 0 });
    expect(errors).toEqual([]); // asynchronous in virtual time
    net.runUntilIdle();
    expect(errors[0]).toBeInstanceOf(DatagramSendError);
    let closed = 0;
    a.on('close', () => closed++);
    const p = a.close();
    expect(a.close()).toBe(p);
    expect(a.closed).toBe(true);
    expect(net.size).toBe(0); // the address is free at once
    await p;
    expect(closed).toBe(1);
    a.send(new Uint8Array(1), { address: '10.0.0.2', port: 1 });
    net.runUntilIdle();
    expect(errors[1]).toBeInstanceOf(EndpointClosedError);
    expect(a.lastError).toBe(errors[1]);
    expect(net.bind().address).toEqual({ address: '10.0.0.2', port: 6881, family: 'IPv4' });
  });

  it('drops oversize datagrams silently, like a path MTU, and counts them', () => {
    const net = new SimNetwork();
    const a = net.bind();
    const b = net.bind();
    let got = 0;
    b.on('message', () => got++);
    a.send(new Uint8Array(2000), b.address);
    net.runUntilIdle();
    expect(got).toBe(0);
    expect(net.stats().dropped.oversize).toBe(1);
  });

  it('churn through the endpoint node', () => {
    const net = new SimNetwork({ latency: constantLatency(1) });
    const a = net.bind();
    const b = net.bind();
    let got = 0;
    b.on('message', () => got++);
    b.node.leave();
    a.send(Uint8Array.of(1), b.address);
    net.runUntilIdle();
    b.node.join();
    a.send(Uint8Array.of(1), b.address);
    net.runUntilIdle();
    expect(got).toBe(1);
    expect(net.stats().dropped.offline).toBe(1);
  });
});

describe('realTimers', () => {
  it('wraps the real clock and timers', async () => {
    const before = Date.now();
    expect(realTimers.now()).toBeGreaterThanOrEqual(before);
    let fired = 0;
    const cancelled = realTimers.setTimeout(() => fired--, 0);
    realTimers.clearTimeout(cancelled);
    await new Promise<void>((resolve) => realTimers.setTimeout(resolve, 1));
    expect(fired).toBe(0);
  });
});
