// ghostnet's HTTP/2 server for the benchmark: `listenHttp2` from the compiled dist/ (run
// `npm run build` first) with the same handler as node-server.js: GET /hello →
// "Hello, World!" (text/plain), 404 otherwise. h2c with prior knowledge, or h2 over TLS
// (ALPN) with `--tls CERT KEY`. Prints {"port": N} once listening; exits on SIGTERM.
import { readFileSync } from 'node:fs';
import { listenHttp2 } from '../../dist/protocols/http2/server.js';

const HELLO = new TextEncoder().encode('Hello, World!');
const tlsAt = process.argv.indexOf('--tls');
const tls =
  tlsAt >= 0
    ? {
        certificates: [
          {
            cert: readFileSync(process.argv[tlsAt + 1]),
            key: readFileSync(process.argv[tlsAt + 2]),
          },
        ],
      }
    : undefined;

const server = await listenHttp2(
  { host: '127.0.0.1', port: 0, ...(tls ? { tls } : {}) },
  (req, res) => {
    if (req.path === '/hello') {
      res.headers.set('content-type', 'text/plain; charset=utf-8');
      res.end(HELLO);
    } else {
      res.status = 404;
      res.end();
    }
  },
);
process.stdout.write(`${JSON.stringify({ port: server.address.port })}\n`);
process.on('SIGTERM', () => process.exit(0));
