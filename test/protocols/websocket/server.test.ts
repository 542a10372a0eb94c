/**
 * The server binding: handshake refusals (403, 404, 426, 405, 503), subprotocols, the
 * WebSocketServer (clients, broadcast, shutdown) and timeouts against a raw TCP peer that
 * completes the handshake and then goes silent.
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { deflateRawSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { listenHttp1 } from '../../../src/protocols/http1/server.js';
import type { Http1Server } from '../../../src/protocols/http1/server.js';
import { broadcast } from '../../../src/protocols/websocket/broadcast.js';
import {
  connectWebSocket,
  WebSocketHandshakeError,
} from '../../../src/protocols/websocket/client.js';
import { acceptKey } from '../../../src/protocols/websocket/handshake.js';
import {
  createWebSocketUpgrade,
  WebSocketServer,
} from '../../../src/protocols/websocket/server.js';
import type { WebSocketServerOptions } from '../../../src/protocols/websocket/server.js';
import type { WebSocket } from '../../../src/protocols/websocket/socket.js';
import { cf } from './helpers.js';

const servers: Http1Server[] = [];
const raws: net.Socket[] = [];

afterEach(async () => {
  for (const s of raws.splice(0)) s.destroy();
  await Promise.all(servers.splice(0).map((s) => s.destroy()));
});

async function listen(onUpgrade: Parameters<typeof listenHttp1>[0]['onUpgrade']): Promise<number> {
  const http = await listenHttp1({ port: 0, onUpgrade }, (_req, res) => res.end('plain http'));
  servers.push(http);
  return http.address.port;
}

async function start(options: WebSocketServerOptions = {}) {
  const accepted: WebSocket[] = [];
  const waiters: Array<(ws: WebSocket) => void> = [];
  const wss = new WebSocketServer(options, (ws) => {
    accepted.push(ws);
    waiters.shift()?.(ws);
  });
  const port = await listen(wss.upgrade);
  const next = (): Promise<WebSocket> =>
    accepted.length > 0 ? Promise.resolve(accepted.shift()!) : new Promise((r) => waiters.push(r));
  return { wss, port, url: `ws://127.0.0.1:${port}/`, next };
}

interface RawResponse {
  socket: net.Socket;
  status: number;
  head: string;
  rest: Buffer;
}

/** A raw TCP client: sends an upgrade request (headers can be replaced) and reads the head. */
function rawHandshake(
  port: number,
  headers: Record<string, string> = {},
  method = 'GET',
  path = '/',
): Promise<RawResponse> {
  const key = randomBytes(16).toString('base64');
  const all: Record<string, string> = {
    Host: `127.0.0.1:${port}`,
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': key,
    'Sec-WebSocket-Version': '13',
    ...headers,
  };
  let req = `${method} ${path} HTTP/1.1\r\n`;
  for (const [k, v] of Object.entries(all)) if (v !== '') req += `${k}: ${v}\r\n`;
  req += '\r\n';
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    raws.push(socket);
    let buf = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      buf = Buffer.concat([buf, chunk]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      socket.pause();
      const head = buf.subarray(0, end).toString('latin1');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]);
      if (status === 101) expect(head).toContain(`Sec-WebSocket-Accept: ${acceptKey(key)}`);
      resolve({ socket, status, head, rest: buf.subarray(end + 4) });
    };
    socket.on('data', onData);
    socket.on('error', reject);
    socket.write(req);
  });
}

/** Everything the raw socket receives until it closes. */
function readAll(socket: net.Socket, first: Buffer): Promise<Buffer> {
  const chunks = [first];
  return new Promise((resolve) => {
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('close', () => resolve(Buffer.concat(chunks)));
    socket.resume();
  });
}

