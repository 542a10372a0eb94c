// The peer: node:http2 answering GET /hello with the same response as ghostnet-server.js
// ("Hello, World!", text/plain, content-length; node adds date like ghostnet does).
// `--tls CERT KEY`: createSecureServer (ALPN h2), else h2c with prior knowledge.
// `--compat`: the request/response compatibility API instead of the 'stream' API (the
// stream API is node's faster one and the default here). Prints {"port": N}.
import { readFileSync } from 'node:fs';
import http2 from 'node:http2';

const HELLO = Buffer.from('Hello, World!');
const tlsAt = process.argv.indexOf('--tls');
const compat = process.argv.includes('--compat');
const server =
  tlsAt >= 0
    ? http2.createSecureServer({
        cert: readFileSync(process.argv[tlsAt + 1]),
        key: readFileSync(process.argv[tlsAt + 2]),
      })
    : http2.createServer();

if (compat) {
  server.on('request', (req, res) => {
    if (req.url === '/hello') {
      res.writeHead(200, {
        'content-type': 'text/plain; charset=utf-8',
        'content-length': HELLO.length,
      });
      res.end(HELLO);
    } else {
      res.writeHead(404);
      res.end();
    }
  });
} else {
  server.on('stream', (stream, headers) => {
    stream.on('error', () => {});
    if (headers[':path'] === '/hello') {
      stream.respond({
        ':status': 200,
        'content-type': 'text/plain; charset=utf-8',
        'content-length': HELLO.length,
      });
      stream.end(HELLO);
    } else {
      stream.respond({ ':status': 404 });
      stream.end();
    }
  });
}
server.on('sessionError', () => {});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
});
process.on('SIGTERM', () => process.exit(0));
