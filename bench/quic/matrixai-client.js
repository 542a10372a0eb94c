// @matrixai/quic's QUICClient as the benchmark baseline client (modes as ghostnet-client.js).
// Usage: node bench/quic/matrixai-client.js PORT MODE ARGS…
import { randomFillSync } from 'node:crypto';
import matrixai from '@matrixai/quic';
import loggerPkg from '@matrixai/logger';
import { CHUNK, WINDOWS, report, selfCpuMs } from './common.js';

const { QUICClient } = matrixai;

const [portArg, mode, a, b] = process.argv.slice(2);
const port = Number(portArg);
const config = {
  verifyPeer: false,
  applicationProtos: ['bench'],
  initialMaxData: WINDOWS.initialMaxData,
  initialMaxStreamDataBidiLocal: WINDOWS.initialMaxStreamData,
  initialMaxStreamDataBidiRemote: WINDOWS.initialMaxStreamData,
  maxIdleTimeout: 30_000,
};
const crypto = { ops: { randomBytes: async (data) => void randomFillSync(new Uint8Array(data)) } };
// Its default logger prints lifecycle lines at INFO; warnings only, as ours.
const logger = new loggerPkg.default('bench', loggerPkg.LogLevel.WARN);
const connect = () =>
  QUICClient.createQUICClient({
    host: '127.0.0.1',
    port,
    localHost: '127.0.0.1',
    crypto,
    config,
    logger,
  });
const chunk = new Uint8Array(CHUNK).fill(7);

async function send(client, bytes) {
  const stream = client.connection.newStream();
  const w = stream.writable.getWriter();
  for (let sent = 0; sent < bytes; sent += chunk.length) await w.write(chunk);
  await w.close();
  let reply = 0;
  for await (const c of stream.readable) reply += c.byteLength;
  if (reply !== 8) throw new Error('bad reply');
}

if (mode === 'setup') {
  const times = [];
  for (let i = 0; i < Number(a); i++) {
    const t0 = performance.now();
    const client = await connect();
    times.push(performance.now() - t0);
    await client.destroy({ force: true });
  }
  times.sort((x, y) => x - y);
  report({ medianMs: times[times.length >> 1], p90Ms: times[Math.floor(times.length * 0.9)] });
} else {
  const streams = mode === 'bulk' ? 1 : Number(a);
  const mib = Number(mode === 'bulk' ? a : b);
  const client = await connect();
  const cpu0 = selfCpuMs();
  const t0 = performance.now();
  await Promise.all(Array.from({ length: streams }, () => send(client, mib << 20)));
  const ms = performance.now() - t0;
  report({
    mibPerS: (streams * mib) / (ms / 1000),
    ms,
    mib: streams * mib,
    clientCpuMs: selfCpuMs() - cpu0,
  });
  await client.destroy({ force: true });
}
process.exit(0);
