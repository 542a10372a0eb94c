/**
 * ICE candidate arithmetic (RFC 8445) and the candidate attribute (RFC 8839): priorities,
 * foundations, pair priorities, checklist forming, pruning and initial states, and
 * role-conflict resolution.
 */
import { describe, expect, it } from 'vitest';
import {
  candidateFoundation,
  candidatePriority,
  formatCandidate,
  formChecklist,
  MAX_CHECKLIST_SIZE,
  pairPriority,
  parseCandidate,
  resolveRoleConflict,
} from '../../../../src/p2p/nat/ice/candidates.js';
import type { Candidate, CandidateType } from '../../../../src/p2p/nat/ice/candidates.js';

function cand(
  type: CandidateType,
  address: string,
  port: number,
  extra: Partial<Candidate> = {},
): Candidate {
  return {
    foundation: candidateFoundation(type, extra.relatedAddress ?? address),
    component: 1,
    transport: 'udp',
    priority: candidatePriority(type, 65535, extra.component ?? 1),
    address,
    port,
    type,
    ...extra,
  };
}

describe('RFC 8445 candidates', () => {
  it('§5.1.2.1: priority = 2^24·type + 2^8·local + (256 − component)', () => {
    expect(candidatePriority('host', 65535, 1)).toBe(126 * 2 ** 24 + 65535 * 256 + 255);
    expect(candidatePriority('host', 65535, 1)).toBe(2130706431);
    expect(candidatePriority('srflx', 65535, 1)).toBe(1694498815);
    expect(candidatePriority('relay', 0, 2)).toBe(254);
    // §5.1.2.2: host > prflx > srflx > relay
    const order = (['host', 'prflx', 'srflx', 'relay'] as const).map((t) =>
      candidatePriority(t, 100),
    );
    expect([...order].sort((a, b) => b - a)).toEqual(order);
    expect(() => candidatePriority('host', 70000)).toThrow();
    expect(() => candidatePriority('host', 1, 0)).toThrow();
  });

  it('§5.1.1.3: same type, base, server and transport share a foundation; others do not', () => {
    expect(candidateFoundation('host', '10.0.0.1')).toBe(candidateFoundation('host', '10.0.0.1'));
    expect(candidateFoundation('host', '10.0.0.1')).not.toBe(
      candidateFoundation('host', '10.0.0.2'),
    );
    expect(candidateFoundation('srflx', '10.0.0.1', '1.2.3.4')).not.toBe(
      candidateFoundation('srflx', '10.0.0.1', '5.6.7.8'),
    );
    expect(candidateFoundation('relay', '10.0.0.1')).toMatch(/^[A-Za-z0-9+/]{1,32}$/);
  });

  it('RFC 8839 §5.1: parses and formats candidate attributes', () => {
    const text =
      'a=candidate:1 1 UDP 1694498815 192.0.2.33 10000 typ srflx raddr 10.0.1.1 rport 8998 generation 0';
    const c = parseCandidate(text);
    expect(c).toEqual({
      foundation: '1',
      component: 1,
      transport: 'udp',
      priority: 1694498815,
      address: '192.0.2.33',
      port: 10000,
      type: 'srflx',
      relatedAddress: '10.0.1.1',
      relatedPort: 8998,
    });
    expect(formatCandidate(c)).toBe(
      'candidate:1 1 UDP 1694498815 192.0.2.33 10000 typ srflx raddr 10.0.1.1 rport 8998',
    );
    expect(parseCandidate(formatCandidate(c))).toEqual(c);
    // libdatachannel's own output parses too.
    expect(parseCandidate('a=candidate:1 1 UDP 2114977791 127.0.0.1 52987 typ host').type).toBe(
      'host',
    );
    for (const bad of [
      'candidate:1 1 TCP 1 1.2.3.4 5 typ host',
      'candidate:1 0 UDP 1 1.2.3.4 5 typ host',
      'candidate:1 1 UDP 1 1.2.3.4 70000 typ host',
      'candidate:1 1 UDP 1 1.2.3.4 5 typ bogus',
      'candidate:1 1 UDP 1 1.2.3.4 5 host',
      'something else',
      'candidate:!!! 1 UDP 1 1.2.3.4 5 typ host',
    ]) {
      expect(() => parseCandidate(bad), bad).toThrow(
        /candidate|component|UDP|port|type|foundation/i,
      );
    }
  });

  it('§6.1.2.3: pair priority = 2^32·MIN(G,D) + 2·MAX(G,D) + (G>D ? 1 : 0)', () => {
    expect(pairPriority(10, 20)).toBe((1n << 32n) * 10n + 40n);
    expect(pairPriority(20, 10)).toBe((1n << 32n) * 10n + 40n + 1n);
    const big = pairPriority(2130706431, 2130706431);
    expect(big).toBe((1n << 32n) * 2130706431n + 2n * 2130706431n);
    expect(big > BigInt(Number.MAX_SAFE_INTEGER)).toBe(true); // why it is a bigint
  });

  it('§6.1.2.2/§6.1.2.4: pairs by component and family, srflx replaced by its base, redundant pruned', () => {
    const host = cand('host', '10.0.0.1', 5000);
    const srflx = cand('srflx', '203.0.113.1', 40000, {
      relatedAddress: '10.0.0.1',
      relatedPort: 5000,
    });
    const host6 = cand('host', 'fd00::1', 5000);
    const remoteHost = cand('host', '10.9.0.1', 6000);
    const remoteSrflx = cand('srflx', '198.51.100.1', 50000, {
      relatedAddress: '10.9.0.1',
      relatedPort: 6000,
    });
    const pairs = formChecklist([host, srflx, host6], [remoteHost, remoteSrflx], true);
    // host6 has no IPv6 remote; srflx collapses onto host: two pairs, not four.
    expect(pairs.map((p) => `${p.local.address}>${p.remote.address}`)).toEqual([
      '10.0.0.1>10.9.0.1',
      '10.0.0.1>198.51.100.1',
    ]);
    expect(pairs[0]!.priority > pairs[1]!.priority).toBe(true);
    // Priority as seen by the controlled side is mirrored.
    const mirrored = formChecklist([remoteHost], [host], false);
    expect(mirrored[0]!.priority).toBe(pairPriority(host.priority, remoteHost.priority));
  });

  it('§6.1.2.6: one Waiting pair per foundation (lowest component, highest priority), the rest Frozen', () => {
    const l1 = cand('host', '10.0.0.1', 5000);
    const l2 = cand('host', '10.0.0.1', 5001, { component: 2 });
    const r1 = cand('host', '10.9.0.1', 6000);
    const r2 = cand('host', '10.9.0.1', 6001, { component: 2 });
    const r3 = cand('relay', '198.51.100.9', 7000);
    const pairs = formChecklist([l1, l2], [r1, r2, r3], true);
    const waiting = pairs.filter((p) => p.state === 'waiting');
    expect(new Set(waiting.map((p) => p.foundation)).size).toBe(waiting.length);
    expect(waiting.every((p) => p.local.component === 1)).toBe(true);
    expect(pairs.filter((p) => p.state === 'frozen').map((p) => p.local.component)).toEqual([2]);
  });

  it('§6.1.2.5: the checklist is cut to its limit (100 by default)', () => {
    const locals = Array.from({ length: 12 }, (_, i) => cand('host', `10.0.0.${i + 1}`, 5000));
    const remotes = Array.from({ length: 12 }, (_, i) => cand('host', `10.9.0.${i + 1}`, 6000));
    expect(formChecklist(locals, remotes, true)).toHaveLength(MAX_CHECKLIST_SIZE);
    expect(formChecklist(locals, remotes, true, 10)).toHaveLength(10);
  });

  it('§7.3.1.1: role conflicts are settled by the tie-breakers', () => {
    // Both controlling: the larger (or equal) tie-breaker keeps its role, answering 487.
    expect(resolveRoleConflict(true, true, 10n, 5n)).toBe('reply-487');
    expect(resolveRoleConflict(true, true, 5n, 5n)).toBe('reply-487');
    expect(resolveRoleConflict(true, true, 4n, 5n)).toBe('switch');
    // Both controlled: the larger (or equal) one switches to controlling.
    expect(resolveRoleConflict(false, false, 10n, 5n)).toBe('switch');
    expect(resolveRoleConflict(false, false, 4n, 5n)).toBe('reply-487');
    expect(resolveRoleConflict(true, false, 1n, 2n)).toBe('none');
  });
});
