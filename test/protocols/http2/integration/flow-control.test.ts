/**
 * Flow control end to end (RFC 9113 §5.2, §6.9), ghostnet's Http2Client ↔ ghostnet's
 * server over loopback: 64 MiB in each direction to a reader that is slow for its first
 * reads. The sender's queue for the stream must stay bounded by the stream high-water mark
 * (STYLE §6) rather than growing with the body, and so must the process's memory.
 */
import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { Http2Client } from '../../../../src/protocols/http2/client.js';
import { DEFAULT_HTTP2_LIMITS } from '../../../../src/protocols/http2/limits.js';
import { listenHttp2 } from '../../../../src/protocols/http2/server.js';
import type { Http2Server } from '../../../../src/protocols/http2/server.js';
import type { Handler } from '../../../../src/protocols/http/types.js';

const MiB = 1024 * 1024;
const TOTAL = 64 * MiB;
const CHUNK = 64 * 1024;
/** Reads delayed at the start (bounded: the rest of the body goes at full speed). */
const SLOW_READS = 40;
const SLOW_READ_MS = 15;
/** A loose sanity bound: the body is 64 MiB; buffering all of it would exceed this. */
const MAX_RSS_GROWTH = 64 * MiB;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** 64 KiB chunk number `i`: its first 4 bytes are the index, so order errors show. */
function chunkAt(i: number, template: Buffer): Buffer {
  const c = Buffer.from(template);
  c.writeUInt32BE(i, 0);
  return c;
}

const TEMPLATE = Buffer.alloc(CHUNK, 0x5a);
const EXPECTED = (() => {
  const h = createHash('sha256');
  for (let i = 0; i < TOTAL / CHUNK; i++) h.update(chunkAt(i, TEMPLATE));
  return h.digest('hex');
})();

let server: Http2Server | undefined;
let client: Http2Client | undefined;

afterEach(async () => {
  client?.destroy();
  client = undefined;
  await server?.destroy();
  server = undefined;
});

describe('HTTP/2 flow control with a slow reader (ghostnet client ↔ server)', () => {
  it('server → slow client: 64 MiB with the stream queue bounded by its high-water mark', async () => {
    let maxBuffered = 0;
    let writes = 0;
    let waits = 0;
    const handler: Handler = async (_req, res) => {
      res.headers.set('content-type', 'application/octet-stream');
      res.headers.set('content-length', TOTAL);
      for (let i = 0; i < TOTAL / CHUNK; i++) {
        const ok = res.write(chunkAt(i, TEMPLATE));
        writes++;
        maxBuffered = Math.max(maxBuffered, res.bufferedAmount);
        if (!ok) {
          waits++;
          await res.drained();
        }
      }
      res.end();
    };
    server = await listenHttp2({}, handler);
    client = new Http2Client();
    const rss0 = process.memoryUsage().rss;
    let maxRss = rss0;
    const res = await client.request({ url: `http://127.0.0.1:${server.address.port}/stream` });
    expect(res.status).toBe(200);
    const hash = createHash('sha256');
    let received = 0;
    let reads = 0;
    for await (const chunk of res) {
      hash.update(chunk);
      received += chunk.length;
      if (++reads <= SLOW_READS) await sleep(SLOW_READ_MS);
      if (reads % 64 === 0) maxRss = Math.max(maxRss, process.memoryUsage().rss);
    }
    expect(received).toBe(TOTAL);
    expect(hash.digest('hex')).toBe(EXPECTED);
    expect(writes).toBe(TOTAL / CHUNK);
    // The slow reader made the server wait for the window: backpressure reached the app.
    expect(waits).toBeGreaterThan(0);
    // §6.9: nothing beyond the window goes out; the rest waits in the stream's queue,
    // which `write()` stops filling at the high-water mark (one chunk may cross it).
    expect(maxBuffered).toBeLessThanOrEqual(DEFAULT_HTTP2_LIMITS.streamHighWaterMark + CHUNK);
    expect(maxRss - rss0).toBeLessThan(MAX_RSS_GROWTH);
  });

  it('client → slow handler: a 64 MiB upload stays within the flow-control windows', async () => {
    let consumed = 0;
    let produced = 0;
    let maxAhead = 0;
    let maxBodyBuffered = 0;
    const handler: Handler = async (req, res) => {
      const hash = createHash('sha256');
      let reads = 0;
      for await (const chunk of req.body) {
        hash.update(chunk);
        consumed += chunk.length;
        maxBodyBuffered = Math.max(maxBodyBuffered, req.body.bufferedAmount);
        if (++reads <= SLOW_READS) await sleep(SLOW_READ_MS);
      }
      res.end(JSON.stringify({ length: consumed, sha256: hash.digest('hex') }));
    };
    server = await listenHttp2({}, handler);
    client = new Http2Client();
    const rss0 = process.memoryUsage().rss;
    let maxRss = rss0;
    // The client pulls the next chunk only when the stream can take it (sendData's
    // backpressure), so produced − consumed is what sits in windows and queues.
    async function* body(): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < TOTAL / CHUNK; i++) {
        maxAhead = Math.max(maxAhead, produced - consumed);
        if (i % 64 === 0) maxRss = Math.max(maxRss, process.memoryUsage().rss);
        produced += CHUNK;
        yield chunkAt(i, TEMPLATE);
      }
    }
    const res = await client.request({
      url: `http://127.0.0.1:${server.address.port}/upload`,
      method: 'POST',
      body: body(),
    });
    expect(res.status).toBe(200);
    expect(JSON.parse(await res.text())).toEqual({ length: TOTAL, sha256: EXPECTED });
    // In flight at most: the server's stream window (256 KiB by default), the client's
    // stream queue (high-water mark 64 KiB) and one chunk; 1 MiB is a loose bound.
    expect(maxAhead).toBeLessThanOrEqual(MiB);
    // The server withholds WINDOW_UPDATE once its body buffer reaches its high-water mark
    // (64 KiB, raised to half the stream window), so at most that plus one stream window
    // is ever buffered.
    const window = DEFAULT_HTTP2_LIMITS.initialWindowSize;
    const bodyMark = Math.max(64 * 1024, Math.ceil(window / 2));
    expect(maxBodyBuffered).toBeLessThanOrEqual(bodyMark + window);
    expect(maxRss - rss0).toBeLessThan(MAX_RSS_GROWTH);
  });
});
