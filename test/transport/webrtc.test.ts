/**
 * WebRTC data channels through node-datachannel, with signaling over ghostnet's WebSocket:
 * two peers meet in a room, 1,000 messages arrive in order both ways, backpressure and
 * close work, and the signaling server refuses a third peer and malformed messages.
 * ICE gathers host candidates on 127.0.0.1 only.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectWebSocket } from '../../src/protocols/websocket/client.js';
import { listenHttp1 } from '../../src/protocols/http1/server.js';
import type { Http1Server } from '../../src/protocols/http1/server.js';
import {
  connectDataChannel,
  SignalingCloseCode,
  SignalingServer,
} from '../../src/p2p/webrtc/signaling.js';
import { parseWebRtcSignal, webRtcCleanup } from '../../src/transport/webrtc.js';

let http: Http1Server;
let signaling: SignalingServer;
let url: string;
const sessions: { peer: { close(): void } }[] = [];

/** connectDataChannel, remembering the session so afterAll closes it even after a failure. */
async function meet(room: string, options: Parameters<typeof connectDataChannel>[2]) {
  const session = await connectDataChannel(url, room, options);
  sessions.push(session);
  return session;
}

beforeAll(async () => {
  signaling = new SignalingServer();
  http = await listenHttp1(
    { host: '127.0.0.1', port: 0, onUpgrade: signaling.upgrade },
    (_req, res) => res.text('signaling only', 404),
  );
  url = `ws://127.0.0.1:${http.address.port}/signal`;
});

afterAll(async () => {
  for (const s of sessions) s.peer.close();
  await signaling.close();
  await http.close();
  await webRtcCleanup();
});

const local = { bindAddress: '127.0.0.1', timeoutMs: 20_000 };

describe('WebRTC data channels with WebSocket signaling', () => {
  it('two peers meet in a room; 1,000 messages arrive in order both ways', async () => {
    const [a, b] = await Promise.all([meet('room-1', local), meet('room-1', local)]);
    expect([a.role, b.role].sort()).toEqual(['answerer', 'offerer']);
    expect(a.connection.kind).toBe('webrtc');
    const pair = a.peer.selectedPair();
    expect(pair?.local).toContain('127.0.0.1');

    const receive = (conn: typeof a.connection, n: number) =>
      new Promise<string[]>((resolve) => {
        const got: string[] = [];
        conn.on('data', (chunk) => {
          got.push(new TextDecoder().decode(chunk));
          if (got.length === n) resolve(got);
        });
      });
    const atB = receive(b.connection, 1000);
    const atA = receive(a.connection, 1000);
    for (let i = 0; i < 1000; i++) {
      a.connection.write(new TextEncoder().encode(`a${i}`));
      b.connection.write(new TextEncoder().encode(`b${i}`));
    }
    expect(await atB).toEqual(Array.from({ length: 1000 }, (_, i) => `a${i}`));
    expect(await atA).toEqual(Array.from({ length: 1000 }, (_, i) => `b${i}`));
    expect(a.connection.bytesWritten).toBe(b.connection.bytesRead);

    const closed = new Promise<boolean>((r) => b.connection.once('close', (e) => r(e)));
    a.connection.end();
    expect(await closed).toBe(false);
    expect(() => a.connection.write(Uint8Array.of(1))).toThrow(/write after end/);
    a.peer.close();
    b.peer.close();
    // Both signaling sockets closed once the channel opened: the room is gone.
    for (let i = 0; i < 100 && signaling.rooms > 0; i++)
      await new Promise((r) => setTimeout(r, 20));
    expect(signaling.rooms).toBe(0);
  }, 40_000);

  it('write returns false past the high-water mark and drain follows', async () => {
    const [a, b] = await Promise.all([
      meet('room-bp', { ...local, highWaterMark: 64 * 1024 }),
      meet('room-bp', local),
    ]);
    const sender = a.role === 'offerer' ? a : b;
    const receiver = sender === a ? b : a;
    let received = 0;
    receiver.connection.on('data', (c) => (received += c.length));
    const chunk = new Uint8Array(16 * 1024);
    let writes = 0;
    while (sender.connection.write(chunk) && writes < 10_000) writes++;
    expect(writes).toBeLessThan(10_000);
    await new Promise<void>((r) => sender.connection.once('drain', () => r()));
    const total = (writes + 1) * chunk.length;
    await new Promise<void>((r) => {
      const check = setInterval(() => {
        if (received >= total) {
          clearInterval(check);
          r();
        }
      }, 10);
    });
    expect(received).toBe(total);
    expect(() =>
      sender.connection.write(new Uint8Array(sender.connection.maxMessageSize + 1)),
    ).toThrow(/exceeds/);
    a.peer.close();
    b.peer.close();
  }, 40_000);

  it('refuses a third peer (4009) and malformed messages (4000)', async () => {
    const one = await connectWebSocket(url);
    const two = await connectWebSocket(url);
    one.send(JSON.stringify({ type: 'join', room: 'full' }));
    two.send(JSON.stringify({ type: 'join', room: 'full' }));
    const third = await connectWebSocket(url);
    const code = new Promise<number>((r) => third.once('close', (c) => r(c)));
    await new Promise((r) => setTimeout(r, 100));
    third.send(JSON.stringify({ type: 'join', room: 'full' }));
    expect(await code).toBe(SignalingCloseCode.ROOM_FULL);

    const bad = await connectWebSocket(url);
    const badCode = new Promise<number>((r) => bad.once('close', (c) => r(c)));
    bad.send('not json');
    expect(await badCode).toBe(SignalingCloseCode.BAD_MESSAGE);

    const badSignal = new Promise<number>((r) => one.once('close', (c) => r(c)));
    one.send(JSON.stringify({ type: 'signal', signal: { type: 'description', sdp: 1 } }));
    expect(await badSignal).toBe(SignalingCloseCode.BAD_MESSAGE);
    two.close();
  }, 20_000);

  it('validates signals', () => {
    expect(parseWebRtcSignal({ type: 'candidate', candidate: 'a=candidate:1', mid: '0' })).toEqual({
      type: 'candidate',
      candidate: 'a=candidate:1',
      mid: '0',
    });
    expect(() => parseWebRtcSignal(null)).toThrow();
    expect(() =>
      parseWebRtcSignal({ type: 'description', sdp: 'x', sdpType: 'pranswer' }),
    ).toThrow();
    expect(() =>
      parseWebRtcSignal({ type: 'candidate', candidate: 'x'.repeat(2000), mid: '0' }),
    ).toThrow();
    expect(() => parseWebRtcSignal({ type: 'bye' })).toThrow();
  });
});
