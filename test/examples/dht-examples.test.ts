/**
 * The DHT example runs with one command (a local swarm on loopback, no bootstrap to the
 * public DHT) and reads back every key it wrote, including the updated one.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const example = fileURLToPath(new URL('../../examples/dht-kv/index.js', import.meta.url));

describe('examples/dht-kv', () => {
  it('puts keys from one node and gets them from another', async () => {
    const { code, stdout } = await new Promise<{ code: number; stdout: string }>((resolve) => {
      execFile(process.execPath, [example], { timeout: 60_000 }, (err, out) => {
        const c = err ? (err as { code?: unknown }).code : 0;
        resolve({ code: typeof c === 'number' ? c : -1, stdout: out });
      });
    });
    expect(stdout).toContain('get greeting -> "hello, DHT"');
    expect(stdout).toContain('get color -> "green"'); // the newer version (seq 2)
    expect(stdout).toContain('all keys read back');
    expect(code).toBe(0);
  });
});
