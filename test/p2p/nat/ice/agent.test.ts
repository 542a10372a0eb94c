/**
 * Two ICE agents (RFC 8445) on the simulated network, behind simulated NATs, with a STUN
 * server for server-reflexive candidates and signaling done by the test (trickle): direct
 * connections where the NATs allow one, a symmetric NAT against a port-restricted one
 * failing without a relay and connecting through a (simulated) TURN relay with one, role-conflict repair (§7.3.1.1), application data on the
 * selected pair, consent freshness (RFC 7675) expiring when the path breaks, and bad
 * requests refused.
 */
import { describe, expect, it } from 'vitest';
import { IceAgentCore } from '../../../../src/p2p/nat/ice/agent.js';
import type { IceEvent } from '../../../../src/p2p/nat/ice/agent.js';
import {
  decodeStun,
  StunBuilder,
  StunClass,
  StunMethod,
  Attr,
} from '../../../../src/p2p/nat/stun/codec.js';
import { StunServerCore } from '../../../../src/p2p/nat/stun/server.js';
import { constantLatency } from '../../../../src/p2p/sim/latency.js';
import type { SimNat, SimNatType } from '../../../../src/p2p/sim/nat.js';
import { SimNetwork } from '../../../../src/p2p/sim/network.js';
import type { SimCore, SimDatagram, SimNode } from '../../../../src/p2p/sim/node.js';
import { Rng } from '../../../../src/p2p/sim/rng.js';
import { SimTurnServer } from '../../../helpers/sim-turn.js';
import type { SocketAddress } from '../../../../src/transport/types.js';

class StunNode implements SimCore {
  readonly server = new StunServerCore();
  receive(data: Uint8Array, from: SocketAddress): void {
    this.server.receive(data, from);
  }
  takeOutput(): SimDatagram[] {
    return this.server.takeOutput().map((o) => ({ data: o.data, to: o.to }));
  }
  nextDeadline(): undefined {
    return undefined;
  }
  handleTimeout(): void {}
}

/** An agent on a sim node; its events feed the other agent (our signaling channel). */
class AgentNode implements SimCore {
  agent: IceAgentCore | undefined;
  readonly events: IceEvent[] = [];
  peer: AgentNode | undefined;
  node: SimNode | undefined;
  now = 0;
  receive(data: Uint8Array, from: SocketAddress, now: number): void {
    this.now = now;
    this.agent!.receive(data, from, now);
  }
  takeOutput(): SimDatagram[] {
    for (const e of this.agent!.takeEvents()) {
      this.events.push(e);
      if (e.type === 'candidate' && this.peer?.agent !== undefined) {
        this.peer.agent.addRemoteCandidate(e.candidate, this.now);
        this.peer.node?.poke();
      }
    }
    return this.agent!.takeOutput();
  }
  nextDeadline(): number | undefined {
    return this.agent!.nextDeadline();
  }
  handleTimeout(now: number): void {
    this.now = now;
    this.agent!.handleTimeout(now);
  }
}

function pairUp(
  natA: SimNatType | undefined,
  natB: SimNatType | undefined,
  opts: { bothControlling?: boolean; turn?: boolean } = {},
) {
  const net = new SimNetwork({ seed: 11, latency: constantLatency(15) });
  const stun = net.addNode(new StunNode(), { address: '203.0.113.200', port: 3478 });
  const turnServer = new SimTurnServer(net, 'alice', 'secret');
  if (opts.turn === true) {
    turnServer.node = net.addNode(turnServer, { address: '203.0.113.201', port: 3478 });
  }
  const make = (type: SimNatType | undefined, controlling: boolean, seed: number): AgentNode => {
    const nat: SimNat | undefined = type === undefined ? undefined : net.addNat({ type });
    const holder = new AgentNode();
    const node = net.addNode(
      ({ address }) => {
        const rng = new Rng(seed);
        holder.agent = new IceAgentCore({
          controlling,
          local: { address: address.address, port: address.port },
          stunServers: [stun.address],
          ...(opts.turn === true && {
            turn: {
              server: { address: '203.0.113.201', port: 3478 },
              credentials: { username: 'alice', password: 'secret' },
            },
          }),
          random: (n) => rng.randomBytes(n),
          rtoMs: 200,
          rc: 5,
          checkTimeoutMs: 15_000,
        });
        return holder;
      },
      { ...(nat !== undefined && { nat }), port: 5000 },
    );
    holder.node = node;
    return holder;
  };
  const a = make(natA, true, 1);
  const b = make(natB, opts.bothControlling === true, 2);
  a.peer = b;
  b.peer = a;
  a.agent!.setRemoteCredentials(b.agent!.ufrag, b.agent!.pwd);
  b.agent!.setRemoteCredentials(a.agent!.ufrag, a.agent!.pwd);
  a.agent!.gather(net.now);
  b.agent!.gather(net.now);
  a.node!.poke();
  b.node!.poke();
  return { net, a, b, turnServer };
}

