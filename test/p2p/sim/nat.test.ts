/**
 * NATs on the simulated network, with RFC 4787's behaviours: endpoint-independent or
 * address(-and-port)-dependent mapping and filtering, private addresses that do not route
 * from outside, mapping expiry, hairpinning, and a hole punched by two NATed peers.
 */
import { describe, expect, it } from 'vitest';
import { constantLatency } from '../../../src/p2p/sim/latency.js';
import type { SimNat, SimNatType } from '../../../src/p2p/sim/nat.js';
import { SimNetwork } from '../../../src/p2p/sim/network.js';
import type { SimCore, SimDatagram, SimNode } from '../../../src/p2p/sim/node.js';
import type { PeerAddress, SocketAddress } from '../../../src/transport/types.js';

class RecorderCore implements SimCore {
  readonly received: { data: number; from: SocketAddress }[] = [];
  out: SimDatagram[] = [];
  receive(data: Uint8Array, from: SocketAddress): void {
    this.received.push({ data: data[0]!, from });
  }
  takeOutput(): SimDatagram[] {
    const out = this.out;
    this.out = [];
    return out;
  }
  nextDeadline(): number | undefined {
    return undefined;
  }
  handleTimeout(): void {}
}

type Node = SimNode<RecorderCore>;

function send(node: Node, to: PeerAddress, byte: number): void {
  node.core.out.push({ data: Uint8Array.of(byte), to });
  node.poke();
}

function setup(type: SimNatType, extra: { hairpin?: boolean; mappingTimeoutMs?: number } = {}) {
  const net = new SimNetwork({ latency: constantLatency(10) });
  const nat = net.addNat({ type, ...extra });
  const inside = net.addNode(new RecorderCore(), { nat, port: 5000 });
  const server = net.addNode(new RecorderCore(), { port: 3478 });
  const serverOtherPort = net.addNode(new RecorderCore(), {
    address: server.address.address,
    port: 3479,
  });
  const stranger = net.addNode(new RecorderCore(), { port: 3478 });
  return { net, nat, inside, server, serverOtherPort, stranger };
}

/** The public address the server saw the inside node's first datagram from. */
function mapped(net: SimNetwork, inside: Node, server: Node): SocketAddress {
  send(inside, server.address, 1);
  net.runUntilIdle();
  return server.core.received.at(-1)!.from;
}

function reaches(net: SimNetwork, from: Node, to: PeerAddress, inside: Node): boolean {
  const before = inside.core.received.length;
  send(from, to, 9);
  net.runUntilIdle();
  return inside.core.received.length > before;
}

