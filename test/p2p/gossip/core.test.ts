/**
 * GossipCore (memberlist state.go, sans-I/O) driven by hand: 2–5 cores, a fake clock and a
 * tiny in-test router that hands `takeOutput` datagrams to the addressed core's `receive` and
 * runs `takeStreams` exchanges through the target's `handleStream` and the origin's
 * `streamResult`. Covers join by push-pull, probe and ack, suspicion and death on the
 * suspicion timeout (suspicion.go), indirect probes and nacks, refutation, graceful leave,
 * metadata updates, user broadcasts, reaping, bad input, and the member bound; our own
 * alive message queued at start (memberlist.go setAlive), piggybacking capped at one
 * compound's 255 parts (net.go sendMsg) and bad compound parts dropped alone (net.go
 * handleCompound).
 */
import { describe, expect, it } from 'vitest';
import { GhostnetError, InvalidOptionError } from '../../../src/errors.js';
import { GossipCore, suspicionDuration, suspicionTimeout } from '../../../src/p2p/gossip/core.js';
import type { GossipDatagram, GossipOptions } from '../../../src/p2p/gossip/core.js';
import { GossipErrorCodes } from '../../../src/p2p/gossip/errors.js';
import { retransmitLimit } from '../../../src/p2p/gossip/queue.js';
import { Keyring } from '../../../src/p2p/gossip/wire/keyring.js';
import {
  decodeAck,
  decodeAlive,
  decodeIndirectPing,
  decodeNack,
  decodePing,
  encodeAlive,
  encodeDead,
  encodeErr,
  encodePing,
  encodePushPull,
  encodeSuspect,
  MessageType,
} from '../../../src/p2p/gossip/wire/messages.js';
import type { PushNodeState } from '../../../src/p2p/gossip/wire/messages.js';
import { addLabelHeader, encodeCompound } from '../../../src/p2p/gossip/wire/packet.js';
import type { SocketAddress } from '../../../src/transport/types.js';
import { mulberry32 } from '../../helpers/prng.js';
import { aliveMsg, inject, Lone, Net, seededRandom, utf8, VSN } from './net-harness.js';

