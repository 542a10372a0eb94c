import { spawn } from 'node:child_process';
import type { ChildProcessByStdio } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const bin = fileURLToPath(new URL('../../bin/ghostnet.js', import.meta.url));
const children: ChildProcessByStdio<null, Readable, Readable>[] = [];

afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

function start(args: string[]) {
  const child = spawn(process.execPath, [bin, 'echo', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const stderr: string[] = [];
  child.stderr.setEncoding('utf8').on('data', (t: string) => stderr.push(t));
  const firstLine = new Promise<string>((resolve, reject) => {
    let buffered = '';
    child.stdout.setEncoding('utf8').on('data', (t: string) => {
      buffered += t;
      const nl = buffered.indexOf('\n');
      if (nl >= 0) resolve(buffered.slice(0, nl));
    });
    child.once('exit', (code) => reject(new Error(`exited ${code}: ${stderr.join('')}`)));
  });
  firstLine.catch(() => {}); // tests that expect an early exit never await it
  const exit = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  return { child, firstLine, exit, stderr };
}

function roundTrip(port: number, payload: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    const chunks: Buffer[] = [];
    socket.on('data', (c) => chunks.push(c));
    socket.on('end', () => resolve(Buffer.concat(chunks)));
    socket.on('error', reject);
    socket.end(payload);
  });
}

describe('ghostnet echo', () => {
  it('echoes bytes over TCP and exits 0 on SIGTERM', async () => {
    const { child, firstLine, exit } = start(['--port', '0', '--json']);
    const listening = JSON.parse(await firstLine) as { event: string; port: number };
    expect(listening).toMatchObject({ event: 'listening', protocol: 'tcp', address: '127.0.0.1' });
    expect(listening.port).toBeGreaterThan(0);

    const payload = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 7) & 0xff;
    const echoed = await roundTrip(listening.port, payload);
    expect(echoed.equals(payload)).toBe(true);

    child.kill('SIGTERM');
    const [code] = await exit;
    expect(code).toBe(0);
  });

  it('prints a plain listening line without --json', async () => {
    const { child, firstLine, exit } = start(['--port', '0']);
    expect(await firstLine).toMatch(/^listening on tcp:\/\/127\.0\.0\.1:\d+$/);
    child.kill('SIGINT');
    expect((await exit)[0]).toBe(0);
  });

  it('rejects --tls-cert without --tls-key and a bad port with exit code 2', async () => {
    const a = start(['--tls-cert', '/nonexistent.pem']);
    expect((await a.exit)[0]).toBe(2);
    expect(a.stderr.join('')).toContain('--tls-cert and --tls-key go together');
    const b = start(['--port', '70000']);
    expect((await b.exit)[0]).toBe(2);
    expect(b.stderr.join('')).toContain('--port must be an integer');
  });
});
