/**
 * The Mainline DHT core (BEP 5, with BEP 32 IPv6 nodes, BEP 42 id checks, BEP 43 read-only
 * mode and BEP 44 items), sans-I/O (DESIGN §2):
 *
 *   receive(datagram, from, now)        a KRPC message arrived
 *   takeOutput() → [{ data, to }]       datagrams to send
 *   nextDeadline() / handleTimeout(now) query timeouts, token rotation, bucket refresh
 *   ping / findNode / getPeers / announce / get / put / bootstrap   intents; each reports
 *                                       through its callback when done
 *
 * Randomness (transaction ids, token secrets, refresh targets) and ed25519 come in as
 * components; time only through `now`. The same core runs over UDP (node.ts) and on the
 * simulated network (p2p/sim).
 */
import { InvalidOptionError } from '../../errors.js';
import type { SocketAddress } from '../../transport/types.js';
import { asList, getBytes, getInt } from './bencode.js';
import type { BDict, BValue } from './bencode.js';
import { ID_LENGTH, KrpcErrorCode } from './codes.js';
import { decodeNodes, decodePeer, encodeNodes } from './compact.js';
import type { Family, NodeInfo, PeerInfo } from './compact.js';
import { KrpcError } from './errors.js';
import {
  checkImmutablePut,
  checkMutablePut,
  immutableTarget,
  mutableTarget,
  signMutable,
  verifyImmutable,
  verifyMutable,
} from './bep44.js';
import type { Ed25519, MutableItem, MutablePut } from './bep44.js';
import { isCompliantId } from './bep42.js';
import { MAX_SALT_LENGTH } from './codes.js';
import { idEquals, idToHex, isId, randomIdWithPrefix } from './id.js';
import type { NodeId, RandomBytes } from './id.js';
import { encodeError, encodeQuery, encodeResponse, parseMessage } from './krpc.js';
import type { KrpcQuery, KrpcResponse } from './krpc.js';
import { Lookup } from './lookup.js';
import type { Candidate } from './lookup.js';
import { PeerStore } from './peer-store.js';
import { RoutingTable } from './routing-table.js';
import type { Contact } from './routing-table.js';
import { TokenManager } from './tokens.js';

/**
 * Extra tries of a lookup query that timed out, before the node counts as failed for this
 * lookup (three tries in all). BEP 5 calls a node bad only after several unanswered
 * queries in a row: a lost datagram is not a dead node. With 5 % loss each way a query is
 * lost ~10 % of the time, so with two tries ~1 % of the true k closest still drop out of a
 * lookup, and with three ~0.1 %. Retries wait half the query timeout (see #lookup), so a
 * dead node holds a lookup as long as before. Measured on the simulated network
 * (bench/RESULTS.md, 10 % churn, 5 % loss): lookups finding at least k−1 of the true k
 * closest went from 97 % to 99 % at 3,000 nodes, at the same median latency.
 */
const LOOKUP_RETRIES = 2;

export interface DhtComponents {
  /** Random bytes (transaction ids, token secrets, refresh targets). */
  random: RandomBytes;
  /**
   * ed25519 for BEP 44 mutable items (nodeEd25519 from ed25519-node.ts in the binding).
   * Without it, mutable puts are refused with 202 and mutable gets cannot verify.
   */
  ed25519?: Ed25519;
}

export interface DhtOptions {
  /** Our node id. @default random */
  id?: NodeId;
  /** Bucket size and lookup width (BEP 5). @default 8 */
  k?: number;
  /** Queries in flight per lookup. @default 3 */
  alpha?: number;
  /** A query without an answer for this long has failed. @default 2000 */
  queryTimeoutMs?: number;
  /** Queries one lookup may send. @default 200 */
  maxLookupQueries?: number;
  /** Lookups running at once; more are refused (their callback gets an error). @default 64 */
  maxConcurrentLookups?: number;
  /** Our queries in flight in total. @default 1024 */
  maxPendingQueries?: number;
  /** BEP 43: never answer queries and mark ours read-only. @default false */
  readOnly?: boolean;
  /**
   * BEP 42 node-id policy for other nodes: 'require' keeps nodes whose id does not match
   * their IP (crc32c rule; local networks exempt) out of the routing table; 'prefer' keeps
   * them but never hands them to others in `nodes`; 'off' ignores ids (libtorrent's
   * default, as most of the network is not compliant).
   * @default 'off'
   */
  nodeIdPolicy?: 'off' | 'prefer' | 'require';
  /** Client version sent in `v` (BEP 5): 4 bytes. @default "GN01" */
  version?: Uint8Array;
  /** Peers returned per get_peers answer (keeps the datagram small). @default 50 */
  maxPeersPerResponse?: number;
  /** Queries answered per source IP per second (burst: twice that). @default 50 */
  rateLimitPerIp?: number;
  /** Source IPs tracked by the rate limiter. @default 10000 */
  maxRateLimitedIps?: number;
  /** Bucket refresh and maintenance period. @default 60000 */
  maintenanceIntervalMs?: number;
  peerTtlMs?: number;
  maxInfohashes?: number;
  maxPeersPerInfohash?: number;
  /** BEP 44 items stored for others. @default 1000 */
  maxItems?: number;
  /** BEP 44: items expire unless put again. @default 7200000 (2 hours, as the BEP says) */
  itemTtlMs?: number;
  /** Creation time (ms). */
  now?: number;
}

