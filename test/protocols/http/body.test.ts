import { describe, expect, it } from 'vitest';
import { GhostnetError, hasCode } from '../../../src/errors.js';
import { BodyStream } from '../../../src/protocols/http/body.js';
import {
  BodyTooLargeError,
  HttpError,
  RequestAbortedError,
} from '../../../src/protocols/http/errors.js';
import { HeaderList } from '../../../src/protocols/http/headers.js';

const bytes = (...values: number[]) => new Uint8Array(values);
const text = (s: string) => new TextEncoder().encode(s);

describe('BodyStream: backpressure', () => {
  it('returns false from push() at the high-water mark and fires onPull once drained below it', async () => {
    let pulls = 0;
    const body = new BodyStream({ highWaterMark: 4, onPull: () => pulls++ });
    expect(body.push(bytes(1, 2))).toBe(true);
    expect(body.bufferedAmount).toBe(2);
    expect(body.push(bytes(3, 4))).toBe(false);
    expect(body.bufferedAmount).toBe(4);
    expect(pulls).toBe(0);
    expect(await body.read()).toEqual(bytes(1, 2));
    expect(pulls).toBe(1);
    expect(body.bufferedAmount).toBe(2);
    // No second pull until backpressure is signalled again.
    expect(await body.read()).toEqual(bytes(3, 4));
    expect(pulls).toBe(1);
  });

  it('hands a chunk straight to a waiting reader without buffering it', async () => {
    const body = new BodyStream({ highWaterMark: 1 });
    const pending = body.read();
    expect(body.push(bytes(9, 9, 9))).toBe(true);
    expect(body.bufferedAmount).toBe(0);
    expect(await pending).toEqual(bytes(9, 9, 9));
  });

  it('fails with a coded error when the engine ignores backpressure', async () => {
    const body = new BodyStream({ highWaterMark: 2 });
    body.push(bytes(1, 2));
    for (let i = 0; i < 6; i++) body.push(bytes(i, i));
    expect(body.push(bytes(1))).toBe(false);
    const err = await body.read().catch((e: unknown) => e);
    expect(hasCode(err, 'GN_ERR_HTTP_BODY_OVERRUN')).toBe(true);
  });

  it('treats empty chunks as no-ops', async () => {
    const body = new BodyStream({ highWaterMark: 2 });
    expect(body.push(new Uint8Array(0))).toBe(true);
    expect(body.received).toBe(0);
    body.end();
    expect(await body.read()).toBeNull();
  });

  it('rejects a second concurrent read()', async () => {
    const body = new BodyStream();
    const first = body.read();
    const err = await body.read().catch((e: unknown) => e);
    expect(hasCode(err, 'GN_ERR_HTTP_CONCURRENT_READ')).toBe(true);
    body.push(bytes(1));
    expect(await first).toEqual(bytes(1));
  });

  it('refuses pushes after end', () => {
    const body = new BodyStream();
    body.end();
    expect(body.push(bytes(1))).toBe(false);
    expect(body.received).toBe(0);
  });
});

describe('BodyStream: reading', () => {
  it('iterates chunks in order with for await, then ends', async () => {
    const body = new BodyStream();
    body.push(text('ab'));
    body.push(text('cd'));
    body.end();
    const seen: string[] = [];
    for await (const chunk of body) seen.push(new TextDecoder().decode(chunk));
    expect(seen).toEqual(['ab', 'cd']);
    expect(body.complete).toBe(true);
    expect(body.received).toBe(4);
  });

  it('resolves a pending read with null on end', async () => {
    const body = new BodyStream();
    const pending = body.read();
    body.end();
    expect(await pending).toBeNull();
  });

  it('concatenates chunks in bytes(), text() and json()', async () => {
    const body = new BodyStream();
    body.push(text('{"a":'));
    body.push(text('[1,2]}'));
    body.end();
    expect(await body.json()).toEqual({ a: [1, 2] });
  });

  it('gives an empty Uint8Array for an empty body', async () => {
    const body = BodyStream.empty();
    expect(body.expectedLength).toBe(0);
    expect(await body.bytes()).toEqual(new Uint8Array(0));
  });

  it('exposes trailers after the end, frozen', async () => {
    const body = new BodyStream();
    body.push(text('x'));
    body.end(new HeaderList({ 'x-checksum': 'abc' }));
    await body.bytes();
    expect(body.trailers?.get('x-checksum')).toBe('abc');
    expect(body.trailers?.readonly).toBe(true);
  });

  it('can be collected only once', async () => {
    const body = new BodyStream();
    body.push(new TextEncoder().encode('x'));
    body.end();
    expect(await body.text()).toBe('x');
    const err = await body.bytes().catch((e: unknown) => e);
    expect(hasCode(err, 'GN_ERR_HTTP_BODY_CONSUMED')).toBe(true);
  });

  it('shares one empty body that reads as empty any number of times', async () => {
    const body = BodyStream.empty();
    expect(BodyStream.empty()).toBe(body);
    expect(await body.text()).toBe('');
    expect((await body.bytes()).length).toBe(0);
    body.setLimit(1);
    expect(body.limit).toBeGreaterThan(1);
    expect(await body.read()).toBeNull();
  });

  it('calls onFirstRead once, on the first read (100-continue)', async () => {
    let calls = 0;
    const body = new BodyStream({ onFirstRead: () => calls++ });
    expect(calls).toBe(0);
    body.push(text('a'));
    body.push(text('b'));
    body.end();
    await body.read();
    await body.read();
    expect(calls).toBe(1);
  });
});

