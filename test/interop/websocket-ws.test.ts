/**
 * WebSocket interop with the `ws` package (v8), an independent RFC 6455 / RFC 7692
 * implementation, over loopback:
 *
 * - ws client → ghostnet server (an in-test `listenHttp1` + `createWebSocketUpgrade` echo
 *   server, and `ghostnet serve`'s /ws echo endpoint);
 * - ghostnet client → ws server.
 *
 * Each with and without permessage-deflate: text and binary from 0 B to 16 MiB (compared by
 * SHA-256), fragmented messages, close codes both ways, ping/pong, subprotocols and the
 * peer's protocol violations.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket as WsClient, WebSocketServer as WsServer } from 'ws';
import type { RawData } from 'ws';
import { listenHttp1 } from '../../src/protocols/http1/server.js';
import type { Http1Server } from '../../src/protocols/http1/server.js';
import { connectWebSocket } from '../../src/protocols/websocket/client.js';
import { createWebSocketUpgrade, WebSocketServer } from '../../src/protocols/websocket/server.js';
import type { WebSocket } from '../../src/protocols/websocket/socket.js';
import { startServe } from '../helpers/serve-process.js';
import type { ServeProcess } from '../helpers/serve-process.js';

const WAIT_MS = 30_000;
const MiB = 1024 * 1024;
const SIZES = [0, 125, 126, 65535, 65536, MiB, 16 * MiB];

// ── helpers ──────────────────────────────────────────────────────────────────────────────

function withTimeout<T>(promise: Promise<T>, what: string, ms = WAIT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Items pushed by event handlers, taken in order with a bounded wait. */
class Queue<T> {
  readonly #items: T[] = [];
  readonly #waiters: Array<(item: T) => void> = [];

  push(item: T): void {
    const waiter = this.#waiters.shift();
    if (waiter) waiter(item);
    else this.#items.push(item);
  }

  next(what: string, ms = WAIT_MS): Promise<T> {
    if (this.#items.length > 0) return Promise.resolve(this.#items.shift() as T);
    return withTimeout(new Promise<T>((resolve) => this.#waiters.push(resolve)), what, ms);
  }

  get size(): number {
    return this.#items.length;
  }

  /** Drop what nobody took (a previous test's connections). */
  clear(): void {
    this.#items.length = 0;
  }
}

/** Connection queues of the servers, emptied after each test. */
const connectionQueues: Array<{ clear(): void }> = [];

const sha256 = (data: string | Uint8Array): string =>
  createHash('sha256')
    .update(typeof data === 'string' ? Buffer.from(data, 'utf8') : data)
    .digest('hex');

const byteLength = (data: string | Uint8Array): number =>
  typeof data === 'string' ? Buffer.byteLength(data, 'utf8') : data.byteLength;

const RANDOM = randomBytes(16 * MiB + 64);
const MULTIBYTE = ['é', '✓', '😀', 'ß', '中'];

/** Exactly `n` UTF-8 bytes: base64 noise with a 2-, 3- or 4-byte character every 60 bytes. */
function makeText(n: number): string {
  const noise = RANDOM.subarray(0, Math.ceil(n * 0.75) + 64).toString('base64');
  const parts: string[] = [];
  let bytes = 0;
  let pos = 0;
  let i = 0;
  while (bytes < n) {
    const take = Math.min(60, n - bytes);
    parts.push(noise.slice(pos, pos + take));
    pos += take;
    bytes += take;
    const ch = MULTIBYTE[i++ % MULTIBYTE.length]!;
    const chBytes = Buffer.byteLength(ch, 'utf8');
    if (bytes + chBytes <= n) {
      parts.push(ch);
      bytes += chBytes;
    }
  }
  return parts.join('');
}

/** `n` random bytes (a fresh copy, offset by `n` so neighbouring sizes differ). */
const makeBinary = (n: number): Uint8Array => new Uint8Array(RANDOM.subarray(n % 64, (n % 64) + n));

/** A client → server frame (masked), built by hand so it can break the rules. */
function clientFrame(first: number, payload: Uint8Array, mask = true): Buffer {
  const n = payload.length;
  if (n > 125) throw new Error('test frames are short');
  const key = mask ? randomBytes(4) : Buffer.alloc(0);
  const out = Buffer.alloc(2 + key.length + n);
  out[0] = first;
  out[1] = (mask ? 0x80 : 0) | n;
  key.copy(out, 2);
  for (let i = 0; i < n; i++) out[2 + key.length + i] = payload[i]! ^ (mask ? key[i % 4]! : 0);
  return out;
}

const socketOf = (ws: WsClient): Socket => (ws as unknown as { _socket: Socket })._socket;

const rawToBuffer = (data: RawData): Buffer =>
  Buffer.isBuffer(data)
    ? data
    : Array.isArray(data)
      ? Buffer.concat(data)
      : Buffer.from(new Uint8Array(data));

// ── ws clients ───────────────────────────────────────────────────────────────────────────

interface WsPeer {
  ws: WsClient;
  messages: Queue<{ data: Buffer; isBinary: boolean }>;
  pongs: Queue<Buffer>;
  closed: Promise<{ code: number; reason: string }>;
  errors: Error[];
}

const wsClients: WsClient[] = [];

function watchWs(ws: WsClient): WsPeer {
  const peer: WsPeer = {
    ws,
    messages: new Queue(),
    pongs: new Queue(),
    errors: [],
    closed: new Promise((resolve) =>
      ws.once('close', (code, reason) => resolve({ code, reason: reason.toString('utf8') })),
    ),
  };
  ws.on('message', (data, isBinary) => peer.messages.push({ data: rawToBuffer(data), isBinary }));
  ws.on('pong', (data) => peer.pongs.push(data));
  ws.on('error', (err) => peer.errors.push(err));
  return peer;
}

async function openWs(
  url: string,
  options: ConstructorParameters<typeof WsClient>[2] = {},
  protocols?: string[],
): Promise<WsPeer> {
  const ws = new WsClient(url, protocols ?? [], { maxPayload: 64 * MiB, ...options });
  wsClients.push(ws);
  const peer = watchWs(ws);
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    }),
    `ws client open ${url}`,
  );
  return peer;
}

