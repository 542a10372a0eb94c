// ghostnet's STUN server for the benchmark (from dist/): StunServer on 127.0.0.1, one socket.
// Prints {"port": N} once listening; exits on SIGTERM.
import { StunServer } from '../../dist/p2p/nat/stun/node.js';

const server = await StunServer.listen({ host: '127.0.0.1', port: 0 });
process.stdout.write(`${JSON.stringify({ port: server.address.port })}\n`);
process.on('SIGTERM', () => process.exit(0));
