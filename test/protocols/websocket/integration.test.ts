/**
 * `ghostnet serve` /ws end to end: the `ws` package's client and ghostnet's own client
 * against the compiled CLI (run `npm run build` first), echo of text and binary with and
 * without permessage-deflate, 404 for other paths, and SIGTERM closing with 1001.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket as WsClient } from 'ws';
import type { RawData } from 'ws';
import { connectWebSocket } from '../../../src/protocols/websocket/client.js';
import { startServe } from '../../helpers/serve-process.js';
import type { ServeProcess } from '../../helpers/serve-process.js';

const procs: ServeProcess[] = [];
afterEach(async () => {
  await Promise.all(procs.splice(0).map((p) => p.stop(2000)));
});

async function serve(): Promise<ServeProcess> {
  const p = await startServe();
  procs.push(p);
  return p;
}

function open(url: string, options: ConstructorParameters<typeof WsClient>[2] = {}) {
  const ws = new WsClient(url, options);
  const messages: Array<{ data: Buffer; isBinary: boolean }> = [];
  ws.on('message', (data: RawData, isBinary) =>
    messages.push({ data: Buffer.from(data as Buffer), isBinary }),
  );
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  const opened = new Promise<void>((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  return { ws, messages, closed, opened };
}

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('ghostnet serve /ws', () => {
  it.each([
    ['plain', false],
    ['permessage-deflate', true],
  ])('echoes text and binary to the ws client (%s)', async (_label, deflate) => {
    const p = await serve();
    const c = open(`ws://127.0.0.1:${p.port}/ws`, { perMessageDeflate: deflate });
    await c.opened;
    expect(c.ws.extensions.includes('permessage-deflate')).toBe(deflate);
    const big = Buffer.alloc(3 * 1024 * 1024);
    for (let i = 0; i < big.length; i++) big[i] = (i * 13) & 0xff;
    c.ws.send('hello ghostnet');
    c.ws.send(Buffer.from([0, 1, 2, 255]));
    c.ws.send('');
    c.ws.send('x'.repeat(100_000));
    c.ws.send(big);
    await until(() => c.messages.length === 5, 'five echoes');
    expect(c.messages.map((m) => m.isBinary)).toEqual([false, true, false, false, true]);
    expect(c.messages[0]!.data.toString()).toBe('hello ghostnet');
    expect([...c.messages[1]!.data]).toEqual([0, 1, 2, 255]);
    expect(c.messages[2]!.data.length).toBe(0);
    expect(c.messages[3]!.data.toString()).toBe('x'.repeat(100_000));
    expect(c.messages[4]!.data.equals(big)).toBe(true);
    c.ws.close(1000, 'done');
    await expect(c.closed).resolves.toEqual({ code: 1000, reason: '' });
  });

  it('answers other paths with 404', async () => {
    const p = await serve();
    const c = open(`ws://127.0.0.1:${p.port}/nope`);
    await expect(c.opened).rejects.toThrow(/404/);
    const err = await connectWebSocket(`ws://127.0.0.1:${p.port}/`).catch((e) => e);
    expect(err).toMatchObject({ status: 404 });
  });

  it('works with the ghostnet client too, and plain HTTP routes still answer', async () => {
    const p = await serve();
    const ws = await connectWebSocket(`ws://127.0.0.1:${p.port}/ws`, { perMessageDeflate: true });
    const got: string[] = [];
    ws.on('message', (d) => got.push(d as string));
    for (let i = 0; i < 50; i++) ws.send(`message ${i} `.repeat(i * 10));
    await until(() => got.length === 50, 'fifty echoes');
    expect(got[49]).toBe('message 49 '.repeat(490));
    ws.close(1000);
    await expect(ws.closed).resolves.toMatchObject({ code: 1000, wasClean: true });
    const res = await fetch(`${p.url}/hello`);
    expect(await res.text()).toBe('Hello, World!');
  });

  it('SIGTERM closes open websockets with 1001 and exits 0', async () => {
    const p = await serve();
    const c = open(`ws://127.0.0.1:${p.port}/ws`);
    await c.opened;
    const exit = p.stop(10_000);
    await expect(c.closed).resolves.toMatchObject({ code: 1001 });
    expect(await exit).toBe(0);
  });
});
