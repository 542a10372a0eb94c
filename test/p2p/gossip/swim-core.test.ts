/**
 * GossipCore driven by hand with a fake clock and an in-test router (memberlist state.go):
 * probe and ack, indirect probes with nacks, suspicion → dead at the suspicion timeout,
 * refutation by incarnation, graceful leave, member-update, reaping, limits and bad input.
 * And the Serf layer (hashicorp/serf messages.go): tags, intents, user events.
 */
import { describe, expect, it } from 'vitest';
import { GossipCore, suspicionDuration, suspicionTimeout } from '../../../src/p2p/gossip/core.js';
import type { GossipEvent, GossipOptions } from '../../../src/p2p/gossip/core.js';
import { BroadcastQueue, retransmitLimit } from '../../../src/p2p/gossip/queue.js';
import {
  decodeSerfUserEvent,
  decodeTags,
  encodeSerfLeave,
  encodeSerfUserEvent,
  encodeTags,
  LamportClock,
  SerfLayer,
} from '../../../src/p2p/gossip/serf.js';
import { encodeDead, encodeSuspect } from '../../../src/p2p/gossip/wire/messages.js';
import { WireCodec } from '../../../src/p2p/gossip/wire/packet.js';
import { Rng } from '../../../src/p2p/sim/rng.js';

/** A tiny network: datagrams and streams delivered at once unless dropped by `drop`. */
class Net {
  now = 0;
  readonly cores = new Map<string, GossipCore>();
  readonly events: { node: string; e: GossipEvent }[] = [];
  drop: (from: string, to: string) => boolean = () => false;

  add(name: string, extra: Partial<GossipOptions> = {}): GossipCore {
    const port = 7000 + this.cores.size;
    const rng = new Rng(port);
    const c = new GossipCore(
      { random: (n) => rng.randomBytes(n) },
      { name, address: { address: '127.0.0.1', port }, wire: { compression: false }, ...extra },
      this.now,
    );
    this.cores.set(name, c);
    return c;
  }

  #byPort(port: number): [string, GossipCore] | undefined {
    for (const [n, c] of this.cores) if (c.member(n)?.port === port) return [n, c];
    return undefined;
  }

  pump(): void {
    for (let round = 0; round < 50; round++) {
      let moved = false;
      for (const [name, c] of this.cores) {
        for (const e of c.takeEvents()) this.events.push({ node: name, e });
        const port = c.member(name)!.port;
        for (const d of c.takeOutput()) {
          moved = true;
          const t = this.#byPort(d.to.port);
          if (t === undefined || this.drop(name, t[0])) continue;
          t[1].receive(d.data, { address: '127.0.0.1', port, family: 'IPv4' }, this.now);
        }
        for (const s of c.takeStreams()) {
          moved = true;
          const t = this.#byPort(s.to.port);
          if (t === undefined || this.drop(name, t[0])) {
            c.streamResult(s.id, new Error('refused'), this.now);
            continue;
          }
          const reply = t[1].handleStream(
            s.data,
            { address: '127.0.0.1', port, family: 'IPv4' },
            this.now,
          );
          c.streamResult(s.id, s.expectReply ? reply : undefined, this.now);
        }
      }
      if (!moved) return;
    }
  }

  run(ms: number): void {
    const end = this.now + ms;
    for (;;) {
      this.pump();
      let next = Infinity;
      for (const c of this.cores.values()) next = Math.min(next, c.nextDeadline() ?? Infinity);
      if (next > end) break;
      this.now = Math.max(this.now, next);
      for (const c of this.cores.values())
        if ((c.nextDeadline() ?? Infinity) <= this.now) c.handleTimeout(this.now);
    }
    this.now = end;
    this.pump();
  }

  joinAll(): void {
    const [first, ...rest] = [...this.cores.values()];
    for (const c of rest)
      c.join(
        [{ address: '127.0.0.1', port: first!.member(first!.name)!.port }],
        this.now,
        () => {},
      );
    this.run(5000);
  }

  saw(node: string, type: string, about: string): boolean {
    return this.events.some(
      (x) => x.node === node && x.e.type === type && 'member' in x.e && x.e.member.name === about,
    );
  }
}

