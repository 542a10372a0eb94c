/**
 * HTTP/2 interop with node:http2 (Node's binding of nghttp2), an independent RFC 9113
 * implementation, over loopback:
 *
 * - node:http2 client → ghostnet server (`listenHttp2`, h2c with prior knowledge, in
 *   process): a 16 MiB body echoed, trailers both ways, 200 concurrent streams on one
 *   session, graceful shutdown (GOAWAY) with streams in flight;
 * - ghostnet `Http2Client` → node:http2 server (h2c and TLS): 16 MiB both ways, trailers,
 *   200 concurrent requests on one connection, and a GOAWAY whose last-stream-id leaves
 *   requests unprocessed (the client retries them on a new connection, RFC 9113 §6.8).
 */
import { createHash, randomBytes } from 'node:crypto';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Http2Client } from '../../src/protocols/http2/client.js';
import { listenHttp2 } from '../../src/protocols/http2/server.js';
import type { Http2Server } from '../../src/protocols/http2/server.js';
import type { Handler } from '../../src/protocols/http/types.js';
import { cleanupCerts, makeCa, makeLeaf } from '../helpers/certs.js';
import type { Ca, CertAndKey } from '../helpers/certs.js';

const MiB = 1024 * 1024;
const WAIT_MS = 30_000;

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

function withTimeout<T>(promise: Promise<T>, what: string, ms = WAIT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** A promise and its resolver. */
function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

let ca: Ca;
let leaf: CertAndKey;

beforeAll(async () => {
  ca = await makeCa();
  leaf = await makeLeaf(ca, { dns: ['localhost'], ip: ['127.0.0.1'] });
});

afterAll(() => cleanupCerts());

// ── node:http2 client → ghostnet server ──────────────────────────────────────────────────

interface NodeResponse {
  status: number;
  headers: http2.IncomingHttpHeaders;
  body: Buffer;
  trailers: http2.IncomingHttpHeaders | undefined;
}

/** One request on a node:http2 client session; resolves with the whole response. */
function nodeRequest(
  session: http2.ClientHttp2Session,
  headers: http2.OutgoingHttpHeaders,
  body?: Buffer,
  trailers?: http2.OutgoingHttpHeaders,
): Promise<NodeResponse> {
  return new Promise((resolve, reject) => {
    const req = session.request(headers, {
      endStream: body === undefined && trailers === undefined,
      ...(trailers !== undefined ? { waitForTrailers: true } : {}),
    });
    if (trailers !== undefined) req.on('wantTrailers', () => req.sendTrailers(trailers));
    const chunks: Buffer[] = [];
    let head: http2.IncomingHttpHeaders | undefined;
    let got: http2.IncomingHttpHeaders | undefined;
    req.on('response', (h) => (head = h));
    req.on('trailers', (t) => (got = t));
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () =>
      resolve({
        status: Number(head?.[':status']),
        headers: head ?? {},
        body: Buffer.concat(chunks),
        trailers: got,
      }),
    );
    req.on('error', reject);
    if (body !== undefined) {
      // In 64 KiB writes with backpressure: one 16 MiB write would exceed node's
      // maxSessionMemory (10 MB) and node itself would reset the stream (ENHANCE_YOUR_CALM).
      let off = 0;
      const pump = (): void => {
        while (off < body.length) {
          const chunk = body.subarray(off, Math.min(off + 65536, body.length));
          off += chunk.length;
          if (off === body.length) {
            req.end(chunk);
            return;
          }
          if (!req.write(chunk)) {
            req.once('drain', pump);
            return;
          }
        }
      };
      pump();
    } else if (trailers !== undefined) req.end();
  });
}

