/**
 * What a member of a Serf cluster must understand of Serf's own messages (hashicorp/serf
 * serf/messages.go), carried inside memberlist user messages:
 *
 * - tags: Serf puts `[0xff] msgpack map[string]string` in the node metadata (protocol ≥ 3);
 * - Lamport clocks: join and leave intents carry a member clock time, user events an event
 *   clock time, queries a query clock time; we witness all three;
 * - join intents (`messageJoinType`) and leave intents (`messageLeaveType`): a member whose
 *   leave intent is newer than its last join intent and that then goes away has *left*, not
 *   failed (Serf's `handleNodeLeave`); a leave intent for a member already failed moves it
 *   to left (`serf force-leave`);
 * - user events (`serf event NAME PAYLOAD`): surfaced once each and re-broadcast, as Serf
 *   re-broadcasts the events it has not seen; our own are surfaced too when we send them
 *   (serf.go `UserEvent` runs `handleUserEvent` locally);
 * - queries: re-broadcast (so they reach the cluster through us) but not answered;
 * - reconnect (serf.go `handleReconnect`, `reconnect`, `reap`): failed members are
 *   remembered for `reconnectTimeout` (24 h) and every `reconnectInterval` (30 s), with
 *   probability failed/alive, we try a push-pull join to a random one, so a partition
 *   that outlasted failure detection (and memberlist's reaping of dead members) merges
 *   again once it heals.
 *
 * The layer is a {@link GossipDelegate} for {@link GossipCore}; `translate` turns the core's
 * membership events into the events a Serf agent reports. Like the core it is sans-I/O:
 * the binding calls `handleTimeout` at `nextDeadline` and passes the time in.
 */
import { InvalidOptionError } from '../../errors.js';
import type {
  GossipComponents,
  GossipCore,
  GossipDelegate,
  GossipEvent,
  MemberInfo,
} from './core.js';
import { malformed } from './errors.js';
import { asStruct, decodeValue, GoWriter } from './wire/msgpack.js';

/** Serf's message types (serf/messages.go). */
export const SerfMessageType = {
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
} as const;

/** The magic byte before msgpack-encoded tags in Serf metadata (serf `tagMagicByte`). */
export const TAG_MAGIC_BYTE = 0xff;
/** Serf's protocol versions: it speaks 2..5 as the delegate version, 4 by default. */
export const SERF_DELEGATE_VERSIONS = {
  delegateMin: 2,
  delegateMax: 5,
  delegateCur: 4,
} as const;

/** Encodes tags as Serf's node metadata. Throws when they exceed memberlist's 512 bytes. */
export function encodeTags(tags: Readonly<Record<string, string>>): Uint8Array {
  const keys = Object.keys(tags).sort();
  const w = new GoWriter().byte(TAG_MAGIC_BYTE).map(keys.length);
  for (const k of keys) w.str(k).str(tags[k]!);
  const out = w.finish();
  if (out.length > 512) {
    throw new InvalidOptionError(`encoded tags are ${out.length} bytes; the limit is 512`);
  }
  return out;
}

/**
 * Decodes Serf metadata into tags. Metadata without the magic byte, empty metadata included,
 * is Serf's old role-only form: `{ role: <the bytes> }` (serf.go `decodeTags`), so a member
 * with no metadata has the tags `{ role: '' }` in Serf and here.
 */
export function decodeTags(meta: Uint8Array): Record<string, string> {
  if (meta.length === 0 || meta[0] !== TAG_MAGIC_BYTE) {
    return { role: new TextDecoder().decode(meta) };
  }
  const value = decodeValue(meta.subarray(1), { maxBytes: 512, maxItems: 256 });
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw malformed('tags are not a msgpack map');
  }
  const out: Record<string, string> = {};
  const dec = new TextDecoder();
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (v instanceof Uint8Array) out[k] = dec.decode(v);
    else if (typeof v === 'string') out[k] = v;
    else throw malformed(`tag ${k} is not a string`);
  }
  return out;
}

export interface SerfJoin {
  ltime: number;
  node: string;
}

export interface SerfLeave {
  ltime: number;
  node: string;
  prune: boolean;
}

export interface SerfUserEvent {
  ltime: number;
  name: string;
  payload: Uint8Array;
  /** "Can coalesce". */
  cc: boolean;
}