describe('GossipCore (memberlist state.go)', () => {
  it('joins by push-pull and probes members, which ack', () => {
    const net = new Net();
    for (const n of ['a', 'b', 'c']) net.add(n);
    net.joinAll();
    for (const c of net.cores.values()) expect(c.size).toBe(3);
    net.run(10_000);
    const a = net.cores.get('a')!.stats();
    expect(a.probes).toBeGreaterThan(5);
    expect(a.probeFailures).toBe(0);
    expect(a.pushPulls).toBeGreaterThan(0);
  });

  it('probeNode: when direct pings are lost, an indirect probe through a third member saves it', () => {
    const net = new Net();
    for (const n of ['a', 'b', 'c', 'd']) net.add(n);
    net.joinAll();
    net.drop = (from, to) => (from === 'a' && to === 'b') || (from === 'b' && to === 'a');
    net.run(30_000);
    const a = net.cores.get('a')!;
    expect(a.stats().indirectProbes).toBeGreaterThan(0);
    expect(a.member('b')?.state).toBe('alive');
    expect(net.saw('a', 'member-failed', 'b')).toBe(false);
  });

  it('suspectNode/deadNode: a silent member is suspected, then dead after the suspicion timeout', () => {
    const net = new Net();
    for (const n of ['a', 'b', 'c']) net.add(n);
    net.joinAll();
    net.drop = (from, to) => from === 'c' || to === 'c';
    const start = net.now;
    net.run(60_000);
    expect(net.saw('a', 'member-failed', 'c')).toBe(true);
    const failedAt = net.events.find((x) => x.node === 'a' && x.e.type === 'member-failed');
    expect(failedAt).toBeDefined();
    // 3 members: k = 0 confirmations needed, so the timeout is the minimum.
    expect(suspicionTimeout(4, 3, 1000)).toBe(4000);
    expect(net.now - start).toBeGreaterThanOrEqual(4000);
  });

  it('refute: a suspect or dead message about ourselves raises our incarnation', () => {
    const net = new Net();
    for (const n of ['a', 'b']) net.add(n);
    net.joinAll();
    const a = net.cores.get('a')!;
    const inc = a.incarnation;
    const codec = new WireCodec({ random: (n) => new Uint8Array(n) });
    a.receive(
      codec.sealPacket(encodeSuspect({ incarnation: inc, node: 'a', from: 'b' })),
      { address: '127.0.0.1', port: 7001, family: 'IPv4' },
      net.now,
    );
    expect(a.incarnation).toBe(inc + 1);
    a.receive(
      codec.sealPacket(encodeDead({ incarnation: inc + 5, node: 'a', from: 'b' })),
      { address: '127.0.0.1', port: 7001, family: 'IPv4' },
      net.now,
    );
    expect(a.incarnation).toBe(inc + 6);
    expect(a.stats().refutations).toBe(2);
    net.run(5000);
    expect(net.cores.get('b')!.member('a')?.state).toBe('alive');
  });

  it('leave: dead-about-ourselves with From = our name is member-leave elsewhere; setMeta is member-update', () => {
    const net = new Net();
    for (const n of ['a', 'b', 'c']) net.add(n);
    net.joinAll();
    net.cores.get('b')!.setMeta(new TextEncoder().encode('tags'), net.now);
    net.run(3000);
    expect(net.saw('a', 'member-update', 'b')).toBe(true);
    let left = false;
    net.cores.get('c')!.leave(net.now, () => (left = true));
    net.run(5000);
    expect(left).toBe(true);
    expect(net.saw('a', 'member-leave', 'c')).toBe(true);
    expect(net.saw('a', 'member-failed', 'c')).toBe(false);
  });

  it('resetNodes: dead members are reaped after gossipToTheDeadTime', () => {
    const net = new Net();
    for (const n of ['a', 'b', 'c']) net.add(n, { gossipToTheDeadTime: 10_000 });
    net.joinAll();
    net.drop = (from, to) => from === 'c' || to === 'c';
    for (let i = 0; i < 60 && !net.saw('a', 'member-failed', 'c'); i++) net.run(500);
    expect(net.cores.get('a')!.member('c')?.state).toBe('dead');
    net.run(30_000);
    expect(net.cores.get('a')!.member('c')).toBeUndefined();
  });

  it('drops garbage and stays bounded: maxMembers, bad options', () => {
    const net = new Net();
    const a = net.add('a', { maxMembers: 2 });
    for (const n of ['b', 'c']) net.add(n);
    net.joinAll();
    expect(a.members().length).toBe(2);
    a.receive(Uint8Array.of(1, 2, 3), { address: '127.0.0.1', port: 1, family: 'IPv4' }, 0);
    a.receive(new Uint8Array(0), { address: '127.0.0.1', port: 1, family: 'IPv4' }, 0);
    expect(a.stats().dropped).toBeGreaterThanOrEqual(2);
    expect(() => net.add('x', { probeInterval: 0 })).toThrow(/probeInterval/);
    expect(() => net.add('', {})).toThrow(/name/);
    expect(() => net.add('y', { meta: new Uint8Array(600) })).toThrow(/512/);
  });

  it('suspicion.go: the timeout shrinks from max to min with log(n+1)/log(k+1) confirmations', () => {
    expect(suspicionDuration(0, 2, 4000, 24000)).toBe(24000);
    expect(suspicionDuration(2, 2, 4000, 24000)).toBe(4000);
    const one = suspicionDuration(1, 2, 4000, 24000);
    expect(one).toBeGreaterThan(4000);
    expect(one).toBeLessThan(24000);
  });
});

