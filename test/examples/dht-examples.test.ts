/**
 * The DHT examples run with one command each (a local swarm on loopback, no bootstrap to the
 * public DHT) and reads back every key it wrote, including the updated one.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const example = fileURLToPath(new URL('../../examples/dht-kv/index.js', import.meta.url));
const share = fileURLToPath(new URL('../../examples/p2p-share/index.js', import.meta.url));

function run(file: string): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [file], { timeout: 60_000 }, (err, out) => {
      const c = err ? (err as { code?: unknown }).code : 0;
      resolve({ code: typeof c === 'number' ? c : -1, stdout: out });
    });
  });
}

describe('examples/dht-kv', () => {
  it('puts keys from one node and gets them from another', async () => {
    const { code, stdout } = await run(example);
    expect(stdout).toContain('get greeting -> "hello, DHT"');
    expect(stdout).toContain('get color -> "green"'); // the newer version (seq 2)
    expect(stdout).toContain('all keys read back');
    expect(code).toBe(0);
  });
});

describe('examples/p2p-share', () => {
  it('finds the seeder through the DHT and downloads the file over TCP with a hash check', async () => {
    const { code, stdout } = await run(share);
    expect(stdout).toMatch(/announced to [1-9]\d* nodes/);
    expect(stdout).toContain('downloaded 1048576 bytes, sha256 ok');
    expect(code).toBe(0);
  });
});
