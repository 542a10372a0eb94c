// A WebSocket client that stays connected: after a drop it reconnects with full-jitter
// exponential backoff, says hello again on every (re)connection and sends a heartbeat.
// Prints one JSON line per event (open, message, reconnecting, error, closed); SIGINT or
// SIGTERM closes it cleanly (1000) and exits 0.
// Run: node examples/ws-reconnect/index.js ws://127.0.0.1:8080/ws
// (HEARTBEAT_MS sets the heartbeat period, default 10000.)
import { randomUUID } from 'node:crypto';
import { ReconnectingWebSocket } from 'ghostnet/websocket';

const url = process.argv[2];
if (url === undefined || !/^wss?:\/\//.test(url)) {
  console.error('usage: node examples/ws-reconnect/index.js ws://HOST:PORT/PATH');
  process.exit(2);
}
const HEARTBEAT_MS = Number(process.env.HEARTBEAT_MS ?? 10_000);
const client = randomUUID();
const print = (event) => console.log(JSON.stringify({ ...event, at: new Date().toISOString() }));

const rws = new ReconnectingWebSocket(url, {
  handshakeTimeoutMs: 5000,
  // Protocol-level pings too: a silent dead peer is noticed within 20 s + 10 s.
  pingIntervalMs: 20_000,
  pongTimeoutMs: 10_000,
  closeTimeoutMs: 3000,
  backoff: { baseMs: 250, maxMs: 10_000, maxAttempts: 1000 },
});

let connections = 0;
let seq = 0;
let stopping = false;

rws.on('open', () => {
  connections++;
  print({ event: 'open', url: rws.url, connection: connections });
  // State is per connection: the server forgot us, so introduce ourselves again.
  rws.send(JSON.stringify({ type: 'hello', client, connection: connections }));
});
rws.on('message', (data, isBinary) => {
  print(
    isBinary
      ? { event: 'message', binary: true, bytes: data.length }
      : { event: 'message', data: String(data) },
  );
});
rws.on('reconnecting', (attempt, delayMs) => {
  print({ event: 'reconnecting', attempt, delayMs: Math.round(delayMs) });
});
rws.on('error', (err) => print({ event: 'error', error: err.code ?? err.message }));
rws.on('close', (code, reason) => {
  print({ event: 'closed', code, reason, gaveUp: !stopping });
  clearInterval(heartbeat);
  process.exit(stopping ? 0 : 1);
});

const heartbeat = setInterval(() => {
  // send returns false while disconnected: the heartbeat is simply skipped then.
  rws.send(JSON.stringify({ type: 'heartbeat', client, seq: ++seq }));
}, HEARTBEAT_MS);

function stop() {
  if (stopping) return;
  stopping = true;
  rws.close(1000, 'bye');
  // The close handshake is bounded by closeTimeoutMs; this is a last resort.
  setTimeout(() => process.exit(0), 5000).unref();
}
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
