// ghostnet's QUIC endpoint as the benchmark client.
// Usage: node bench/quic/ghostnet-client.js PORT MODE ARGS…
//   bulk MIB          one stream carrying MIB MiB
//   streams N MIB     N concurrent streams of MIB MiB each, on one connection
//   setup COUNT       COUNT sequential connections (handshake to established), then closed
import { QuicEndpoint } from '../../dist/transport/quic.js';
import { CHUNK, WINDOWS, report, selfCpuMs } from './common.js';

const [portArg, mode, a, b] = process.argv.slice(2);
const port = Number(portArg);
const ep = await QuicEndpoint.create();
const opts = {
  host: '127.0.0.1',
  port,
  verifyPeer: false,
  alpn: ['bench'],
  initialMaxData: WINDOWS.initialMaxData,
  initialMaxStreamData: WINDOWS.initialMaxStreamData,
};
const chunk = new Uint8Array(CHUNK).fill(7);

function send(conn, bytes) {
  return new Promise((resolve, reject) => {
    const s = conn.openStream();
    let sent = 0;
    let reply = 0;
    s.on('data', (d) => (reply += d.length));
    s.on('end', () => (reply === 8 ? resolve() : reject(new Error('bad reply'))));
    s.on('error', reject);
    const pump = () => {
      while (sent < bytes) {
        sent += chunk.length;
        if (!s.write(chunk)) {
          s.once('drain', pump);
          return;
        }
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
    const conn = await ep.connect(opts);
    times.push(performance.now() - t0);
    conn.destroy();
  }
  times.sort((x, y) => x - y);
  report({ medianMs: times[times.length >> 1], p90Ms: times[Math.floor(times.length * 0.9)] });
} else {
  const streams = mode === 'bulk' ? 1 : Number(a);
  const mib = Number(mode === 'bulk' ? a : b);
  const conn = await ep.connect(opts);
  const cpu0 = selfCpuMs();
  const t0 = performance.now();
  await Promise.all(Array.from({ length: streams }, () => send(conn, mib << 20)));
  const ms = performance.now() - t0;
  report({
    mibPerS: (streams * mib) / (ms / 1000),
    ms,
    mib: streams * mib,
    clientCpuMs: selfCpuMs() - cpu0,
  });
  conn.destroy();
}
await ep.close();
