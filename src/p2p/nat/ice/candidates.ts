/**
 * ICE candidates and candidate pairs (RFC 8445), pure functions: priorities (§5.1.2),
 * foundations (§5.1.1.3), the candidate attribute (RFC 8839 §5.1), pairing, pair priorities,
 * pruning and the initial states of a checklist (§6.1.2), and role-conflict resolution
 * (§7.3.1.1). No I/O: the agent feeds candidates in and runs the checks.
 */
import { GhostnetError, InvalidOptionError } from '../../../errors.js';

export type CandidateType = 'host' | 'srflx' | 'prflx' | 'relay';

/** RFC 8445 §5.1.2.2: recommended type preferences. */
export const TYPE_PREFERENCE: Readonly<Record<CandidateType, number>> = {
  host: 126,
  prflx: 110,
  srflx: 100,
  relay: 0,
};

/** RFC 8445 §6.1.2.5: the default limit on a checklist's size. */
export const MAX_CHECKLIST_SIZE = 100;

export interface Candidate {
  readonly foundation: string;
  /** 1 for RTP (or the only component), 2 for RTCP. */
  readonly component: number;
  readonly transport: 'udp';
  readonly priority: number;
  readonly address: string;
  readonly port: number;
  readonly type: CandidateType;
  /** The base's address for srflx/prflx, the server-reflexive one for relay (§5.1.1). */
  readonly relatedAddress?: string;
  readonly relatedPort?: number;
}

/**
 * RFC 8445 §5.1.2.1: priority = 2^24 × type preference + 2^8 × local preference +
 * (256 − component ID).
 */
export function candidatePriority(
  type: CandidateType,
  localPreference: number,
  component = 1,
): number {
  if (!Number.isInteger(localPreference) || localPreference < 0 || localPreference > 65535) {
    throw new InvalidOptionError('local preference is 0..65535');
  }
  if (!Number.isInteger(component) || component < 1 || component > 256) {
    throw new InvalidOptionError('component ID is 1..256');
  }
  return TYPE_PREFERENCE[type] * 2 ** 24 + localPreference * 2 ** 8 + (256 - component);
}

/**
 * RFC 8445 §5.1.1.3: candidates share a foundation when they have the same type, base IP
 * address, STUN/TURN server IP and transport. Returns a short stable string (1-32 ice-chars).
 */
