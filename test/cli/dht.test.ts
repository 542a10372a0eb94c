/**
 * `ghostnet dht` as a user runs it: a node printing its listening line, one-shot put/get,
 * announce/lookup through it, usage errors, and the routing table saved on SIGTERM and
 * loaded on restart (same id).
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GHOSTNET_BIN } from '../helpers/serve-process.js';

const dir = mkdtempSync(join(tmpdir(), 'ghostnet-dht-cli-'));
const children: ReturnType<typeof spawn>[] = [];
afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [GHOSTNET_BIN, 'dht', ...args],
      { timeout: 20_000 },
      (err, stdout, stderr) => {
        const code = err ? (err as { code?: unknown }).code : 0;
        resolve({ code: typeof code === 'number' ? code : -1, stdout, stderr });
      },
    );
  });
}

/** Starts `ghostnet dht node`; resolves with its id and port from the first line. */
function startNode(
  args: string[],
): Promise<{ id: string; port: number; stop: () => Promise<number | null> }> {
  const child = spawn(process.execPath, [GHOSTNET_BIN, 'dht', 'node', '--port', '0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('dht node did not start')), 15_000);
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', function onData(t: string) {
      out += t;
      const nl = out.indexOf('\n');
      if (nl < 0) return;
      child.stdout!.off('data', onData);
      clearTimeout(timer);
      const m = /^dht node ([0-9a-f]{40}) listening on udp:\/\/127\.0\.0\.1:(\d+)$/.exec(
        out.slice(0, nl),
      );
      if (m === null) {
        reject(new Error(`unexpected first line: ${out}`));
        return;
      }
      resolve({
        id: m[1]!,
        port: Number(m[2]),
        stop: () =>
          new Promise((done) => {
            child.once('exit', (code) => done(code));
            child.kill('SIGTERM');
          }),
      });
    });
  });
}

describe('ghostnet dht', () => {
  it('runs nodes; put/get, announce/lookup go through them; the state survives a restart', async () => {
    const a = await startNode([]);
    const state = join(dir, 'b.json');
    const b = await startNode(['--bootstrap', `127.0.0.1:${a.port}`, '--state', state]);
    const viaA = ['--bootstrap', `127.0.0.1:${a.port}`];
    const viaB = ['--bootstrap', `127.0.0.1:${b.port}`];

    const put = await cli(['put', 'hello dht', ...viaA, '--json']);
    expect(put.code).toBe(0);
    const { target, stored } = JSON.parse(put.stdout) as { target: string; stored: number };
    expect(stored).toBeGreaterThan(0);
    const got = await cli(['get', target, ...viaB]);
    expect(got).toMatchObject({ code: 0, stdout: '"hello dht"\n' });

    const ih = 'ab'.repeat(20);
    expect((await cli(['announce', ih, '--peer-port', '6999', ...viaA])).code).toBe(0);
    const lookup = await cli(['lookup', ih, ...viaB, '--json']);
    expect(lookup.code).toBe(0);
    expect((JSON.parse(lookup.stdout) as { peers: string[] }).peers).toContain('127.0.0.1:6999');

    expect((await cli(['get', 'cd'.repeat(20), ...viaB])).code).toBe(1); // not found

    expect(await b.stop()).toBe(0);
    const saved = JSON.parse(readFileSync(state, 'utf8')) as { id: string; nodes: unknown[] };
    expect(saved.id).toBe(b.id);
    expect(saved.nodes.length).toBeGreaterThan(0);
    const again = await startNode(['--state', state]);
    expect(again.id).toBe(b.id);
    expect(await again.stop()).toBe(0);
    expect(await a.stop()).toBe(0);
  });

  it('exits 2 on usage errors', async () => {
    for (const args of [
      [],
      ['frob'],
      ['lookup', 'zz'],
      ['lookup', 'ab'.repeat(20)], // no --bootstrap
      ['announce', 'ab'.repeat(20), '--bootstrap', '127.0.0.1:1'], // no --peer-port
      ['put', 'x', '--seq', '3', '--bootstrap', '127.0.0.1:1'], // --seq without --secret-key
      ['get', '--bootstrap', 'nonsense'],
    ]) {
      const r = await cli(args);
      expect(r.code, args.join(' ')).toBe(2);
    }
  });
});
