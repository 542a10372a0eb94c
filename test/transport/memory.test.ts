import { once } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { GhostnetError, InvalidOptionError } from '../../src/errors.js';
import {
  BufferOverflowError,
  createMemoryPair,
  listenMemory,
  MemoryNetwork,
} from '../../src/transport/memory.js';
import type { MemoryDatagram } from '../../src/transport/memory.js';
import { BindError, ConnectError, WriteAfterEndError } from '../../src/transport/errors.js';
import type { SocketAddress, StreamConnection } from '../../src/transport/types.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Let every queued microtask (and the ones they queue) run. */
async function settle(rounds = 10): Promise<void> {
  for (let i = 0; i < rounds; i += 1) await new Promise<void>((r) => setImmediate(r));
}

function collect(conn: StreamConnection): { text: () => string; bytes: () => number } {
  const chunks: Uint8Array[] = [];
  conn.on('data', (c) => chunks.push(c));
  return {
    text: () => chunks.map((c) => dec.decode(c)).join(''),
    bytes: () => chunks.reduce((n, c) => n + c.byteLength, 0),
  };
}

function events(conn: StreamConnection): string[] {
  const log: string[] = [];
  conn.on('end', () => log.push('end'));
  conn.on('error', (e) => log.push(`error:${(e as GhostnetError).code}`));
  conn.on('close', (hadError) => log.push(`close:${hadError}`));
  conn.on('timeout', () => log.push('timeout'));
  return log;
}

afterEach(() => {
  vi.useRealTimers();
});

