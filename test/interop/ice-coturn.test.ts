/**
 * Two ghostnet ICE agents on loopback that may only use relayed candidates (policy
 * 'relay', like iceTransportPolicy "relay"): each allocates on coturn (RFC 8656), their
 * checks and data travel as Send/Data indications through it, and they connect and
 * exchange data both ways. A missing turnserver fails (never skipped).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IceAgent } from '../../src/p2p/nat/ice/node.js';
import { startCoturn } from '../helpers/coturn.js';
import type { Coturn } from '../helpers/coturn.js';

let coturn: Coturn;
beforeAll(async () => {
  coturn = await startCoturn();
}, 60_000);
afterAll(() => coturn?.stop());

describe('ICE ⇄ coturn relay', () => {
  it('two relay-only agents connect through coturn and exchange data', async () => {
    const turn = { server: { address: '127.0.0.1', port: coturn.port }, credentials: coturn.user };
    const a = await IceAgent.create({ controlling: true, turn, policy: 'relay', rtoMs: 200 });
    const b = await IceAgent.create({ controlling: false, turn, policy: 'relay', rtoMs: 200 });
    try {
      a.setRemoteCredentials(b.ufrag, b.pwd);
      b.setRemoteCredentials(a.ufrag, a.pwd);
      // Trickle: each candidate line goes straight to the other agent.
      a.on('candidate', (_c, sdp) => b.addRemoteCandidate(sdp));
      b.on('candidate', (_c, sdp) => a.addRemoteCandidate(sdp));
      const both = Promise.all([a.connected(), b.connected()]);
      a.gather();
      b.gather();
      await both;
      expect(a.core.selected?.local.type).toBe('relay');
      expect(b.core.selected?.local.type).toBe('relay');
      const atB = new Promise<string>((r) => b.once('data', (d) => r(new TextDecoder().decode(d))));
      a.send(new TextEncoder().encode('through the relay'));
      expect(await atB).toBe('through the relay');
      const atA = new Promise<string>((r) => a.once('data', (d) => r(new TextDecoder().decode(d))));
      b.send(new TextEncoder().encode('and back'));
      expect(await atA).toBe('and back');
    } finally {
      await a.close();
      await b.close();
    }
  }, 30_000);
});
