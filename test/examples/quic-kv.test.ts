/**
 * examples/quic-kv: KV nodes found through a local DHT swarm, requests over QUIC, two
 * replicas per key; after one node stops, every key is still read back (from the replica
 * that is left).
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const example = fileURLToPath(new URL('../../examples/quic-kv/index.js', import.meta.url));

describe('examples/quic-kv', () => {
  it('stores keys on two nodes found through the DHT and survives losing one', async () => {
    const { code, stdout } = await new Promise<{ code: number; stdout: string }>((resolve) => {
      execFile(process.execPath, [example], { timeout: 60_000 }, (err, out) => {
        const c = err ? (err as { code?: unknown }).code : 0;
        resolve({ code: typeof c === 'number' ? c : -1, stdout: out });
      });
    });
    expect(stdout).toContain('found 3 kv nodes through the DHT');
    expect(stdout).toMatch(/put greeting -> kv\d \+ kv\d/);
    expect(stdout).toContain('stopped kv0');
    // Every get after the stop is served by a node that is still up.
    const gets = stdout.split('\n').filter((l) => l.startsWith('get '));
    expect(gets).toHaveLength(5);
    for (const g of gets) expect(g).not.toMatch(/from kv0/);
    expect(stdout).toContain('get answer -> 42');
    expect(stdout).toContain('all keys read back after losing a node');
    expect(code).toBe(0);
  });
});
