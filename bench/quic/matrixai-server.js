// @matrixai/quic's QUICServer (its JavaScript layer over the same quiche binding) as the
// benchmark baseline server. Usage: node bench/quic/matrixai-server.js CERT KEY
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import matrixai from '@matrixai/quic';
import loggerPkg from '@matrixai/logger';
import { WINDOWS, countBytes } from './common.js';

const { QUICServer, events } = matrixai;

const [cert, key] = process.argv.slice(2).map((p) => readFileSync(p, 'utf8'));
const hmac = (k, data) => createHmac('sha256', Buffer.from(k)).update(Buffer.from(data)).digest();
// The library reads the ArrayBuffer itself: hand it one that holds exactly the digest.
const exact = (b) => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
// Its default logger prints lifecycle lines at INFO; warnings only, as ours.
const logger = new loggerPkg.default('bench', loggerPkg.LogLevel.WARN);
const server = new QUICServer({
  logger,
  crypto: {
    key: exact(randomBytes(32)),
    ops: {
      sign: async (k, data) => exact(hmac(k, data)),
      verify: async (k, data, sig) => {
        const expected = hmac(k, data);
        return expected.length === sig.byteLength && timingSafeEqual(expected, Buffer.from(sig));
      },
    },
  },
  config: {
    key,
    cert,
    verifyPeer: false,
    applicationProtos: ['bench'],
    initialMaxData: WINDOWS.initialMaxData,
    initialMaxStreamDataBidiLocal: WINDOWS.initialMaxStreamData,
    initialMaxStreamDataBidiRemote: WINDOWS.initialMaxStreamData,
    initialMaxStreamsBidi: 1000,
    maxIdleTimeout: 30_000,
  },
});
server.addEventListener(events.EventQUICServerConnection.name, (evt) => {
  const conn = evt.detail;
  conn.addEventListener(events.EventQUICConnectionStream.name, (e) => {
    const stream = e.detail;
    void (async () => {
      let n = 0;
      for await (const c of stream.readable) n += c.byteLength;
      const w = stream.writable.getWriter();
      await w.write(countBytes(n));
      await w.close();
    })().catch(() => {});
  });
});
await server.start({ host: '127.0.0.1', port: 0 });
process.on('SIGTERM', () => void server.stop({ force: true }).finally(() => process.exit(0)));
console.log(JSON.stringify({ port: server.port }));
