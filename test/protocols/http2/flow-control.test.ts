import { describe, expect, it } from 'vitest';
import { ErrorCode, Flag, FrameType, SettingId } from '../../../src/protocols/http2/codes.js';
import type { Http2Connection } from '../../../src/protocols/http2/connection.js';
import type { Http2Stream } from '../../../src/protocols/http2/stream.js';
import {
  Pair,
  Raw,
  dataFrame,
  goawayOf,
  headersFrame,
  pattern,
  requestBlock,
  rstCode,
  settingsFrame,
  wuFrame,
  wuIncrement,
} from './pair.js';
import type { Frame } from './pair.js';

const dataLens = (frames: Frame[], id?: number): number[] =>
  frames
    .filter((f) => f.type === FrameType.DATA && (id === undefined || f.streamId === id))
    .map((f) => f.payload.length);
const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);
const updates = (frames: Frame[]): [number, number][] =>
  frames.filter((f) => f.type === FrameType.WINDOW_UPDATE).map((f) => [f.streamId, wuIncrement(f)]);
const rsts = (frames: Frame[]) =>
  frames.filter((f) => f.type === FrameType.RST_STREAM).map((f) => [f.streamId, rstCode(f)]);
const goaways = (frames: Frame[]) =>
  frames.filter((f) => f.type === FrameType.GOAWAY).map((f) => goawayOf(f).code);

/** A server core whose app answers each request with `bodyFor(id)` bytes. */
function responder(
  bodyFor: (id: number) => number,
  opts: ConstructorParameters<typeof Raw>[1] = {},
): Raw {
  const r: Raw = new Raw('server', {
    ...opts,
    hooks: {
      onRequest(stream) {
        r.conn.sendHeaders(stream, [':status'], ['200'], false);
        r.conn.sendData(stream, Buffer.alloc(bodyFor(stream.id), stream.id), true);
      },
    },
  });
  return r;
}

