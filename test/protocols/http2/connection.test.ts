import { describe, expect, it } from 'vitest';
import {
  CLIENT_PREFACE,
  ErrorCode,
  Flag,
  FrameType,
  MAX_STREAM_ID,
  SettingId,
} from '../../../src/protocols/http2/codes.js';
import type { Http2Connection } from '../../../src/protocols/http2/connection.js';
import { Http2ConnectionError } from '../../../src/protocols/http2/errors.js';
import {
  STREAM_TRANSITIONS,
  localOpen,
  remoteOpen,
  transition,
} from '../../../src/protocols/http2/state.js';
import type { StreamInput, StreamState } from '../../../src/protocols/http2/state.js';
import type { Http2Stream } from '../../../src/protocols/http2/stream.js';
import {
  GET,
  Pair,
  Raw,
  continuationFrame,
  dataFrame,
  frameNames as describeFrames,
  frame,
  goawayOf,
  headersFrame,
  hpackLiteral,
  goawayFrame,
  makeCore,
  parseFrames,
  pattern,
  pingFrame,
  priorityUpdateFrame,
  requestBlock,
  rstCode,
  rstFrame,
  settingsFrame,
  settingsOf,
  wuFrame,
} from './pair.js';
import type { Ev, Hooks } from './pair.js';

const text = (b: Uint8Array | string): Buffer => Buffer.from(b);

function get(client: Http2Connection, path = '/', endStream = true): Http2Stream {
  return client.request(
    [':method', ':scheme', ':authority', ':path'],
    ['GET', 'https', 'example.test', path],
    endStream,
  );
}

function post(client: Http2Connection, path = '/up'): Http2Stream {
  return client.request(
    [':method', ':scheme', ':authority', ':path', 'content-type'],
    ['POST', 'https', 'example.test', path, 'text/plain'],
    false,
  );
}

/** Frames of a single kind with their code/increments, for compact assertions. */
const goaways = (frames: ReturnType<typeof parseFrames>) =>
  frames.filter((f) => f.type === FrameType.GOAWAY).map(goawayOf);
const rsts = (frames: ReturnType<typeof parseFrames>) =>
  frames.filter((f) => f.type === FrameType.RST_STREAM).map((f) => [f.streamId, rstCode(f)]);

describe('SETTINGS exchange (RFC 9113 §3.4, §6.5)', () => {
  it('exchanges SETTINGS, acknowledges them and applies the peer values', () => {
    const p = new Pair({
      server: { maxConcurrentStreams: 7, initialWindowSize: 100000, enableConnectProtocol: true },
      client: { maxHeaderListSize: 20000 },
    });
    expect(p.client.ready).toBe(false);
    expect(p.client.nextDeadline()).toBe(10000);
    expect(p.server.nextDeadline()).toBe(10000);
    p.drive();
    expect(p.client.ready && p.server.ready).toBe(true);
    const cs = p.c.of('settings');
    expect(cs).toHaveLength(1);
    expect(cs[0]!.settings).toMatchObject({
      maxConcurrentStreams: 7,
      initialWindowSize: 100000,
      enableConnectProtocol: true,
      noRfc7540Priorities: true,
    });
    expect(p.s.of('settings')[0]!.settings).toMatchObject({
      enablePush: false,
      maxHeaderListSize: 20000,
      initialWindowSize: 262144,
    });
    // ACKs arrived: no SETTINGS_TIMEOUT pending.
    expect(p.client.nextDeadline()).toBeUndefined();
    expect(p.server.nextDeadline()).toBeUndefined();

    // The client's preface: SETTINGS (ENABLE_PUSH=0 first), the connection window, the ACK.
    const cf = p.clientFrames();
    expect(describeFrames(cf)).toEqual(['SETTINGS:0', 'WINDOW_UPDATE:0', 'SETTINGS:0']);
    expect([...settingsOf(cf[0]!).entries()][0]).toEqual([SettingId.ENABLE_PUSH, 0]);
    expect(cf[2]!.flags).toBe(Flag.ACK);
    expect(cf[1]!.payload.readUInt32BE(0)).toBe(1048576 - 65535);
    expect(Buffer.concat(p.c2s).subarray(0, 24).equals(CLIENT_PREFACE)).toBe(true);
    const sf = p.serverFrames();
    expect(settingsOf(sf[0]!).get(SettingId.ENABLE_CONNECT_PROTOCOL)).toBe(1);
    expect(settingsOf(sf[0]!).get(SettingId.NO_RFC7540_PRIORITIES)).toBe(1);
  });

  it('fails with SETTINGS_TIMEOUT when the peer never acknowledges (§6.5.3)', () => {
    const { conn, rec } = makeCore('client', { limits: { settingsTimeoutMs: 500 }, now: 100 });
    conn.takeOutput();
    expect(conn.nextDeadline()).toBe(600);
    conn.handleTimeout(599);
    expect(conn.dead).toBe(false);
    conn.handleTimeout(600);
    expect(conn.dead).toBe(true);
    expect(rec.of('connection-error')).toEqual([
      {
        type: 'connection-error',
        wireCode: ErrorCode.SETTINGS_TIMEOUT,
        code: 'GN_ERR_H2_SETTINGS_TIMEOUT',
        initiator: 'library',
      },
    ]);
    expect(goaways(parseFrames(conn.takeOutput()))).toMatchObject([
      { code: ErrorCode.SETTINGS_TIMEOUT },
    ]);
  });

  it('still times out when the peer sent its SETTINGS but no ACK', () => {
    const r = new Raw('server');
    r.feed(CLIENT_PREFACE, settingsFrame());
    expect(describeFrames(r.out())).toEqual(['SETTINGS:0', 'WINDOW_UPDATE:0', 'SETTINGS:0']);
    r.conn.handleTimeout(10000);
    expect(goaways(r.out())).toMatchObject([{ code: ErrorCode.SETTINGS_TIMEOUT }]);
  });

  it('rejects invalid SETTINGS values (§6.5.2)', () => {
    const cases: [[number, number][], number][] = [
      [[[SettingId.ENABLE_PUSH, 2]], ErrorCode.PROTOCOL_ERROR],
      [[[SettingId.INITIAL_WINDOW_SIZE, 2 ** 31]], ErrorCode.FLOW_CONTROL_ERROR],
      [[[SettingId.MAX_FRAME_SIZE, 16383]], ErrorCode.PROTOCOL_ERROR],
      [[[SettingId.MAX_FRAME_SIZE, 2 ** 24]], ErrorCode.PROTOCOL_ERROR],
      [[[SettingId.ENABLE_CONNECT_PROTOCOL, 2]], ErrorCode.PROTOCOL_ERROR],
    ];
    for (const [pairs, code] of cases) {
      const r = new Raw('server');
      r.feed(CLIENT_PREFACE, settingsFrame(pairs));
      expect(goaways(r.out())).toMatchObject([{ code }]);
    }
    // A server MUST NOT send ENABLE_PUSH=1.
    const c = new Raw('client');
    c.feed(settingsFrame([[SettingId.ENABLE_PUSH, 1]]));
    expect(goaways(c.out())).toMatchObject([{ code: ErrorCode.PROTOCOL_ERROR }]);
    // Unknown settings are ignored.
    const u = new Raw('server');
    u.feed(CLIENT_PREFACE, settingsFrame([[0xabc, 5]]));
    expect(u.conn.dead).toBe(false);
  });

  it('rejects SETTINGS of a bad length, on a stream, or an ACK with payload (§6.5)', () => {
    const bad = [
      frame(FrameType.SETTINGS, 0, 0, Buffer.alloc(5)),
      frame(FrameType.SETTINGS, 0, 1, Buffer.alloc(0)),
      frame(FrameType.SETTINGS, Flag.ACK, 0, Buffer.alloc(6)),
    ];
    const codes = [
      ErrorCode.FRAME_SIZE_ERROR,
      ErrorCode.PROTOCOL_ERROR,
      ErrorCode.FRAME_SIZE_ERROR,
    ];
    bad.forEach((f, i) => {
      const r = new Raw('server');
      r.handshake();
      r.feed(f);
      expect(goaways(r.out())).toMatchObject([{ code: codes[i] }]);
    });
  });
});