describe('handshake refusals', () => {
  it('refuses a forbidden Origin with 403', async () => {
    const { url } = await start({ checkOrigin: (o) => o === 'https://good.example' });
    const err = await connectWebSocket(url, { origin: 'https://evil.example' }).catch((e) => e);
    expect(err).toBeInstanceOf(WebSocketHandshakeError);
    expect(err).toMatchObject({ status: 403, wireCode: 403, code: 'GN_ERR_WS_HANDSHAKE_STATUS' });
    const ok = await connectWebSocket(url, { origin: 'https://good.example' });
    ok.close(1000);
    await ok.closed;
  });

  it('answers an unsupported version with 426 and Sec-WebSocket-Version: 13', async () => {
    const { port } = await start();
    const res = await rawHandshake(port, { 'Sec-WebSocket-Version': '8' });
    expect(res.status).toBe(426);
    expect(res.head).toMatch(/Sec-WebSocket-Version: 13/i);
  });

  it('answers a POST upgrade with 405 and a missing key with 400', async () => {
    const { port } = await start();
    expect((await rawHandshake(port, {}, 'POST')).status).toBe(405);
    expect((await rawHandshake(port, { 'Sec-WebSocket-Key': '' })).status).toBe(400);
  });

  it('answers paths that shouldHandle declines with 404', async () => {
    const hook = createWebSocketUpgrade(
      {},
      (ws) => ws.close(1000),
      (req) => req.path === '/ws',
    );
    const port = await listen(hook);
    expect((await rawHandshake(port, {}, 'GET', '/other')).status).toBe(404);
    const err = await connectWebSocket(`ws://127.0.0.1:${port}/nope`).catch((e) => e);
    expect(err).toMatchObject({ status: 404 });
    const ws = await connectWebSocket(`ws://127.0.0.1:${port}/ws`);
    await expect(ws.closed).resolves.toMatchObject({ code: 1000, wasClean: true });
  });

  it('answers 503 above maxConnections', async () => {
    const { url, next } = await start({ maxConnections: 1 });
    const first = await connectWebSocket(url);
    const serverSide = await next();
    await expect(connectWebSocket(url)).rejects.toMatchObject({ status: 503 });
    first.close(1000);
    await first.closed;
    // The slot is free again once the first socket closed on the server too.
    await serverSide.closed;
    const again = await connectWebSocket(url);
    again.close(1000);
    await again.closed;
  });
});

describe('subprotocols', () => {
  it('selects one of the offered subprotocols; both sides see it', async () => {
    const { url, next } = await start({
      protocols: (offered) => offered.find((p) => p === 'chat.v2'),
    });
    const client = await connectWebSocket(url, { protocols: ['chat.v1', 'chat.v2'] });
    const server = await next();
    expect(client.protocol).toBe('chat.v2');
    expect(server.protocol).toBe('chat.v2');
    client.close(1000);
    await client.closed;
  });

  it('selects none when nothing fits', async () => {
    const { url } = await start({ protocols: () => undefined });
    const client = await connectWebSocket(url, { protocols: ['x'] });
    expect(client.protocol).toBe('');
    client.terminate();
  });
});

describe('WebSocketServer', () => {
  it('tracks clients, broadcasts with skip, and closes all with 1001', async () => {
    const { wss, url, next } = await start();
    const a = await connectWebSocket(url);
    const sa = await next();
    const b = await connectWebSocket(url);
    await next();
    expect(wss.clients.size).toBe(2);
    const got = new Promise<string>((r) => b.once('message', (d) => r(d as string)));
    let aGot = 0;
    a.on('message', () => aGot++);
    expect(wss.broadcast('hi all', { skip: sa })).toBe(1);
    expect(await got).toBe('hi all');
    await wss.close();
    await expect(a.closed).resolves.toMatchObject({ code: 1001, wasClean: true });
    await expect(b.closed).resolves.toMatchObject({ code: 1001, wasClean: true });
    expect(wss.clients.size).toBe(0);
    expect(aGot).toBe(0);
    // No new connections after close.
    await expect(connectWebSocket(url)).rejects.toMatchObject({ status: 503 });
  });

  it('drainable: stopAccepting, drain (1001), destroy', async () => {
    const { wss, url, next } = await start();
    const a = await connectWebSocket(url);
    await next();
    const d = wss.drainable;
    expect(d.name).toBe('websocket');
    await d.stopAccepting();
    await d.drain();
    await expect(a.closed).resolves.toMatchObject({ code: 1001 });
    await d.destroy();
  });
});

