/**
 * examples/ws-chat through headless Chromium (Debian's chromium): the example's own page,
 * driven by ?autotest=1, joins a room, sends a message, gets it back by broadcast together
 * with the reply of a second participant (a `ws` client of this test) and POSTs a JSON
 * report to a loopback listener of this test. A third client in another room sees nothing.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess, ChildProcessByStdio } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket as WsClient } from 'ws';

const CHROMIUM = '/usr/bin/chromium';
const EXAMPLE = fileURLToPath(new URL('../../examples/ws-chat/index.js', import.meta.url));
const REPORT_TIMEOUT_MS = 60_000;
const WAIT_MS = 15_000;

interface ChatMessage {
  type: string;
  room?: string;
  nick?: string;
  text?: string;
  members?: string[];
  error?: string;
}

interface PageReport {
  userAgent: string;
  welcome?: ChatMessage;
  own?: ChatMessage;
  reply?: ChatMessage;
  received: ChatMessage[];
  log?: string[];
  done: boolean;
  error?: string;
}

let chat: ChildProcessByStdio<null, Readable, Readable> | undefined;
let chatUrl = '';
let chatStderr = '';
let profile: string | undefined;
let chromium: ChildProcess | undefined;
let reportServer: http.Server | undefined;
let chromiumLog = '';
const sockets: WsClient[] = [];
/** Set when the peer is absent: the test then fails with it (never skipped). */
let missing: Error | undefined;

function stopChromium(): Promise<void> {
  const child = chromium;
  if (child === undefined || child.pid === undefined) return Promise.resolve();
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    // detached: the browser leads its own process group (renderer, GPU and utility children).
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    child.kill('SIGKILL');
  }
  return Promise.race([exited, new Promise<void>((resolve) => setTimeout(resolve, 10_000))]);
}

function startChat(): Promise<void> {
  const child = spawn(process.execPath, [EXAMPLE], {
    env: { ...process.env, PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  chat = child;
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(
      () => reject(new Error(`ws-chat did not start: ${chatStderr}`)),
      15_000,
    );
    child.stderr.setEncoding('utf8').on('data', (t: string) => (chatStderr += t));
    child.stdout.setEncoding('utf8').on('data', (t: string) => {
      out += t;
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (match) {
        clearTimeout(timer);
        chatUrl = match[1]!;
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`ws-chat exited ${code}: ${chatStderr}`));
    });
  });
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    missing = new Error(`${CHROMIUM} is missing: run scripts/install-peers.sh (Debian chromium)`);
    return;
  }
  await startChat();
});

afterAll(async () => {
  await stopChromium();
  for (const ws of sockets.splice(0)) ws.terminate();
  await new Promise<void>((resolve) => {
    if (reportServer === undefined) return resolve();
    reportServer.closeAllConnections();
    reportServer.close(() => resolve());
  });
  let code: number | null = 0;
  if (chat !== undefined && chat.exitCode === null) {
    const child = chat;
    const exited = new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    child.kill('SIGTERM');
    code = await Promise.race([
      exited,
      new Promise<number | null>((resolve) => setTimeout(() => resolve(null), 10_000)),
    ]);
    if (code === null) child.kill('SIGKILL');
  }
  if (profile !== undefined) rmSync(profile, { recursive: true, force: true });
  expect(code).toBe(0);
});