describe('request/response round trip', () => {
  it('carries a request, a response with body and trailers, and closes both sides', () => {
    const p = new Pair();
    p.s.hooks = {
      onRequest(stream) {
        p.server.sendHeaders(stream, [':status', 'content-type'], ['200', 'text/plain'], false);
        p.server.sendData(stream, text('hello '), false);
        p.server.sendData(stream, text('world'), false);
        p.server.sendTrailers(stream, ['x-checksum'], ['abc']);
      },
    };
    const s = get(p.client, '/hello?x=1');
    expect(s.id).toBe(1);
    p.drive();
    expect(p.s.of('request')).toMatchObject([
      {
        id: 1,
        endStream: true,
        head: { method: 'GET', scheme: 'https', authority: 'example.test', path: '/hello?x=1' },
      },
    ]);
    const ev = p.c.events.filter((e) => e.type !== 'settings');
    expect(ev.map((e) => e.type)).toEqual(['response', 'data', 'trailers', 'close']);
    expect(ev[0]).toMatchObject({
      id: 1,
      endStream: false,
      head: { status: 200, names: ['content-type'], values: ['text/plain'], contentLength: -1 },
    });
    expect(p.c.body(1).toString()).toBe('hello world');
    expect(ev[2]).toMatchObject({ names: ['x-checksum'], values: ['abc'] });
    expect(p.client.streamCount).toBe(0);
    expect(p.server.streamCount).toBe(0);
    expect(p.s.of('close')).toEqual([{ type: 'close', id: 1 }]);
    expect(s.state).toBe('closed');
  });

  it('delivers 1xx informational heads before the final one', () => {
    const p = new Pair();
    p.s.hooks = {
      onRequest(stream) {
        p.server.sendHeaders(stream, [':status'], ['100'], false);
        p.server.sendHeaders(stream, [':status', 'link'], ['103', '</s.css>; rel=preload'], false);
        p.server.sendHeaders(stream, [':status'], ['204'], true);
      },
    };
    get(p.client);
    p.drive();
    expect(p.c.of('response').map((e) => [e.head.status, e.endStream])).toEqual([
      [100, false],
      [103, false],
      [204, true],
    ]);
    expect(p.c.of('response')[1]!.head.names).toEqual(['link']);
    expect(p.client.streamCount).toBe(0);
  });

  it('carries request trailers and response trailers', () => {
    const p = new Pair();
    p.s.hooks = {
      onTrailers(stream) {
        p.server.sendHeaders(stream, [':status'], ['200'], false);
        p.server.sendData(stream, text('ok'), false);
        p.server.sendTrailers(stream, ['grpc-status', 'grpc-message'], ['0', 'fine']);
      },
    };
    const s = post(p.client);
    p.client.sendData(s, text('body'), false);
    p.client.sendTrailers(s, ['x-req-sum'], ['42']);
    p.drive();
    expect(p.s.events.filter((e) => e.type !== 'settings').map((e) => e.type)).toEqual([
      'request',
      'data',
      'trailers',
      'close',
    ]);
    expect(p.s.of('request')[0]!.endStream).toBe(false);
    expect(p.s.body(1).toString()).toBe('body');
    expect(p.s.of('trailers')[0]).toMatchObject({ names: ['x-req-sum'], values: ['42'] });
    expect(p.c.of('trailers')[0]).toMatchObject({
      names: ['grpc-status', 'grpc-message'],
      values: ['0', 'fine'],
    });
    expect(p.c.body(1).toString()).toBe('ok');
    // Trailers carry END_STREAM (§8.1); the DATA before them does not.
    const c2s = p.clientFrames().filter((f) => f.streamId === 1);
    expect(c2s.map((f) => [f.type, f.flags & Flag.END_STREAM])).toEqual([
      [FrameType.HEADERS, 0],
      [FrameType.DATA, 0],
      [FrameType.HEADERS, Flag.END_STREAM],
    ]);
  });

  it('splits header blocks larger than SETTINGS_MAX_FRAME_SIZE into CONTINUATION (§4.3, §6.10)', () => {
    const alnum = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
    const big = (seed: number) =>
      Array.from(pattern(40000, seed), (b) => alnum[b % alnum.length]).join('');
    const reqValue = big(1);
    const resValue = big(2);
    const p = new Pair();
    p.s.hooks = {
      onRequest(stream) {
        p.server.sendHeaders(stream, [':status', 'x-big'], ['200', resValue], true);
      },
    };
    p.client.request(
      [':method', ':scheme', ':authority', ':path', 'x-big'],
      ['GET', 'https', 'example.test', '/', reqValue],
      true,
    );
    p.drive();
    expect(p.s.of('request')[0]!.head.values).toEqual([reqValue]);
    expect(p.c.of('response')[0]!.head.values).toEqual([resValue]);
    for (const frames of [p.clientFrames(), p.serverFrames()]) {
      const i = frames.findIndex((f) => f.type === FrameType.HEADERS);
      const block = frames.slice(i).filter((f) => f.streamId === 1);
      expect(block[0]!.flags & Flag.END_HEADERS).toBe(0);
      expect(block[0]!.flags & Flag.END_STREAM).toBe(Flag.END_STREAM);
      // Contiguous: HEADERS then only CONTINUATION frames up to END_HEADERS.
      let j = i + 1;
      for (; frames[j]!.type === FrameType.CONTINUATION; j++) {
        expect(frames[j]!.payload.length).toBeLessThanOrEqual(16384);
        if (frames[j]!.flags & Flag.END_HEADERS) break;
      }
      expect(frames[j]!.type).toBe(FrameType.CONTINUATION);
      expect(frames[j]!.flags).toBe(Flag.END_HEADERS);
      expect(j - i).toBeGreaterThanOrEqual(1);
      expect(frames[i]!.payload.length).toBe(16384);
    }
  });
});