describe('createMemoryPair', () => {
  it('delivers bytes asynchronously, in order, in both directions', async () => {
    const [a, b] = createMemoryPair();
    const atB = collect(b);
    const atA = collect(a);
    for (let i = 0; i < 100; i += 1) a.write(enc.encode(`${i},`));
    b.write(enc.encode('pong'));
    // Nothing is delivered inside write().
    expect(atB.bytes()).toBe(0);
    await settle();
    const expected = Array.from({ length: 100 }, (_, i) => `${i},`).join('');
    expect(atB.text()).toBe(expected);
    expect(atA.text()).toBe('pong');
    expect(a.bytesWritten).toBe(expected.length);
    expect(b.bytesRead).toBe(expected.length);
    expect(a.kind).toBe('memory');
    expect(a.id).not.toBe(b.id);
  });

  it('copies written chunks so the writer may reuse its buffer', async () => {
    const [a, b] = createMemoryPair();
    const got = collect(b);
    const buf = enc.encode('abc');
    a.write(buf);
    buf.fill(0x7a);
    await settle();
    expect(got.text()).toBe('abc');
  });

  it('writev delivers every chunk in order', async () => {
    const [a, b] = createMemoryPair();
    const got = collect(b);
    expect(a.writev([enc.encode('a'), new Uint8Array(0), enc.encode('bc')])).toBe(true);
    await settle();
    expect(got.text()).toBe('abc');
  });

  it('reports addresses, ALPN and servername on both sides', () => {
    const local: SocketAddress = { address: '10.0.0.1', port: 1111, family: 'IPv4' };
    const remote: SocketAddress = { address: '10.0.0.2', port: 443, family: 'IPv4' };
    const [a, b] = createMemoryPair({
      localAddress: local,
      remoteAddress: remote,
      alpnProtocol: 'h2',
      servername: 'example.test',
    });
    expect(a.localAddress).toEqual(local);
    expect(a.remoteAddress).toEqual(remote);
    expect(b.localAddress).toEqual(remote);
    expect(b.remoteAddress).toEqual(local);
    expect(b.alpnProtocol).toBe('h2');
    expect(a.servername).toBe('example.test');
  });

  it('applies backpressure: write returns false at capacity and drain follows consumption', async () => {
    const [a, b] = createMemoryPair({ capacity: 10 });
    b.pause();
    const drains: number[] = [];
    a.on('drain', () => drains.push(a.bufferedAmount));
    expect(a.write(new Uint8Array(6))).toBe(true);
    expect(a.write(new Uint8Array(6))).toBe(false);
    // Advisory, like a socket: the bytes were still accepted.
    expect(a.write(new Uint8Array(6))).toBe(false);
    expect(a.bufferedAmount).toBe(18);
    await settle();
    expect(drains).toEqual([]);
    const got = collect(b);
    b.resume();
    await settle();
    expect(got.bytes()).toBe(18);
    expect(drains).toEqual([0]);
    expect(a.bufferedAmount).toBe(0);
  });

  it('a paused reader emits nothing, then resumes in order (pause inside a data handler)', async () => {
    const [a, b] = createMemoryPair();
    const seen: string[] = [];
    b.on('data', (c) => {
      seen.push(dec.decode(c));
      if (seen.length === 1) b.pause();
    });
    a.write(enc.encode('1'));
    a.write(enc.encode('2'));
    a.end();
    const endSpy = vi.fn();
    b.on('end', endSpy);
    await settle();
    expect(seen).toEqual(['1']);
    expect(endSpy).not.toHaveBeenCalled();
    expect(b.isPaused).toBe(true);
    b.resume();
    await settle();
    expect(seen).toEqual(['1', '2']);
    expect(endSpy).toHaveBeenCalledTimes(1);
  });

  it('destroys a writer that ignores backpressure past maxBuffered', async () => {
    const [a, b] = createMemoryPair({ capacity: 4, maxBuffered: 8 });
    b.pause();
    const logA = events(a);
    const logB = events(b);
    expect(a.write(new Uint8Array(8))).toBe(false);
    expect(a.write(new Uint8Array(1))).toBe(false);
    expect(a.writable).toBe(false);
    await settle();
    expect(logA).toEqual(['error:GN_ERR_BUFFER_OVERFLOW', 'close:true']);
    expect(logB).toEqual(['close:false']);
    // Failed underneath, not ended by the application: writes are dropped, not thrown.
    expect(a.write(new Uint8Array(1))).toBe(false);
    expect((a.lastError as GhostnetError).code).toBe('GN_ERR_BUFFER_OVERFLOW');
  });

  it('BufferOverflowError carries its code', () => {
    expect(new BufferOverflowError(5).code).toBe('GN_ERR_BUFFER_OVERFLOW');
  });

  it('half-closes: end on one side emits end on the other, which can still write', async () => {
    const [a, b] = createMemoryPair();
    const logA = events(a);
    const logB = events(b);
    const atA = collect(a);
    a.write(enc.encode('request'));
    a.end();
    expect(a.writable).toBe(false);
    expect(() => a.write(enc.encode('x'))).toThrow(WriteAfterEndError);
    await settle();
    expect(logB).toEqual(['end']);
    expect(b.writable).toBe(true);
    b.write(enc.encode('response'));
    await settle();
    expect(atA.text()).toBe('response');
    expect(logA).toEqual([]);
    b.end();
    await settle();
    expect(logA).toEqual(['end', 'close:false']);
    expect(logB).toEqual(['end', 'close:false']);
    expect(a.closed && b.closed).toBe(true);
  });

  it('destroy is idempotent, emits close once, and closes the peer after delivering', async () => {
    const [a, b] = createMemoryPair();
    const logA = events(a);
    const logB = events(b);
    const atB = collect(b);
    a.write(enc.encode('last words'));
    a.destroy();
    a.destroy();
    a.destroy(new GhostnetError('GN_ERR_TEST', 'ignored'));
    expect(a.closed).toBe(false); // close is emitted asynchronously
    await settle();
    expect(logA).toEqual(['close:false']);
    expect(atB.text()).toBe('last words');
    expect(logB).toEqual(['close:false']);
    expect(a.closed).toBe(true);
    // a destroyed itself: writing throws. b was reset by its peer: writes are dropped.
    expect(() => a.write(enc.encode('x'))).toThrow(WriteAfterEndError);
    expect(b.writable).toBe(false);
    expect(b.write(enc.encode('x'))).toBe(false);
    expect(() => a.end()).not.toThrow();
  });

  it('destroy(err) emits error then close(true) on that side only', async () => {
    const [a, b] = createMemoryPair();
    const logA = events(a);
    const logB = events(b);
    a.destroy(new GhostnetError('GN_ERR_TEST', 'boom'));
    await settle();
    expect(logA).toEqual(['error:GN_ERR_TEST', 'close:true']);
    expect(logB).toEqual(['close:false']);
  });

  it('an error with no listener does not throw; it is kept as lastError', async () => {
    const [a] = createMemoryPair();
    const closed = vi.fn();
    a.on('close', closed);
    a.destroy(new GhostnetError('GN_ERR_TEST', 'nobody listens'));
    await settle();
    expect(closed).toHaveBeenCalledWith(true);
    expect((a.lastError as GhostnetError).code).toBe('GN_ERR_TEST');
  });

  it('the peer of a destroyed connection drops what it writes and still closes', async () => {
    const [a, b] = createMemoryPair();
    const logB = events(b);
    a.destroy();
    expect(b.write(enc.encode('into the void'))).toBe(false);
    await settle();
    expect(logB).toEqual(['close:false']);
    expect(a.bytesRead).toBe(0);
  });

  it('close() ends and closes once the peer ends too', async () => {
    const [a, b] = createMemoryPair();
    const logA = events(a);
    b.on('end', () => b.end());
    a.close();
    await settle();
    expect(logA).toEqual(['end', 'close:false']);
  });

  it('close(graceMs) destroys when the peer never ends', async () => {
    vi.useFakeTimers();
    const [a, b] = createMemoryPair();
    const logA = events(a);
    const logB = events(b);
    a.close(500);
    await vi.advanceTimersByTimeAsync(499);
    expect(logA).toEqual([]);
    expect(logB).toEqual(['end']);
    await vi.advanceTimersByTimeAsync(1);
    expect(logA).toEqual(['close:false']);
    expect(logB).toEqual(['end', 'close:false']);
  });

  it('idle timeout emits timeout, then destroys with GN_ERR_IDLE_TIMEOUT; traffic resets it', async () => {
    vi.useFakeTimers();
    const [a, b] = createMemoryPair();
    const logA = events(a);
    const logB = events(b);
    a.setIdleTimeout(1000);
    await vi.advanceTimersByTimeAsync(900);
    b.write(enc.encode('keepalive'));
    await vi.advanceTimersByTimeAsync(900);
    expect(logA).toEqual([]);
    await vi.advanceTimersByTimeAsync(100);
    expect(logA).toEqual(['timeout', 'error:GN_ERR_IDLE_TIMEOUT', 'close:true']);
    expect(logB).toEqual(['close:false']);
  });

  it('setIdleTimeout(0) disables the timer', async () => {
    vi.useFakeTimers();
    const [a] = createMemoryPair();
    const logA = events(a);
    a.setIdleTimeout(100);
    a.setIdleTimeout(0);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(logA).toEqual([]);
    expect(() => a.setIdleTimeout(-1)).toThrow(InvalidOptionError);
  });

  it('works under fake timers without advancing them (microtask delivery)', async () => {
    vi.useFakeTimers();
    const [a, b] = createMemoryPair();
    a.write(enc.encode('hi'));
    const [chunk] = (await once(b, 'data')) as [Uint8Array];
    expect(dec.decode(chunk)).toBe('hi');
  });

  it('validates options and names the fix', () => {
    expect(() => createMemoryPair({ capacity: 0 })).toThrow(InvalidOptionError);
    expect(() => createMemoryPair({ capacity: 100, maxBuffered: 10 })).toThrow(/maxBuffered/);
  });
});

