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
 *   re-broadcasts the events it has not seen;
 * - queries: re-broadcast (so they reach the cluster through us) but not answered.
 *
 * The layer is a {@link GossipDelegate} for {@link GossipCore}; `translate` turns the core's
 * membership events into the events a Serf agent reports.
 */
import { InvalidOptionError } from '../../errors.js';
import type { GossipCore, GossipDelegate, GossipEvent, MemberInfo } from './core.js';
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

/** Decodes Serf metadata into tags (metadata without the magic byte is Serf's old `role`). */
export function decodeTags(meta: Uint8Array): Record<string, string> {
  if (meta.length === 0) return {};
  if (meta[0] !== TAG_MAGIC_BYTE) return { role: new TextDecoder().decode(meta) };
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
  /** Remembered intents about members. Default 65536. */
  readonly maxIntents?: number;
}

interface Intent {
  type: 'join' | 'leave';
  ltime: number;
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
  /** Names of members we have reported as failed (a later leave intent makes them left). */
  readonly #failed = new Map<string, MemberInfo>();
  #leaving = false;
  /** Serf messages that failed to decode. */
  dropped = 0;

  constructor(options: SerfLayerOptions = {}) {
    this.#maxRecent = options.maxRecentEvents ?? 1024;
    this.#maxIntents = options.maxIntents ?? 65536;
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

  /** Sends a Serf user event to the cluster (what `serf event NAME PAYLOAD` does). */
  userEvent(name: string, payload: Uint8Array, coalesce = true): void {
    const core = this.#required();
    const ltime = this.eventClock.increment();
    const msg = encodeSerfUserEvent({ ltime, name, payload, cc: coalesce });
    this.#remember(`${ltime}\0${name}\0${Buffer.from(payload).toString('base64')}`);
    core.broadcastUser(msg);
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

  notifyMsg(msg: Uint8Array): void {
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
            this.#events.push(this.#memberEvent('member-leave', failed));
          }
          return;
        }
        case SerfMessageType.UserEvent: {
          const e = decodeSerfUserEvent(body);
          this.eventClock.witness(e.ltime);
          const key = `${e.ltime}\0${e.name}\0${Buffer.from(e.payload).toString('base64')}`;
          if (!this.#remember(key)) return;
          this.#events.push({
            event: 'user-event',
            name: e.name,
            payload: e.payload,
            ltime: e.ltime,
            coalesce: e.cc,
          });
          core?.broadcastUser(msg);
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

  mergeRemoteState(state: Uint8Array): void {
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
   * left; user messages were already handled by `notifyMsg`.
   */
  translate(events: readonly GossipEvent[]): SerfEvent[] {
    for (const ev of events) {
      if (ev.type === 'user-message') continue;
      let type = ev.type;
      const m = ev.member;
      if (type === 'member-failed' && this.#intents.get(m.name)?.type === 'leave') {
        type = 'member-leave';
      }
      if (type === 'member-failed') this.#failed.set(m.name, m);
      else this.#failed.delete(m.name);
      if (this.#failed.size > this.#maxIntents) {
        this.#failed.delete(this.#failed.keys().next().value!);
      }
      this.#events.push(this.#memberEvent(type, m));
    }
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