export function candidateFoundation(
  type: CandidateType,
  baseAddress: string,
  serverAddress = '',
  transport = 'udp',
): string {
  // FNV-1a over the four fields: deterministic, no crypto needed (foundations are not secret).
  let h = 0x811c9dc5;
  for (const ch of `${type}|${baseAddress}|${serverAddress}|${transport}`) {
    h ^= ch.charCodeAt(0);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(36);
}

/** A malformed candidate attribute. */
export class CandidateSyntaxError extends GhostnetError {
  constructor(message: string) {
    super('GN_ERR_ICE_CANDIDATE', message);
  }
}

const ICE_CHAR = /^[A-Za-z0-9+/]{1,32}$/;

/**
 * Parses `candidate:…` (with or without a leading `a=`), RFC 8839 §5.1:
 * `candidate:<foundation> <component> <transport> <priority> <address> <port> typ <type>
 * [raddr <a> rport <p>] *(<name> <value>)`. Only UDP candidates are accepted.
 */
export function parseCandidate(text: string): Candidate {
  const t = text.trim().replace(/^a=/, '');
  if (!t.startsWith('candidate:')) throw new CandidateSyntaxError('not a candidate attribute');
  const f = t.slice('candidate:'.length).split(/\s+/);
  if (f.length < 8 || f[6] !== 'typ') throw new CandidateSyntaxError(`malformed candidate: ${t}`);
  const [foundation, comp, transport, prio, address, port, , type] = f as [
    string,
    string,
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  if (!ICE_CHAR.test(foundation)) throw new CandidateSyntaxError('bad foundation');
  const component = Number(comp);
  const priority = Number(prio);
  const p = Number(port);
  if (!Number.isInteger(component) || component < 1 || component > 256) {
    throw new CandidateSyntaxError('bad component ID');
  }
  if (transport.toLowerCase() !== 'udp') throw new CandidateSyntaxError('only UDP candidates');
  if (!Number.isInteger(priority) || priority < 1 || priority > 2 ** 31 - 1) {
    throw new CandidateSyntaxError('bad priority');
  }
  if (!Number.isInteger(p) || p < 0 || p > 65535) throw new CandidateSyntaxError('bad port');
  if (type !== 'host' && type !== 'srflx' && type !== 'prflx' && type !== 'relay') {
    throw new CandidateSyntaxError(`unknown candidate type ${type}`);
  }
  if (address.length === 0 || address.length > 255) throw new CandidateSyntaxError('bad address');
  let relatedAddress: string | undefined;
  let relatedPort: number | undefined;
  for (let i = 8; i + 1 < f.length; i += 2) {
    if (f[i] === 'raddr') relatedAddress = f[i + 1];
    else if (f[i] === 'rport') relatedPort = Number(f[i + 1]);
  }
  if (relatedPort !== undefined && !(Number.isInteger(relatedPort) && relatedPort <= 65535)) {
    throw new CandidateSyntaxError('bad rport');
  }
  return {
    foundation,
    component,
    transport: 'udp',
    priority,
    address,
    port: p,
    type,
    ...(relatedAddress !== undefined && { relatedAddress }),
    ...(relatedPort !== undefined && { relatedPort }),
  };
}

/** Formats a candidate as RFC 8839 §5.1 `candidate:…` (no `a=`). */
export function formatCandidate(c: Candidate): string {
  let s = `candidate:${c.foundation} ${c.component} UDP ${c.priority} ${c.address} ${c.port} typ ${c.type}`;
  if (c.relatedAddress !== undefined && c.relatedPort !== undefined) {
    s += ` raddr ${c.relatedAddress} rport ${c.relatedPort}`;
  }
  return s;
}

/**
 * RFC 8445 §6.1.2.3: pair priority = 2^32 × MIN(G, D) + 2 × MAX(G, D) + (G > D ? 1 : 0),
 * where G is the controlling agent's candidate priority and D the controlled one's. A
 * bigint: the value needs 63 bits.
 */
export function pairPriority(controlling: number, controlled: number): bigint {
  const g = BigInt(controlling);
  const d = BigInt(controlled);
  const min = g < d ? g : d;
  const max = g < d ? d : g;
  return (1n << 32n) * min + 2n * max + (g > d ? 1n : 0n);
}

export type PairState = 'frozen' | 'waiting' | 'in-progress' | 'succeeded' | 'failed';

export interface CandidatePair {
  /** The local candidate (for a reflexive one, pairs use its base: §6.1.2.4). */
  readonly local: Candidate;
  readonly remote: Candidate;
  readonly priority: bigint;
  /** `${local.foundation}:${remote.foundation}` (§6.1.2.6). */
  readonly foundation: string;
  state: PairState;
}

function family(address: string): 4 | 6 {
  return address.includes(':') ? 6 : 4;
}

/**
 * RFC 8445 §6.1.2.2-§6.1.2.6: pairs every local candidate with every remote one of the same
 * component and address family; a server-reflexive local candidate is replaced by its base
 * (a host candidate with its related address), redundant pairs (same local base and remote)
 * keep the highest priority, pairs are sorted by decreasing priority and cut to `limit`,
 * and for each foundation the pair with the lowest component ID and highest priority starts
 * Waiting, the others Frozen.
 *
 * @param locals our candidates (a srflx one finds its base through its related address).
 */
export function formChecklist(
  locals: readonly Candidate[],
  remotes: readonly Candidate[],
  controlling: boolean,
  limit = MAX_CHECKLIST_SIZE,
): CandidatePair[] {
  const byKey = new Map<string, CandidatePair>();
  for (const l0 of locals) {
    // §6.1.2.4: "replace each server-reflexive candidate with its base".
    let l = l0;
    if (l0.type === 'srflx') {
      const base = locals.find(
        (b) => b.type === 'host' && b.address === l0.relatedAddress && b.port === l0.relatedPort,
      );
      if (base === undefined) continue;
      l = base;
    }
    for (const r of remotes) {
      if (r.component !== l.component || family(r.address) !== family(l.address)) continue;
      const prio = controlling
        ? pairPriority(l.priority, r.priority)
        : pairPriority(r.priority, l.priority);
      const key = `${l.address}|${l.port}|${l.type}>${r.address}|${r.port}`;
      const old = byKey.get(key);
      if (old !== undefined && old.priority >= prio) continue;
      byKey.set(key, {
        local: l,
        remote: r,
        priority: prio,
        foundation: `${l.foundation}:${r.foundation}`,
        state: 'frozen',
      });
    }
  }
  const pairs = [...byKey.values()].sort((a, b) =>
    a.priority === b.priority ? 0 : a.priority > b.priority ? -1 : 1,
  );
  pairs.length = Math.min(pairs.length, limit);
  const unfrozen = new Set<string>();
  // Sorted by priority: the first pair seen per foundation has the highest priority; prefer
  // the lowest component among those (§6.1.2.6).
  const best = new Map<string, CandidatePair>();
  for (const p of pairs) {
    const b = best.get(p.foundation);
    if (b === undefined || p.local.component < b.local.component) best.set(p.foundation, p);
  }
  for (const [f, p] of best) {
    if (unfrozen.has(f)) continue;
    unfrozen.add(f);
    p.state = 'waiting';
  }
  return pairs;
}

/**
 * RFC 8445 §7.3.1.1: a Binding request arrived with ICE-CONTROLLING while we are
 * controlling too (or ICE-CONTROLLED while we are controlled). Returns what to do: switch
 * our role, or answer 487 (Role Conflict) and keep it.
 */
export function resolveRoleConflict(
  weAreControlling: boolean,
  theyClaimControlling: boolean,
  ourTieBreaker: bigint,
  theirTieBreaker: bigint,
): 'switch' | 'reply-487' | 'none' {
  if (weAreControlling !== theyClaimControlling) return 'none';
  if (weAreControlling) {
    // Both controlling: the larger tie-breaker keeps controlling.
    return ourTieBreaker >= theirTieBreaker ? 'reply-487' : 'switch';
  }
  // Both controlled: the larger tie-breaker switches to controlling.
  return ourTieBreaker >= theirTieBreaker ? 'switch' : 'reply-487';
}
