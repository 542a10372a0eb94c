import { describe, expect, it } from 'vitest';
import { ErrorCode, FrameType, SettingId } from '../../../src/protocols/http2/codes.js';
import { DEFAULT_URGENCY, parsePriority } from '../../../src/protocols/http2/priority.js';
import type { Priority } from '../../../src/protocols/http2/priority.js';
import type { Http2Stream } from '../../../src/protocols/http2/stream.js';
import { Raw, frame, goawayOf, headersFrame, priorityUpdateFrame, requestBlock } from './pair.js';
import type { Frame } from './pair.js';

function parse(value: string, start: Priority = { urgency: 0, incremental: true }): Priority {
  const p = { ...start };
  parsePriority(value, p);
  return p;
}

describe('parsePriority (RFC 9218 §4)', () => {
  it.each([
    ['', 3, false],
    ['u=0', 0, false],
    ['u=7', 7, false],
    ['i', 3, true],
    ['i=?1', 3, true],
    ['i=?0', 3, false],
    ['u=1, i', 1, true],
    ['  u=2 ,   i  ', 2, true],
    ['i, u=6', 6, true],
    ['u=1, u=5', 5, false], // RFC 8941 §3.2: the last duplicate wins
    ['u=2;foo=bar, i;x', 2, true], // parameters of members are ignored
    ['x=5, u=4, y', 4, false], // unknown members are ignored (§4)
    ['i;a=b, u=3;c', 3, true], // a bare key with parameters is still true
    ['u=4, i=?0;p=1', 4, false],
  ])('%j → urgency %i, incremental %s', (value, urgency, incremental) => {
    expect(parse(value)).toEqual({ urgency, incremental });
  });

  it.each([
    ['u=8'],
    ['u=-1'],
    ['u=1.5'],
    ['u=a'],
    ['u=?1'],
    ['u=01'],
    ['U=1'],
    ['u='],
    ['i=1'],
    ['i=?2'],
    ['i="yes"'],
  ])('ignores the invalid value in %j (§4.1, §4.2)', (value) => {
    expect(parse(value)).toEqual({ urgency: DEFAULT_URGENCY, incremental: false });
  });
});

const dataOrder = (frames: Frame[]): number[] =>
  frames.filter((f) => f.type === FrameType.DATA).map((f) => f.streamId);
const sumOf = (frames: Frame[], id: number): number =>
  frames
    .filter((f) => f.type === FrameType.DATA && f.streamId === id)
    .reduce((a, f) => a + f.payload.length, 0);

/**
 * A server whose app sends a 200 head at once and, when `autoBody`, 40000 octets of body.
 * The peer grants large stream windows but leaves the connection window at 65,535.
 */
function server(autoBody: boolean, limits = {}): { r: Raw; streams: Map<number, Http2Stream> } {
  const streams = new Map<number, Http2Stream>();
  const r: Raw = new Raw('server', {
    limits,
    hooks: {
      onRequest(s) {
        streams.set(s.id, s);
        r.conn.sendHeaders(s, [':status'], ['200'], false);
        if (autoBody) r.conn.sendData(s, Buffer.alloc(40000, s.id), true);
      },
    },
  });
  r.handshake([[SettingId.INITIAL_WINDOW_SIZE, 1 << 20]]);
  return { r, streams };
}

const withPriority = (value: string) => requestBlock([['priority', value]]);

describe('the DATA scheduler (RFC 9218 §10)', () => {
  it('with a small connection window, a u=0 stream goes before a u=5 stream', () => {
    const { r } = server(true);
    r.feed(
      headersFrame(1, withPriority('u=5'), { endStream: true }),
      headersFrame(3, withPriority('u=0'), { endStream: true }),
    );
    expect(r.conn.getStream(1)!.urgency).toBe(5);
    expect(r.conn.getStream(3)!.urgency).toBe(0);
    const out = r.out();
    const order = dataOrder(out);
    expect(order[0]).toBe(3);
    expect(order.lastIndexOf(3)).toBeLessThan(order.indexOf(1));
    expect(sumOf(out, 3)).toBe(40000);
    expect(sumOf(out, 1)).toBe(65535 - 40000);
  });

  it('incremental streams of one urgency interleave frame by frame', () => {
    const { r } = server(true);
    r.feed(
      headersFrame(1, withPriority('u=3, i'), { endStream: true }),
      headersFrame(3, withPriority('i'), { endStream: true }),
    );
    expect(r.conn.getStream(3)!.incremental).toBe(true);
    expect(dataOrder(r.out())).toEqual([1, 3, 1, 3]);
  });

  it('non-incremental streams go one after another in stream id order', () => {
    const { r, streams } = server(false);
    r.feed(
      headersFrame(1, requestBlock(), { endStream: true }),
      headersFrame(3, requestBlock(), { endStream: true }),
    );
    r.out();
    // Stream 3's body is queued first; stream 1 still goes first.
    r.conn.sendData(streams.get(3)!, Buffer.alloc(40000), true);
    r.conn.sendData(streams.get(1)!, Buffer.alloc(40000), true);
    const out = r.out();
    expect(dataOrder(out)).toEqual([1, 1, 1, 3, 3]);
    expect(sumOf(out, 1)).toBe(40000);
  });

  it('a more urgent stream that arrives later still goes first once window opens', () => {
    const { r } = server(true);
    r.feed(headersFrame(1, withPriority('u=6'), { endStream: true }));
    expect(sumOf(r.out(), 1)).toBe(40000);
    r.feed(headersFrame(3, withPriority('u=6'), { endStream: true }));
    r.feed(headersFrame(5, withPriority('u=1'), { endStream: true }));
    const out = r.out(); // 25535 octets of connection window left
    expect(dataOrder(out)[0]).toBe(5);
    expect(sumOf(out, 5)).toBe(25535);
  });
});