export interface DhtStats {
  nodes: number;
  nodes6: number;
  queriesIn: number;
  queriesOut: number;
  responsesIn: number;
  errorsIn: number;
  timeouts: number;
  lookups: number;
  lookupsActive: number;
  infohashes: number;
  rateLimited: number;
  invalid: number;
}

export interface LookupResult {
  target: NodeId;
  /** The closest nodes that answered, closest first (at most k). */
  closest: NodeInfo[];
  /** get_peers: peers found. */
  peers: PeerInfo[];
  queries: number;
  /** The longest chain of dependent queries (see `Lookup.rounds`). */
  rounds: number;
}

type Done<T> = (err: Error | undefined, result: T | undefined) => void;

type StoredItem = { kind: 'immutable'; v: BValue } | { kind: 'mutable'; m: MutableItem };

/** How a BEP 44 put went: nodes that stored it, and the KRPC errors of those that refused. */
export interface PutResult {
  target: NodeId;
  stored: number;
  errors: KrpcError[];
}

/** A BEP 44 item found by `get`: immutable (`v` only) or mutable (with k, seq, sig). */
export interface GotItem {
  v: BValue;
  k?: Uint8Array;
  seq?: number;
  sig?: Uint8Array;
}

interface Pending {
  key: number;
  t: Uint8Array;
  to: PeerInfo;
  /** The node's id when we know it (routing-table bookkeeping on timeout). */
  id: NodeId | undefined;
  method: string;
  deadline: number;
  /** Called with the response, or undefined on timeout/error. */
  onDone: (res: KrpcResponse | undefined, err?: KrpcError) => void;
}

interface Datagram {
  data: Uint8Array;
  to: { address: string; port: number };
}

/** `closest` options for the nodes we hand out (see #nodesFor). */
const VERIFIED_ONLY = Object.freeze({ verifiedOnly: true });

/** Period of the lookup of our own id (libtorrent: 10 minutes). */
const SELF_REFRESH_MS = 10 * 60_000;
/**
 * A thin join — fewer than k nodes answered the bootstrap lookup, as when the bootstrap
 * node had only just joined itself and knew nobody yet — is tried again after this long,
 * then after twice as long each time up to `REJOIN_MAX_MS` (a network smaller than k + 1
 * nodes never gives k answers, so it must not cost a lookup a minute forever).
 */
const REJOIN_MIN_MS = 60_000;
const REJOIN_MAX_MS = 16 * 60_000;
const DEFAULT_VERSION = Uint8Array.from([0x47, 0x4e, 0x00, 0x01]); // "GN" 0.1

function checkInt(
  name: string,
  v: number | undefined,
  d: number,
  min: number,
  max: number,
): number {
  if (v === undefined) return d;
  if (!Number.isSafeInteger(v) || v < min || v > max) {
    throw new InvalidOptionError(`dht option ${name} must be an integer in [${min}, ${max}]`);
  }
  return v;
}

