// The peer: the `ws` package's WebSocketServer (bufferutil installed, so masking runs
// native), echoing every message as it came. `--deflate` enables permessage-deflate with
// ws's defaults (the same settings ghostnet's defaults use). Prints {"port": N}.
import { WebSocketServer } from 'ws';

const deflate = process.argv.includes('--deflate');
const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: deflate });
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('error', () => {});
});
wss.on('listening', () => {
  process.stdout.write(`${JSON.stringify({ port: wss.address().port })}\n`);
});
process.on('SIGTERM', () => process.exit(0));