describe('sending under flow control (RFC 9113 §6.9)', () => {
  it('stops at the stream window and resumes on WINDOW_UPDATE', () => {
    const r = responder(() => 100000);
    r.handshake();
    r.feed(wuFrame(0, 1 << 20)); // the connection window is not the limit here
    r.feed(headersFrame(1, requestBlock(), { endStream: true }));
    const first = r.out();
    expect(sum(dataLens(first))).toBe(65535);
    expect(Math.max(...dataLens(first))).toBeLessThanOrEqual(16384);
    expect(first.every((f) => (f.flags & Flag.END_STREAM) === 0)).toBe(true);
    expect(r.conn.bufferedAmount(r.conn.getStream(1)!)).toBe(100000 - 65535);
    expect(r.out()).toEqual([]);
    r.feed(wuFrame(1, 10000));
    expect(dataLens(r.out())).toEqual([10000]);
    r.feed(wuFrame(1, 1 << 20));
    const last = r.out();
    expect(sum(dataLens(last))).toBe(100000 - 75535);
    expect(last.at(-1)!.flags & Flag.END_STREAM).toBe(Flag.END_STREAM);
    expect(r.conn.streamCount).toBe(0);
  });

  it('the connection window holds back every stream', () => {
    const r = responder(() => 50000);
    r.handshake([[SettingId.INITIAL_WINDOW_SIZE, 1 << 20]]);
    r.feed(
      headersFrame(1, requestBlock(), { endStream: true }),
      headersFrame(3, requestBlock(), { endStream: true }),
    );
    const first = r.out();
    expect(sum(dataLens(first))).toBe(65535);
    expect(sum(dataLens(first, 1))).toBe(50000);
    r.feed(wuFrame(0, 34465));
    const rest = r.out();
    expect(sum(dataLens(rest, 3))).toBe(50000 - 15535);
    expect(r.conn.streamCount).toBe(0);
  });

  it('applies SETTINGS_INITIAL_WINDOW_SIZE changes to open streams, also below zero (§6.9.2)', () => {
    const r = responder(() => 100000);
    r.handshake();
    r.feed(wuFrame(0, 1 << 20));
    r.feed(headersFrame(1, requestBlock(), { endStream: true }));
    expect(sum(dataLens(r.out()))).toBe(65535);
    const s = r.conn.getStream(1)!;
    expect(s.sendWindow).toBe(0);
    // 16384 - 65535: the window goes negative.
    r.feed(settingsFrame([[SettingId.INITIAL_WINDOW_SIZE, 16384]]));
    expect(s.sendWindow).toBe(16384 - 65535);
    expect(dataLens(r.out())).toEqual([]);
    r.feed(wuFrame(1, 65535 - 16384));
    expect(s.sendWindow).toBe(0);
    expect(dataLens(r.out())).toEqual([]);
    r.feed(wuFrame(1, 1000));
    expect(dataLens(r.out())).toEqual([1000]);
    // Raising the setting opens the window of the open stream.
    r.feed(settingsFrame([[SettingId.INITIAL_WINDOW_SIZE, 16384 + 5000]]));
    expect(dataLens(r.out())).toEqual([5000]);
    // New streams start with the new value.
    r.feed(headersFrame(3, requestBlock(), { endStream: true }));
    expect(sum(dataLens(r.out(), 3))).toBe(21384);
  });

  it('a window raise after END_STREAM went out does not send END_STREAM again (§5.1)', () => {
    // Regression: the raise re-queued every stream, and one whose END_STREAM was sent (but
    // whose request was still open) wrote a second END_STREAM and threw from takeOutput.
    const r = responder(() => 10);
    r.handshake();
    r.feed(headersFrame(1, requestBlock())); // request still open: half-closed (local) after
    const first = r.out();
    expect(dataLens(first)).toEqual([10]);
    expect(r.conn.getStream(1)!.state).toBe('half-closed-local');
    r.feed(settingsFrame([[SettingId.INITIAL_WINDOW_SIZE, 100000]]));
    const after = r.out();
    expect(after.map((f) => f.type)).toEqual([FrameType.SETTINGS]); // just the ACK
    expect(r.conn.dead).toBe(false);
  });

  it('SETTINGS_INITIAL_WINDOW_SIZE that overflows a stream window is a FLOW_CONTROL_ERROR (§6.9.2)', () => {
    const r = responder(() => 10);
    r.handshake();
    r.feed(headersFrame(1, requestBlock()));
    r.out();
    r.feed(wuFrame(1, 2 ** 31 - 1 - 65525)); // 10 octets were sent: now exactly 2^31-1
    expect(r.conn.dead).toBe(false);
    r.feed(settingsFrame([[SettingId.INITIAL_WINDOW_SIZE, 65536]]));
    expect(goaways(r.out())).toEqual([ErrorCode.FLOW_CONTROL_ERROR]);
  });

  it('a stream WINDOW_UPDATE past 2^31-1 resets the stream with FLOW_CONTROL_ERROR (§6.9.1)', () => {
    const r = responder(() => 10);
    r.handshake();
    r.feed(headersFrame(1, requestBlock()));
    r.out();
    r.feed(wuFrame(1, 2 ** 31 - 1 - 65525));
    expect(r.out()).toEqual([]);
    r.feed(wuFrame(1, 1));
    expect(rsts(r.out())).toEqual([[1, ErrorCode.FLOW_CONTROL_ERROR]]);
    expect(r.conn.dead).toBe(false);
  });

  it('a connection WINDOW_UPDATE past 2^31-1 is a connection FLOW_CONTROL_ERROR (§6.9.1)', () => {
    const r = new Raw('server');
    r.handshake();
    r.feed(wuFrame(0, 2 ** 31 - 1 - 65535));
    expect(r.conn.dead).toBe(false);
    r.feed(wuFrame(0, 1));
    expect(goaways(r.out())).toEqual([ErrorCode.FLOW_CONTROL_ERROR]);
  });

  it('sendData returns false at the high-water mark and onStreamWritable follows', () => {
    let stream: Http2Stream | undefined;
    const r: Raw = new Raw('server', {
      hooks: {
        onRequest(s) {
          stream = s;
          r.conn.sendHeaders(s, [':status'], ['200'], false);
        },
      },
    });
    r.handshake();
    r.feed(headersFrame(1, requestBlock(), { endStream: true }));
    const chunk = Buffer.alloc(16384);
    const results = [1, 2, 3, 4].map(() => r.conn.sendData(stream!, chunk, false));
    expect(results).toEqual([true, true, true, false]);
    expect(r.conn.bufferedAmount(stream!)).toBe(65536);
    expect(r.rec.of('writable')).toEqual([]);
    expect(sum(dataLens(r.out()))).toBe(65535);
    expect(r.conn.bufferedAmount(stream!)).toBe(1);
    expect(r.rec.of('writable')).toEqual([{ type: 'writable', id: 1 }]);
  });

  it('a zero-window stall keeps the buffered data bounded', () => {
    const HWM = 65536;
    const CHUNK = 10000;
    let stream: Http2Stream | undefined;
    let writes = 0;
    let canWrite = true;
    const r: Raw = new Raw('server', {
      limits: { streamHighWaterMark: HWM },
      hooks: {
        onRequest(s) {
          stream = s;
          r.conn.sendHeaders(s, [':status'], ['200'], false);
        },
        onStreamWritable() {
          canWrite = true;
        },
      },
    });
    // The peer grants no stream window at all.
    r.handshake([[SettingId.INITIAL_WINDOW_SIZE, 0]]);
    r.feed(headersFrame(1, requestBlock(), { endStream: true }));
    r.out();
    for (let round = 0; round < 50; round++) {
      // The application writes while sendData says yes (bounded loop).
      for (let i = 0; i < 1000 && canWrite; i++) {
        writes++;
        canWrite = r.conn.sendData(stream!, Buffer.alloc(CHUNK), false);
      }
      expect(r.conn.bufferedAmount(stream!)).toBeLessThanOrEqual(HWM + CHUNK);
      expect(dataLens(r.out())).toEqual([]);
    }
    expect(writes).toBe(Math.ceil(HWM / CHUNK));
    expect(r.rec.of('writable')).toEqual([]);
    // The window opens: data flows and the application is told to write again.
    r.feed(wuFrame(1, 30000));
    expect(sum(dataLens(r.out()))).toBe(30000);
    expect(r.rec.of('writable')).toHaveLength(1);
    expect(canWrite).toBe(true);
  });

  it('moves 8 MiB through the pair intact and in order', () => {
    const size = 8 * 1024 * 1024;
    const body = pattern(size, 7);
    const upload = pattern(1024 * 1024 + 3, 9);
    const p = new Pair({ tap: false, server: { initialWindowSize: 65535 } });
    const pumps = new Map<number, () => void>();
    const pump = (conn: Http2Connection, stream: Http2Stream, data: Buffer) => {
      let off = 0;
      const step = 50000;
      const run = () => {
        while (off < data.length) {
          const end = Math.min(off + step, data.length);
          const more = conn.sendData(stream, data.subarray(off, end), end === data.length);
          off = end;
          if (!more) return;
        }
      };
      return run;
    };
    p.s.hooks = {
      onRequest(stream) {
        p.server.sendHeaders(stream, [':status'], ['200'], false);
        const run = pump(p.server, stream, body);
        pumps.set(-stream.id, run);
        run();
      },
      onStreamWritable(stream) {
        pumps.get(-stream.id)?.();
      },
    };
    p.c.hooks = {
      onStreamWritable(stream) {
        pumps.get(stream.id)?.();
      },
    };
    const s = p.client.request(
      [':method', ':scheme', ':authority', ':path'],
      ['POST', 'https', 'example.test', '/big'],
      false,
    );
    const run = pump(p.client, s, upload);
    pumps.set(s.id, run);
    run();
    p.drive();
    const got = p.c.body(1);
    expect(got.length).toBe(size);
    expect(got.equals(body)).toBe(true);
    expect(p.c.of('data').at(-1)!.endStream).toBe(true);
    expect(p.s.body(1).equals(upload)).toBe(true);
    expect(p.client.streamCount).toBe(0);
    expect(p.server.streamCount).toBe(0);
  });
});

