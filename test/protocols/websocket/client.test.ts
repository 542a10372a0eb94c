/**
 * The client binding: ws: and wss:, request headers, handshake failures (status, accept,
 * timeout, abort, refused), frames in the same segment as the 101, the client's own close
 * deadline (§7.1.1) and ReconnectingWebSocket.
 */
import { createHash } from 'node:crypto';
import net from 'node:net';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { listenHttp1 } from '../../../src/protocols/http1/server.js';
import type { Http1Server } from '../../../src/protocols/http1/server.js';
import type { HttpRequest } from '../../../src/protocols/http/types.js';
import {
  connectWebSocket,
  WebSocketHandshakeError,
} from '../../../src/protocols/websocket/client.js';
import { WEBSOCKET_GUID } from '../../../src/protocols/websocket/handshake.js';
import { ReconnectingWebSocket } from '../../../src/protocols/websocket/reconnect.js';
import { WebSocketServer } from '../../../src/protocols/websocket/server.js';
import type { WebSocketServerOptions } from '../../../src/protocols/websocket/server.js';
import type { WebSocket } from '../../../src/protocols/websocket/socket.js';
import { cleanupCerts, makeCa, makeLeaf } from '../../helpers/certs.js';
import { sf } from './helpers.js';

const servers: Http1Server[] = [];
const rawServers: net.Server[] = [];

afterEach(async () => {
  for (const s of rawServers.splice(0)) s.close();
  await Promise.all(servers.splice(0).map((s) => s.destroy()));
});
afterAll(() => cleanupCerts());

async function start(
  options: WebSocketServerOptions = {},
  tls?: Parameters<typeof listenHttp1>[0]['tls'],
) {
  const accepted: Array<[WebSocket, HttpRequest]> = [];
  const waiters: Array<(v: [WebSocket, HttpRequest]) => void> = [];
  const wss = new WebSocketServer(options, (ws, req) => {
    ws.on('message', (d, b) => ws.readyState === 'open' && ws.send(d, { binary: b }));
    const w = waiters.shift();
    if (w) w([ws, req]);
    else accepted.push([ws, req]);
  });
  const http = await listenHttp1(
    { port: 0, onUpgrade: wss.upgrade, ...(tls ? { tls } : {}) },
    (_req, res) => res.end('plain'),
  );
  servers.push(http);
  const next = (): Promise<[WebSocket, HttpRequest]> =>
    accepted.length > 0 ? Promise.resolve(accepted.shift()!) : new Promise((r) => waiters.push(r));
  return { wss, port: http.address.port, next };
}

/** A raw TCP server; `onRequest` gets the socket and the request head. */
async function rawServer(onRequest: (socket: net.Socket, head: string) => void): Promise<number> {
  const server = net.createServer((socket) => {
    let buf = '';
    socket.on('error', () => {});
    socket.on('data', function onData(c: Buffer) {
      buf += c.toString('latin1');
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      onRequest(socket, buf.slice(0, end));
    });
  });
  rawServers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as net.AddressInfo).port;
}

function accept101(head: string, extra = ''): string {
  const key = /sec-websocket-key: *(\S+)/i.exec(head)![1]!;
  const accept = createHash('sha1')
    .update(key + WEBSOCKET_GUID)
    .digest('base64');
  return (
    'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
    `Sec-WebSocket-Accept: ${accept}\r\n${extra}\r\n`
  );
}

