/**
 * The WebSocket binding over loopback, ghostnet on both ends: message sizes, fragmentation,
 * permessage-deflate ordering, close codes, the async iterator and backpressure.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { listenHttp1 } from '../../../src/protocols/http1/server.js';
import type { Http1Server } from '../../../src/protocols/http1/server.js';
import { connectWebSocket } from '../../../src/protocols/websocket/client.js';
import type { WebSocketClientOptions } from '../../../src/protocols/websocket/client.js';
import { WebSocketServer } from '../../../src/protocols/websocket/server.js';
import type { WebSocketServerOptions } from '../../../src/protocols/websocket/server.js';
import type { WebSocket } from '../../../src/protocols/websocket/socket.js';

const MiB = 1024 * 1024;
const servers: Http1Server[] = [];
const sockets: WebSocket[] = [];

afterEach(async () => {
  for (const ws of sockets.splice(0)) ws.terminate();
  await Promise.all(servers.splice(0).map((s) => s.destroy()));
});

interface Pair {
  client: WebSocket;
  server: WebSocket;
  wss: WebSocketServer;
}

/** A ghostnet server and a ghostnet client, connected; the server does nothing by itself. */
async function pair(
  serverOptions: WebSocketServerOptions = {},
  clientOptions: WebSocketClientOptions = {},
): Promise<Pair> {
  let accept!: (ws: WebSocket) => void;
  const accepted = new Promise<WebSocket>((r) => (accept = r));
  const wss = new WebSocketServer(serverOptions, (ws) => accept(ws));
  const http = await listenHttp1({ port: 0, onUpgrade: wss.upgrade }, (_req, res) => res.end());
  servers.push(http);
  const client = await connectWebSocket(`ws://127.0.0.1:${http.address.port}/`, clientOptions);
  const server = await accepted;
  sockets.push(client, server);
  return { client, server, wss };
}

/** Echo on the server side, as received. */
function echo(ws: WebSocket): void {
  ws.on('message', (data, isBinary) => {
    if (ws.readyState === 'open') ws.send(data, { binary: isBinary });
  });
}

function nextMessage(ws: WebSocket): Promise<[string | Uint8Array, boolean]> {
  return new Promise((resolve) => ws.once('message', (d, b) => resolve([d, b])));
}

function pattern(n: number, seed = 1): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

describe.each([
  ['plain', false],
  ['permessage-deflate', true],
])('echo over loopback (%s)', (_label, deflate) => {
  const sizes = [0, 1, 125, 126, 65535, 65536, MiB, 16 * MiB];
  it.each(sizes)('binary of %i bytes', async (size) => {
    const { client, server } = await pair(
      { perMessageDeflate: deflate },
      { perMessageDeflate: deflate },
    );
    expect(client.extensions.includes('permessage-deflate')).toBe(deflate);
    expect(server.extensions.includes('permessage-deflate')).toBe(deflate);
    echo(server);
    const payload = pattern(size);
    const got = nextMessage(client);
    client.send(payload);
    const [data, isBinary] = await got;
    expect(isBinary).toBe(true);
    expect(Buffer.from(data as Uint8Array).equals(Buffer.from(payload))).toBe(true);
  });

  it.each([0, 5, 2000, MiB])('text of %i characters (multi-byte)', async (size) => {
    const { client, server } = await pair(
      { perMessageDeflate: deflate },
      { perMessageDeflate: deflate },
    );
    echo(server);
    const text = 'héllo 🌍 '.repeat(Math.ceil(size / 9)).slice(0, size);
    const got = nextMessage(client);
    client.send(text);
    expect(await got).toEqual([text, false]);
  });

  it('fragmented messages both ways (maxOutgoingFrameSize)', async () => {
    const { client, server } = await pair(
      { perMessageDeflate: deflate, maxOutgoingFrameSize: 1000 },
      { perMessageDeflate: deflate, maxOutgoingFrameSize: 7 },
    );
    echo(server);
    const text = 'fragmented '.repeat(500);
    const bin = pattern(100_000, 7);
    const got: Array<[string | Uint8Array, boolean]> = [];
    const done = new Promise<void>((resolve) =>
      client.on('message', (d, b) => {
        got.push([d, b]);
        if (got.length === 2) resolve();
      }),
    );
    client.send(text);
    client.send(bin);
    await done;
    expect(got[0]).toEqual([text, false]);
    expect(Buffer.from(got[1]![0] as Uint8Array).equals(Buffer.from(bin))).toBe(true);
  });

  it('keeps order across compressed and uncompressed messages', async () => {
    const { client, server } = await pair(
      { perMessageDeflate: deflate ? { threshold: 100 } : false },
      { perMessageDeflate: deflate ? { threshold: 100 } : false },
    );
    echo(server);
    const sent: string[] = [];
    for (let i = 0; i < 300; i++) sent.push(`${i}:` + 'z'.repeat((i * 37) % 400));
    const got: string[] = [];
    const done = new Promise<void>((resolve) =>
      client.on('message', (d) => {
        got.push(d as string);
        if (got.length === sent.length) resolve();
      }),
    );
    for (const m of sent) client.send(m);
    await done;
    expect(got).toEqual(sent);
  });

  it('compress: false sends uncompressed', async () => {
    const { client, server } = await pair(
      { perMessageDeflate: deflate },
      { perMessageDeflate: deflate },
    );
    echo(server);
    const got = nextMessage(client);
    client.send('a'.repeat(5000), { compress: false });
    expect((await got)[0]).toBe('a'.repeat(5000));
  });
});

