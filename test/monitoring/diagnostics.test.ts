/**
 * node:diagnostics_channel events: request start/finish from both HTTP engines, HTTP/2
 * connection errors, and DHT lookups reach subscribers.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import net from 'node:net';
import http2 from 'node:http2';
import { afterEach, describe, expect, it } from 'vitest';
import { Http1Client } from '../../src/protocols/http1/client.js';
import { listenHttp } from '../../src/protocols/http2/http-server.js';
import { DhtNode } from '../../src/p2p/kademlia/node.js';

const subs: [string, (m: unknown) => void][] = [];
function listen(name: string): unknown[] {
  const seen: unknown[] = [];
  const fn = (m: unknown): void => void seen.push(m);
  subscribe(name, fn);
  subs.push([name, fn]);
  return seen;
}
afterEach(() => {
  for (const [name, fn] of subs.splice(0)) unsubscribe(name, fn);
});

describe('diagnostics channels', () => {
  it('publishes request start and finish for HTTP/1.1 and HTTP/2, and HTTP/2 connection errors', async () => {
    const starts = listen('ghostnet:http:request-start') as { request: { protocol: string } }[];
    const finishes = listen('ghostnet:http:request-finish') as { outcome: string }[];
    const errors = listen('ghostnet:http2:connection-error') as { error: { wireCode: number } }[];
    const server = await listenHttp({ host: '127.0.0.1', port: 0 }, (_req, res) => res.text('ok'));
    try {
      const url = `http://127.0.0.1:${server.address.port}`;
      const h1 = new Http1Client();
      await (await h1.request({ url: `${url}/` })).text();
      await h1.close();
      await new Promise<void>((resolve, reject) => {
        const s = http2.connect(url);
        const req = s.request({ ':path': '/' });
        req.resume();
        req.on('end', () => s.close(() => resolve()));
        req.on('error', reject);
      });
      await new Promise((r) => setTimeout(r, 50));
      expect(starts.map((s) => s.request.protocol).sort()).toEqual(['h2', 'http/1.1']);
      expect(finishes.map((f) => f.outcome)).toEqual(['200', '200']);
      // A bad preface follow-up: SETTINGS on a stream is a PROTOCOL_ERROR (RFC 9113 §6.5).
      await new Promise<void>((resolve) => {
        const sock = net.connect(server.address.port, '127.0.0.1', () => {
          sock.write(Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1'));
          sock.write(Buffer.from('000000040000000001', 'hex'));
        });
        sock.on('data', () => {});
        sock.on('close', () => resolve());
        sock.on('error', () => resolve());
      });
      expect(errors.map((e) => e.error.wireCode)).toEqual([1]);
    } finally {
      await server.close();
    }
  });

  it('publishes DHT lookups', async () => {
    const lookups = listen('ghostnet:dht:lookup') as { kind: string; queries: number }[];
    const a = await DhtNode.start();
    const b = await DhtNode.start({ bootstrap: [{ address: '127.0.0.1', port: a.address.port }] });
    try {
      await new Promise<void>((r) => b.once('ready', () => r()));
      await b.findNode(a.id);
      await b.getPeers(a.id);
      expect(lookups.map((l) => l.kind)).toEqual(['find_node', 'get_peers']);
      expect(lookups[0]!.queries).toBeGreaterThan(0);
    } finally {
      await b.close();
      await a.close();
    }
  });
});