export function encodeSerfJoin(m: SerfJoin): Uint8Array {
  return new GoWriter()
    .byte(SerfMessageType.Join)
    .map(2)
    .key('LTime')
    .uint(m.ltime)
    .key('Node')
    .str(m.node)
    .finish();
}

export function encodeSerfLeave(m: SerfLeave): Uint8Array {
  return new GoWriter()
    .byte(SerfMessageType.Leave)
    .map(3)
    .key('LTime')
    .uint(m.ltime)
    .key('Node')
    .str(m.node)
    .key('Prune')
    .bool(m.prune)
    .finish();
}

export function encodeSerfUserEvent(m: SerfUserEvent): Uint8Array {
  return new GoWriter()
    .byte(SerfMessageType.UserEvent)
    .map(4)
    .key('LTime')
    .uint(m.ltime)
    .key('Name')
    .str(m.name)
    .key('Payload')
    .slice(m.payload)
    .key('CC')
    .bool(m.cc)
    .finish();
}

const LTIME_MAX = Number.MAX_SAFE_INTEGER;
const LIMITS = { maxBytes: 64 * 1024, maxItems: 4096 };

export function decodeSerfJoin(body: Uint8Array): SerfJoin {
  const r = asStruct(decodeValue(body, LIMITS), 'messageJoin', ['LTime', 'Node']);
  return { ltime: r.uint('LTime', LTIME_MAX), node: r.string('Node') };
}

export function decodeSerfLeave(body: Uint8Array): SerfLeave {
  const r = asStruct(decodeValue(body, LIMITS), 'messageLeave', ['LTime', 'Node', 'Prune']);
  return { ltime: r.uint('LTime', LTIME_MAX), node: r.string('Node'), prune: r.bool('Prune') };
}

export function decodeSerfUserEvent(body: Uint8Array): SerfUserEvent {
  const r = asStruct(decodeValue(body, LIMITS), 'messageUserEvent', [
    'LTime',
    'Name',
    'Payload',
    'CC',
  ]);
  return {
    ltime: r.uint('LTime', LTIME_MAX),
    name: r.string('Name'),
    payload: r.bytes('Payload'),
    cc: r.bool('CC'),
  };
}

/** A Lamport clock (serf/lamport.go). */
export class LamportClock {
  #time = 0;

  get time(): number {
    return this.#time;
  }

  /** Returns the current time and advances the clock. */
  increment(): number {
    return ++this.#time;
  }

  /** Moves past a time seen from elsewhere. */
  witness(t: number): void {
    if (t >= this.#time) this.#time = t + 1;
  }
}

/** Events the Serf layer reports (the JSON lines of `ghostnet gossip agent`). */
export type SerfEvent =
  | {
      readonly event: 'member-join' | 'member-leave' | 'member-failed' | 'member-update';
      readonly name: string;
      readonly addr: string;
      readonly port: number;
      readonly tags: Record<string, string>;
    }
  | {
      readonly event: 'user-event';
      readonly name: string;
      readonly payload: Uint8Array;
      readonly ltime: number;
      readonly coalesce: boolean;
    };

export interface SerfLayerOptions {
  /** Remembered user events (for de-duplication). Default 1024. */
  readonly maxRecentEvents?: number;
  /** Remembered intents about members, and failed members kept for reconnecting. Default 65536. */
  readonly maxIntents?: number;
  /**
   * Milliseconds between reconnect attempts (Serf's `ReconnectInterval`): each time, with
   * probability failed/alive members, a push-pull join to one random failed member. 0
   * turns reconnecting off. Needs `random` in the components.
   * @default 30000
   */
  readonly reconnectInterval?: number;
  /**
   * Milliseconds a failed member is remembered and retried (Serf's `ReconnectTimeout`).
   * @default 86400000 (24 h)
   */
  readonly reconnectTimeout?: number;
}

/** serf/config.go DefaultConfig: ReconnectInterval 30 s, ReconnectTimeout 24 h. */
export const SERF_RECONNECT_INTERVAL_MS = 30_000;
export const SERF_RECONNECT_TIMEOUT_MS = 24 * 3600 * 1000;

interface Intent {
  type: 'join' | 'leave';
  ltime: number;
}

interface FailedMember {
  member: MemberInfo;
  /** When we saw it fail (Serf's `leaveTime`). */
  at: number;
}

function checkMs(name: string, v: number | undefined, min: number): void {
  if (v !== undefined && (!Number.isSafeInteger(v) || v < min || v > 365 * 24 * 3600 * 1000)) {
    throw new InvalidOptionError(`${name} must be a whole number of milliseconds >= ${min}`);
  }
}

function safeTags(meta: Uint8Array): Record<string, string> {
  try {
    return decodeTags(meta);
  } catch {
    return {};
  }
}

/** Serf compatibility for one {@link GossipCore}: see the module comment. */
export class SerfLayer implements GossipDelegate {
  readonly clock = new LamportClock();
  readonly eventClock = new LamportClock();
  readonly queryClock = new LamportClock();
  #core: GossipCore | undefined;
  readonly #intents = new Map<string, Intent>();
  readonly #recent = new Set<string>();
  readonly #maxRecent: number;
  readonly #maxIntents: number;
  #events: SerfEvent[] = [];
  /**
   * Members we have reported as failed, oldest failure first: a later leave intent makes
   * them left; until then, and for at most reconnectTimeout, we try to reconnect to them.
   */
  readonly #failed = new Map<string, FailedMember>();
  #leaving = false;
  readonly #random: ((n: number) => Uint8Array) | undefined;
  readonly #reconnectInterval: number;
  readonly #reconnectTimeout: number;
  /** The next reconnect tick; undefined while no member is failed. */
  #nextReconnect: number | undefined;
  #reconnecting = false;
  /** The latest time the layer was given. */
  #now = 0;
  /** Serf messages that failed to decode. */
  dropped = 0;
  /** Reconnect joins started (serf.go `reconnect`). */
  reconnects = 0;

