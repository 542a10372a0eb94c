/**
 * Starts `ghostnet serve` (the compiled CLI) as a child process on a free loopback port and
 * waits for its one `listening on http://H:P` line.
 */
import { execFile, spawn } from 'node:child_process';
import type { ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';

export const GHOSTNET_BIN = fileURLToPath(new URL('../../bin/ghostnet.js', import.meta.url));

/** Runs `ghostnet SUBCOMMAND ARGS…` to completion; resolves with its exit code and output. */
export function runGhostnet(
  args: string[],
  timeoutMs = 30_000,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [GHOSTNET_BIN, ...args],
      { timeout: timeoutMs },
      (err, stdout, stderr) => {
        const code = err ? (err as { code?: unknown }).code : 0;
        resolve({ code: typeof code === 'number' ? code : -1, stdout, stderr });
      },
    );
  });
}

export interface ServeProcess {
  readonly child: ChildProcessByStdio<null, Readable, Readable>;
  readonly port: number;
  readonly url: string;
  readonly stderr: () => string;
  /** SIGTERM, then resolves with the exit code (SIGKILL after `graceMs`). */
  stop(graceMs?: number): Promise<number | null>;
}

export function startServe(args: string[] = [], timeoutMs = 15_000): Promise<ServeProcess> {
  const child = spawn(process.execPath, [GHOSTNET_BIN, 'serve', '--port', '0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const errors: string[] = [];
  child.stderr.setEncoding('utf8').on('data', (t: string) => errors.push(t));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`ghostnet serve did not start in ${timeoutMs} ms: ${errors.join('')}`));
    }, timeoutMs);
    let out = '';
    child.stdout.setEncoding('utf8').on('data', function onData(t: string) {
      out += t;
      const nl = out.indexOf('\n');
      if (nl < 0) return;
      child.stdout.off('data', onData);
      clearTimeout(timer);
      const match = /^listening on (https?):\/\/([^\s]+):(\d+)$/.exec(out.slice(0, nl));
      if (!match) {
        child.kill('SIGKILL');
        reject(new Error(`unexpected first line: ${out.slice(0, nl)}`));
        return;
      }
      const port = Number(match[3]);
      resolve({
        child,
        port,
        url: `${match[1]}://${match[2]}:${port}`,
        stderr: () => errors.join(''),
        stop: (graceMs = 10_000) =>
          new Promise((done) => {
            if (child.exitCode !== null) return done(child.exitCode);
            const kill = setTimeout(() => child.kill('SIGKILL'), graceMs);
            child.once('exit', (code) => {
              clearTimeout(kill);
              done(code);
            });
            child.kill('SIGTERM');
          }),
      });
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`ghostnet serve exited early (${code}): ${errors.join('')}`));
    });
  });
}
