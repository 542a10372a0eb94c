/**
 * The gossip binding on loopback: agents meeting over real UDP and TCP, user events, a
 * graceful leave, gauges for monitoring, and hostile input on both sockets (garbage
 * datagrams, malformed and oversized streams) that is dropped without a crash.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Observer } from '../../../src/monitoring/observer.js';
import { GossipAgent, parseHostPort } from '../../../src/p2p/gossip/agent.js';
import type { SerfEvent } from '../../../src/p2p/gossip/serf.js';
import { connectTcp } from '../../../src/transport/tcp.js';
import { bindUdp } from '../../../src/transport/udp.js';
import { mulberry32 } from '../../helpers/prng.js';

const agents: GossipAgent[] = [];
afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.close()));
});

async function start(name: string, extra: Partial<Parameters<typeof GossipAgent.start>[0]> = {}) {
  const agent = await GossipAgent.start({ name, port: 0, ...extra });
  agents.push(agent);
  const events: SerfEvent[] = [];
  agent.on('event', (e) => events.push(e));
  return { agent, events };
}

async function until(what: string, check: () => boolean, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('GossipAgent', () => {
  it('parses host:port forms', () => {
    expect(parseHostPort('127.0.0.1:7000')).toEqual({ address: '127.0.0.1', port: 7000 });
    expect(parseHostPort('[::1]:7000')).toEqual({ address: '::1', port: 7000 });
    expect(parseHostPort('localhost')).toEqual({ address: 'localhost', port: 7946 });
    expect(() => parseHostPort('a:b:c')).toThrow();
    expect(() => parseHostPort('h:70000')).toThrow();
  });

  it('three agents meet, share tags and a user event, and see a graceful leave', async () => {
    const a = await start('a', { tags: { role: 'seed' } });
    const b = await start('b', { tags: { role: 'worker' } });
    const c = await start('c');
    expect(await b.agent.join([{ address: '127.0.0.1', port: a.agent.address.port }])).toBe(1);
    expect(await c.agent.join([{ address: 'localhost', port: b.agent.address.port }])).toBe(1);
    await until('everyone to see three alive members', () =>
      [a, b, c].every((x) => x.agent.members().filter((m) => m.state === 'alive').length === 3),
    );
    expect(c.agent.members().find((m) => m.name === 'a')?.tags).toEqual({ role: 'seed' });
    expect(a.events.some((e) => e.event === 'member-join' && e.name === 'a')).toBe(true);

    a.agent.userEvent('deploy', new TextEncoder().encode('v2'));
    await until('b and c to get the user event', () =>
      [b, c].every((x) => x.events.some((e) => e.event === 'user-event' && e.name === 'deploy')),
    );
    // Each agent reports it once, however many times it was re-broadcast; the sender too
    // (serf.go UserEvent handles its own event locally).
    expect(c.events.filter((e) => e.event === 'user-event').length).toBe(1);
    expect(a.events.filter((e) => e.event === 'user-event').length).toBe(1);

    await c.agent.leave();
    await c.agent.close();
    await until('a and b to see c leave', () =>
      [a, b].every((x) => x.events.some((e) => e.event === 'member-leave' && e.name === 'c')),
    );
    expect(a.events.some((e) => e.event === 'member-failed')).toBe(false);
  }, 30_000);

  it('publishes gossip_* gauges and traffic counts to the observer', async () => {
    const gauges = new Map<string, number>();
    let sent = 0;
    let received = 0;
    const observer: Observer = {
      connectionOpened() {},
      connectionClosed() {},
      bytesReceived: (_p, n) => {
        received += n;
      },
      bytesSent: (_p, n) => {
        sent += n;
      },
      requestFinished() {},
      error() {},
      gauge: (name, value, labels) => {
        gauges.set(`${name}${JSON.stringify(labels ?? {})}`, value);
      },
    };
    const a = await start('obs', { observer });
    const b = await start('peer');
    await a.agent.join([{ address: '127.0.0.1', port: b.agent.address.port }]);
    await until(
      'an acked probe to be published',
      () => (gauges.get('gossip_probes{"outcome":"acked"}') ?? 0) > 0,
    );
    expect(gauges.get('gossip_members{"state":"alive"}')).toBe(2);
    expect(gauges.has('gossip_broadcast_queue{}')).toBe(true);
    expect(gauges.get('gossip_health_score{}')).toBe(0);
    expect(sent).toBeGreaterThan(0);
    expect(received).toBeGreaterThan(0);
  }, 20_000);

  it('drops garbage datagrams and keeps working', async () => {
    const a = await start('target');
    const b = await start('witness');
    const udp = await bindUdp({ host: '127.0.0.1', port: 0 });
    const rand = mulberry32(7);
    for (let i = 0; i < 500; i++) {
      const len = Math.floor(rand() * 200);
      const buf = new Uint8Array(len);
      for (let j = 0; j < len; j++) buf[j] = Math.floor(rand() * 256);
      if (len > 0) buf[0] = Math.floor(rand() * 14); // mostly valid type bytes
      udp.send(buf, { address: '127.0.0.1', port: a.agent.address.port });
    }
    await until('garbage to be counted', () => a.agent.stats().dropped > 100);
    await udp.close();
    await b.agent.join([{ address: '127.0.0.1', port: a.agent.address.port }]);
    await until('the two to meet after the garbage', () =>
      a.agent.members().some((m) => m.name === 'witness' && m.state === 'alive'),
    );
  }, 20_000);

  it('closes streams of an unknown type or announcing more than 20 MiB', async () => {
    const a = await start('streams');
    const conn = await connectTcp({ host: '127.0.0.1', port: a.agent.address.port });
    const chunks: Uint8Array[] = [];
    conn.on('data', (c) => chunks.push(c));
    // The agent closes its side (we see FIN; the socket is half-open until we end ours).
    const closed = new Promise<void>((r) => conn.once('end', () => r()));
    conn.write(Uint8Array.of(42, 1, 2, 3)); // an unknown stream message type
    await closed;
    conn.destroy();
    expect(chunks.length).toBe(0); // framing refused it: nothing to answer

    // A push-pull header announcing more user state than memberlist allows (20 MiB).
    const big = await connectTcp({ host: '127.0.0.1', port: a.agent.address.port });
    const bigClosed = new Promise<void>((r) => big.once('end', () => r()));
    big.on('error', () => {});
    // [6] {Nodes: 0, UserStateLen: 0x7fffffff, Join: false}
    big.write(
      Uint8Array.of(
        6,
        0x83,
        0xa5,
        ...new TextEncoder().encode('Nodes'),
        0,
        0xac,
        ...new TextEncoder().encode('UserStateLen'),
        0xce,
        0x7f,
        0xff,
        0xff,
        0xff,
        0xa4,
        ...new TextEncoder().encode('Join'),
        0xc2,
      ),
    );
    await bigClosed;
    big.destroy();
    // The agent still serves: a join works.
    const b = await start('after');
    expect(await b.agent.join([{ address: '127.0.0.1', port: a.agent.address.port }])).toBe(1);
    void chunks;
  }, 20_000);

  it('refuses to join with the wrong key and rejects bad options', async () => {
    const key = Buffer.alloc(32, 1).toString('base64');
    const other = Buffer.alloc(32, 2).toString('base64');
    const a = await start('keyed', { encrypt: [key] });
    const b = await start('wrong', { encrypt: [other] });
    await expect(
      b.agent.join([{ address: '127.0.0.1', port: a.agent.address.port }]),
    ).rejects.toThrow();
    await expect(
      GossipAgent.start({ name: 'x', port: 0, encrypt: ['bm90IGEga2V5'] }),
    ).rejects.toThrow(/key/i);
    await expect(GossipAgent.start({ name: '', port: 0 })).rejects.toThrow(/name/);
    await expect(
      GossipAgent.start({ name: 'x', port: 0, tags: { big: 'x'.repeat(600) } }),
    ).rejects.toThrow(/512/);
  }, 20_000);
});