  /**
   * `components.random` drives reconnecting (which failed member, and the throttle);
   * without it the layer does not reconnect.
   */
  constructor(options: SerfLayerOptions = {}, components?: Partial<GossipComponents>) {
    checkMs('reconnectInterval', options.reconnectInterval, 0);
    checkMs('reconnectTimeout', options.reconnectTimeout, 1);
    this.#maxRecent = options.maxRecentEvents ?? 1024;
    this.#maxIntents = options.maxIntents ?? 65536;
    this.#random = components?.random;
    this.#reconnectInterval = options.reconnectInterval ?? SERF_RECONNECT_INTERVAL_MS;
    this.#reconnectTimeout = options.reconnectTimeout ?? SERF_RECONNECT_TIMEOUT_MS;
    // serf.go Create: the event and query clocks start at 1.
    this.eventClock.increment();
    this.queryClock.increment();
  }

  /** Connects the layer to its core (the core takes the layer as its delegate). */
  attach(core: GossipCore): void {
    this.#core = core;
  }

  takeEvents(): SerfEvent[] {
    const out = this.#events;
    this.#events = [];
    return out;
  }

  /** Broadcasts our join intent (Serf does on join, so later leave intents order after it). */
  announceJoin(): void {
    const core = this.#required();
    const ltime = this.clock.increment();
    this.#intents.set(core.name, { type: 'join', ltime });
    core.broadcastUser(encodeSerfJoin({ ltime, node: core.name }));
  }

  /**
   * Broadcasts our leave intent; `finished` runs once it has been sent as often as the
   * retransmit limit asks (Serf waits for that before memberlist's leave).
   */
  announceLeave(finished: () => void): void {
    const core = this.#required();
    const ltime = this.clock.increment();
    this.#leaving = true;
    this.#intents.set(core.name, { type: 'leave', ltime });
    core.broadcastUser(encodeSerfLeave({ ltime, node: core.name, prune: false }), () => finished());
  }

  /**
   * Sends a Serf user event to the cluster (what `serf event NAME PAYLOAD` does) and, as
   * serf.go `UserEvent` does through `handleUserEvent`, reports it here too: the sender
   * sees its own event once, like every other member.
   */
  userEvent(name: string, payload: Uint8Array, coalesce = true): void {
    const core = this.#required();
    // serf.go UserEvent: the event carries the clock's time, then the clock moves on.
    const e: SerfUserEvent = { ltime: this.eventClock.time, name, payload, cc: coalesce };
    core.broadcastUser(encodeSerfUserEvent(e)); // throws (nothing changed) when too big
    this.eventClock.increment();
    this.#handleUserEvent(e);
  }

