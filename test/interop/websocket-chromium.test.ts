/**
 * Headless Chromium (Debian's chromium) loads a page from `ghostnet serve --static` that
 * connects to /ws, exchanges text, binary (ArrayBuffer and Blob) and compressible messages
 * with the echo endpoint, and POSTs a JSON report to a loopback listener of this test
 * (`--dump-dom` does not wait for WebSocket traffic, so the page reports by itself).
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServe } from '../helpers/serve-process.js';
import type { ServeProcess } from '../helpers/serve-process.js';

const CHROMIUM = '/usr/bin/chromium';
const PAGE = fileURLToPath(new URL('./fixtures/ws-page.html', import.meta.url));
const REPORT_TIMEOUT_MS = 60_000;

interface Check {
  name: string;
  ok: boolean;
  type?: string;
  length?: number;
  expectedLength?: number;
}

interface PageReport {
  userAgent: string;
  extensions?: string;
  protocol?: string;
  checks: Check[];
  close?: { code: number; reason: string; wasClean: boolean } | null;
  done: boolean;
  error?: string;
}

let serve: ServeProcess | undefined;
let webRoot: string | undefined;
let profile: string | undefined;
let chromium: ChildProcess | undefined;
let reportServer: http.Server | undefined;
let chromiumLog = '';
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

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    missing = new Error(`${CHROMIUM} is missing: run scripts/install-peers.sh (Debian chromium)`);
    return;
  }
  webRoot = mkdtempSync(join(tmpdir(), 'ghostnet-ws-page-'));
  copyFileSync(PAGE, join(webRoot, 'index.html'));
  serve = await startServe(['--static', webRoot]);
});

afterAll(async () => {
  await stopChromium();
  await new Promise<void>((resolve) => {
    if (reportServer === undefined) return resolve();
    reportServer.closeAllConnections();
    reportServer.close(() => resolve());
  });
  const code = serve === undefined ? 0 : await serve.stop();
  if (profile !== undefined) rmSync(profile, { recursive: true, force: true });
  if (webRoot !== undefined) rmSync(webRoot, { recursive: true, force: true });
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

describe('Chromium → ghostnet serve /ws', () => {
  it('a page exchanges text, binary and compressed messages over /ws', async () => {
    if (missing) throw missing;
    const listener = await listenForReport();
    profile = mkdtempSync(join(tmpdir(), 'ghostnet-chromium-'));
    const pageUrl = `${serve!.url}/index.html?report=${encodeURIComponent(listener.url)}`;
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
        pageUrl,
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
          `ghostnet serve stderr:\n${serve!.stderr()}`,
      );
    } finally {
      clearTimeout(timer);
      exitedEarly.catch(() => {});
      await stopChromium();
    }

    expect(report.error, JSON.stringify(report, null, 2)).toBeUndefined();
    expect(report.done).toBe(true);
    expect(report.userAgent).toMatch(/Chrom/);
    // Chromium always offers permessage-deflate; ghostnet serve accepts it.
    expect(report.extensions).toMatch(/^permessage-deflate\b/);
    expect(report.protocol).toBe('');
    expect(report.checks.map((c) => c.name)).toEqual([
      'text',
      'empty text',
      'binary',
      'empty binary',
      'blob',
      'compressible text',
      'large text',
      'random binary 1 MiB',
      'burst of 50 in order',
    ]);
    for (const check of report.checks) expect(check, check.name).toMatchObject({ ok: true });
    expect(report.checks.find((c) => c.name === 'binary')).toMatchObject({ type: 'arraybuffer' });
    // §5.5.1: the reply echoes the code (echoing the reason is optional).
    expect(report.close).toMatchObject({ code: 4000, wasClean: true });
  });
});