/** ws client option: permessage-deflate on every message (threshold 0), or off. */
const wsDeflate = (on: boolean): ConstructorParameters<typeof WsClient>[2] => ({
  perMessageDeflate: on ? { threshold: 0 } : false,
});

/** Send each payload, expect the same bytes and type back (one at a time). */
async function echoMatrixWs(peer: WsPeer, binary: boolean): Promise<void> {
  for (const size of SIZES) {
    const payload = binary ? makeBinary(size) : makeText(size);
    expect(byteLength(payload)).toBe(size);
    peer.ws.send(payload, { binary });
    const echo = await peer.messages.next(`echo of ${size} B ${binary ? 'binary' : 'text'}`);
    expect({ size, isBinary: echo.isBinary, length: echo.data.length }).toEqual({
      size,
      isBinary: binary,
      length: size,
    });
    expect(sha256(echo.data)).toBe(sha256(payload));
  }
}

/** A compressible 900 kB message: with deflate, far fewer bytes cross the socket. */
async function wireBytesForCompressible(peer: WsPeer): Promise<{ out: number; in: number }> {
  const socket = socketOf(peer.ws);
  const written = socket.bytesWritten;
  const read = socket.bytesRead;
  const text = 'ghostnet speaks permessage-deflate. '.repeat(25_000);
  peer.ws.send(text);
  const echo = await peer.messages.next('compressible echo');
  expect(echo.isBinary).toBe(false);
  expect(echo.data.toString('utf8') === text).toBe(true);
  return { out: socket.bytesWritten - written, in: socket.bytesRead - read };
}

// ── the in-test ghostnet echo server ─────────────────────────────────────────────────────

interface GhostSide {
  ws: WebSocket;
  closed: Promise<{ code: number; reason: string }>;
  errors: Error[];
  messages: Array<{ size: number; isBinary: boolean }>;
}

type UpgradeOptions = Parameters<typeof createWebSocketUpgrade>[0];

interface GhostServer {
  server: Http1Server;
  url: string;
  connections: Queue<GhostSide>;
}

const ghostServers: Http1Server[] = [];
const ghostSockets: WebSocket[] = [];

async function startGhostServer(options: UpgradeOptions): Promise<GhostServer> {
  const connections = new Queue<GhostSide>();
  connectionQueues.push(connections);
  const onUpgrade = createWebSocketUpgrade(options, (ws) => {
    ghostSockets.push(ws);
    const side: GhostSide = {
      ws,
      errors: [],
      messages: [],
      closed: new Promise((resolve) =>
        ws.once('close', (code, reason) => resolve({ code, reason })),
      ),
    };
    ws.on('error', (err) => side.errors.push(err));
    ws.on('message', (data, isBinary) => {
      side.messages.push({ size: byteLength(data), isBinary });
      ws.send(data, { binary: isBinary });
    });
    connections.push(side);
  });
  const server = await listenHttp1({ host: '127.0.0.1', port: 0, onUpgrade }, (_req, res) => {
    res.status = 404;
    res.end('not a WebSocket endpoint\n');
  });
  ghostServers.push(server);
  return { server, url: `ws://127.0.0.1:${server.address.port}/`, connections };
}

