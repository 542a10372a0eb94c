/**
 * `ghostnet gossip`: a SWIM agent that joins memberlist/Serf clusters.
 *
 *   gossip agent --name N --bind H:P [--join H:P]... [--tag k=v]... [--encrypt KEY]
 *                [--label L] [--http H:P] [--json]
 *   gossip members --http H:P [--json]        members of a running agent
 *   gossip event NAME [PAYLOAD] --http H:P    a Serf user event through a running agent
 *
 * The agent prints membership events as JSON lines with --json
 * (`{"event":"member-join","name":…,"addr":"H:P","tags":{…}}`) or as text, and leaves
 * gracefully (Serf's leave intent, then memberlist's) on SIGTERM or SIGINT. `--http` serves
 * GET /members, GET /stats and POST /event?name=NAME (body: the payload) for the other two
 * actions; bind it to loopback.
 */
import { ShutdownManager } from '../../lifecycle/shutdown.js';
import { componentLogger, createLogger } from '../../monitoring/logger.js';
import { GossipAgent } from '../../p2p/gossip/agent.js';
import type { AgentMember } from '../../p2p/gossip/agent.js';
import { parseTags } from '../../p2p/gossip/serf.js';
import type { SerfEvent } from '../../p2p/gossip/serf.js';
import { Http1Client } from '../../protocols/http1/client.js';
import { listenHttp1 } from '../../protocols/http1/server.js';
import type { Http1Server } from '../../protocols/http1/server.js';
import { UsageError } from '../command.js';
import type { Command, CommandContext } from '../command.js';

/** Largest user-event payload accepted over --http (Serf's default UserEventSizeLimit). */
const MAX_EVENT_PAYLOAD = 512;

function hostPort(
  flag: string,
  s: string | undefined,
  allowZero = false,
): { address: string; port: number } {
  if (s === undefined) throw new UsageError(`${flag} is required (HOST:PORT)`);
  const m = /^\[([^\]]+)\]:(\d{1,5})$/.exec(s) ?? /^([^:[\]]+):(\d{1,5})$/.exec(s);
  const port = m === null ? NaN : Number(m[2]);
  if (m === null || port > 65535 || (port === 0 && !allowZero)) {
    throw new UsageError(`${flag} expects HOST:PORT, got '${s}'`);
  }
  return { address: m[1]!, port };
}

function shownAddr(address: string, port: number): string {
  return `${address.includes(':') ? `[${address}]` : address}:${port}`;
}

function eventJson(e: SerfEvent): Record<string, unknown> {
  if (e.event === 'user-event') {
    const payload = Buffer.from(e.payload);
    return {
      event: e.event,
      name: e.name,
      payload: payload.toString('utf8'),
      payloadBase64: payload.toString('base64'),
      ltime: e.ltime,
      coalesce: e.coalesce,
    };
  }
  return { event: e.event, name: e.name, addr: shownAddr(e.addr, e.port), tags: e.tags };
}

function eventText(e: SerfEvent): string {
  if (e.event === 'user-event') {
    return `user-event ${e.name} ${Buffer.from(e.payload).toString('utf8')}`;
  }
  const tags = Object.entries(e.tags)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  return `${e.event} ${e.name} ${shownAddr(e.addr, e.port)}${tags === '' ? '' : ` ${tags}`}`;
}

function memberJson(m: AgentMember): Record<string, unknown> {
  return {
    name: m.name,
    addr: shownAddr(m.address, m.port),
    status: m.state,
    incarnation: m.incarnation,
    tags: m.tags,
    protocol: { min: m.vsn[0], max: m.vsn[1], cur: m.vsn[2] },
    delegate: { min: m.vsn[3], max: m.vsn[4], cur: m.vsn[5] },
  };
}