// ----------------------------------------------------------------- DESIGN §2: any split

/** Every way to cut `wire`: whole, at every byte in two pieces, one byte at a time. */
function* splits(wire: Buffer, step = 1): Generator<Uint8Array[]> {
  yield [wire];
  yield Array.from(wire, (b) => Uint8Array.of(b));
  for (let i = 1; i < wire.length; i += step) yield [wire.subarray(0, i), wire.subarray(i)];
}

function serverApp(get: () => Http2Connection): Hooks {
  const respond = (stream: Http2Stream) => {
    const s = get();
    s.sendHeaders(stream, [':status'], ['103'], false);
    s.sendHeaders(stream, [':status', 'content-type'], ['200', 'text/plain'], false);
    s.sendData(stream, text(`reply to ${stream.id}`), false);
    s.sendTrailers(stream, ['x-done'], ['1']);
  };
  return {
    onRequest(stream, _head, end) {
      if (end) respond(stream);
    },
    onTrailers: respond,
    onData(stream, _chunk, end) {
      if (end) respond(stream);
    },
  };
}

function clientIntents(c: Http2Connection): void {
  get(c, '/one');
  const s = post(c);
  c.sendData(s, text('abc'), false);
  c.sendTrailers(s, ['x-sum'], ['3']);
  const t = post(c, '/two');
  c.sendData(t, text('xyz'), true);
  c.ping(Buffer.from('01234567'));
}

describe('any split of the input gives the same events (DESIGN §2)', () => {
  const p = new Pair();
  p.s.hooks = serverApp(() => p.server);
  clientIntents(p.client);
  p.drive();
  const c2s = Buffer.concat(p.c2s);
  const s2c = Buffer.concat(p.s2c);

  it('the recorded exchange is complete', () => {
    expect(p.c.of('trailers')).toHaveLength(3);
    expect(p.s.of('request')).toHaveLength(3);
    expect(p.c.of('ping-ack')).toHaveLength(1);
  });

  it('server: whole, split at every byte, and byte by byte', () => {
    const run = (pieces: Uint8Array[]) => {
      const { conn, rec } = makeCore('server');
      rec.hooks = serverApp(() => conn);
      for (const piece of pieces) conn.receive(piece, 0);
      return { events: rec.events, out: Buffer.concat(conn.takeOutput()).toString('hex') };
    };
    const expected = run([c2s]);
    expect(expected.events).toEqual(p.s.events);
    let n = 0;
    for (const pieces of splits(c2s)) {
      expect(run(pieces)).toEqual(expected);
      n++;
    }
    expect(n).toBe(c2s.length + 1);
  });

  it('client: whole, split at every byte, and byte by byte', () => {
    const run = (pieces: Uint8Array[]) => {
      const { conn, rec } = makeCore('client');
      clientIntents(conn);
      conn.takeOutput();
      for (const piece of pieces) conn.receive(piece, 0);
      const out = Buffer.concat(conn.takeOutput()).toString('hex');
      return { events: rec.events, out };
    };
    const expected = run([s2c]);
    expect(expected.events).toEqual(p.c.events);
    for (const pieces of splits(s2c)) expect(run(pieces)).toEqual(expected);
  });

  it('hand-built frames with padding, priority and CONTINUATION, at every split', () => {
    const block = requestBlock(
      [['x-long', 'v'.repeat(100)]],
      [...GET.slice(0, 3), [':path', '/p']],
    );
    const wire = Buffer.concat([
      CLIENT_PREFACE,
      settingsFrame([[SettingId.INITIAL_WINDOW_SIZE, 1000]]),
      settingsFrame([], true),
      headersFrame(1, block.subarray(0, 20), { endHeaders: false, pad: 7, dependsOn: 0 }),
      continuationFrame(1, block.subarray(20, 60), false),
      continuationFrame(1, block.subarray(60), true),
      frame(0xfa, 0xff, 0, Buffer.from('unknown frame type: ignored (§5.5)')),
      dataFrame(1, 'padded', { pad: 10 }),
      pingFrame(Buffer.from('pingpong')),
      wuFrame(0, 100),
      priorityUpdateFrame(1, 'u=1, i'),
      dataFrame(1, '', { endStream: true }),
    ]);
    const run = (pieces: Uint8Array[]) => {
      const { conn, rec } = makeCore('server');
      for (const piece of pieces) conn.receive(piece, 0);
      return { events: rec.events, out: Buffer.concat(conn.takeOutput()).toString('hex') };
    };
    const expected = run([wire]);
    expect(expected.events.map((e) => e.type)).toEqual(['settings', 'request', 'data', 'data']);
    const ev = expected.events as Ev[];
    expect(ev[1]).toMatchObject({ head: { path: '/p', values: ['v'.repeat(100)] } });
    expect(ev[2]).toMatchObject({ data: Buffer.from('padded'), endStream: false });
    expect(ev[3]).toMatchObject({ data: Buffer.alloc(0), endStream: true });
    for (const pieces of splits(wire)) expect(run(pieces)).toEqual(expected);
  });
});

