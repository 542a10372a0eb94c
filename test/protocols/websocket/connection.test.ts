import { describe, expect, it } from 'vitest';
import { WebSocketConnection } from '../../../src/protocols/websocket/connection.js';
import { WebSocketError } from '../../../src/protocols/websocket/errors.js';
import { cf, concatBytes, hex, makeConn, plain, runAllSplits, sf, toHex, utf8 } from './helpers.js';

const HELLO = toHex(utf8('Hello'));

describe('RFC 6455 §5.7 examples through the connection', () => {
  it('client receives unmasked text, fragmented text, ping (auto pong is masked)', () => {
    const input = hex('810548656c6c6f 010348656c 80026c6f 890548656c6c6f');
    const r = runAllSplits('client', input);
    expect(r.events).toEqual([
      { type: 'message', opcode: 'text', compressed: false, data: HELLO },
      { type: 'message', opcode: 'text', compressed: false, data: HELLO },
      { type: 'ping', data: HELLO },
    ]);
    // The client's pong is masked with the first key: the RFC's masked pong example.
    expect(r.output).toBe('8a8537fa213d7f9f4d5158');
  });

  it('server receives masked text and a masked fragmented message, answers pings unmasked', () => {
    const key = hex('37fa213d');
    const input = concatBytes([
      hex('818537fa213d7f9f4d5158'),
      cf({ fin: false, opcode: 1, payload: utf8('Hel'), mask: key }),
      cf({ opcode: 9, payload: utf8('Hello') }), // control frame between fragments (§5.4)
      cf({ opcode: 0, payload: utf8('lo'), mask: key }),
    ]);
    const r = runAllSplits('server', input);
    expect(r.events).toEqual([
      { type: 'message', opcode: 'text', compressed: false, data: HELLO },
      { type: 'ping', data: HELLO },
      { type: 'message', opcode: 'text', compressed: false, data: HELLO },
    ]);
    expect(r.output).toBe('8a0548656c6c6f');
  });

  it('256-byte and 64 KiB binary messages', () => {
    for (const n of [256, 65536]) {
      const payload = Uint8Array.from({ length: n }, (_, i) => (i * 5) & 0xff);
      const r = runAllSplits('client', sf({ opcode: 2, payload }));
      expect(r.events).toEqual([
        { type: 'message', opcode: 'binary', compressed: false, data: toHex(payload) },
      ]);
      expect(runAllSplits('server', cf({ opcode: 2, payload })).events).toEqual(r.events);
    }
  });
});

describe('masking direction (§5.1)', () => {
  it('server rejects an unmasked frame with 1002', () => {
    const r = runAllSplits('server', sf({ opcode: 1, payload: utf8('hi') }));
    expect(r.events[0]).toEqual({ type: 'error', kind: 'UNMASKED_FRAME', wireCode: 1002 });
    expect(r.events[1]).toEqual({ type: 'closed', code: 1002, reason: '', wasClean: false });
    expect(r.output).toBe('880203ea');
  });
  it('client rejects a masked frame with 1002', () => {
    const r = runAllSplits('client', cf({ opcode: 1, payload: utf8('hi') }));
    expect(r.events[0]).toEqual({ type: 'error', kind: 'MASKED_FRAME', wireCode: 1002 });
    expect(r.state).toBe('closed');
  });
});

