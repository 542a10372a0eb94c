/**
 * A tiny in-memory network for GossipCore tests (no sockets, a fake clock): `Net` hands each
 * core's `takeOutput` datagrams to the addressed core's `receive` and runs `takeStreams`
 * exchanges through the target's `handleStream` and the origin's `streamResult`, logging
 * every message it carries; `Lone` is one core whose pings are all acked at once.
 */
import { expect } from 'vitest';
import { GossipCore } from '../../../src/p2p/gossip/core.js';
import type {
  GossipDatagram,
  GossipEvent,
  GossipOptions,
  StreamRequest,
} from '../../../src/p2p/gossip/core.js';
import {
  decodePing,
  encodeAck,
  encodeAlive,
  MessageType,
} from '../../../src/p2p/gossip/wire/messages.js';
import type { Alive } from '../../../src/p2p/gossip/wire/messages.js';
import type { SocketAddress } from '../../../src/transport/types.js';
import { mulberry32 } from '../../helpers/prng.js';

export const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
export const VSN = Uint8Array.of(1, 5, 2, 0, 0, 0);

export function seededRandom(seed: number): (n: number) => Uint8Array {
  const rand = mulberry32(seed);
  return (n) => Uint8Array.from({ length: n }, () => Math.floor(rand() * 256));
}

export type Kind = 'packet' | 'stream';

/** One datagram or stream request as the router saw it (before any drop). */
export interface Sent {
  at: number;
  from: string;
  to: string;
  kind: Kind;
  /** The messages inside (packets unfolded; a stream's one message, type byte first). */
  msgs: Uint8Array[];
  dropped: boolean;
}

export interface Node {
  name: string;
  core: GossipCore;
  addr: SocketAddress;
  events: { at: number; e: GossipEvent }[];
}

/** In-memory datagrams and streams between cores, with a fake clock. */
export class Net {
  now = 0;
  readonly nodes = new Map<string, Node>();
  readonly log: Sent[] = [];
  /** Decides per delivery whether it is lost (packet types are the unfolded messages'). */
  drop: (from: string, to: string, kind: Kind, types: number[]) => boolean = () => false;

  add(name: string, extra: Partial<GossipOptions> = {}): GossipCore {
    const i = this.nodes.size + 1;
    const addr: SocketAddress = { address: `10.0.0.${i}`, port: 7946, family: 'IPv4' };
    const core = new GossipCore(
      { random: seededRandom(i * 7919) },
      { name, address: { address: addr.address, port: addr.port }, ...extra },
      this.now,
    );
    this.nodes.set(name, { name, core, addr, events: [] });
    return core;
  }

  core(name: string): GossipCore {
    return this.nodes.get(name)!.core;
  }

  addr(name: string): { address: string; port: number } {
    const a = this.nodes.get(name)!.addr;
    return { address: a.address, port: a.port };
  }

