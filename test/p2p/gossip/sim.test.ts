/**
 * SWIM on the simulated network (GossipSimCluster): clusters forming by joins, dissemination
 * of membership news in about log N gossip rounds, failure detection within the Lifeguard
 * suspicion bounds, no false positives under 5% loss, a slow member (Lifeguard's case), and
 * a partition that heals, and one that outlasts failure detection and reaping, which only
 * Serf's reconnect (serf.go handleReconnect) merges again. memberlist's LAN timings
 * throughout; deterministic seeds.
 */
import { describe, expect, it } from 'vitest';
import { suspicionTimeout } from '../../../src/p2p/gossip/core.js';
import { SERF_RECONNECT_INTERVAL_MS } from '../../../src/p2p/gossip/serf.js';
import { GossipSimCluster } from '../../../src/p2p/gossip/sim.js';
import type { GossipSimClusterOptions, SimGossipMember } from '../../../src/p2p/gossip/sim.js';
import { constantLatency } from '../../../src/p2p/sim/latency.js';
import { SimNetwork } from '../../../src/p2p/sim/network.js';

function formCluster(
  n: number,
  seed: number,
  loss = 0,
  options: GossipSimClusterOptions = {},
): GossipSimCluster {
  const net = new SimNetwork({ seed, latency: constantLatency(10), loss });
  const c = new GossipSimCluster(net, options);
  for (let i = 0; i < n; i++) {
    const m = c.add(`n${i}`);
    if (i > 0) c.join(m, c.members[Math.floor(net.rng.next() * i)]!);
    net.runFor(20);
  }
  const t = c.runUntil(() => c.converged(), 120_000, 500);
  expect(t, `${n} members converge`).toBeDefined();
  return c;
}

function seenBy(c: GossipSimCluster, from: number, type: string, name: string): Set<string> {
  return new Set(
    c.events
      .slice(from)
      .filter(
        (e) =>
          e.event.type === type &&
          'member' in e.event &&
          e.event.member.name === name &&
          e.node !== name, // what the others saw, not the member about itself
      )
      .map((e) => e.node),
  );
}