describe('MemoryServer', () => {
  it('connect() emits connection on the server and returns the client side', async () => {
    const server = listenMemory({ host: '127.0.0.1', port: 8080 });
    const accepted: StreamConnection[] = [];
    server.on('connection', (conn) => {
      accepted.push(conn);
      conn.on('data', (c) => conn.write(c));
    });
    const client = await server.connect();
    expect(accepted).toHaveLength(1);
    expect(server.connections.size).toBe(1);
    expect(client.remoteAddress).toEqual({ address: '127.0.0.1', port: 8080, family: 'IPv4' });
    expect(accepted[0]?.remoteAddress).toEqual(client.localAddress);
    const got = collect(client);
    client.write(enc.encode('echo'));
    await settle();
    expect(got.text()).toBe('echo');
    client.destroy();
    await settle();
    expect(server.connections.size).toBe(0);
  });

  it('refuses connections after stopAccepting and beyond maxConnections', async () => {
    const server = listenMemory({ maxConnections: 1 });
    await server.connect();
    await expect(server.connect()).rejects.toBeInstanceOf(ConnectError);
    const closeSpy = vi.fn();
    server.on('close', closeSpy);
    await server.stopAccepting();
    expect(server.listening).toBe(false);
    expect(closeSpy).toHaveBeenCalledTimes(1);
    await expect(server.connect()).rejects.toMatchObject({ code: 'GN_ERR_CONNECT' });
  });

  it('destroy() closes every live connection and resolves after they closed', async () => {
    const server = listenMemory();
    const c1 = await server.connect();
    const c2 = await server.connect();
    const closed = vi.fn();
    c1.on('close', closed);
    c2.on('close', closed);
    await server.destroy();
    expect(server.connections.size).toBe(0);
    await settle();
    expect(closed).toHaveBeenCalledTimes(2);
  });
});