// ----------------------------------------------------------------- stream states

describe('stream states (§5.1, state.ts)', () => {
  it('the table holds exactly the RFC transitions (push states excluded)', () => {
    const expected: Record<StreamState, Partial<Record<StreamInput, StreamState>>> = {
      idle: { 'send-headers': 'open', 'recv-headers': 'open' },
      open: {
        'send-headers': 'open',
        'recv-headers': 'open',
        'send-end-stream': 'half-closed-local',
        'recv-end-stream': 'half-closed-remote',
        'send-reset': 'closed',
        'recv-reset': 'closed',
      },
      'half-closed-local': {
        'recv-headers': 'half-closed-local',
        'recv-end-stream': 'closed',
        'send-reset': 'closed',
        'recv-reset': 'closed',
      },
      'half-closed-remote': {
        'send-headers': 'half-closed-remote',
        'send-end-stream': 'closed',
        'send-reset': 'closed',
        'recv-reset': 'closed',
      },
      closed: {},
    };
    expect(STREAM_TRANSITIONS).toEqual(expected);
    expect(transition('idle', 'send-reset')).toBeUndefined(); // §6.4: never RST an idle stream
    expect(transition('half-closed-local', 'send-end-stream')).toBeUndefined();
    expect(transition('closed', 'recv-headers')).toBeUndefined();
    const states: StreamState[] = [
      'idle',
      'open',
      'half-closed-local',
      'half-closed-remote',
      'closed',
    ];
    expect(states.filter(remoteOpen)).toEqual(['open', 'half-closed-local']);
    expect(states.filter(localOpen)).toEqual(['open', 'half-closed-remote']);
  });

  it('moves a stream idle → open → half-closed → closed on both sides', () => {
    const p = new Pair();
    let serverStream: Http2Stream | undefined;
    p.s.hooks = {
      onRequest(stream) {
        serverStream = stream;
      },
    };
    p.drive();
    const s = post(p.client);
    expect(s.state).toBe('open');
    p.drive();
    expect(serverStream!.state).toBe('open');
    p.client.sendData(s, text('x'), true);
    p.drive();
    expect(s.state).toBe('half-closed-local');
    expect(serverStream!.state).toBe('half-closed-remote');
    p.server.sendHeaders(serverStream!, [':status'], ['200'], false);
    p.drive();
    expect(s.state).toBe('half-closed-local');
    p.server.sendData(serverStream!, text('y'), true);
    p.drive();
    expect(serverStream!.state).toBe('closed');
    expect(s.state).toBe('closed');
    expect(p.client.getStream(1)).toBeUndefined();
    expect(p.server.getStream(1)).toBeUndefined();
  });

  it('remembers closed streams: STREAM_CLOSED after END_STREAM, silence after our reset', () => {
    const r = new Raw('server', {
      hooks: {
        onRequest(stream) {
          if (stream.id === 1) r.conn.sendHeaders(stream, [':status'], ['200'], true);
          else r.conn.resetStream(stream, ErrorCode.CANCEL);
        },
      },
    });
    r.handshake();
    r.feed(headersFrame(1, requestBlock(), { endStream: true }), headersFrame(3, requestBlock()));
    expect(rsts(r.out())).toEqual([[3, ErrorCode.CANCEL]]);
    expect(r.rec.of('close').map((e) => e.id)).toEqual([1, 3]);
    // Closed normally: DATA is a stream error STREAM_CLOSED (§5.1, §6.1).
    r.feed(dataFrame(1, 'late'));
    expect(rsts(r.out())).toEqual([[1, ErrorCode.STREAM_CLOSED]]);
    // Closed by our RST_STREAM: frames in flight are ignored (§5.1).
    r.feed(dataFrame(3, 'in flight'), headersFrame(3, requestBlock(), { endStream: true }));
    r.feed(wuFrame(3, 10), rstFrame(3, ErrorCode.CANCEL));
    expect(r.out()).toEqual([]);
    // WINDOW_UPDATE and RST_STREAM on a stream closed by END_STREAM are fine too.
    r.feed(wuFrame(1, 10), rstFrame(1, ErrorCode.CANCEL));
    expect(r.out()).toEqual([]);
    expect(r.conn.dead).toBe(false);
    // Frames on idle streams are connection errors (§5.1).
    r.feed(dataFrame(5, 'idle'));
    expect(goaways(r.out())).toMatchObject([{ code: ErrorCode.PROTOCOL_ERROR, last: 3 }]);
  });

  it('after forgetting a closed stream, reusing its id is a connection error (§5.1.1)', () => {
    const r = new Raw('server', {
      limits: { closedStreamMemory: 1 },
      hooks: {
        onRequest(stream) {
          r.conn.sendHeaders(stream, [':status'], ['200'], true);
        },
      },
    });
    r.handshake();
    r.feed(
      headersFrame(1, requestBlock(), { endStream: true }),
      headersFrame(3, requestBlock(), { endStream: true }),
    );
    r.out();
    r.feed(headersFrame(1, requestBlock(), { endStream: true }));
    expect(goaways(r.out())).toMatchObject([{ code: ErrorCode.PROTOCOL_ERROR }]);
  });

  it('answers connection-level violations with GOAWAY', () => {
    const cases: [string, Buffer[], number][] = [
      ['HEADERS on stream 0 (§6.2)', [headersFrame(0, requestBlock())], ErrorCode.PROTOCOL_ERROR],
      ['DATA on stream 0 (§6.1)', [dataFrame(0, 'x')], ErrorCode.PROTOCOL_ERROR],
      [
        'even stream from a client (§5.1.1)',
        [headersFrame(2, requestBlock())],
        ErrorCode.PROTOCOL_ERROR,
      ],
      [
        'decreasing stream id (§5.1.1)',
        [headersFrame(5, requestBlock()), headersFrame(3, requestBlock())],
        ErrorCode.PROTOCOL_ERROR,
      ],
      [
        'PUSH_PROMISE from a client (§8.4)',
        [frame(FrameType.PUSH_PROMISE, 4, 1, Buffer.alloc(4))],
        ErrorCode.PROTOCOL_ERROR,
      ],
      [
        'CONTINUATION without HEADERS (§6.10)',
        [continuationFrame(1, requestBlock(), true)],
        ErrorCode.PROTOCOL_ERROR,
      ],
      [
        'another frame inside a header block (§6.10)',
        [headersFrame(1, requestBlock(), { endHeaders: false }), pingFrame(Buffer.alloc(8))],
        ErrorCode.PROTOCOL_ERROR,
      ],
      [
        'CONTINUATION for another stream (§6.10)',
        [
          headersFrame(1, requestBlock(), { endHeaders: false }),
          continuationFrame(3, Buffer.alloc(0), true),
        ],
        ErrorCode.PROTOCOL_ERROR,
      ],
      ['RST_STREAM on an idle stream (§6.4)', [rstFrame(1, 0)], ErrorCode.PROTOCOL_ERROR],
      ['RST_STREAM on stream 0 (§6.4)', [rstFrame(0, 0)], ErrorCode.PROTOCOL_ERROR],
      [
        'RST_STREAM of length 3 (§6.4)',
        [frame(FrameType.RST_STREAM, 0, 1, Buffer.alloc(3))],
        ErrorCode.FRAME_SIZE_ERROR,
      ],
      [
        'PING of length 7 (§6.7)',
        [frame(FrameType.PING, 0, 0, Buffer.alloc(7))],
        ErrorCode.FRAME_SIZE_ERROR,
      ],
      [
        'PING on a stream (§6.7)',
        [frame(FrameType.PING, 0, 1, Buffer.alloc(8))],
        ErrorCode.PROTOCOL_ERROR,
      ],
      [
        'GOAWAY on a stream (§6.8)',
        [frame(FrameType.GOAWAY, 0, 1, Buffer.alloc(8))],
        ErrorCode.PROTOCOL_ERROR,
      ],
      [
        'WINDOW_UPDATE of length 3 (§6.9)',
        [frame(FrameType.WINDOW_UPDATE, 0, 0, Buffer.alloc(3))],
        ErrorCode.FRAME_SIZE_ERROR,
      ],
      ['WINDOW_UPDATE 0 on the connection (§6.9)', [wuFrame(0, 0)], ErrorCode.PROTOCOL_ERROR],
      ['WINDOW_UPDATE on an idle stream (§5.1)', [wuFrame(1, 1)], ErrorCode.PROTOCOL_ERROR],
      [
        'PRIORITY on stream 0 (§6.3)',
        [frame(FrameType.PRIORITY, 0, 0, Buffer.alloc(5))],
        ErrorCode.PROTOCOL_ERROR,
      ],
      [
        'HEADERS padding too long (§6.2)',
        [frame(FrameType.HEADERS, 0x0c, 1, Buffer.from([5, 0x82]))],
        ErrorCode.PROTOCOL_ERROR,
      ],
      [
        'DATA padding too long (§6.1)',
        [headersFrame(1, requestBlock()), frame(FrameType.DATA, 0x08, 1, Buffer.from([1]))],
        ErrorCode.PROTOCOL_ERROR,
      ],
      [
        'undecodable header block (§4.3)',
        [headersFrame(1, Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]))],
        ErrorCode.COMPRESSION_ERROR,
      ],
    ];
    for (const [name, frames, code] of cases) {
      const r = new Raw('server');
      r.handshake();
      r.feed(...frames);
      expect(
        goaways(r.out()).map((g) => g.code),
        name,
      ).toEqual([code]);
      expect(r.rec.of('connection-error'), name).toHaveLength(1);
      // Dead: later input is ignored, nothing more is written.
      r.feed(pingFrame(Buffer.alloc(8)));
      expect(r.out(), name).toEqual([]);
    }
  });

  it('rejects an invalid preface and a first frame other than SETTINGS (§3.4)', () => {
    const r = new Raw('server');
    r.feed(Buffer.from('GET / HTTP/1.1\r\n\r\n'));
    expect(goaways(r.out())).toMatchObject([{ code: ErrorCode.PROTOCOL_ERROR }]);
    const r2 = new Raw('server');
    r2.feed(CLIENT_PREFACE, pingFrame(Buffer.alloc(8)));
    expect(goaways(r2.out())).toMatchObject([{ code: ErrorCode.PROTOCOL_ERROR }]);
    const c = new Raw('client');
    c.feed(settingsFrame([], true));
    expect(goaways(c.out())).toMatchObject([{ code: ErrorCode.PROTOCOL_ERROR }]);
    const c2 = new Raw('client');
    c2.feed(frame(FrameType.PUSH_PROMISE, 4, 1, Buffer.alloc(4)));
    expect(c2.conn.dead).toBe(true);
  });

  it('answers malformed messages with a stream error and keeps the connection (§8.1.1)', () => {
    const cases: [string, Buffer[], number][] = [
      [
        'uppercase name',
        [headersFrame(1, requestBlock([['X-A', '1']]), { endStream: true })],
        ErrorCode.PROTOCOL_ERROR,
      ],
      [
        'missing :path',
        [headersFrame(1, hpackLiteral(GET.slice(0, 3)), { endStream: true })],
        ErrorCode.PROTOCOL_ERROR,
      ],
      [
        'content-length without DATA',
        [headersFrame(1, requestBlock([['content-length', '3']]), { endStream: true })],
        ErrorCode.PROTOCOL_ERROR,
      ],
      [
        'content-length mismatch',
        [
          headersFrame(1, requestBlock([['content-length', '3']])),
          dataFrame(1, 'ab', { endStream: true }),
        ],
        ErrorCode.PROTOCOL_ERROR,
      ],
      [
        'DATA beyond content-length',
        [headersFrame(1, requestBlock([['content-length', '1']])), dataFrame(1, 'ab')],
        ErrorCode.PROTOCOL_ERROR,
      ],
      [
        'trailers without END_STREAM',
        [headersFrame(1, requestBlock()), headersFrame(1, hpackLiteral([['x', 'y']]))],
        ErrorCode.PROTOCOL_ERROR,
      ],
      [
        'pseudo-header in trailers',
        [
          headersFrame(1, requestBlock()),
          headersFrame(1, hpackLiteral([[':path', '/']]), { endStream: true }),
        ],
        ErrorCode.PROTOCOL_ERROR,
      ],
      [
        'DATA after END_STREAM',
        [headersFrame(1, requestBlock(), { endStream: true }), dataFrame(1, 'x')],
        ErrorCode.STREAM_CLOSED,
      ],
      [
        'self-dependency (§5.3.1)',
        [headersFrame(1, requestBlock(), { dependsOn: 1 })],
        ErrorCode.PROTOCOL_ERROR,
      ],
      [
        'WINDOW_UPDATE 0 on a stream (§6.9)',
        [headersFrame(1, requestBlock()), wuFrame(1, 0)],
        ErrorCode.PROTOCOL_ERROR,
      ],
    ];
    for (const [name, frames, code] of cases) {
      const r = new Raw('server');
      r.handshake();
      r.feed(...frames);
      expect(rsts(r.out()), name).toEqual([[1, code]]);
      expect(r.conn.dead, name).toBe(false);
      // The connection still serves requests.
      r.feed(headersFrame(3, requestBlock(), { endStream: true }));
      expect(r.rec.of('request').at(-1)?.id, name).toBe(3);
    }
  });

  it('client: rejects malformed responses with a stream error', () => {
    const cases: [string, Buffer[], number][] = [
      [
        'missing :status',
        [headersFrame(1, hpackLiteral([['x', 'y']]), { endStream: true })],
        ErrorCode.PROTOCOL_ERROR,
      ],
      [
        '1xx with END_STREAM (§8.1)',
        [headersFrame(1, hpackLiteral([[':status', '103']]), { endStream: true })],
        ErrorCode.PROTOCOL_ERROR,
      ],
      [
        '101 (§8.6)',
        [headersFrame(1, hpackLiteral([[':status', '101']]))],
        ErrorCode.PROTOCOL_ERROR,
      ],
      ['DATA before the head (§8.1)', [dataFrame(1, 'x')], ErrorCode.PROTOCOL_ERROR],
    ];
    for (const [name, frames, code] of cases) {
      const r = new Raw('client');
      r.handshake();
      get(r.conn);
      r.out();
      r.feed(...frames);
      expect(rsts(r.out()), name).toEqual([[1, code]]);
      expect(r.rec.of('reset'), name).toMatchObject([{ id: 1, code, initiator: 'local' }]);
    }
    // A server may not open streams (push is disabled).
    const r = new Raw('client');
    r.handshake();
    r.feed(headersFrame(2, hpackLiteral([[':status', '200']])));
    expect(goaways(r.out())).toMatchObject([{ code: ErrorCode.PROTOCOL_ERROR }]);
  });

  it('reports a peer RST_STREAM with its code and the remote initiator', () => {
    const p = new Pair();
    p.s.hooks = {
      onRequest(stream) {
        p.server.resetStream(stream, ErrorCode.INTERNAL_ERROR);
      },
    };
    get(p.client);
    p.drive();
    expect(p.c.of('reset')).toEqual([
      {
        type: 'reset',
        id: 1,
        code: ErrorCode.INTERNAL_ERROR,
        initiator: 'remote',
        errCode: undefined,
      },
    ]);
    expect(p.client.streamCount).toBe(0);
  });
});