describe('GossipCore: joining (state.go Join, net.go pushPull)', () => {
  it('join sends our state by push-pull with Join set; both sides learn each other', () => {
    const net = new Net();
    const a = net.add('a');
    const b = net.add('b');
    const results: unknown[] = [];
    b.join([net.addr('a')], net.now, (err, n) => results.push(err, n));
    net.pump();
    expect(results).toEqual([undefined, 1]);
    const [req] = net.sent(MessageType.PushPull, 'b', 'a');
    expect(req).toBeDefined();
    expect(req!.s.kind).toBe('stream');
    expect(a.member('b')).toMatchObject({ state: 'alive', address: '10.0.0.2', port: 7946 });
    expect(b.member('a')).toMatchObject({ state: 'alive', address: '10.0.0.1', port: 7946 });
    expect(net.events('a', 'member-join', 'b')).toHaveLength(1);
    expect(net.events('b', 'member-join', 'a')).toHaveLength(1);
    expect(a.stats().pushPulls).toBe(1);
    expect(b.stats().pushPulls).toBe(1);
    expect(a.size).toBe(2);
  });

  it('memberlist.go setAlive: a new member queues its own alive message (aliveNode, bootstrap)', () => {
    // memberlist's setAlive runs aliveNode(bootstrap=true) for the local node, which
    // queues an alive broadcast about it; the newcomer then gossips its own alive message
    // to the members it learns of, not only the seed's re-broadcast.
    const lone = new Lone();
    expect(lone.core.stats().queued).toBe(1);
    expect(lone.core.members()).toMatchObject([{ name: 'a', state: 'alive', incarnation: 1 }]);
    expect(lone.core.takeEvents()).toMatchObject([{ type: 'member-join', member: { name: 'a' } }]);
    const net = new Net();
    for (const n of ['a', 'b', 'c']) net.add(n);
    net.core('b').join([net.addr('a')], net.now, () => undefined);
    net.core('c').join([net.addr('a')], net.now, () => undefined);
    net.run(3000);
    const aboutSelf = (n: string): number =>
      net.sent(MessageType.Alive, n).filter((x) => decodeAlive(x.msg.subarray(1)).node === n)
        .length;
    expect(aboutSelf('b')).toBeGreaterThan(0);
    expect(aboutSelf('c')).toBeGreaterThan(0);
    // Nobody was accused, so none of those was a refutation.
    expect(net.core('b').incarnation).toBe(1);
    expect(net.core('c').incarnation).toBe(1);
  });

  it('a third member joining one is gossiped to the others', () => {
    const net = new Net();
    for (const n of ['a', 'b', 'c']) net.add(n);
    net.core('b').join([net.addr('a')], net.now, () => undefined);
    net.pump();
    net.core('c').join([net.addr('a')], net.now, () => undefined);
    net.run(3000);
    expect(net.events('b', 'member-join', 'c')).toHaveLength(1);
    expect(net.events('c', 'member-join', 'b')).toHaveLength(1);
    for (const n of ['a', 'b', 'c']) expect(net.core(n).size, n).toBe(3);
  });

  it('five members joining through different seeds converge', () => {
    const net = new Net();
    const names = ['a', 'b', 'c', 'd', 'e'];
    for (const n of names) net.add(n);
    for (let i = 1; i < names.length; i++) {
      net.core(names[i]!).join([net.addr(names[i - 1]!)], net.now, () => undefined);
    }
    net.run(10_000);
    for (const n of names) {
      expect(net.core(n).stats().members, n).toEqual({ alive: 5, suspect: 0, dead: 0, left: 0 });
    }
  });

  it('join fails when no seed answers, succeeds when one does, and needs a seed', () => {
    const net = new Net();
    net.add('a');
    const b = net.add('b');
    const results: unknown[] = [];
    b.join([{ address: '10.9.9.9', port: 1 }], net.now, (err) => results.push(err));
    net.pump();
    expect(results[0]).toBeInstanceOf(Error);
    results.length = 0;
    b.join([{ address: '10.9.9.9', port: 1 }, net.addr('a')], net.now, (err, n) =>
      results.push(err, n),
    );
    net.pump();
    expect(results).toEqual([undefined, 1]);
    b.join([], net.now, (err) => results.push(err));
    expect(results[2]).toBeInstanceOf(InvalidOptionError);
  });

  it('an encrypted, labelled cluster joins; a member with another key is refused', () => {
    const key = new Uint8Array(32).fill(5);
    const wire = { keyring: new Keyring([key], key), label: 'dc1' };
    const net = new Net();
    net.add('a', { wire });
    net.add('b', { wire });
    net.joinAll('a', 3000);
    expect(net.core('a').size).toBe(2);
    const other = new Uint8Array(32).fill(6);
    const c = net.add('c', { wire: { keyring: new Keyring([other], other), label: 'dc1' } });
    let err: unknown;
    c.join([net.addr('a')], net.now, (e) => (err = e));
    net.pump();
    expect(err).toBeInstanceOf(GhostnetError);
    expect(net.core('a').member('c')).toBeUndefined();
    expect(net.core('a').stats().dropped).toBeGreaterThan(0);
  });
});