describe('sending', () => {
  it('server output above 2 KiB is header + the caller payload, no copy', () => {
    const conn = makeConn('server');
    const payload = new Uint8Array(3000);
    expect(conn.send('binary', payload)).toBe(true);
    const out = conn.takeOutput();
    expect(toHex(out[0]!)).toBe('827e0bb8');
    expect(out[1]).toBe(payload);
    expect(out).toHaveLength(2);
    expect(conn.bufferedAmount).toBe(0);
  });

  it('server output up to 2 KiB is one buffer: header then a copy of the payload', () => {
    const conn = makeConn('server');
    for (const n of [0, 5, 125, 126, 300, 2048]) {
      const payload = new Uint8Array(n).fill(0xab);
      conn.send('binary', payload);
      const out = conn.takeOutput();
      expect(out).toHaveLength(1);
      const frame = out[0]!;
      const hs = n < 126 ? 2 : 4;
      expect(frame.length).toBe(hs + n);
      expect(frame[0]).toBe(0x82);
      expect(toHex(frame.subarray(hs))).toBe(toHex(payload));
      expect(frame.buffer === payload.buffer).toBe(false);
      payload.fill(0); // the queued frame does not change with the caller's buffer
      expect(frame[hs] ?? 0xab).toBe(0xab);
    }
    expect(conn.takeOutput()).toHaveLength(0);
  });

  it('client masks into a new buffer with a fresh key per frame', () => {
    const conn = makeConn('client');
    const payload = utf8('Hello');
    conn.send('text', payload);
    conn.sendText('Hello');
    const out = conn.takeOutput();
    expect(toHex(out[0]!)).toBe('818537fa213d7f9f4d5158');
    expect(toHex(payload)).toBe(HELLO);
    expect(toHex(out[1]!.subarray(0, 2))).toBe('8185');
    expect(toHex(out[1]!.subarray(2, 6))).not.toBe('37fa213d');
  });

  it('fragments on maxOutgoingFrameSize with RSV1 only on the first frame', () => {
    const conn = makeConn('server', {
      maxOutgoingFrameSize: 2,
      extensions: { perMessageDeflate: true },
    });
    conn.send('text', utf8('Hello'), { compressed: true });
    expect(toHex(concatBytes(conn.takeOutput()))).toBe('4102486500026c6c80016f');
    // The client core reassembles it as one compressed message.
    const client = makeConn('client', { extensions: { perMessageDeflate: true } });
    const ev = plain(client.receive(hex('4102486500026c6c80016f'), 0));
    expect(ev).toEqual([{ type: 'message', opcode: 'text', compressed: true, data: HELLO }]);
  });

  it('backpressure: false at the high-water mark, bufferedAmount counts queued bytes', () => {
    const conn = makeConn('server', { highWaterMark: 100 });
    expect(conn.send('binary', new Uint8Array(50))).toBe(true);
    expect(conn.bufferedAmount).toBe(52);
    expect(conn.send('binary', new Uint8Array(50))).toBe(false);
    expect(conn.bufferedAmount).toBe(104);
    conn.takeOutput();
    expect(conn.ping()).toBe(true);
  });

  it('rejects bad arguments and sending after close', () => {
    const conn = makeConn('server');
    expect(() => conn.ping(new Uint8Array(126))).toThrow(WebSocketError);
    expect(() => conn.send('binary', new Uint8Array(1), { compressed: true })).toThrow(
      /perMessageDeflate/,
    );
    for (const code of [999, 1004, 1005, 1006, 1015, 1016, 2999, 5000]) {
      expect(() => conn.close(code)).toThrow(WebSocketError);
    }
    expect(() => conn.close(1000, 'x'.repeat(124))).toThrow(/123/);
    expect(conn.close(1000, 'bye')).toBe(true);
    expect(conn.state).toBe('closing');
    expect(toHex(concatBytes(conn.takeOutput()))).toBe('880503e8627965');
    expect(conn.close()).toBe(false);
    try {
      conn.sendText('late');
      expect.unreachable();
    } catch (e) {
      expect((e as WebSocketError).code).toBe('GN_ERR_WS_SEND_AFTER_CLOSE');
    }
    expect(conn.takeOutput()).toEqual([]);
  });

  it('validates constructor options and names the fix', () => {
    expect(() => new WebSocketConnection({ role: 'client', now: 0 })).toThrow(/randomMask/);
    expect(() => makeConn('server', { limits: { maxPayload: 0 } })).toThrow(/maxPayload/);
    expect(() => makeConn('server', { pingIntervalMs: -1 })).toThrow(/pingIntervalMs/);
  });
});

describe('ping / pong', () => {
  it('answers only the most recent of several pings before takeOutput', () => {
    const conn = makeConn('server');
    conn.receive(
      concatBytes([cf({ opcode: 9, payload: utf8('a') }), cf({ opcode: 9, payload: utf8('b') })]),
      0,
    );
    expect(toHex(concatBytes(conn.takeOutput()))).toBe('8a0162');
    expect(conn.bufferedAmount).toBe(0);
  });
  it('autoPong: false leaves pings to the application', () => {
    const conn = makeConn('server', { autoPong: false });
    expect(plain(conn.receive(cf({ opcode: 9 }), 0))).toEqual([{ type: 'ping', data: '' }]);
    expect(conn.takeOutput()).toEqual([]);
  });
});