describe('BroadcastQueue (queue.go)', () => {
  it('util.go retransmitLimit = mult × ceil(log10(n + 1))', () => {
    expect(retransmitLimit(4, 1)).toBe(4);
    expect(retransmitLimit(4, 9)).toBe(4);
    expect(retransmitLimit(4, 10)).toBe(8);
    expect(retransmitLimit(4, 1000)).toBe(16);
  });

  it('least-sent first, newest first; invalidation by key; finished callbacks; bounded', () => {
    const q = new BroadcastQueue(3);
    const done: string[] = [];
    const b = (s: string, key?: string) => ({
      msg: new TextEncoder().encode(s),
      key,
      finished: (sent: boolean) => done.push(`${s}:${sent}`),
    });
    q.queue(b('old', 'x'));
    q.queue(b('new', 'x')); // replaces old
    q.queue(b('y1'));
    expect(done).toEqual(['old:false']);
    expect(q.take(2, 1400, 1, 1).map((m) => new TextDecoder().decode(m))).toEqual(['y1', 'new']);
    expect(done).toEqual(['old:false', 'y1:true', 'new:true']); // limit 1 × ceil(log10 2) = 1
    for (const s of ['a', 'b', 'c', 'd']) q.queue(b(s));
    expect(q.length).toBe(3);
    expect(q.take(2, 5, 1, 4)).toHaveLength(1); // room for one 1-byte message and its 2 bytes
  });
});

describe('Serf layer (serf/messages.go)', () => {
  it('tags: [0xff] + msgpack map; plain metadata is the old role', () => {
    const meta = encodeTags({ role: 'web', dc: 'x' });
    expect(meta[0]).toBe(0xff);
    expect(decodeTags(meta)).toEqual({ dc: 'x', role: 'web' });
    expect(decodeTags(new TextEncoder().encode('db'))).toEqual({ role: 'db' });
    expect(() => encodeTags({ big: 'x'.repeat(600) })).toThrow(/512/);
  });

  it('lamport.go: witness moves past what was seen', () => {
    const c = new LamportClock();
    expect(c.increment()).toBe(1);
    c.witness(10);
    expect(c.time).toBe(11);
    c.witness(3);
    expect(c.time).toBe(11);
  });

  it('user events are reported once and re-broadcast; leave intents turn failed into left', () => {
    const net = new Net();
    const serf = new SerfLayer();
    const a = net.add('a', { delegate: serf });
    serf.attach(a);
    net.add('b');
    net.joinAll();
    const ev = encodeSerfUserEvent({
      ltime: 5,
      name: 'deploy',
      payload: new TextEncoder().encode('v1'),
      cc: false,
    });
    serf.notifyMsg(ev);
    serf.notifyMsg(ev);
    const events = serf.takeEvents();
    expect(events.filter((e) => e.event === 'user-event')).toHaveLength(1);
    expect(serf.eventClock.time).toBe(6);
    expect(a.stats().queued).toBeGreaterThan(0); // re-broadcast
    expect(decodeSerfUserEvent(ev.subarray(1)).name).toBe('deploy');
    // A member-failed for b after b's leave intent is a member-leave (serf handleNodeLeave).
    serf.notifyMsg(encodeSerfLeave({ ltime: 9, node: 'b', prune: false }));
    const member = a.member('b')!;
    const translated = serf.translate([{ type: 'member-failed', member }]);
    expect(translated.map((e) => e.event)).toEqual(['member-leave']);
    // A leave intent for a member already failed moves it to left (serf force-leave).
    const serf2 = new SerfLayer();
    serf2.attach(a);
    serf2.translate([{ type: 'member-failed', member }]);
    serf2.notifyMsg(encodeSerfLeave({ ltime: 3, node: 'b', prune: false }));
    expect(serf2.takeEvents().map((e) => e.event)).toEqual(['member-leave']);
    serf.notifyMsg(Uint8Array.of(3, 0xc1)); // malformed: counted, not thrown
    expect(serf.dropped).toBe(1);
  });
});
