/**
 * RFC 8489 §6.2 client transactions on a fake clock: the retransmission schedule, the
 * final Rm wait, the reliable-transport timeout, Karn's rule with RFC 6298 RTO estimation,
 * and the ten-outstanding-transactions limit.
 */
import { describe, expect, it } from 'vitest';
import { TimeoutError } from '../../../../src/errors.js';
import {
  RELIABLE_TIMEOUT_MS,
  RtoEstimator,
  StunTransactions,
} from '../../../../src/p2p/nat/stun/transaction.js';

/** Runs the manager until `until`, recording send times and the outcome. */
function drive(tx: StunTransactions, until: number, respondAt?: number) {
  const sends: number[] = [];
  let outcome: { err?: Error; rtt?: number; at: number } | undefined;
  let now = 0;
  tx.start('t1', 'server', Uint8Array.of(1), now, (err, rtt) => {
    outcome = { ...(err && { err }), ...(rtt !== undefined && { rtt }), at: now };
  });
  for (;;) {
    sends.push(...tx.takeSends().map(() => now));
    const next = Math.min(tx.nextDeadline() ?? Infinity, respondAt ?? Infinity);
    if (!Number.isFinite(next) || next > until) break;
    now = next;
    if (respondAt !== undefined && now === respondAt) {
      tx.complete('t1', now);
      respondAt = undefined;
    } else {
      tx.handleTimeout(now);
    }
  }
  return { sends, outcome };
}

describe('STUN transactions (RFC 8489 §6.2)', () => {
  it('§6.2.1: sends at 0, 500, 1500, 3500, 7500, 15500, 31500 ms and fails at 39500 ms', () => {
    const { sends, outcome } = drive(new StunTransactions(), 100_000);
    expect(sends).toEqual([0, 500, 1500, 3500, 7500, 15500, 31500]);
    expect(outcome?.err).toBeInstanceOf(TimeoutError);
    expect(outcome?.at).toBe(39_500);
  });

  it('§6.2.1: Rc, Rm and the RTO are configurable', () => {
    const { sends, outcome } = drive(new StunTransactions({ rto: 100, rc: 3, rm: 4 }), 10_000);
    expect(sends).toEqual([0, 100, 300]);
    expect(outcome?.at).toBe(700);
  });

  it('§6.2.1: a response ends the transaction and stops retransmissions', () => {
    const { sends, outcome } = drive(new StunTransactions(), 100_000, 1600);
    expect(sends).toEqual([0, 500, 1500]);
    expect(outcome).toEqual({ rtt: 1600, at: 1600 });
  });

  it('§6.2.2: over a reliable transport, one send and a 39.5 s timeout', () => {
    const tx = new StunTransactions();
    let err: Error | undefined;
    tx.start('r', 'tcp-server', Uint8Array.of(1), 0, (e) => (err = e), true);
    expect(tx.takeSends()).toHaveLength(1);
    expect(tx.nextDeadline()).toBe(RELIABLE_TIMEOUT_MS);
    tx.handleTimeout(RELIABLE_TIMEOUT_MS - 1);
    expect(err).toBeUndefined();
    tx.handleTimeout(RELIABLE_TIMEOUT_MS);
    expect(tx.takeSends()).toHaveLength(0);
    expect(err).toBeInstanceOf(TimeoutError);
  });

  it('§6.2.1 and RFC 6298: RTO from unretransmitted transactions (Karn), floored at 500 ms', () => {
    const tx = new StunTransactions({ rto: 1000 });
    tx.start('a', 's', Uint8Array.of(1), 0, () => {});
    tx.complete('a', 40); // a fast sample: SRTT 40, RTTVAR 20 → 120, floored to 500
    expect(tx.rto('s', 100)).toBe(500);
    tx.start('b', 's', Uint8Array.of(1), 100, () => {});
    tx.handleTimeout(600); // retransmitted: its RTT must not be sampled
    tx.complete('b', 5000);
    expect(tx.rto('s', 5000)).toBe(500);
    expect(tx.rto('other', 5000)).toBe(1000); // per destination
    expect(tx.rto('s', 100 + 10 * 60_000 + 1)).toBe(1000); // forgotten after 10 minutes

    const est = new RtoEstimator(1000, 100, 3000);
    est.sample(200);
    expect(est.rto).toBe(600); // 200 + 4 × 100
    est.sample(200);
    expect(est.rto).toBe(200 + 4 * 75);
  });

  it('§6.2: at most 10 outstanding transactions per server; the 11th waits its turn', () => {
    const tx = new StunTransactions();
    const done: string[] = [];
    for (let i = 0; i < 11; i++)
      tx.start(`t${i}`, 's', Uint8Array.of(i), 0, () => done.push(`t${i}`));
    tx.start('other', 's2', Uint8Array.of(99), 0, () => {});
    const first = tx.takeSends().map((s) => s.id);
    expect(first).toHaveLength(11);
    expect(first).not.toContain('t10');
    expect(first).toContain('other');
    tx.complete('t3', 10);
    expect(tx.takeSends().map((s) => s.id)).toEqual(['t10']);
    expect(tx.complete('t3', 11)).toBe(false); // a duplicate response is ignored
    expect(tx.size).toBe(11);
  });

  it('rejects bad options and duplicate ids', () => {
    expect(() => new StunTransactions({ rc: 0 })).toThrow(/rc/);
    const tx = new StunTransactions();
    tx.start('x', 's', Uint8Array.of(1), 0, () => {});
    expect(() => tx.start('x', 's', Uint8Array.of(1), 0, () => {})).toThrow(/exists/);
    tx.cancel('x', 0);
    expect(tx.size).toBe(0);
  });
});
