/**
 * STUN client transactions (RFC 8489 §6.2), sans-I/O: which request to (re)send when, and
 * when a transaction has failed. The caller encodes requests, sends the bytes, and feeds
 * back responses by transaction id.
 *
 * - Over UDP (§6.2.1) a request is sent Rc = 7 times, at 0, RTO, 3·RTO, 7·RTO, … (the
 *   interval doubles), and the transaction fails Rm = 16 RTOs after the last send: with an
 *   RTO of 500 ms, sends at 0, 500, 1500, 3500, 7500, 15500, 31500 ms and failure at
 *   39500 ms.
 * - The RTO starts at 500 ms (§6.2.1: configurable, at least 500 ms recommended) and is then
 *   estimated per destination as RFC 6298 does for TCP, from transactions answered without
 *   a retransmission (Karn's rule), and remembered for 10 minutes.
 * - Over a reliable transport (§6.2.2) there is one send and a 39.5 s timeout (Ti).
 * - At most 10 transactions are outstanding to one server (§6.2); more wait their turn.
 */
import { InvalidOptionError, TimeoutError } from '../../../errors.js';

/** RFC 8489 §6.2.1 defaults. */
export const DEFAULT_RTO_MS = 500;
export const DEFAULT_RC = 7;
export const DEFAULT_RM = 16;
/** §6.2.2: the reliable-transport transaction timeout. */
export const RELIABLE_TIMEOUT_MS = 39_500;
/** §6.2: outstanding transactions per server. */
export const MAX_OUTSTANDING_PER_SERVER = 10;
/** How long a measured RTO is remembered (§6.2.1: "10 minutes"). */
export const RTO_CACHE_MS = 10 * 60_000;

/**
 * RFC 6298 RTO estimation for one destination: SRTT and RTTVAR from samples, RTO =
 * SRTT + 4·RTTVAR, bounded below by `minRto` and above by `maxRto`.
 */
export class RtoEstimator {
  #srtt: number | undefined;
  #rttvar = 0;
  #rto: number;
  readonly #min: number;
  readonly #max: number;

  constructor(initialRto = DEFAULT_RTO_MS, minRto = DEFAULT_RTO_MS, maxRto = 3000) {
    this.#rto = initialRto;
    this.#min = minRto;
    this.#max = maxRto;
  }

  get rto(): number {
    return this.#rto;
  }

  /** An RTT sample from a transaction answered without any retransmission. */
  sample(rttMs: number): void {
    if (!(rttMs >= 0)) return;
    if (this.#srtt === undefined) {
      this.#srtt = rttMs;
      this.#rttvar = rttMs / 2;
    } else {
      this.#rttvar = 0.75 * this.#rttvar + 0.25 * Math.abs(this.#srtt - rttMs);
      this.#srtt = 0.875 * this.#srtt + 0.125 * rttMs;
    }
    this.#rto = Math.min(this.#max, Math.max(this.#min, this.#srtt + 4 * this.#rttvar));
  }
}

export interface TransactionOptions {
  /** Initial RTO in ms. Default 500. */
  readonly rto?: number;
  /** Lower bound for measured RTOs. Default 500 (the RFC's recommendation). */
  readonly minRto?: number;
  /** Sends per request over UDP. Default 7. */
  readonly rc?: number;
  /** Final wait, in RTOs, after the last send. Default 16. */
  readonly rm?: number;
  /** Outstanding transactions per server. Default 10. */
  readonly maxOutstanding?: number;
  /** Most transactions waiting for their turn, over all servers. Default 1000. */
  readonly maxQueued?: number;
}

/** Something to send now. */
export interface TransactionSend {
  readonly id: string;
  readonly to: string;
  readonly data: Uint8Array;
  /** 0 for the first send, then 1, 2, … for retransmissions. */
  readonly attempt: number;
}

type Done = (err: Error | undefined, rttMs?: number) => void;

interface Tx {
  id: string;
  to: string;
  data: Uint8Array;
  reliable: boolean;
  attempt: number;
  interval: number;
  rto: number;
  startedAt: number;
  nextAt: number;
  done: Done;
  started: boolean;
}

/** Outstanding STUN client transactions for one client. */
export class StunTransactions {
  readonly #rc: number;
  readonly #rm: number;
  readonly #initialRto: number;
  readonly #minRto: number;
  readonly #maxOutstanding: number;
  readonly #maxQueued: number;
  readonly #active = new Map<string, Tx>();
  readonly #queued: Tx[] = [];
  readonly #perServer = new Map<string, number>();
  readonly #rtos = new Map<string, { est: RtoEstimator; at: number }>();
  #out: TransactionSend[] = [];

  constructor(options: TransactionOptions = {}) {
    this.#initialRto = options.rto ?? DEFAULT_RTO_MS;
    this.#minRto = options.minRto ?? DEFAULT_RTO_MS;
    this.#rc = options.rc ?? DEFAULT_RC;
    this.#rm = options.rm ?? DEFAULT_RM;
    this.#maxOutstanding = options.maxOutstanding ?? MAX_OUTSTANDING_PER_SERVER;
    this.#maxQueued = options.maxQueued ?? 1000;
    for (const [k, v] of Object.entries({
      rto: this.#initialRto,
      rc: this.#rc,
      rm: this.#rm,
      maxOutstanding: this.#maxOutstanding,
    })) {
      if (!Number.isInteger(v) || v < 1) {
        throw new InvalidOptionError(`${k} must be a positive integer, got ${v}`);
      }
    }
  }

