/**
 * `ghostnet dht`: a Mainline DHT node and one-shot DHT operations.
 *
 *   dht node [--host H] [--port P] [--bootstrap H:P]... [--mainline] [--state FILE]
 *   dht lookup <infohash-hex>                     peers for an infohash (get_peers)
 *   dht announce <infohash-hex> --peer-port P     announce_peer to the closest nodes
 *   dht put <value> [--secret-key HEX] [--salt S] [--seq N]    BEP 44 put
 *   dht get <target-hex> | --public-key HEX [--salt S]          BEP 44 get
 *
 * Nothing is contacted without --bootstrap (or --mainline, the public routers — never in
 * tests). One-shot operations bootstrap, run, print the result and exit (0 on success, 1
 * when nothing was found or stored).
 */
import { ShutdownManager } from '../../lifecycle/shutdown.js';
import { componentLogger, createLogger } from '../../monitoring/logger.js';
import type { BValue } from '../../p2p/kademlia/bencode.js';
import { nodeEd25519 } from '../../p2p/kademlia/ed25519-node.js';
import { idFromHex, idToHex } from '../../p2p/kademlia/id.js';
import { DhtNode, MAINLINE_ROUTERS } from '../../p2p/kademlia/node.js';
import type { DhtNodeOptions } from '../../p2p/kademlia/node.js';
import { UsageError } from '../command.js';
import type { Command, CommandContext } from '../command.js';
import { parsePort } from '../parse.js';

function parseHostPort(s: string): { address: string; port: number } {
  const m = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(s);
  if (m === null) throw new UsageError(`--bootstrap expects HOST:PORT, got '${s}'`);
  const port = Number(m[2]);
  if (port < 1 || port > 65535) throw new UsageError(`bad port in --bootstrap '${s}'`);
  return { address: m[1]!, port };
}

function hexId(what: string, s: string | undefined): Uint8Array {
  if (s === undefined || !/^[0-9a-fA-F]{40}$/.test(s)) {
    throw new UsageError(`${what} must be 40 hex digits`);
  }
  return idFromHex(s);
}

function hexBytes(what: string, s: string, length: number): Uint8Array {
  if (!new RegExp(`^[0-9a-fA-F]{${length * 2}}$`).test(s)) {
    throw new UsageError(`${what} must be ${length * 2} hex digits`);
  }
  return Uint8Array.from(Buffer.from(s, 'hex'));
}

function show(v: BValue): unknown {
  if (v instanceof Uint8Array) {
    const s = Buffer.from(v);
    return s.every((b) => b >= 0x20 && b < 0x7f)
      ? s.toString('latin1')
      : { hex: s.toString('hex') };
  }
  if (Array.isArray(v)) return v.map(show);
  if (typeof v === 'object') {
    return Object.fromEntries(
      Object.entries(v).map(([k, x]) => [k, x === undefined ? null : show(x)]),
    );
  }
  return typeof v === 'bigint' ? v.toString() : v;
}

function nodeOptions(ctx: CommandContext, oneShot: boolean): DhtNodeOptions {
  const v = ctx.values;
  const bootstrap = ((v.bootstrap as string[] | undefined) ?? []).map(parseHostPort);
  if (v.mainline === true) bootstrap.push(...MAINLINE_ROUTERS);
  if (oneShot && bootstrap.length === 0) {
    throw new UsageError('give --bootstrap HOST:PORT (or --mainline) to reach the DHT');
  }
  const host = (v.host as string | undefined) ?? (v.mainline === true ? '0.0.0.0' : '127.0.0.1');
  return {
    host,
    port: parsePort(v.port as string | undefined, oneShot ? 0 : 6881),
    bootstrap,
    // BEP 43: a node that lives for one command is read-only, so the DHT does not fill
    // with contacts that are gone a second later.
    readOnly: oneShot,
    ...(v.state !== undefined ? { statePath: v.state as string } : {}),
  };
}