// ----------------------------------------------------------------- PING

describe('PING (§6.7)', () => {
  it('acknowledges a PING with the same payload', () => {
    const r = new Raw('server');
    r.handshake();
    r.feed(pingFrame(Buffer.from('abcdefgh')));
    const out = r.out();
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ type: FrameType.PING, flags: Flag.ACK, streamId: 0 });
    expect(out[0]!.payload.toString()).toBe('abcdefgh');
    // An ACK is not answered.
    r.feed(pingFrame(Buffer.from('abcdefgh'), true));
    expect(r.out()).toEqual([]);
    expect(r.rec.of('ping-ack')).toEqual([
      { type: 'ping-ack', payload: Buffer.from('abcdefgh').toString('hex') },
    ]);
  });

  it('reports the ACK of our PING', () => {
    const p = new Pair();
    p.client.ping(Buffer.from('0102030405060708', 'hex'));
    p.drive();
    expect(p.c.of('ping-ack')).toEqual([{ type: 'ping-ack', payload: '0102030405060708' }]);
    expect(p.s.of('ping-ack')).toEqual([]);
  });
});

// ----------------------------------------------------------------- GOAWAY

describe('GOAWAY and graceful shutdown (§6.8)', () => {
  it('server: GOAWAY(2^31-1) and PING, then the final GOAWAY after the PING ACK', () => {
    const p = new Pair();
    get(p.client);
    p.drive();
    const before = p.serverFrames().length;
    p.server.shutdown(p.now);
    expect(p.server.goingAway).toBe(true);
    p.drive();
    const sent = p.serverFrames().slice(before);
    expect(describeFrames(sent)).toEqual(['GOAWAY:0', 'PING:0', 'GOAWAY:0']);
    expect(goawayOf(sent[0]!)).toEqual({
      last: MAX_STREAM_ID,
      code: ErrorCode.NO_ERROR,
      debug: '',
    });
    expect(goawayOf(sent[2]!)).toEqual({ last: 1, code: ErrorCode.NO_ERROR, debug: '' });
    expect(p.c.of('goaway').map((g) => g.last)).toEqual([MAX_STREAM_ID, 1]);
    // The shutdown PING's ACK is consumed, not reported.
    expect(p.s.of('ping-ack')).toEqual([]);
    expect(p.server.nextDeadline()).toBeUndefined();
    // Stream 1 was below the last stream id: it completes.
    expect(p.c.of('reset')).toEqual([]);
    p.server.sendHeaders(p.server.getStream(1)!, [':status'], ['200'], true);
    p.drive();
    expect(p.c.of('response')).toMatchObject([{ id: 1, endStream: true }]);
    expect(p.server.streamCount).toBe(0);
    expect(p.client.canOpenStream).toBe(false);
    expect(() => get(p.client)).toThrow(Http2ConnectionError);
  });

  it('server: the final GOAWAY follows after 1 s without a PING ACK (handleTimeout)', () => {
    const r = new Raw('server');
    r.handshake();
    r.feed(headersFrame(1, requestBlock(), { endStream: true }));
    r.now = 5000;
    r.conn.shutdown(r.now);
    const first = r.out();
    expect(describeFrames(first)).toEqual(['GOAWAY:0', 'PING:0']);
    expect(goawayOf(first[0]!).last).toBe(MAX_STREAM_ID);
    expect(r.conn.nextDeadline()).toBe(6000);
    r.conn.handleTimeout(5999);
    expect(r.out()).toEqual([]);
    r.conn.handleTimeout(6000);
    expect(goaways(r.out())).toEqual([{ last: 1, code: ErrorCode.NO_ERROR, debug: '' }]);
    expect(r.conn.nextDeadline()).toBeUndefined();
    // A late ACK changes nothing.
    r.feed(pingFrame(first[1]!.payload, true));
    expect(r.out()).toEqual([]);
  });

  it('client: streams above the last stream id are reset as retryable "goaway"', () => {
    const p = new Pair();
    get(p.client);
    p.drive();
    p.server.shutdown(p.now);
    p.advance(1000); // no ACK yet: final GOAWAY(1) queued
    // The client opens stream 3 before it sees any GOAWAY.
    const s3 = get(p.client, '/late');
    expect(s3.id).toBe(3);
    p.flushClient(); // server ignores stream 3 (§6.8)
    p.flushServer();
    expect(p.c.of('goaway').map((g) => g.last)).toEqual([MAX_STREAM_ID, 1]);
    expect(p.c.of('reset')).toEqual([
      {
        type: 'reset',
        id: 3,
        code: ErrorCode.REFUSED_STREAM,
        initiator: 'goaway',
        errCode: undefined,
      },
    ]);
    expect(p.s.of('request').map((e) => e.id)).toEqual([1]);
    expect(p.client.getStream(3)).toBeUndefined();
    expect(p.client.getStream(1)).toBeDefined();
    p.drive();
    expect(p.client.canOpenStream).toBe(false);
  });

  it('server: ignores frames on streams above the final GOAWAY and never raises its last stream id (§6.8)', () => {
    const r = new Raw('server');
    r.handshake();
    r.feed(headersFrame(1, requestBlock(), { endStream: true }));
    r.conn.shutdown(0);
    r.conn.handleTimeout(1000);
    expect(goaways(r.out()).map((g) => g.last)).toEqual([MAX_STREAM_ID, 1]);
    r.feed(headersFrame(3, requestBlock()), dataFrame(3, 'ignored'));
    expect(r.rec.of('request').map((e) => e.id)).toEqual([1]);
    expect(r.out()).toEqual([]);
    // A later connection error does not announce a higher last stream id.
    r.conn.goaway(ErrorCode.INTERNAL_ERROR, 'bye');
    expect(goaways(r.out())).toMatchObject([
      { last: 1, code: ErrorCode.INTERNAL_ERROR, debug: 'bye' },
    ]);
  });

  it('client: GOAWAY from the server stops new streams', () => {
    const r = new Raw('client');
    r.handshake();
    get(r.conn);
    get(r.conn);
    r.out();
    r.feed(goawayFrame(1, ErrorCode.NO_ERROR, 'maintenance'));
    expect(r.rec.of('goaway')).toEqual([
      { type: 'goaway', last: 1, code: 0, debug: 'maintenance' },
    ]);
    expect(r.rec.of('reset')).toMatchObject([{ id: 3, initiator: 'goaway' }]);
    expect(r.conn.canOpenStream).toBe(false);
    expect(r.conn.goingAway).toBe(true);
  });

  it('goaway(code) is a local connection error that resets every stream', () => {
    const p = new Pair();
    get(p.client);
    p.drive();
    p.server.goaway(ErrorCode.INTERNAL_ERROR, 'oops');
    expect(p.server.dead).toBe(true);
    expect(p.s.of('reset')).toMatchObject([
      { id: 1, code: ErrorCode.INTERNAL_ERROR, initiator: 'local' },
    ]);
    expect(p.s.of('connection-error')).toMatchObject([
      { wireCode: ErrorCode.INTERNAL_ERROR, initiator: 'local' },
    ]);
    p.drive();
    expect(p.c.of('goaway')).toEqual([
      { type: 'goaway', last: 1, code: ErrorCode.INTERNAL_ERROR, debug: 'oops' },
    ]);
  });
});

