// TCP + TLS reference client (modes as ghostnet-client.js; "streams" are N connections).
// Usage: node bench/quic/tls-client.js PORT MODE ARGS…
import tls from 'node:tls';
import { CHUNK, report, selfCpuMs } from './common.js';

const [portArg, mode, a, b] = process.argv.slice(2);
const port = Number(portArg);
const connect = () =>
  new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => resolve(s));
    s.once('error', reject);
  });
const chunk = new Uint8Array(CHUNK).fill(7);

async function send(bytes) {
  const s = await connect();
  return new Promise((resolve, reject) => {
    let reply = 0;
    s.on('data', (d) => (reply += d.length));
    s.on('end', () => (reply === 8 ? resolve() : reject(new Error('bad reply'))));
    let sent = 0;
    const pump = () => {
      while (sent < bytes) {
        sent += chunk.length;
        if (!s.write(chunk)) return void s.once('drain', pump);
      }
      s.end();
    };
    pump();
  });
}

if (mode === 'setup') {
  const times = [];
  for (let i = 0; i < Number(a); i++) {
    const t0 = performance.now();
    const s = await connect();
    times.push(performance.now() - t0);
    s.destroy();
  }
  times.sort((x, y) => x - y);
  report({ medianMs: times[times.length >> 1], p90Ms: times[Math.floor(times.length * 0.9)] });
} else {
  const streams = mode === 'bulk' ? 1 : Number(a);
  const mib = Number(mode === 'bulk' ? a : b);
  const cpu0 = selfCpuMs();
  const t0 = performance.now();
  await Promise.all(Array.from({ length: streams }, () => send(mib << 20)));
  const ms = performance.now() - t0;
  report({
    mibPerS: (streams * mib) / (ms / 1000),
    ms,
    mib: streams * mib,
    clientCpuMs: selfCpuMs() - cpu0,
  });
}
process.exit(0);
