/**
 * `ghostnet stun` as a user runs it: a server with an alternate address on loopback
 * (127.0.0.1 and 127.0.0.2), a query for the mapped address (text and JSON), RFC 5780
 * behavior discovery, a server that does not answer (exit 1), and usage errors (exit 2).
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { GHOSTNET_BIN, runGhostnet } from '../helpers/serve-process.js';

const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
});

const cli = (args: string[]): ReturnType<typeof runGhostnet> => runGhostnet(['stun', ...args]);

function serve(): Promise<{ addr: string; stop: () => Promise<number | null> }> {
  const child = spawn(
    process.execPath,
    [
      GHOSTNET_BIN,
      'stun',
      'serve',
      '--port',
      '0',
      '--alt-host',
      '127.0.0.2',
      '--alt-port',
      '0',
      '--json',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  children.push(child);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('stun serve did not start')), 15_000);
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (t: string) => {
      out += t;
      const nl = out.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      const line = JSON.parse(out.slice(0, nl)) as { addr: string; rfc5780: boolean };
      expect(line.rfc5780).toBe(true);
      resolve({
        addr: line.addr,
        stop: () =>
          new Promise((done) => {
            child.once('exit', (code) => done(code));
            child.kill('SIGTERM');
          }),
      });
    });
  });
}

describe('ghostnet stun', () => {
  it('serves; a query prints the mapped address; --behavior finds no NAT on loopback', async () => {
    const s = await serve();
    const text = await cli([s.addr, '--host', '127.0.0.1']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^127\.0\.0\.1:\d+\n$/);
    const json = await cli([s.addr, '--host', '127.0.0.1', '--json']);
    const r = JSON.parse(json.stdout) as { mapped: string; otherAddress: string; software: string };
    expect(r.mapped).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(r.otherAddress).toMatch(/^127\.0\.0\.2:\d+$/);
    expect(r.software).toBe('ghostnet');
    const b = await cli([s.addr, '--host', '127.0.0.1', '--behavior', '--json']);
    expect(JSON.parse(b.stdout)).toMatchObject({
      mapping: 'no-nat',
      filtering: 'endpoint-independent',
      nat: 'open',
    });
    expect(await s.stop()).toBe(0);
  }, 60_000);

  it('exits 1 when the server does not answer, 2 on bad usage', async () => {
    const silent = await cli(['127.0.0.1:9', '--host', '127.0.0.1']);
    expect(silent.code).toBe(1);
    expect(silent.stderr).toMatch(/timed out/);
    expect((await cli([])).code).toBe(2);
    expect((await cli(['a:b:c'])).code).toBe(2);
    expect((await cli(['serve', '--alt-host', '127.0.0.2'])).code).toBe(2);
    expect((await cli(['1.2.3.4', 'extra'])).code).toBe(2);
  }, 60_000);
});