// ── ws servers ───────────────────────────────────────────────────────────────────────────

interface WsServerSide {
  ws: WsClient;
  messages: Queue<{ data: Buffer; isBinary: boolean }>;
  pongs: Queue<Buffer>;
  closed: Promise<{ code: number; reason: string }>;
  errors: Error[];
}

interface WsTestServer {
  wss: WsServer;
  url: string;
  connections: Queue<WsServerSide>;
}

const wsServers: WsServer[] = [];

async function startWsServer(deflate: boolean | object, echo = true): Promise<WsTestServer> {
  const wss = new WsServer({
    host: '127.0.0.1',
    port: 0,
    maxPayload: 64 * MiB,
    perMessageDeflate:
      deflate === false ? false : { threshold: 0, ...(deflate === true ? {} : deflate) },
    handleProtocols: (protocols) => {
      if (protocols.has('want-unoffered')) return 'never-offered';
      if (protocols.has('chat.v2')) return 'chat.v2';
      return false;
    },
  });
  wsServers.push(wss);
  const connections = new Queue<WsServerSide>();
  connectionQueues.push(connections);
  wss.on('connection', (ws) => {
    const side = watchWs(ws);
    if (echo)
      ws.on('message', (data, isBinary) => ws.send(rawToBuffer(data), { binary: isBinary }));
    connections.push(side);
  });
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      wss.once('listening', () => resolve());
      wss.once('error', reject);
    }),
    'ws server listening',
  );
  const port = (wss.address() as { port: number }).port;
  return { wss, url: `ws://127.0.0.1:${port}/`, connections };
}

/** A ghostnet client with its messages queued. */
interface GhostPeer {
  ws: WebSocket;
  messages: Queue<{ data: string | Uint8Array; isBinary: boolean }>;
  pongs: Queue<Uint8Array>;
  closeEvents: Queue<{ code: number; reason: string }>;
  errors: Error[];
}

async function connectGhost(
  url: string,
  options: Parameters<typeof connectWebSocket>[1] = {},
): Promise<GhostPeer> {
  const ws = await withTimeout(connectWebSocket(url, options), `ghostnet client ${url}`);
  ghostSockets.push(ws);
  const peer: GhostPeer = {
    ws,
    messages: new Queue(),
    pongs: new Queue(),
    closeEvents: new Queue(),
    errors: [],
  };
  ws.on('message', (data, isBinary) => peer.messages.push({ data, isBinary }));
  ws.on('pong', (data: Uint8Array) => peer.pongs.push(data));
  ws.on('close', (code, reason) => peer.closeEvents.push({ code, reason }));
  ws.on('error', (err) => peer.errors.push(err));
  return peer;
}

async function echoMatrixGhost(peer: GhostPeer, binary: boolean): Promise<void> {
  for (const size of SIZES) {
    const payload = binary ? makeBinary(size) : makeText(size);
    peer.ws.send(payload, { binary });
    const echo = await peer.messages.next(`echo of ${size} B ${binary ? 'binary' : 'text'}`);
    expect({ size, isBinary: echo.isBinary, type: typeof echo.data }).toEqual({
      size,
      isBinary: binary,
      type: binary ? 'object' : 'string',
    });
    expect(byteLength(echo.data)).toBe(size);
    expect(sha256(echo.data)).toBe(sha256(payload));
  }
}

const CLOSES: Array<[number, string]> = [
  [1000, 'normal closure'],
  [1001, 'going away'],
  [3000, 'library code ✓'],
  [4999, 'r'.repeat(121) + 'é'], // the longest reason: 123 bytes
];

let serve: ServeProcess | undefined;

beforeAll(async () => {
  serve = await startServe();
});

afterEach(() => {
  for (const ws of wsClients.splice(0)) ws.terminate();
  for (const ws of ghostSockets.splice(0)) ws.terminate();
  for (const wss of wsServers) for (const ws of wss.clients) ws.terminate();
  for (const queue of connectionQueues) queue.clear();
});

