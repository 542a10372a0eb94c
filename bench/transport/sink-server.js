// A byte sink: counts what a client sends and, on the client's FIN, answers with the count
// as 8 bytes (big-endian) and closes. argv[2] selects the implementation: 'raw' is
// node:net directly (the peer), 'ghostnet' is ghostnet's TCP transport.
import net from 'node:net';
import { listenTcp } from '../../dist/transport/tcp.js';

const impl = process.argv[2];

function answer(count) {
  const reply = Buffer.alloc(8);
  reply.writeBigUInt64BE(BigInt(count));
  return reply;
}

if (impl === 'raw') {
  const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
    let count = 0;
    socket.on('data', (chunk) => (count += chunk.length));
    socket.on('end', () => socket.end(answer(count)));
    socket.on('error', () => {});
  });
  server.listen(0, '127.0.0.1', () => {
    process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
  });
} else if (impl === 'ghostnet') {
  const server = await listenTcp({ host: '127.0.0.1', port: 0 }, (conn) => {
    let count = 0;
    conn.on('data', (chunk) => (count += chunk.length));
    conn.on('end', () => {
      conn.write(answer(count));
      conn.end();
    });
    conn.on('error', () => {});
  });
  process.stdout.write(`${JSON.stringify({ port: server.address.port })}\n`);
} else {
  process.stderr.write('usage: sink-server.js raw|ghostnet\n');
  process.exit(2);
}
process.on('SIGTERM', () => process.exit(0));