describe('PRIORITY_UPDATE (RFC 9218 §7.1)', () => {
  it('changes the urgency of an open stream', () => {
    const { r, streams } = server(false);
    r.feed(
      headersFrame(1, requestBlock(), { endStream: true }),
      headersFrame(3, requestBlock(), { endStream: true }),
    );
    r.out();
    r.feed(priorityUpdateFrame(3, 'u=0'));
    expect(r.conn.getStream(3)!.urgency).toBe(0);
    r.conn.sendData(streams.get(1)!, Buffer.alloc(40000), true);
    r.conn.sendData(streams.get(3)!, Buffer.alloc(40000), true);
    expect(dataOrder(r.out())).toEqual([3, 3, 3, 1, 1]);
  });

  it('is kept for an idle stream and wins over the priority header', () => {
    const { r } = server(false);
    r.feed(priorityUpdateFrame(5, 'u=6, i'));
    expect(r.conn.dead).toBe(false);
    r.feed(headersFrame(5, withPriority('u=1'), { endStream: true }));
    expect(r.conn.getStream(5)).toMatchObject({ urgency: 6, incremental: true });
  });

  it('remembers a bounded number of updates for idle streams', () => {
    const { r } = server(false, { maxPendingPriorityUpdates: 2 });
    r.feed(priorityUpdateFrame(5, 'u=1'), priorityUpdateFrame(7, 'u=1'));
    r.feed(priorityUpdateFrame(9, 'u=1'));
    r.feed(
      headersFrame(5, requestBlock(), { endStream: true }),
      headersFrame(7, requestBlock(), { endStream: true }),
      headersFrame(9, requestBlock(), { endStream: true }),
    );
    expect([5, 7, 9].map((id) => r.conn.getStream(id)!.urgency)).toEqual([1, 1, DEFAULT_URGENCY]);
  });

  it('is ignored for a closed stream', () => {
    const { r } = server(true);
    r.feed(headersFrame(1, requestBlock(), { endStream: true }));
    r.out();
    expect(r.conn.getStream(1)).toBeUndefined();
    r.feed(priorityUpdateFrame(1, 'u=0'));
    expect(r.out()).toEqual([]);
  });

  const errors: [string, () => Buffer, number][] = [
    [
      'prioritized stream id 0 → PROTOCOL_ERROR',
      () => priorityUpdateFrame(0, 'u=1'),
      ErrorCode.PROTOCOL_ERROR,
    ],
    [
      'on a stream other than 0 → PROTOCOL_ERROR',
      () => priorityUpdateFrame(1, 'u=1', 1),
      ErrorCode.PROTOCOL_ERROR,
    ],
    [
      'shorter than 4 octets → FRAME_SIZE_ERROR',
      () => frame(FrameType.PRIORITY_UPDATE, 0, 0, Buffer.alloc(3)),
      ErrorCode.FRAME_SIZE_ERROR,
    ],
  ];
  it.each(errors)('%s', (_name, make, code) => {
    const { r } = server(false);
    r.feed(make());
    const goaways = r.out().filter((f) => f.type === FrameType.GOAWAY);
    expect(goaways.map((f) => goawayOf(f).code)).toEqual([code]);
  });

  it('from a server → PROTOCOL_ERROR', () => {
    const r = new Raw('client');
    r.handshake();
    r.feed(priorityUpdateFrame(1, 'u=1'));
    const goaways = r.out().filter((f) => f.type === FrameType.GOAWAY);
    expect(goaways.map((f) => goawayOf(f).code)).toEqual([ErrorCode.PROTOCOL_ERROR]);
  });
});
