import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from '../../../src/errors.js';
import { constantLatency } from '../../../src/p2p/sim/latency.js';
import type { LatencyModel } from '../../../src/p2p/sim/latency.js';
import { SimNetwork } from '../../../src/p2p/sim/network.js';
import type { SimNetworkOptions } from '../../../src/p2p/sim/network.js';
import type { SimCore, SimDatagram, SimNode } from '../../../src/p2p/sim/node.js';
import { BindError } from '../../../src/transport/errors.js';
import type { PeerAddress, SocketAddress } from '../../../src/transport/types.js';

/** Records what arrives; sends what a test queues (then `node.poke()`). */
class RecorderCore implements SimCore {
  readonly received: { data: Uint8Array; from: SocketAddress; now: number }[] = [];
  out: SimDatagram[] = [];

  receive(data: Uint8Array, from: SocketAddress, now: number): void {
    this.received.push({ data, from, now });
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

function send(node: Node, to: PeerAddress, data: Uint8Array | number): void {
  node.core.out.push({ data: typeof data === 'number' ? Uint8Array.of(data) : data, to });
  node.poke();
}

function makeNet(n: number, options: SimNetworkOptions = {}): { net: SimNetwork; nodes: Node[] } {
  const net = new SimNetwork(options);
  const nodes = Array.from({ length: n }, () => net.addNode(new RecorderCore()));
  return { net, nodes };
}

describe('SimNetwork addresses', () => {
  it('assigns 10.x.y.z:6881 and fd00:: addresses, or takes given ones', () => {
    const net = new SimNetwork();
    const a = net.addNode(new RecorderCore());
    const b = net.addNode(new RecorderCore());
    expect(a.address).toEqual({ address: '10.0.0.1', port: 6881, family: 'IPv4' });
    expect(b.address.address).toBe('10.0.0.2');
    expect(a.id).toBe(0);
    expect(b.id).toBe(1);
    const v6 = net.addNode(new RecorderCore(), { family: 'IPv6' });
    expect(v6.address).toEqual({ address: 'fd00::1', port: 6881, family: 'IPv6' });
    const fixed = net.addNode(new RecorderCore(), { address: '10.0.0.3', port: 1234 });
    expect(fixed.address.family).toBe('IPv4');
    // 10.0.0.3:6881 is still free; the allocator skips only exact collisions.
    expect(net.addNode(new RecorderCore()).address.address).toBe('10.0.0.3');
    expect(() => net.addNode(new RecorderCore(), { address: '10.0.0.1' })).toThrow(BindError);
    expect(() => net.addNode(new RecorderCore(), { port: 0 })).toThrow(InvalidOptionError);
    expect(net.getNode({ address: '10.0.0.2', port: 6881 })).toBe(b);
    expect(net.getNode({ address: '10.0.0.2', port: 1 })).toBeUndefined();
    expect(net.nodes()).toEqual([
      a,
      b,
      v6,
      fixed,
      net.getNode({ address: '10.0.0.3', port: 6881 }),
    ]);
    expect(net.size).toBe(5);

    const ipv6Net = new SimNetwork({ family: 'IPv6', port: 7946 });
    const nodes = Array.from({ length: 70_000 }, () => ipv6Net.addNode(new RecorderCore()));
    expect(nodes[0]!.address.address).toBe('fd00::1');
    expect(nodes[65_535]!.address.address).toBe('fd00::1:0');
    expect(nodes[0]!.address.port).toBe(7946);
  });

  it('passes the address and a per-node stream to a core factory', () => {
    const net = new SimNetwork({ seed: 3 });
    let seen: SocketAddress | undefined;
    const node = net.addNode(({ address, rng, now }) => {
      seen = address;
      expect(now).toBe(0);
      expect(rng.bytes(4)).toEqual(
        new SimNetwork({ seed: 3 }).rng.child('node:10.0.0.1|6881').bytes(4),
      );
      return new RecorderCore();
    });
    expect(seen).toBe(node.address);
    const other = net.addNode(new RecorderCore());
    expect(other.rng.nextUint32()).not.toBe(node.rng.nextUint32());
  });

  it('rejects bad options', () => {
    expect(() => new SimNetwork({ loss: 1.5 })).toThrow(InvalidOptionError);
    expect(() => new SimNetwork({ maxDatagramSize: -1 })).toThrow(InvalidOptionError);
    expect(() => new SimNetwork({ port: 70_000 })).toThrow(InvalidOptionError);
    const net = new SimNetwork();
    expect(() => {
      net.loss = -0.1;
    }).toThrow(InvalidOptionError);
    expect(() => net.leave({ address: '1.2.3.4', port: 5 })).toThrow(InvalidOptionError);
    const foreign = new SimNetwork().addNode(new RecorderCore());
    expect(() => net.leave(foreign)).toThrow(InvalidOptionError);
  });
});

describe('SimNetwork latency', () => {
  it('delivers each datagram exactly send time + the model latency', () => {
    const given = new Map<number, number>();
    let counter = 0;
    const latency: LatencyModel = (_from, _to, rng) => {
      const ms = 10 + rng.next() * 90;
      given.set(counter++, ms);
      return ms;
    };
    const { net, nodes } = makeNet(5, { latency });
    const sentAt = new Map<number, number>();
    for (let i = 0; i < 200; i++) {
      net.clock.scheduleAt(i * 3, () => {
        sentAt.set(i, net.now);
        const data = new Uint8Array(4);
        new DataView(data.buffer).setUint32(0, i);
        send(nodes[i % 5]!, nodes[(i + 1) % 5]!.address, data);
      });
    }
    net.runUntilIdle();
    let seen = 0;
    for (const n of nodes) {
      for (const r of n.core.received) {
        const i = new DataView(r.data.buffer, r.data.byteOffset).getUint32(0);
        expect(r.now).toBeCloseTo(sentAt.get(i)! + given.get(i)!, 9);
        seen++;
      }
    }
    expect(seen).toBe(200);
  });

  it('the default model has a symmetric per-pair base around 50 ms plus jitter', () => {
    const { net, nodes } = makeNet(40, { seed: 5 });
    const delays: number[] = [];
    for (const a of nodes) {
      for (const b of nodes) {
        if (a === b) continue;
        const start = net.now;
        send(a, b.address, 1);
        send(b, a.address, 2);
        net.runUntilIdle();
        const ab = b.core.received.at(-1)!.now - start;
        const ba = a.core.received.at(-1)!.now - start;
        expect(ab).toBeGreaterThanOrEqual(1);
        // Same base both ways; they differ only by jitter (mean 5 ms each).
        expect(Math.abs(ab - ba)).toBeLessThan(60);
        delays.push(ab);
      }
    }
    delays.sort((x, y) => x - y);
    const median = delays[delays.length >> 1]!;
    expect(median).toBeGreaterThan(40);
    expect(median).toBeLessThan(70);
    expect(delays[0]).toBeLessThan(median);
    expect(delays.at(-1)).toBeGreaterThan(median * 1.5);
  });
});

describe('SimNetwork loss', () => {
  it('drops about `loss` of 10,000 datagrams', () => {
    const { net, nodes } = makeNet(2, { loss: 0.2, latency: constantLatency(1) });
    const [a, b] = nodes as [Node, Node];
    for (let i = 0; i < 10_000; i++) a.core.out.push({ data: Uint8Array.of(1), to: b.address });
    a.poke();
    net.runUntilIdle();
    const s = net.stats();
    expect(s.sent).toBe(10_000);
    expect(s.delivered + s.dropped.loss).toBe(10_000);
    expect(s.dropped.loss).toBeGreaterThan(1_800);
    expect(s.dropped.loss).toBeLessThan(2_200);
    expect(b.core.received.length).toBe(s.delivered);
    expect(b.stats().dropped).toBe(s.dropped.loss);
    expect(s.inFlight).toBe(0);
  });

  it('per-link loss overrides the global rate, both ways or one way', () => {
    const { net, nodes } = makeNet(3, { latency: constantLatency(1) });
    const [a, b, c] = nodes as [Node, Node, Node];
    net.setLinkLoss(a, b, 1);
    net.setLinkLoss(a, c.address, 1, { bidirectional: false });
    for (const [x, y] of [
      [a, b],
      [b, a],
      [a, c],
      [c, a],
      [b, c],
    ] as const) {
      send(x, y.address, 1);
    }
    net.runUntilIdle();
    expect(net.stats().dropped.loss).toBe(3);
    expect(a.core.received.map((r) => r.from)).toEqual([c.address]);
    net.setLinkLoss(a, b, undefined);
    send(a, b.address, 1);
    net.runUntilIdle();
    expect(b.core.received).toHaveLength(1);
  });
});

describe('SimNetwork partitions', () => {
  function allPairs(net: SimNetwork, nodes: Node[]): Set<string> {
    const before = nodes.map((n) => n.core.received.length);
    for (const a of nodes) for (const b of nodes) if (a !== b) send(a, b.address, a.id);
    net.runUntilIdle();
    const got = new Set<string>();
    nodes.forEach((n, i) => {
      for (const r of n.core.received.slice(before[i])) got.add(`${r.data[0]}>${n.id}`);
    });
    return got;
  }

  function expectCut(got: Set<string>, n: number, cut: (a: number, b: number) => boolean): void {
    for (let a = 0; a < n; a++) {
      for (let b = 0; b < n; b++) {
        if (a !== b) expect(got.has(`${a}>${b}`), `${a}>${b}`).toBe(!cut(a, b));
      }
    }
  }

  it('drops exactly the traffic between the two groups; heal restores it', () => {
    const { net, nodes } = makeNet(6);
    const inA = (i: number): boolean => i <= 2;
    const inB = (i: number): boolean => i === 3 || i === 4;
    const rule = net.partition(nodes.slice(0, 3), [nodes[3]!, nodes[4]!.address]);
    expect(rule.active).toBe(true);
    expectCut(allPairs(net, nodes), 6, (a, b) => (inA(a) && inB(b)) || (inB(a) && inA(b)));
    expect(net.stats().dropped.partition).toBe(12);
    net.heal();
    expect(rule.active).toBe(false);
    expectCut(allPairs(net, nodes), 6, () => false);
  });

  it('one group alone is cut off from everyone, including later nodes', () => {
    const { net, nodes } = makeNet(4);
    net.partition([nodes[0]!]);
    const late = net.addNode(new RecorderCore());
    const all = [...nodes, late];
    expectCut(allPairs(net, all), 5, (a, b) => (a === 0) !== (b === 0));
  });

  it('rules stack and heal one by one; datagrams already in flight arrive', () => {
    const { net, nodes } = makeNet(4, { latency: constantLatency(10) });
    send(nodes[0]!, nodes[1]!.address, 0); // in flight before the cut
    const p1 = net.partition([nodes[0]!], [nodes[1]!]);
    const p2 = net.partition([nodes[2]!], [nodes[3]!]);
    expect(() => net.partition([nodes[0]!], [nodes[0]!])).toThrow(InvalidOptionError);
    net.runUntilIdle();
    expect(nodes[1]!.core.received).toHaveLength(1);
    p1.heal();
    p1.heal();
    expectCut(allPairs(net, nodes), 4, (a, b) => (a === 2 && b === 3) || (a === 3 && b === 2));
    p2.heal();
    expectCut(allPairs(net, nodes), 4, () => false);
  });
});

describe('SimNetwork churn', () => {
  it('an offline node receives nothing; drops are counted; join restores it', () => {
    const { net, nodes } = makeNet(3, { latency: constantLatency(10) });
    const [a, b, c] = nodes as [Node, Node, Node];
    send(a, b.address, 1); // in flight when b leaves
    net.runFor(5);
    b.leave();
    expect(b.online).toBe(false);
    send(c, b.address, 2);
    net.leave(c.address);
    send(c, a.address, 3); // an offline node cannot send either
    net.runUntilIdle();
    expect(b.core.received).toHaveLength(0);
    expect(a.core.received).toHaveLength(0);
    expect(b.stats()).toMatchObject({ received: 0, dropped: 2 });
    let s = net.stats();
    expect(s.dropped.offline).toBe(3);
    expect(s.online).toBe(1);
    net.join(b);
    b.join(); // idempotent
    send(a, b.address, 4);
    net.runUntilIdle();
    expect(b.core.received.map((r) => r.data[0])).toEqual([4]);
    s = net.stats();
    expect(s.delivered).toBe(1);
    expect(s.sent).toBe(4);
  });

  it('stop frees the address; a new node there gets the traffic', () => {
    const { net, nodes } = makeNet(2, { latency: constantLatency(10) });
    const [a, b] = nodes as [Node, Node];
    send(a, b.address, 1);
    b.stop();
    b.stop();
    expect(b.stopped).toBe(true);
    expect(net.size).toBe(1);
    const again = net.addNode(new RecorderCore(), { address: b.address.address });
    net.runUntilIdle();
    expect(again.core.received.map((r) => r.data[0])).toEqual([1]);
    expect(b.core.received).toHaveLength(0);
    expect(net.nodes()).toEqual([a, again]);
  });

  it('a node can start offline', () => {
    const net = new SimNetwork({ latency: constantLatency(1) });
    const a = net.addNode(new RecorderCore());
    const b = net.addNode(new RecorderCore(), { online: false });
    send(a, b.address, 1);
    net.runUntilIdle();
    expect(b.core.received).toHaveLength(0);
    expect(net.stats().dropped.offline).toBe(1);
  });
});

describe('SimNetwork size limit, addressing and stats', () => {
  it('drops oversize datagrams and unknown destinations, counting bytes', () => {
    const { net, nodes } = makeNet(2, { latency: constantLatency(1) });
    const [a, b] = nodes as [Node, Node];
    send(a, b.address, new Uint8Array(1472));
    send(a, b.address, new Uint8Array(1473));
    send(a, { address: '10.9.9.9', port: 6881 }, new Uint8Array(10));
    send(a, { address: b.address.address, port: b.address.port }, new Uint8Array(5)); // new object
    net.runUntilIdle();
    expect(b.core.received.map((r) => r.data.length)).toEqual([1472, 5]);
    const s = net.stats();
    expect(s).toMatchObject({
      sent: 4,
      bytesSent: 1472 + 1473 + 10 + 5,
      delivered: 2,
      bytesDelivered: 1477,
      inFlight: 0,
      dropped: {
        total: 2,
        oversize: 1,
        unreachable: 1,
        loss: 0,
        partition: 0,
        offline: 0,
        filtered: 0,
      },
    });
    expect(a.stats()).toMatchObject({ sent: 4, bytesSent: 2960, received: 0 });
    expect(b.stats()).toMatchObject({ received: 2, bytesReceived: 1477 });

    const small = makeNet(2, { maxDatagramSize: 100 });
    send(small.nodes[0]!, small.nodes[1]!.address, new Uint8Array(101));
    expect(small.net.stats().dropped.oversize).toBe(1);
  });

  it('copies datagrams, so a core may reuse its output buffer', () => {
    const { net, nodes } = makeNet(2);
    const buf = Uint8Array.of(1, 2, 3);
    send(nodes[0]!, nodes[1]!.address, buf);
    buf.fill(9);
    net.runUntilIdle();
    expect([...nodes[1]!.core.received[0]!.data]).toEqual([1, 2, 3]);
  });
});

describe('SimNetwork determinism', () => {
  function run(seed: number): string[] {
    const trace: string[] = [];
    const net = new SimNetwork({
      seed,
      loss: 0.1,
      trace: (r) =>
        trace.push(
          `${r.time.toFixed(6)} ${r.type} ${r.from.address}>${r.to.address} ${r.size} ${r.reason ?? ''}`,
        ),
    });
    const nodes = Array.from({ length: 50 }, () => net.addNode(new RecorderCore()));
    // Every node forwards what it receives to a node picked with its own stream, 3 hops.
    for (const n of nodes) {
      const core = n.core;
      const receive = core.receive.bind(core);
      core.receive = (data, from, now) => {
        receive(data, from, now);
        if (data[0]! > 0) {
          core.out.push({ data: Uint8Array.of(data[0]! - 1, 0, 0), to: n.rng.pick(nodes).address });
        }
      };
    }
    for (const n of nodes) send(n, n.rng.pick(nodes).address, 3);
    net.runUntilIdle();
    return trace;
  }

  it('the same seed gives an identical trace; another seed a different one', () => {
    const a = run(1);
    expect(a.length).toBeGreaterThan(300);
    expect(a.some((l) => l.includes('drop'))).toBe(true);
    expect(run(1)).toEqual(a);
    expect(run(2)).not.toEqual(a);
  });
});
