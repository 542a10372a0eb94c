/**
 * The ICE session as a DatagramEndpoint for upper layers (RFC 8445's result, DESIGN §3):
 * two agents connect on loopback with host candidates, and two Mainline DHT nodes then run
 * over the two endpoints — a BEP 5 bootstrap across the ICE session. Sending anywhere but the
 * selected remote is an error event, not a throw.
 */
import { describe, expect, it } from 'vitest';
import { IceAgent, IceDatagramEndpoint } from '../../../../src/p2p/nat/ice/node.js';
import { DhtNode } from '../../../../src/p2p/kademlia/node.js';

async function connectedPair(): Promise<[IceAgent, IceAgent]> {
  const a = await IceAgent.create({ controlling: true, rtoMs: 100 });
  const b = await IceAgent.create({ controlling: false, rtoMs: 100 });
  a.setRemoteCredentials(b.ufrag, b.pwd);
  b.setRemoteCredentials(a.ufrag, a.pwd);
  a.on('candidate', (_c, sdp) => b.addRemoteCandidate(sdp));
  b.on('candidate', (_c, sdp) => a.addRemoteCandidate(sdp));
  const both = Promise.all([a.connected(), b.connected()]);
  a.gather();
  b.gather();
  await both;
  return [a, b];
}

describe('IceDatagramEndpoint', () => {
  it('carries a Mainline DHT bootstrap between two nodes over an ICE session', async () => {
    const [a, b] = await connectedPair();
    const ea = new IceDatagramEndpoint(a);
    const eb = new IceDatagramEndpoint(b);
    const na = await DhtNode.start({ endpoint: ea });
    const nb = await DhtNode.start({ endpoint: eb });
    try {
      // BEP 5: bootstrapping off the other node is a find_node exchange across the session.
      const r = await na.bootstrap([{ ...eb.address }]);
      const ids = r.closest.map((c) => Buffer.from(c.id).toString('hex'));
      expect(ids).toContain(Buffer.from(nb.id).toString('hex'));
      const errors: Error[] = [];
      ea.on('error', (e) => errors.push(e));
      ea.send(Uint8Array.of(1), { address: '127.0.0.1', port: 9 });
      expect(errors[0]?.message).toMatch(/only .* is reachable/);
    } finally {
      await na.close();
      await nb.close();
      await a.close();
      await b.close();
    }
  }, 20_000);

  it('refuses an agent that is not connected', async () => {
    const a = await IceAgent.create({ controlling: true });
    try {
      expect(() => new IceDatagramEndpoint(a)).toThrow(/not connected/);
    } finally {
      await a.close();
    }
  });
});
