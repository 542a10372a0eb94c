/**
 * Gossip interop with HashiCorp Serf (Debian package serf, memberlist protocol 2-5) on
 * 127.0.0.1, with Serf's default LAN timings on both sides:
 *
 * - a ghostnet agent joins a cluster of three Serf agents and `serf members` lists it alive
 *   with its tags; a Serf agent joins through the ghostnet agent;
 * - `serf event` reaches the ghostnet agent as a user-event, and ours reaches Serf;
 * - killing a Serf agent makes ghostnet report member-failed; `serf leave`, member-leave;
 * - stopping the ghostnet agent gracefully makes Serf mark it left; killing it, failed;
 * - the same join, tags and leave with an encryption key (Serf's `-encrypt`) on all sides.
 *
 * A missing serf binary fails every test (never skipped): run scripts/install-peers.sh.
 */
import { execFile, spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GossipAgent } from '../../src/p2p/gossip/agent.js';
import type { SerfEvent } from '../../src/p2p/gossip/serf.js';
import { listenTcp } from '../../src/transport/tcp.js';

const HOST = '127.0.0.1';
/** Serf's LAN failure detection can take up to 24 s before confirmations shorten it. */
const WAIT_MS = 45_000;

async function freePort(): Promise<number> {
  const s = await listenTcp({ host: HOST, port: 0 });
  const port = s.address.port;
  await s.destroy();
  return port;
}

/** Retries `attempt` until it returns a value. (Everything here is async: a blocking call
 * would stall the in-process ghostnet agent and fail Serf's probes of it.) */
async function eventually<T>(
  what: string,
  attempt: () => T | undefined | Promise<T | undefined>,
  ms = WAIT_MS,
): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const r = await attempt();
    if (r !== undefined) return r;
    if (Date.now() > until) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

interface RpcResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

interface SerfMember {
  name: string;
  addr: string;
  status: string;
  tags: Record<string, string> | null;
}

class SerfAgent {
  readonly name: string;
  readonly port: number;
  readonly rpcPort: number;
  readonly proc: ChildProcess;
  log = '';