  /**
   * serf.go `handleUserEvent`: witnesses the time and reports an event not seen before;
   * returns whether it was new (and so should be re-broadcast).
   */
  #handleUserEvent(e: SerfUserEvent): boolean {
    this.eventClock.witness(e.ltime);
    const key = `${e.ltime}\0${e.name}\0${Buffer.from(e.payload).toString('base64')}`;
    if (!this.#remember(key)) return false;
    this.#events.push({
      event: 'user-event',
      name: e.name,
      payload: e.payload,
      ltime: e.ltime,
      coalesce: e.cc,
    });
    return true;
  }

  // ---- reconnect (serf.go handleReconnect, reconnect, reap) ---------------------------

  /** When `handleTimeout` is next due, or undefined (no failed member, or no reconnecting). */
  nextDeadline(): number | undefined {
    return this.#failed.size > 0 ? this.#nextReconnect : undefined;
  }

  /**
   * The reconnect tick: forgets members failed for longer than reconnectTimeout, then
   * (serf.go `reconnect`) with probability failed/alive starts a push-pull join to one
   * random failed member, one at a time.
   */
  handleTimeout(now: number): void {
    this.#see(now);
    const at = this.#nextReconnect;
    if (at === undefined || now < at) return;
    this.#nextReconnect = now + this.#reconnectInterval;
    for (const [name, f] of this.#failed) {
      if (now - f.at <= this.#reconnectTimeout) break; // oldest first
      this.#failed.delete(name);
    }
    if (this.#failed.size === 0) {
      this.#nextReconnect = undefined;
      return;
    }
    const core = this.#core;
    if (core === undefined || core.left || this.#leaving || this.#reconnecting) return;
    // Each member tries with probability failed/alive, so the cluster as a whole tries each
    // failed member about once per interval.
    const prob = this.#failed.size / Math.max(1, core.size);
    if (this.#randomU32() / 2 ** 32 >= prob) return;
    let pick = this.#randomU32() % this.#failed.size;
    let target: MemberInfo | undefined;
    for (const f of this.#failed.values()) {
      if (pick-- === 0) {
        target = f.member;
        break;
      }
    }
    if (target === undefined) return;
    this.#reconnecting = true;
    this.reconnects++;
    core.join([{ address: target.address, port: target.port }], now, () => {
      this.#reconnecting = false;
    });
  }

  #randomU32(): number {
    const b = this.#random!(4);
    return ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
  }

  #see(now: number): void {
    if (now > this.#now) this.#now = now;
  }

  /** Starts the reconnect ticks when the first member fails, stops them with the last. */
  #scheduleReconnect(now: number): void {
    if (this.#failed.size === 0) this.#nextReconnect = undefined;
    else if (
      this.#nextReconnect === undefined &&
      this.#reconnectInterval > 0 &&
      this.#random !== undefined
    ) {
      this.#nextReconnect = now + this.#reconnectInterval;
    }
  }

  #required(): GossipCore {
    if (this.#core === undefined) throw new InvalidOptionError('SerfLayer is not attached');
    return this.#core;
  }

  #remember(key: string): boolean {
    if (this.#recent.has(key)) return false;
    this.#recent.add(key);
    if (this.#recent.size > this.#maxRecent) {
      this.#recent.delete(this.#recent.values().next().value!);
    }
    return true;
  }

  #setIntent(node: string, intent: Intent): boolean {
    const old = this.#intents.get(node);
    if (old !== undefined && old.ltime >= intent.ltime) return false;
    this.#intents.delete(node);
    this.#intents.set(node, intent);
    if (this.#intents.size > this.#maxIntents) {
      this.#intents.delete(this.#intents.keys().next().value!);
    }
    return true;
  }

  // ---- GossipDelegate -------------------------------------------------------------------

  notifyMsg(msg: Uint8Array, now?: number): void {
    if (now !== undefined) this.#see(now);
    if (msg.length === 0) return;
    const core = this.#core;
    const body = msg.subarray(1);
    try {
      switch (msg[0]) {
        case SerfMessageType.Join: {
          const j = decodeSerfJoin(body);
          this.clock.witness(j.ltime);
          if (this.#setIntent(j.node, { type: 'join', ltime: j.ltime })) core?.broadcastUser(msg);
          return;
        }
        case SerfMessageType.Leave: {
          const l = decodeSerfLeave(body);
          this.clock.witness(l.ltime);
          if (core !== undefined && l.node === core.name) {
            // A leave intent about us that we did not send (or an old one) while we stay:
            // Serf refutes it with a newer join intent.
            const ours = this.#intents.get(core.name);
            if (!this.#leaving && !core.left && (ours === undefined || l.ltime > ours.ltime)) {
              this.announceJoin();
            }
            return;
          }
          if (!this.#setIntent(l.node, { type: 'leave', ltime: l.ltime })) return;
          core?.broadcastUser(msg);
          const failed = this.#failed.get(l.node);
          if (failed !== undefined) {
            this.#failed.delete(l.node);
            this.#scheduleReconnect(this.#now);
            this.#events.push(this.#memberEvent('member-leave', failed.member));
          }
          return;
        }
        case SerfMessageType.UserEvent: {
          if (this.#handleUserEvent(decodeSerfUserEvent(body))) core?.broadcastUser(msg);
          return;
        }
        case SerfMessageType.Query: {
          const r = asStruct(decodeValue(body, LIMITS), 'messageQuery', ['LTime', 'ID']);
          const ltime = r.uint('LTime', LTIME_MAX);
          this.queryClock.witness(ltime);
          if (this.#remember(`q\0${ltime}\0${r.uint('ID', 0xffffffff)}`)) core?.broadcastUser(msg);
          return;
        }
        default:
          return; // Query responses, key management and relays are not for us.
      }
    } catch {
      this.dropped++;
    }
  }

  localState(): Uint8Array {
    return new Uint8Array(0);
  }

  mergeRemoteState(state: Uint8Array, _join?: boolean, now?: number): void {
    if (now !== undefined) this.#see(now);
    if (state.length === 0 || state[0] !== SerfMessageType.PushPull) return;
    try {
      const r = asStruct(decodeValue(state.subarray(1), LIMITS), 'messagePushPull', [
        'LTime',
        'StatusLTimes',
        'LeftMembers',
        'EventLTime',
        'Events',
        'QueryLTime',
      ]);
      this.clock.witness(r.uint('LTime', LTIME_MAX));
      this.eventClock.witness(r.uint('EventLTime', LTIME_MAX));
      this.queryClock.witness(r.uint('QueryLTime', LTIME_MAX));
      const times = r.value('StatusLTimes');
      const left = r.value('LeftMembers');
      if (Array.isArray(left) && times !== null && typeof times === 'object') {
        const dec = new TextDecoder();
        for (const raw of left) {
          const node = raw instanceof Uint8Array ? dec.decode(raw) : String(raw);
          const t = (times as Record<string, unknown>)[node];
          if (typeof t === 'number') this.#setIntent(node, { type: 'leave', ltime: t });
        }
      }
    } catch {
      this.dropped++;
    }
  }

  // ---- membership events ----------------------------------------------------------------

  /**
   * Turns core events into Serf's: a member with a pending leave intent that goes away has
   * left; user messages were already handled by `notifyMsg`. `now` dates failures for
   * reconnectTimeout (default: the latest time the layer was given).
   */
  translate(events: readonly GossipEvent[], now = this.#now): SerfEvent[] {
    this.#see(now);
    for (const ev of events) {
      if (ev.type === 'user-message') continue;
      let type = ev.type;
      const m = ev.member;
      if (type === 'member-failed' && this.#intents.get(m.name)?.type === 'leave') {
        type = 'member-leave';
      }
      this.#failed.delete(m.name); // re-inserted last: the map stays oldest failure first
      if (type === 'member-failed') this.#failed.set(m.name, { member: m, at: now });
      if (this.#failed.size > this.#maxIntents) {
        this.#failed.delete(this.#failed.keys().next().value!);
      }
      this.#events.push(this.#memberEvent(type, m));
    }
    this.#scheduleReconnect(now);
    return this.takeEvents();
  }

  #memberEvent(
    type: 'member-join' | 'member-leave' | 'member-failed' | 'member-update',
    m: MemberInfo,
  ): SerfEvent {
    return { event: type, name: m.name, addr: m.address, port: m.port, tags: safeTags(m.meta) };
  }
}

/** `k=v` strings as tags (for the CLI). */
export function parseTags(pairs: readonly string[]): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const p of pairs) {
    const eq = p.indexOf('=');
    if (eq <= 0) throw new InvalidOptionError(`tag "${p}" is not k=v`);
    tags[p.slice(0, eq)] = p.slice(eq + 1);
  }
  return tags;
}
