/**
 * examples/p2p-chat on loopback: a signaling server, two peers meeting in a room, ICE
 * (host candidates here; through real NATs and a TURN relay in
 * test/interop/ice-netns.test.ts), and a line each way.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const chat = fileURLToPath(new URL('../../examples/p2p-chat/index.js', import.meta.url));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
});

function start(args: string[]): { child: ChildProcess; events: Record<string, unknown>[] } {
  const child = spawn(process.execPath, [chat, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  children.push(child);
  const events: Record<string, unknown>[] = [];
  createInterface({ input: child.stdout! }).on('line', (l) =>
    events.push(JSON.parse(l) as Record<string, unknown>),
  );
  return { child, events };
}

async function until(check: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('examples/p2p-chat', () => {
  it('two peers meet through the signaling server, connect with ICE and chat', async () => {
    const server = start(['serve', '--port', '0']);
    await until(() => server.events.length > 0);
    const url = server.events[0]!.url as string;
    const a = start(['join', url, 'room-1']);
    await new Promise((r) => setTimeout(r, 200));
    const b = start(['join', url, 'room-1']);
    await until(() => [a, b].every((p) => p.events.some((e) => e.event === 'connected')));
    a.child.stdin!.write('hello from a\n');
    b.child.stdin!.write('hello from b\n');
    await until(
      () =>
        a.events.some((e) => e.event === 'message' && e.text === 'hello from b') &&
        b.events.some((e) => e.event === 'message' && e.text === 'hello from a'),
    );
    expect(a.events.find((e) => e.event === 'connected')?.path).toBe('direct');
  }, 40_000);
});
