// The reference: TCP + TLS 1.3 from node:tls, same protocol (a connection per request
// stream). Usage: node bench/quic/tls-server.js CERT KEY
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import { countBytes } from './common.js';

const [cert, key] = process.argv.slice(2).map((p) => readFileSync(p));
const server = tls.createServer({ cert, key, minVersion: 'TLSv1.3' }, (sock) => {
  let n = 0;
  sock.on('data', (d) => (n += d.length));
  sock.on('end', () => sock.end(countBytes(n)));
  sock.on('error', () => {});
});
server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: server.address().port })));
process.on('SIGTERM', () => process.exit(0));