describe('receiving under flow control (§6.9)', () => {
  it('returns window after half a window is consumed, not per frame', () => {
    const r = new Raw('server', { autoConsume: true });
    r.handshake();
    r.feed(headersFrame(1, requestBlock()));
    r.out();
    const frame16k = dataFrame(1, Buffer.alloc(16384));
    for (let i = 0; i < 7; i++) r.feed(frame16k);
    expect(updates(r.out())).toEqual([]);
    r.feed(frame16k); // 131072 = half of the 256 KiB stream window
    expect(updates(r.out())).toEqual([[1, 131072]]);
    for (let i = 0; i < 23; i++) r.feed(frame16k);
    expect(updates(r.out())).toEqual([
      [1, 131072],
      [1, 131072],
    ]);
    r.feed(frame16k); // 32 frames = 512 KiB = half of the 1 MiB connection window
    expect(updates(r.out()).sort()).toEqual([
      [0, 524288],
      [1, 131072],
    ]);
    expect(r.rec.body(1).length).toBe(32 * 16384);
  });

  it('DATA beyond the stream window is a FLOW_CONTROL_ERROR stream error', () => {
    const r = new Raw('server');
    r.handshake();
    r.feed(headersFrame(1, requestBlock()));
    for (let i = 0; i < 16; i++) r.feed(dataFrame(1, Buffer.alloc(16384)));
    expect(r.out()).toEqual([]); // nothing consumed: no updates
    r.feed(dataFrame(1, 'x'));
    expect(rsts(r.out())).toEqual([[1, ErrorCode.FLOW_CONTROL_ERROR]]);
    expect(r.rec.of('reset')).toMatchObject([
      { id: 1, code: ErrorCode.FLOW_CONTROL_ERROR, initiator: 'local' },
    ]);
    expect(r.conn.dead).toBe(false);
  });

  it('DATA beyond the connection window is a FLOW_CONTROL_ERROR connection error', () => {
    const r = new Raw('server', { limits: { connectionWindowSize: 65535 } });
    r.handshake();
    r.feed(headersFrame(1, requestBlock()), headersFrame(3, requestBlock()));
    for (let i = 0; i < 3; i++) r.feed(dataFrame(1 + 2 * (i % 2), Buffer.alloc(16384)));
    expect(r.conn.dead).toBe(false);
    r.feed(dataFrame(3, Buffer.alloc(16384)));
    expect(goaways(r.out())).toEqual([ErrorCode.FLOW_CONTROL_ERROR]);
  });

  it('counts padding against the windows and returns it at once (§6.1, §6.9.1)', () => {
    const r = new Raw('server', { limits: { initialWindowSize: 1000 } });
    r.handshake();
    r.feed(headersFrame(1, requestBlock()), headersFrame(3, requestBlock()));
    // 1 + 744 + 255 = 1000 octets of window: exactly fits.
    r.feed(dataFrame(1, Buffer.alloc(744), { pad: 255 }));
    expect(rsts(r.out())).toEqual([]);
    expect(r.rec.body(1).length).toBe(744);
    // 1 + 745 + 255 = 1001: over, although only 745 octets are content.
    r.feed(dataFrame(3, Buffer.alloc(745), { pad: 255 }));
    expect(rsts(r.out())).toEqual([[3, ErrorCode.FLOW_CONTROL_ERROR]]);
    // Padding is returned without the application consuming anything.
    const r2 = new Raw('server', { limits: { initialWindowSize: 1000 } });
    r2.handshake();
    r2.feed(headersFrame(1, requestBlock()));
    r2.feed(dataFrame(1, '', { pad: 255 }));
    expect(updates(r2.out())).toEqual([]);
    r2.feed(dataFrame(1, '', { pad: 255 }));
    expect(updates(r2.out())).toEqual([[1, 512]]);
  });

  it('DATA on a stream we reset still counts toward the connection window (§6.9)', () => {
    const r: Raw = new Raw('server', {
      limits: { connectionWindowSize: 65535 },
      hooks: {
        onRequest(s) {
          r.conn.resetStream(s, ErrorCode.CANCEL);
        },
      },
    });
    r.handshake();
    r.feed(headersFrame(1, requestBlock()));
    expect(rsts(r.out())).toEqual([[1, ErrorCode.CANCEL]]);
    r.feed(dataFrame(1, Buffer.alloc(16384)));
    expect(r.out()).toEqual([]);
    r.feed(dataFrame(1, Buffer.alloc(16384)));
    expect(updates(r.out())).toEqual([[0, 32768]]);
    expect(r.rec.of('data')).toEqual([]);
  });

  it('consume() after a stream ended returns only connection window', () => {
    const r = new Raw('server', { limits: { connectionWindowSize: 65535 } });
    r.handshake();
    r.feed(headersFrame(1, requestBlock()), dataFrame(1, Buffer.alloc(16384)));
    r.feed(
      dataFrame(1, Buffer.alloc(7232)),
      dataFrame(1, Buffer.alloc(16384), { endStream: true }),
    );
    const s = r.conn.getStream(1)!;
    expect(s.state).toBe('half-closed-remote');
    r.conn.consume(s, 40000);
    expect(updates(r.out())).toEqual([[0, 40000]]);
  });
});
