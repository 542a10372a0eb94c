/**
 * TURN (RFC 8656) against coturn on loopback: an allocation with long-term credentials
 * (the 401 challenge answered), a permission, Send and Data indications both ways through
 * the relay, a channel binding and ChannelData both ways, a refresh, a wrong password
 * refused, and the release (LIFETIME 0).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StunResponseError } from '../../src/p2p/nat/stun/client.js';
import { TurnClient } from '../../src/p2p/nat/turn/node.js';
import type { TransportAddress } from '../../src/p2p/nat/stun/codec.js';
import { bindUdp } from '../../src/transport/udp.js';
import type { UdpEndpoint } from '../../src/transport/udp.js';
import { startCoturn } from '../helpers/coturn.js';
import type { Coturn } from '../helpers/coturn.js';

let coturn: Coturn;

beforeAll(async () => {
  coturn = await startCoturn();
}, 60_000);

afterAll(() => coturn?.stop());

function nextMessage(
  target: UdpEndpoint | TurnClient,
): Promise<{ data: string; from: { address: string; port: number } }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('nothing arrived within 5 s')), 5000);
    const handler = (d: Uint8Array, from: TransportAddress | { address: string; port: number }) => {
      clearTimeout(timer);
      resolve({ data: Buffer.from(d).toString(), from });
    };
    if (target instanceof TurnClient) target.once('data', handler);
    else target.once('message', handler);
  });
}

describe('TURN ⇄ coturn (RFC 8656)', () => {
  it('allocates, relays through indications and a channel both ways, refreshes and releases', async () => {
    const peer = await bindUdp({ host: '127.0.0.1', port: 0 });
    const client = await TurnClient.connect({
      server: { address: '127.0.0.1', port: coturn.port },
      credentials: coturn.user,
      host: '127.0.0.1',
      software: 'ghostnet-test',
    });
    try {
      const a = await client.allocate();
      expect(a.relayed.address).toBe('127.0.0.1');
      expect(a.mapped).toEqual({
        address: '127.0.0.1',
        port: client.localAddress.port,
        family: 'IPv4',
      });
      expect(a.lifetime).toBeGreaterThan(0);

      // §9: without a permission the relay drops what the peer sends.
      await client.createPermission(['127.0.0.1']);
      // §11: Send indication out, Data indication back.
      const atPeer = nextMessage(peer);
      client.send(peer.address, new TextEncoder().encode('via-send'));
      const got = await atPeer;
      expect(got.data).toBe('via-send');
      expect(got.from.port).toBe(a.relayed.port);
      const atClient = nextMessage(client);
      peer.send(new TextEncoder().encode('via-data'), {
        address: '127.0.0.1',
        port: a.relayed.port,
      });
      const back = await atClient;
      expect(back.data).toBe('via-data');
      expect(back.from.port).toBe(peer.address.port);

      // §12: a channel, then ChannelData both ways.
      const channel = await client.channelBind(peer.address);
      expect(channel).toBeGreaterThanOrEqual(0x4000);
      const atPeer2 = nextMessage(peer);
      client.send(peer.address, new TextEncoder().encode('via-channel'));
      expect((await atPeer2).data).toBe('via-channel');
      const atClient2 = nextMessage(client);
      peer.send(new TextEncoder().encode('channel-back'), {
        address: '127.0.0.1',
        port: a.relayed.port,
      });
      expect((await atClient2).data).toBe('channel-back');

      // §8: a refresh is granted.
      expect(await client.refresh(300)).toBeGreaterThan(0);

      // Release: a Refresh with LIFETIME 0 is granted as 0 (§8). (coturn deletes the
      // allocation a moment later; an immediate Allocate on the same 5-tuple still gets 437.)
      expect(await client.refresh(0)).toBe(0);
      expect(client.allocation).toBeUndefined();
      expect(() => client.send(peer.address, Uint8Array.of(1))).toThrow(/no allocation/);
    } finally {
      await client.close();
      await peer.close();
    }
  }, 30_000);

  it('a wrong password gets 401 after the signed retry', async () => {
    const client = await TurnClient.connect({
      server: { address: '127.0.0.1', port: coturn.port },
      credentials: { username: 'alice', password: 'wrong' },
      host: '127.0.0.1',
    });
    try {
      const err = await client.allocate().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StunResponseError);
      expect((err as StunResponseError).status).toBe(401);
    } finally {
      await client.close();
    }
  }, 30_000);
});