describe('GossipCore: probing (state.go probeNode)', () => {
  it('a ping carries Node and our source; the ack answers its SeqNo', () => {
    const net = new Net();
    const a = net.add('a');
    net.add('b');
    net.joinAll();
    net.runUntil(net.now + 10_000, () => net.sent(MessageType.Ping, 'a', 'b').length > 0);
    const [first] = net.sent(MessageType.Ping, 'a', 'b');
    const p = decodePing(first!.msg.subarray(1));
    expect(p).toMatchObject({
      node: 'b',
      sourceAddr: Uint8Array.of(10, 0, 0, 1),
      sourcePort: 7946,
      sourceNode: 'a',
    });
    const acks = net.sent(MessageType.Ack, 'b', 'a').map((x) => decodeAck(x.msg.subarray(1)));
    expect(acks.map((x) => x.seqNo)).toContain(p.seqNo);
    net.run(20_000);
    expect(a.stats()).toMatchObject({ probeFailures: 0, suspicions: 0, health: 0 });
    expect(a.stats().probes).toBeGreaterThan(10);
    expect(net.events('a', 'member-failed')).toEqual([]);
  });

  it('handlePing: a ping for us is acked to its source; one for another name is not', () => {
    const lone = new Lone();
    const src = { address: '10.0.0.9', port: 7000, family: 'IPv4' as const };
    const send = (node: string): GossipDatagram[] => {
      lone.core.receive(lone.core.codec.sealPacket(encodePing({ seqNo: 7, node })), src, 0);
      return lone.core.takeOutput();
    };
    for (const node of ['a', '']) {
      const [out] = send(node);
      expect(out?.to, node).toMatchObject({ address: '10.0.0.9', port: 7000 });
      const acks = lone.core.codec.openPacket(out!.data).filter((m) => m[0] === MessageType.Ack);
      expect(
        acks.map((m) => decodeAck(m.subarray(1)).seqNo),
        node,
      ).toEqual([7]);
    }
    // A restarted agent under a new name must not answer for the old one.
    expect(send('z')).toEqual([]);
    // With a source address in the ping, the ack goes there instead.
    lone.core.receive(
      lone.core.codec.sealPacket(
        encodePing({ seqNo: 8, node: 'a', sourceAddr: Uint8Array.of(10, 1, 2, 3), sourcePort: 9 }),
      ),
      src,
      0,
    );
    expect(lone.core.takeOutput().map((d) => d.to)).toEqual([{ address: '10.1.2.3', port: 9 }]);
  });

  it('a silent member is suspect at the probe deadline, dead after suspicionTimeout', () => {
    const net = new Net();
    const a = net.add('a');
    net.add('b');
    net.joinAll();
    net.drop = (from, to) => from === 'b' || to === 'b';
    net.runUntil(net.now + 10_000, () =>
      net.sent(MessageType.Ping, 'a', 'b').some((x) => x.s.dropped),
    );
    const t0 = net.now; // a pinged b (and will hear nothing)
    expect(a.health).toBe(0);
    net.runUntil(t0 + 999);
    expect(a.member('b')?.state).toBe('alive');
    net.runUntil(t0 + 1000); // probeInterval × (health + 1)
    expect(a.member('b')?.state).toBe('suspect');
    expect(a.stats().suspicions).toBe(1);
    // Two members: k = suspicionMult - 2 = 2 > n - 2 = 0, so k = 0 and the timeout is min.
    const min = suspicionTimeout(4, 2, 1000);
    expect(min).toBe(4000);
    net.runUntil(t0 + 1000 + min - 1);
    expect(a.member('b')?.state).toBe('suspect');
    expect(net.events('a', 'member-failed', 'b')).toEqual([]);
    net.runUntil(t0 + 1000 + min);
    expect(a.member('b')?.state).toBe('dead');
    expect(net.events('a', 'member-failed', 'b').map((x) => x.at)).toEqual([t0 + 1000 + min]);
    expect(a.stats().members).toEqual({ alive: 1, suspect: 0, dead: 1, left: 0 });
  });

  it('suspicion.go: the timeout starts at max and shrinks with independent confirmations', () => {
    // Five members: k = 2 confirmations; min = 4 × max(1, log10 5) × 1 s; max = 6 × min.
    const min = suspicionTimeout(4, 5, 1000);
    const max = 6 * min;
    expect([min, max]).toEqual([4000, 24000]);
    expect(suspicionDuration(1, 2, min, max)).toBe(11381);

    const setup = (): Lone => {
      const lone = new Lone();
      ['b', 'c', 'd', 'e'].forEach((n, i) => lone.inject(aliveMsg(n, i + 2)));
      expect(lone.core.size).toBe(5);
      lone.runUntil(1000);
      return lone;
    };
    const suspect = (from: string): Uint8Array =>
      encodeSuspect({ incarnation: 1, node: 'b', from });

    // No confirmation: dead at start + max.
    let lone = setup();
    let t0 = lone.now;
    lone.inject(suspect('c'));
    expect(lone.core.member('b')?.state).toBe('suspect');
    lone.runUntil(t0 + max - 1);
    expect(lone.core.member('b')?.state).toBe('suspect');
    lone.runUntil(t0 + max);
    expect(lone.core.member('b')?.state).toBe('dead');

    // One confirmation (a repeat from the same member does not count): start + 11381.
    lone = setup();
    t0 = lone.now;
    lone.inject(suspect('c'));
    lone.runUntil(t0 + 1000);
    lone.inject(suspect('c'));
    lone.inject(suspect('d'));
    lone.runUntil(t0 + suspicionDuration(1, 2, min, max) - 1);
    expect(lone.core.member('b')?.state).toBe('suspect');
    lone.runUntil(t0 + suspicionDuration(1, 2, min, max));
    expect(lone.core.member('b')?.state).toBe('dead');

    // k confirmations: start + min.
    lone = setup();
    t0 = lone.now;
    lone.inject(suspect('c'));
    lone.runUntil(t0 + 1000);
    lone.inject(suspect('d'));
    lone.inject(suspect('e'));
    lone.runUntil(t0 + min - 1);
    expect(lone.core.member('b')?.state).toBe('suspect');
    lone.runUntil(t0 + min);
    expect(lone.core.member('b')?.state).toBe('dead');

    // A suspicion at an older incarnation is ignored.
    lone = setup();
    lone.inject(aliveMsg('b', 2, { incarnation: 5 }));
    lone.inject(suspect('c'));
    expect(lone.core.member('b')?.state).toBe('alive');
  });

  it('indirect probe through a third member keeps a member alive when direct pings are lost', () => {
    const net = new Net();
    const a = net.add('a');
    const b = net.add('b');
    net.add('c');
    net.joinAll();
    // a and b cannot reach each other at all (UDP or TCP); both reach c.
    net.drop = (from, to) => (from === 'a' && to === 'b') || (from === 'b' && to === 'a');
    net.run(30_000);
    expect(a.stats().indirectProbes).toBeGreaterThan(0);
    expect(b.stats().indirectProbes).toBeGreaterThan(0);
    expect(a.stats().probeFailures).toBe(0);
    expect(a.member('b')?.state).toBe('alive');
    expect(b.member('a')?.state).toBe('alive');
    expect(net.events('a', 'member-failed')).toEqual([]);
    expect(net.events('b', 'member-failed')).toEqual([]);
    // c relayed: an indirect ping a → c about b, then an ack c → a with a's SeqNo.
    const ind = net
      .sent(MessageType.IndirectPing, 'a', 'c')
      .map((x) => decodeIndirectPing(x.msg.subarray(1)));
    expect(ind.length).toBeGreaterThan(0);
    expect(ind[0]).toMatchObject({ node: 'b', port: 7946, nack: true, sourceNode: 'a' });
    const relayed = net
      .sent(MessageType.Ack, 'c', 'a')
      .map((x) => decodeAck(x.msg.subarray(1)).seqNo);
    for (const i of ind) expect(relayed).toContain(i.seqNo);
  });

  it('nacks: a relay that hears nothing nacks, and our health is not blamed', () => {
    const run = (loseNacks: boolean): { health: number; nacks: number } => {
      const net = new Net();
      const opts = { probeTimeout: 200 };
      const a = net.add('a', opts);
      net.add('b', opts);
      net.add('c', opts);
      net.joinAll();
      net.drop = (from, to, _kind, types) =>
        from === 'b' || to === 'b' || (loseNacks && types.includes(MessageType.Nack));
      net.runUntil(net.now + 20_000, () => a.stats().probeFailures > 0);
      const nacks = net
        .sent(MessageType.Nack, 'c', 'a')
        .map((x) => decodeNack(x.msg.subarray(1)).seqNo);
      const ind = net.sent(MessageType.IndirectPing, 'a', 'c');
      expect(ind.length).toBeGreaterThan(0);
      expect(nacks).toContain(decodeIndirectPing(ind.at(-1)!.msg.subarray(1)).seqNo);
      return { health: a.health, nacks: nacks.length };
    };
    // With the nack: expectedNacks = nacks, no penalty. Without: one point per missing nack.
    expect(run(false).health).toBe(0);
    expect(run(true).health).toBe(1);
  });
});

