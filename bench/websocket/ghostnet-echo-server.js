// ghostnet's WebSocket echo server for the benchmark: listenHttp1 + WebSocketServer from the
// compiled dist/ (run `npm run build` first). Every message goes back as it came (binary
// stays binary, text stays text). `--deflate` enables permessage-deflate with the defaults.
// Prints {"port": N} once listening; exits on SIGTERM.
import { listenHttp1 } from '../../dist/protocols/http1/server.js';
import { WebSocketServer } from '../../dist/protocols/websocket/server.js';

const deflate = process.argv.includes('--deflate');
// Room for the 10,000 idle connections of the RSS measurement (the default cap is 10,000).
const MAX_CONNECTIONS = 20_000;

// textAs 'bytes': text messages arrive as their UTF-8 bytes, as ws's server hands them out
// (Buffers), so both echo handlers send back what they got without decoding it.
const wss = new WebSocketServer(
  { perMessageDeflate: deflate, maxConnections: MAX_CONNECTIONS, textAs: 'bytes' },
  (ws) => {
    // The same handler as the ws server's: send() during the close handshake drops the
    // message and returns false instead of throwing.
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    ws.on('error', () => {});
  },
);
const server = await listenHttp1(
  { host: '127.0.0.1', port: 0, maxConnections: MAX_CONNECTIONS, onUpgrade: wss.upgrade },
  (_req, res) => res.end('WebSocket echo server\n'),
);
process.stdout.write(`${JSON.stringify({ port: server.address.port })}\n`);
process.on('SIGTERM', () => process.exit(0));
