// The runtime's ceiling: a node:net server that writes one canned response per request
// head (counted by the CRLFCRLF that ends it), without parsing anything else. Correct only
// for bodiless requests such as wrk's GETs; it is a yardstick, not a server.
import net from 'node:net';

const response = Buffer.from(
  'HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 13\r\n' +
    'Date: Sun, 22 Nov 2026 00:00:00 GMT\r\n\r\nHello, World!',
);
const server = net.createServer({ noDelay: true }, (socket) => {
  let matched = 0; // bytes of "\r\n\r\n" matched so far, across chunk boundaries
  socket.on('data', (chunk) => {
    let count = 0;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i];
      if (b === (matched & 1 ? 0x0a : 0x0d)) {
        matched++;
        if (matched === 4) {
          count++;
          matched = 0;
        }
      } else {
        matched = b === 0x0d ? 1 : 0;
      }
    }
    if (count === 1) socket.write(response);
    else if (count > 1) {
      const out = Buffer.allocUnsafe(response.length * count);
      for (let i = 0; i < count; i++) response.copy(out, i * response.length);
      socket.write(out);
    }
  });
  socket.on('error', () => {});
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
});
process.on('SIGTERM', () => process.exit(0));