afterAll(async () => {
  for (const wss of wsServers.splice(0)) {
    for (const client of wss.clients) client.terminate();
    await withTimeout(
      new Promise<void>((resolve) => wss.close(() => resolve())),
      'ws server close',
      10_000,
    );
  }
  for (const server of ghostServers.splice(0)) {
    await withTimeout(server.destroy(), 'ghostnet server destroy', 10_000);
  }
  const code = await serve?.stop();
  expect(code).toBe(0);
});

// ── ws client → ghostnet server ──────────────────────────────────────────────────────────

describe.each([
  ['without permessage-deflate', false],
  ['with permessage-deflate', true],
])('ws client → ghostnet server (createWebSocketUpgrade), %s', (_label, deflate) => {
  let server: GhostServer;
  beforeAll(async () => {
    server = await startGhostServer({ perMessageDeflate: true });
  });

  it('negotiates the extension as offered', async () => {
    const peer = await openWs(server.url, wsDeflate(deflate));
    expect(peer.ws.extensions).toBe(deflate ? 'permessage-deflate' : '');
    const side = await server.connections.next('server connection');
    expect(side.ws.readyState).toBe('open');
    expect(side.ws.extensions.includes('permessage-deflate')).toBe(deflate);
  });

  it.each([
    ['text', false],
    ['binary', true],
  ])('echoes %s messages of 0 B to 16 MiB', async (_type, binary) => {
    const peer = await openWs(server.url, wsDeflate(deflate));
    await echoMatrixWs(peer, binary);
  });

  it('compresses on the wire exactly when negotiated', async () => {
    const peer = await openWs(server.url, wsDeflate(deflate));
    const wire = await wireBytesForCompressible(peer);
    if (deflate) {
      expect(wire.out).toBeLessThan(100_000);
      expect(wire.in).toBeLessThan(100_000);
    } else {
      expect(wire.out).toBeGreaterThan(900_000);
      expect(wire.in).toBeGreaterThan(900_000);
    }
  });

  it('reassembles fragmented messages (a code point split across frames, a ping between)', async () => {
    const peer = await openWs(server.url, wsDeflate(deflate));
    const side = await server.connections.next('server connection');
    // Text: '😀' (f0 9f 98 80) split 2 + 2 across fragments.
    const text = Buffer.from('fragments: 😀 done', 'utf8');
    const cut = text.indexOf(0x9f) + 1;
    peer.ws.send(text.subarray(0, cut), { binary: false, fin: false });
    peer.ws.ping('mid-message');
    peer.ws.send(text.subarray(cut), { binary: false, fin: true });
    const pong = await peer.pongs.next('pong during a fragmented message');
    expect(pong.toString()).toBe('mid-message');
    const t = await peer.messages.next('fragmented text echo');
    expect(t.isBinary).toBe(false);
    expect(t.data.toString('utf8')).toBe('fragments: 😀 done');

    // Binary: 1 MiB in 256 fragments of 4 KiB.
    const bin = makeBinary(MiB);
    for (let off = 0; off < bin.length; off += 4096) {
      peer.ws.send(bin.subarray(off, off + 4096), { binary: true, fin: off + 4096 >= bin.length });
    }
    const b = await peer.messages.next('fragmented binary echo');
    expect(b.isBinary).toBe(true);
    expect(sha256(b.data)).toBe(sha256(bin));
    // An empty final fragment after a non-empty one.
    peer.ws.send(Buffer.from('abc'), { binary: true, fin: false });
    peer.ws.send(Buffer.alloc(0), { binary: true, fin: true });
    const c = await peer.messages.next('fragment + empty final fragment');
    expect(c.data.toString()).toBe('abc');
    expect(side.messages.map((m) => m.size)).toEqual([text.length, MiB, 3]);
  });

  it.each(CLOSES)(
    'ws client closes with %i: the server sees code and reason',
    async (code, reason) => {
      expect(Buffer.byteLength(reason)).toBeLessThanOrEqual(123);
      const peer = await openWs(server.url, wsDeflate(deflate));
      const side = await server.connections.next('server connection');
      peer.ws.close(code, reason);
      await expect(withTimeout(side.closed, 'server close event')).resolves.toEqual({
        code,
        reason,
      });
      const seen = await withTimeout(peer.closed, 'client close event');
      expect(seen.code).toBe(code); // §5.5.1: the reply echoes the status code
      await expect(withTimeout(side.ws.closed, 'server closed promise')).resolves.toMatchObject({
        code,
        wasClean: true,
      });
    },
  );

  it.each(CLOSES)(
    'ghostnet server closes with %i: ws sees code and reason',
    async (code, reason) => {
      const peer = await openWs(server.url, wsDeflate(deflate));
      const side = await server.connections.next('server connection');
      side.ws.close(code, reason);
      expect(side.ws.readyState).toBe('closing');
      await expect(withTimeout(peer.closed, 'client close event')).resolves.toEqual({
        code,
        reason,
      });
      await expect(withTimeout(side.ws.closed, 'server closed promise')).resolves.toMatchObject({
        code,
        wasClean: true,
      });
      expect(side.ws.readyState).toBe('closed');
    },
  );

  it.each([
    ['an unmasked frame', clientFrame(0x81, Buffer.from('hi'), false), 1002],
    ['a reserved opcode (0x3)', clientFrame(0x83, Buffer.from('x')), 1002],
    ['RSV2 set', clientFrame(0xa1, Buffer.from('x')), 1002],
    ['a continuation frame with no message open', clientFrame(0x80, Buffer.from('x')), 1002],
    ['a fragmented ping', clientFrame(0x09, Buffer.from('p')), 1002],
    ['close code 1005 on the wire', clientFrame(0x88, Buffer.from([0x03, 0xed])), 1002],
    ['invalid UTF-8 text', clientFrame(0x81, Buffer.from([0x68, 0xc3, 0x28])), 1007],
  ])('the ws peer sends %s → ghostnet closes with %i', async (_what, bytes, expected) => {
    const peer = await openWs(server.url, wsDeflate(deflate));
    const side = await server.connections.next('server connection');
    socketOf(peer.ws).write(bytes);
    const seen = await withTimeout(peer.closed, 'client close event');
    expect(seen.code).toBe(expected);
    await expect(withTimeout(side.closed, 'server close event')).resolves.toMatchObject({
      code: expected,
    });
    expect(side.messages).toEqual([]);
  });
});

