import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import type { GhostnetError } from '../../src/errors.js';
import { InvalidOptionError } from '../../src/errors.js';
import type { Observer } from '../../src/monitoring/observer.js';
import { BindError } from '../../src/transport/errors.js';
import { bindUdp } from '../../src/transport/udp.js';
import type { UdpEndpoint } from '../../src/transport/udp.js';
import type { SocketAddress } from '../../src/transport/types.js';

const open: UdpEndpoint[] = [];

async function bind(options: Parameters<typeof bindUdp>[0] = {}): Promise<UdpEndpoint> {
  const ep = await bindUdp(options);
  open.push(ep);
  return ep;
}

afterEach(async () => {
  await Promise.all(open.splice(0).map((ep) => ep.close()));
});

function nextError(ep: UdpEndpoint): Promise<GhostnetError> {
  return once(ep, 'error').then(([err]) => err as GhostnetError);
}

function nextMessage(ep: UdpEndpoint): Promise<[Uint8Array, SocketAddress]> {
  return once(ep, 'message') as Promise<[Uint8Array, SocketAddress]>;
}

function recordingObserver(): Observer & { sent: number; received: number; errors: string[] } {
  const o = {
    sent: 0,
    received: 0,
    errors: [] as string[],
    connectionOpened() {},
    connectionClosed() {},
    bytesReceived(_p: string, n: number) {
      o.received += n;
    },
    bytesSent(_p: string, n: number) {
      o.sent += n;
    },
    requestFinished() {},
    error(_p: string, code: string) {
      o.errors.push(code);
    },
    gauge() {},
  };
  return o;
}

