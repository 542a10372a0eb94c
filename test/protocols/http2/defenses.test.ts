/**
 * Flood and resource-exhaustion defenses of the HTTP/2 core. Each test names the attack and
 * asserts the GOAWAY code the core answers with. Time is frozen or advanced by hand.
 */
import { describe, expect, it } from 'vitest';
import { ErrorCode, FrameType } from '../../../src/protocols/http2/codes.js';
import { HpackDecoder } from '../../../src/protocols/http2/hpack/index.js';
import {
  GET,
  Raw,
  continuationFrame,
  dataFrame,
  frame,
  goawayOf,
  headersFrame,
  hpackIndexed,
  hpackLiteral,
  hpackRef,
  pingFrame,
  priorityUpdateFrame,
  requestBlock,
  rstCode,
  rstFrame,
  settingsFrame,
  wuFrame,
} from './pair.js';
import type { Frame } from './pair.js';

const goaways = (frames: Frame[]) =>
  frames.filter((f) => f.type === FrameType.GOAWAY).map((f) => goawayOf(f).code);

/**
 * Feeds `make(i)` up to `max` times (taking output every `batch` frames, like a peer that
 * reads) and returns how many frames were fed when the connection died, or -1.
 */
function flood(r: Raw, make: (i: number) => Uint8Array, max: number, batch = 100): number {
  for (let i = 0; i < max; i++) {
    r.feed(make(i));
    if (r.conn.dead) return i + 1;
    if ((i + 1) % batch === 0) r.out();
  }
  return -1;
}

function expectCalm(r: Raw): void {
  const codes = goaways(r.out());
  expect(codes).toEqual([ErrorCode.ENHANCE_YOUR_CALM]);
  expect(r.rec.of('connection-error')).toMatchObject([
    { wireCode: ErrorCode.ENHANCE_YOUR_CALM, code: 'GN_ERR_H2_ENHANCE_YOUR_CALM' },
  ]);
}

const getBlock = requestBlock();

describe('rapid reset (CVE-2023-44487)', () => {
  it('more than streamResetBurst HEADERS+RST_STREAM pairs with time frozen → ENHANCE_YOUR_CALM', () => {
    const r = new Raw('server');
    r.handshake();
    const burst = r.conn.limits.streamResetBurst;
    expect(burst).toBe(1000);
    const n = flood(
      r,
      (i) =>
        Buffer.concat([
          headersFrame(2 * i + 1, getBlock, { endStream: true }),
          rstFrame(2 * i + 1, ErrorCode.CANCEL),
        ]),
      burst + 10,
    );
    expect(n).toBe(burst + 1);
    expectCalm(r);
    expect(r.rec.of('reset').filter((e) => e.initiator === 'remote')).toHaveLength(burst);
  });

  it('the same count spread over enough injected time is fine', () => {
    const r = new Raw('server');
    r.handshake();
    const burst = r.conn.limits.streamResetBurst;
    const rate = r.conn.limits.streamResetRate;
    const n = flood(
      r,
      (i) => {
        r.now += Math.ceil(1000 / rate);
        return Buffer.concat([
          headersFrame(2 * i + 1, getBlock, { endStream: true }),
          rstFrame(2 * i + 1, ErrorCode.CANCEL),
        ]);
      },
      burst * 2,
    );
    expect(n).toBe(-1);
    expect(r.conn.dead).toBe(false);
  });

  it('resets the peer provokes count too (CVE-2025-8671, MadeYouReset)', () => {
    const r = new Raw('server');
    r.handshake();
    const burst = r.conn.limits.streamResetBurst;
    // WINDOW_UPDATE with increment 0 on an open stream: we reset it (§6.9).
    const n = flood(
      r,
      (i) => Buffer.concat([headersFrame(2 * i + 1, getBlock), wuFrame(2 * i + 1, 0)]),
      burst + 10,
    );
    expect(n).toBe(burst + 1);
    expectCalm(r);
  });

  it('a smaller configured burst is enforced the same way', () => {
    const r = new Raw('server', { limits: { streamResetBurst: 5, streamResetRate: 1 } });
    r.handshake();
    const pair = (i: number) =>
      Buffer.concat([headersFrame(2 * i + 1, getBlock), rstFrame(2 * i + 1, ErrorCode.CANCEL)]);
    expect(flood(r, pair, 5)).toBe(-1);
    r.now += 1000; // one token back
    expect(flood(r, (i) => pair(i + 5), 5)).toBe(2);
    expectCalm(r);
  });
});