describe('node:http2 client → ghostnet listenHttp2 (h2c)', () => {
  let server: Http2Server;
  let url: string;
  const sessions: http2.ClientHttp2Session[] = [];
  /** Test-controlled hooks of the handler. */
  let barrier = { target: 0, arrived: 0, open: deferred(), ports: new Set<number>() };
  let slow = { arrived: 0, allArrived: deferred(), release: deferred(), target: 0 };

  const handler: Handler = async (req, res) => {
    switch (req.path) {
      case '/echo': {
        res.headers.set('content-type', 'application/octet-stream');
        for await (const chunk of req.body) if (!res.write(chunk)) await res.drained();
        res.end();
        return;
      }
      case '/trailers': {
        // The request trailers arrive after the body: read it all first (RFC 9113 §8.1).
        const hash = createHash('sha256');
        let length = 0;
        for await (const chunk of req.body) {
          hash.update(chunk);
          length += chunk.length;
        }
        const body = Buffer.from(
          JSON.stringify({
            length,
            sha256: hash.digest('hex'),
            trailer: req.body.trailers?.get('x-client-checksum') ?? null,
          }),
        );
        res.headers.set('content-type', 'application/json');
        res.trailers.set('x-server-checksum', sha256(body));
        res.trailers.set('x-served-by', 'ghostnet');
        res.end(body);
        return;
      }
      case '/barrier': {
        // Answers only once `target` requests are open at the same time (bounded wait).
        barrier.arrived++;
        barrier.ports.add(req.remoteAddress?.port ?? -1);
        if (barrier.arrived >= barrier.target) barrier.open.resolve();
        const opened = await Promise.race([
          barrier.open.promise.then(() => true),
          new Promise<boolean>((r) => setTimeout(() => r(false), 20_000)),
        ]);
        res.status = opened ? 200 : 503;
        res.end(String(barrier.arrived));
        return;
      }
      case '/slow': {
        slow.arrived++;
        if (slow.arrived >= slow.target) slow.allArrived.resolve();
        await slow.release.promise;
        res.end('done');
        return;
      }
      default:
        res.status = 404;
        res.end();
    }
  };

  const connect = (): http2.ClientHttp2Session => {
    const s = http2.connect(url);
    s.on('error', () => {});
    sessions.push(s);
    return s;
  };

  beforeAll(async () => {
    server = await listenHttp2({ limits: { maxConcurrentStreams: 256 } }, handler);
    url = `http://127.0.0.1:${server.address.port}`;
  });

  afterAll(async () => {
    for (const s of sessions) s.destroy();
    await server?.destroy();
  });

  it('echoes a 16 MiB request body intact', async () => {
    const session = connect();
    const data = randomBytes(16 * MiB);
    const r = await withTimeout(
      nodeRequest(session, { ':method': 'POST', ':path': '/echo' }, data),
      '16 MiB echo',
    );
    expect(r.status).toBe(200);
    expect(r.body.length).toBe(data.length);
    expect(sha256(r.body)).toBe(sha256(data));
    session.close();
  });

  it('carries trailers both ways (sendTrailers → req.body.trailers; res.trailers → trailers)', async () => {
    const session = connect();
    const data = randomBytes(300_000);
    const r = await withTimeout(
      nodeRequest(session, { ':method': 'POST', ':path': '/trailers' }, data, {
        'x-client-checksum': sha256(data),
      }),
      'trailers',
    );
    expect(r.status).toBe(200);
    const seen = JSON.parse(r.body.toString()) as {
      length: number;
      sha256: string;
      trailer: string;
    };
    expect(seen).toEqual({ length: data.length, sha256: sha256(data), trailer: sha256(data) });
    expect(r.trailers).toMatchObject({
      'x-server-checksum': sha256(r.body),
      'x-served-by': 'ghostnet',
    });
    session.close();
  });

  it('answers 200 concurrent streams on one session', async () => {
    barrier = { target: 200, arrived: 0, open: deferred(), ports: new Set() };
    const session = connect();
    const results = await withTimeout(
      Promise.all(Array.from({ length: 200 }, () => nodeRequest(session, { ':path': '/barrier' }))),
      '200 concurrent streams',
    );
    // Every handler saw all 200 requests open at once before any answered.
    expect(results.map((r) => r.status)).toEqual(Array(200).fill(200));
    expect(barrier.arrived).toBe(200);
    expect(barrier.ports.size).toBe(1);
    session.close();
  });

  it('close() sends GOAWAY: in-flight streams complete, new streams are refused', async () => {
    slow = { arrived: 0, allArrived: deferred(), release: deferred(), target: 10 };
    const session = connect();
    const goaway = new Promise<{ code: number; last: number }>((resolve) =>
      session.once('goaway', (code, last) => resolve({ code, last })),
    );
    const inFlight = Array.from({ length: 10 }, () => nodeRequest(session, { ':path': '/slow' }));
    await withTimeout(slow.allArrived.promise, '10 requests in the handler');

    const closing = server.close();
    const g = await withTimeout(goaway, "the client's goaway event");
    expect(g.code).toBe(http2.constants.NGHTTP2_NO_ERROR);
    // After GOAWAY node:http2 closes the session for new streams (and refuses them).
    expect(() => session.request({ ':path': '/hello' })).toThrow(/GOAWAY|closed/i);
    // A new connection is not served either: the listener stopped accepting.
    const other = http2.connect(url);
    const refused = new Promise<string>((resolve) => {
      other.on('error', (err) => resolve(`error ${(err as NodeJS.ErrnoException).code ?? ''}`));
      other.on('goaway', () => resolve('goaway'));
      other.on('close', () => resolve('closed'));
    });
    sessions.push(other);

    slow.release.resolve();
    const results = await withTimeout(Promise.all(inFlight), 'in-flight streams');
    expect(results.map((r) => [r.status, r.body.toString()])).toEqual(
      Array(10).fill([200, 'done']),
    );
    await withTimeout(closing, 'server.close()');
    expect(await withTimeout(refused, 'the new connection to fail')).toMatch(
      /^(error|closed|goaway)/,
    );
  });
});