  constructor(name: string, port: number, rpcPort: number, extra: readonly string[]) {
    this.name = name;
    this.port = port;
    this.rpcPort = rpcPort;
    this.proc = spawn(
      'serf',
      [
        'agent',
        `-node=${name}`,
        `-bind=${HOST}:${port}`,
        `-rpc-addr=${HOST}:${rpcPort}`,
        '-log-level=debug',
        ...extra,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.proc.stdout!.on('data', (d: Buffer) => {
      this.log += d.toString();
    });
    this.proc.stderr!.on('data', (d: Buffer) => {
      this.log += d.toString();
    });
  }

  static async start(name: string, extra: readonly string[] = []): Promise<SerfAgent> {
    const agent = new SerfAgent(name, await freePort(), await freePort(), extra);
    await eventually(`serf agent ${name} to listen`, async () =>
      (await agent.rpc(['members'])).status === 0 ? true : undefined,
    );
    return agent;
  }

  rpc(args: readonly string[]): Promise<RpcResult> {
    const [cmd, ...rest] = args;
    return new Promise((resolve) => {
      execFile(
        'serf',
        [cmd!, `-rpc-addr=${HOST}:${this.rpcPort}`, ...rest],
        { encoding: 'utf8', timeout: 20_000 },
        (err, stdout, stderr) => {
          const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
          resolve({ status: code, stdout, stderr });
        },
      );
    });
  }

  async members(): Promise<SerfMember[]> {
    const r = await this.rpc(['members', '-format=json']);
    if (r.status !== 0) throw new Error(`serf members failed: ${r.stderr}`);
    return (JSON.parse(r.stdout) as { members: SerfMember[] }).members;
  }

  async member(name: string): Promise<SerfMember | undefined> {
    return (await this.members()).find((m) => m.name === name);
  }

  kill(): void {
    this.proc.kill('SIGKILL');
  }
}

class EventLog {
  readonly events: SerfEvent[] = [];
  constructor(agent: GossipAgent) {
    agent.on('event', (e) => this.events.push(e));
  }
  find(event: SerfEvent['event'], name: string): SerfEvent | undefined {
    return this.events.find((e) => e.event === event && e.name === name);
  }
}

async function expectOk(p: Promise<RpcResult>): Promise<void> {
  const r = await p;
  expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
}

function serfAvailable(): void {
  const r = spawnSync('serf', ['version'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error('serf is missing: run scripts/install-peers.sh');
}

describe('gossip ⇄ Serf (plaintext, LZW compression as Serf defaults)', () => {
  const serfs: SerfAgent[] = [];
  let ghost: GossipAgent;
  let log: EventLog;

  beforeAll(async () => {
    serfAvailable();
    for (let i = 0; i < 3; i++)
      serfs.push(await SerfAgent.start(`serf-${i}`, ['-tag', `idx=${i}`]));
    for (let i = 1; i < 3; i++) {
      await expectOk(serfs[i]!.rpc(['join', `${HOST}:${serfs[0]!.port}`]));
    }
    ghost = await GossipAgent.start({
      name: 'ghost-a',
      port: 0,
      tags: { role: 'ghostnet', zone: 'loopback' },
    });
    log = new EventLog(ghost);
  }, 60_000);

  afterAll(async () => {
    for (const s of serfs) s.kill();
    await ghost?.close();
  });

  it('joins a cluster of three Serf agents; serf members lists it alive with its tags', async () => {
    expect(await ghost.join([{ address: HOST, port: serfs[0]!.port }])).toBe(1);
    for (const s of serfs) {
      const m = await eventually(`${s.name} to list ghost-a alive`, async () => {
        const m = await s.member('ghost-a');
        return m?.status === 'alive' ? m : undefined;
      });
      expect(m.addr).toBe(`${HOST}:${ghost.address.port}`);
      expect(m.tags).toEqual({ role: 'ghostnet', zone: 'loopback' });
    }
    const names = ghost
      .members()
      .filter((m) => m.state === 'alive')
      .map((m) => m.name)
      .sort();
    expect(names).toEqual(['ghost-a', 'serf-0', 'serf-1', 'serf-2']);
    expect(ghost.members().find((m) => m.name === 'serf-1')?.tags).toEqual({ idx: '1' });
    for (const s of serfs) expect(log.find('member-join', s.name)).toBeDefined();
  }, 60_000);

  it('a Serf agent joins through the ghostnet agent and learns the whole cluster', async () => {
    const late = await SerfAgent.start('serf-late');
    serfs.push(late);
    await expectOk(late.rpc(['join', `${HOST}:${ghost.address.port}`]));
    await eventually('serf-late to see every member alive', async () => {
      const alive = (await late.members()).filter((m) => m.status === 'alive');
      return alive.length === 5 ? alive : undefined;
    });
    await eventually('ghost-a to report serf-late joining', () =>
      log.find('member-join', 'serf-late'),
    );
  }, 60_000);

  it('serf event reaches ghostnet as a user-event; ours reaches Serf', async () => {
    await expectOk(serfs[1]!.rpc(['event', 'deploy', 'v42']));
    const e = await eventually('the user event', () => log.find('user-event', 'deploy'));
    expect(e.event === 'user-event' && Buffer.from(e.payload).toString()).toBe('v42');

    ghost.userEvent('from-ghost', new TextEncoder().encode('hello serf'));
    for (const s of serfs.slice(0, 3)) {
      await eventually(`${s.name} to receive from-ghost`, () =>
        s.log.includes('Received event: user-event: from-ghost') ? true : undefined,
      );
    }
  }, 60_000);

  it('changed tags are a member-update both ways', async () => {
    await expectOk(serfs[1]!.rpc(['tags', '-set', 'idx=one', '-set', 'extra=yes']));
    await eventually('a member-update for serf-1', () =>
      log.events.find(
        (e) => e.event === 'member-update' && e.name === 'serf-1' && e.tags.extra === 'yes',
      ),
    );
    ghost.setTags({ role: 'ghostnet', zone: 'loopback', version: '2' });
    await eventually('serf-0 to show the new tags', async () =>
      (await serfs[0]!.member('ghost-a'))?.tags?.version === '2' ? true : undefined,
    );
  }, 60_000);

  it('a Serf agent that leaves is member-leave; one killed is member-failed', async () => {
    await expectOk(serfs[3]!.rpc(['leave']));
    await eventually('member-leave for serf-late', () => log.find('member-leave', 'serf-late'));
    expect(log.find('member-failed', 'serf-late')).toBeUndefined();

    serfs[2]!.kill();
    await eventually('member-failed for serf-2', () => log.find('member-failed', 'serf-2'));
    expect(log.find('member-leave', 'serf-2')).toBeUndefined();
  }, 90_000);

  it('stopping the ghostnet agent gracefully makes Serf mark it left', async () => {
    await ghost.leave();
    await ghost.close();
    await eventually('serf-0 to mark ghost-a left', async () =>
      (await serfs[0]!.member('ghost-a'))?.status === 'left' ? true : undefined,
    );
  }, 60_000);

  it('killing a ghostnet agent (no leave) makes Serf mark it failed', async () => {
    const doomed = await GossipAgent.start({ name: 'ghost-doomed', port: 0 });
    await doomed.join([{ address: HOST, port: serfs[0]!.port }]);
    await eventually('serf-0 to list ghost-doomed alive', async () =>
      (await serfs[0]!.member('ghost-doomed'))?.status === 'alive' ? true : undefined,
    );
    await doomed.close(); // sockets gone without a word: a crash as Serf sees it
    await eventually('serf-0 to mark ghost-doomed failed', async () =>
      (await serfs[0]!.member('ghost-doomed'))?.status === 'failed' ? true : undefined,
    );
  }, 90_000);
});

describe('gossip ⇄ Serf with an encryption key (-encrypt)', () => {
  const key = randomBytes(32).toString('base64');
  const serfs: SerfAgent[] = [];
  let ghost: GossipAgent;
  let log: EventLog;

  beforeAll(async () => {
    serfAvailable();
    for (let i = 0; i < 2; i++) {
      serfs.push(await SerfAgent.start(`enc-${i}`, [`-encrypt=${key}`, '-tag', 'secure=yes']));
    }
    await expectOk(serfs[1]!.rpc(['join', `${HOST}:${serfs[0]!.port}`]));
    ghost = await GossipAgent.start({
      name: 'ghost-enc',
      port: 0,
      encrypt: [key],
      tags: { role: 'ghostnet' },
    });
    log = new EventLog(ghost);
  }, 60_000);

  afterAll(async () => {
    for (const s of serfs) s.kill();
    await ghost?.close();
  });

  it('an agent without the key cannot join', async () => {
    const plain = await GossipAgent.start({ name: 'ghost-nokey', port: 0 });
    try {
      await expect(plain.join([{ address: HOST, port: serfs[0]!.port }])).rejects.toThrow();
    } finally {
      await plain.close();
    }
  }, 30_000);

  it('joins with the key; tags, events, failure and leave work encrypted', async () => {
    expect(await ghost.join([{ address: HOST, port: serfs[0]!.port }])).toBe(1);
    const m = await eventually('enc-1 to list ghost-enc alive', async () => {
      const m = await serfs[1]!.member('ghost-enc');
      return m?.status === 'alive' ? m : undefined;
    });
    expect(m.tags).toEqual({ role: 'ghostnet' });
    expect(ghost.members().find((x) => x.name === 'enc-1')?.tags).toEqual({ secure: 'yes' });

    await expectOk(serfs[0]!.rpc(['event', 'rotate', 'now']));
    await eventually('the encrypted user event', () => log.find('user-event', 'rotate'));

    serfs[1]!.kill();
    await eventually('member-failed for enc-1', () => log.find('member-failed', 'enc-1'));

    await ghost.leave();
    await ghost.close();
    await eventually('enc-0 to mark ghost-enc left', async () =>
      (await serfs[0]!.member('ghost-enc'))?.status === 'left' ? true : undefined,
    );
  }, 120_000);
});
