// TCP throughput: ghostnet's transport against node:net, in one run, alternating.
//
// Two scenarios, each measured as the wall time to move TOTAL bytes and get the count back:
//  - receive: a raw node:net client (pinned to CLIENT_CORE) sends to a sink server (pinned
//    to SERVER_CORE) that is either node:net or ghostnet's listenTcp;
//  - send: a raw node:net sink server; the sender is either node:net or ghostnet's connectTcp.
// Both sides respect backpressure (stop on write() === false, continue on 'drain').
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { connectTcp } from '../../dist/transport/tcp.js';
import { alternate, startServer } from '../lib.js';

const TOTAL = 256 * 1024 * 1024;
const CHUNK = Buffer.alloc(64 * 1024, 0x61);
const ROUNDS = 7;
const ROUND_TIMEOUT_MS = 30_000;
const sinkScript = fileURLToPath(new URL('./sink-server.js', import.meta.url));

function withTimeout(promise, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${what} exceeded ${ROUND_TIMEOUT_MS} ms`)),
        ROUND_TIMEOUT_MS,
      );
    }),
  ]).finally(() => clearTimeout(timer));
}

function checkReply(reply) {
  const count = Number(Buffer.concat(reply).readBigUInt64BE(0));
  if (count !== TOTAL) throw new Error(`sink counted ${count} bytes, expected ${TOTAL}`);
}

/** Raw node:net sender. Resolves to seconds elapsed. */
function sendRaw(port) {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const socket = net.connect({ port, host: '127.0.0.1', noDelay: true, allowHalfOpen: true });
    const reply = [];
    let sent = 0;
    const pump = () => {
      while (sent < TOTAL) {
        sent += CHUNK.length;
        if (!socket.write(CHUNK)) return socket.once('drain', pump);
      }
      socket.end();
    };
    socket.on('connect', pump);
    socket.on('data', (c) => reply.push(c));
    socket.on('end', () => {
      try {
        checkReply(reply);
        resolve(Number(process.hrtime.bigint() - start) / 1e9);
      } catch (err) {
        reject(err);
      }
    });
    socket.on('error', reject);
  });
}

/** ghostnet connectTcp sender. Resolves to seconds elapsed. */
async function sendGhostnet(port) {
  const start = process.hrtime.bigint();
  const conn = await connectTcp({ host: '127.0.0.1', port });
  return new Promise((resolve, reject) => {
    const reply = [];
    let sent = 0;
    const pump = () => {
      while (sent < TOTAL) {
        sent += CHUNK.length;
        if (!conn.write(CHUNK)) return conn.once('drain', pump);
      }
      conn.end();
    };
    conn.on('data', (c) => reply.push(c));
    conn.on('end', () => {
      try {
        checkReply(reply);
        conn.destroy();
        resolve(Number(process.hrtime.bigint() - start) / 1e9);
      } catch (err) {
        reject(err);
      }
    });
    conn.on('error', reject);
    pump();
  });
}

const mib = (seconds) => TOTAL / (1024 * 1024) / seconds;

export async function run() {
  const rawSink = await startServer(sinkScript, ['raw']);
  const ghostSink = await startServer(sinkScript, ['ghostnet']);
  try {
    const receive = await alternate(
      ROUNDS,
      () => withTimeout(sendRaw(ghostSink.port), 'receive/ghostnet').then(mib),
      () => withTimeout(sendRaw(rawSink.port), 'receive/node:net').then(mib),
    );
    const send = await alternate(
      ROUNDS,
      () => withTimeout(sendGhostnet(rawSink.port), 'send/ghostnet').then(mib),
      () => withTimeout(sendRaw(rawSink.port), 'send/node:net').then(mib),
    );
    return [
      { name: 'tcp receive 256 MiB (MiB/s)', peer: 'node:net', higherIsBetter: true, ...receive },
      { name: 'tcp send 256 MiB (MiB/s)', peer: 'node:net', higherIsBetter: true, ...send },
    ];
  } finally {
    await Promise.all([rawSink.stop(), ghostSink.stop()]);
  }
}