export class DhtCore {
  readonly id: NodeId;
  readonly table4: RoutingTable;
  readonly table6: RoutingTable;
  readonly #random: RandomBytes;
  readonly #k: number;
  readonly #alpha: number;
  readonly #queryTimeoutMs: number;
  readonly #maxLookupQueries: number;
  readonly #maxLookups: number;
  readonly #maxPending: number;
  readonly #readOnly: boolean;
  readonly #idPolicy: 'off' | 'prefer' | 'require';
  readonly #version: Uint8Array;
  readonly #maxPeersPerResponse: number;
  readonly #ratePerIp: number;
  readonly #maxRateIps: number;
  readonly #maintenanceMs: number;
  readonly #tokens: TokenManager;
  readonly #peers: PeerStore;
  readonly #ed25519: Ed25519 | undefined;
  readonly #items = new Map<string, { item: StoredItem; expires: number }>();
  readonly #maxItems: number;
  readonly #itemTtlMs: number;
  #out: Datagram[] = [];
  readonly #pending = new Map<number, Pending>();
  #nextTx: number;
  #lookupsActive = 0;
  #now: number;
  #nextMaintenance: number;
  #selfRefreshAt: number;
  #seeds: readonly PeerInfo[] = [];
  /** When a thin bootstrap is tried again (see REJOIN_MIN_MS); undefined when not needed. */
  #rejoinAt: number | undefined = undefined;
  #rejoinDelayMs = REJOIN_MIN_MS;
  readonly #rate = new Map<string, { tokens: number; at: number }>();
  readonly #stats: DhtStats = {
    nodes: 0,
    nodes6: 0,
    queriesIn: 0,
    queriesOut: 0,
    responsesIn: 0,
    errorsIn: 0,
    timeouts: 0,
    lookups: 0,
    lookupsActive: 0,
    infohashes: 0,
    rateLimited: 0,
    invalid: 0,
  };
  /** Our address as peers report it (BEP 42 `ip`), the latest one. */
  externalAddress: PeerInfo | undefined = undefined;

  constructor(components: DhtComponents, options: DhtOptions = {}) {
    this.#random = components.random;
    this.#ed25519 = components.ed25519;
    this.#now = options.now ?? 0;
    const id = options.id ?? this.#random(ID_LENGTH).slice(0, ID_LENGTH);
    if (!isId(id)) throw new InvalidOptionError('dht option id must be 20 bytes');
    this.id = id;
    this.#k = checkInt('k', options.k, 8, 1, 64);
    this.#alpha = checkInt('alpha', options.alpha, 3, 1, 32);
    this.#queryTimeoutMs = checkInt('queryTimeoutMs', options.queryTimeoutMs, 2000, 1, 600_000);
    this.#maxLookupQueries = checkInt(
      'maxLookupQueries',
      options.maxLookupQueries,
      200,
      1,
      100_000,
    );
    this.#maxLookups = checkInt(
      'maxConcurrentLookups',
      options.maxConcurrentLookups,
      64,
      1,
      100_000,
    );
    this.#maxPending = checkInt('maxPendingQueries', options.maxPendingQueries, 1024, 1, 1_000_000);
    this.#maxPeersPerResponse = checkInt(
      'maxPeersPerResponse',
      options.maxPeersPerResponse,
      50,
      1,
      200,
    );
    this.#ratePerIp = checkInt('rateLimitPerIp', options.rateLimitPerIp, 50, 1, 1_000_000);
    this.#maxRateIps = checkInt(
      'maxRateLimitedIps',
      options.maxRateLimitedIps,
      10_000,
      1,
      10_000_000,
    );
    this.#maintenanceMs = checkInt(
      'maintenanceIntervalMs',
      options.maintenanceIntervalMs,
      60_000,
      1000,
      3_600_000,
    );
    this.#maxItems = checkInt('maxItems', options.maxItems, 1000, 0, 10_000_000);
    this.#itemTtlMs = checkInt('itemTtlMs', options.itemTtlMs, 2 * 3_600_000, 1000, 2 ** 31 - 1);
    this.#readOnly = options.readOnly ?? false;
    this.#idPolicy = options.nodeIdPolicy ?? 'off';
    if (!['off', 'prefer', 'require'].includes(this.#idPolicy)) {
      throw new InvalidOptionError("dht option nodeIdPolicy must be 'off', 'prefer' or 'require'");
    }
    this.#version = options.version ?? DEFAULT_VERSION;
    this.table4 = new RoutingTable(this.id, { k: this.#k });
    this.table6 = new RoutingTable(this.id, { k: this.#k });
    this.#tokens = new TokenManager(this.#random, this.#now);
    this.#peers = new PeerStore({
      ...(options.peerTtlMs !== undefined ? { ttlMs: options.peerTtlMs } : {}),
      ...(options.maxInfohashes !== undefined ? { maxInfohashes: options.maxInfohashes } : {}),
      ...(options.maxPeersPerInfohash !== undefined
        ? { maxPeersPerInfohash: options.maxPeersPerInfohash }
        : {}),
    });
    const r = this.#random(2);
    this.#nextTx = (r[0]! << 8) | r[1]!;
    this.#nextMaintenance = this.#now + this.#maintenanceMs;
    this.#selfRefreshAt = this.#now + SELF_REFRESH_MS;
  }

  // ------------------------------------------------------------------ I/O surface

  stats(): DhtStats {
    this.#stats.nodes = this.table4.size;
    this.#stats.nodes6 = this.table6.size;
    this.#stats.lookupsActive = this.#lookupsActive;
    this.#stats.infohashes = this.#peers.infohashes;
    return { ...this.#stats };
  }

  takeOutput(): Datagram[] {
    const out = this.#out;
    this.#out = [];
    return out;
  }

  nextDeadline(): number | undefined {
    let d = this.#nextMaintenance;
    for (const p of this.#pending.values()) {
      // Pending entries are in send order, so the first has the earliest deadline.
      if (p.deadline < d) d = p.deadline;
      break;
    }
    return d;
  }

  handleTimeout(now: number): void {
    this.#now = now;
    for (const [key, p] of this.#pending) {
      if (p.deadline > now) break;
      this.#pending.delete(key);
      this.#stats.timeouts++;
      if (p.id !== undefined) this.#table(p.to.family).failed(p.id, now);
      p.onDone(undefined);
    }
    if (now >= this.#nextMaintenance) {
      this.#nextMaintenance = now + this.#maintenanceMs;
      this.#maintain(now);
    }
  }

  receive(data: Uint8Array, from: SocketAddress, now: number): void {
    this.#now = now;
    const msg = parseMessage(data);
    switch (msg.type) {
      case 'query':
        this.#onQuery(msg, from);
        return;
      case 'response': {
        const p = this.#takePending(msg.t, from);
        if (p === undefined) return;
        this.#stats.responsesIn++;
        if (msg.ip !== undefined) this.externalAddress = msg.ip;
        this.#heard(msg.id, from, 'response');
        p.onDone(msg);
        return;
      }
      case 'error': {
        const p = this.#takePending(msg.t, from);
        if (p === undefined) return;
        this.#stats.errorsIn++;
        p.onDone(undefined, new KrpcError(msg.code, msg.message));
        return;
      }
      case 'invalid':
        this.#stats.invalid++;
        // BEP 5: malformed queries get a protocol error (203) or method unknown (204).
        if (
          msg.isQuery &&
          msg.t !== undefined &&
          !this.#readOnly &&
          this.#allow(from.address, now)
        ) {
          this.#send(
            encodeError(msg.t, msg.error.wireCode, msg.error.message, { version: this.#version }),
            from,
          );
        }
        return;
    }
  }

  // ------------------------------------------------------------------ intents
  // Each intent takes the current time (DESIGN §2: time is an input): query deadlines are
  // counted from it, and the clock may have moved since the last receive or timeout.

  #advance(now: number): void {
    if (now > this.#now) this.#now = now;
  }

  /** Pings an address; the callback gets the node's id. */
  ping(to: PeerInfo, now: number, done: Done<NodeId>): void {
    this.#advance(now);
    this.#query(to, 'ping', {}, (res, err) => {
      if (res === undefined)
        done(err ?? new KrpcError(KrpcErrorCode.GENERIC, 'ping timed out', 'library'), undefined);
      else done(undefined, res.id);
    });
  }

  /**
   * Joins through `addresses` (with bootstrap disabled by default, callers choose them):
   * a lookup of our own id seeded with them, which fills the routing table.
   */
  bootstrap(addresses: readonly PeerInfo[], now: number, done: Done<LookupResult>): void {
    this.#advance(now);
    // Kept: a node whose table empties (all lost, all gone) joins through them again.
    if (addresses.length > 0) this.#seeds = addresses.slice(0, 64);
    this.#rejoinAt = undefined;
    const started = this.#now;
    this.#lookup(this.id, 'find_node', addresses, (err, result) => {
      // Kademlia §2.3: after the lookup of our own id, refresh every bucket farther than
      // our closest neighbour — a lookup of a random id in each — so the table holds
      // nodes at every distance, not just near us.
      if (err === undefined) {
        const depth = Math.max(this.table4.bucketCount, this.table6.bucketCount);
        for (let i = 0; i < depth; i++) this.findNode(this.randomIdAt(i), this.#now, () => {});
      }
      // Fewer than k answers: we only know what a thin neighbourhood knew. Left alone, such
      // a node hands out just those nodes, the next joiner through it learns just them, and
      // a group forms whose lookups never leave it. Join again later (see #maintain); by
      // then the bootstrap nodes have filled their own tables.
      if ((result?.closest.length ?? 0) < this.#k) {
        // Counted from the start, so a join begun by maintenance is due again on the tick
        // that many minutes later, not on the one after.
        this.#rejoinAt = started + this.#rejoinDelayMs;
        this.#rejoinDelayMs = Math.min(this.#rejoinDelayMs * 2, REJOIN_MAX_MS);
      } else {
        this.#rejoinDelayMs = REJOIN_MIN_MS;
      }
      done(err, result);
    });
  }

  findNode(target: NodeId, now: number, done: Done<LookupResult>): void {
    this.#advance(now);
    this.#lookup(target, 'find_node', [], done);
  }

  getPeers(infohash: NodeId, now: number, done: Done<LookupResult>): void {
    this.#advance(now);
    this.#lookup(infohash, 'get_peers', [], done);
  }

  /**
   * get_peers, then announce_peer to the k closest nodes that gave a token (BEP 5).
   * `port` 0 with `impliedPort` announces the UDP source port instead.
   */
  announce(
    infohash: NodeId,
    port: number,
    impliedPort: boolean,
    now: number,
    done: Done<LookupResult & { announced: number }>,
  ): void {
    this.#advance(now);
    this.#lookup(infohash, 'get_peers', [], (err, result, lookup) => {
      if (err !== undefined || result === undefined || lookup === undefined) {
        done(err ?? new KrpcError(KrpcErrorCode.GENERIC, 'lookup failed', 'library'), undefined);
        return;
      }
      const targets = lookup.closestResponded(this.#k).filter((c) => c.token !== undefined);
      if (targets.length === 0) {
        done(undefined, { ...result, announced: 0 });
        return;
      }
      let left = targets.length;
      let ok = 0;
      for (const c of targets) {
        const args: BDict = { info_hash: infohash, port, token: c.token! };
        if (impliedPort) args.implied_port = 1;
        this.#query(c, 'announce_peer', args, (res) => {
          if (res !== undefined) ok++;
          if (--left === 0) done(undefined, { ...result, announced: ok });
        });
      }
    });
  }

  /**
   * BEP 44 get: looks `target` up and returns the item — an immutable value whose SHA-1
   * matches, or the verified mutable item with the highest seq (undefined when none).
   */
  get(
    target: NodeId,
    now: number,
    done: Done<{ item: GotItem | undefined; result: LookupResult }>,
  ): void {
    this.#advance(now);
    let best: GotItem | undefined;
    this.#lookup(
      target,
      'get',
      [],
      (err, result) => {
        if (err !== undefined || result === undefined) done(err, undefined);
        else done(undefined, { item: best, result });
      },
      (res) => {
        const r = res.values;
        const v = r.v;
        if (v === undefined) return;
        const k = getBytes(r, 'k');
        if (k === undefined) {
          if (best === undefined && verifyImmutable(target, v)) best = { v };
          return;
        }
        const seq = getInt(r, 'seq');
        const sig = getBytes(r, 'sig');
        if (seq === undefined || sig === undefined || this.#ed25519 === undefined) return;
        if (best?.seq !== undefined && best.seq >= seq) return;
        // Responses carry no salt: an item stored with one is fetched with getMutable.
        if (verifyMutable(target, { k, seq, sig, v }, this.#ed25519.verify)) {
          best = { v, k, seq, sig };
        }
      },
    );
  }

  /**
   * BEP 44 get with a salt: mutable targets with a salt verify against it (the salt is not
   * in responses).
   */
  getMutable(
    publicKey: Uint8Array,
    salt: Uint8Array | undefined,
    now: number,
    done: Done<{ item: GotItem | undefined; result: LookupResult }>,
  ): void {
    this.#advance(now);
    const target = mutableTarget(publicKey, salt);
    let best: GotItem | undefined;
    const ed = this.#ed25519;
    if (ed === undefined) {
      done(new KrpcError(KrpcErrorCode.GENERIC, 'no ed25519 component', 'library'), undefined);
      return;
    }
    this.#lookup(
      target,
      'get',
      [],
      (err, result) => {
        if (err !== undefined || result === undefined) done(err, undefined);
        else done(undefined, { item: best, result });
      },
      (res) => {
        const r = res.values;
        const k = getBytes(r, 'k');
        const seq = getInt(r, 'seq');
        const sig = getBytes(r, 'sig');
        if (r.v === undefined || k === undefined || seq === undefined || sig === undefined) return;
        if (best?.seq !== undefined && best.seq >= seq) return;
        const item: MutableItem = {
          k,
          seq,
          sig,
          v: r.v,
          ...(salt !== undefined && salt.length > 0 ? { salt } : {}),
        };
        if (verifyMutable(target, item, ed.verify)) best = { v: r.v, k, seq, sig };
      },
    );
  }

  /** BEP 44 put of an immutable item: get (for tokens), then put to the k closest. */
  putImmutable(v: BValue, now: number, done: Done<PutResult>): void {
    this.#advance(now);
    const err = checkImmutablePut(v);
    if (err !== undefined) {
      done(err, undefined);
      return;
    }
    const target = immutableTarget(v);
    this.#putTo(target, { v }, done);
  }

  /** BEP 44 put of a mutable item signed with `secretKey` (the 32-byte ed25519 seed). */
  putMutable(
    secretKey: Uint8Array,
    item: { v: BValue; seq: number; salt?: Uint8Array; cas?: number },
    now: number,
    done: Done<PutResult>,
  ): void {
    this.#advance(now);
    const ed = this.#ed25519;
    if (ed === undefined) {
      done(new KrpcError(KrpcErrorCode.GENERIC, 'no ed25519 component', 'library'), undefined);
      return;
    }
    let signed: MutableItem;
    try {
      signed = signMutable(ed, secretKey, item);
    } catch (err) {
      done(err as Error, undefined);
      return;
    }
    const args: BDict = { v: signed.v, k: signed.k, seq: signed.seq, sig: signed.sig };
    if (signed.salt !== undefined) args.salt = signed.salt;
    if (item.cas !== undefined) args.cas = item.cas;
    this.#putTo(mutableTarget(signed.k, signed.salt), args, done);
  }

  #putTo(target: NodeId, args: BDict, done: Done<PutResult>): void {
    this.#lookup(target, 'get', [], (err, _result, lookup) => {
      if (err !== undefined || lookup === undefined) {
        done(err ?? new KrpcError(KrpcErrorCode.GENERIC, 'lookup failed', 'library'), undefined);
        return;
      }
      const targets = lookup.closestResponded(this.#k).filter((c) => c.token !== undefined);
      if (targets.length === 0) {
        done(undefined, { target, stored: 0, errors: [] });
        return;
      }
      let left = targets.length;
      let stored = 0;
      const errors: KrpcError[] = [];
      for (const c of targets) {
        this.#query(c, 'put', { ...args, token: c.token! }, (res, e) => {
          if (res !== undefined) stored++;
          else if (e !== undefined) errors.push(e);
          if (--left === 0) {
            // Refused everywhere: the first refusal is the error (e.g. 302, 301).
            if (stored === 0 && errors.length > 0) done(errors[0], undefined);
            else done(undefined, { target, stored, errors });
          }
        });
      }
    });
  }

  // ------------------------------------------------------------------ serving

  #onQuery(q: KrpcQuery, from: SocketAddress): void {
    this.#stats.queriesIn++;
    if (this.#readOnly) return; // BEP 43: read-only nodes do not answer
    if (!this.#allow(from.address, this.#now)) {
      this.#stats.rateLimited++;
      return;
    }
    let values: BDict | undefined;
    try {
      values = this.#answer(q, from);
    } catch (err) {
      const e =
        err instanceof KrpcError
          ? err
          : new KrpcError(KrpcErrorCode.SERVER, 'server error', 'library');
      this.#send(encodeError(q.t, e.wireCode, e.message, { version: this.#version }), from);
    }
    if (values !== undefined) {
      this.#send(
        encodeResponse(q.t, { id: this.id, ...values }, { version: this.#version, ip: from }),
        from,
      );
    }
    // BEP 43: read-only nodes are not added to the routing table. (After the answer, so a
    // verification ping to a new node goes out behind it.)
    if (!q.readOnly) this.#heard(q.id, from, 'query');
  }

  /** The `r` dictionary for a query (without `id`); throws KrpcError to answer an error. */
  #answer(q: KrpcQuery, from: SocketAddress): BDict {
    const a = q.args;
    switch (q.method) {
      case 'ping':
        return {};
      case 'find_node': {
        const target = getBytes(a, 'target');
        if (!isId(target))
          throw new KrpcError(KrpcErrorCode.PROTOCOL, 'find_node needs a 20-byte target');
        return this.#nodesFor(target, a, from);
      }
      case 'get_peers': {
        const infohash = getBytes(a, 'info_hash');
        if (!isId(infohash))
          throw new KrpcError(KrpcErrorCode.PROTOCOL, 'get_peers needs a 20-byte info_hash');
        const r: BDict = { token: this.#tokens.issue(from.address, this.#now) };
        const length = from.family === 'IPv6' ? 18 : 6;
        const peers = this.#peers.get(infohash, this.#now, this.#maxPeersPerResponse, length);
        if (peers.length > 0) r.values = peers;
        // Nodes too, so lookups converge even where peers are stored (as libtorrent does).
        return { ...r, ...this.#nodesFor(infohash, a, from) };
      }
      case 'announce_peer': {
        const infohash = getBytes(a, 'info_hash');
        const token = getBytes(a, 'token');
        const implied = getInt(a, 'implied_port') === 1;
        const port = implied ? from.port : getInt(a, 'port');
        if (
          !isId(infohash) ||
          token === undefined ||
          port === undefined ||
          port < 1 ||
          port > 65535
        ) {
          throw new KrpcError(
            KrpcErrorCode.PROTOCOL,
            'announce_peer needs info_hash, port and token',
          );
        }
        // BEP 5: the token must be one we gave this IP (recently).
        if (!this.#tokens.check(token, from.address, this.#now)) {
          throw new KrpcError(KrpcErrorCode.PROTOCOL, 'bad token');
        }
        this.#peers.add(infohash, from.address, port, this.#now);
        return {};
      }
      case 'get':
        return this.#answerGet(a, from);
      case 'put':
        return this.#answerPut(a, from);
      default:
        throw new KrpcError(KrpcErrorCode.METHOD_UNKNOWN, `method unknown: ${q.method}`);
    }
  }

  /** BEP 44 get: a write token, the closest nodes, and the item when we hold it. */
  #answerGet(a: BDict, from: SocketAddress): BDict {
    const target = getBytes(a, 'target');
    if (!isId(target)) throw new KrpcError(KrpcErrorCode.PROTOCOL, 'get needs a 20-byte target');
    const r: BDict = {
      token: this.#tokens.issue(from.address, this.#now),
      ...this.#nodesFor(target, a, from),
    };
    const stored = this.#items.get(idToHex(target));
    if (stored !== undefined && stored.expires > this.#now) {
      const item = stored.item;
      if (item.kind === 'immutable') {
        r.v = item.v;
      } else {
        // BEP 44: with `seq` in the request, the item is sent only when ours is newer.
        const seq = getInt(a, 'seq');
        if (seq === undefined || item.m.seq > seq) {
          r.v = item.m.v;
          r.k = item.m.k;
          r.sig = item.m.sig;
        }
        r.seq = item.m.seq;
      }
    }
    return r;
  }

  /** BEP 44 put: token, then the immutable or mutable checks (205-207, 301, 302). */
  #answerPut(a: BDict, from: SocketAddress): BDict {
    const token = getBytes(a, 'token');
    const v = a.v;
    if (token === undefined || v === undefined) {
      throw new KrpcError(KrpcErrorCode.PROTOCOL, 'put needs token and v');
    }
    if (!this.#tokens.check(token, from.address, this.#now)) {
      throw new KrpcError(KrpcErrorCode.PROTOCOL, 'bad token');
    }
    const k = getBytes(a, 'k');
    if (k === undefined) {
      const err = checkImmutablePut(v);
      if (err !== undefined) throw err;
      this.#store(immutableTarget(v), { kind: 'immutable', v });
      return {};
    }
    if (this.#ed25519 === undefined) {
      throw new KrpcError(KrpcErrorCode.SERVER, 'mutable items are not supported here', 'library');
    }
    const seq = getInt(a, 'seq');
    const sig = getBytes(a, 'sig');
    const salt = getBytes(a, 'salt');
    const cas = getInt(a, 'cas');
    if (seq === undefined || sig === undefined) {
      throw new KrpcError(KrpcErrorCode.PROTOCOL, 'a mutable put needs seq and sig');
    }
    const put: MutablePut = {
      k,
      seq,
      sig,
      v,
      ...(salt !== undefined && salt.length > 0 ? { salt } : {}),
      ...(cas !== undefined ? { cas } : {}),
    };
    if (put.salt !== undefined && put.salt.length > MAX_SALT_LENGTH) {
      throw new KrpcError(KrpcErrorCode.SALT_TOO_BIG, 'salt too big');
    }
    const target = mutableTarget(k, put.salt);
    const current = this.#items.get(idToHex(target));
    const live =
      current !== undefined && current.expires > this.#now && current.item.kind === 'mutable'
        ? current.item.m
        : undefined;
    const err = checkMutablePut(live, put, this.#ed25519.verify);
    if (err !== undefined) throw err;
    const { cas: _cas, ...item } = put;
    this.#store(target, { kind: 'mutable', m: item });
    return {};
  }

  #store(target: NodeId, item: StoredItem): void {
    const key = idToHex(target);
    this.#items.delete(key);
    if (this.#maxItems === 0) return;
    if (this.#items.size >= this.#maxItems)
      this.#items.delete(this.#items.keys().next().value as string);
    this.#items.set(key, { item, expires: this.#now + this.#itemTtlMs });
  }

  /** `nodes` (and `nodes6` when asked for with BEP 32 `want`, or for IPv6 queriers). */
  #nodesFor(target: NodeId, a: BDict, from: SocketAddress): BDict {
    const want = asList(a.want)?.map((w) =>
      w instanceof Uint8Array ? Buffer.from(w).toString('latin1') : '',
    );
    const n4 = want === undefined ? from.family === 'IPv4' : want.includes('n4');
    const n6 = want === undefined ? from.family === 'IPv6' : want.includes('n6');
    const r: BDict = {};
    // BEP 5: only nodes known to answer are handed out (those heard only through their
    // queries are pinged first: see #heard).
    const verifiedOnly = VERIFIED_ONLY;
    const pick = (table: RoutingTable): readonly NodeInfo[] => {
      // Contacts are frozen NodeInfo-shaped records: encoded as they are, not copied.
      if (this.#idPolicy !== 'prefer') return table.closest(target, this.#k, verifiedOnly);
      // BEP 42 'prefer': only compliant ids are passed on.
      return table
        .closest(target, this.#k * 4, verifiedOnly)
        .filter((c) => isCompliantId(c.id, c.address))
        .slice(0, this.#k)
        .map(toNodeInfo);
    };
    if (n4) r.nodes = encodeNodes(pick(this.table4), 'IPv4');
    if (n6) r.nodes6 = encodeNodes(pick(this.table6), 'IPv6');
    return r;
  }

  /** Per-IP token bucket: `rateLimitPerIp` per second, burst twice that. */
  #allow(ip: string, now: number): boolean {
    const burst = this.#ratePerIp * 2;
    let b = this.#rate.get(ip);
    if (b === undefined) {
      if (this.#rate.size >= this.#maxRateIps) {
        this.#rate.delete(this.#rate.keys().next().value as string);
      }
      b = { tokens: burst, at: now };
      this.#rate.set(ip, b);
    }
    b.tokens = Math.min(burst, b.tokens + ((now - b.at) * this.#ratePerIp) / 1000);
    b.at = now;
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  // ------------------------------------------------------------------ lookups

  #lookup(
    target: NodeId,
    method: 'find_node' | 'get_peers' | 'get',
    seeds: readonly PeerInfo[],
    done: (err: Error | undefined, result: LookupResult | undefined, lookup?: Lookup) => void,
    onResponse?: (res: KrpcResponse) => void,
  ): void {
    if (this.#lookupsActive >= this.#maxLookups) {
      done(new KrpcError(KrpcErrorCode.GENERIC, 'too many lookups running', 'library'), undefined);
      return;
    }
    this.#lookupsActive++;
    this.#stats.lookups++;
    const lookup = new Lookup(
      target,
      {
        k: this.#k,
        alpha: this.#alpha,
        maxQueries: this.#maxLookupQueries,
        maxCandidates: this.#k * 8,
        retries: LOOKUP_RETRIES,
      },
      this.id,
    );
    for (const s of seeds) lookup.addAddress(s.address, s.port, s.family);
    lookup.add(this.table4.closest(target, this.#k * 2).map(toNodeInfo));
    lookup.add(this.table6.closest(target, this.#k * 2).map(toNodeInfo));
    const peers = new Map<string, PeerInfo>();
    let finished = false;
    const arg = method === 'get_peers' ? 'info_hash' : 'target';
    const step = (): void => {
      if (finished) return;
      for (const c of lookup.next()) {
        // A retry follows a timeout: the node already had the full time once, so the
        // retry only has to outlast a round trip (half the timeout). A dead node then holds
        // the lookup for 2 timeouts in all, as with one full-length retry.
        const timeout =
          (c.retries ?? 0) > 0 ? Math.ceil(this.#queryTimeoutMs / 2) : this.#queryTimeoutMs;
        this.#query(
          c,
          method,
          { [arg]: target },
          (res) => {
            if (res === undefined) {
              lookup.failed(c);
            } else {
              lookup.responded(c, res.id, getBytes(res.values, 'token'));
              const nodes = getBytes(res.values, 'nodes');
              const nodes6 = getBytes(res.values, 'nodes6');
              if (nodes !== undefined) lookup.add(decodeNodes(nodes, 'IPv4') ?? [], c);
              if (nodes6 !== undefined) lookup.add(decodeNodes(nodes6, 'IPv6') ?? [], c);
              onResponse?.(res);
              if (method === 'get_peers') {
                for (const v of asList(res.values.values) ?? []) {
                  const p = v instanceof Uint8Array ? decodePeer(v) : undefined;
                  if (p !== undefined && p.port !== 0) peers.set(`${p.address}|${p.port}`, p);
                }
              }
            }
            step();
          },
          timeout,
        );
      }
      if (lookup.finished) {
        finished = true;
        this.#lookupsActive--;
        done(
          undefined,
          {
            target,
            closest: lookup.closestResponded(this.#k).map(candidateInfo),
            peers: [...peers.values()],
            queries: lookup.queries,
            rounds: lookup.rounds,
          },
          lookup,
        );
      }
    };
    step();
  }

  // ------------------------------------------------------------------ plumbing

  #query(
    to: { address: string; port: number; family?: Family; id?: NodeId | undefined },
    method: string,
    args: BDict,
    onDone: Pending['onDone'],
    timeoutMs: number = this.#queryTimeoutMs,
  ): void {
    if (this.#pending.size >= this.#maxPending) {
      onDone(
        undefined,
        new KrpcError(KrpcErrorCode.GENERIC, 'too many queries in flight', 'library'),
      );
      return;
    }
    const key = this.#nextTx;
    this.#nextTx = (this.#nextTx + 1) & 0xffff;
    // Skip ids still in use (after 65536 queries in flight would be impossible: capped).
    if (this.#pending.has(key)) {
      onDone(
        undefined,
        new KrpcError(KrpcErrorCode.GENERIC, 'transaction ids exhausted', 'library'),
      );
      return;
    }
    const t = Uint8Array.from([key >>> 8, key & 0xff]);
    const peer: PeerInfo = {
      address: to.address,
      port: to.port,
      family: to.family ?? (to.address.includes(':') ? 'IPv6' : 'IPv4'),
    };
    this.#pending.set(key, {
      key,
      t,
      to: peer,
      id: to.id,
      method,
      deadline: this.#now + timeoutMs,
      onDone,
    });
    this.#stats.queriesOut++;
    this.#send(
      encodeQuery(
        t,
        method,
        { id: this.id, ...args },
        { version: this.#version, readOnly: this.#readOnly },
      ),
      peer,
    );
  }

  /** The pending query a response answers: same transaction id and same address. */
  #takePending(t: Uint8Array, from: SocketAddress): Pending | undefined {
    if (t.length !== 2) return undefined;
    const key = (t[0]! << 8) | t[1]!;
    const p = this.#pending.get(key);
    if (p === undefined || p.to.address !== from.address || p.to.port !== from.port)
      return undefined;
    this.#pending.delete(key);
    return p;
  }

  #send(data: Uint8Array, to: { address: string; port: number }): void {
    this.#out.push({ data, to: { address: to.address, port: to.port } });
  }

  #table(family: Family): RoutingTable {
    return family === 'IPv6' ? this.table6 : this.table4;
  }

  #heard(id: NodeId, from: SocketAddress, kind: 'query' | 'response'): void {
    if (idEquals(id, this.id)) return;
    if (this.#idPolicy === 'require' && !isCompliantId(id, from.address)) return;
    const contact: Contact = { id, address: from.address, port: from.port, family: from.family };
    const result = this.#table(from.family).heard(contact, this.#now, kind);
    if (result.added) {
      // A node new to us that only queried: ping it once, so it becomes verified (good)
      // before we hand it to others.
      if (kind === 'query' && result.reason === 'inserted')
        this.#query(contact, 'ping', {}, () => {});
    } else if (result.reason === 'ping') {
      // BEP 5: a full bucket's questionable nodes are pinged before anyone is replaced.
      for (const c of result.ping) this.#query(c, 'ping', {}, () => {});
    }
  }

  /** Periodic: refresh idle buckets (BEP 5, 15 minutes), ping questionable nodes, sweep. */
  #maintain(now: number): void {
    this.#peers.sweep(now);
    // A lookup of our own id every 10 minutes (as libtorrent does): neighbours that joined
    // after us learn of us, and we of them, even while every bucket is fresh by BEP 5's
    // rule (answers to pings count as changes, so idle-bucket refresh alone is rare).
    const known = this.table4.size + this.table6.size;
    const rejoin = this.#rejoinAt !== undefined && now >= this.#rejoinAt;
    if (this.#seeds.length > 0 && ((known < this.#k && this.#lookupsActive === 0) || rejoin)) {
      // Too few nodes to look anything up (the bootstrap was lost, or the network churned
      // away), or the join was thin: join again through the bootstrap nodes.
      this.bootstrap(this.#seeds, now, () => {});
    } else if (now >= this.#selfRefreshAt && known > 0) {
      // Seeded with the bootstrap nodes too: a group of nodes that only know each other
      // (their first answers were lost) reconnects to the rest of the network this way.
      this.#selfRefreshAt = now + SELF_REFRESH_MS;
      this.#lookup(this.id, 'find_node', this.#seeds, () => {});
    }
    for (const [key, stored] of this.#items) if (stored.expires <= now) this.#items.delete(key);
    for (const table of [this.table4, this.table6]) {
      if (table.size === 0) continue;
      for (const target of table.takeRefreshTargets(now, this.#random)) {
        this.findNode(target, now, () => {});
      }
      for (const c of table.takeQuestionable(now, this.#k)) this.#query(c, 'ping', {}, () => {});
    }
  }

  /** A random id in the range of bucket `depth` (for tests and refresh). */
  randomIdAt(depth: number): NodeId {
    return randomIdWithPrefix(this.id, depth, this.#random);
  }
}

function toNodeInfo(c: Contact): NodeInfo {
  return { id: c.id, address: c.address, port: c.port, family: c.family };
}

function candidateInfo(c: Candidate): NodeInfo {
  return { id: c.id!, address: c.address, port: c.port, family: c.family };
}

export type { BValue };
