// Shared helpers for the benchmark suite: core pinning, child servers, medians and ratios.
import { spawn, execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';

/** The cores we pin to: the server gets one, the load generator the other. */
export const SERVER_CORE = 0;
export const CLIENT_CORE = cpus().length > 1 ? 1 : 0;

let tasksetChecked;
export function hasTaskset() {
  if (tasksetChecked === undefined) {
    try {
      execFileSync('taskset', ['-V'], { stdio: 'ignore' });
      tasksetChecked = true;
    } catch {
      tasksetChecked = false;
    }
  }
  return tasksetChecked;
}

/** Pin the current process (the load generator) to CLIENT_CORE. */
export function pinSelf() {
  if (!hasTaskset()) return false;
  execFileSync('taskset', ['-cp', String(CLIENT_CORE), String(process.pid)], { stdio: 'ignore' });
  return true;
}

/**
 * Start a Node server script pinned to SERVER_CORE. The script prints one line when it
 * listens: JSON `{"port": N}` or text ending in `:N` (`listening on http://127.0.0.1:N`).
 * Resolves to { port, pid, child, stop() }.
 */
export function startServer(script, args = [], { timeoutMs = 10_000 } = {}) {
  const cmd = hasTaskset() ? 'taskset' : process.execPath;
  const argv = hasTaskset()
    ? ['-c', String(SERVER_CORE), process.execPath, script, ...args]
    : [script, ...args];
  const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`server ${script} did not start within ${timeoutMs} ms`));
    }, timeoutMs);
    let buffered = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', function onData(text) {
      buffered += text;
      const newline = buffered.indexOf('\n');
      if (newline < 0) return;
      child.stdout.off('data', onData);
      clearTimeout(timer);
      const line = buffered.slice(0, newline).trim();
      const port = line.startsWith('{')
        ? JSON.parse(line).port
        : Number(/:(\d+)\/?$/.exec(line)?.[1]);
      if (!Number.isInteger(port)) {
        child.kill('SIGKILL');
        return reject(new Error(`server ${script} printed no port: ${line}`));
      }
      resolve({
        port,
        pid: child.pid,
        child,
        stop: () =>
          new Promise((done) => {
            if (child.exitCode !== null) return done();
            child.once('exit', () => done());
            child.kill('SIGTERM');
          }),
      });
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server ${script} exited early with code ${code}`));
    });
  });
}

/** Resident set size of a process in MiB, from /proc (Linux). */
export function rssMiB(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]);
  return kb / 1024;
}

/** Runs a command pinned to CLIENT_CORE; resolves to its stdout. */
export function runPinned(cmd, args, { timeoutMs = 60_000 } = {}) {
  const argv = hasTaskset() ? ['-c', String(CLIENT_CORE), cmd, ...args] : args;
  return new Promise((resolve, reject) => {
    execFile(
      hasTaskset() ? 'taskset' : cmd,
      argv,
      { timeout: timeoutMs, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`${cmd} failed: ${err.message}\n${stderr}`));
        else resolve(stdout);
      },
    );
  });
}

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Run `rounds` alternating measurements of ours and the peer's; ratios of medians. */
export async function alternate(rounds, measureOurs, measurePeer) {
  const ours = [];
  const theirs = [];
  for (let i = 0; i < rounds; i++) {
    // Alternate the order too, so neither side always runs on a warmer machine.
    if (i % 2 === 0) {
      ours.push(await measureOurs());
      theirs.push(await measurePeer());
    } else {
      theirs.push(await measurePeer());
      ours.push(await measureOurs());
    }
  }
  return {
    ours: median(ours),
    theirs: median(theirs),
    ratio: median(ours) / median(theirs),
    oursRuns: ours,
    theirsRuns: theirs,
  };
}

/**
 * Runs a Node script pinned to CLIENT_CORE that prints one JSON line when it is ready
 * (e.g. "10,000 connections are open") and keeps running. `report` resolves with that
 * line while the child still runs, so the server can be measured in that state; `stop()`
 * ends the child.
 */
export function spawnReporter(script, args, { timeoutMs = 90_000 } = {}) {
  const argv = [script, ...args];
  const child = hasTaskset()
    ? spawn('taskset', ['-c', String(CLIENT_CORE), process.execPath, ...argv], {
        stdio: ['ignore', 'pipe', 'inherit'],
      })
    : spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'inherit'] });
  const stop = () =>
    new Promise((done) => {
      if (child.exitCode !== null || child.signalCode !== null) return done();
      const kill = setTimeout(() => child.kill('SIGKILL'), 5_000);
      child.once('exit', () => {
        clearTimeout(kill);
        done();
      });
      child.kill('SIGTERM');
    });
  const report = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script} timed out`)), timeoutMs);
    let text = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk) => {
      text += chunk;
      const nl = text.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      resolve(JSON.parse(text.slice(0, nl)));
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited with ${code}`));
    });
  });
  return { report, stop };
}

/**
 * A throwaway self-signed P-256 certificate for 127.0.0.1 and localhost (openssl CLI), in a
 * new temporary directory: `{ dir, cert, key }` (paths). Remove `dir` when done.
 */
export function makeCert(prefix = 'ghostnet-bench-') {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
    ],
    { stdio: 'ignore' },
  );
  return { dir, cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') };
}