describe('BodyStream: limits and errors', () => {
  it('rejects bytes() over the limit with a 413 BodyTooLargeError', async () => {
    const body = new BodyStream({ limit: 4 });
    body.push(text('abc'));
    body.push(text('de'));
    body.end();
    const err = await body.bytes().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BodyTooLargeError);
    expect((err as BodyTooLargeError).status).toBe(413);
    expect(hasCode(err, 'GN_ERR_HTTP_BODY_TOO_LARGE')).toBe(true);
  });

  it('accepts a body of exactly the limit', async () => {
    const body = new BodyStream({ limit: 3 });
    body.push(text('abc'));
    body.end();
    expect(await body.text()).toBe('abc');
  });

  it('fails early when the announced length exceeds the limit, before reading anything', async () => {
    let firstRead = false;
    const body = new BodyStream({
      limit: 10,
      expectedLength: 11,
      onFirstRead: () => (firstRead = true),
    });
    await expect(body.text()).rejects.toBeInstanceOf(BodyTooLargeError);
    expect(firstRead).toBe(false);
    // The stream is failed, so the engine stops feeding it.
    expect(body.push(text('x'))).toBe(false);
  });

  it('applies a lowered limit from setLimit()', async () => {
    const body = new BodyStream();
    body.setLimit(2);
    expect(body.limit).toBe(2);
    body.push(text('abc'));
    body.end();
    await expect(body.bytes()).rejects.toMatchObject({ status: 413 });
  });

  it('rejects invalid UTF-8 in text() with 400', async () => {
    const body = new BodyStream();
    body.push(bytes(0x61, 0xff, 0x62));
    body.end();
    const err = await body.text().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HttpError);
    expect((err as HttpError).status).toBe(400);
    expect((err as HttpError).expose).toBe(true);
  });

  it('decodes a multi-byte character split across chunks', async () => {
    const body = new BodyStream();
    const euro = text('€');
    body.push(euro.subarray(0, 1));
    body.push(euro.subarray(1));
    body.end();
    expect(await body.text()).toBe('€');
  });

  it('rejects malformed JSON with 400 and a specific code', async () => {
    const body = new BodyStream();
    body.push(text('{"a":'));
    body.end();
    const err = await body.json().catch((e: unknown) => e);
    expect((err as HttpError).status).toBe(400);
    expect(hasCode(err, 'GN_ERR_HTTP_INVALID_JSON')).toBe(true);
  });

  it('fail() rejects a pending reader and every later read, dropping buffered data', async () => {
    const body = new BodyStream();
    const pending = body.read();
    const reason = new RequestAbortedError();
    body.fail(reason);
    await expect(pending).rejects.toBe(reason);
    await expect(body.read()).rejects.toBe(reason);
    await expect(body.bytes()).rejects.toBe(reason);

    const buffered = new BodyStream();
    buffered.push(text('lost'));
    buffered.fail(new GhostnetError('GN_ERR_TEST', 'gone'));
    expect(buffered.bufferedAmount).toBe(0);
    await expect(buffered.read()).rejects.toMatchObject({ code: 'GN_ERR_TEST' });
  });

  it('discard() drains the rest and resolves true, or false when the body failed', async () => {
    let pulls = 0;
    const body = new BodyStream({ highWaterMark: 1, onPull: () => pulls++ });
    body.push(text('ab'));
    const done = body.discard();
    body.push(text('cd'));
    body.end();
    expect(await done).toBe(true);
    expect(pulls).toBeGreaterThan(0);
    expect(body.bufferedAmount).toBe(0);

    const failing = new BodyStream();
    const result = failing.discard();
    failing.fail(new RequestAbortedError());
    expect(await result).toBe(false);
  });
});