// ----------------------------------------------------------------- upgrade, ids, limits

describe('h2c upgrade (RFC 7540 §3.2)', () => {
  it('adopts stream 1 half-closed (remote) with the HTTP2-Settings values', () => {
    const r = new Raw('server');
    const http2Settings = settingsFrame([[SettingId.INITIAL_WINDOW_SIZE, 100]]).subarray(9);
    const s1 = r.conn.adoptUpgradeStream(http2Settings);
    expect(s1.id).toBe(1);
    expect(s1.state).toBe('half-closed-remote');
    expect(r.conn.peerSettings.initialWindowSize).toBe(100);
    expect(r.conn.lastPeerStreamId).toBe(1);
    expect(() => r.conn.adoptUpgradeStream(http2Settings)).toThrow(
      expect.objectContaining({ code: 'GN_ERR_H2_INTERNAL_ERROR' }),
    );
    r.handshake();
    r.conn.sendHeaders(s1, [':status'], ['200'], false);
    r.conn.sendData(s1, Buffer.alloc(1000, 1), true);
    const out = r.out().filter((f) => f.streamId === 1);
    expect(out.map((f) => [f.type, f.payload.length])).toEqual([
      [FrameType.HEADERS, out[0]!.payload.length],
      [FrameType.DATA, 100],
    ]);
    r.feed(wuFrame(1, 900));
    const rest = r.out();
    expect(rest.map((f) => [f.type, f.flags, f.payload.length])).toEqual([
      [FrameType.DATA, Flag.END_STREAM, 900],
    ]);
    // Stream 1 is taken: the client's next request is stream 3.
    r.feed(headersFrame(3, requestBlock(), { endStream: true }));
    expect(r.rec.of('request').map((e) => e.id)).toEqual([3]);
  });
});

