// The one load generator for both servers: the `ws` package's client, so the client side is
// identical whichever server answers. Opens CONNECTIONS WebSockets, keeps exactly one
// message in flight on each (send, wait for the echo, send again) for WARMUP + DURATION ms,
// and records the round-trip time of every message echoed during DURATION into a
// preallocated array. Prints one JSON line:
//   {messagesPerSec, mbPerSec, p50Ms, p99Ms, messages, clientCpuPct}
// Usage: node echo-client.js PORT CONNECTIONS SIZE DURATION_MS [binary|json] [--deflate]
//   binary: SIZE random bytes per message (binary frames);
//   json:   SIZE bytes of JSON-like text (text frames; compressible, varied per message).
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';

const [port, connections, size, durationMs] = process.argv.slice(2, 6).map(Number);
const kind = process.argv[6] ?? 'binary';
const deflate = process.argv.includes('--deflate');
const WARMUP_MS = Math.min(1000, durationMs / 4);
const MAX_SAMPLES = 8_000_000; // 32 MiB of Float32; far above 10 s at 200k messages/s
const OPEN_BATCH = 64;
const HARD_LIMIT_MS = 30_000 + WARMUP_MS + durationMs;

if (![port, connections, size, durationMs].every((n) => Number.isInteger(n) && n > 0)) {
  console.error(
    'usage: echo-client.js PORT CONNECTIONS SIZE DURATION_MS [binary|json] [--deflate]',
  );
  process.exit(2);
}

const hardLimit = setTimeout(() => {
  console.error('echo-client: hard time limit reached');
  process.exit(1);
}, HARD_LIMIT_MS);

/** Messages to send: a few distinct ones, rotated, so compression sees varied input. */
function makeMessages() {
  const out = [];
  for (let m = 0; m < 16; m++) {
    if (kind === 'binary') {
      const b = Buffer.alloc(size);
      for (let i = 0; i < size; i++) b[i] = (i * 31 + m * 7) & 0xff;
      out.push(b);
      continue;
    }
    const rows = [];
    let len = 2;
    for (let i = 0; len < size; i++) {
      const row = JSON.stringify({
        id: m * 100_000 + i,
        user: `user-${(i * 7919 + m) % 5003}`,
        status: ['active', 'idle', 'away'][(i + m) % 3],
        score: ((i * 37 + m * 11) % 1000) / 10,
        tags: ['alpha', 'beta', 'gamma', 'delta'].slice(0, 1 + ((i + m) % 4)),
      });
      rows.push(row);
      len += row.length + 1;
    }
    let text = `[${rows.join(',')}]`;
    // Trim to exactly SIZE bytes (ASCII); the payload need not stay valid JSON.
    text = text.length > size ? text.slice(0, size) : text.padEnd(size, ' ');
    out.push(text);
  }
  return out;
}

const messages = makeMessages();
const samples = new Float32Array(MAX_SAMPLES);
let recorded = 0;
let phase = 'warmup'; // warmup → measure → done
let measureStart = 0;
let measureEnd = 0;
let errors = 0;
let badEchoes = 0;
const sockets = [];

function openOne() {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: deflate });
    ws.binaryType = 'nodebuffer';
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

function drive(ws, index) {
  let sentAt = 0;
  let n = index;
  const sendNext = () => {
    const msg = messages[n++ & 15];
    sentAt = performance.now();
    ws.send(msg, { binary: kind === 'binary' });
  };
  ws.on('message', (data) => {
    const now = performance.now();
    if (data.length !== size) badEchoes++;
    if (phase === 'measure' && recorded < MAX_SAMPLES) samples[recorded++] = now - sentAt;
    if (phase !== 'done') sendNext();
  });
  ws.on('error', () => errors++);
  sendNext();
}

for (let i = 0; i < connections; i += OPEN_BATCH) {
  const batch = [];
  for (let j = i; j < Math.min(connections, i + OPEN_BATCH); j++) batch.push(openOne());
  sockets.push(...(await Promise.all(batch)));
}
if (deflate && sockets.some((ws) => !ws.extensions.includes('permessage-deflate'))) {
  console.error('echo-client: permessage-deflate was not agreed');
  process.exit(1);
}

sockets.forEach(drive);
await new Promise((r) => setTimeout(r, WARMUP_MS));
phase = 'measure';
measureStart = performance.now();
const cpuStart = process.cpuUsage();
await new Promise((r) => setTimeout(r, durationMs));
phase = 'done';
measureEnd = performance.now();
const cpu = process.cpuUsage(cpuStart);

const seconds = (measureEnd - measureStart) / 1000;
const sorted = samples.subarray(0, recorded).sort();
const pct = (p) =>
  recorded === 0 ? NaN : sorted[Math.min(recorded - 1, Math.floor(p * recorded))];
const result = {
  messagesPerSec: recorded / seconds,
  mbPerSec: (recorded * size) / seconds / 1e6,
  p50Ms: pct(0.5),
  p99Ms: pct(0.99),
  messages: recorded,
  clientCpuPct: ((cpu.user + cpu.system) / 1e3 / (measureEnd - measureStart)) * 100,
  errors,
  badEchoes,
};
process.stdout.write(`${JSON.stringify(result)}\n`);
clearTimeout(hardLimit);
for (const ws of sockets) ws.terminate();
process.exit(0);
