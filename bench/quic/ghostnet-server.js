// ghostnet's QUIC endpoint as the benchmark server (see common.js for the protocol).
// Usage: node bench/quic/ghostnet-server.js CERT KEY
import { readFileSync } from 'node:fs';
import { QuicEndpoint } from '../../dist/transport/quic.js';
import { WINDOWS, countBytes } from './common.js';

const [cert, key] = process.argv.slice(2).map((p) => readFileSync(p));
const ep = await QuicEndpoint.create({
  server: {
    cert,
    key,
    alpn: ['bench'],
    initialMaxData: WINDOWS.initialMaxData,
    initialMaxStreamData: WINDOWS.initialMaxStreamData,
    maxStreamsBidi: 1000,
  },
});
ep.on('connection', (conn) => {
  conn.on('stream', (s) => {
    let n = 0;
    s.on('data', (d) => (n += d.length));
    s.on('end', () => {
      s.write(countBytes(n));
      s.end();
    });
  });
});
process.on('SIGTERM', () => void ep.close().then(() => process.exit(0)));
console.log(JSON.stringify({ port: ep.address.port }));
