/**
 * `ghostnet ws` (the compiled CLI; run `npm run build` first) against a `ws` package echo
 * server: stdin lines out, messages in, binary as hex or base64, subprotocols, headers,
 * permessage-deflate and exit codes.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import type { WebSocket as WsSocket } from 'ws';
import { GHOSTNET_BIN } from '../helpers/serve-process.js';

const servers: WebSocketServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    for (const c of s.clients) c.terminate();
    await new Promise((r) => s.close(r));
  }
});

interface Seen {
  ws: WsSocket;
  req: IncomingMessage;
}

async function wsServer(
  onConnection: (ws: WsSocket, req: IncomingMessage) => void,
  options: { perMessageDeflate?: boolean } = {},
): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = new WebSocketServer({
    port: 0,
    host: '127.0.0.1',
    perMessageDeflate: options.perMessageDeflate ?? false,
    handleProtocols: (protocols) => (protocols.has('chat') ? 'chat' : false),
  });
  servers.push(server);
  server.on('connection', (ws, req) => {
    seen.push({ ws, req });
    onConnection(ws, req);
  });
  await once(server, 'listening');
  return { url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}/path`, seen };
}

const echo = (ws: WsSocket): void => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
};

/** Run `ghostnet ws ...args`, write `input` to stdin (then EOF unless `keepOpen`). */
async function run(args: string[], input: string, keepOpen = false) {
  const child = spawn(process.execPath, [GHOSTNET_BIN, 'ws', ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (t: string) => (stdout += t));
  child.stderr.setEncoding('utf8').on('data', (t: string) => (stderr += t));
  child.stdin.on('error', () => {});
  child.stdin.write(input);
  if (!keepOpen) child.stdin.end();
  const kill = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(kill);
  return { code, stdout, stderr };
}

describe('ghostnet ws', () => {
  it('sends stdin lines, prints the echoes, closes with 1000 on EOF and exits 0', async () => {
    let serverClosed!: (code: number) => void;
    const closeCode = new Promise<number>((resolve) => (serverClosed = resolve));
    const { url } = await wsServer((ws) => {
      ws.on('close', (code) => serverClosed(code));
      echo(ws);
    });
    const r = await run([url], 'hello\nworld 🌍\n\nlast line without newline');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('hello\nworld 🌍\n\nlast line without newline\n');
    // The server's 'close' can fire just after the client process exited: wait (bounded).
    const timeout = new Promise<number>((resolve) => setTimeout(() => resolve(-1), 10_000));
    expect(await Promise.race([closeCode, timeout])).toBe(1000);
  });

  it('prints binary messages as hex, or base64 with --base64', async () => {
    const onConn = (ws: WsSocket): void => {
      ws.send(Buffer.from([0xde, 0xad, 0xbe, 0xef]));
      ws.on('message', () => ws.close(1000));
    };
    const a = await wsServer(onConn);
    const hex = await run([a.url], 'go\n', true);
    expect(hex.code).toBe(0);
    expect(hex.stdout).toBe('deadbeef\n');
    const b = await wsServer(onConn);
    const b64 = await run([b.url, '--base64'], 'go\n', true);
    expect(b64.code).toBe(0);
    expect(b64.stdout).toBe('3q2+7w==\n');
  });

  it('offers subprotocols, sends headers, negotiates permessage-deflate', async () => {
    const { url, seen } = await wsServer(echo, { perMessageDeflate: true });
    const line = 'compress me '.repeat(200);
    const r = await run(
      [url, '--protocol', 'other', '--protocol', 'chat', '-H', 'X-Token: abc', '--deflate'],
      `${line}\n`,
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${line}\n`);
    const { ws, req } = seen[0]!;
    expect(ws.protocol).toBe('chat');
    expect(req.headers['x-token']).toBe('abc');
    expect(req.headers['sec-websocket-protocol']).toBe('other, chat');
    expect(ws.extensions).toContain('permessage-deflate');
    expect(req.url).toBe('/path');
  });

  it('exits 1 when the server closes abnormally or with an error code', async () => {
    const a = await wsServer((ws) => ws.close(1011, 'oops'));
    const r = await run([a.url], '', true);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('1011');
    const b = await wsServer((ws) => ws.terminate());
    expect((await run([b.url], '', true)).code).toBe(1);
  });

  it('exits 1 when it cannot connect or the handshake fails', async () => {
    const { url } = await wsServer(echo);
    const port = Number(new URL(url).port);
    await new Promise((r) => servers.pop()!.close(r));
    const refused = await run([`ws://127.0.0.1:${port}/`], '');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('GN_ERR_CONNECT');
  });

  it('exits 2 on usage errors', async () => {
    expect((await run([], '')).code).toBe(2);
    expect((await run(['http://127.0.0.1/'], '')).code).toBe(2);
    expect((await run(['ws://127.0.0.1/', '-H', 'bad'], '')).code).toBe(2);
  });
});
