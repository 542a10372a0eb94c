/**
 * A client core and a server core linked in memory with a fake clock (h11 ConnectionPair,
 * quinn Pair::drive()). The "transport" is a pair of byte queues; `drive` moves output
 * until both are quiet, optionally delivering in small pieces.
 */
import { describe, expect, it } from 'vitest';
import { WebSocketConnection } from '../../../src/protocols/websocket/connection.js';
import type {
  WebSocketConnectionOptions,
  WsEvent,
} from '../../../src/protocols/websocket/connection.js';
import { concatBytes, fixedMasks, plain, toHex, utf8 } from './helpers.js';

class Pair {
  now = 0;
  readonly client: WebSocketConnection;
  readonly server: WebSocketConnection;
  readonly clientEvents: WsEvent[] = [];
  readonly serverEvents: WsEvent[] = [];
  /** Transport open in each direction (client→server, server→client). */
  open = true;
  /** When set, the server side stops reading (an unresponsive peer). */
  serverDeaf = false;

  constructor(
    opts: { client?: WebSocketConnectionOptions; server?: WebSocketConnectionOptions } = {},
    readonly piece = Infinity,
  ) {
    this.client = new WebSocketConnection(
      { role: 'client', now: 0, randomMask: fixedMasks() },
      opts.client,
    );
    this.server = new WebSocketConnection({ role: 'server', now: 0 }, opts.server);
  }

  #deliver(bytes: Uint8Array, to: WebSocketConnection, sink: WsEvent[]) {
    for (let i = 0; i < bytes.length; i += this.piece) {
      sink.push(...to.receive(bytes.slice(i, Math.min(bytes.length, i + this.piece)), this.now));
    }
  }

  drive(): void {
    for (let rounds = 0; rounds < 100; rounds++) {
      const c2s = concatBytes(this.client.takeOutput());
      const s2c = concatBytes(this.server.takeOutput());
      if (!this.open || (c2s.length === 0 && s2c.length === 0)) break;
      if (!this.serverDeaf) this.#deliver(c2s, this.server, this.serverEvents);
      this.#deliver(s2c, this.client, this.clientEvents);
    }
    if (this.open && (this.server.shouldCloseTransport || this.client.shouldCloseTransport)) {
      this.open = false;
      this.serverEvents.push(...this.server.handleTransportClose());
      this.clientEvents.push(...this.client.handleTransportClose());
    }
  }

  /** Advance the fake clock to `t`, firing every deadline on the way. */
  advance(t: number): void {
    for (let guard = 0; guard < 10_000; guard++) {
      const next = [this.client.nextTimeout(), this.server.nextTimeout()]
        .filter((x): x is number => x !== undefined && x <= t)
        .sort((a, b) => a - b)[0];
      if (next === undefined) break;
      this.now = next;
      this.clientEvents.push(...this.client.handleTimeout(next));
      this.serverEvents.push(...this.server.handleTimeout(next));
      this.drive();
    }
    this.now = t;
  }
}

const types = (ev: WsEvent[]) => ev.map((e) => e.type);

describe('client core ⇄ server core', () => {
  for (const piece of [Infinity, 7, 1]) {
    it(`messages both ways, fragmented and not, pieces of ${piece}`, () => {
      const p = new Pair({ client: { maxOutgoingFrameSize: 5 } }, piece);
      const big = Uint8Array.from({ length: 70_000 }, (_, i) => i & 0xff);
      p.client.sendText('héllo wörld €');
      p.server.send('binary', big);
      p.client.ping(utf8('hb'));
      p.drive();
      expect(plain(p.serverEvents)).toEqual([
        { type: 'message', opcode: 'text', compressed: false, data: toHex(utf8('héllo wörld €')) },
        { type: 'ping', data: toHex(utf8('hb')) },
      ]);
      expect(plain(p.clientEvents)).toEqual([
        { type: 'message', opcode: 'binary', compressed: false, data: toHex(big) },
        { type: 'pong', data: toHex(utf8('hb')) },
      ]);
    });
  }

  it('client-initiated close handshake: server closes the transport first', () => {
    const p = new Pair();
    p.client.close(1000, 'done');
    p.drive();
    expect(plain(p.serverEvents)).toEqual([
      { type: 'close-received', code: 1000, reason: 'done' },
      { type: 'closed', code: 1000, reason: 'done', wasClean: true },
    ]);
    expect(plain(p.clientEvents)).toEqual([
      { type: 'close-received', code: 1000, reason: '' },
      { type: 'closed', code: 1000, reason: '', wasClean: true },
    ]);
    expect(p.open).toBe(false);
  });

  it('server-initiated close', () => {
    const p = new Pair();
    p.server.close(1001);
    p.drive();
    expect(types(p.clientEvents)).toEqual(['close-received', 'closed']);
    expect(types(p.serverEvents)).toEqual(['close-received', 'closed']);
    expect(p.server.state).toBe('closed');
    expect(p.open).toBe(false);
  });

  it('heartbeat keeps a live connection open over many intervals', () => {
    const p = new Pair({ server: { pingIntervalMs: 1000, pongTimeoutMs: 500 } });
    p.advance(10_500);
    expect(p.server.state).toBe('open');
    expect(types(p.clientEvents).filter((t) => t === 'ping')).toHaveLength(10);
    expect(types(p.serverEvents).filter((t) => t === 'pong')).toHaveLength(10);
  });

  it('heartbeat times out when the peer stops answering', () => {
    const p = new Pair({ server: { pingIntervalMs: 1000, pongTimeoutMs: 500 } });
    p.advance(1200);
    expect(p.server.state).toBe('open');
    p.client.ping(); // the client keeps talking but stops answering pings:
    p.drive();
    const originalReceive = p.client.receive.bind(p.client);
    p.client.receive = () => [];
    p.advance(2600);
    p.client.receive = originalReceive;
    expect(plain(p.serverEvents).slice(-3)).toEqual([
      { type: 'timeout', reason: 'pong' },
      { type: 'error', kind: 'PONG_TIMEOUT', wireCode: 1006 },
      { type: 'closed', code: 1006, reason: '', wasClean: false },
    ]);
    expect(p.open).toBe(false);
    expect(plain(p.clientEvents).at(-1)).toEqual({
      type: 'closed',
      code: 1006,
      reason: '',
      wasClean: false,
    });
  });

  it('close handshake timeout when the peer never answers the Close', () => {
    const p = new Pair({ client: { closeTimeoutMs: 3000 } });
    p.serverDeaf = true;
    p.client.close(1000);
    p.drive();
    expect(p.client.state).toBe('closing');
    p.advance(2999);
    expect(p.client.state).toBe('closing');
    p.advance(3000);
    expect(types(p.clientEvents)).toEqual(['timeout', 'error', 'closed']);
    expect(p.open).toBe(false);
  });

  it('a protocol error on one side closes both with the code', () => {
    const p = new Pair();
    // Inject an unmasked frame into the server: a broken client.
    p.serverEvents.push(...p.server.receive(Uint8Array.of(0x81, 0x00), 0));
    p.drive();
    expect(plain(p.serverEvents)[0]).toEqual({
      type: 'error',
      kind: 'UNMASKED_FRAME',
      wireCode: 1002,
    });
    expect(plain(p.clientEvents)).toEqual([
      { type: 'close-received', code: 1002, reason: '' },
      { type: 'closed', code: 1002, reason: '', wasClean: true },
    ]);
  });
});
