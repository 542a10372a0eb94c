/**
 * SWIM on the simulated network (GossipSimCluster): clusters forming by joins, dissemination
 * of membership news in about log N gossip rounds, failure detection within the Lifeguard
 * suspicion bounds, no false positives under 5% loss, a slow member (Lifeguard's case), and
 * a partition that heals. memberlist's LAN timings throughout; deterministic seeds.
 */
import { describe, expect, it } from 'vitest';
import { suspicionTimeout } from '../../../src/p2p/gossip/core.js';
import { GossipSimCluster } from '../../../src/p2p/gossip/sim.js';
import type { SimGossipMember } from '../../../src/p2p/gossip/sim.js';
import { constantLatency } from '../../../src/p2p/sim/latency.js';
import { SimNetwork } from '../../../src/p2p/sim/network.js';

function formCluster(n: number, seed: number, loss = 0): GossipSimCluster {
  const net = new SimNetwork({ seed, latency: constantLatency(10), loss });
  const c = new GossipSimCluster(net);
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
});
