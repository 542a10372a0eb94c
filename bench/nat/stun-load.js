// A STUN load generator: one UDP socket (node:dgram, the same for both servers) keeps
// WINDOW Binding requests in flight and counts answered transactions over DURATION ms after
// a 1 s warm-up; a request unanswered for 200 ms is replaced (counted as lost). Requests
// are the bare 20-byte header with a fresh transaction id (a random prefix and a counter),
// so the generator spends as little as possible per transaction and the servers are what
// is measured. Prints {"tps": N, "lost": M}.
// Usage: node bench/nat/stun-load.js PORT [WINDOW] [DURATION]
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';

const port = Number(process.argv[2]);
const WINDOW = Number(process.argv[3] ?? 64);
const DURATION = Number(process.argv[4] ?? process.env.BENCH_DURATION ?? 5000);
const socket = dgram.createSocket('udp4');
const inflight = new Map();
let seq = 0;
let answered = 0;
let lost = 0;
let counting = false;
const prefix = randomBytes(8);

function sendOne() {
  const msg = Buffer.alloc(20);
  msg.writeUInt16BE(0x0001, 0); // Binding request
  msg.writeUInt32BE(0x2112a442, 4);
  prefix.copy(msg, 8);
  const id = ++seq >>> 0;
  msg.writeUInt32BE(id, 16);
  inflight.set(id, Date.now());
  socket.send(msg, port, '127.0.0.1');
}

socket.on('message', (buf) => {
  // A Binding success response whose transaction id is one of ours.
  if (buf.length < 20 || buf.readUInt16BE(0) !== 0x0101 || buf.compare(prefix, 0, 8, 8, 16) !== 0)
    return;
  if (!inflight.delete(buf.readUInt32BE(16))) return;
  if (counting) answered++;
  sendOne();
});

socket.bind(0, '127.0.0.1', () => {
  for (let i = 0; i < WINDOW; i++) sendOne();
  const sweep = setInterval(() => {
    const now = Date.now();
    for (const [id, at] of inflight) {
      if (now - at > 200) {
        inflight.delete(id);
        if (counting) lost++;
        sendOne();
      }
    }
  }, 50);
  setTimeout(() => {
    counting = true;
    const start = Date.now();
    setTimeout(() => {
      const secs = (Date.now() - start) / 1000;
      clearInterval(sweep);
      process.stdout.write(`${JSON.stringify({ tps: answered / secs, lost })}\n`);
      socket.close();
    }, DURATION);
  }, 1000);
});