describe('connectWebSocket', () => {
  it('sends the request target, extra headers and Origin', async () => {
    const { port, next } = await start();
    const url = `ws://127.0.0.1:${port}/chat/room?x=1`;
    const ws = await connectWebSocket(url, {
      headers: { Authorization: 'Bearer t', 'X-Extra': 'yes' },
      origin: 'https://app.example',
    });
    const [, req] = await next();
    expect(ws.url).toBe(url);
    expect(ws.readyState).toBe('open');
    expect(req.target).toBe('/chat/room?x=1');
    expect(req.headers.get('authorization')).toBe('Bearer t');
    expect(req.headers.get('x-extra')).toBe('yes');
    expect(req.headers.get('origin')).toBe('https://app.example');
    ws.close(1000);
    await ws.closed;
  });

  it('emits open, then the messages', async () => {
    const { port } = await start();
    const ws = await connectWebSocket(`ws://127.0.0.1:${port}/`);
    await new Promise<void>((r) => ws.once('open', r));
    const got = new Promise<string>((r) => ws.once('message', (d) => r(d as string)));
    ws.send('ping?');
    expect(await got).toBe('ping?');
    ws.terminate();
  });

  it('wss: with a CA, SNI and permessage-deflate', async () => {
    const ca = await makeCa();
    const leaf = await makeLeaf(ca, { dns: ['localhost'] });
    const { port } = await start(
      { perMessageDeflate: true },
      {
        certificates: [{ cert: leaf.cert, key: leaf.key }],
      },
    );
    const ws = await connectWebSocket(`wss://localhost:${port}/`, {
      tls: { ca: ca.cert },
      perMessageDeflate: true,
    });
    expect(ws.transport.kind).toBe('tls');
    expect(ws.extensions).toContain('permessage-deflate');
    const got = new Promise<string>((r) => ws.once('message', (d) => r(d as string)));
    ws.send('secure '.repeat(1000));
    expect(await got).toBe('secure '.repeat(1000));
    ws.close(1000);
    await expect(ws.closed).resolves.toMatchObject({ code: 1000, wasClean: true });
    // Without the CA the certificate is refused.
    await expect(connectWebSocket(`wss://localhost:${port}/`)).rejects.toMatchObject({
      code: 'GN_ERR_TLS',
    });
  });

  it("textAs 'bytes': text arrives as validated UTF-8 bytes (plain and deflated), echoed as text", async () => {
    const { port } = await start({ perMessageDeflate: true, textAs: 'bytes' });
    const ws = await connectWebSocket(`ws://127.0.0.1:${port}/`, {
      perMessageDeflate: true,
      textAs: 'bytes',
    });
    const got: Array<[unknown, boolean]> = [];
    ws.on('message', (d, b) => got.push([d, b]));
    const short = 'héllo'; // below the compression threshold: sent plain
    const long = 'ünïcode '.repeat(400); // above it: deflated both ways
    ws.send(short);
    ws.send(long);
    ws.send(Uint8Array.from([1, 2, 3]));
    await expect.poll(() => got.length).toBe(3);
    expect(got[0]![0]).toBeInstanceOf(Uint8Array);
    expect(Buffer.from(got[0]![0] as Uint8Array).toString('utf8')).toBe(short);
    expect(got[0]![1]).toBe(false);
    expect(Buffer.from(got[1]![0] as Uint8Array).toString('utf8')).toBe(long);
    expect(got[1]![1]).toBe(false);
    expect([...(got[2]![0] as Uint8Array)]).toEqual([1, 2, 3]);
    expect(got[2]![1]).toBe(true);
    ws.close(1000);
    await ws.closed;
  });

  it("textAs: anything but 'string' or 'bytes' is refused", async () => {
    const { port } = await start();
    await expect(
      connectWebSocket(`ws://127.0.0.1:${port}/`, { textAs: 'buffer' as 'bytes' }),
    ).rejects.toMatchObject({ code: 'GN_ERR_WS_INVALID_ARGUMENT' });
    expect(() => new WebSocketServer({ textAs: 'text' as 'bytes' }, () => {})).toThrow(
      /textAs must be/,
    );
  });

  it('rejects a non-101 answer with the status (plain HTTP server)', async () => {
    const http = await listenHttp1({ port: 0 }, (_req, res) => res.end('no websockets here'));
    servers.push(http);
    const err = await connectWebSocket(`ws://127.0.0.1:${http.address.port}/`).catch((e) => e);
    expect(err).toBeInstanceOf(WebSocketHandshakeError);
    expect(err).toMatchObject({ status: 200, wireCode: 200, code: 'GN_ERR_WS_HANDSHAKE_STATUS' });
  });

  it('rejects a wrong Sec-WebSocket-Accept', async () => {
    const port = await rawServer((socket) =>
      socket.write(
        'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          'Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n',
      ),
    );
    await expect(connectWebSocket(`ws://127.0.0.1:${port}/`)).rejects.toMatchObject({
      code: 'GN_ERR_WS_HANDSHAKE_ACCEPT',
      status: 101,
    });
  });

  it('rejects a subprotocol that was not offered', async () => {
    const port = await rawServer((socket, head) =>
      socket.write(accept101(head, 'Sec-WebSocket-Protocol: other\r\n')),
    );
    await expect(
      connectWebSocket(`ws://127.0.0.1:${port}/`, { protocols: ['mine'] }),
    ).rejects.toMatchObject({ code: 'GN_ERR_WS_HANDSHAKE_PROTOCOL' });
  });

  it('times out a server that never answers (handshakeTimeoutMs)', async () => {
    const port = await rawServer(() => {});
    await expect(
      connectWebSocket(`ws://127.0.0.1:${port}/`, { handshakeTimeoutMs: 50 }),
    ).rejects.toMatchObject({ code: 'GN_ERR_TIMEOUT' });
  });

  it('aborts through the signal', async () => {
    const port = await rawServer(() => {});
    const ac = new AbortController();
    const p = connectWebSocket(`ws://127.0.0.1:${port}/`, { signal: ac.signal });
    setTimeout(() => ac.abort(), 10);
    await expect(p).rejects.toMatchObject({ code: 'GN_ERR_ABORTED' });
  });

  it('rejects when the server closes during the handshake, and refused connections', async () => {
    const port = await rawServer((socket) => socket.end());
    await expect(connectWebSocket(`ws://127.0.0.1:${port}/`)).rejects.toMatchObject({
      code: 'GN_ERR_CONNECTION_CLOSED',
    });
    const server = rawServers.pop()!;
    await new Promise((r) => server.close(r));
    await expect(connectWebSocket(`ws://127.0.0.1:${port}/`)).rejects.toMatchObject({
      code: 'GN_ERR_CONNECT',
    });
  });

  it('rejects bad URLs with coded errors', async () => {
    await expect(connectWebSocket('ftp://127.0.0.1/')).rejects.toMatchObject({
      code: 'GN_ERR_WS_HANDSHAKE_OPTION',
    });
    await expect(connectWebSocket('ws://127.0.0.1/#frag')).rejects.toMatchObject({
      code: 'GN_ERR_WS_HANDSHAKE_OPTION',
    });
  });

  it('delivers frames that arrive in the same segment as the 101', async () => {
    const port = await rawServer((socket, head) => {
      socket.write(
        Buffer.concat([
          Buffer.from(accept101(head), 'latin1'),
          sf({ opcode: 1, payload: Buffer.from('early') }),
          sf({ opcode: 2, payload: Buffer.from([9, 9]) }),
        ]),
      );
    });
    const ws = await connectWebSocket(`ws://127.0.0.1:${port}/`);
    const got: unknown[] = [];
    await new Promise<void>((resolve) =>
      ws.on('message', (d) => {
        got.push(typeof d === 'string' ? d : [...d]);
        if (got.length === 2) resolve();
      }),
    );
    expect(got).toEqual(['early', [9, 9]]);
    ws.terminate();
  });

  it('closes the TCP connection itself when the server does not (closeTimeoutMs)', async () => {
    let serverSocket!: net.Socket;
    const port = await rawServer((socket, head) => {
      serverSocket = socket;
      socket.write(accept101(head));
      // Answer a Close with a Close, but never end the TCP connection.
      socket.on('data', () => socket.write(sf({ opcode: 8, payload: Buffer.from([0x03, 0xe8]) })));
    });
    const ws = await connectWebSocket(`ws://127.0.0.1:${port}/`, { closeTimeoutMs: 50 });
    const serverSawEnd = new Promise<void>((r) => serverSocket.once('end', r));
    ws.close(1000);
    await expect(ws.closed).resolves.toEqual({ code: 1000, reason: '', wasClean: true });
    await serverSawEnd;
  });
});

