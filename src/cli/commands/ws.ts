/**
 * `ghostnet ws URL`: an interactive WebSocket client (like wscat/websocat). Each stdin line
 * is sent as a text message; each received message is printed on its own line (text as
 * is, binary as hex, or base64 with --base64). Stdin EOF starts the closing handshake
 * (1000) and waits for the server's Close. Exits 0 after a normal close, 1 on errors or an
 * abnormal close, 2 on usage errors.
 */
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { connectWebSocket } from '../../protocols/websocket/client.js';
import type { WebSocketClientOptions } from '../../protocols/websocket/client.js';
import { UsageError } from '../command.js';
import type { Command, CommandContext } from '../command.js';

/** Close codes that count as a normal end: 1000, 1001 (server going away), 1005 (none). */
const NORMAL = new Set([1000, 1001, 1005]);

function parseHeader(line: string): [string, string] {
  const colon = line.indexOf(':');
  if (colon <= 0) throw new UsageError(`-H expects 'Name: value', got '${line}'`);
  return [line.slice(0, colon).trim(), line.slice(colon + 1).trim()];
}

function list(v: unknown): string[] {
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v]).map(String);
}

async function run(ctx: CommandContext): Promise<number> {
  const { values, positionals, io } = ctx;
  if (positionals.length !== 1) throw new UsageError('ws takes exactly one URL');
  let url: URL;
  try {
    url = new URL(positionals[0]!);
  } catch {
    throw new UsageError(`invalid URL '${positionals[0]!}'`);
  }
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') {
    throw new UsageError(`the URL must start with ws:// or wss://, got '${url.protocol}'`);
  }
  const headers: Record<string, string> = {};
  for (const h of list(values.header)) {
    const [name, value] = parseHeader(h);
    headers[name] = value;
  }
  const options: WebSocketClientOptions = {
    protocols: list(values.protocol),
    headers,
    perMessageDeflate: values.deflate === true,
    ...(values.insecure === true ? { tls: { rejectUnauthorized: false } } : {}),
  };
  const base64 = values.base64 === true;
  const ws = await connectWebSocket(url, options);

  const out = io.stdout;
  ws.on('message', (data) => {
    if (typeof data === 'string') out.write(data + '\n');
    else {
      const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
      out.write(b.toString(base64 ? 'base64' : 'hex') + '\n');
    }
  });
  ws.on('error', (err) => {
    io.stderr.write(`ghostnet ws: ${err.message}\n`);
  });

  const stdin = (io as { stdin?: Readable }).stdin ?? process.stdin;
  const rl = createInterface({ input: stdin, crlfDelay: Infinity, terminal: false });
  const pump = (async () => {
    for await (const line of rl) {
      if (ws.readyState !== 'open') break;
      if (!ws.send(line)) await ws.drained();
    }
    if (ws.readyState === 'open') ws.close(1000);
  })();
  pump.catch(() => undefined);
  const closed = await ws.closed;
  rl.close();
  if (stdin === process.stdin) process.stdin.destroy();
  if (!closed.wasClean || !NORMAL.has(closed.code)) {
    io.stderr.write(
      `ghostnet ws: connection closed with ${closed.code}${closed.reason ? ` (${closed.reason})` : ''}\n`,
    );
    return 1;
  }
  return 0;
}

export const wsCommand: Command = {
  name: 'ws',
  summary: 'WebSocket client: stdin lines out, received messages to stdout',
  usage: "ws URL [--protocol P]... [-H 'Name: value']... [--deflate] [--base64] [--insecure]",
  description:
    'Connects to a ws:// or wss:// URL, sends each stdin line as a text message and prints ' +
    'each received message on its own line (text as is, binary as hex or --base64). On ' +
    'stdin EOF it closes with 1000 and waits for the server. Exits 0 after a normal close, ' +
    '1 on errors, 2 on usage errors.',
  allowPositionals: true,
  options: {
    protocol: {
      type: 'string',
      multiple: true,
      valueName: 'P',
      description: 'Offer subprotocol P (repeatable)',
    },
    header: {
      type: 'string',
      short: 'H',
      multiple: true,
      valueName: "'Name: value'",
      description: 'Extra request header (repeatable)',
    },
    deflate: { type: 'boolean', description: 'Offer permessage-deflate' },
    base64: { type: 'boolean', description: 'Print binary messages as base64 (default hex)' },
    insecure: { type: 'boolean', description: 'Do not verify the TLS certificate (wss://)' },
  },
  run,
};