describe('bindUdp', () => {
  it('round-trips on 127.0.0.1 with the right source address', async () => {
    const a = await bind();
    const b = await bind({ host: '127.0.0.1', port: 0 });
    expect(a.kind).toBe('udp');
    expect(a.address.address).toBe('127.0.0.1');
    expect(a.address.family).toBe('IPv4');
    expect(a.address.port).toBeGreaterThan(0);
    const got = nextMessage(b);
    a.send(new TextEncoder().encode('ping'), { address: '127.0.0.1', port: b.address.port });
    const [data, from] = await got;
    expect(new TextDecoder().decode(data)).toBe('ping');
    expect(from).toEqual({ address: '127.0.0.1', port: a.address.port, family: 'IPv4' });

    const back = nextMessage(a);
    b.send(data, from);
    const [reply, replyFrom] = await back;
    expect(new TextDecoder().decode(reply)).toBe('ping');
    expect(replyFrom.port).toBe(b.address.port);
  });

  it('sends to IP literals without a DNS round and to names through the resolver', async () => {
    const a = await bind();
    const b = await bind();
    // Literals are answered by our lookup at once; 'localhost' goes through dns.lookup
    // (resolved from /etc/hosts, no network) and must still arrive.
    for (const address of ['127.0.0.1', 'localhost']) {
      const got = nextMessage(b);
      a.send(new TextEncoder().encode(address), { address, port: b.address.port });
      const [data, from] = await got;
      expect(new TextDecoder().decode(data)).toBe(address);
      expect(from.port).toBe(a.address.port);
    }
    // A name that cannot resolve reports an error instead of throwing.
    const err = nextError(a);
    a.send(new Uint8Array(1), { address: 'no-such-host.invalid', port: b.address.port });
    expect((await err).code).toMatch(/^GN_ERR_/);
  });

  it('round-trips on ::1 (type inferred from the host)', async () => {
    const a = await bind({ host: '::1' });
    const b = await bind({ host: '::1' });
    expect(a.address.family).toBe('IPv6');
    const got = nextMessage(b);
    a.send(new Uint8Array([1, 2, 3]), { address: '::1', port: b.address.port });
    const [data, from] = await got;
    expect([...data]).toEqual([1, 2, 3]);
    expect(from).toEqual({ address: '::1', port: a.address.port, family: 'IPv6' });
  });

  it('a bind conflict rejects with BindError carrying the system error', async () => {
    const a = await bind();
    const err = await bindUdp({ port: a.address.port }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BindError);
    expect((err as BindError).code).toBe('GN_ERR_BIND');
    expect(((err as BindError).cause as { code?: string }).code).toBe('EADDRINUSE');
  });

  it('send after close emits GN_ERR_ENDPOINT_CLOSED instead of throwing', async () => {
    const a = await bind();
    const closed = once(a, 'close');
    await a.close();
    await closed;
    await a.close(); // idempotent
    const err = nextError(a);
    expect(() => a.send(new Uint8Array(1), { address: '127.0.0.1', port: 9 })).not.toThrow();
    expect((await err).code).toBe('GN_ERR_ENDPOINT_CLOSED');
  });

  it('an oversize send emits GN_ERR_DATAGRAM_TOO_LARGE and sends nothing', async () => {
    const observer = recordingObserver();
    const a = await bind({ maxDatagramSize: 1200, observer });
    const err = nextError(a);
    a.send(new Uint8Array(1201), { address: '127.0.0.1', port: 9 });
    const e = await err;
    expect(e.code).toBe('GN_ERR_DATAGRAM_TOO_LARGE');
    expect(observer.errors).toEqual(['GN_ERR_DATAGRAM_TOO_LARGE']);
    expect(observer.sent).toBe(0);
  });

  it('an error with no listener is not thrown; it is kept as lastError', async () => {
    const observer = recordingObserver();
    const a = await bind({ observer });
    a.send(new Uint8Array(1), { address: '127.0.0.1', port: 0 });
    for (let i = 0; i < 5 && a.lastError === undefined; i += 1) {
      await new Promise<void>((r) => setImmediate(r));
    }
    expect(a.lastError?.code).toBe('GN_ERR_DATAGRAM_SEND');
    expect(observer.errors).toEqual(['GN_ERR_DATAGRAM_SEND']);
  });

  it('an invalid destination emits an error event instead of throwing', async () => {
    const a = await bind();
    const err = nextError(a);
    expect(() => a.send(new Uint8Array(1), { address: '127.0.0.1', port: 70_000 })).not.toThrow();
    expect((await err).code).toBe('GN_ERR_DATAGRAM_SEND');
  });

  it('receiving drops datagrams larger than maxDatagramSize', async () => {
    const observer = recordingObserver();
    const a = await bind();
    const b = await bind({ maxDatagramSize: 10, observer });
    const got = nextMessage(b);
    a.send(new Uint8Array(11), b.address);
    a.send(new Uint8Array(5), b.address);
    const [data] = await got;
    expect(data.byteLength).toBe(5);
    expect(observer.errors).toEqual(['GN_ERR_DATAGRAM_TOO_LARGE']);
  });

  it('reports bytes sent and received to the observer', async () => {
    const oa = recordingObserver();
    const ob = recordingObserver();
    const a = await bind({ observer: oa });
    const b = await bind({ observer: ob });
    let received = 0;
    const done = new Promise<void>((resolve) => {
      b.on('message', () => {
        received += 1;
        if (received === 3) resolve();
      });
    });
    a.send(new Uint8Array(10), b.address);
    a.send(new Uint8Array(20), b.address);
    a.send(new Uint8Array(30), b.address);
    await done;
    expect(ob.received).toBe(60);
    // Send callbacks run on the next tick after the kernel took the datagram; give them a turn.
    for (let i = 0; i < 10 && oa.sent < 60; i += 1) {
      await new Promise<void>((r) => setImmediate(r));
    }
    expect(oa.sent).toBe(60);
  });

  it('applies receive and send buffer sizes after bind', async () => {
    const requested = 65_536;
    const a = await bind({ recvBufferSize: requested, sendBufferSize: requested });
    const rmemMax = Number(readFileSync('/proc/sys/net/core/rmem_max', 'utf8').trim());
    const wmemMax = Number(readFileSync('/proc/sys/net/core/wmem_max', 'utf8').trim());
    // Linux doubles the requested size (bookkeeping overhead) and caps it at 2 × *mem_max.
    expect(a.recvBufferSize).toBe(2 * Math.min(requested, rmemMax));
    expect(a.sendBufferSize).toBe(2 * Math.min(requested, wmemMax));
  });

  it('validates options', async () => {
    await expect(bindUdp({ port: -1 })).rejects.toBeInstanceOf(InvalidOptionError);
    await expect(bindUdp({ host: '::1', type: 'udp4' })).rejects.toBeInstanceOf(InvalidOptionError);
    await expect(bindUdp({ maxDatagramSize: 70_000 })).rejects.toBeInstanceOf(InvalidOptionError);
    await expect(bindUdp({ recvBufferSize: 0 })).rejects.toBeInstanceOf(InvalidOptionError);
  });
});