describe('ReconnectingWebSocket', () => {
  it('reconnects after the server drops the connection, then closes for good', async () => {
    let connections = 0;
    const { port: dropPort } = await start();
    const rws = new ReconnectingWebSocket(`ws://127.0.0.1:${dropPort}/`, {
      backoff: { baseMs: 1, maxMs: 5, maxAttempts: 5 },
    });
    const attempts: number[] = [];
    rws.on('reconnecting', (attempt) => attempts.push(attempt));
    await new Promise<void>((resolve) =>
      rws.on('open', (ws) => {
        connections++;
        if (connections === 1) ws.terminate();
        else resolve();
      }),
    );
    expect(attempts).toEqual([1]);
    const got = new Promise<string>((r) => rws.once('message', (d) => r(d as string)));
    expect(rws.send('after reconnect')).toBe(true);
    expect(await got).toBe('after reconnect');
    const closed = new Promise<number>((r) => rws.once('close', (code) => r(code)));
    rws.close();
    expect(await closed).toBe(1000);
    expect(rws.send('x')).toBe(false);
  });

  it('gives up after maxAttempts failures in a row', async () => {
    const port = await rawServer((socket) => socket.destroy());
    const rws = new ReconnectingWebSocket(`ws://127.0.0.1:${port}/`, {
      backoff: { baseMs: 1, maxMs: 2, maxAttempts: 3 },
    });
    const attempts: number[] = [];
    rws.on('reconnecting', (a) => attempts.push(a));
    const errors: Error[] = [];
    rws.on('error', (e) => errors.push(e));
    const code = await new Promise<number>((r) => rws.once('close', (c) => r(c)));
    expect(code).toBe(1006);
    expect(attempts).toEqual([1, 2, 3]);
    expect(errors.length).toBe(4);
  });
});