describe('ws client → ghostnet server: options', () => {
  it('permessage-deflate parameters (no context takeover, 10-bit windows) are honoured', async () => {
    const server = await startGhostServer({ perMessageDeflate: true });
    const peer = await openWs(server.url, {
      perMessageDeflate: {
        threshold: 0,
        serverNoContextTakeover: true,
        clientNoContextTakeover: true,
        serverMaxWindowBits: 10,
        clientMaxWindowBits: 10,
      },
    });
    expect(peer.ws.extensions).toBe('permessage-deflate');
    for (let i = 0; i < 3; i++) {
      const text = makeText(200_000 + i);
      peer.ws.send(text);
      const echo = await peer.messages.next('echo with no context takeover');
      expect(sha256(echo.data)).toBe(sha256(text));
    }
    const wire = await wireBytesForCompressible(peer);
    expect(wire.in).toBeLessThan(100_000);
  });

  it('a server without permessage-deflate declines the offer', async () => {
    const server = await startGhostServer({ perMessageDeflate: false });
    const peer = await openWs(server.url, wsDeflate(true));
    expect(peer.ws.extensions).toBe('');
    peer.ws.send('plain');
    expect((await peer.messages.next('echo')).data.toString()).toBe('plain');
  });

  it('a message over limits.maxPayload → 1009', async () => {
    const server = await startGhostServer({
      perMessageDeflate: true,
      limits: { maxPayload: 65536 },
    });
    const peer = await openWs(server.url, wsDeflate(false));
    peer.ws.send(makeBinary(65536));
    expect((await peer.messages.next('echo at the limit')).data.length).toBe(65536);
    peer.ws.send(makeBinary(65537));
    await expect(
      withTimeout(peer.closed, 'close after an oversized message'),
    ).resolves.toMatchObject({
      code: 1009,
    });
  });

  it('subprotocol selection', async () => {
    const server = await startGhostServer({
      perMessageDeflate: true,
      protocols: (offered) => ['chat.v2', 'chat.v1'].find((p) => offered.includes(p)),
    });
    const peer = await openWs(server.url, {}, ['chat.v0', 'chat.v1']);
    expect(peer.ws.protocol).toBe('chat.v1');
    const side = await server.connections.next('server connection');
    expect(side.ws.protocol).toBe('chat.v1');
    const none = await openWs(server.url, {}, []);
    expect(none.ws.protocol).toBe('');
  });

  it('WebSocketServer.close() closes every client with 1001', async () => {
    const wss = new WebSocketServer({ perMessageDeflate: true }, (ws) => {
      ghostSockets.push(ws);
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    });
    const http = await listenHttp1(
      { host: '127.0.0.1', port: 0, onUpgrade: wss.upgrade },
      (_req, res) => {
        res.status = 404;
        res.end();
      },
    );
    ghostServers.push(http);
    const url = `ws://127.0.0.1:${http.address.port}/`;
    const peers = [await openWs(url, wsDeflate(true)), await openWs(url, wsDeflate(false))];
    for (const p of peers) {
      p.ws.send('still here');
      expect((await p.messages.next('echo')).data.toString()).toBe('still here');
    }
    expect(wss.clients.size).toBe(2);
    await withTimeout(wss.close(), 'WebSocketServer.close');
    for (const p of peers) {
      await expect(withTimeout(p.closed, 'client close event')).resolves.toMatchObject({
        code: 1001,
      });
    }
    expect(wss.clients.size).toBe(0);
  });

  it('ping from the server is answered by ws; ping from ws is answered by ghostnet', async () => {
    const server = await startGhostServer({ perMessageDeflate: true });
    const peer = await openWs(server.url);
    const side = await server.connections.next('server connection');
    const pong = new Promise<Uint8Array>((resolve) =>
      side.ws.once('pong', (d: Uint8Array) => resolve(d)),
    );
    side.ws.ping(Buffer.from('from ghostnet'));
    expect(Buffer.from(await withTimeout(pong, 'pong from ws')).toString()).toBe('from ghostnet');
    peer.ws.ping('from ws');
    expect((await peer.pongs.next('pong from ghostnet')).toString()).toBe('from ws');
  });

  it('ws terminate() → the ghostnet side reports 1006, not clean', async () => {
    const server = await startGhostServer({ perMessageDeflate: true });
    const peer = await openWs(server.url);
    const side = await server.connections.next('server connection');
    peer.ws.terminate();
    await expect(withTimeout(side.ws.closed, 'closed after terminate')).resolves.toMatchObject({
      code: 1006,
      wasClean: false,
    });
  });
});

