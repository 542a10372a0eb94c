/**
 * Headless Chromium (Debian's chromium) loads a page from `ghostnet serve --static` that
 * connects to /ws, exchanges text, binary (ArrayBuffer and Blob) and compressible messages
 * with the echo endpoint, and POSTs a JSON report to a loopback listener of this test
 * (`--dump-dom` does not wait for WebSocket traffic, so the page reports by itself).
 */
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServe } from '../helpers/serve-process.js';
import type { ServeProcess } from '../helpers/serve-process.js';
import { chromiumMissing, launchChromium, listenForReport } from '../helpers/chromium.js';
import type { ChromiumRun, ReportListener } from '../helpers/chromium.js';

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
let chromium: ChromiumRun | undefined;
let listener: ReportListener<PageReport> | undefined;
/** Set when the peer is absent: the test then fails with it (never skipped). */
let missing: Error | undefined;

beforeAll(async () => {
  missing = chromiumMissing();
  if (missing) return;
  webRoot = mkdtempSync(join(tmpdir(), 'ghostnet-ws-page-'));
  copyFileSync(PAGE, join(webRoot, 'index.html'));
  serve = await startServe(['--static', webRoot]);
});

afterAll(async () => {
  await chromium?.stop();
  await listener?.close();
  const code = serve === undefined ? 0 : await serve.stop();
  if (webRoot !== undefined) rmSync(webRoot, { recursive: true, force: true });
  expect(code).toBe(0);
});

describe('Chromium → ghostnet serve /ws', () => {
  it('a page exchanges text, binary and compressed messages over /ws', async () => {
    if (missing) throw missing;
    listener = await listenForReport<PageReport>();
    const pageUrl = `${serve!.url}/index.html?report=${encodeURIComponent(listener.url)}`;
    chromium = launchChromium(pageUrl);
    let report: PageReport;
    try {
      report = await chromium.awaitReport(
        listener.report,
        REPORT_TIMEOUT_MS,
        () => `ghostnet serve stderr:\n${serve!.stderr()}`,
      );
    } finally {
      await chromium.stop();
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