describe('MemoryNetwork', () => {
  it('delivers datagrams asynchronously with the source address', async () => {
    const net = new MemoryNetwork();
    const a = net.bind({ address: '10.0.0.1', port: 4000 });
    const b = net.bind({ address: '10.0.0.2' });
    expect(b.address.port).toBeGreaterThanOrEqual(49_152);
    expect(b.kind).toBe('memory');
    const got: Array<[string, SocketAddress]> = [];
    b.on('message', (data, from) => got.push([dec.decode(data), from]));
    a.send(enc.encode('one'), b.address);
    a.send(enc.encode('two'), { address: '10.0.0.2', port: b.address.port });
    expect(got).toEqual([]);
    await settle();
    expect(got).toEqual([
      ['one', { address: '10.0.0.1', port: 4000, family: 'IPv4' }],
      ['two', { address: '10.0.0.1', port: 4000, family: 'IPv4' }],
    ]);
    expect(net.stats()).toMatchObject({ delivered: 2, dropped: 0, endpoints: 2 });
  });

  it('gives IPv6 literals the IPv6 family', () => {
    const net = new MemoryNetwork();
    expect(net.bind({ address: '::1', port: 5 }).address.family).toBe('IPv6');
  });

  it('drops datagrams to unbound addresses silently', async () => {
    const net = new MemoryNetwork();
    const a = net.bind();
    const errors = vi.fn();
    a.on('error', errors);
    a.send(enc.encode('nobody'), { address: '127.0.0.1', port: 9 });
    await settle();
    expect(errors).not.toHaveBeenCalled();
    expect(net.stats().dropped).toBe(1);
  });

  it('oversize and invalid sends emit coded error events instead of throwing', async () => {
    const net = new MemoryNetwork({ maxDatagramSize: 100 });
    const a = net.bind();
    const b = net.bind();
    const codes: string[] = [];
    a.on('error', (e) => codes.push((e as GhostnetError).code));
    const received = vi.fn();
    b.on('message', received);
    expect(() => a.send(new Uint8Array(101), b.address)).not.toThrow();
    a.send(new Uint8Array(1), { address: '127.0.0.1', port: 0 });
    a.send(new Uint8Array(100), b.address);
    await settle();
    expect(codes).toEqual(['GN_ERR_DATAGRAM_TOO_LARGE', 'GN_ERR_DATAGRAM_SEND']);
    expect(received).toHaveBeenCalledTimes(1);
  });

  it('drops beyond maxQueued undelivered datagrams per endpoint', async () => {
    const net = new MemoryNetwork({ maxQueued: 3 });
    const a = net.bind();
    const b = net.bind();
    const received = vi.fn();
    b.on('message', received);
    for (let i = 0; i < 5; i += 1) a.send(new Uint8Array([i]), b.address);
    expect(b.queued).toBe(3);
    await settle();
    expect(received).toHaveBeenCalledTimes(3);
    expect(net.stats().dropped).toBe(2);
    // A per-endpoint bound overrides the network's.
    const c = net.bind({ maxQueued: 1 });
    a.send(new Uint8Array([1]), c.address);
    a.send(new Uint8Array([2]), c.address);
    expect(c.queued).toBe(1);
    expect(net.stats().dropped).toBe(3);
  });

  it('rejects a second bind of the same address with BindError, and frees it on close', async () => {
    const net = new MemoryNetwork();
    const a = net.bind({ port: 7000 });
    expect(() => net.bind({ port: 7000 })).toThrow(BindError);
    await a.close();
    expect(net.bind({ port: 7000 }).address.port).toBe(7000);
  });

  it('after close: close event once, sends emit GN_ERR_ENDPOINT_CLOSED, nothing is received', async () => {
    const net = new MemoryNetwork();
    const a = net.bind();
    const b = net.bind();
    const closeSpy = vi.fn();
    b.on('close', closeSpy);
    const received = vi.fn();
    b.on('message', received);
    a.send(enc.encode('in flight'), b.address);
    const p1 = b.close();
    const p2 = b.close();
    await Promise.all([p1, p2]);
    expect(closeSpy).toHaveBeenCalledTimes(1);
    const codes: string[] = [];
    b.on('error', (e) => codes.push((e as GhostnetError).code));
    b.send(enc.encode('x'), a.address);
    await settle();
    expect(codes).toEqual(['GN_ERR_ENDPOINT_CLOSED']);
    expect(received).not.toHaveBeenCalled();
  });

  it('a filter can drop datagrams (partition)', async () => {
    const net = new MemoryNetwork({
      filter: (d: MemoryDatagram) => d.to.address !== '10.0.0.9',
    });
    const a = net.bind({ address: '10.0.0.1' });
    const b = net.bind({ address: '10.0.0.9' });
    const c = net.bind({ address: '10.0.0.3' });
    const atB = vi.fn();
    const atC = vi.fn();
    b.on('message', atB);
    c.on('message', atC);
    a.send(new Uint8Array([1]), b.address);
    a.send(new Uint8Array([2]), c.address);
    await settle();
    expect(atB).not.toHaveBeenCalled();
    expect(atC).toHaveBeenCalledTimes(1);
  });

  it('a subclass can override transmit to hold datagrams (simulator hook)', async () => {
    class HeldNetwork extends MemoryNetwork {
      readonly held: MemoryDatagram[] = [];
      protected override transmit(d: MemoryDatagram): void {
        this.held.push(d);
      }
    }
    const net = new HeldNetwork();
    const a = net.bind();
    const b = net.bind();
    const received = vi.fn();
    b.on('message', received);
    a.send(enc.encode('later'), b.address);
    await settle();
    expect(received).not.toHaveBeenCalled();
    expect(net.held).toHaveLength(1);
    expect(net.deliver(net.held[0] as MemoryDatagram)).toBe(true);
    await settle();
    expect(received).toHaveBeenCalledTimes(1);
  });

  it('a ping-pong between endpoints does not loop inside one flush', async () => {
    const net = new MemoryNetwork();
    const a = net.bind();
    const b = net.bind();
    let count = 0;
    b.on('message', (data, from) => {
      count += 1;
      if (count < 50) b.send(data, from);
    });
    a.on('message', (data, from) => a.send(data, from));
    a.send(new Uint8Array([0]), b.address);
    await settle(200);
    expect(count).toBe(50);
  });
});

describe('createMemoryPair under volume', () => {
  it('delivers many small chunks in order through pause/resume cycles', async () => {
    const [a, b] = createMemoryPair({ capacity: 1000, maxBuffered: 1_000_000 });
    const received: number[] = [];
    b.on('data', (c) => {
      for (const byte of c) received.push(byte);
    });
    b.pause();
    for (let i = 0; i < 5000; i += 1) a.write(new Uint8Array([i % 251]));
    await settle();
    expect(received).toHaveLength(0);
    b.resume();
    await settle();
    expect(received).toHaveLength(5000);
    expect(received.every((v, i) => v === i % 251)).toBe(true);
  });
});