// ── ws client → ghostnet serve /ws ───────────────────────────────────────────────────────

describe.each([
  ['without permessage-deflate', false],
  ['with permessage-deflate', true],
])('ws client → ghostnet serve /ws, %s', (_label, deflate) => {
  const url = (): string => `${serve!.url.replace(/^http/, 'ws')}/ws`;

  it.each([
    ['text', false],
    ['binary', true],
  ])('echoes %s messages of 0 B to 16 MiB', async (_type, binary) => {
    const peer = await openWs(url(), wsDeflate(deflate));
    expect(peer.ws.extensions).toBe(deflate ? 'permessage-deflate' : '');
    await echoMatrixWs(peer, binary);
  });

  it('compresses on the wire exactly when negotiated', async () => {
    const peer = await openWs(url(), wsDeflate(deflate));
    const wire = await wireBytesForCompressible(peer);
    expect(wire.in < 100_000).toBe(deflate);
    expect(wire.out < 100_000).toBe(deflate);
  });

  it('fragmented messages', async () => {
    const peer = await openWs(url(), wsDeflate(deflate));
    const text = makeText(100_000);
    const bytes = Buffer.from(text, 'utf8');
    for (let off = 0; off < bytes.length; off += 999) {
      peer.ws.send(bytes.subarray(off, off + 999), {
        binary: false,
        fin: off + 999 >= bytes.length,
      });
    }
    const echo = await peer.messages.next('fragmented echo');
    expect(echo.isBinary).toBe(false);
    expect(sha256(echo.data)).toBe(sha256(text));
  });

  it.each(CLOSES)('ws client closes with %i: serve echoes the code', async (code, reason) => {
    const peer = await openWs(url(), wsDeflate(deflate));
    peer.ws.close(code, reason);
    const seen = await withTimeout(peer.closed, 'client close event');
    expect(seen.code).toBe(code);
  });

  it('an unmasked frame → 1002', async () => {
    const peer = await openWs(url(), wsDeflate(deflate));
    socketOf(peer.ws).write(clientFrame(0x82, Buffer.from('unmasked'), false));
    await expect(withTimeout(peer.closed, 'close after a protocol error')).resolves.toMatchObject({
      code: 1002,
    });
  });
});

// ── ghostnet client → ws server ──────────────────────────────────────────────────────────

