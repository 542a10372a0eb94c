// Cluster membership with SWIM gossip: three agents on loopback, each in its own process,
// join one another; one is killed with SIGKILL (no goodbye) and the two others notice it
// failed — memberlist's default LAN timings, so within about ten seconds.
//
//   node examples/gossip-cluster/index.js      prints what each agent sees, exits 0
//
// The agents speak memberlist's protocol as Serf does: a Serf agent could join them
// (`serf join 127.0.0.1:<port>`). The same with the CLI:
//   ghostnet gossip agent --name a --bind 127.0.0.1:7946 --json
//   ghostnet gossip agent --name b --bind 127.0.0.1:7947 --join 127.0.0.1:7946 --json
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { GhostnetError } from 'ghostnet';
import { GossipAgent } from 'ghostnet/gossip';

const self = fileURLToPath(import.meta.url);
const children = [];

/** Child mode: one agent printing its events as JSON lines until it is stopped. */
async function runAgent(name, join) {
  const agent = await GossipAgent.start({ name, port: 0, tags: { role: name } });
  agent.on('event', (e) => {
    if (e.event !== 'user-event') console.log(JSON.stringify({ event: e.event, name: e.name }));
  });
  console.log(JSON.stringify({ event: 'listening', port: agent.address.port }));
  if (join !== undefined) await agent.join([{ address: '127.0.0.1', port: Number(join) }]);
  process.on('SIGTERM', async () => {
    await agent.leave();
    await agent.close();
    process.exit(0);
  });
}

/** Starts a child agent; resolves with its port and a way to wait for its events. */
function startChild(name, join) {
  const args = [self, '--agent', name, ...(join === undefined ? [] : [String(join)])];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  const seen = [];
  const waiters = [];
  let buf = '';
  child.stdout.setEncoding('utf8').on('data', (text) => {
    buf += text;
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      const line = JSON.parse(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
      seen.push(line);
      if (line.event !== 'listening') console.log(`${name} sees ${line.event} ${line.name}`);
      for (const w of [...waiters]) w();
    }
  });
  const waitFor = (event, who, ms = 30_000) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new GhostnetError('GN_ERR_EXAMPLE', `${name}: no ${event} ${who}`)),
        ms,
      );
      const check = () => {
        if (!seen.some((l) => l.event === event && (who === undefined || l.name === who))) return;
        clearTimeout(timer);
        waiters.splice(waiters.indexOf(check), 1);
        resolve(seen.find((l) => l.event === event));
      };
      waiters.push(check);
      check();
    });
  return waitFor('listening').then((l) => ({ name, child, port: l.port, waitFor }));
}

async function main() {
  const a = await startChild('alpha');
  const b = await startChild('beta', a.port);
  const c = await startChild('gamma', a.port);
  for (const x of [a, b, c]) {
    for (const y of [a, b, c]) await x.waitFor('member-join', y.name);
  }
  console.log('all three agents see each other; killing gamma (SIGKILL)');
  const killedAt = Date.now();
  c.child.kill('SIGKILL');
  await Promise.all([a.waitFor('member-failed', 'gamma'), b.waitFor('member-failed', 'gamma')]);
  console.log(`alpha and beta noticed gamma failed after ${Date.now() - killedAt} ms`);
  for (const x of [a, b]) x.child.kill('SIGTERM');
  console.log('cluster demo done');
}

if (process.argv[2] === '--agent') {
  await runAgent(process.argv[3], process.argv[4]);
} else {
  try {
    await main();
  } catch (err) {
    console.error(err);
    for (const child of children) child.kill('SIGKILL');
    process.exitCode = 1;
  }
}
