// The `stun` package's server for the benchmark, answering Binding requests as its own
// example does (XOR-MAPPED-ADDRESS and SOFTWARE). Prints {"port": N}; exits on SIGTERM.
import { createRequire } from 'node:module';

const stun = createRequire(import.meta.url)('stun');
const server = stun.createServer({ type: 'udp4' });
const { STUN_BINDING_RESPONSE, STUN_EVENT_BINDING_REQUEST } = stun.constants;
server.on(STUN_EVENT_BINDING_REQUEST, (request, rinfo) => {
  const message = stun.createMessage(STUN_BINDING_RESPONSE, request.transactionId);
  message.addXorAddress(rinfo.address, rinfo.port);
  message.addSoftware('stun-package');
  server.send(message, rinfo.port, rinfo.address);
});
const port = 20000 + Math.floor(Math.random() * 30000);
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port })}\n`);
});
process.on('SIGTERM', () => process.exit(0));
