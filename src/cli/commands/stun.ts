/**
 * `ghostnet stun`: ask a STUN server for our mapped address, find out the NAT's behavior,
 * or run a STUN server.
 *
 *   stun H:P [--behavior] [--json]           the mapped address (and RFC 5780 behavior)
 *   stun serve [--host H] [--port P] [--alt-host H2 --alt-port P2] [--json]
 */
import { ShutdownManager } from '../../lifecycle/shutdown.js';
import { componentLogger, createLogger } from '../../monitoring/logger.js';
import { StunClient, StunServer } from '../../p2p/nat/stun/node.js';
import { UsageError } from '../command.js';
import type { Command, CommandContext } from '../command.js';
import { parsePort } from '../parse.js';

function hostPort(s: string): { address: string; port: number } {
  const m =
    /^\[([^\]]+)\]:(\d{1,5})$/.exec(s) ??
    /^([^:[\]]+):(\d{1,5})$/.exec(s) ??
    /^([^:[\]]+)$/.exec(s);
  const port = m?.[2] === undefined ? 3478 : Number(m[2]);
  if (m === null || port < 1 || port > 65535)
    throw new UsageError(`expected HOST[:PORT], got '${s}'`);
  return { address: m[1]!, port };
}

const shown = (a: { address: string; port: number }): string =>
  `${a.address.includes(':') ? `[${a.address}]` : a.address}:${a.port}`;

async function query(ctx: CommandContext, target: string): Promise<number> {
  const server = hostPort(target);
  // Fewer retransmissions than RFC 8489's seven: a CLI should answer within ~12 s, and the
  // behavior tests count a timeout as "filtered".
  const client = await StunClient.create({
    host: (ctx.values.host as string | undefined) ?? '0.0.0.0',
    rc: 4,
  });
  try {
    if (ctx.values.behavior === true) {
      const b = await client.behavior(server);
      if (ctx.json) {
        ctx.io.stdout.write(
          `${JSON.stringify({ mapped: shown(b.mapped), mapping: b.mapping, filtering: b.filtering, nat: b.kind })}\n`,
        );
      } else {
        ctx.io.stdout.write(
          `mapped address ${shown(b.mapped)}\nmapping: ${b.mapping}\nfiltering: ${b.filtering}\nNAT: ${b.kind}\n`,
        );
      }
      return 0;
    }
    const r = await client.binding(server);
    if (ctx.json) {
      ctx.io.stdout.write(
        `${JSON.stringify({
          mapped: shown(r.mapped),
          family: r.mapped.family,
          rttMs: r.rttMs,
          ...(r.software !== undefined && { software: r.software }),
          ...(r.otherAddress !== undefined && { otherAddress: shown(r.otherAddress) }),
        })}\n`,
      );
    } else {
      ctx.io.stdout.write(`${shown(r.mapped)}\n`);
    }
    return 0;
  } catch (err) {
    ctx.io.stderr.write(`stun: ${(err as Error).message}\n`);
    return 1;
  } finally {
    await client.close();
  }
}

async function serve(ctx: CommandContext): Promise<number> {
  const v = ctx.values;
  const host = (v.host as string | undefined) ?? '127.0.0.1';
  const port = parsePort(v.port as string | undefined, 3478);
  const altHost = v['alt-host'] as string | undefined;
  const altPort = v['alt-port'] as string | undefined;
  if ((altHost === undefined) !== (altPort === undefined)) {
    throw new UsageError('give both --alt-host and --alt-port (RFC 5780), or neither');
  }
  const logger = componentLogger(createLogger({ destination: ctx.io.stderr }), 'stun');
  const server = await StunServer.listen({
    host,
    port,
    ...(altHost !== undefined && { alternate: { host: altHost, port: parsePort(altPort, 3479) } }),
  });
  const a = server.address;
  ctx.io.stdout.write(
    ctx.json
      ? `${JSON.stringify({ event: 'listening', addr: shown(a), rfc5780: altHost !== undefined })}\n`
      : `stun server listening on udp://${shown(a)}${altHost !== undefined ? ` (alternate ${altHost}:${altPort})` : ''}\n`,
  );
  return new Promise<number>((resolve) => {
    const shutdown = new ShutdownManager({ logger, exit: (code) => resolve(code) }, {});
    shutdown.register({
      name: 'stun',
      stopAccepting: () => {},
      drain: () => server.close(),
      destroy: () => server.close(),
    });
    shutdown.listen();
  });
}

async function run(ctx: CommandContext): Promise<number> {
  const [first, ...rest] = ctx.positionals;
  if (rest.length > 0) throw new UsageError(`unexpected argument '${rest[0]}'`);
  if (first === undefined) throw new UsageError('stun needs a server HOST[:PORT], or serve');
  if (first === 'serve') return serve(ctx);
  return query(ctx, first);
}

export const stunCommand: Command = {
  name: 'stun',
  summary: 'Ask a STUN server for our public address, or run a STUN server',
  usage:
    'stun HOST[:PORT] [--behavior] [--json]\n' +
    '       stun serve [--host H] [--port P] [--alt-host H2 --alt-port P2] [--json]',
  description:
    'STUN (RFC 8489). With a server, prints the mapped address it sees (with --behavior, also ' +
    "the NAT's mapping and filtering behavior by RFC 5780, which needs a server with an " +
    'alternate address). `stun serve` answers Binding requests until SIGTERM; --alt-host and ' +
    '--alt-port add the second IP and port RFC 5780 needs.',
  allowPositionals: true,
  options: {
    behavior: { type: 'boolean', description: 'Find the NAT behavior (RFC 5780)' },
    host: { type: 'string', valueName: 'H', description: 'Local address to bind' },
    port: { type: 'string', short: 'p', valueName: 'P', description: 'serve: UDP port (3478)' },
    'alt-host': { type: 'string', valueName: 'H2', description: 'serve: alternate IP (RFC 5780)' },
    'alt-port': { type: 'string', valueName: 'P2', description: 'serve: alternate port' },
  },
  run,
};
