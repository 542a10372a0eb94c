/**
 * What ghostnet understands of Serf (hashicorp/serf serf/messages.go, serf.go, lamport.go):
 * tags in node metadata (`encodeTags`/`decodeTags`, magic byte 0xff), the join, leave and
 * user-event messages byte for byte and round-tripped, the Lamport clock, and SerfLayer on
 * GossipCores: user events reported once and re-broadcast (`handleUserEvent`), join/leave
 * intents (`handleNodeJoinIntent`, `handleNodeLeaveIntent`), a leave intent turning
 * member-failed into member-leave (`handleNodeLeave`) and a leave intent for an already failed
 * member reporting member-leave (`serf force-leave`), the sender reporting its own user event
 * (`UserEvent`), and reconnecting to failed members (`handleReconnect`, `reconnect`, `reap`).
 */
import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from '../../../src/errors.js';
import type { GossipEvent, MemberInfo } from '../../../src/p2p/gossip/core.js';
import { GossipErrorCodes } from '../../../src/p2p/gossip/errors.js';
import {
  decodeSerfJoin,
  decodeSerfLeave,
  decodeSerfUserEvent,
  decodeTags,
  encodeSerfJoin,
  encodeSerfLeave,
  encodeSerfUserEvent,
  encodeTags,
  LamportClock,
  parseTags,
  SERF_DELEGATE_VERSIONS,
  SERF_RECONNECT_INTERVAL_MS,
  SERF_RECONNECT_TIMEOUT_MS,
  SerfLayer,
  SerfMessageType,
  TAG_MAGIC_BYTE,
} from '../../../src/p2p/gossip/serf.js';
import type { SerfEvent, SerfLayerOptions } from '../../../src/p2p/gossip/serf.js';
import { MessageType } from '../../../src/p2p/gossip/wire/messages.js';
import { GoWriter } from '../../../src/p2p/gossip/wire/msgpack.js';
import { aliveMsg, Lone, Net, seededRandom } from './net-harness.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
/** A short string as go-codec writes it: fixstr, then the bytes. */
const s = (text: string): string => (0xa0 | utf8(text).length).toString(16) + hex(utf8(text));
const MALFORMED = expect.objectContaining({ code: GossipErrorCodes.MALFORMED });

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

const member = (name: string, meta: Uint8Array = new Uint8Array(0)): MemberInfo => ({
  name,
  address: '10.0.0.3',
  port: 7946,
  meta,
  incarnation: 1,
  state: 'dead',
  vsn: [1, 5, 2, 2, 5, 4],
});
const failed = (name: string): GossipEvent => ({ type: 'member-failed', member: member(name) });
const names = (events: SerfEvent[]): string[] => events.map((e) => `${e.event}:${e.name}`);

describe('serf.go encodeTags / decodeTags', () => {
  it('tags are [0xff] then a msgpack map of strings (raw family)', () => {
    expect(TAG_MAGIC_BYTE).toBe(0xff);
    expect(hex(encodeTags({ role: 'web' }))).toBe(`ff81${s('role')}${s('web')}`);
    expect(hex(encodeTags({}))).toBe('ff80');
    // Keys in a stable (sorted) order; go-codec's map order is unspecified anyway.
    expect(hex(encodeTags({ z: '1', a: '2' }))).toBe(`ff82${s('a')}${s('2')}${s('z')}${s('1')}`);
  });

  it('round-trips, including empty and non-ASCII values', () => {
    for (const tags of [{}, { role: 'web', dc: 'eu-1' }, { ключ: 'значение', empty: '' }] as Record<
      string,
      string
    >[]) {
      expect(decodeTags(encodeTags(tags))).toEqual(tags);
    }
  });

  it('reads what Serf writes in any key order, with str8 or bin values', () => {
    const meta = unhex(`ff 82 ${s('b')} c4 01 78 ${s('a')} d9 01 79`);
    expect(decodeTags(meta)).toEqual({ a: 'y', b: 'x' });
  });

  it('metadata without the magic byte is the old role, empty metadata too (serf.go decodeTags)', () => {
    expect(decodeTags(utf8('db'))).toEqual({ role: 'db' });
    // serf.go decodeTags: `len(buf) == 0 || buf[0] != tagMagicByte` → tags["role"] = string(buf),
    // so Serf shows a member without metadata (plain memberlist) with role "".
    expect(decodeTags(new Uint8Array(0))).toEqual({ role: '' });
  });

  it('refuses tags that are not a map of strings; encodeTags enforces MetaMaxSize', () => {
    for (const h of ['ff01', 'ff9101', `ff81${s('k')}01`, `ff81${s('k')}80`, 'ff', 'ffc1']) {
      expect(
        thrown(() => decodeTags(unhex(h))),
        h,
      ).toEqual(MALFORMED);
    }
    // 0xff + fixmap + "k" + str16 header + value = 7 + length bytes.
    expect(encodeTags({ k: 'x'.repeat(505) }).length).toBe(512);
    expect(() => encodeTags({ k: 'x'.repeat(506) })).toThrow(InvalidOptionError);
  });

  it('parseTags reads k=v pairs (the CLI)', () => {
    expect(parseTags(['role=web', 'empty=', 'eq=a=b'])).toEqual({
      role: 'web',
      empty: '',
      eq: 'a=b',
    });
    for (const bad of ['=v', 'novalue']) expect(() => parseTags([bad])).toThrow(InvalidOptionError);
  });
});