describe('GossipCore: incarnations (state.go refute, aliveNode)', () => {
  it('a suspect or dead message about us is refuted with a higher incarnation', () => {
    const lone = new Lone();
    const core = lone.core;
    const inc = core.incarnation;
    lone.inject(encodeSuspect({ incarnation: inc, node: 'a', from: 'b' }));
    expect(core.incarnation).toBe(inc + 1);
    expect(core.stats()).toMatchObject({ refutations: 1, health: 1 });
    lone.inject(encodeDead({ incarnation: 10, node: 'a', from: 'b' }));
    expect(core.incarnation).toBe(11);
    // Older accusations are ignored.
    lone.inject(encodeSuspect({ incarnation: 3, node: 'a', from: 'b' }));
    expect(core.incarnation).toBe(11);
    // An alive about us at our incarnation with other metadata is refuted too.
    lone.inject(
      encodeAlive({
        incarnation: 11,
        node: 'a',
        addr: Uint8Array.of(10, 0, 0, 1),
        port: 7946,
        meta: utf8('x'),
        vsn: VSN,
      }),
    );
    expect(core.incarnation).toBe(12);
    expect(core.stats().refutations).toBe(3);
    expect(core.member('a')?.state).toBe('alive');
  });

  it('a member told it is suspect refutes, and the cluster sees it alive again', () => {
    const net = new Net();
    const a = net.add('a');
    const b = net.add('b');
    net.add('c');
    net.joinAll();
    const inc = a.incarnation;
    inject(b, encodeSuspect({ incarnation: inc, node: 'a', from: 'c' }), net.now);
    expect(b.member('a')?.state).toBe('suspect');
    net.run(30_000);
    expect(a.incarnation).toBeGreaterThan(inc);
    for (const n of ['b', 'c']) {
      expect(net.core(n).member('a'), n).toMatchObject({
        state: 'alive',
        incarnation: a.incarnation,
      });
      expect(net.events(n, 'member-failed', 'a'), n).toEqual([]);
    }
  });
});