describe('CONTINUATION flood (CVE-2024-27983 and the 2024 CONTINUATION family)', () => {
  it('endless CONTINUATION without END_HEADERS → ENHANCE_YOUR_CALM by size', () => {
    const r = new Raw('server');
    r.handshake();
    const max = r.conn.limits.maxHeaderBlockSize; // 131072
    r.feed(headersFrame(1, Buffer.alloc(16384, 0x82), { endHeaders: false }));
    const n = flood(r, () => continuationFrame(1, Buffer.alloc(16384, 0x82), false), 100);
    // 16384 + 7 × 16384 = 131072 is allowed; the 8th CONTINUATION goes over.
    expect(n).toBe(max / 16384);
    expectCalm(r);
    expect(r.rec.of('request')).toEqual([]);
  });

  it('endless CONTINUATION without END_HEADERS → ENHANCE_YOUR_CALM by count', () => {
    const r = new Raw('server');
    r.handshake();
    const max = r.conn.limits.maxContinuationFrames; // 64
    r.feed(headersFrame(1, Buffer.from([0x82]), { endHeaders: false }));
    const n = flood(r, () => continuationFrame(1, Buffer.from([0x82]), false), 1000);
    expect(n).toBe(max + 1);
    expectCalm(r);
  });

  it('the limits hold for the final CONTINUATION too', () => {
    const r = new Raw('server', { limits: { maxContinuationFrames: 3 } });
    r.handshake();
    const block = requestBlock();
    // HEADERS + 3 CONTINUATION: allowed.
    r.feed(
      headersFrame(1, block.subarray(0, 3), { endHeaders: false, endStream: true }),
      continuationFrame(1, block.subarray(3, 6), false),
      continuationFrame(1, block.subarray(6, 9), false),
      continuationFrame(1, block.subarray(9), true),
    );
    expect(r.rec.of('request')).toHaveLength(1);
    // HEADERS + 4 CONTINUATION, the last with END_HEADERS: one too many.
    r.feed(
      headersFrame(3, block.subarray(0, 3), { endHeaders: false, endStream: true }),
      continuationFrame(3, block.subarray(3, 6), false),
      continuationFrame(3, block.subarray(6, 9), false),
      continuationFrame(3, block.subarray(9, 12), false),
      continuationFrame(3, block.subarray(12), true),
    );
    expectCalm(r);
  });
});

describe('HPACK bomb (a small block that decodes to a huge header list)', () => {
  // One 4000-octet entry in the dynamic table, then referenced 20 times: 26 encoded octets
  // per reference decode to 4038 octets of header list each (RFC 7541 §4.1 accounting).
  const big = 'a'.repeat(4000);
  const bomb = Buffer.concat([
    hpackLiteral(GET),
    hpackIndexed('x-bomb', big),
    ...Array.from({ length: 20 }, () => hpackRef(62)),
  ]);

  it('answers 431 and resets; the connection and HPACK stay in step', () => {
    const r = new Raw('server');
    r.handshake();
    expect(bomb.length).toBeLessThan(4100);
    r.feed(headersFrame(1, bomb, { endStream: true }));
    expect(r.rec.of('request-too-large')).toEqual([{ type: 'request-too-large', id: 1 }]);
    expect(r.rec.of('request')).toEqual([]);
    const out = r.out();
    const heads = out.filter((f) => f.type === FrameType.HEADERS);
    expect(heads.map((f) => [f.streamId, f.flags & 0x1])).toEqual([[1, 1]]);
    const dec = new HpackDecoder();
    expect(dec.decode(heads[0]!.payload)).toMatchObject({
      names: [':status', 'content-length'],
      values: ['431', '0'],
    });
    expect(r.conn.dead).toBe(false);
    // The next request refers to the entry the bomb inserted: the table is in step.
    r.feed(headersFrame(3, Buffer.concat([hpackLiteral(GET), hpackRef(62)]), { endStream: true }));
    expect(r.rec.of('request')).toMatchObject([
      { id: 3, head: { names: ['x-bomb'], values: [big] } },
    ]);
  });

  it('a bomb with the request body still open gets 431 and RST_STREAM(NO_ERROR) (§8.1)', () => {
    const r = new Raw('server');
    r.handshake();
    r.feed(headersFrame(1, bomb));
    const out = r.out();
    expect(out.filter((f) => f.streamId === 1).map((f) => f.type)).toEqual([
      FrameType.HEADERS,
      FrameType.RST_STREAM,
    ]);
    expect(rstCode(out.find((f) => f.type === FrameType.RST_STREAM)!)).toBe(ErrorCode.NO_ERROR);
    // The rest of the body is ignored, not an error.
    r.feed(dataFrame(1, 'more body', { endStream: true }));
    expect(r.out()).toEqual([]);
    expect(r.conn.dead).toBe(false);
  });

  it('an oversized response head resets the stream on the client', () => {
    const r = new Raw('client');
    r.handshake();
    r.conn.request(
      GET.map((f) => f[0]),
      GET.map((f) => f[1]),
      true,
    );
    r.out();
    const resBomb = Buffer.concat([
      hpackLiteral([[':status', '200']]),
      hpackIndexed('x-bomb', big),
      ...Array.from({ length: 20 }, () => hpackRef(62)),
    ]);
    r.feed(headersFrame(1, resBomb, { endStream: true }));
    expect(r.rec.of('reset')).toMatchObject([
      { id: 1, code: ErrorCode.PROTOCOL_ERROR, initiator: 'local' },
    ]);
    expect(r.conn.dead).toBe(false);
  });
});