describe('closing', () => {
  it('client closes with a code and reason; both sides see it', async () => {
    const { client, server } = await pair();
    const serverClose = new Promise<[number, string]>((r) =>
      server.once('close', (c, why) => r([c, why])),
    );
    client.close(4000, 'done here');
    expect(client.readyState).toBe('closing');
    expect(await serverClose).toEqual([4000, 'done here']);
    await expect(server.closed).resolves.toEqual({
      code: 4000,
      reason: 'done here',
      wasClean: true,
    });
    // The server echoed the code (RFC 6455 §5.5.1).
    await expect(client.closed).resolves.toEqual({ code: 4000, reason: '', wasClean: true });
    expect(client.readyState).toBe('closed');
    expect(server.readyState).toBe('closed');
  });

  it('server closes with a code; the client sees it', async () => {
    const { client, server } = await pair();
    server.close(1001, 'going away');
    await expect(client.closed).resolves.toEqual({
      code: 1001,
      reason: 'going away',
      wasClean: true,
    });
    await expect(server.closed).resolves.toMatchObject({ code: 1001, wasClean: true });
  });

  it('close without a code reports 1005', async () => {
    const { client, server } = await pair();
    client.close();
    await expect(server.closed).resolves.toEqual({ code: 1005, reason: '', wasClean: true });
    await expect(client.closed).resolves.toMatchObject({ code: 1005, wasClean: true });
  });

  it('rejects codes that may not be sent, and sending after close', async () => {
    const { client } = await pair();
    expect(() => client.close(1006)).toThrow(
      expect.objectContaining({ code: 'GN_ERR_WS_INVALID_ARGUMENT' }),
    );
    expect(() => client.close(1000, 'x'.repeat(124))).toThrow(
      expect.objectContaining({ code: 'GN_ERR_WS_INVALID_ARGUMENT' }),
    );
    client.close(1000);
    // After close starts, send and ping drop the data and say so (false) without throwing.
    expect(client.send('late')).toBe(false);
    expect(client.ping()).toBe(false);
    expect(client.droppedAfterClose).toBe(2);
    client.close(1000); // idempotent
    await client.closed;
  });

  it('messages sent before close are delivered before it (compressed queue)', async () => {
    const { client, server } = await pair({ perMessageDeflate: true }, { perMessageDeflate: true });
    const got: string[] = [];
    server.on('message', (d) => got.push(d as string));
    for (let i = 0; i < 20; i++) client.send(`${i}`.padEnd(3000, '.'));
    client.close(1000);
    await server.closed;
    expect(got.length).toBe(20);
    expect(got[19]!.startsWith('19')).toBe(true);
  });

  it('terminate → 1006 on both sides, wasClean false', async () => {
    const { client, server } = await pair();
    client.terminate();
    await expect(client.closed).resolves.toEqual({ code: 1006, reason: '', wasClean: false });
    await expect(server.closed).resolves.toEqual({ code: 1006, reason: '', wasClean: false });
  });

  it('destroying the transport → 1006', async () => {
    const { client, server } = await pair();
    server.transport.destroy();
    await expect(client.closed).resolves.toMatchObject({ code: 1006, wasClean: false });
    await expect(server.closed).resolves.toMatchObject({ code: 1006, wasClean: false });
  });
});