// ── ghostnet Http2Client → node:http2 server ─────────────────────────────────────────────

describe.each(['h2c', 'TLS'] as const)('ghostnet Http2Client → node:http2 server (%s)', (mode) => {
  let server: http2.Http2Server | http2.Http2SecureServer;
  let origin: string;
  let client: Http2Client | undefined;
  const serverSessions = new Set<http2.ServerHttp2Session>();
  let onBarrier: ((stream: http2.ServerHttp2Stream) => void) | undefined;
  let onGoawayTest: ((stream: http2.ServerHttp2Stream) => void) | undefined;

  const newClient = (options: ConstructorParameters<typeof Http2Client>[1] = {}) => {
    client = new Http2Client(
      {},
      { ...(mode === 'TLS' ? { tls: { ca: ca.cert } } : {}), ...options },
    );
    return client;
  };

  beforeAll(async () => {
    server =
      mode === 'TLS'
        ? http2.createSecureServer({ cert: leaf.cert, key: leaf.key })
        : http2.createServer();
    server.on('session', (s: http2.ServerHttp2Session) => {
      serverSessions.add(s);
      s.on('close', () => serverSessions.delete(s));
      s.on('error', () => {});
    });
    server.on('stream', (stream, headers) => {
      stream.on('error', () => {});
      const path = headers[':path'] ?? '';
      if (path === '/echo') {
        stream.respond({ ':status': 200, 'content-type': 'application/octet-stream' });
        stream.pipe(stream);
      } else if (path.startsWith('/bytes/')) {
        let left = Number(path.slice(7));
        stream.respond({ ':status': 200, 'content-length': left });
        const chunk = Buffer.alloc(64 * 1024, 0x62);
        const pump = (): void => {
          while (left > 0) {
            const n = Math.min(left, chunk.length);
            left -= n;
            if (left === 0) {
              stream.end(chunk.subarray(0, n));
              return;
            }
            if (!stream.write(chunk.subarray(0, n))) {
              stream.once('drain', pump);
              return;
            }
          }
        };
        pump();
      } else if (path === '/trailers') {
        const hash = createHash('sha256');
        let length = 0;
        let trailer: string | undefined;
        stream.on('trailers', (t: http2.IncomingHttpHeaders) => {
          trailer = t['x-client-checksum'] as string | undefined;
        });
        stream.on('data', (c: Buffer) => {
          hash.update(c);
          length += c.length;
        });
        stream.on('end', () => {
          const body = Buffer.from(
            JSON.stringify({ length, sha256: hash.digest('hex'), trailer: trailer ?? null }),
          );
          stream.respond(
            { ':status': 200, 'content-type': 'application/json' },
            { waitForTrailers: true },
          );
          stream.on('wantTrailers', () =>
            stream.sendTrailers({ 'x-server-checksum': sha256(body), 'x-served-by': 'node' }),
          );
          stream.end(body);
        });
      } else if (path === '/barrier' && onBarrier !== undefined) {
        onBarrier(stream);
      } else if (path === '/goaway' && onGoawayTest !== undefined) {
        onGoawayTest(stream);
      } else {
        stream.respond({ ':status': 404 });
        stream.end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    origin = `${mode === 'TLS' ? 'https' : 'http'}://127.0.0.1:${port}`;
  });

  afterEach(() => {
    client?.destroy();
    client = undefined;
    onBarrier = undefined;
    onGoawayTest = undefined;
  });

  afterAll(async () => {
    for (const s of serverSessions) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('uploads 16 MiB and gets it echoed back (large bodies both ways)', async () => {
    const c = newClient();
    const data = randomBytes(16 * MiB);
    const res = await withTimeout(
      c.request({ url: `${origin}/echo`, method: 'POST', body: data }),
      'echo response head',
    );
    expect(res.status).toBe(200);
    expect(res.httpVersion).toBe('2');
    const body = await withTimeout(res.bytes(), 'echo body');
    expect(body.length).toBe(data.length);
    expect(sha256(body)).toBe(sha256(data));
  });

  it('downloads 16 MiB', async () => {
    const c = newClient();
    const res = await withTimeout(c.request({ url: `${origin}/bytes/${16 * MiB}` }), 'head');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBe(String(16 * MiB));
    let length = 0;
    let wrong = 0;
    for await (const chunk of res) {
      length += chunk.length;
      for (const b of chunk) if (b !== 0x62) wrong++;
    }
    expect(length).toBe(16 * MiB);
    expect(wrong).toBe(0);
  });

  it('sends request trailers and receives response trailers', async () => {
    const c = newClient();
    const data = randomBytes(200_000);
    const res = await withTimeout(
      c.request({
        url: `${origin}/trailers`,
        method: 'POST',
        body: data,
        trailers: { 'x-client-checksum': sha256(data) },
      }),
      'trailers response',
    );
    expect(res.status).toBe(200);
    const body = await res.bytes();
    expect(JSON.parse(Buffer.from(body).toString())).toEqual({
      length: data.length,
      sha256: sha256(data),
      trailer: sha256(data),
    });
    expect(res.trailers?.get('x-server-checksum')).toBe(sha256(body));
    expect(res.trailers?.get('x-served-by')).toBe('node');
  });

  it('runs 200 concurrent requests over one connection', async () => {
    const waiting: http2.ServerHttp2Stream[] = [];
    const sessionsSeen = new Set<http2.Http2Session>();
    // Answers only once all 200 streams are open at once, so they really are concurrent.
    onBarrier = (stream) => {
      sessionsSeen.add(stream.session!);
      waiting.push(stream);
      if (waiting.length === 200) {
        for (const s of waiting) {
          s.respond({ ':status': 200 });
          s.end(String(s.id));
        }
      }
    };
    const c = newClient({ maxStreamsPerConnection: 200 });
    const all = await withTimeout(
      Promise.all(
        Array.from({ length: 200 }, async () => {
          const res = await c.request({ url: `${origin}/barrier` });
          return { status: res.status, body: await res.text() };
        }),
      ),
      '200 concurrent requests',
    );
    expect(all.every((r) => r.status === 200)).toBe(true);
    expect(new Set(all.map((r) => r.body)).size).toBe(200);
    expect(sessionsSeen.size).toBe(1);
    expect(c.stats().size).toBe(1);
  });

  it('retries requests above GOAWAY last-stream-id on a new connection (§6.8)', async () => {
    const first: http2.ServerHttp2Stream[] = [];
    let firstSession: http2.Http2Session | undefined;
    let servedFirst = 0;
    let servedSecond = 0;
    onGoawayTest = (stream) => {
      const session = stream.session!;
      firstSession ??= session;
      if (stream.session !== firstSession) {
        servedSecond++;
        stream.respond({ ':status': 200 });
        stream.end('second');
        return;
      }
      first.push(stream);
      if (first.length < 10) return;
      // All 10 are open: process the first 5 only.
      const last = first[4]!.id!;
      session.goaway(http2.constants.NGHTTP2_NO_ERROR, last);
      // Answered one by one, a few ms apart: the streams below last-stream-id must be
      // allowed to finish on the connection that is going away (§6.8).
      first
        .filter((s) => s.id! <= last)
        .forEach((s, i) =>
          setTimeout(
            () => {
              if (s.destroyed || s.closed) return; // the client gave up on it (the failure shows)
              servedFirst++;
              s.respond({ ':status': 200 });
              s.end('first');
            },
            10 * (i + 1),
          ),
        );
    };
    const c = newClient();
    const all = await withTimeout(
      Promise.all(
        Array.from({ length: 10 }, async () => {
          const res = await c.request({ url: `${origin}/goaway` });
          return { status: res.status, body: await res.text() };
        }),
      ),
      'all 10 requests',
    );
    expect(all.map((r) => r.status)).toEqual(Array(10).fill(200));
    expect(all.filter((r) => r.body === 'first')).toHaveLength(5);
    expect(all.filter((r) => r.body === 'second')).toHaveLength(5);
    expect([servedFirst, servedSecond]).toEqual([5, 5]);
  });
});