describe('close handshake', () => {
  it('server answers a close by echoing the code and closes the transport first', () => {
    const r = runAllSplits('server', cf({ opcode: 8, payload: hex('03e8 627965') }));
    expect(r.events).toEqual([
      { type: 'close-received', code: 1000, reason: 'bye' },
      { type: 'closed', code: 1000, reason: 'bye', wasClean: true },
    ]);
    expect(r.output).toBe('880203e8');
    const conn = makeConn('server');
    conn.receive(cf({ opcode: 8 }), 0);
    expect(toHex(concatBytes(conn.takeOutput()))).toBe('8800');
    expect(conn.shouldCloseTransport).toBe(true);
  });

  it('client waits for the server to close the transport, then closes it itself', () => {
    const conn = makeConn('client', { closeTimeoutMs: 1000 });
    conn.receive(sf({ opcode: 8, payload: hex('03e8') }), 10);
    expect(conn.shouldCloseTransport).toBe(false);
    expect(conn.nextTimeout()).toBe(1010);
    expect(conn.handleTimeout(1009)).toEqual([]);
    expect(conn.shouldCloseTransport).toBe(false);
    conn.handleTimeout(1010);
    expect(conn.shouldCloseTransport).toBe(true);
    expect(conn.handleTransportClose()).toEqual([]);
    expect(conn.shouldCloseTransport).toBe(false);
  });

  it('ignores everything after the close frame, in the same input too', () => {
    const conn = makeConn('server');
    const ev = conn.receive(
      concatBytes([cf({ opcode: 8 }), cf({ opcode: 1, payload: utf8('x') })]),
      0,
    );
    expect(ev.map((e) => e.type)).toEqual(['close-received', 'closed']);
    expect(conn.receive(cf({ opcode: 9 }), 0)).toEqual([]);
  });

  it('still receives data while closing, then completes cleanly', () => {
    const conn = makeConn('server');
    conn.close(4000, 'done');
    conn.takeOutput();
    const ev = plain(
      conn.receive(
        concatBytes([
          cf({ opcode: 2, payload: hex('01') }),
          cf({ opcode: 9 }),
          cf({ opcode: 8, payload: hex('0fa0') }),
        ]),
        5,
      ),
    );
    expect(ev).toEqual([
      { type: 'message', opcode: 'binary', compressed: false, data: '01' },
      { type: 'ping', data: '' },
      { type: 'close-received', code: 4000, reason: '' },
      { type: 'closed', code: 4000, reason: '', wasClean: true },
    ]);
    expect(conn.takeOutput()).toEqual([]); // no pong and no second close after our close
  });

  it('transport loss before the handshake reports 1006', () => {
    const conn = makeConn('client');
    expect(plain(conn.handleTransportClose())).toEqual([
      { type: 'closed', code: 1006, reason: '', wasClean: false },
    ]);
  });

  it('fail() sends the code and closes (the deflate binding path)', () => {
    const conn = makeConn('server', { extensions: { perMessageDeflate: true } });
    const ev = plain(conn.receive(cf({ opcode: 1, rsv: 4, payload: hex('ff') }), 0));
    expect(ev).toEqual([{ type: 'message', opcode: 'text', compressed: true, data: 'ff' }]);
    expect(plain(conn.fail(1007, 'bad text'))).toEqual([
      { type: 'closed', code: 1007, reason: 'bad text', wasClean: false },
    ]);
    expect(toHex(concatBytes(conn.takeOutput()))).toBe('880a03ef' + toHex(utf8('bad text')));
    expect(conn.shouldCloseTransport).toBe(true);
    expect(conn.fail(1007)).toEqual([]);
  });
});

