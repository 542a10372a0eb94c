/**
 * Drives Debian's headless Chromium for browser interop tests: a page is loaded, does its
 * work, and POSTs a JSON report to a listener the test runs on loopback.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const CHROMIUM = '/usr/bin/chromium';

/** An error to fail with when the browser is absent (tests never skip for it). */
export function chromiumMissing(): Error | undefined {
  return existsSync(CHROMIUM)
    ? undefined
    : new Error(`${CHROMIUM} is missing: run scripts/install-peers.sh (Debian chromium)`);
}

export interface ReportListener<T> {
  /** Where the page POSTs its report. */
  readonly url: string;
  /** The first POSTed body, parsed as JSON. */
  readonly report: Promise<T>;
  close(): Promise<void>;
}

/** Listens on 127.0.0.1 for the page's one POST (CORS-open, answered 204). */
export async function listenForReport<T>(): Promise<ReportListener<T>> {
  let deliver!: (r: T) => void;
  let fail!: (e: Error) => void;
  const report = new Promise<T>((resolve, reject) => {
    deliver = resolve;
    fail = reject;
  });
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      res.writeHead(204, { 'access-control-allow-origin': '*' });
      res.end();
      if (req.method !== 'POST') return;
      try {
        deliver(JSON.parse(Buffer.concat(chunks).toString('utf8')) as T);
      } catch (err) {
        fail(err as Error);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/report`,
    report,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface ChromiumRun {
  readonly child: ChildProcess;
  /** The tail of the browser's stdout and stderr, for failure messages. */
  log(): string;
  /**
   * Waits for `report` and fails, with the browser's output and `context()`, if the
   * browser exits first or nothing arrives within `timeoutMs`.
   */
  awaitReport<T>(report: Promise<T>, timeoutMs: number, context: () => string): Promise<T>;
  /** Kills the browser's whole process group (bounded wait) and removes its profile. */
  stop(): Promise<void>;
}

/**
 * Starts headless Chromium on `pageUrl` with a fresh profile and the flags this machine
 * needs (no sandbox as root, no background networking: the network is closed), plus
 * `extraArgs` (e.g. `--ignore-certificate-errors` for a test certificate).
 */
export function launchChromium(pageUrl: string, extraArgs: readonly string[] = []): ChromiumRun {
  const profile = mkdtempSync(join(tmpdir(), 'ghostnet-chromium-'));
  const child = spawn(
    CHROMIUM,
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      // QUIC stays off unless the test asks for it with --enable-quic (HTTP/3 tests).
      ...(extraArgs.includes('--enable-quic') ? [] : ['--disable-quic']),
      '--disable-dev-shm-usage',
      '--no-first-run',
      '--no-default-browser-check',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-extensions',
      ...extraArgs,
      `--user-data-dir=${profile}`,
      pageUrl,
    ],
    // detached: the browser leads its own process group (renderer, GPU and utility children).
    { stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  let output = '';
  const log = (chunk: Buffer): void => {
    output = (output + chunk.toString('utf8')).slice(-20_000);
  };
  child.stdout!.on('data', log);
  child.stderr!.on('data', log);
  let stopped: Promise<void> | undefined;

  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          child.kill('SIGKILL');
        }
        await Promise.race([exited, new Promise<void>((resolve) => setTimeout(resolve, 10_000))]);
      }
      rmSync(profile, { recursive: true, force: true });
    })();
    return stopped;
  };

  const awaitReport = async <T>(
    report: Promise<T>,
    timeoutMs: number,
    context: () => string,
  ): Promise<T> => {
    const exitedEarly = new Promise<never>((_, reject) =>
      child.once('exit', (code, signal) =>
        reject(new Error(`chromium exited (${code ?? signal}) before the page reported`)),
      ),
    );
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no report from the page in ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    try {
      return await Promise.race([report, exitedEarly, timeout]);
    } catch (err) {
      throw new Error(
        `${(err as Error).message}\nchromium output (tail):\n${output.slice(-4000)}\n${context()}`,
      );
    } finally {
      clearTimeout(timer);
      exitedEarly.catch(() => {});
    }
  };

  return { child, log: () => output, awaitReport, stop };
}