  /** Transactions started and not finished (queued ones included). */
  get size(): number {
    return this.#active.size + this.#queued.length;
  }

  /** The RTO we would use towards `to` now. */
  rto(to: string, now: number): number {
    const cached = this.#rtos.get(to);
    if (cached === undefined || now - cached.at > RTO_CACHE_MS) return this.#initialRto;
    return cached.est.rto;
  }

  /**
   * Starts a transaction: `data` is the encoded request, `id` its transaction id (any
   * unique string, e.g. hex), `to` the server's key (e.g. "host:port"). `done` gets the RTT
   * of the answered send, or a TimeoutError.
   */
  start(id: string, to: string, data: Uint8Array, now: number, done: Done, reliable = false): void {
    if (this.#active.has(id) || this.#queued.some((t) => t.id === id)) {
      throw new InvalidOptionError(`transaction ${id} already exists`);
    }
    const tx: Tx = {
      id,
      to,
      data,
      reliable,
      attempt: 0,
      interval: 0,
      rto: 0,
      startedAt: now,
      nextAt: now,
      done,
      started: false,
    };
    if ((this.#perServer.get(to) ?? 0) >= this.#maxOutstanding) {
      if (this.#queued.length >= this.#maxQueued) {
        done(new InvalidOptionError('too many STUN transactions queued'));
        return;
      }
      this.#queued.push(tx);
      return;
    }
    this.#launch(tx, now);
  }

  #launch(tx: Tx, now: number): void {
    tx.started = true;
    tx.startedAt = now;
    tx.rto = this.rto(tx.to, now);
    tx.interval = tx.rto;
    this.#active.set(tx.id, tx);
    this.#perServer.set(tx.to, (this.#perServer.get(tx.to) ?? 0) + 1);
    this.#send(tx, now);
  }

  #send(tx: Tx, now: number): void {
    this.#out.push({ id: tx.id, to: tx.to, data: tx.data, attempt: tx.attempt });
    tx.attempt++;
    if (tx.reliable) {
      tx.nextAt = now + RELIABLE_TIMEOUT_MS;
    } else if (tx.attempt >= this.#rc) {
      tx.nextAt = now + this.#rm * tx.rto;
    } else {
      tx.nextAt = now + tx.interval;
      tx.interval *= 2;
    }
  }

  /** Sends due now (first sends and retransmissions). */
  takeSends(): TransactionSend[] {
    const out = this.#out;
    this.#out = [];
    return out;
  }

  /**
   * A response (success or error) for transaction `id` arrived: the transaction is over.
   * Returns false when no such transaction is outstanding (a late or stray response).
   */
  complete(id: string, now: number): boolean {
    const tx = this.#active.get(id);
    if (tx === undefined) return false;
    this.#finish(tx, now);
    const rtt = now - tx.startedAt;
    if (tx.attempt === 1 && !tx.reliable) {
      let entry = this.#rtos.get(tx.to);
      if (entry === undefined || now - entry.at > RTO_CACHE_MS) {
        entry = { est: new RtoEstimator(this.#initialRto, this.#minRto), at: now };
        this.#rtos.set(tx.to, entry);
        if (this.#rtos.size > 1024) this.#rtos.delete(this.#rtos.keys().next().value!);
      }
      entry.est.sample(rtt);
      entry.at = now;
    }
    tx.done(undefined, rtt);
    return true;
  }

  /** Abandons transaction `id` without calling its callback. */
  cancel(id: string, now: number): void {
    const tx = this.#active.get(id);
    if (tx !== undefined) this.#finish(tx, now);
    const q = this.#queued.findIndex((t) => t.id === id);
    if (q >= 0) this.#queued.splice(q, 1);
  }

  #finish(tx: Tx, now: number): void {
    this.#active.delete(tx.id);
    const n = (this.#perServer.get(tx.to) ?? 1) - 1;
    if (n <= 0) this.#perServer.delete(tx.to);
    else this.#perServer.set(tx.to, n);
    const next = this.#queued.findIndex((t) => t.to === tx.to);
    if (next >= 0) this.#launch(this.#queued.splice(next, 1)[0]!, now);
  }

  nextDeadline(): number | undefined {
    let t = Infinity;
    for (const tx of this.#active.values()) t = Math.min(t, tx.nextAt);
    return Number.isFinite(t) ? t : undefined;
  }

  handleTimeout(now: number): void {
    for (const tx of [...this.#active.values()]) {
      if (now < tx.nextAt) continue;
      const exhausted = tx.reliable || tx.attempt >= this.#rc;
      if (!exhausted) {
        this.#send(tx, now);
        continue;
      }
      this.#finish(tx, now);
      tx.done(
        new TimeoutError(
          `STUN transaction to ${tx.to} timed out after ${tx.attempt} send${tx.attempt === 1 ? '' : 's'} (${now - tx.startedAt} ms)`,
        ),
      );
    }
  }
}