describe('control frame floods (CVE-2019-9512 ping, -9515 settings, -9518 empty frames)', () => {
  const cases: [string, (i: number) => Uint8Array, boolean][] = [
    ['SETTINGS flood (CVE-2019-9515)', () => settingsFrame(), false],
    ['PING flood (CVE-2019-9512)', (i) => pingFrame(Buffer.alloc(8, i & 0xff)), false],
    ['empty DATA flood (CVE-2019-9518)', () => dataFrame(1, ''), true],
    ['useless WINDOW_UPDATE flood', () => wuFrame(0, 1), false],
    ['useless stream WINDOW_UPDATE flood', () => wuFrame(1, 1), true],
    [
      'PRIORITY flood (CVE-2019-9513)',
      () => frame(FrameType.PRIORITY, 0, 1, Buffer.alloc(5)),
      false,
    ],
    ['PRIORITY_UPDATE flood', () => priorityUpdateFrame(1, 'u=1'), false],
  ];

  it.each(cases)('%s → ENHANCE_YOUR_CALM after controlFrameBurst', (_name, make, openStream) => {
    const r = new Raw('server');
    r.handshake();
    if (openStream) r.feed(headersFrame(1, getBlock));
    const burst = r.conn.limits.controlFrameBurst;
    expect(flood(r, make, burst + 10)).toBe(burst + 1);
    expectCalm(r);
  });

  it('the same frames at the allowed rate are fine', () => {
    const r = new Raw('server', { limits: { controlFrameBurst: 10, controlFrameRate: 100 } });
    r.handshake();
    const n = flood(
      r,
      (i) => {
        r.now += 10; // 100 per second
        return pingFrame(Buffer.alloc(8, i & 0xff));
      },
      1000,
    );
    expect(n).toBe(-1);
  });

  it('WINDOW_UPDATEs that unblock a stream are not counted', () => {
    const r: Raw = new Raw('server', {
      limits: { controlFrameBurst: 5, controlFrameRate: 0 },
      hooks: {
        onRequest(s) {
          r.conn.sendHeaders(s, [':status'], ['200'], false);
          r.conn.sendData(s, Buffer.alloc(1 << 20), true);
        },
      },
    });
    r.handshake();
    r.feed(wuFrame(0, (1 << 20) + 100));
    r.feed(headersFrame(1, getBlock, { endStream: true }));
    r.out();
    for (let i = 0; i < 100; i++) {
      r.feed(wuFrame(1, 1000));
      r.out();
    }
    expect(r.conn.dead).toBe(false);
  });
});

describe('queued control frames (a peer that never reads, CVE-2019-9512/9515 variant)', () => {
  it('PINGs while takeOutput is never called → ENHANCE_YOUR_CALM at maxQueuedControlFrames', () => {
    const r = new Raw('server');
    r.handshake();
    const max = r.conn.limits.maxQueuedControlFrames;
    expect(flood(r, (i) => pingFrame(Buffer.alloc(8, i & 0xff)), max + 10, Infinity)).toBe(max + 1);
    const out = r.out();
    // The ACK that crossed the limit may be queued too: the queue stays within max + 1.
    const acks = out.filter((f) => f.type === FrameType.PING).length;
    expect(acks).toBeGreaterThanOrEqual(max);
    expect(acks).toBeLessThanOrEqual(max + 1);
    expect(goaways(out)).toEqual([ErrorCode.ENHANCE_YOUR_CALM]);
  });

  it('a peer that reads its answers may send as many as the rate allows', () => {
    const r = new Raw('server', { limits: { maxQueuedControlFrames: 10 } });
    r.handshake();
    expect(flood(r, (i) => pingFrame(Buffer.alloc(8, i & 0xff)), 500, 10)).toBe(-1);
  });
});

describe('frame size (§4.2)', () => {
  it('a frame over SETTINGS_MAX_FRAME_SIZE → FRAME_SIZE_ERROR, read from the header alone', () => {
    const r = new Raw('server');
    r.handshake();
    const header = frame(FrameType.DATA, 0, 1, Buffer.alloc(0));
    header.writeUIntBE(16385, 0, 3);
    r.feed(header);
    expect(goaways(r.out())).toEqual([ErrorCode.FRAME_SIZE_ERROR]);
  });

  it('accepts frames up to a larger advertised maximum', () => {
    const r = new Raw('server', { limits: { maxFrameSize: 32768 } });
    r.handshake();
    r.feed(headersFrame(1, getBlock), dataFrame(1, Buffer.alloc(32768)));
    expect(r.rec.body(1).length).toBe(32768);
    const header = frame(FrameType.DATA, 0, 1, Buffer.alloc(0));
    header.writeUIntBE(32769, 0, 3);
    r.feed(header);
    expect(goaways(r.out())).toEqual([ErrorCode.FRAME_SIZE_ERROR]);
  });
});