describe('broadcast()', () => {
  it('skips closed sockets, the skipped one and slow consumers', () => {
    const sent: string[] = [];
    const fake = (name: string, readyState: string, bufferedAmount: number) =>
      ({
        readyState,
        bufferedAmount,
        send: (data: Uint8Array, o: { binary: boolean }) => {
          sent.push(`${name}:${Buffer.from(data).toString()}:${o.binary}`);
          return true;
        },
      }) as unknown as WebSocket;
    const a = fake('a', 'open', 0);
    const clients = [a, fake('b', 'open', 10), fake('c', 'closing', 0), fake('d', 'open', 2e6)];
    expect(broadcast(clients, 'x')).toBe(2);
    expect(broadcast(clients, 'y', { skip: a, maxBufferedAmount: 5 })).toBe(0);
    expect(broadcast(clients, new Uint8Array([0x7a]), { maxBufferedAmount: 100 })).toBe(2);
    expect(sent).toEqual(['a:x:false', 'b:x:false', 'a:z:true', 'b:z:true']);
  });
});

describe('timeouts and failures against a raw peer', () => {
  it('heartbeat: a peer that stops answering pings is dropped (1006)', async () => {
    const { port, next } = await start({ pingIntervalMs: 30, pongTimeoutMs: 30 });
    const raw = await rawHandshake(port);
    expect(raw.status).toBe(101);
    const server = await next();
    const received = readAll(raw.socket, raw.rest);
    await expect(server.closed).resolves.toEqual({ code: 1006, reason: '', wasClean: false });
    const bytes = await received;
    // It saw at least one ping (0x89 0x00) and no Close frame.
    expect(bytes[0]).toBe(0x89);
    expect(bytes.includes(0x88)).toBe(false);
  });

  it('close handshake timeout: a peer that never answers the Close frame (1006)', async () => {
    const { port, next } = await start({ closeTimeoutMs: 50 });
    const raw = await rawHandshake(port);
    const server = await next();
    const received = readAll(raw.socket, raw.rest);
    server.close(1000, 'bye');
    expect(server.readyState).toBe('closing');
    await expect(server.closed).resolves.toEqual({ code: 1006, reason: '', wasClean: false });
    const bytes = await received;
    expect(bytes.subarray(0, 2)).toEqual(Buffer.from([0x88, 5]));
  });

  it('abrupt disconnect of a raw peer → 1006', async () => {
    const { port, next } = await start();
    const raw = await rawHandshake(port);
    const server = await next();
    raw.socket.destroy();
    await expect(server.closed).resolves.toEqual({ code: 1006, reason: '', wasClean: false });
  });

  it('an unmasked frame fails the connection with 1002', async () => {
    const { port, next } = await start();
    const raw = await rawHandshake(port);
    const server = await next();
    const received = readAll(raw.socket, raw.rest);
    raw.socket.write(Buffer.from([0x81, 0x02, 0x68, 0x69]));
    await expect(server.closed).resolves.toMatchObject({ code: 1002, wasClean: false });
    const bytes = await received;
    expect([...bytes.subarray(0, 4)]).toEqual([0x88, 0x02, 0x03, 0xea]);
  });

  it('invalid compressed data → 1007; compressed invalid UTF-8 → 1007', async () => {
    for (const payload of [
      Buffer.from([0xff, 0xff, 0xff, 0xff, 0x00]),
      deflateRawSync(Buffer.from([0xc3, 0x28]), { finishFlush: 2 }).subarray(0, -4),
    ]) {
      const { port, next } = await start({ perMessageDeflate: true });
      const raw = await rawHandshake(port, {
        'Sec-WebSocket-Extensions': 'permessage-deflate',
      });
      expect(raw.head).toMatch(/Sec-WebSocket-Extensions: permessage-deflate/i);
      const server = await next();
      const received = readAll(raw.socket, raw.rest);
      raw.socket.write(cf({ opcode: 1, rsv: 4, payload }));
      await expect(server.closed).resolves.toMatchObject({ code: 1007, wasClean: false });
      const bytes = await received;
      expect([...bytes.subarray(0, 4)]).toEqual([0x88, 0x02, 0x03, 0xef]);
    }
  });

  it('a message that inflates past maxPayload → 1009', async () => {
    const { port, next } = await start({
      perMessageDeflate: true,
      limits: { maxPayload: 64 * 1024 },
    });
    const raw = await rawHandshake(port, { 'Sec-WebSocket-Extensions': 'permessage-deflate' });
    const server = await next();
    const received = readAll(raw.socket, raw.rest);
    const bomb = deflateRawSync(Buffer.alloc(1024 * 1024), { finishFlush: 2 }).subarray(0, -4);
    raw.socket.write(cf({ opcode: 2, rsv: 4, payload: bomb }));
    await expect(server.closed).resolves.toMatchObject({ code: 1009, wasClean: false });
    const bytes = await received;
    expect([...bytes.subarray(0, 4)]).toEqual([0x88, 0x02, 0x03, 0xf1]);
  });
});

