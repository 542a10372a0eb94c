/**
 * The python `websockets` library (Debian python3-websockets, run by Debian's
 * /usr/bin/python3) against `ghostnet serve`'s /ws echo endpoint: text, binary, empty,
 * large, compressible and fragmented messages, ping and close, with and without
 * permessage-deflate. The script (fixtures/ws-client.py) reports JSON; this file asserts.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServe } from '../helpers/serve-process.js';
import type { ServeProcess } from '../helpers/serve-process.js';

const PYTHON = '/usr/bin/python3';
const SCRIPT = fileURLToPath(new URL('./fixtures/ws-client.py', import.meta.url));
const MISSING = 'python3-websockets is missing: run scripts/install-peers.sh';

interface Case {
  name: string;
  sentType: string;
  recvType: string;
  sentLen: number;
  recvLen: number;
  sentSha: string;
  recvSha: string;
}

interface Report {
  version: string;
  compression: boolean;
  extensions?: string[];
  extensionsHeader?: string | null;
  cases: Case[];
  pong: boolean;
  closeCode?: number;
  closeReason?: string;
  error?: string;
}

function run(
  cmd: string,
  args: string[],
  timeoutMs: number,
): Promise<{ stdout: string; stderr: string; code: number | string }> {
  return new Promise((resolve) => {
    execFile(
      cmd,
      args,
      { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        const code = err ? ((err as { code?: number | string }).code ?? 'killed') : 0;
        resolve({ stdout, stderr, code });
      },
    );
  });
}

let serve: ServeProcess | undefined;
let version = '';
/** Set when the peer is absent: every test then fails with it (never skipped). */
let missing: Error | undefined;

beforeAll(async () => {
  const probe = await run(
    PYTHON,
    ['-c', 'import websockets; print(websockets.__version__)'],
    20_000,
  );
  if (probe.code !== 0) {
    missing = new Error(`${MISSING}\n${probe.stderr}`);
    return;
  }
  version = probe.stdout.trim();
  serve = await startServe();
});

afterAll(async () => {
  if (serve === undefined) return;
  const code = await serve.stop();
  expect(code).toBe(0);
});

async function runClient(compression: boolean): Promise<Report> {
  if (missing) throw missing;
  const url = `${serve!.url.replace(/^http/, 'ws')}/ws`;
  const args = [SCRIPT, url, ...(compression ? [] : ['--no-compression'])];
  const r = await run(PYTHON, args, 100_000);
  let report: Report;
  try {
    report = JSON.parse(r.stdout) as Report;
  } catch {
    throw new Error(`ws-client.py printed no JSON (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  }
  expect(report.error, `ws-client.py failed; stderr:\n${r.stderr}`).toBeUndefined();
  expect(r.code).toBe(0);
  return report;
}

describe.each([
  ['with permessage-deflate', true],
  ['without permessage-deflate', false],
])('python websockets → ghostnet serve /ws, %s', (_label, compression) => {
  it('echoes every message with its type and bytes, answers ping, echoes the close code', async () => {
    const report = await runClient(compression);
    expect(report.version).toBe(version);
    if (compression) {
      expect(report.extensions).toEqual(['permessage-deflate']);
      expect(report.extensionsHeader).toMatch(/^permessage-deflate\b/);
    } else {
      expect(report.extensions).toEqual([]);
      expect(report.extensionsHeader ?? null).toBeNull();
    }
    expect(report.cases.map((c) => c.name)).toEqual([
      'text',
      'binary',
      'empty text',
      'empty binary',
      'compressible text',
      'random binary 1 MiB',
      'text 4 MiB',
      'fragmented text',
      'fragmented binary',
    ]);
    for (const c of report.cases) {
      expect({ name: c.name, type: c.recvType, len: c.recvLen, sha: c.recvSha }).toEqual({
        name: c.name,
        type: c.sentType,
        len: c.sentLen,
        sha: c.sentSha,
      });
    }
    expect(report.cases.find((c) => c.name === 'text 4 MiB')!.sentLen).toBeGreaterThan(4_000_000);
    expect(report.pong).toBe(true);
    expect(report.closeCode).toBe(4000);
  });
});
