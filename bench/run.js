// Runs every benchmark suite: ghostnet against its peer in one run, alternating; prints
// ratios (ours / peer) of medians and writes bench/out/results.json. See bench/RESULTS.md.
// Usage: node bench/run.js [suite-name-substring ...]
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { hasTaskset, pinSelf, CLIENT_CORE, SERVER_CORE } from './lib.js';

const SUITES = [
  ['transport/tcp-throughput', () => import('./transport/tcp-throughput.js')],
  ['http1/throughput', () => import('./http1/throughput.js')],
  ['websocket/echo', () => import('./websocket/suite.js')],
  ['http2/hpack', () => import('./http2/hpack.js')],
  ['http2/h2load', () => import('./http2/suite.js')],
  ['dht', () => import('./dht/suite.js')],
  ['dht/kademlia-dht', () => import('./dht/kademlia-dht.js')],
  ['dht-udp', () => import('./dht/udp-compare.js')],
  ['gossip', () => import('./gossip/swim.js')],
  ['nat', () => import('./nat/suite.js')],
  ['nat/ice-setup', () => import('./nat/ice-setup.js')],
  ['quic', () => import('./quic/suite.js')],
];

const filters = process.argv.slice(2);
const pinned = pinSelf();
console.log(
  `ghostnet bench — node ${process.version}, ${cpus().length} cores; ` +
    (pinned
      ? `load generator on core ${CLIENT_CORE}, servers on core ${SERVER_CORE}`
      : hasTaskset()
        ? 'pinning failed'
        : 'taskset not found: not pinned'),
);

const results = [];
for (const [name, load] of SUITES) {
  if (filters.length > 0 && !filters.some((f) => name.includes(f))) continue;
  const suite = await load();
  for (const r of await suite.run()) {
    results.push({ suite: name, ...r });
    const fmt = (n) => n.toFixed(1);
    const better = r.higherIsBetter ? 'higher is better' : 'lower is better';
    console.log(
      `${r.name.padEnd(34)} ghostnet ${fmt(r.ours).padStart(8)}  ${r.peer} ${fmt(r.theirs).padStart(8)}` +
        `  ratio ${r.ratio.toFixed(3)} (${better})`,
    );
  }
}
mkdirSync(new URL('./out/', import.meta.url), { recursive: true });
writeFileSync(
  new URL('./out/results.json', import.meta.url),
  `${JSON.stringify({ date: new Date().toISOString(), node: process.version, results }, null, 2)}\n`,
);