describe('GossipCore: leaving and updates', () => {
  it('leave: dead about ourselves with From = our name is member-leave elsewhere', () => {
    const net = new Net();
    for (const n of ['a', 'b', 'c']) net.add(n);
    net.joinAll();
    const c = net.core('c');
    let done = 0;
    c.leave(net.now, () => done++);
    expect(c.left).toBe(true);
    expect(c.member('c')?.state).toBe('left');
    net.run(5000);
    expect(done).toBe(1);
    for (const n of ['a', 'b']) {
      expect(net.core(n).member('c')?.state, n).toBe('left');
      expect(net.events(n, 'member-leave', 'c'), n).toHaveLength(1);
      expect(net.events(n, 'member-failed', 'c'), n).toEqual([]);
    }
    const dead = net.sent(MessageType.Dead, 'c');
    expect(dead.length).toBeGreaterThan(0);
    // Left members are not probed.
    const since = net.now;
    net.run(10_000);
    expect(net.sent(MessageType.Ping, undefined, 'c').filter((x) => x.at > since)).toEqual([]);
    // An alive or suspect about ourselves after leaving does not bring us back.
    const inc = c.incarnation;
    inject(c, encodeSuspect({ incarnation: inc, node: 'c', from: 'a' }), net.now);
    inject(c, aliveMsg('c', 3, { incarnation: inc + 5 }), net.now);
    expect(c.incarnation).toBe(inc);
    expect(c.member('c')?.state).toBe('left');
    c.leave(net.now, () => done++);
    expect(done).toBe(2);
  });

  it('leave with nobody else alive is done at once', () => {
    const lone = new Lone();
    let done = false;
    lone.core.leave(0, () => (done = true));
    expect(done).toBe(true);
  });

  it('setMeta raises our incarnation and is a member-update everywhere', () => {
    const net = new Net();
    for (const n of ['a', 'b', 'c']) net.add(n, { meta: utf8('v1') });
    net.joinAll();
    const a = net.core('a');
    const inc = a.incarnation;
    a.setMeta(utf8('v2'), net.now);
    expect(a.incarnation).toBe(inc + 1);
    net.pump();
    expect(net.events('a', 'member-update', 'a')).toHaveLength(1);
    net.run(5000);
    for (const n of ['b', 'c']) {
      const ups = net.events(n, 'member-update', 'a');
      expect(ups, n).toHaveLength(1);
      expect('member' in ups[0]!.e && ups[0]!.e.member.meta, n).toEqual(utf8('v2'));
      expect(net.core(n).member('a')?.incarnation, n).toBe(inc + 1);
    }
    expect(() => a.setMeta(new Uint8Array(513), net.now)).toThrow(InvalidOptionError);
  });
});