describe('serf/messages.go messages', () => {
  it('message types are those of messages.go', () => {
    expect(SerfMessageType).toEqual({
      Leave: 0,
      Join: 1,
      PushPull: 2,
      UserEvent: 3,
      Query: 4,
      QueryResponse: 5,
      ConflictResponse: 6,
      KeyRequest: 7,
      KeyResponse: 8,
      Relay: 9,
    });
    expect(SERF_DELEGATE_VERSIONS).toEqual({ delegateMin: 2, delegateMax: 5, delegateCur: 4 });
  });

  it('messageJoin, messageLeave, messageUserEvent byte for byte', () => {
    expect(hex(encodeSerfJoin({ ltime: 5, node: 'a' }))).toBe(
      `01 82 ${s('LTime')} 05 ${s('Node')} ${s('a')}`.replace(/ /g, ''),
    );
    expect(hex(encodeSerfLeave({ ltime: 2 ** 40, node: 'a', prune: true }))).toBe(
      `00 83 ${s('LTime')} cf 0000010000000000 ${s('Node')} ${s('a')} ${s('Prune')} c3`.replace(
        / /g,
        '',
      ),
    );
    expect(
      hex(
        encodeSerfUserEvent({ ltime: 300, name: 'deploy', payload: new Uint8Array(0), cc: true }),
      ),
    ).toBe(
      `03 84 ${s('LTime')} cd 012c ${s('Name')} ${s('deploy')} ${s('Payload')} c0 ${s('CC')} c3`.replace(
        / /g,
        '',
      ),
    );
  });

  it('round trips', () => {
    for (const j of [
      { ltime: 0, node: '' },
      { ltime: Number.MAX_SAFE_INTEGER, node: 'node-1' },
    ]) {
      expect(decodeSerfJoin(encodeSerfJoin(j).subarray(1))).toEqual(j);
    }
    for (const l of [
      { ltime: 1, node: 'a', prune: false },
      { ltime: 99, node: 'b', prune: true },
    ]) {
      expect(decodeSerfLeave(encodeSerfLeave(l).subarray(1))).toEqual(l);
    }
    for (const e of [
      { ltime: 1, name: 'deploy', payload: utf8('v1'), cc: false },
      { ltime: 7, name: '', payload: new Uint8Array(0), cc: true },
      { ltime: 8, name: 'bin', payload: Uint8Array.of(0, 0xff, 0x80), cc: true },
    ]) {
      expect(decodeSerfUserEvent(encodeSerfUserEvent(e).subarray(1))).toEqual(e);
    }
  });

  it('decodes leniently (array form, missing fields) and refuses bad types', () => {
    expect(decodeSerfJoin(new GoWriter().array(2).uint(3).str('n').finish())).toEqual({
      ltime: 3,
      node: 'n',
    });
    expect(decodeSerfLeave(Uint8Array.of(0x80))).toEqual({ ltime: 0, node: '', prune: false });
    expect(thrown(() => decodeSerfJoin(unhex(`81 ${s('LTime')} ${s('x')}`)))).toEqual(MALFORMED);
    expect(thrown(() => decodeSerfLeave(unhex(`81 ${s('Prune')} 01`)))).toEqual(MALFORMED);
    expect(thrown(() => decodeSerfUserEvent(unhex(`81 ${s('Payload')} 05`)))).toEqual(MALFORMED);
    expect(thrown(() => decodeSerfUserEvent(unhex('05')))).toEqual(MALFORMED);
  });
});

