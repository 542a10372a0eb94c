// A STUN load generator: one UDP socket (node:dgram, the same for both servers) keeps
// WINDOW Binding requests in flight and counts answered transactions over DURATION ms after
// a 1 s warm-up; a request unanswered for 200 ms is replaced (counted as lost). Requests
// are the bare 20-byte header with a fresh transaction id (a random prefix and a counter),
// so the generator spends as little as possible per transaction and the servers are what
// is measured: requests come from node's buffer pool, the send skips dns.lookup for the
// literal address (which would cost a tick per datagram), and the clock is read by the
// 50 ms sweep rather than per request. Prints {"tps": N, "lost": M}.
// Usage: node bench/nat/stun-load.js PORT [WINDOW] [DURATION]
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';

const port = Number(process.argv[2]);
const WINDOW = Number(process.argv[3] ?? 64);
const DURATION = Number(process.argv[4] ?? process.env.BENCH_DURATION ?? 5000);
// The destination is a literal: answer dgram's lookup at once instead of a tick later.
const lookup = (address, _family, callback) => callback(null, address, 4);
const socket = dgram.createSocket({ type: 'udp4', lookup });
const inflight = new Map();
let seq = 0;
let answered = 0;
let lost = 0;
let counting = false;
const prefix = randomBytes(8);
/** Updated by the sweep every 50 ms: loss is judged at 200 ms, a coarse clock is enough. */
let now = Date.now();

function sendOne() {
  const msg = Buffer.allocUnsafe(20);
  msg.writeUInt16BE(0x0001, 0); // Binding request
  msg.writeUInt16BE(0, 2); // no attributes
  msg.writeUInt32BE(0x2112a442, 4);
  prefix.copy(msg, 8);
  const id = ++seq >>> 0;
  msg.writeUInt32BE(id, 16);
  inflight.set(id, now);
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
    now = Date.now();
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