async function runNode(ctx: CommandContext): Promise<number> {
  const { io } = ctx;
  const options = nodeOptions(ctx, false);
  const logger = createLogger({ destination: io.stderr });
  const log = componentLogger(logger, 'dht');
  const node = await DhtNode.start({ ...options, logger: log });
  return new Promise<number>((resolve) => {
    const shutdown = new ShutdownManager({ logger: log, exit: (code) => resolve(code) }, {});
    shutdown.register({
      name: 'dht',
      stopAccepting: () => {},
      drain: () => node.close(),
      destroy: () => node.close(),
    });
    shutdown.listen();
    const { address, port } = node.address;
    const shown = address.includes(':') ? `[${address}]` : address;
    if (ctx.json) {
      io.stdout.write(
        `${JSON.stringify({ event: 'listening', id: idToHex(node.id), address, port, bootstrap: options.bootstrap?.length ?? 0 })}\n`,
      );
    } else {
      io.stdout.write(`dht node ${idToHex(node.id)} listening on udp://${shown}:${port}\n`);
      if ((options.bootstrap?.length ?? 0) === 0) {
        io.stdout.write(
          'no bootstrap nodes: waiting for others to contact us (use --bootstrap H:P)\n',
        );
      }
    }
  });
}

async function oneShot(
  ctx: CommandContext,
  work: (node: DhtNode) => Promise<{ ok: boolean; text: string; json: unknown }>,
): Promise<number> {
  const options = nodeOptions(ctx, true);
  const node = await DhtNode.start(options);
  try {
    await node.bootstrap(
      (options.bootstrap ?? []).map((b) => ({
        ...b,
        family: b.address.includes(':') ? 'IPv6' : 'IPv4',
      })),
    );
    const r = await work(node);
    ctx.io.stdout.write(ctx.json ? `${JSON.stringify(r.json)}\n` : `${r.text}\n`);
    return r.ok ? 0 : 1;
  } finally {
    await node.close();
  }
}

async function run(ctx: CommandContext): Promise<number> {
  const [action, arg, ...extra] = ctx.positionals;
  if (extra.length > 0) throw new UsageError(`unexpected argument '${extra[0]}'`);
  const v = ctx.values;
  switch (action) {
    case 'node':
      if (arg !== undefined) throw new UsageError(`dht node takes no argument, got '${arg}'`);
      return runNode(ctx);
    case 'lookup': {
      const infohash = hexId('the infohash', arg);
      return oneShot(ctx, async (node) => {
        const r = await node.getPeers(infohash);
        const peers = r.peers.map(
          (p) => `${p.address.includes(':') ? `[${p.address}]` : p.address}:${p.port}`,
        );
        return {
          ok: peers.length > 0,
          text: peers.length > 0 ? peers.join('\n') : 'no peers found',
          json: { infohash: idToHex(infohash), peers, queries: r.queries },
        };
      });
    }
    case 'announce': {
      const infohash = hexId('the infohash', arg);
      if (v['peer-port'] === undefined) throw new UsageError('dht announce needs --peer-port P');
      const port = parsePort(v['peer-port'] as string, 0);
      if (port === 0) throw new UsageError('--peer-port must be 1-65535');
      return oneShot(ctx, async (node) => {
        const r = await node.announce(infohash, port);
        return {
          ok: r.announced > 0,
          text: `announced to ${r.announced} nodes`,
          json: { infohash: idToHex(infohash), port, announced: r.announced },
        };
      });
    }
    case 'put': {
      if (arg === undefined) throw new UsageError('dht put needs a value');
      const secret = v['secret-key'] as string | undefined;
      const salt = v.salt !== undefined ? Buffer.from(v.salt as string, 'utf8') : undefined;
      const seqText = v.seq as string | undefined;
      if (secret === undefined && (salt !== undefined || seqText !== undefined)) {
        throw new UsageError('--salt and --seq are for mutable items: give --secret-key too');
      }
      if (seqText !== undefined && !/^\d{1,15}$/.test(seqText)) {
        throw new UsageError('--seq must be a non-negative integer');
      }
      const seq = seqText === undefined ? 0 : Number(seqText);
      const seed = secret === undefined ? undefined : hexBytes('--secret-key', secret, 32);
      return oneShot(ctx, async (node) => {
        const r =
          seed === undefined
            ? await node.putImmutable(arg)
            : await node.putMutable(seed, { v: arg, seq, ...(salt !== undefined ? { salt } : {}) });
        const target = idToHex(r.target);
        const extraJson =
          seed === undefined
            ? {}
            : {
                publicKey: Buffer.from(nodeEd25519.publicKeyFromSecret(seed)).toString('hex'),
                seq,
              };
        return {
          ok: r.stored > 0,
          text: `${target} stored on ${r.stored} nodes`,
          json: { target, stored: r.stored, errors: r.errors.map((e) => e.wireCode), ...extraJson },
        };
      });
    }
    case 'get': {
      const pk = v['public-key'] as string | undefined;
      const salt = v.salt !== undefined ? Buffer.from(v.salt as string, 'utf8') : undefined;
      if (pk === undefined && arg === undefined)
        throw new UsageError('dht get needs a target (or --public-key)');
      if (pk !== undefined && arg !== undefined)
        throw new UsageError('give a target or --public-key, not both');
      const key = pk === undefined ? undefined : hexBytes('--public-key', pk, 32);
      const target = arg === undefined ? undefined : hexId('the target', arg);
      return oneShot(ctx, async (node) => {
        const r = key !== undefined ? await node.getMutable(key, salt) : await node.get(target!);
        const item = r.item;
        return {
          ok: item !== undefined,
          text: item === undefined ? 'not found' : JSON.stringify(show(item.v)),
          json:
            item === undefined
              ? { found: false }
              : {
                  found: true,
                  v: show(item.v),
                  ...(item.seq !== undefined ? { seq: item.seq } : {}),
                },
        };
      });
    }
    case undefined:
      throw new UsageError('dht needs an action: node, lookup, announce, put or get');
    default:
      throw new UsageError(`unknown dht action '${action}' (node, lookup, announce, put, get)`);
  }
}