function connect(
  natA: SimNatType | undefined,
  natB: SimNatType | undefined,
  opts: { bothControlling?: boolean; turn?: boolean } = {},
) {
  const t = pairUp(natA, natB, opts);
  for (let i = 0; i < 400; i++) {
    t.net.runFor(50);
    const sa = t.a.agent!.state;
    const sb = t.b.agent!.state;
    if ((sa === 'connected' && sb === 'connected') || sa === 'failed' || sb === 'failed') break;
  }
  return t;
}

describe('ICE agents through simulated NATs (RFC 8445)', () => {
  it.each([
    [undefined, undefined],
    ['full-cone', 'symmetric'],
    ['full-cone', 'port-restricted'],
    ['restricted', 'port-restricted'],
    ['port-restricted', 'port-restricted'],
  ] as const)('%s ⇄ %s: a direct pair is selected on both sides', (x, y) => {
    const { a, b } = connect(x, y);
    expect(a.agent!.state).toBe('connected');
    expect(b.agent!.state).toBe('connected');
    const sa = a.agent!.selected!;
    const sb = b.agent!.selected!;
    expect(sa.local.type).toBe('host');
    expect(['host', 'srflx', 'prflx']).toContain(sa.remote.type);
    expect(sb.remote.port).toBeGreaterThan(0);
    expect(a.events.filter((e) => e.type === 'selected')).toHaveLength(1);
  });

  it('symmetric ⇄ port-restricted: no direct path exists; without a relay the agents fail', () => {
    const { a, b } = connect('symmetric', 'port-restricted');
    expect([a.agent!.state, b.agent!.state]).toContain('failed');
  });

  it.each([
    ['symmetric', 'port-restricted'],
    ['symmetric', 'symmetric'],
  ] as const)('%s ⇄ %s with a TURN server: they connect through the relay', (x, y) => {
    const { net, a, b, turnServer } = connect(x, y, { turn: true });
    expect(a.agent!.state).toBe('connected');
    expect(b.agent!.state).toBe('connected');
    const sa = a.agent!.selected!;
    const sb = b.agent!.selected!;
    expect(sa.local.type === 'relay' || sa.remote.type === 'relay').toBe(true);
    expect(sb.local.type === 'relay' || sb.remote.type === 'relay').toBe(true);
    expect(a.agent!.send(new TextEncoder().encode('via relay'))).toBe(true);
    a.node!.poke();
    net.runFor(200);
    const data = b.events.find((e) => e.type === 'data');
    expect(data?.type === 'data' && new TextDecoder().decode(data.data)).toBe('via relay');
    expect(turnServer.relayed).toBeGreaterThan(0);
  });

  it('full-cone ⇄ port-restricted with a TURN server still prefers the direct pair', () => {
    const { a } = connect('full-cone', 'port-restricted', { turn: true });
    expect(a.agent!.state).toBe('connected');
    expect(a.agent!.selected!.local.type).not.toBe('relay');
    expect(a.agent!.selected!.remote.type).not.toBe('relay');
  });

  it('§7.3.1.1: both controlling — the role conflict is repaired and they connect', () => {
    const { a, b } = connect(undefined, 'full-cone', { bothControlling: true });
    expect(a.agent!.state).toBe('connected');
    expect(b.agent!.state).toBe('connected');
    expect(a.agent!.controlling).not.toBe(b.agent!.controlling);
  });

  it('carries application data on the selected pair; RFC 7675 consent expires when the path breaks', () => {
    const { net, a, b } = connect('full-cone', 'port-restricted');
    expect(a.agent!.send(new TextEncoder().encode('hello'))).toBe(true);
    a.node!.poke();
    net.runFor(100);
    const data = b.events.find((e) => e.type === 'data');
    expect(data?.type === 'data' && new TextDecoder().decode(data.data)).toBe('hello');
    // Break the path: b goes offline; a's consent checks go unanswered for 30 s.
    b.node!.leave();
    net.runFor(40_000);
    expect(a.agent!.state).toBe('failed');
    expect(a.agent!.send(Uint8Array.of(1))).toBe(false);
  });

  it('§7.3: a check with a wrong USERNAME or password is refused with 401/400', () => {
    const agent = new IceAgentCore({
      controlling: false,
      local: { address: '10.0.0.1', port: 5000 },
    });
    agent.gather(0); // the host candidate answers checks
    const from = { address: '10.0.0.2', port: 6000, family: 'IPv4' as const };
    const bad = new StunBuilder(StunMethod.Binding, StunClass.Request, new Uint8Array(12).fill(1))
      .text(Attr.Username, `${agent.ufrag}:x`)
      .integrity(new TextEncoder().encode('not-the-password'))
      .fingerprint()
      .build();
    agent.receive(bad, from, 0);
    const [out] = agent.takeOutput();
    expect(decodeStun(out!.data).errorCode()?.code).toBe(401);
    const anon = new StunBuilder(
      StunMethod.Binding,
      StunClass.Request,
      new Uint8Array(12).fill(2),
    ).build();
    agent.receive(anon, from, 0);
    expect(decodeStun(agent.takeOutput()[0]!.data).errorCode()?.code).toBe(400);
    expect(() => agent.setRemoteCredentials('ab', 'short')).toThrow(/credentials/);
  });
});