describe.each([
  ['without permessage-deflate', false],
  ['with permessage-deflate', true],
])('ghostnet client → ws server, %s', (_label, deflate) => {
  let server: WsTestServer;
  beforeAll(async () => {
    server = await startWsServer(true);
  });

  it('negotiates the extension as offered', async () => {
    const peer = await connectGhost(server.url, { perMessageDeflate: deflate });
    expect(peer.ws.readyState).toBe('open');
    expect(peer.ws.extensions.includes('permessage-deflate')).toBe(deflate);
    const side = await server.connections.next('ws server connection');
    expect(side.ws.extensions).toBe(deflate ? 'permessage-deflate' : '');
  });

  it.each([
    ['text', false],
    ['binary', true],
  ])('echoes %s messages of 0 B to 16 MiB', async (_type, binary) => {
    const peer = await connectGhost(server.url, { perMessageDeflate: deflate });
    await echoMatrixGhost(peer, binary);
  });

  it('compresses on the wire exactly when negotiated', async () => {
    const peer = await connectGhost(server.url, { perMessageDeflate: deflate });
    const side = await server.connections.next('ws server connection');
    const socket = socketOf(side.ws);
    const read = socket.bytesRead;
    const written = socket.bytesWritten;
    const text = 'ghostnet speaks permessage-deflate. '.repeat(25_000);
    peer.ws.send(text);
    const echo = await peer.messages.next('compressible echo');
    expect(echo.data === text).toBe(true);
    expect(socket.bytesRead - read < 100_000).toBe(deflate);
    expect(socket.bytesWritten - written < 100_000).toBe(deflate);
  });

  it('receives fragmented messages from ws (split code point, 1 MiB in 4 KiB frames)', async () => {
    const peer = await connectGhost(server.url, { perMessageDeflate: deflate });
    const side = await server.connections.next('ws server connection');
    const text = Buffer.from('fragments: 😀 done', 'utf8');
    const cut = text.indexOf(0x9f) + 1;
    side.ws.send(text.subarray(0, cut), { binary: false, fin: false });
    side.ws.ping('mid-message');
    side.ws.send(text.subarray(cut), { binary: false, fin: true });
    const t = await peer.messages.next('fragmented text');
    expect(t).toEqual({ data: 'fragments: 😀 done', isBinary: false });
    expect((await side.pongs.next('pong from ghostnet')).toString()).toBe('mid-message');
    const bin = makeBinary(MiB);
    for (let off = 0; off < bin.length; off += 4096) {
      side.ws.send(bin.subarray(off, off + 4096), { binary: true, fin: off + 4096 >= bin.length });
    }
    const b = await peer.messages.next('fragmented binary');
    expect(b.isBinary).toBe(true);
    expect(sha256(b.data)).toBe(sha256(bin));
  });

  it('sends fragmented messages (maxOutgoingFrameSize) that ws reassembles', async () => {
    const peer = await connectGhost(server.url, {
      perMessageDeflate: deflate,
      maxOutgoingFrameSize: 1000,
    });
    const side = await server.connections.next('ws server connection');
    const text = makeText(300_000);
    const bin = makeBinary(300_001);
    peer.ws.send(text);
    peer.ws.send(bin);
    const t = await side.messages.next('text at the ws server');
    expect(t.isBinary).toBe(false);
    expect(sha256(t.data)).toBe(sha256(text));
    const b = await side.messages.next('binary at the ws server');
    expect(b.isBinary).toBe(true);
    expect(sha256(b.data)).toBe(sha256(bin));
  });

  it.each(CLOSES)(
    'ws server closes with %i: ghostnet sees code and reason',
    async (code, reason) => {
      const peer = await connectGhost(server.url, { perMessageDeflate: deflate });
      const side = await server.connections.next('ws server connection');
      side.ws.close(code, reason);
      await expect(withTimeout(peer.ws.closed, 'ghostnet closed')).resolves.toEqual({
        code,
        reason,
        wasClean: true,
      });
      await expect(peer.closeEvents.next('close event')).resolves.toEqual({ code, reason });
      expect(peer.ws.readyState).toBe('closed');
      await expect(withTimeout(side.closed, 'ws server close event')).resolves.toMatchObject({
        code,
      });
    },
  );

  it.each(CLOSES)(
    'ghostnet client closes with %i: ws sees code and reason',
    async (code, reason) => {
      const peer = await connectGhost(server.url, { perMessageDeflate: deflate });
      const side = await server.connections.next('ws server connection');
      peer.ws.close(code, reason);
      await expect(withTimeout(side.closed, 'ws server close event')).resolves.toEqual({
        code,
        reason,
      });
      await expect(withTimeout(peer.ws.closed, 'ghostnet closed')).resolves.toMatchObject({
        code,
        wasClean: true,
      });
    },
  );

  it('a masked frame from the ws server → ghostnet closes with 1002', async () => {
    const peer = await connectGhost(server.url, { perMessageDeflate: deflate });
    const side = await server.connections.next('ws server connection');
    socketOf(side.ws).write(clientFrame(0x81, Buffer.from('masked'), true));
    await expect(withTimeout(peer.ws.closed, 'ghostnet closed')).resolves.toMatchObject({
      code: 1002,
      wasClean: false,
    });
    await expect(withTimeout(side.closed, 'ws server close event')).resolves.toMatchObject({
      code: 1002,
    });
    expect(peer.messages.size).toBe(0);
  });
});

