// ICE connection setup time across the simulated NAT matrix (ghostnet/sim): two ghostnet
// ICE agents (controlling and controlled) with a STUN server for server-reflexive
// candidates, 15 ms one-way latency, signaling delivered instantly (trickle), default
// agent settings (Ta 50 ms, check RTO 500 ms, nomination delay 1 s). Measured in virtual
// time from the start of gathering until both agents are connected, and the checks each
// side sent. Deterministic: one run per pair of NATs is the result. No relay (the simulator
// has no TURN server): pairs without a direct path are reported as failing.
// Usage: node bench/nat/ice-setup.js
import { IceAgentCore, StunServerCore } from '../../dist/p2p/nat/index.js';
import { Rng, SimNetwork, constantLatency } from '../../dist/p2p/sim/index.js';

class StunNode {
  server = new StunServerCore();
  receive(data, from) {
    this.server.receive(data, from);
  }
  takeOutput() {
    return this.server.takeOutput().map((o) => ({ data: o.data, to: o.to }));
  }
  nextDeadline() {
    return undefined;
  }
  handleTimeout() {}
}

class AgentNode {
  agent;
  peer;
  node;
  now = 0;
  sent = 0;
  receive(data, from, now) {
    this.now = now;
    this.agent.receive(data, from, now);
  }
  takeOutput() {
    for (const e of this.agent.takeEvents()) {
      if (e.type === 'candidate' && this.peer?.agent !== undefined) {
        this.peer.agent.addRemoteCandidate(e.candidate, this.now);
        this.peer.node?.poke();
      }
    }
    const out = this.agent.takeOutput();
    this.sent += out.length;
    return out;
  }
  nextDeadline() {
    return this.agent.nextDeadline();
  }
  handleTimeout(now) {
    this.now = now;
    this.agent.handleTimeout(now);
  }
}

function setup(natA, natB) {
  const net = new SimNetwork({ seed: 5, latency: constantLatency(15) });
  const stun = net.addNode(new StunNode(), { address: '203.0.113.200', port: 3478 });
  const make = (type, controlling, seed) => {
    const nat = type === undefined ? undefined : net.addNat({ type });
    const holder = new AgentNode();
    holder.node = net.addNode(
      ({ address }) => {
        const rng = new Rng(seed);
        holder.agent = new IceAgentCore({
          controlling,
          local: { address: address.address, port: address.port },
          stunServers: [stun.address],
          random: (n) => rng.randomBytes(n),
        });
        return holder;
      },
      { ...(nat !== undefined && { nat }), port: 5000 },
    );
    return holder;
  };
  const a = make(natA, true, 1);
  const b = make(natB, false, 2);
  a.peer = b;
  b.peer = a;
  a.agent.setRemoteCredentials(b.agent.ufrag, b.agent.pwd);
  b.agent.setRemoteCredentials(a.agent.ufrag, a.agent.pwd);
  return { net, a, b };
}

function measure(natA, natB) {
  const { net, a, b } = setup(natA, natB);
  const start = net.now;
  a.agent.gather(net.now);
  b.agent.gather(net.now);
  a.node.poke();
  b.node.poke();
  for (let i = 0; i < 1200; i++) {
    net.runFor(25);
    const sa = a.agent.state;
    const sb = b.agent.state;
    if (sa === 'connected' && sb === 'connected') {
      return {
        ms: net.now - start,
        sent: a.sent + b.sent,
        pair: `${a.agent.selected.local.type}→${a.agent.selected.remote.type}`,
      };
    }
    if (sa === 'failed' || sb === 'failed')
      return { ms: NaN, sent: a.sent + b.sent, pair: 'failed' };
  }
  return { ms: NaN, sent: a.sent + b.sent, pair: 'timeout' };
}

export async function run() {
  const matrix = [
    [undefined, undefined],
    ['full-cone', 'full-cone'],
    ['full-cone', 'port-restricted'],
    ['full-cone', 'symmetric'],
    ['restricted', 'port-restricted'],
    ['port-restricted', 'port-restricted'],
    ['port-restricted', 'symmetric'],
  ];
  const rows = [];
  for (const [x, y] of matrix) {
    const r = measure(x, y);
    const name = `${x ?? 'no NAT'} ⇄ ${y ?? 'no NAT'}`;
    console.log(
      `  ${name.padEnd(36)} ${Number.isNaN(r.ms) ? r.pair : `${r.ms} ms`} (${r.sent} datagrams, ${r.pair})`,
    );
    rows.push({
      name: `ice setup ${name}`,
      ours: r.ms,
      theirs: r.ms,
      peer: 'self',
      ratio: 1,
      higherIsBetter: false,
      unit: 'ms',
    });
  }
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
