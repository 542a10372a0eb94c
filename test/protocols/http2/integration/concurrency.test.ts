/**
 * Many streams at once, ghostnet's Http2Client ↔ ghostnet's server over loopback: 1,000
 * concurrent requests from a client that puts at most 100 streams on a connection, against
 * a server advertising SETTINGS_MAX_CONCURRENT_STREAMS 100 (the default). All succeed, on
 * at most 10 connections, and no connection ever carries more than 100 open streams
 * (RFC 9113 §5.1.2).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Http2Client } from '../../../../src/protocols/http2/client.js';
import { listenHttp2 } from '../../../../src/protocols/http2/server.js';
import type { Http2Server } from '../../../../src/protocols/http2/server.js';
import type { Handler } from '../../../../src/protocols/http/types.js';

const REQUESTS = 1000;
const PER_CONNECTION = 100;
const MAX_CONNECTIONS = 10;

let server: Http2Server | undefined;
let client: Http2Client | undefined;

afterEach(async () => {
  client?.destroy();
  client = undefined;
  await server?.destroy();
  server = undefined;
});

describe('1,000 concurrent streams', () => {
  it('all succeed on ≤ 10 connections of ≤ 100 streams each', async () => {
    const open = new Map<number, number>();
    const maxOpen = new Map<number, number>();
    let active = 0;
    let maxActive = 0;
    const handler: Handler = async (req, res) => {
      const port = req.remoteAddress?.port ?? -1;
      const n = (open.get(port) ?? 0) + 1;
      open.set(port, n);
      maxOpen.set(port, Math.max(maxOpen.get(port) ?? 0, n));
      maxActive = Math.max(maxActive, ++active);
      // Stay open for a few event-loop turns so that streams overlap.
      await new Promise((r) => setTimeout(r, 2));
      active--;
      open.set(port, open.get(port)! - 1);
      res.end(req.query.get('i') ?? '');
    };
    server = await listenHttp2({}, handler);
    client = new Http2Client(
      {},
      {
        maxStreamsPerConnection: PER_CONNECTION,
        pool: { maxConnectionsPerOrigin: MAX_CONNECTIONS },
      },
    );
    const base = `http://127.0.0.1:${server.address.port}`;
    const results = await Promise.all(
      Array.from({ length: REQUESTS }, async (_, i) => {
        const res = await client!.request({ url: `${base}/n?i=${i}` });
        return { status: res.status, body: await res.text() };
      }),
    );
    expect(results.filter((r) => r.status !== 200)).toEqual([]);
    expect(results.map((r) => r.body)).toEqual(
      Array.from({ length: REQUESTS }, (_, i) => String(i)),
    );
    expect(maxOpen.size).toBeGreaterThan(0);
    expect(maxOpen.size).toBeLessThanOrEqual(MAX_CONNECTIONS);
    for (const [, m] of maxOpen) expect(m).toBeLessThanOrEqual(PER_CONNECTION);
    // Streams really ran side by side (more than one connection's worth at the peak).
    expect(maxActive).toBeGreaterThan(PER_CONNECTION);
    expect(client.stats().size).toBeLessThanOrEqual(MAX_CONNECTIONS);
  });
});
