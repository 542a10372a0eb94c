/**
 * Graceful shutdown with streams in flight (RFC 9113 §6.8), ghostnet's Http2Client ↔
 * ghostnet's server over loopback: `server.close()` while 20 requests are inside the
 * handler sends GOAWAY; all 20 still complete, requests made after it are not served by the
 * closing server (they fail once the listener is gone), and `close()` resolves.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Http2Client } from '../../../../src/protocols/http2/client.js';
import { listenHttp2 } from '../../../../src/protocols/http2/server.js';
import type { Http2Server } from '../../../../src/protocols/http2/server.js';
import type { Handler } from '../../../../src/protocols/http/types.js';

const IN_FLIGHT = 20;
const WAIT_MS = 10_000;

function withTimeout<T>(promise: Promise<T>, what: string, ms = WAIT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

let server: Http2Server | undefined;
let client: Http2Client | undefined;

afterEach(async () => {
  client?.destroy();
  client = undefined;
  await server?.destroy();
  server = undefined;
});

describe('graceful shutdown', () => {
  it('close() with 20 requests in flight: all complete, later requests fail, close resolves', async () => {
    let arrived = 0;
    let allArrived!: () => void;
    const arrivedAll = new Promise<void>((r) => (allArrived = r));
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let servedAfterClose = 0;
    let closeCalled = false;
    const handler: Handler = async (req, res) => {
      if (closeCalled && req.path !== '/slow') servedAfterClose++;
      if (req.path === '/slow') {
        if (++arrived === IN_FLIGHT) allArrived();
        await released;
        // A body larger than one frame, so it is still being sent after GOAWAY.
        res.end(Buffer.alloc(100_000, 0x61));
        return;
      }
      res.end('late');
    };
    server = await listenHttp2({}, handler);
    client = new Http2Client({}, { maxRetries: 1 });
    const base = `http://127.0.0.1:${server.address.port}`;
    const inFlight = Array.from({ length: IN_FLIGHT }, async () => {
      const res = await client!.request({ url: `${base}/slow` });
      return { status: res.status, length: (await res.bytes()).length };
    });
    await withTimeout(arrivedAll, '20 requests in the handler');

    closeCalled = true;
    const closing = server.close();
    let closed = false;
    void closing.then(() => (closed = true));
    // Give the GOAWAY time to reach the client before the next request.
    await new Promise((r) => setTimeout(r, 50));
    const late = client.request({ url: `${base}/late` }).then(
      async (res) => ({ ok: true as const, status: res.status, body: await res.text() }),
      (err: unknown) => ({ ok: false as const, err: err as Error }),
    );
    expect(closed).toBe(false);

    release();
    const results = await withTimeout(Promise.all(inFlight), 'in-flight requests');
    expect(results).toEqual(Array(IN_FLIGHT).fill({ status: 200, length: 100_000 }));
    await withTimeout(closing, 'server.close()');
    const l = await withTimeout(late, 'the request made after close()');
    expect(l.ok, l.ok ? `served: ${l.status} ${l.body}` : '').toBe(false);
    expect(servedAfterClose).toBe(0);
  });
});