describe('lamport.go LamportClock', () => {
  it('increments, and witnessing a time at or past ours moves one beyond it', () => {
    const c = new LamportClock();
    expect(c.time).toBe(0);
    expect(c.increment()).toBe(1);
    expect(c.increment()).toBe(2);
    c.witness(1); // older: nothing
    expect(c.time).toBe(2);
    c.witness(2); // equal: one past it
    expect(c.time).toBe(3);
    c.witness(10);
    expect(c.time).toBe(11);
    expect(c.increment()).toBe(12);
  });
});

describe('SerfLayer (serf.go handleUserEvent, handleNodeJoinIntent, handleNodeLeaveIntent)', () => {
  /** Broadcasts queued by the layer: the core's own alive message (setAlive) aside. */
  const serfQueued = (lone: Lone): number => lone.core.stats().queued - 1;
  const userEvent = (ltime: number, name: string, payload: string): Uint8Array =>
    encodeSerfUserEvent({ ltime, name, payload: utf8(payload), cc: false });

  it('reports each user event once and re-broadcasts it once; witnesses its time', () => {
    const lone = new Lone();
    const serf = new SerfLayer();
    serf.attach(lone.core);
    const ev = userEvent(5, 'deploy', 'v1');
    serf.notifyMsg(ev);
    expect(serfQueued(lone)).toBe(1);
    serf.notifyMsg(ev);
    serf.notifyMsg(ev);
    expect(serfQueued(lone)).toBe(1);
    expect(serf.takeEvents()).toEqual([
      { event: 'user-event', name: 'deploy', payload: utf8('v1'), ltime: 5, coalesce: false },
    ]);
    expect(serf.eventClock.time).toBe(6);
    // The same time with another name or payload is another event.
    serf.notifyMsg(userEvent(5, 'deploy', 'v2'));
    serf.notifyMsg(userEvent(5, 'other', 'v1'));
    expect(names(serf.takeEvents())).toEqual(['user-event:deploy', 'user-event:other']);
    expect(serfQueued(lone)).toBe(3);
  });

  it('serf.go UserEvent: the sender reports its own event once (handleUserEvent), at the clock time', () => {
    // serf.go UserEvent builds the message with LTime = eventClock.Time(), increments the
    // clock, runs handleUserEvent locally (so EventCh gets the sender's own event) and only
    // then queues the broadcast. Create starts the event and query clocks at 1.
    const lone = new Lone();
    const serf = new SerfLayer();
    serf.attach(lone.core);
    expect([serf.eventClock.time, serf.queryClock.time]).toEqual([1, 1]);
    serf.userEvent('deploy', utf8('v1'), false);
    expect(serf.takeEvents()).toEqual([
      { event: 'user-event', name: 'deploy', payload: utf8('v1'), ltime: 1, coalesce: false },
    ]);
    expect(serf.eventClock.time).toBe(2);
    expect(serfQueued(lone)).toBe(1);
    // When it comes round again it is neither reported again nor re-broadcast.
    serf.notifyMsg(userEvent(1, 'deploy', 'v1'));
    expect(serf.takeEvents()).toEqual([]);
    expect(serfQueued(lone)).toBe(1);
    serf.userEvent('deploy', utf8('v2'));
    expect(serf.takeEvents().map((e) => e.event === 'user-event' && e.ltime)).toEqual([2]);
    // One that cannot be sent (too big for a packet) is not reported and takes no time.
    expect(() => serf.userEvent('big', new Uint8Array(2000))).toThrow(InvalidOptionError);
    expect(serf.takeEvents()).toEqual([]);
    expect(serf.eventClock.time).toBe(3);
  });

  it('remembers a bounded number of events (maxRecentEvents)', () => {
    const serf = new SerfLayer({ maxRecentEvents: 2 });
    for (const t of [1, 2, 3]) serf.notifyMsg(userEvent(t, 'e', ''));
    serf.notifyMsg(userEvent(3, 'e', '')); // still remembered
    serf.notifyMsg(userEvent(1, 'e', '')); // forgotten: reported again
    expect(serf.takeEvents().map((e) => e.event === 'user-event' && e.ltime)).toEqual([1, 2, 3, 1]);
  });

  it('a user event travels the cluster, reported once per member, re-broadcast by each', () => {
    const net = new Net();
    const layers = new Map<string, SerfLayer>();
    for (const n of ['a', 'b', 'c', 'd']) {
      const serf = new SerfLayer();
      serf.attach(net.add(n, { delegate: serf, versions: SERF_DELEGATE_VERSIONS }));
      layers.set(n, serf);
    }
    net.joinAll();
    layers.get('a')!.userEvent('deploy', utf8('v1'));
    net.run(10_000);
    for (const n of ['b', 'c', 'd']) {
      const got = layers.get(n)!.takeEvents();
      expect(got, n).toEqual([
        { event: 'user-event', name: 'deploy', payload: utf8('v1'), ltime: 1, coalesce: true },
      ]);
      // Each re-broadcast the event it had not seen.
      const relayed = net
        .sent(MessageType.User, n)
        .filter((x) => x.msg[1] === SerfMessageType.UserEvent);
      expect(relayed.length, n).toBeGreaterThan(0);
    }
    // The sender reported its own event once, when it sent it (serf.go UserEvent calls
    // handleUserEvent), and not again when it came round.
    expect(layers.get('a')!.takeEvents()).toEqual([
      { event: 'user-event', name: 'deploy', payload: utf8('v1'), ltime: 1, coalesce: true },
    ]);
  });

  it('join intents are re-broadcast when newer, and witnessed', () => {
    const lone = new Lone();
    const serf = new SerfLayer();
    serf.attach(lone.core);
    serf.notifyMsg(encodeSerfJoin({ ltime: 5, node: 'b' }));
    expect(serfQueued(lone)).toBe(1);
    serf.notifyMsg(encodeSerfJoin({ ltime: 5, node: 'b' }));
    serf.notifyMsg(encodeSerfJoin({ ltime: 4, node: 'b' }));
    expect(serfQueued(lone)).toBe(1);
    serf.notifyMsg(encodeSerfJoin({ ltime: 6, node: 'b' }));
    expect(serfQueued(lone)).toBe(2);
    expect(serf.clock.time).toBe(7);
    // A leave intent older than the join intent is stale: a failure stays a failure.
    serf.notifyMsg(encodeSerfLeave({ ltime: 6, node: 'b', prune: false }));
    expect(names(serf.translate([failed('b')]))).toEqual(['member-failed:b']);
  });

  it('a leave intent turns member-failed into member-leave (handleNodeLeave)', () => {
    const serf = new SerfLayer();
    expect(names(serf.translate([failed('x')]))).toEqual(['member-failed:x']);
    serf.notifyMsg(encodeSerfLeave({ ltime: 3, node: 'b', prune: false }));
    expect(names(serf.translate([failed('b')]))).toEqual(['member-leave:b']);
    // A newer join intent (b came back) makes a later failure a failure again.
    serf.notifyMsg(encodeSerfJoin({ ltime: 4, node: 'b' }));
    expect(names(serf.translate([failed('b')]))).toEqual(['member-failed:b']);
  });

  it('a leave intent for a member already failed reports member-leave (force-leave)', () => {
    const serf = new SerfLayer();
    const meta = encodeTags({ role: 'web' });
    const events = serf.translate([{ type: 'member-failed', member: member('c', meta) }]);
    expect(names(events)).toEqual(['member-failed:c']);
    serf.notifyMsg(encodeSerfLeave({ ltime: 3, node: 'c', prune: false }));
    expect(serf.takeEvents()).toEqual([
      { event: 'member-leave', name: 'c', addr: '10.0.0.3', port: 7946, tags: { role: 'web' } },
    ]);
    // Only once, and not for a stale repeat.
    serf.notifyMsg(encodeSerfLeave({ ltime: 3, node: 'c', prune: false }));
    serf.notifyMsg(encodeSerfLeave({ ltime: 2, node: 'c', prune: false }));
    expect(serf.takeEvents()).toEqual([]);
    // A member that came back (joined) is no longer failed: a leave intent is just recorded.
    serf.translate([failed('d'), { type: 'member-join', member: member('d') }]);
    serf.notifyMsg(encodeSerfLeave({ ltime: 9, node: 'd', prune: false }));
    expect(serf.takeEvents()).toEqual([]);
  });

  it('in a cluster: a member that announced its leave and then vanished has left', () => {
    const net = new Net();
    const layers = new Map<string, SerfLayer>();
    for (const n of ['a', 'b', 'c', 'd']) {
      const serf = new SerfLayer();
      serf.attach(net.add(n, { delegate: serf, versions: SERF_DELEGATE_VERSIONS }));
      layers.set(n, serf);
    }
    net.joinAll();
    let announced = false;
    layers.get('c')!.announceLeave(() => (announced = true));
    net.runUntil(net.now + 10_000, () => announced);
    expect(announced).toBe(true);
    net.run(2000);
    // c and d now vanish without a memberlist leave; only c had announced leaving.
    net.drop = (from, to) => ['c', 'd'].includes(from) || ['c', 'd'].includes(to);
    net.run(60_000);
    const seen = names(layers.get('a')!.translate(net.nodes.get('a')!.events.map((x) => x.e)));
    expect(seen).toContain('member-leave:c');
    expect(seen).not.toContain('member-failed:c');
    expect(seen).toContain('member-failed:d');
  });

  it('a leave intent about ourselves while we stay is refuted with a newer join intent', () => {
    const lone = new Lone();
    const serf = new SerfLayer();
    serf.attach(lone.core);
    serf.notifyMsg(encodeSerfLeave({ ltime: 10, node: 'a', prune: false }));
    expect(serf.clock.time).toBe(12); // witnessed 10 → 11, then our join intent at 12
    expect(serfQueued(lone)).toBe(1);
    // Not while we are leaving.
    serf.announceLeave(() => undefined);
    const queued = serfQueued(lone);
    serf.notifyMsg(encodeSerfLeave({ ltime: 50, node: 'a', prune: false }));
    expect(serfQueued(lone)).toBe(queued);
  });

  it('queries are re-broadcast once (not answered); their clock is witnessed', () => {
    const lone = new Lone();
    const serf = new SerfLayer();
    serf.attach(lone.core);
    const query = new GoWriter()
      .byte(SerfMessageType.Query)
      .map(2)
      .key('LTime')
      .uint(7)
      .key('ID')
      .uint(1)
      .finish();
    serf.notifyMsg(query);
    serf.notifyMsg(query);
    expect(serfQueued(lone)).toBe(1);
    expect(serf.queryClock.time).toBe(8);
    expect(serf.takeEvents()).toEqual([]);
  });

  it('mergeRemoteState reads messagePushPull: clocks and left members', () => {
    const serf = new SerfLayer();
    const w = new GoWriter().byte(SerfMessageType.PushPull).map(6);
    w.key('LTime').uint(20);
    w.key('StatusLTimes').map(2).key('c').uint(15).key('b').uint(3);
    w.key('LeftMembers').array(1).str('c');
    w.key('EventLTime').uint(30);
    w.key('Events').nil();
    w.key('QueryLTime').uint(40);
    serf.mergeRemoteState(w.finish());
    expect([serf.clock.time, serf.eventClock.time, serf.queryClock.time]).toEqual([21, 31, 41]);
    expect(names(serf.translate([failed('c'), failed('b')]))).toEqual([
      'member-leave:c',
      'member-failed:b',
    ]);
    expect(serf.dropped).toBe(0);
    serf.mergeRemoteState(Uint8Array.of(SerfMessageType.PushPull, 0xc1));
    expect(serf.dropped).toBe(1);
    serf.mergeRemoteState(Uint8Array.of(SerfMessageType.Join, 0x80)); // not a push-pull
    serf.mergeRemoteState(new Uint8Array(0));
    expect(serf.dropped).toBe(1);
    expect(serf.localState()).toEqual(new Uint8Array(0));
  });

  it('malformed Serf messages are counted, never thrown; others are ignored', () => {
    const serf = new SerfLayer();
    for (const m of [
      Uint8Array.of(SerfMessageType.UserEvent, 0xc1),
      Uint8Array.of(SerfMessageType.Leave),
      Uint8Array.of(SerfMessageType.Join, 0x01),
      Uint8Array.of(SerfMessageType.Query, 0x81, 0xa2, 0x49, 0x44, 0xa1, 0x78),
    ]) {
      expect(() => serf.notifyMsg(m)).not.toThrow();
    }
    expect(serf.dropped).toBe(4);
    for (const t of [5, 6, 7, 8, 9, 200]) serf.notifyMsg(Uint8Array.of(t, 0xc1));
    serf.notifyMsg(new Uint8Array(0));
    expect(serf.dropped).toBe(4);
    expect(serf.takeEvents()).toEqual([]);
  });

  it('translate maps membership events with their tags; user messages are skipped', () => {
    const serf = new SerfLayer();
    const meta = encodeTags({ role: 'db' });
    const out = serf.translate([
      { type: 'member-join', member: member('a', meta) },
      { type: 'member-update', member: member('b', Uint8Array.of(0xff, 0xc1)) },
      { type: 'user-message', payload: utf8('x') },
    ]);
    expect(out).toEqual([
      { event: 'member-join', name: 'a', addr: '10.0.0.3', port: 7946, tags: { role: 'db' } },
      { event: 'member-update', name: 'b', addr: '10.0.0.3', port: 7946, tags: {} },
    ]);
  });

  it('needs a core to send', () => {
    const serf = new SerfLayer();
    expect(() => serf.announceJoin()).toThrow(InvalidOptionError);
    expect(() => serf.announceLeave(() => undefined)).toThrow(InvalidOptionError);
    expect(() => serf.userEvent('e', new Uint8Array(0))).toThrow(InvalidOptionError);
  });
});