describe('GossipCore: user messages', () => {
  it('a user broadcast reaches every other member, never the sender, within the retransmit limit', () => {
    const net = new Net();
    const names = ['a', 'b', 'c', 'd'];
    for (const n of names) net.add(n);
    net.joinAll();
    net.core('a').broadcastUser(utf8('hello'));
    net.run(5000);
    let total = 0;
    for (const n of names.slice(1)) {
      const got = net.events(n, 'user-message');
      expect(got.length, n).toBeGreaterThanOrEqual(1);
      for (const g of got)
        expect(g.e.type === 'user-message' && g.e.payload).toEqual(utf8('hello'));
      total += got.length;
    }
    expect(net.events('a', 'user-message')).toEqual([]);
    expect(total).toBeLessThanOrEqual(retransmitLimit(4, 4));
  });

  it('user messages go to the delegate when it has notifyMsg; empty ones are ignored', () => {
    const net = new Net();
    const got: Uint8Array[] = [];
    net.add('a');
    net.add('b', { delegate: { notifyMsg: (m) => got.push(m) } });
    net.joinAll();
    net.core('a').broadcastUser(utf8('x'));
    net.core('a').broadcastUser(new Uint8Array(0));
    net.run(3000);
    expect(got.length).toBeGreaterThan(0);
    expect(got.every((m) => m.length === 1 && m[0] === 0x78)).toBe(true);
    expect(net.events('b', 'user-message')).toEqual([]);
  });

  it('sendUser delivers once over a stream (memberlist SendReliable)', () => {
    const net = new Net();
    net.add('a');
    net.add('b');
    net.joinAll();
    const results: unknown[] = [];
    net.core('a').sendUser(net.addr('b'), utf8('direct'), net.now, (err) => results.push(err));
    net.pump();
    expect(results).toEqual([undefined]);
    const got = net.events('b', 'user-message');
    expect(got).toHaveLength(1);
    expect(got[0]!.e.type === 'user-message' && got[0]!.e.payload).toEqual(utf8('direct'));
  });

  it('net.go sendMsg: piggybacked broadcasts past one compound (255 parts) stay queued', () => {
    // A ping's ack takes 1 compound part, so at most 254 broadcasts ride with it; the rest
    // must stay queued with their transmit count unchanged, not be counted as sent.
    const lone = new Lone({ retransmitMult: 1 }); // alone: retransmitLimit(1, 1) = 1 send
    const core = lone.core;
    core.takeEvents();
    const queuedBefore = core.stats().queued; // our own alive (setAlive)
    let finished = 0;
    for (let i = 0; i < 300; i++) {
      core.broadcastUser(Uint8Array.of(i & 0xff), (sent) => {
        if (sent) finished++;
      });
    }
    // 300 × (2 bytes + 2 overhead) fit the 1400-byte packet: only the part count binds.
    core.receive(
      core.codec.sealPacket(encodePing({ seqNo: 1, node: 'a' })),
      { address: '10.0.0.9', port: 7946, family: 'IPv4' },
      0,
    );
    const out = core.takeOutput();
    expect(out).toHaveLength(1);
    const msgs = core.codec.openPacket(out[0]!.data);
    expect(msgs).toHaveLength(255);
    expect(msgs[0]![0]).toBe(MessageType.Ack);
    const users = msgs.filter((m) => m[0] === MessageType.User).length;
    expect(users).toBe(254);
    expect(finished).toBe(users);
    expect(core.stats().queued).toBe(queuedBefore + 300 - users);
    // The rest go out with the next message.
    core.receive(
      core.codec.sealPacket(encodePing({ seqNo: 2, node: 'a' })),
      { address: '10.0.0.9', port: 7946, family: 'IPv4' },
      0,
    );
    const next = core.codec.openPacket(core.takeOutput()[0]!.data);
    expect(next.filter((m) => m[0] === MessageType.User)).toHaveLength(300 - users);
    expect(finished).toBe(300);
  });

  it('a broadcast must fit one packet', () => {
    const lone = new Lone();
    // udpBufferSize 1400 - compound header 2 - part overhead 2 - type byte 1
    expect(() => lone.core.broadcastUser(new Uint8Array(1395))).not.toThrow();
    expect(() => lone.core.broadcastUser(new Uint8Array(1396))).toThrow(InvalidOptionError);
  });
});

