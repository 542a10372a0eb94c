/**
 * `ghostnet gossip` as a user runs it: two agents on loopback printing JSON-line membership
 * events, `gossip members` and `gossip event` through the status endpoint, a graceful leave
 * on SIGTERM seen by the other agent, and usage errors.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { GHOSTNET_BIN, runGhostnet } from '../helpers/serve-process.js';

const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
});

const cli = (args: string[]): ReturnType<typeof runGhostnet> => runGhostnet(['gossip', ...args]);

interface Agent {
  addr: string;
  http: string;
  lines: Record<string, unknown>[];
  waitFor(pred: (l: Record<string, unknown>) => boolean, what: string): Promise<void>;
  stop(): Promise<number | null>;
}

function startAgent(name: string, extra: string[]): Promise<Agent> {
  const child = spawn(
    process.execPath,
    [
      GHOSTNET_BIN,
      'gossip',
      'agent',
      '--name',
      name,
      '--bind',
      '127.0.0.1:0',
      '--http',
      '127.0.0.1:0',
      '--json',
      ...extra,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  children.push(child);
  const lines: Record<string, unknown>[] = [];
  const waiters = new Set<() => void>();
  let buf = '';
  child.stdout!.setEncoding('utf8').on('data', (t: string) => {
    buf += t;
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      lines.push(JSON.parse(buf.slice(0, nl)) as Record<string, unknown>);
      buf = buf.slice(nl + 1);
    }
    for (const w of waiters) w();
  });
  const waitFor = (pred: (l: Record<string, unknown>) => boolean, what: string) =>
    new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (!lines.some(pred)) return;
        waiters.delete(check);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`${name}: timed out waiting for ${what}; saw ${JSON.stringify(lines)}`));
      }, 20_000);
      waiters.add(check);
      check();
    });
  return waitFor((l) => l.event === 'listening', 'the listening line').then(() => {
    const first = lines.find((l) => l.event === 'listening')!;
    return {
      addr: first.addr as string,
      http: first.http as string,
      lines,
      waitFor,
      stop: () =>
        new Promise<number | null>((done) => {
          child.once('exit', (code) => done(code));
          child.kill('SIGTERM');
        }),
    };
  });
}

describe('ghostnet gossip', () => {
  it('two agents meet, list members, pass an event, and one leaves on SIGTERM', async () => {
    const a = await startAgent('alpha', ['--tag', 'role=seed']);
    const b = await startAgent('beta', ['--join', a.addr, '--tag', 'role=worker', '--tag', 'dc=x']);
    await a.waitFor(
      (l) =>
        l.event === 'member-join' &&
        l.name === 'beta' &&
        l.addr === b.addr &&
        JSON.stringify(l.tags) === JSON.stringify({ dc: 'x', role: 'worker' }),
      'member-join beta with its tags',
    );
    await b.waitFor((l) => l.event === 'member-join' && l.name === 'alpha', 'member-join alpha');
    await b.waitFor((l) => l.event === 'member-join' && l.name === 'beta', 'its own member-join');

    const members = await cli(['members', '--http', a.http, '--json']);
    expect(members.code).toBe(0);
    const list = (JSON.parse(members.stdout) as { members: { name: string; status: string }[] })
      .members;
    expect(list.map((m) => `${m.name}:${m.status}`).sort()).toEqual(['alpha:alive', 'beta:alive']);
    const text = await cli(['members', '--http', a.http]);
    expect(text.stdout).toMatch(/^beta\t127\.0\.0\.1:\d+\talive\tdc=x,role=worker$/m);

    const sent = await cli(['event', 'deploy', 'v1.2', '--http', a.http]);
    expect(sent.code).toBe(0);
    await b.waitFor(
      (l) => l.event === 'user-event' && l.name === 'deploy' && l.payload === 'v1.2',
      'the user event',
    );

    expect(await b.stop()).toBe(0);
    await a.waitFor((l) => l.event === 'member-leave' && l.name === 'beta', 'member-leave beta');
    expect(a.lines.some((l) => l.event === 'member-failed')).toBe(false);
    expect(await a.stop()).toBe(0);
  }, 60_000);

  it('rejects bad usage with exit code 2', async () => {
    expect((await cli([])).code).toBe(2);
    expect((await cli(['agent', '--bind', '127.0.0.1:0'])).code).toBe(2); // no --name
    expect((await cli(['agent', '--name', 'x'])).code).toBe(2); // no --bind
    expect((await cli(['agent', '--name', 'x', '--bind', 'nope'])).code).toBe(2);
    expect((await cli(['agent', '--name', 'x', '--bind', '127.0.0.1:0', '--tag', 'k'])).code).toBe(
      2,
    );
    expect((await cli(['members'])).code).toBe(2);
    expect((await cli(['event', '--http', '127.0.0.1:1'])).code).toBe(2);
    expect((await cli(['frobnicate'])).code).toBe(2);
  }, 30_000);

  it('exits 1 when it cannot join', async () => {
    // A port nobody listens on: the push-pull connection is refused.
    const r = await cli([
      'agent',
      '--name',
      'lonely',
      '--bind',
      '127.0.0.1:0',
      '--join',
      '127.0.0.1:9',
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/could not join/);
  }, 30_000);
});