export const dhtCommand: Command = {
  name: 'dht',
  summary: 'Run a Mainline DHT node, or look up, announce, put and get through one',
  usage:
    'dht node [--host H] [--port P] [--bootstrap H:P]... [--mainline] [--state FILE] [--json]\n' +
    '       dht lookup <infohash-hex> --bootstrap H:P... [--json]\n' +
    '       dht announce <infohash-hex> --peer-port P --bootstrap H:P... [--json]\n' +
    '       dht put <value> [--secret-key HEX] [--salt S] [--seq N] --bootstrap H:P... [--json]\n' +
    '       dht get <target-hex> | --public-key HEX [--salt S]  --bootstrap H:P... [--json]',
  description:
    "A node speaking BitTorrent's Mainline DHT (BEP 5, 32, 42, 43, 44). `dht node` prints " +
    '`dht node <id> listening on udp://H:P` and runs until SIGTERM (saving its routing table ' +
    'to --state). Nothing is contacted without --bootstrap; --mainline uses the public ' +
    'routers. The other actions join through --bootstrap, do one thing, print the result ' +
    'and exit 0 on success, 1 when nothing was found or stored.',
  allowPositionals: true,
  options: {
    host: { type: 'string', valueName: 'H', description: 'Address to bind (default 127.0.0.1)' },
    port: {
      type: 'string',
      short: 'p',
      valueName: 'P',
      description: 'UDP port (node: 6881; others: any)',
    },
    bootstrap: {
      type: 'string',
      multiple: true,
      valueName: 'H:P',
      description: 'A node to join through (repeatable)',
    },
    mainline: { type: 'boolean', description: 'Bootstrap from the public Mainline routers' },
    state: {
      type: 'string',
      valueName: 'FILE',
      description: 'Routing table file (loaded and saved)',
    },
    'peer-port': {
      type: 'string',
      valueName: 'P',
      description: 'announce: the port peers connect to',
    },
    'secret-key': {
      type: 'string',
      valueName: 'HEX',
      description: 'put: ed25519 seed (32 bytes hex) for a mutable item',
    },
    'public-key': { type: 'string', valueName: 'HEX', description: 'get: a mutable item by key' },
    salt: { type: 'string', valueName: 'S', description: 'put/get: mutable item salt' },
    seq: { type: 'string', valueName: 'N', description: 'put: mutable item sequence number' },
  },
  run,
};
