/**
 * examples/ws-chat through headless Chromium (Debian's chromium): the example's own page,
 * driven by ?autotest=1, joins a room, sends a message, gets it back by broadcast together
 * with the reply of a second participant (a `ws` client of this test) and POSTs a JSON
 * report to a loopback listener of this test. A third client in another room sees nothing.
 */
import { spawn } from 'node:child_process';
import type { ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket as WsClient } from 'ws';
import { chromiumMissing, launchChromium, listenForReport } from '../helpers/chromium.js';
import type { ChromiumRun, ReportListener } from '../helpers/chromium.js';

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
let chromium: ChromiumRun | undefined;
let listener: ReportListener<PageReport> | undefined;
const sockets: WsClient[] = [];
/** Set when the peer is absent: the test then fails with it (never skipped). */
let missing: Error | undefined;

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
  missing = chromiumMissing();
  if (missing) return;
  await startChat();
});

afterAll(async () => {
  await chromium?.stop();
  for (const ws of sockets.splice(0)) ws.terminate();
  await listener?.close();
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
  expect(code).toBe(0);
});

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
    listener = await listenForReport<PageReport>();
    const bot = await participant('lobby', 'bot');
    const outsider = await participant('elsewhere', 'outsider');
    // The bot answers every message from someone else in its room.
    bot.ws.on('message', (data) => {
      const m = JSON.parse(String(data)) as ChatMessage;
      if (m.type === 'message' && m.nick !== 'bot') {
        bot.ws.send(JSON.stringify({ type: 'message', text: `echo: ${m.text}` }));
      }
    });

    const query = new URLSearchParams({
      autotest: '1',
      room: 'lobby',
      nick: 'chromium',
      text: 'hello from chromium',
      report: listener.url,
    });
    chromium = launchChromium(`${chatUrl}/?${query}`);
    const report = await chromium.awaitReport(
      listener.report,
      REPORT_TIMEOUT_MS,
      () => `ws-chat stderr:\n${chatStderr}`,
    );

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
    await chromium.stop();
    await bot.next((m) => m.type === 'left' && m.nick === 'chromium', 'chromium left');
    // Nothing from the lobby reached the other room.
    expect(outsider.inbox.filter((m) => m.type !== 'welcome')).toEqual([]);
  });
});
