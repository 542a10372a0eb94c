import { describe, expect, it } from 'vitest';
import {
  formatSseComment,
  formatSseEvent,
  startSse,
  SseClosedError,
  SseFieldError,
} from '../../../src/protocols/http/sse.js';
import { createExchange } from '../../helpers/http-exchange.js';
import type { ExchangeInit } from '../../helpers/http-exchange.js';
import { ManualClock } from '../../lifecycle/manual-clock.js';

function open(init: ExchangeInit = {}, heartbeatMs = 1000, retryMs?: number) {
  const ex = createExchange(init);
  const clock = new ManualClock();
  const stream = startSse(ex.req, ex.res, { heartbeatMs, retryMs, clock });
  return { ...ex, clock, stream };
}

/** Parses an event stream the way a browser does (HTML §9.2.6), for round-trip checks. */
function parseStream(text: string) {
  const events: Array<{ type: string; data: string; id: string }> = [];
  let data = '';
  let type = '';
  let lastId = '';
  for (const line of text.split(/\r\n|\r|\n/)) {
    if (line === '') {
      if (data !== '') {
        events.push({ type: type || 'message', data: data.slice(0, -1), id: lastId });
      }
      data = '';
      type = '';
      continue;
    }
    if (line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') data += `${value}\n`;
    else if (field === 'event') type = value;
    else if (field === 'id') lastId = value;
  }
  return events;
}

describe('formatSseEvent', () => {
  it('writes event, id, retry and data fields ending with a blank line', () => {
    expect(formatSseEvent({ event: 'tick', id: '7', retry: 3000, data: 'hello' })).toBe(
      'event: tick\nid: 7\nretry: 3000\ndata: hello\n\n',
    );
  });

  it('splits multi-line data into several data lines (LF, CRLF and CR)', () => {
    expect(formatSseEvent({ data: 'a\nb\r\nc\rd' })).toBe('data: a\ndata: b\ndata: c\ndata: d\n\n');
    expect(formatSseEvent({ data: '' })).toBe('data: \n\n');
    expect(formatSseEvent({ data: 'x\n' })).toBe('data: x\ndata: \n\n');
  });

  it('round-trips through a browser-style parser', () => {
    const samples = [
      'plain',
      ' leading space',
      'multi\nline\n\nwith blank',
      'colon: inside',
      '{"a":1}',
    ];
    const text = samples.map((data, i) => formatSseEvent({ data, id: String(i) })).join('');
    const events = parseStream(text);
    expect(events.map((e) => e.data)).toEqual(samples);
    expect(events.map((e) => e.id)).toEqual(['0', '1', '2', '3', '4']);
  });

  it.each([
    [{ event: 'a\nb', data: 'x' }],
    [{ event: 'a\rb', data: 'x' }],
    [{ id: '1\n2', data: 'x' }],
    [{ id: '1\0', data: 'x' }],
    [{ retry: -1, data: 'x' }],
    [{ retry: 1.5, data: 'x' }],
  ])('rejects %j with a coded error', (event) => {
    expect(() => formatSseEvent(event)).toThrow(SseFieldError);
    try {
      formatSseEvent(event);
    } catch (err) {
      expect((err as SseFieldError).code).toBe('GN_ERR_SSE_INVALID_FIELD');
    }
  });

  it('formats comments line by line', () => {
    expect(formatSseComment('hi\nthere')).toBe(': hi\n: there\n\n');
    expect(formatSseComment('')).toBe(':\n\n');
  });
});

describe('startSse', () => {
  it('sends the head at once with the event-stream headers', () => {
    const { sink } = open();
    expect(sink.status).toBe(200);
    expect(sink.headers!.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(sink.headers!.get('cache-control')).toBe('no-cache');
    expect(sink.headers!.has('content-length')).toBe(false);
    expect(sink.ended).toBe(false);
  });

  it('sends retry first when asked', () => {
    const { sink } = open({}, 0, 2500);
    expect(sink.text()).toBe('retry: 2500\n\n');
  });

  it('exposes Last-Event-ID', () => {
    expect(open({ headers: { 'last-event-id': '42' } }).stream.lastEventId).toBe('42');
    expect(open().stream.lastEventId).toBeUndefined();
  });

  it('writes events and comments', () => {
    const { sink, stream } = open();
    expect(stream.send({ event: 'greet', data: 'hi\nyou' })).toBe(true);
    stream.comment('note');
    expect(sink.text()).toBe('event: greet\ndata: hi\ndata: you\n\n: note\n\n');
  });

  it('invalid fields throw without writing anything', () => {
    const { sink, stream } = open();
    expect(() => stream.send({ event: 'x\n', data: 'y' })).toThrow(SseFieldError);
    expect(sink.chunks).toHaveLength(0);
    expect(stream.isClosed).toBe(false);
  });

  it('sends heartbeats on the injected clock, skipping busy intervals', async () => {
    const { sink, stream, clock } = open({}, 1000);
    await clock.advance(999);
    expect(sink.text()).toBe('');
    await clock.advance(1);
    expect(sink.text()).toBe(':\n\n');
    await clock.advance(1000);
    expect(sink.text()).toBe(':\n\n:\n\n');
    stream.send({ data: 'x' });
    await clock.advance(1000); // something was written in this interval: no heartbeat
    expect(sink.text()).toBe(':\n\n:\n\ndata: x\n\n');
    await clock.advance(1000);
    expect(sink.text()).toBe(':\n\n:\n\ndata: x\n\n:\n\n');
    stream.close();
  });

  it('heartbeatMs: 0 disables heartbeats', async () => {
    const { sink, clock } = open({}, 0);
    await clock.advance(60_000);
    expect(sink.chunks).toHaveLength(0);
    expect(clock.pendingTimers).toBe(0);
  });

  it('close() ends the response, stops the timer, resolves closed, and later sends throw', async () => {
    const { sink, stream, clock } = open();
    stream.close();
    stream.close();
    await stream.closed;
    expect(sink.ended).toBe(true);
    expect(stream.isClosed).toBe(true);
    expect(clock.pendingTimers).toBe(0);
    expect(() => stream.send({ data: 'late' })).toThrow(SseClosedError);
  });

  it('stops when the request is aborted, without ending the response', async () => {
    const { sink, stream, clock, abort } = open();
    abort();
    await stream.closed;
    expect(stream.isClosed).toBe(true);
    expect(sink.ended).toBe(false);
    expect(clock.pendingTimers).toBe(0);
    await clock.advance(10_000);
    expect(sink.chunks).toHaveLength(0);
    expect(() => stream.send({ data: 'x' })).toThrow(SseClosedError);
  });

  it('reports backpressure, pauses heartbeats while blocked and resumes after drain', async () => {
    const ex = createExchange();
    ex.sink.capacity = 10;
    const clock = new ManualClock();
    const stream = startSse(ex.req, ex.res, { heartbeatMs: 1000, clock });
    // ServerResponse's drained() uses its own 64 KiB mark, so fill past it.
    const big = 'x'.repeat(70_000);
    expect(stream.send({ data: big })).toBe(false);
    let drained = false;
    void stream.drained().then(() => (drained = true));
    await clock.advance(5000);
    expect(drained).toBe(false);
    expect(ex.sink.text().endsWith(':\n\n')).toBe(false);
    ex.sink.flush();
    await clock.advance(0);
    expect(drained).toBe(true);
    await clock.advance(2000);
    expect(ex.sink.text().endsWith(':\n\n')).toBe(true);
    stream.close();
  });

  it('validates options', () => {
    const ex = createExchange();
    expect(() => startSse(ex.req, ex.res, { heartbeatMs: -5 })).toThrow(/heartbeatMs/);
    expect(() => startSse(ex.req, ex.res, { retryMs: 0.5 })).toThrow(/retryMs/);
  });
});