describe('SimNat (RFC 4787 behaviours)', () => {
  it('translates the source to the public address and routes the answer back', () => {
    const { net, nat, inside, server } = setup('port-restricted');
    expect(inside.address.address).toMatch(/^192\.168\./);
    const pub = mapped(net, inside, server);
    expect(pub.address).toBe(nat.publicAddress);
    expect(pub.port).toBeGreaterThanOrEqual(49152);
    send(server, pub, 2);
    net.runUntilIdle();
    expect(inside.core.received).toEqual([{ data: 2, from: server.address }]);
    expect(nat.stats()).toMatchObject({ mappings: 1, translatedOut: 1, translatedIn: 1 });
  });

  it('private addresses do not route from outside the NAT', () => {
    const { net, inside, server } = setup('full-cone');
    send(server, inside.address, 1);
    net.runUntilIdle();
    expect(inside.core.received).toHaveLength(0);
    expect(net.stats().dropped.unreachable).toBe(1);
  });

  it('full cone (endpoint-independent filtering): anyone reaches a mapped port', () => {
    const { net, inside, server, serverOtherPort, stranger } = setup('full-cone');
    const pub = mapped(net, inside, server);
    expect(reaches(net, serverOtherPort, pub, inside)).toBe(true);
    expect(reaches(net, stranger, pub, inside)).toBe(true);
  });

  it('restricted (address-dependent filtering): any port of a contacted host, no one else', () => {
    const { net, inside, server, serverOtherPort, stranger } = setup('restricted');
    const pub = mapped(net, inside, server);
    expect(reaches(net, serverOtherPort, pub, inside)).toBe(true);
    expect(reaches(net, stranger, pub, inside)).toBe(false);
    expect(net.stats().dropped.filtered).toBe(1);
  });

  it('port-restricted (address-and-port-dependent filtering): only the contacted endpoint', () => {
    const { net, inside, server, serverOtherPort, stranger } = setup('port-restricted');
    const pub = mapped(net, inside, server);
    expect(reaches(net, serverOtherPort, pub, inside)).toBe(false);
    expect(reaches(net, stranger, pub, inside)).toBe(false);
    expect(reaches(net, server, pub, inside)).toBe(true);
    // Endpoint-independent mapping: the same public port towards every destination.
    expect(mapped(net, inside, stranger)).toEqual(pub);
  });

  it('symmetric (address-and-port-dependent mapping): a new port per destination', () => {
    const { net, inside, server, stranger } = setup('symmetric');
    const toServer = mapped(net, inside, server);
    const toStranger = mapped(net, inside, stranger);
    expect(toStranger.port).not.toBe(toServer.port);
    // The server cannot use the port the stranger saw.
    expect(reaches(net, server, toStranger, inside)).toBe(false);
    expect(reaches(net, server, toServer, inside)).toBe(true);
  });

  it('forgets idle mappings after mappingTimeoutMs (RFC 4787 REQ-5: 2 minutes default)', () => {
    const { net, inside, server } = setup('full-cone', { mappingTimeoutMs: 1000 });
    const pub = mapped(net, inside, server);
    net.runFor(2000);
    expect(reaches(net, server, pub, inside)).toBe(false);
  });

  it('hairpinning is off by default and can be turned on', () => {
    for (const hairpin of [false, true]) {
      const net = new SimNetwork({ latency: constantLatency(5) });
      const nat = net.addNat({ type: 'full-cone', hairpin });
      const a = net.addNode(new RecorderCore(), { nat });
      const b = net.addNode(new RecorderCore(), { nat });
      const server = net.addNode(new RecorderCore());
      const pubB = mapped(net, b, server);
      send(a, pubB, 7);
      net.runUntilIdle();
      expect(b.core.received.length).toBe(hairpin ? 1 : 0);
      // Behind the same NAT, private addresses route directly.
      send(a, b.address, 8);
      net.runUntilIdle();
      expect(b.core.received.at(-1)?.data).toBe(8);
    }
  });

  it('two port-restricted NATs: a simultaneous punch opens a direct path', () => {
    const net = new SimNetwork({ latency: constantLatency(20) });
    const natA: SimNat = net.addNat({ type: 'port-restricted' });
    const natB: SimNat = net.addNat({ type: 'port-restricted' });
    const a = net.addNode(new RecorderCore(), { nat: natA });
    const b = net.addNode(new RecorderCore(), { nat: natB });
    const rendezvous = net.addNode(new RecorderCore());
    const pubA = mapped(net, a, rendezvous);
    const pubB = mapped(net, b, rendezvous);
    send(a, pubB, 1); // dropped by B's NAT, but opens A's
    send(b, pubA, 2); // both in flight at once
    net.runUntilIdle();
    send(a, pubB, 3);
    net.runUntilIdle();
    expect(b.core.received.map((r) => r.data)).toContain(3);
    expect(a.core.received.map((r) => r.data)).toContain(2);
  });

  it('rejects bad options and NATs of another network', () => {
    const net = new SimNetwork();
    expect(() => net.addNat({ type: 'cone' as SimNatType })).toThrow(/type/);
    const other = new SimNetwork().addNat({ type: 'full-cone' });
    expect(() => net.addNode(new RecorderCore(), { nat: other })).toThrow(/another network/);
    const nat = net.addNat({ type: 'full-cone', publicAddress: '203.0.113.1' });
    expect(() => net.addNat({ type: 'full-cone', publicAddress: '203.0.113.1' })).toThrow();
    expect(nat.publicAddress).toBe('203.0.113.1');
  });
});