describe('heartbeat and timeouts (time as input)', () => {
  it('pings every interval and times out without a pong', () => {
    const conn = makeConn('server', { pingIntervalMs: 100, pongTimeoutMs: 50 }, 1000);
    expect(conn.nextTimeout()).toBe(1100);
    expect(conn.handleTimeout(1100)).toEqual([]);
    expect(toHex(concatBytes(conn.takeOutput()))).toBe('8900');
    expect(conn.nextTimeout()).toBe(1150);
    conn.receive(cf({ opcode: 10 }), 1120);
    expect(conn.nextTimeout()).toBe(1200);
    conn.handleTimeout(1200);
    expect(conn.takeOutput()).toHaveLength(1);
    const ev = plain(conn.handleTimeout(1250));
    expect(ev).toEqual([
      { type: 'timeout', reason: 'pong' },
      { type: 'error', kind: 'PONG_TIMEOUT', wireCode: 1006 },
      { type: 'closed', code: 1006, reason: '', wasClean: false },
    ]);
    expect(conn.shouldCloseTransport).toBe(true);
    expect(conn.takeOutput()).toEqual([]);
    expect(conn.nextTimeout()).toBeUndefined();
  });

  it('closeTimeoutMs bounds the close handshake', () => {
    const conn = makeConn('client', { closeTimeoutMs: 500 }, 0);
    conn.receive(new Uint8Array(0), 100);
    conn.close(1000);
    expect(conn.nextTimeout()).toBe(600);
    expect(plain(conn.handleTimeout(600)).map((e) => (e as { type: string }).type)).toEqual([
      'timeout',
      'error',
      'closed',
    ]);
    expect(conn.shouldCloseTransport).toBe(true);
  });
});

describe('limits → 1009', () => {
  it('maxFrameSize is checked on the header', () => {
    const conn = makeConn('server', { limits: { maxFrameSize: 10 } });
    const ev = plain(
      conn.receive(cf({ opcode: 2, payload: new Uint8Array(11) }).subarray(0, 6), 0),
    );
    expect(ev[0]).toEqual({ type: 'error', kind: 'FRAME_TOO_LARGE', wireCode: 1009 });
    expect(toHex(concatBytes(conn.takeOutput()))).toBe('880203f1');
  });
  it('maxPayload counts the whole message across fragments', () => {
    const input = concatBytes([
      cf({ fin: false, opcode: 2, payload: new Uint8Array(6) }),
      cf({ fin: false, opcode: 0, payload: new Uint8Array(4) }),
      cf({ opcode: 0, payload: new Uint8Array(1) }),
    ]);
    const r = runAllSplits('server', input, { limits: { maxPayload: 10 } });
    expect(r.events[0]).toEqual({ type: 'error', kind: 'MESSAGE_TOO_LARGE', wireCode: 1009 });
    expect(runAllSplits('server', input, { limits: { maxPayload: 11 } }).events).toHaveLength(1);
  });
  it('maxFragments counts frames, even empty ones', () => {
    const input = concatBytes([
      cf({ fin: false, opcode: 1 }),
      cf({ fin: false, opcode: 0 }),
      cf({ opcode: 0 }),
    ]);
    expect(runAllSplits('server', input, { limits: { maxFragments: 2 } }).events[0]).toEqual({
      type: 'error',
      kind: 'TOO_MANY_FRAGMENTS',
      wireCode: 1009,
    });
    expect(runAllSplits('server', input, { limits: { maxFragments: 3 } }).events).toEqual([
      { type: 'message', opcode: 'text', compressed: false, data: '' },
    ]);
  });
});

describe('permessage-deflate hook (RFC 7692 §6)', () => {
  const deflate = { extensions: { perMessageDeflate: true } };
  it('RSV1 on the first frame marks the message compressed; no UTF-8 check', () => {
    const input = concatBytes([
      cf({ fin: false, rsv: 4, opcode: 1, payload: hex('ff') }),
      cf({ opcode: 0, payload: hex('fe') }),
    ]);
    expect(runAllSplits('server', input, deflate).events).toEqual([
      { type: 'message', opcode: 'text', compressed: true, data: 'fffe' },
    ]);
  });
  it('RSV1 on a continuation or control frame → 1002', () => {
    const cont = concatBytes([cf({ fin: false, opcode: 2 }), cf({ rsv: 4, opcode: 0 })]);
    expect(runAllSplits('server', cont, deflate).events[0]).toMatchObject({
      kind: 'RESERVED_BITS',
    });
    expect(runAllSplits('server', cf({ rsv: 4, opcode: 9 }), deflate).events[0]).toMatchObject({
      kind: 'RESERVED_BITS',
      wireCode: 1002,
    });
  });
  it('without negotiation RSV1 is a protocol error', () => {
    expect(runAllSplits('server', cf({ rsv: 4, opcode: 2 })).events[0]).toMatchObject({
      kind: 'RESERVED_BITS',
    });
  });
});

describe('events', () => {
  it('are frozen', () => {
    const conn = makeConn('client');
    const [ev] = conn.receive(hex('810548656c6c6f'), 0);
    expect(Object.isFrozen(ev)).toBe(true);
  });
});