describe('a message that arrives together with the peer Close', () => {
  it('can be answered from a handler without throwing: the reply is dropped', async () => {
    const uncaught: unknown[] = [];
    const onUncaught = (err: unknown): void => {
      uncaught.push(err);
    };
    process.on('uncaughtException', onUncaught);
    try {
      const replies: boolean[] = [];
      const wss = new WebSocketServer({}, (ws) => {
        // The classic echo handler; it races with the peer's Close frame.
        ws.on('message', (data, isBinary) => replies.push(ws.send(data, { binary: isBinary })));
      });
      const port = await listen(wss.upgrade);
      const { socket, status, rest } = await rawHandshake(port);
      expect(status).toBe(101);
      const mask = new Uint8Array([9, 8, 7, 6]);
      const text = Buffer.from('last words');
      const masked = Buffer.from(text.map((b, i) => b ^ mask[i % 4]!));
      const closePayload = Buffer.from([0x03, 0xe8].map((b, i) => b ^ mask[i % 4]!));
      // One write: a text frame, then Close 1000, so both are parsed in one receive().
      socket.write(
        Buffer.concat([
          Buffer.from([0x81, 0x80 | text.length]),
          mask,
          masked,
          Buffer.from([0x88, 0x82]),
          mask,
          closePayload,
        ]),
      );
      const all = await readAll(socket, rest);
      // The server answered the Close (its Close frame is in what we read) and lived on.
      expect(all.includes(Buffer.from([0x88]))).toBe(true);
      expect(replies.length).toBe(1);
      expect(uncaught).toEqual([]);
    } finally {
      process.off('uncaughtException', onUncaught);
    }
  });
});

describe('an upgraded connection', () => {
  it('no longer holds an HTTP session once handed to the WebSocket server', async () => {
    const wss = new WebSocketServer({}, () => {});
    const http = await listenHttp1({ port: 0, onUpgrade: wss.upgrade }, (_q, r) => r.end('x'));
    servers.push(http);
    const ws = await connectWebSocket(`ws://127.0.0.1:${http.address.port}/`);
    expect(wss.clients.size).toBe(1);
    // The HTTP server forgot the connection (its parser, core and exchange are released);
    // the WebSocket server owns it now.
    expect(http.connections).toBe(0);
    ws.close(1000);
    await ws.closed;
  });
});
