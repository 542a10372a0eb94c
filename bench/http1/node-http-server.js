// The peer: node:http answering GET /hello with the same response ghostnet serve sends.
import http from 'node:http';

const body = Buffer.from('Hello, World!');
const server = http.createServer((req, res) => {
  if (req.url === '/hello') {
    res.writeHead(200, {
      'content-type': 'text/plain; charset=utf-8',
      'content-length': body.length,
    });
    res.end(body);
  } else {
    res.writeHead(404, { 'content-length': 0 });
    res.end();
  }
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
});
process.on('SIGTERM', () => process.exit(0));
