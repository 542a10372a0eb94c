// Opens COUNT idle WebSockets (the `ws` client, no permessage-deflate) to a server in
// batches of 200, prints {"held": N, "failed": M} once every handshake has finished, and
// keeps them open until SIGTERM (or a 120 s limit). Usage: node hold-connections.js PORT COUNT
import WebSocket from 'ws';

const [port, count] = process.argv.slice(2).map(Number);
const BATCH = 200;
const sockets = [];
let held = 0;
let failed = 0;
setTimeout(() => process.exit(1), 120_000).unref();
const openLimit = setTimeout(() => {
  process.stdout.write(`${JSON.stringify({ held, failed, timedOut: true })}\n`);
}, 60_000);

function openOne() {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: false });
    sockets.push(ws);
    ws.once('open', () => {
      held++;
      resolve();
    });
    ws.on('error', () => {
      if (ws.readyState !== WebSocket.OPEN) failed++;
      resolve();
    });
  });
}

for (let i = 0; i < count; i += BATCH) {
  const batch = [];
  for (let j = i; j < Math.min(count, i + BATCH); j++) batch.push(openOne());
  await Promise.all(batch);
}
clearTimeout(openLimit);
process.stdout.write(`${JSON.stringify({ held, failed })}\n`);
// An interval keeps the process alive even if every socket were to close.
setInterval(() => {}, 1000);
process.on('SIGTERM', () => {
  for (const ws of sockets) ws.terminate();
  process.exit(0);
});