  #at(to: { address: string; port: number }): Node | undefined {
    for (const n of this.nodes.values()) {
      if (n.addr.address === to.address && n.addr.port === to.port) return n;
    }
    return undefined;
  }

  #packet(from: Node, d: GossipDatagram): void {
    const target = this.#at(d.to);
    let msgs: Uint8Array[] = [];
    try {
      msgs = from.core.codec.openPacket(d.data);
    } catch {
      // Logged as empty; the receiver counts it.
    }
    const types = msgs.map((m) => m[0]!);
    const to = target?.name ?? `${d.to.address}:${d.to.port}`;
    const dropped = target === undefined || this.drop(from.name, to, 'packet', types);
    this.log.push({ at: this.now, from: from.name, to, kind: 'packet', msgs, dropped });
    if (!dropped) target!.core.receive(d.data, from.addr, this.now);
  }

  #stream(from: Node, s: StreamRequest): void {
    const target = this.#at(s.to);
    let msgs: Uint8Array[] = [];
    try {
      const m = from.core.codec.openStream(s.data);
      msgs = [Uint8Array.of(m.type, ...m.body)];
    } catch {
      // Logged as empty.
    }
    const to = target?.name ?? `${s.to.address}:${s.to.port}`;
    const types = msgs.map((m) => m[0]!);
    const dropped = target === undefined || this.drop(from.name, to, 'stream', types);
    this.log.push({ at: this.now, from: from.name, to, kind: 'stream', msgs, dropped });
    if (dropped) {
      from.core.streamResult(s.id, new Error('connection refused'), this.now);
      return;
    }
    // The bytes are exactly one framed message, as a binding would read them.
    expect(target!.core.frameStream(s.data)).toBe(s.data.length);
    const reply = target!.core.handleStream(s.data, from.addr, this.now);
    if (!s.expectReply) {
      from.core.streamResult(s.id, undefined, this.now);
    } else if (reply === undefined) {
      from.core.streamResult(s.id, new Error('closed before a reply'), this.now);
    } else {
      expect(from.core.frameStream(reply)).toBe(reply.length);
      from.core.streamResult(s.id, reply, this.now);
    }
  }

  /** Delivers everything until nothing moves. */
  pump(): void {
    for (let round = 0; round < 1000; round++) {
      let moved = false;
      for (const n of this.nodes.values()) {
        for (const d of n.core.takeOutput()) {
          moved = true;
          this.#packet(n, d);
        }
        for (const s of n.core.takeStreams()) {
          moved = true;
          this.#stream(n, s);
        }
      }
      this.#collect();
      if (!moved) return;
    }
    throw new Error('the network did not settle');
  }

  #collect(): void {
    for (const n of this.nodes.values()) {
      for (const e of n.core.takeEvents()) n.events.push({ at: this.now, e });
    }
  }

  /**
   * Runs every deadline up to `t` in order, delivering in between. `stop` is checked after
   * the timeouts of each instant (before their output is delivered) and after delivery;
   * when it holds the clock stays at that instant.
   */
  runUntil(t: number, stop?: () => boolean): boolean {
    this.pump();
    if (stop?.() === true) return true;
    for (let steps = 0; ; steps++) {
      if (steps > 1_000_000) throw new Error('too many steps');
      let next = Infinity;
      for (const n of this.nodes.values()) next = Math.min(next, n.core.nextDeadline() ?? Infinity);
      if (next > t) break;
      this.now = Math.max(this.now, next);
      for (const n of this.nodes.values()) {
        const d = n.core.nextDeadline();
        if (d !== undefined && d <= this.now) n.core.handleTimeout(this.now);
      }
      this.#collect();
      if (stop?.() === true) return true;
      this.pump();
      if (stop?.() === true) return true;
    }
    this.now = Math.max(this.now, t);
    return false;
  }

  run(ms: number): void {
    this.runUntil(this.now + ms);
  }

  /** Joins every other node through `seed` and lets the cluster settle. */
  joinAll(seed = 'a', settle = 5000): void {
    for (const n of this.nodes.values()) {
      if (n.name === seed) continue;
      n.core.join([this.addr(seed)], this.now, (err) => {
        if (err !== undefined) throw err;
      });
    }
    this.run(settle);
  }

  events(
    node: string,
    type?: GossipEvent['type'],
    about?: string,
  ): { at: number; e: GossipEvent }[] {
    return this.nodes
      .get(node)!
      .events.filter(
        (x) =>
          (type === undefined || x.e.type === type) &&
          (about === undefined || ('member' in x.e && x.e.member.name === about)),
      );
  }

  /** Sent messages of `type` from → to (either may be undefined for any). */
  sent(type: number, from?: string, to?: string): { at: number; msg: Uint8Array; s: Sent }[] {
    const out: { at: number; msg: Uint8Array; s: Sent }[] = [];
    for (const s of this.log) {
      if ((from !== undefined && s.from !== from) || (to !== undefined && s.to !== to)) continue;
      for (const m of s.msgs) if (m[0] === type) out.push({ at: s.at, msg: m, s });
    }
    return out;
  }
}

/** Hands `core` a datagram as if `from` sent it (sealed with the core's own framing). */
export function inject(core: GossipCore, msg: Uint8Array, now: number, from = '10.0.0.99'): void {
  core.receive(core.codec.sealPacket(msg), { address: from, port: 7946, family: 'IPv4' }, now);
}

export const aliveMsg = (node: string, i: number, extra: Partial<Alive> = {}): Uint8Array =>
  encodeAlive({
    incarnation: 1,
    node,
    addr: Uint8Array.of(10, 0, 1, i),
    port: 7946,
    meta: new Uint8Array(0),
    vsn: VSN,
    ...extra,
  });

/**
 * One core alone with scripted peers: every ping it sends is answered with an ack at once,
 * everything else is discarded, so only what the test injects changes its view.
 */
export class Lone {
  now = 0;
  readonly core: GossipCore;

  constructor(extra: Partial<GossipOptions> = {}) {
    this.core = new GossipCore(
      { random: seededRandom(99) },
      { name: 'a', address: { address: '10.0.0.1', port: 7946 }, ...extra },
      0,
    );
  }

  #answer(): void {
    for (const d of this.core.takeOutput()) {
      for (const m of this.core.codec.openPacket(d.data)) {
        if (m[0] !== MessageType.Ping) continue;
        const ack = encodeAck({
          seqNo: decodePing(m.subarray(1)).seqNo,
          payload: new Uint8Array(),
        });
        inject(this.core, ack, this.now, d.to.address);
      }
    }
    for (const s of this.core.takeStreams())
      this.core.streamResult(s.id, new Error('no'), this.now);
  }

  runUntil(t: number): void {
    this.#answer();
    for (;;) {
      const next = this.core.nextDeadline();
      if (next === undefined || next > t) break;
      this.now = Math.max(this.now, next);
      this.core.handleTimeout(this.now);
      this.#answer();
    }
    this.now = Math.max(this.now, t);
  }

  inject(msg: Uint8Array): void {
    inject(this.core, msg, this.now);
    this.#answer();
  }
}