/** Listen for the page's one POST; resolves with its JSON body. */
async function listenForReport(): Promise<{ url: string; report: Promise<PageReport> }> {
  let deliver!: (r: PageReport) => void;
  let fail!: (e: Error) => void;
  const report = new Promise<PageReport>((resolve, reject) => {
    deliver = resolve;
    fail = reject;
  });
  reportServer = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      res.writeHead(204, { 'access-control-allow-origin': '*' });
      res.end();
      if (req.method !== 'POST') return;
      try {
        deliver(JSON.parse(Buffer.concat(chunks).toString('utf8')) as PageReport);
      } catch (err) {
        fail(err as Error);
      }
    });
  });
  await new Promise<void>((resolve) => reportServer!.listen(0, '127.0.0.1', resolve));
  const { port } = reportServer.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/report`, report };
}

/** A `ws` participant; `next` waits (bounded) for the first matching message. */
async function participant(room: string, nick: string) {
  const ws = new WsClient(`${chatUrl.replace('http:', 'ws:')}/ws?room=${room}&nick=${nick}`);
  sockets.push(ws);
  const inbox: ChatMessage[] = [];
  const waiters = new Set<() => void>();
  ws.on('message', (data) => {
    inbox.push(JSON.parse(String(data)) as ChatMessage);
    for (const w of waiters) w();
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const next = (match: (m: ChatMessage) => boolean, what: string): Promise<ChatMessage> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        const found = inbox.find(match);
        if (found === undefined) return;
        clearTimeout(timer);
        waiters.delete(check);
        resolve(found);
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`${nick}: timed out waiting for ${what}; got ${JSON.stringify(inbox)}`));
      }, WAIT_MS);
      waiters.add(check);
      check();
    });
  await next((m) => m.type === 'welcome', 'welcome');
  return { ws, inbox, next };
}

describe('Chromium → examples/ws-chat', () => {
  it('the page joins a room, and its message and a reply are broadcast within it', async () => {
    if (missing) throw missing;
    const listener = await listenForReport();
    const bot = await participant('lobby', 'bot');
    const outsider = await participant('elsewhere', 'outsider');
    // The bot answers every message from someone else in its room.
    bot.ws.on('message', (data) => {
      const m = JSON.parse(String(data)) as ChatMessage;
      if (m.type === 'message' && m.nick !== 'bot') {
        bot.ws.send(JSON.stringify({ type: 'message', text: `echo: ${m.text}` }));
      }
    });

    profile = mkdtempSync(join(tmpdir(), 'ghostnet-chromium-'));
    const query = new URLSearchParams({
      autotest: '1',
      room: 'lobby',
      nick: 'chromium',
      text: 'hello from chromium',
      report: listener.url,
    });
    chromium = spawn(
      CHROMIUM,
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--disable-dev-shm-usage',
        '--no-first-run',
        '--no-default-browser-check',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--disable-extensions',
        `--user-data-dir=${profile}`,
        `${chatUrl}/?${query}`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], detached: true },
    );
    const log = (chunk: Buffer): void => {
      chromiumLog = (chromiumLog + chunk.toString('utf8')).slice(-20_000);
    };
    chromium.stdout!.on('data', log);
    chromium.stderr!.on('data', log);
    const exitedEarly = new Promise<never>((_, reject) =>
      chromium!.once('exit', (code, signal) =>
        reject(new Error(`chromium exited (${code ?? signal}) before the page reported`)),
      ),
    );
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no report from the page in ${REPORT_TIMEOUT_MS} ms`)),
        REPORT_TIMEOUT_MS,
      );
    });
    let report: PageReport;
    try {
      report = await Promise.race([listener.report, exitedEarly, timeout]);
    } catch (err) {
      throw new Error(
        `${(err as Error).message}\nchromium output (tail):\n${chromiumLog.slice(-4000)}\n` +
          `ws-chat stderr:\n${chatStderr}`,
      );
    } finally {
      clearTimeout(timer);
      exitedEarly.catch(() => {});
    }

    expect(report.error, JSON.stringify(report, null, 2)).toBeUndefined();
    expect(report.done).toBe(true);
    expect(report.userAgent).toMatch(/Chrom/);
    expect(report.welcome).toMatchObject({
      type: 'welcome',
      room: 'lobby',
      nick: 'chromium',
      members: ['bot', 'chromium'],
    });
    expect(report.own).toMatchObject({
      room: 'lobby',
      nick: 'chromium',
      text: 'hello from chromium',
    });
    expect(report.reply).toMatchObject({
      room: 'lobby',
      nick: 'bot',
      text: 'echo: hello from chromium',
    });
    // The page rendered both lines.
    expect(report.log).toEqual(
      expect.arrayContaining(['chromium: hello from chromium', 'bot: echo: hello from chromium']),
    );

    // The bot saw the browser join and speak; closing the browser is a leave notice.
    await bot.next((m) => m.type === 'joined' && m.nick === 'chromium', 'chromium joined');
    await bot.next((m) => m.type === 'message' && m.nick === 'chromium', 'chromium message');
    await stopChromium();
    await bot.next((m) => m.type === 'left' && m.nick === 'chromium', 'chromium left');
    // Nothing from the lobby reached the other room.
    expect(outsider.inbox.filter((m) => m.type !== 'welcome')).toEqual([]);
  });
});
