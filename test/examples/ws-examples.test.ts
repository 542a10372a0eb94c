/**
 * The WebSocket examples run as a user would: examples/ws-reconnect against an echo server
 * (the `ws` package) that is killed and restarted on the same port, and examples/ws-chat
 * with `ws` clients in two rooms (broadcast stays within a room, join/leave notices, the
 * room cap, the message size limit and the 1001 on shutdown).
 */
import { spawn } from 'node:child_process';
import type { ChildProcessByStdio } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket as WsClient, WebSocketServer as WsServer } from 'ws';

const examples = fileURLToPath(new URL('../../examples/', import.meta.url));
const WAIT_MS = 10_000;

type Child = ChildProcessByStdio<null, Readable, Readable>;
const running: Child[] = [];
const sockets: WsClient[] = [];
const servers: WsServer[] = [];

afterEach(async () => {
  for (const ws of sockets.splice(0)) ws.terminate();
  for (const s of servers.splice(0)) {
    for (const c of s.clients) c.terminate();
    s.close();
  }
  for (const child of running.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

/** Collects items and lets a test wait (bounded) for the first one matching. */
class Inbox<T> {
  readonly items: T[] = [];
  #waiters = new Set<{ match: (t: T) => boolean; resolve: (t: T) => void }>();

  push(item: T): void {
    this.items.push(item);
    for (const w of this.#waiters) {
      if (w.match(item)) {
        this.#waiters.delete(w);
        w.resolve(item);
      }
    }
  }

  /** The first item (already received or not) after `from` that `match` accepts. */
  next(match: (t: T) => boolean, what: string, from = 0): Promise<T> {
    const found = this.items.slice(from).find(match);
    if (found !== undefined) return Promise.resolve(found);
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        reject(new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.items)}`));
      }, WAIT_MS);
      const waiter = {
        match,
        resolve: (t: T) => {
          clearTimeout(timer);
          resolve(t);
        },
      };
      this.#waiters.add(waiter);
    });
  }
}

function exitCode(child: Child): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the example did not exit')), WAIT_MS);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

function runExample(name: string, args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [`${examples}${name}/index.js`, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.push(child);
  const lines = new Inbox<Record<string, unknown>>();
  let stderr = '';
  let buffered = '';
  child.stderr.setEncoding('utf8').on('data', (t: string) => (stderr += t));
  child.stdout.setEncoding('utf8').on('data', (t: string) => {
    buffered += t;
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      try {
        lines.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        lines.push({ text: line });
      }
    }
  });
  return { child, lines, stderr: () => stderr };
}

async function echoServer(port = 0): Promise<{ server: WsServer; received: Inbox<string> }> {
  const server = new WsServer({ host: '127.0.0.1', port });
  servers.push(server);
  const received = new Inbox<string>();
  server.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => {
      if (!isBinary) received.push(String(data));
      ws.send(data, { binary: isBinary });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  return { server, received };
}

describe('examples/ws-reconnect', () => {
  it('reconnects with backoff after the server restarts and says hello again', async () => {
    const first = await echoServer();
    const { port } = first.server.address() as AddressInfo;
    const { child, lines, stderr } = runExample('ws-reconnect', [`ws://127.0.0.1:${port}/`], {
      HEARTBEAT_MS: '200',
    });
    const isEcho = (connection: number) => (l: Record<string, unknown>) =>
      l.event === 'message' &&
      typeof l.data === 'string' &&
      l.data.includes('"type":"hello"') &&
      (JSON.parse(l.data) as { connection: number }).connection === connection;

    await lines.next((l) => l.event === 'open' && l.connection === 1, 'the first open');
    const hello1 = await lines.next(isEcho(1), 'the first hello echoed');
    const client = (JSON.parse(hello1.data as string) as { client: string }).client;
    await lines.next(
      (l) => l.event === 'message' && String(l.data).includes('"type":"heartbeat"'),
      'a heartbeat echoed',
    );

    // Kill the server (connections dropped without a close frame), keep it down a while.
    for (const ws of first.server.clients) ws.terminate();
    await new Promise<void>((resolve) => first.server.close(() => resolve()));
    const downFrom = lines.items.length;
    await lines.next((l) => l.event === 'reconnecting', 'a reconnect attempt', downFrom);
    await lines.next((l) => l.event === 'error', 'a refused connection', downFrom);
    await new Promise((resolve) => setTimeout(resolve, 300));

    const second = await echoServer(port);
    await lines.next((l) => l.event === 'open' && l.connection === 2, 'the reconnection');
    const hello2 = await lines.next(isEcho(2), 'the second hello echoed');
    expect((JSON.parse(hello2.data as string) as { client: string }).client).toBe(client);
    await second.received.next((m) => m.includes('"type":"heartbeat"'), 'heartbeats resume');

    const attempts = lines.items.filter((l) => l.event === 'reconnecting');
    expect(attempts.length).toBeGreaterThanOrEqual(1);
    attempts.forEach((l, i) => {
      expect(l.attempt).toBe(i + 1);
      expect(l.delayMs).toBeGreaterThanOrEqual(0);
    });

    child.kill('SIGTERM');
    expect(await exitCode(child), stderr()).toBe(0);
    expect(lines.items.at(-1)).toMatchObject({ event: 'closed', code: 1000, gaveUp: false });
  });

  it('refuses a missing URL with a usage message', async () => {
    const { child, stderr } = runExample('ws-reconnect', []);
    expect(await exitCode(child)).toBe(2);
    expect(stderr()).toMatch(/usage/);
  });
});

