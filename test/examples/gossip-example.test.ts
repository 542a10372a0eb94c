/**
 * examples/gossip-cluster runs with one command: three agent processes on loopback meet,
 * one is killed with SIGKILL and the two others report it failed.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const example = fileURLToPath(new URL('../../examples/gossip-cluster/index.js', import.meta.url));

describe('examples/gossip-cluster', () => {
  it('three agents meet; the killed one is reported failed by the others', async () => {
    const { code, stdout } = await new Promise<{ code: number; stdout: string }>((resolve) => {
      execFile(process.execPath, [example], { timeout: 60_000 }, (err, out) => {
        const c = err ? (err as { code?: unknown }).code : 0;
        resolve({ code: typeof c === 'number' ? c : -1, stdout: out });
      });
    });
    expect(stdout).toContain('all three agents see each other');
    expect(stdout).toContain('alpha sees member-failed gamma');
    expect(stdout).toContain('beta sees member-failed gamma');
    expect(stdout).toContain('cluster demo done');
    expect(code).toBe(0);
  }, 70_000);
});