describe('SerfLayer reconnect (serf.go handleReconnect, reconnect, reap)', () => {
  const INTERVAL = SERF_RECONNECT_INTERVAL_MS;

  function setup(options: SerfLayerOptions = {}): { lone: Lone; serf: SerfLayer } {
    const lone = new Lone();
    const serf = new SerfLayer(options, { random: seededRandom(5) });
    serf.attach(lone.core);
    return { lone, serf };
  }

  it("defaults are Serf's: ReconnectInterval 30 s, ReconnectTimeout 24 h", () => {
    expect(SERF_RECONNECT_INTERVAL_MS).toBe(30_000);
    expect(SERF_RECONNECT_TIMEOUT_MS).toBe(24 * 3600 * 1000);
    for (const bad of [
      { reconnectInterval: -1 },
      { reconnectTimeout: 0 },
      { reconnectInterval: 1.5 },
    ]) {
      expect(() => new SerfLayer(bad), JSON.stringify(bad)).toThrow(InvalidOptionError);
    }
  });

  it('every interval a failed member is joined by push-pull, one join at a time', () => {
    const { lone, serf } = setup();
    expect(serf.nextDeadline()).toBeUndefined(); // nothing failed: no timer
    serf.translate([failed('b')], 1000);
    expect(serf.nextDeadline()).toBe(1000 + INTERVAL);
    serf.handleTimeout(1000 + INTERVAL - 1);
    expect(lone.core.takeStreams()).toEqual([]);
    // Alone with one failed member: probability failed/alive = 1, so it always tries.
    serf.handleTimeout(1000 + INTERVAL);
    const [join, ...rest] = lone.core.takeStreams();
    expect(rest).toEqual([]);
    expect(join!.to).toEqual({ address: '10.0.0.3', port: 7946 });
    expect(lone.core.codec.openStream(join!.data).type).toBe(MessageType.PushPull);
    expect(serf.reconnects).toBe(1);
    expect(serf.nextDeadline()).toBe(1000 + 2 * INTERVAL);
    // Still joining: the next tick does not start another.
    serf.handleTimeout(1000 + 2 * INTERVAL);
    expect(lone.core.takeStreams()).toEqual([]);
    lone.core.streamResult(join!.id, new Error('connection refused'), 1000 + 2 * INTERVAL);
    serf.handleTimeout(1000 + 3 * INTERVAL);
    expect(lone.core.takeStreams()).toHaveLength(1);
    expect(serf.reconnects).toBe(2);
  });

  it('a member that joins again or is seen to leave is no longer retried', () => {
    const { lone, serf } = setup();
    serf.translate([failed('b'), failed('c')], 0);
    serf.translate([{ type: 'member-join', member: member('b') }], 10);
    serf.notifyMsg(encodeSerfLeave({ ltime: 3, node: 'c', prune: false }), 20);
    expect(serf.nextDeadline()).toBeUndefined();
    serf.handleTimeout(INTERVAL);
    expect(lone.core.takeStreams()).toEqual([]);
    expect(serf.reconnects).toBe(0);
  });

  it('serf.go reap: a failed member is forgotten after reconnectTimeout', () => {
    const { lone, serf } = setup({ reconnectInterval: 1000, reconnectTimeout: 5000 });
    serf.translate([failed('b')], 0); // b is at 10.0.0.3
    const c = { ...member('c'), address: '10.0.0.4' };
    serf.translate([{ type: 'member-failed', member: c }], 3000);
    const ticks: number[] = [];
    const tried = new Map<string, number[]>();
    for (let t = serf.nextDeadline(); t !== undefined; t = serf.nextDeadline()) {
      ticks.push(t);
      serf.handleTimeout(t);
      for (const s of lone.core.takeStreams()) {
        tried.set(s.to.address, [...(tried.get(s.to.address) ?? []), t]);
        lone.core.streamResult(s.id, new Error('refused'), t);
      }
      if (ticks.length > 20) break;
    }
    // Ticks every second from the first failure until the last member is reaped.
    expect(ticks).toEqual([1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000]);
    // b (failed at 0) is retried up to 5000, c (failed at 3000) up to 8000.
    expect(Math.max(...tried.get('10.0.0.3')!)).toBeLessThanOrEqual(5000);
    expect(Math.max(...tried.get('10.0.0.4')!)).toBeGreaterThan(5000);
    expect(Math.max(...tried.get('10.0.0.4')!)).toBeLessThanOrEqual(8000);
    expect(serf.reconnects).toBe(8); // failed/alive ≥ 1: every tick up to 8000 tried
  });

  it('with many members alive, each tries with probability failed/alive', () => {
    const { lone, serf } = setup();
    for (let i = 0; i < 9; i++) lone.inject(aliveMsg(`m${i}`, 10 + i));
    expect(lone.core.size).toBe(10);
    serf.translate([failed('b')], 0);
    for (let i = 1; i <= 200; i++) {
      serf.handleTimeout(i * INTERVAL);
      for (const s of lone.core.takeStreams()) lone.core.streamResult(s.id, new Error('no'), 0);
    }
    // About 200 × 1/10 = 20 attempts.
    expect(serf.reconnects).toBeGreaterThan(5);
    expect(serf.reconnects).toBeLessThan(40);
  });

  it('does not reconnect without randomness, when turned off, or after leaving', () => {
    for (const serf of [
      new SerfLayer(),
      new SerfLayer({ reconnectInterval: 0 }, { random: seededRandom(1) }),
    ]) {
      serf.attach(new Lone().core);
      serf.translate([failed('b')], 0);
      expect(serf.nextDeadline()).toBeUndefined();
    }
    const { lone, serf } = setup();
    serf.translate([failed('b')], 0);
    lone.core.leave(0, () => undefined);
    serf.handleTimeout(INTERVAL);
    expect(lone.core.takeStreams()).toEqual([]);
  });
});