describe('GossipCore: reaping (state.go resetNodes, gossip)', () => {
  it('dead members are gossiped to for gossipToTheDeadTime, then reaped', () => {
    const net = new Net();
    const toTheDead = 5000;
    const a = net.add('a', { gossipToTheDeadTime: toTheDead });
    const b = net.add('b', { gossipToTheDeadTime: toTheDead });
    net.joinAll();
    net.drop = (from, to) => from === 'b' || to === 'b';
    net.runUntil(net.now + 30_000, () => a.member('b')?.state === 'dead');
    const tDead = net.now;
    expect(a.member('b')?.state).toBe('dead');
    net.runUntil(tDead + toTheDead);
    expect(a.member('b')?.state).toBe('dead');
    // The news of b's death was still sent to b itself.
    expect(net.sent(MessageType.Dead, 'a', 'b').some((x) => x.at >= tDead)).toBe(true);
    // Reaped at the first probe round after that: the probe interval is at most 8 × 1 s.
    net.runUntil(tDead + toTheDead + 8000 + 1);
    expect(a.member('b')).toBeUndefined();
    expect(a.stats().members).toEqual({ alive: 1, suspect: 0, dead: 0, left: 0 });
    // And b can come back.
    net.drop = () => false;
    b.join([net.addr('a')], net.now, () => undefined);
    net.pump();
    expect(a.member('b')?.state).toBe('alive');
    expect(net.events('a', 'member-join', 'b')).toHaveLength(2);
  });
});