describe('SWIM on the simulated network', () => {
  it('100 members joining one by one converge: everyone sees everyone alive', () => {
    const c = formCluster(100, 1);
    expect(c.members.every((m) => c.aliveSeenBy(m) === 100)).toBe(true);
  });

  it('membership news reaches all 100 members within 2·log2(N) gossip rounds', () => {
    const c = formCluster(100, 2);
    c.runUntil(() => c.members.every((m) => m.core.stats().queued === 0), 60_000, 500);
    const origin = c.members[0]!;
    const from = c.events.length;
    origin.core.setMeta(new TextEncoder().encode('v2'), c.now);
    origin.node!.poke();
    const t = c.runUntil(
      () => seenBy(c, from, 'member-update', origin.name).size === 99,
      30_000,
      50,
    );
    expect(t).toBeDefined();
    const rounds = t! / 200; // gossipInterval
    expect(rounds).toBeLessThanOrEqual(2 * Math.log2(100));
  });

  it('a killed member is declared failed by every other member within the suspicion bounds', () => {
    const c = formCluster(100, 3);
    const victim = c.members[42]!;
    const from = c.events.length;
    c.kill(victim);
    // Lifeguard: the timeout starts at max = 6 × min and shrinks with confirmations; plus
    // at most a probe round to notice and a few seconds to spread.
    const min = suspicionTimeout(4, 100, 1000);
    const t = c.runUntil(
      () => seenBy(c, from, 'member-failed', victim.name).size === 99,
      6 * min + 20_000,
      100,
    );
    expect(t).toBeDefined();
    expect(t!).toBeGreaterThanOrEqual(min);
    const wrong = c.events
      .slice(from)
      .filter(
        (e) =>
          e.event.type === 'member-failed' &&
          'member' in e.event &&
          e.event.member.name !== victim.name,
      );
    expect(wrong).toEqual([]);
  });

  it('no false positives at 5% packet loss over two virtual minutes (defaults)', () => {
    const c = formCluster(50, 4, 0.05);
    const from = c.events.length;
    c.net.runFor(120_000);
    const failed = c.events.slice(from).filter((e) => e.event.type === 'member-failed');
    expect(failed).toEqual([]);
    expect(c.converged()).toBe(true);
  });

  it("Lifeguard's slow member: its health score rises and no healthy member is declared failed", () => {
    const c = formCluster(30, 5);
    const slow: SimGossipMember = c.members[7]!;
    // It handles everything 1.5 s late: its own probes time out (500 ms direct, 1 s in all),
    // so it suspects healthy members, who refute; Lifeguard stretches its timeouts.
    slow.slowMs = 1500;
    const from = c.events.length;
    let maxHealth = 0;
    for (let i = 0; i < 120; i++) {
      c.net.runFor(1000);
      maxHealth = Math.max(maxHealth, slow.core.health);
    }
    const failed = c.events
      .slice(from)
      .filter(
        (e) =>
          e.event.type === 'member-failed' &&
          'member' in e.event &&
          e.event.member.name !== slow.name,
      );
    expect(failed).toEqual([]);
    expect(slow.core.stats().probeFailures).toBeGreaterThan(0);
    expect(maxHealth).toBeGreaterThan(0);
  });

  it('a partition is detected on both sides and heals back into one cluster', () => {
    const c = formCluster(40, 6);
    const a = c.members.slice(0, 20);
    const from = c.events.length;
    c.partition(a);
    const sides = c.runUntil(
      () =>
        seenBy(c, from, 'member-failed', 'n30').has('n0') &&
        seenBy(c, from, 'member-failed', 'n0').has('n30'),
      120_000,
      500,
    );
    expect(sides).toBeDefined();
    c.heal();
    const healed = c.runUntil(() => c.converged(), 120_000, 500);
    expect(healed).toBeDefined();
    expect(seenBy(c, from, 'member-join', 'n30').has('n0')).toBe(true);
  });

  describe('a partition that outlasts failure detection (serf.go handleReconnect)', () => {
    // Both sides declare the other failed, and memberlist reaps dead members after
    // gossipToTheDeadTime (30 s): nobody gossips or push-pulls across any more. Serf
    // remembers failed members for ReconnectTimeout (24 h) and every ReconnectInterval
    // (30 s) joins a random one with probability failed/alive, which merges the halves.
    const partitionAndHeal = (serf: boolean): GossipSimCluster => {
      const c = formCluster(20, 7, 0, { serf });
      const a = c.members.slice(0, 10);
      const b = c.members.slice(10);
      c.partition(a);
      const reaped = (): boolean =>
        a.every((x) => b.every((y) => x.core.member(y.name) === undefined)) &&
        b.every((y) => a.every((x) => y.core.member(x.name) === undefined));
      // Failure detection (Lifeguard: at most 6 × 4 × log10(20) s) plus reaping (30 s and
      // the probe round that reaps): well within three virtual minutes.
      expect(c.runUntil(reaped, 180_000, 1000), 'both sides reap the other').toBeDefined();
      c.net.runFor(30_000); // and the partition lasts on
      c.heal();
      return c;
    };

    it('with Serf reconnect the cluster merges again within two reconnect intervals', () => {
      const c = partitionAndHeal(true);
      const t = c.runUntil(() => c.converged(), 2 * SERF_RECONNECT_INTERVAL_MS, 500);
      expect(t, 'converged after the heal').toBeDefined();
      // The halves met through reconnect joins, and saw each other join again.
      expect(c.members.reduce((n, m) => n + m.serf!.reconnects, 0)).toBeGreaterThan(0);
      expect(
        c.serfEvents.some(
          (e) => e.node === 'n0' && e.event.event === 'member-join' && e.event.name === 'n15',
        ),
      ).toBe(true);
      // Once merged, nothing is failed any more: the reconnect timer stops.
      expect(c.members.every((m) => m.serf!.nextDeadline() === undefined)).toBe(true);
    });

    it('without it (memberlist alone) the halves never meet again', () => {
      const c = partitionAndHeal(false);
      expect(c.runUntil(() => c.converged(), 4 * SERF_RECONNECT_INTERVAL_MS, 1000)).toBeUndefined();
      expect(c.aliveSeenBy(c.members[0]!)).toBe(10);
    });
  });
});
