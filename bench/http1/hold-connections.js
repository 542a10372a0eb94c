// Opens N keep-alive connections to a server, sends one GET /hello on each, waits for every
// response, and keeps them open until stdin closes or SIGTERM. Prints {"held": N} when done.
import net from 'node:net';

const [port, count] = process.argv.slice(2).map(Number);
const sockets = [];
let answered = 0;
let failed = 0;
const deadline = setTimeout(() => {
  process.stdout.write(`${JSON.stringify({ held: answered, failed, timedOut: true })}\n`);
}, 60_000);
const request = Buffer.from('GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');

function open(i) {
  if (i >= count) return;
  const socket = net.connect({ port, host: '127.0.0.1' });
  sockets.push(socket);
  let done = false;
  socket.on('connect', () => socket.write(request));
  socket.on('data', () => {
    if (done) return;
    done = true;
    answered++;
    if (answered + failed === count) finish();
  });
  socket.on('error', () => {
    if (done) return;
    done = true;
    failed++;
    if (answered + failed === count) finish();
  });
  // Open in small batches so the listen backlog never overflows.
  if (i % 200 === 199) setTimeout(() => open(i + 1), 5);
  else open(i + 1);
}

function finish() {
  clearTimeout(deadline);
  process.stdout.write(`${JSON.stringify({ held: answered, failed })}\n`);
}

open(0);
process.on('SIGTERM', () => process.exit(0));