interface ChatMessage {
  type: string;
  room?: string;
  nick?: string;
  text?: string;
  members?: string[];
  error?: string;
}

interface ChatClient {
  ws: WsClient;
  inbox: Inbox<ChatMessage>;
  closed: Promise<number>;
  next(match: (m: ChatMessage) => boolean, what: string): Promise<ChatMessage>;
  send(msg: unknown): void;
}

async function chatClient(url: string): Promise<ChatClient> {
  const ws = new WsClient(url);
  sockets.push(ws);
  const inbox = new Inbox<ChatMessage>();
  ws.on('message', (data) => inbox.push(JSON.parse(String(data)) as ChatMessage));
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  return {
    ws,
    inbox,
    closed,
    next: (match, what) => inbox.next(match, what),
    send: (msg) => ws.send(typeof msg === 'string' ? msg : JSON.stringify(msg)),
  };
}

function startChat(env: Record<string, string>): Promise<{ url: string; child: Child }> {
  const { child, lines, stderr } = runExample('ws-chat', [], { PORT: '0', ...env });
  return lines
    .next((l) => /listening on http:\/\/127\.0\.0\.1:\d+/.test(String(l.text)), 'listening')
    .then((l) => ({ url: /http:\/\/[\d.:]+/.exec(String(l.text))![0], child }))
    .catch((err: Error) => {
      throw new Error(`${err.message}\n${stderr()}`);
    });
}

describe('examples/ws-chat', () => {
  it('serves the page and broadcasts within a room, with notices, caps and shutdown', async () => {
    const { url, child } = await startChat({ MAX_ROOM_MEMBERS: '2' });
    const page = await fetch(`${url}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('chat.js');
    expect((await fetch(`${url}/chat.js`)).status).toBe(200);
    const wsUrl = url.replace('http:', 'ws:') + '/ws';

    // ann joins room A through the query, bob through a join message, cat is in room B.
    const ann = await chatClient(`${wsUrl}?room=A&nick=ann`);
    expect(await ann.next((m) => m.type === 'welcome', 'ann welcome')).toMatchObject({
      room: 'A',
      nick: 'ann',
      members: ['ann'],
    });
    const bob = await chatClient(wsUrl);
    bob.send({ type: 'join', room: 'A', nick: 'bob' });
    expect(await bob.next((m) => m.type === 'welcome', 'bob welcome')).toMatchObject({
      room: 'A',
      nick: 'bob',
      members: ['ann', 'bob'],
    });
    await ann.next((m) => m.type === 'joined' && m.nick === 'bob', 'bob joined notice');
    const cat = await chatClient(`${wsUrl}?room=B&nick=cat`);
    await cat.next((m) => m.type === 'welcome', 'cat welcome');

    // A message in B reaches B only: once cat has its own copy, the broadcast is done.
    cat.send({ type: 'message', text: 'only for B' });
    await cat.next((m) => m.type === 'message' && m.text === 'only for B', 'cat own message');
    bob.send({ type: 'message', text: 'hello A' });
    for (const c of [ann, bob]) {
      expect(
        await c.next((m) => m.type === 'message' && m.text === 'hello A', 'hello A'),
      ).toMatchObject({ room: 'A', nick: 'bob' });
    }
    for (const c of [ann, bob]) {
      expect(c.inbox.items.some((m) => m.text === 'only for B')).toBe(false);
    }

    // The room cap (MAX_ROOM_MEMBERS=2) and the message size limit (close 1009).
    const dan = await chatClient(`${wsUrl}?room=A&nick=dan`);
    expect(await dan.next((m) => m.type === 'error', 'room full')).toMatchObject({
      error: 'room A is full',
    });
    dan.send({ type: 'message', text: 'x' });
    await dan.next((m) => m.error === 'join a room first', 'join first');
    dan.send({ type: 'message', text: 'x'.repeat(10_000) });
    expect(await dan.closed).toBe(1009);
    expect(ann.inbox.items.some((m) => m.nick === 'dan')).toBe(false);

    // bob leaves: ann gets the notice, cat (another room) does not.
    bob.ws.close();
    expect(await ann.next((m) => m.type === 'left', 'bob left notice')).toMatchObject({
      room: 'A',
      nick: 'bob',
    });
    expect(cat.inbox.items.some((m) => m.nick === 'bob' || m.room === 'A')).toBe(false);

    // Graceful shutdown: every client gets 1001 Going Away, the process exits 0.
    child.kill('SIGTERM');
    expect(await ann.closed).toBe(1001);
    expect(await cat.closed).toBe(1001);
    expect(await exitCode(child)).toBe(0);
  });
});
