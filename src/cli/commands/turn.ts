/**
 * `ghostnet turn allocate H:P --user U:PW [--realm R] [--json]`: allocates a UDP relay on a
 * TURN server (RFC 8656), prints the relayed address and holds the allocation (refreshing
 * it) until SIGTERM or SIGINT, then releases it.
 */
import { ShutdownManager } from '../../lifecycle/shutdown.js';
import { componentLogger, createLogger } from '../../monitoring/logger.js';
import { TurnClient } from '../../p2p/nat/turn/node.js';
import { UsageError } from '../command.js';
import type { Command, CommandContext } from '../command.js';

const shown = (a: { address: string; port: number }): string =>
  `${a.address.includes(':') ? `[${a.address}]` : a.address}:${a.port}`;

async function allocate(ctx: CommandContext, target: string | undefined): Promise<number> {
  const v = ctx.values;
  if (target === undefined) throw new UsageError('turn allocate needs the server HOST[:PORT]');
  const m =
    /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(target) ?? /^([^:[\]]+)(?::(\d{1,5}))?$/.exec(target);
  const port = m?.[2] === undefined ? 3478 : Number(m[2]);
  if (m === null || port < 1 || port > 65535)
    throw new UsageError(`expected HOST[:PORT], got '${target}'`);
  const user = v.user as string | undefined;
  const colon = user?.indexOf(':') ?? -1;
  if (user === undefined || colon <= 0)
    throw new UsageError('turn allocate needs --user USER:PASSWORD');
  const logger = componentLogger(createLogger({ destination: ctx.io.stderr }), 'turn');
  const client = await TurnClient.connect({
    server: { address: m[1]!, port },
    credentials: { username: user.slice(0, colon), password: user.slice(colon + 1) },
    ...(v.host !== undefined && { host: v.host as string }),
  });
  let allocation;
  try {
    allocation = await client.allocate();
  } catch (err) {
    ctx.io.stderr.write(`turn: ${(err as Error).message}\n`);
    await client.close();
    return 1;
  }
  const realm = v.realm as string | undefined;
  void realm; // the server names its realm in the 401; --realm is accepted for symmetry with TURN URIs
  if (ctx.json) {
    ctx.io.stdout.write(
      `${JSON.stringify({
        relayed: shown(allocation.relayed),
        ...(allocation.mapped !== undefined && { mapped: shown(allocation.mapped) }),
        lifetime: allocation.lifetime,
      })}\n`,
    );
  } else {
    ctx.io.stdout.write(
      `relayed address ${shown(allocation.relayed)}` +
        (allocation.mapped !== undefined
          ? ` (our mapped address ${shown(allocation.mapped)})`
          : '') +
        `, lifetime ${allocation.lifetime} s; holding until SIGTERM\n`,
    );
  }
  client.on('lost', (err) => logger.error({ err }, 'allocation lost'));
  return new Promise<number>((resolve) => {
    const shutdown = new ShutdownManager({ logger, exit: (code) => resolve(code) }, {});
    shutdown.register({
      name: 'turn',
      stopAccepting: () => {},
      drain: () => client.close(),
      destroy: () => client.close(),
    });
    shutdown.listen();
  });
}

async function run(ctx: CommandContext): Promise<number> {
  const [action, target, ...rest] = ctx.positionals;
  if (rest.length > 0) throw new UsageError(`unexpected argument '${rest[0]}'`);
  if (action !== 'allocate') throw new UsageError('turn needs an action: allocate');
  return allocate(ctx, target);
}

export const turnCommand: Command = {
  name: 'turn',
  summary: 'Allocate a relayed address on a TURN server and hold it',
  usage: 'turn allocate HOST[:PORT] --user USER:PASSWORD [--realm R] [--host H] [--json]',
  description:
    'TURN (RFC 8656) over UDP with long-term credentials: prints the relayed address and ' +
    'keeps the allocation refreshed until SIGTERM, then releases it (LIFETIME 0). Exits 1 ' +
    'when the server refuses or does not answer.',
  allowPositionals: true,
  options: {
    user: { type: 'string', valueName: 'USER:PASSWORD', description: 'Long-term credentials' },
    realm: { type: 'string', valueName: 'R', description: 'Realm (the server also names it)' },
    host: { type: 'string', valueName: 'H', description: 'Local address to bind' },
  },
  run,
};
