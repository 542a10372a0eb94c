// P2P file sharing through the Mainline DHT: a seeder announces a file's infohash with the
// TCP port it serves the file on; a leecher finds the seeder with get_peers, downloads the
// file over TCP and checks its SHA-256. Everything runs on loopback with a local swarm of
// DHT nodes (no public DHT).
//
//   node examples/p2p-share/index.js [FILE]     (default: 1 MiB of generated data)
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { GhostnetError } from 'ghostnet';
import { DhtNode } from 'ghostnet/kademlia';
import { connectTcp, listenTcp } from 'ghostnet/transport';

const SWARM = 6;
const MAX_BYTES = 64 * 1024 * 1024;

const file = process.argv[2];
const data =
  file !== undefined
    ? await readFile(file)
    : Buffer.from(Array.from({ length: 1024 * 1024 }, (_, i) => (i * 31 + (i >> 8)) & 0xff));
if (data.length > MAX_BYTES)
  throw new GhostnetError('GN_ERR_EXAMPLE', 'file too large for the demo');
const sha256 = createHash('sha256').update(data).digest('hex');
// As in BitTorrent, the infohash is a SHA-1 (here of the file itself).
const infohash = createHash('sha1').update(data).digest();

// A local DHT swarm.
const swarm = [await DhtNode.start()];
for (let i = 1; i < SWARM; i++) {
  swarm.push(
    await DhtNode.start({ bootstrap: [{ address: '127.0.0.1', port: swarm[0].address.port }] }),
  );
}
await Promise.all(swarm.slice(1).map((n) => new Promise((r) => n.once('ready', r))));

// The seeder: serves the file to every connection, then announces where.
const server = await listenTcp({ host: '127.0.0.1', port: 0 }, (conn) => {
  conn.on('error', () => {});
  conn.write(data);
  conn.end();
});
const seeder = swarm[1];
const { announced } = await seeder.announce(infohash, server.address.port);
console.log(
  `seeder: ${data.length} bytes, infohash ${infohash.toString('hex')}, announced to ${announced} nodes`,
);

// The leecher: finds a peer through another node of the swarm and downloads.
const leecher = swarm[SWARM - 1];
let code = 1;
try {
  const { peers } = await leecher.getPeers(infohash);
  if (peers.length === 0)
    throw new GhostnetError('GN_ERR_EXAMPLE', 'no peer found for the infohash');
  const peer = peers[0];
  console.log(
    `leecher: found ${peers.length} peer(s), downloading from ${peer.address}:${peer.port}`,
  );
  const conn = await connectTcp({ host: peer.address, port: peer.port });
  const chunks = [];
  let size = 0;
  await new Promise((resolve, reject) => {
    conn.on('data', (c) => {
      size += c.length;
      if (size > MAX_BYTES) conn.destroy(new GhostnetError('GN_ERR_EXAMPLE', 'peer sent too much'));
      else chunks.push(c);
    });
    conn.on('end', () => conn.close());
    conn.on('close', resolve);
    conn.on('error', reject);
  });
  const got = createHash('sha256').update(Buffer.concat(chunks)).digest('hex');
  const ok = got === sha256;
  console.log(`downloaded ${size} bytes, sha256 ${ok ? 'ok' : 'MISMATCH'}`);
  code = ok ? 0 : 1;
} finally {
  await server.destroy();
  await Promise.all(swarm.map((n) => n.close()));
}
process.exitCode = code;