describe('GossipCore: bad input and bounds', () => {
  const from: SocketAddress = { address: '10.0.0.9', port: 7946, family: 'IPv4' };

  it('malformed datagrams are counted in stats().dropped and never thrown', () => {
    const lone = new Lone();
    const core = lone.core;
    const expectDropped = (data: Uint8Array, what: string): void => {
      const before = core.stats().dropped;
      expect(() => core.receive(data, from, 0), what).not.toThrow();
      expect(core.stats().dropped, what).toBe(before + 1);
    };
    expectDropped(new Uint8Array(0), 'empty');
    expectDropped(Uint8Array.of(99), 'unknown type');
    expectDropped(Uint8Array.of(MessageType.Ping, 0xc1), 'bad ping body');
    expectDropped(addLabelHeader(Uint8Array.of(0, 0x80), utf8('other')), 'foreign label');
    expectDropped(Uint8Array.of(12, 0, 0, 0, 0, 1, 2, 3), 'bad CRC');
    expectDropped(Uint8Array.of(MessageType.Compress, 0x80), 'bad compress');
    // One bad part of a compound does not spoil the others.
    expectDropped(
      encodeCompound([Uint8Array.of(MessageType.Ping, 0xc1), aliveMsg('x', 5)]),
      'part',
    );
    expect(core.member('x')?.state).toBe('alive');
    // Random datagrams: never thrown, mostly dropped.
    const rand = mulberry32(7);
    const before = core.stats().dropped;
    for (let i = 0; i < 2000; i++) {
      const junk = Uint8Array.from({ length: Math.floor(rand() * 100) }, () =>
        Math.floor(rand() * 256),
      );
      if (junk[0] === MessageType.User) junk[0] = 99; // a user message would be delivered
      expect(() => core.receive(junk, from, 0)).not.toThrow();
    }
    expect(core.stats().dropped - before).toBeGreaterThan(1900);
    expect(core.stats().packetsIn).toBe(2000 + 7);
  });

  it('net.go handleCompound: a part that cannot even be unfolded is dropped alone', () => {
    // memberlist handles each part of a compound on its own (handleCommand logs "missing
    // message type byte" or a decompression error and skips that part); the alive
    // messages around an empty part, a bad compress part and a bad nested compound count.
    const lone = new Lone();
    const core = lone.core;
    const packet = encodeCompound([
      aliveMsg('b', 2),
      new Uint8Array(0),
      Uint8Array.of(MessageType.Compress, 0xc1),
      aliveMsg('c', 3),
      Uint8Array.of(MessageType.Compound, 9),
      aliveMsg('d', 4),
    ]);
    core.receive(core.codec.sealPacket(packet), from, 0);
    for (const n of ['b', 'c', 'd']) expect(core.member(n)?.state, n).toBe('alive');
    expect(core.stats().dropped).toBe(3);
  });

  it('a bad stream is answered with an errResp; a bad reply fails the exchange', () => {
    const lone = new Lone();
    const core = lone.core;
    const before = core.stats().dropped;
    const reply = core.handleStream(Uint8Array.of(42, 1, 2), from, 0);
    expect(reply).toBeDefined();
    expect(core.codec.openStream(reply!).type).toBe(MessageType.Err);
    expect(core.stats().dropped).toBe(before + 1);
    // A push-pull whose answer is garbage, then one answered with an errResp.
    const results: unknown[] = [];
    core.join([{ address: '10.0.0.9', port: 7946 }], 0, (err) => results.push(err));
    let [req] = core.takeStreams();
    core.streamResult(req!.id, Uint8Array.of(MessageType.PushPull, 0xc1), 0);
    expect(results[0]).toBeInstanceOf(GhostnetError);
    core.join([{ address: '10.0.0.9', port: 7946 }], 0, (err) => results.push(err));
    [req] = core.takeStreams();
    core.streamResult(req!.id, core.codec.sealStream(encodeErr({ error: 'nope' })), 0);
    expect(results[1]).toMatchObject({ code: GossipErrorCodes.REMOTE_ERROR });
    expect((results[1] as Error).message).toMatch(/nope/);
    // Results for unknown stream ids are ignored.
    expect(() => core.streamResult(12345, new Uint8Array(0), 0)).not.toThrow();
  });

  it('an alive message for a new member beyond maxMembers is ignored', () => {
    const lone = new Lone({ maxMembers: 3 });
    const core = lone.core;
    lone.inject(aliveMsg('x1', 2));
    lone.inject(aliveMsg('x2', 3));
    lone.inject(aliveMsg('x3', 4));
    expect(core.member('x3')).toBeUndefined();
    expect(core.stats().members.alive).toBe(3);
    // Known members still update.
    lone.inject(aliveMsg('x1', 2, { incarnation: 9, meta: utf8('m') }));
    expect(core.member('x1')).toMatchObject({ incarnation: 9, meta: utf8('m') });
    // A push-pull carrying more members than the bound is refused with an errResp.
    const nodes: PushNodeState[] = ['p', 'q', 'r', 's'].map((name, i) => ({
      name,
      addr: Uint8Array.of(10, 0, 2, i),
      port: 7946,
      meta: new Uint8Array(0),
      incarnation: 1,
      state: 0,
      vsn: VSN,
    }));
    const reply = core.handleStream(
      core.codec.sealStream(encodePushPull(nodes, new Uint8Array(0), true)),
      from,
      0,
    );
    expect(core.codec.openStream(reply!).type).toBe(MessageType.Err);
    expect(core.member('p')).toBeUndefined();
  });

  it('alive messages with bad versions, no address or no port are ignored', () => {
    const lone = new Lone();
    lone.inject(aliveMsg('v', 2, { vsn: Uint8Array.of(0, 5, 2, 0, 0, 0) }));
    lone.inject(aliveMsg('w', 3, { vsn: Uint8Array.of(5, 1, 2, 0, 0, 0) }));
    lone.inject(aliveMsg('x', 4, { addr: new Uint8Array(0) }));
    lone.inject(aliveMsg('y', 5, { port: 0 }));
    expect(lone.core.size).toBe(1);
    // An address change for a live member is a conflict and refused.
    lone.inject(aliveMsg('z', 6));
    lone.inject(aliveMsg('z', 7, { incarnation: 2 }));
    expect(lone.core.member('z')).toMatchObject({ address: '10.0.1.6', incarnation: 1 });
  });

  it('options are validated', () => {
    const make = (extra: Partial<GossipOptions>): GossipCore =>
      new GossipCore(
        { random: seededRandom(1) },
        { name: 'a', address: { address: '10.0.0.1', port: 7946 }, ...extra },
        0,
      );
    for (const bad of [
      { name: '' },
      { name: 'x'.repeat(513) },
      { address: { address: '10.0.0.1', port: 0 } },
      { address: { address: 'example.com', port: 7946 } },
      { meta: new Uint8Array(513) },
      { probeInterval: 0 },
      { suspicionMult: 0 },
      { udpBufferSize: 10 },
      { maxMembers: 0 },
      { versions: { protocolMin: 0 } },
      { versions: { protocolMin: 3, protocolCur: 2 } },
    ] as Partial<GossipOptions>[]) {
      expect(() => make(bad), JSON.stringify(bad)).toThrow(InvalidOptionError);
    }
  });
});
