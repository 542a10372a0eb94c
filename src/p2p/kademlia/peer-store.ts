/**
 * Peers announced to us (BEP 5 announce_peer), per infohash, with a TTL and caps on
 * infohashes and on peers per infohash (oldest evicted first), so a flood of announces
 * cannot grow memory without bound.
 */
import { encodePeer } from './compact.js';
import type { NodeId } from './id.js';
import { idToHex } from './id.js';

export interface PeerStoreOptions {
  /** How long an announce is kept. @default 1800000 (30 min, as libtorrent) */
  ttlMs?: number;
  /** Infohashes tracked. @default 10000 */
  maxInfohashes?: number;
  /** Peers per infohash. @default 100 */
  maxPeersPerInfohash?: number;
}

export class PeerStore {
  readonly #ttlMs: number;
  readonly #maxInfohashes: number;
  readonly #maxPeers: number;
  /** infohash hex → (compact peer as latin1 key → expiry). Maps keep insertion order. */
  readonly #byHash = new Map<string, Map<string, { peer: Uint8Array; expires: number }>>();

  constructor(options: PeerStoreOptions = {}) {
    this.#ttlMs = options.ttlMs ?? 30 * 60_000;
    this.#maxInfohashes = options.maxInfohashes ?? 10_000;
    this.#maxPeers = options.maxPeersPerInfohash ?? 100;
  }

  get infohashes(): number {
    return this.#byHash.size;
  }

  add(infohash: NodeId, address: string, port: number, now: number): boolean {
    const peer = encodePeer(address, port);
    if (peer === undefined || port === 0) return false;
    const key = idToHex(infohash);
    let peers = this.#byHash.get(key);
    if (peers === undefined) {
      if (this.#byHash.size >= this.#maxInfohashes) {
        const oldest = this.#byHash.keys().next().value as string;
        this.#byHash.delete(oldest);
      }
      peers = new Map();
      this.#byHash.set(key, peers);
    }
    const pk = Buffer.from(peer).toString('latin1');
    peers.delete(pk); // re-announce moves it to the end (newest)
    peers.set(pk, { peer, expires: now + this.#ttlMs });
    if (peers.size > this.#maxPeers) peers.delete(peers.keys().next().value as string);
    return true;
  }

  /** Up to `max` live peers (compact, of the given byte length: 6 IPv4, 18 IPv6), newest first. */
  get(infohash: NodeId, now: number, max: number, length = 6): Uint8Array[] {
    const peers = this.#byHash.get(idToHex(infohash));
    if (peers === undefined) return [];
    const out: Uint8Array[] = [];
    for (const [k, v] of [...peers].reverse()) {
      if (v.expires <= now) {
        peers.delete(k);
        continue;
      }
      if (v.peer.length === length && out.length < max) out.push(v.peer);
    }
    if (peers.size === 0) this.#byHash.delete(idToHex(infohash));
    return out;
  }

  /** Drops expired entries (called from the core's periodic timer). */
  sweep(now: number): void {
    for (const [key, peers] of this.#byHash) {
      for (const [k, v] of peers) if (v.expires <= now) peers.delete(k);
      if (peers.size === 0) this.#byHash.delete(key);
    }
  }
}
