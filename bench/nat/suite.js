// STUN Binding transactions per second: ghostnet's StunServer against the `stun` package's
// server (the design card's STUN peer), one at a time pinned to SERVER_CORE, both driven by
// the same load generator pinned to CLIENT_CORE (bench/nat/stun-load.js: 64 requests in
// flight, 5 s after a 1 s warm-up). 3 rounds alternating the order; medians.
// Usage: node bench/nat/suite.js   (also `node bench/run.js nat`)
import { fileURLToPath } from 'node:url';
import { alternate, runPinned, startServer } from '../lib.js';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));

async function measure(serverScript) {
  const server = await startServer(here(serverScript));
  try {
    const out = await runPinned(process.execPath, [here('./stun-load.js'), String(server.port)]);
    return JSON.parse(out.trim().split('\n').pop()).tps;
  } finally {
    await server.stop();
  }
}

export async function run() {
  const r = await alternate(
    3,
    () => measure('./ghostnet-stun-server.js'),
    () => measure('./stun-package-server.js'),
  );
  console.log(
    `  STUN binding tps: ghostnet ${r.oursRuns.map((x) => x.toFixed(0)).join(', ')}; ` +
      `stun package ${r.theirsRuns.map((x) => x.toFixed(0)).join(', ')}`,
  );
  return [
    {
      name: 'stun binding transactions/s',
      ours: r.ours,
      theirs: r.theirs,
      peer: 'stun pkg',
      ratio: r.ratio,
      higherIsBetter: true,
      unit: 'tps',
    },
  ];
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const r of await run()) {
    console.log(
      `${r.name} ghostnet ${r.ours.toFixed(0)} vs ${r.peer} ${r.theirs.toFixed(0)}: ratio ${r.ratio.toFixed(2)}`,
    );
  }
}