describe('ghostnet client → ws server: handshake and lifecycle', () => {
  let server: WsTestServer;
  beforeAll(async () => {
    server = await startWsServer(true);
  });

  it('subprotocol selection', async () => {
    const peer = await connectGhost(server.url, { protocols: ['chat.v1', 'chat.v2'] });
    expect(peer.ws.protocol).toBe('chat.v2');
    const side = await server.connections.next('ws server connection');
    expect(side.ws.protocol).toBe('chat.v2');
  });

  it('a subprotocol the client did not offer fails the connection', async () => {
    await expect(
      withTimeout(connectWebSocket(server.url, { protocols: ['want-unoffered'] }), 'connect'),
    ).rejects.toThrow();
  });

  it('no subprotocol asked, none selected', async () => {
    const peer = await connectGhost(server.url);
    expect(peer.ws.protocol).toBe('');
  });

  it('custom headers reach the ws server', async () => {
    const seen = new Promise<string | undefined>((resolve) =>
      server.wss.once('headers', (_headers, req) => resolve(req.headers['x-interop'] as string)),
    );
    await connectGhost(server.url, { headers: { 'X-Interop': 'ghostnet' } });
    await expect(withTimeout(seen, 'headers')).resolves.toBe('ghostnet');
  });

  it('permessage-deflate parameters from the ws server (no context takeover, 9-bit window)', async () => {
    const strict = await startWsServer({
      serverNoContextTakeover: true,
      clientNoContextTakeover: true,
      serverMaxWindowBits: 9,
    });
    const peer = await connectGhost(strict.url, { perMessageDeflate: true });
    expect(peer.ws.extensions.includes('permessage-deflate')).toBe(true);
    for (let i = 0; i < 3; i++) {
      const text = makeText(150_000 + i);
      peer.ws.send(text);
      const echo = await peer.messages.next('echo');
      expect(echo.data === text).toBe(true);
    }
  });

  it('a ws server without permessage-deflate declines the offer', async () => {
    const plain = await startWsServer(false);
    const peer = await connectGhost(plain.url, { perMessageDeflate: true });
    expect(peer.ws.extensions).toBe('');
    peer.ws.send(new Uint8Array([1, 2, 3]));
    const echo = await peer.messages.next('echo');
    expect(echo.isBinary).toBe(true);
    expect([...(echo.data as Uint8Array)]).toEqual([1, 2, 3]);
  });

  it('ping/pong both ways', async () => {
    const peer = await connectGhost(server.url);
    const side = await server.connections.next('ws server connection');
    peer.ws.ping(Buffer.from('from ghostnet'));
    expect(Buffer.from(await peer.pongs.next('pong from ws')).toString()).toBe('from ghostnet');
    side.ws.ping('from ws');
    expect((await side.pongs.next('pong from ghostnet')).toString()).toBe('from ws');
  });

  it('async iteration ends when the ws server closes', async () => {
    const peer = await connectGhost(server.url);
    const side = await server.connections.next('ws server connection');
    side.ws.send('one');
    side.ws.send(Buffer.from([2]), { binary: true });
    side.ws.send('three');
    side.ws.close(1000, 'done');
    const got: Array<{ data: string | Uint8Array; isBinary: boolean }> = [];
    await withTimeout(
      (async () => {
        for await (const m of peer.ws) got.push(m);
      })(),
      'async iteration',
    );
    expect(got.map((m) => (typeof m.data === 'string' ? m.data : [...m.data]))).toEqual([
      'one',
      [2],
      'three',
    ]);
  });

  it('ws server terminate() → ghostnet reports 1006, not clean', async () => {
    const peer = await connectGhost(server.url);
    const side = await server.connections.next('ws server connection');
    side.ws.terminate();
    await expect(withTimeout(peer.ws.closed, 'ghostnet closed')).resolves.toMatchObject({
      code: 1006,
      wasClean: false,
    });
  });

  it('connecting to a plain HTTP endpoint fails', async () => {
    await expect(
      withTimeout(connectWebSocket(`${serve!.url.replace(/^http/, 'ws')}/hello`), 'connect'),
    ).rejects.toThrow();
  });
});