async function statusServer(agent: GossipAgent, at: { address: string; port: number }) {
  return listenHttp1({ host: at.address, port: at.port }, async (req, res) => {
    if (req.method === 'GET' && req.path === '/members') {
      res.json({ members: agent.members().map(memberJson) });
    } else if (req.method === 'GET' && req.path === '/stats') {
      res.json(agent.stats());
    } else if (req.method === 'POST' && req.path === '/event') {
      const name = req.query.get('name');
      if (name === null || name === '') {
        res.json({ error: 'name is required' }, 400);
        return;
      }
      const payload = await req.bytes();
      if (payload.length > MAX_EVENT_PAYLOAD) {
        res.json({ error: `payload exceeds ${MAX_EVENT_PAYLOAD} bytes` }, 413);
        return;
      }
      agent.userEvent(name, payload, req.query.get('coalesce') !== 'false');
      res.json({ sent: true, name });
    } else {
      res.json({ error: 'not found: GET /members, GET /stats, POST /event?name=' }, 404);
    }
  });
}

async function runAgent(ctx: CommandContext): Promise<number> {
  const { io } = ctx;
  const v = ctx.values;
  const name = v.name as string | undefined;
  if (name === undefined || name === '') throw new UsageError('gossip agent needs --name N');
  const bind = hostPort('--bind', v.bind as string | undefined, true);
  const joins = ((v.join as string[] | undefined) ?? []).map((j) => hostPort('--join', j));
  let tags: Record<string, string>;
  try {
    tags = parseTags((v.tag as string[] | undefined) ?? []);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const encrypt = v.encrypt as string | undefined;
  const httpAt = v.http === undefined ? undefined : hostPort('--http', v.http as string, true);
  const logger = componentLogger(createLogger({ destination: io.stderr }), 'gossip');
  const agent = await GossipAgent.start({
    name,
    host: bind.address,
    port: bind.port,
    tags,
    ...(encrypt !== undefined && { encrypt: [encrypt] }),
    ...(v.label !== undefined && { label: v.label as string }),
  });
  agent.on('event', (e) => {
    io.stdout.write(ctx.json ? `${JSON.stringify(eventJson(e))}\n` : `${eventText(e)}\n`);
  });
  agent.on('error', (err) => logger.warn({ err }, 'gossip socket error'));
  let http: Http1Server | undefined;
  if (httpAt !== undefined) http = await statusServer(agent, httpAt);
  const where = shownAddr(agent.address.address, agent.address.port);
  if (ctx.json) {
    io.stdout.write(
      `${JSON.stringify({
        event: 'listening',
        name,
        addr: where,
        ...(http !== undefined && {
          http: shownAddr(http.address.address, http.address.port),
        }),
      })}\n`,
    );
  } else {
    io.stdout.write(`gossip agent ${name} listening on udp+tcp://${where}\n`);
    if (http !== undefined) {
      io.stdout.write(`status on http://${shownAddr(http.address.address, http.address.port)}\n`);
    }
  }
  if (joins.length > 0) {
    try {
      const n = await agent.join(joins);
      logger.info({ contacted: n }, 'joined the cluster');
    } catch (err) {
      io.stderr.write(`gossip: could not join: ${(err as Error).message}\n`);
      await http?.close();
      await agent.close();
      return 1;
    }
  } else if (!ctx.json) {
    io.stdout.write('no --join: waiting for others to join us\n');
  }
  return new Promise<number>((resolve) => {
    const shutdown = new ShutdownManager({ logger, exit: (code) => resolve(code) }, {});
    shutdown.register({
      name: 'gossip',
      stopAccepting: () => {},
      drain: async () => {
        await agent.leave();
        await http?.close();
        await agent.close();
      },
      destroy: async () => {
        await http?.close();
        await agent.close();
      },
    });
    shutdown.listen();
  });
}

async function runMembers(ctx: CommandContext): Promise<number> {
  const at = hostPort('--http', ctx.values.http as string | undefined);
  const client = new Http1Client();
  try {
    const res = await client.request({ url: `http://${shownAddr(at.address, at.port)}/members` });
    if (res.status !== 200) {
      ctx.io.stderr.write(`gossip: status endpoint answered ${res.status}\n`);
      return 1;
    }
    const body = (await res.json(1 << 24)) as { members: Record<string, unknown>[] };
    if (ctx.json) {
      ctx.io.stdout.write(`${JSON.stringify(body)}\n`);
    } else {
      for (const m of body.members) {
        const tags = Object.entries(m.tags as Record<string, string>)
          .map(([k, x]) => `${k}=${x}`)
          .join(',');
        ctx.io.stdout.write(`${String(m.name)}\t${String(m.addr)}\t${String(m.status)}\t${tags}\n`);
      }
    }
    return 0;
  } finally {
    await client.close();
  }
}

async function runEvent(ctx: CommandContext, name: string, payload: string): Promise<number> {
  const at = hostPort('--http', ctx.values.http as string | undefined);
  const client = new Http1Client();
  try {
    const url = `http://${shownAddr(at.address, at.port)}/event?name=${encodeURIComponent(name)}`;
    const res = await client.request({ url, method: 'POST', body: payload });
    const text = await res.text(1 << 16);
    if (res.status !== 200) {
      ctx.io.stderr.write(`gossip: status endpoint answered ${res.status}: ${text}\n`);
      return 1;
    }
    ctx.io.stdout.write(ctx.json ? `${text}\n` : `event '${name}' sent\n`);
    return 0;
  } finally {
    await client.close();
  }
}

async function run(ctx: CommandContext): Promise<number> {
  const [action, ...args] = ctx.positionals;
  switch (action) {
    case 'agent':
      if (args.length > 0) throw new UsageError(`gossip agent takes no argument, got '${args[0]}'`);
      return runAgent(ctx);
    case 'members':
      if (args.length > 0) throw new UsageError(`gossip members takes no argument`);
      return runMembers(ctx);
    case 'event': {
      const [name, payload = '', ...extra] = args;
      if (name === undefined) throw new UsageError('gossip event needs a NAME');
      if (extra.length > 0) throw new UsageError(`unexpected argument '${extra[0]}'`);
      return runEvent(ctx, name, payload);
    }
    case undefined:
      throw new UsageError('gossip needs an action: agent, members or event');
    default:
      throw new UsageError(`unknown gossip action '${action}' (agent, members, event)`);
  }
}

export const gossipCommand: Command = {
  name: 'gossip',
  summary: 'Run a SWIM gossip agent that joins memberlist/Serf clusters',
  usage:
    'gossip agent --name N --bind H:P [--join H:P]... [--tag k=v]... [--encrypt KEY] [--label L] [--http H:P] [--json]\n' +
    '       gossip members --http H:P [--json]\n' +
    '       gossip event NAME [PAYLOAD] --http H:P [--json]',
  description:
    "An agent speaking memberlist's protocol as Serf does (tags, user events, leave " +
    'intents). `gossip agent` prints membership events (JSON lines with --json) and leaves ' +
    'gracefully on SIGTERM. With --http it serves GET /members, GET /stats and ' +
    'POST /event?name=, which `gossip members` and `gossip event` use. --encrypt takes ' +
    "Serf's base64 key (16, 24 or 32 bytes).",
  allowPositionals: true,
  options: {
    name: { type: 'string', valueName: 'N', description: 'agent: unique node name' },
    bind: {
      type: 'string',
      valueName: 'H:P',
      description: "agent: UDP and TCP address (port 7946 is Serf's)",
    },
    join: {
      type: 'string',
      multiple: true,
      valueName: 'H:P',
      description: 'agent: a member to join through (repeatable)',
    },
    tag: { type: 'string', multiple: true, valueName: 'k=v', description: 'agent: a tag' },
    encrypt: { type: 'string', valueName: 'KEY', description: 'agent: base64 encryption key' },
    label: { type: 'string', valueName: 'L', description: "agent: memberlist's cluster label" },
    http: {
      type: 'string',
      valueName: 'H:P',
      description: 'agent: serve status there; members/event: the agent to ask',
    },
  },
  run,
};