describe('stream ids (§5.1.1)', () => {
  it('exhausts at 2^31-1: canOpenStream false and request() throws a coded error', () => {
    const p = new Pair({ firstStreamId: MAX_STREAM_ID });
    p.s.hooks = {
      onRequest(stream) {
        p.server.sendHeaders(stream, [':status'], ['200'], true);
      },
    };
    p.drive();
    expect(p.client.streamIdsLeft).toBe(1);
    expect(p.client.canOpenStream).toBe(true);
    const s = get(p.client);
    expect(s.id).toBe(MAX_STREAM_ID);
    expect(p.client.canOpenStream).toBe(false);
    expect(p.client.streamIdsLeft).toBe(0);
    let err: unknown;
    try {
      get(p.client);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(Http2ConnectionError);
    expect(err).toMatchObject({
      code: 'GN_ERR_H2_REFUSED_STREAM',
      wireCode: ErrorCode.REFUSED_STREAM,
      initiator: 'local',
    });
    expect((err as Error).message).toMatch(/exhausted/);
    p.drive();
    expect(p.c.of('response')).toMatchObject([{ id: MAX_STREAM_ID, head: { status: 200 } }]);
  });
});

describe('SETTINGS_MAX_CONCURRENT_STREAMS (§5.1.2)', () => {
  it('the client stops at the peer limit and resumes when a stream closes', () => {
    const p = new Pair({ server: { maxConcurrentStreams: 2 } });
    p.drive();
    const a = post(p.client);
    expect(p.client.canOpenStream).toBe(true);
    post(p.client);
    expect(p.client.canOpenStream).toBe(false);
    expect(() => post(p.client)).toThrow(
      expect.objectContaining({ code: 'GN_ERR_H2_REFUSED_STREAM' }),
    );
    p.s.hooks = {
      onData(stream, _c, end) {
        if (end) p.server.sendHeaders(stream, [':status'], ['200'], true);
      },
    };
    p.client.sendData(a, text('x'), true);
    p.drive();
    expect(a.state).toBe('closed');
    expect(p.client.canOpenStream).toBe(true);
    expect(post(p.client).id).toBe(5);
  });

  it('the server refuses streams beyond its limit with REFUSED_STREAM', () => {
    const r = new Raw('server', { limits: { maxConcurrentStreams: 1 } });
    r.handshake();
    r.feed(headersFrame(1, requestBlock()), headersFrame(3, requestBlock()));
    expect(rsts(r.out())).toEqual([[3, ErrorCode.REFUSED_STREAM]]);
    expect(r.rec.of('request').map((e) => e.id)).toEqual([1]);
    r.feed(rstFrame(1, ErrorCode.CANCEL), headersFrame(5, requestBlock()));
    expect(r.out()).toEqual([]);
    expect(r.rec.of('request').map((e) => e.id)).toEqual([1, 5]);
  });

  it('a client that opened streams before the SETTINGS arrived sees REFUSED_STREAM resets', () => {
    const p = new Pair({ server: { maxConcurrentStreams: 2 } });
    post(p.client);
    post(p.client);
    post(p.client);
    p.drive();
    expect(p.c.of('reset')).toEqual([
      {
        type: 'reset',
        id: 5,
        code: ErrorCode.REFUSED_STREAM,
        initiator: 'remote',
        errCode: undefined,
      },
    ]);
    expect(p.s.of('request').map((e) => e.id)).toEqual([1, 3]);
  });
});