describe('ping and pong', () => {
  it('ping is answered with a pong carrying the same data', async () => {
    const { client, server } = await pair();
    const pinged = new Promise<Uint8Array>((r) => server.once('ping', r));
    const ponged = new Promise<Uint8Array>((r) => client.once('pong', r));
    client.ping(new Uint8Array([1, 2, 3]));
    expect([...(await pinged)]).toEqual([1, 2, 3]);
    expect([...(await ponged)]).toEqual([1, 2, 3]);
  });

  it('a heartbeat on a healthy connection keeps it open', async () => {
    const { client, server } = await pair({ pingIntervalMs: 20, pongTimeoutMs: 5000 });
    let pongs = 0;
    server.on('pong', () => pongs++);
    await new Promise<void>((resolve) => {
      const check = (): void => {
        if (pongs >= 3) resolve();
      };
      server.on('pong', check);
    });
    expect(client.readyState).toBe('open');
    expect(server.readyState).toBe('open');
  });
});

describe('async iterator', () => {
  it('yields messages in order and ends on close', async () => {
    const { client, server } = await pair();
    const got: Array<[string | Uint8Array, boolean]> = [];
    const reading = (async () => {
      for await (const m of client) {
        got.push([typeof m.data === 'string' ? m.data : new Uint8Array(m.data), m.isBinary]);
      }
    })();
    server.send('one');
    server.send(new Uint8Array([2]));
    server.send('three');
    server.close(1000);
    await reading;
    expect(got).toEqual([
      ['one', false],
      [new Uint8Array([2]), true],
      ['three', false],
    ]);
  });

  it('breaking out of the loop stops queueing and resumes the socket', async () => {
    const { client, server } = await pair();
    echo(server);
    client.send('a');
    for await (const m of client) {
      expect(m.data).toBe('a');
      break;
    }
    const got = nextMessage(client);
    client.send('b');
    expect((await got)[0]).toBe('b');
  });

  it('10,000 × 64 KiB to a slow reader: the sender buffer stays bounded', async () => {
    const highWaterMark = 256 * 1024;
    const { client, server } = await pair(
      { highWaterMark },
      { maxQueuedMessages: 8, maxQueuedBytes: 1 * MiB },
    );
    const count = 10_000;
    const size = 64 * 1024;
    const payload = pattern(size, 3);
    let maxBuffered = 0;
    let waits = 0;
    const sending = (async () => {
      for (let i = 0; i < count; i++) {
        if (!server.send(payload)) {
          maxBuffered = Math.max(maxBuffered, server.bufferedAmount);
          waits++;
          await server.drained();
        }
        maxBuffered = Math.max(maxBuffered, server.bufferedAmount);
      }
    })();
    // The reader's socket is paused while its bounded queue is full.
    let pauses = 0;
    const transport = client.transport;
    const pause = transport.pause.bind(transport);
    transport.pause = () => {
      pauses++;
      pause();
    };
    let received = 0;
    let bytes = 0;
    for await (const m of client) {
      received++;
      bytes += m.data.length;
      // A slow consumer: yield to the event loop regularly.
      if (received % 100 === 0) await new Promise((r) => setTimeout(r, 1));
      if (received === count) break;
    }
    await sending;
    expect(received).toBe(count);
    expect(bytes).toBe(count * size);
    // The server never buffered much more than its high-water mark plus one message.
    expect(waits).toBeGreaterThan(0);
    expect(pauses).toBeGreaterThan(0);
    expect(maxBuffered).toBeLessThan(highWaterMark + size + 1024);
  }, 60_000);
});
