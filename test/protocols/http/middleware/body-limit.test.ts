import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from '../../../../src/errors.js';
import { BodyTooLargeError } from '../../../../src/protocols/http/errors.js';
import { bodyLimit } from '../../../../src/protocols/http/middleware/body-limit.js';
import { createExchange } from '../../../helpers/http-exchange.js';
import { chain } from './run.js';

describe('bodyLimit', () => {
  it('answers 413 early when the announced length exceeds the limit', async () => {
    const { req, res, sink } = createExchange({ method: 'POST', body: 'x'.repeat(11) });
    let ran = false;
    await chain([bodyLimit({ maxBytes: 10 })], () => {
      ran = true;
    })(req, res);
    expect(ran).toBe(false);
    expect(sink.status).toBe(413);
    expect(sink.headers?.get('connection')).toBe('close');
    expect(req.body.received).toBe(11);
  });

  it('lets a body at the limit through', async () => {
    const { req, res, sink } = createExchange({ method: 'POST', body: 'x'.repeat(10) });
    await chain([bodyLimit({ maxBytes: 10 })], async (rq, r) => {
      r.text(String((await rq.text()).length));
    })(req, res);
    expect(sink.status).toBe(200);
    expect(sink.text()).toBe('10');
  });

  it('sets the body limit used by bytes() for bodies of unknown length', async () => {
    const { req, res } = createExchange({ method: 'POST' });
    await chain([bodyLimit({ maxBytes: 4 })])(req, res);
    expect(req.body.limit).toBe(4);
  });

  it('makes bytes() fail with 413 for an over-long stream', async () => {
    const { req, res } = createExchange({ method: 'POST', body: ['ab', 'cd', 'ef'] });
    // The harness announces the real length; drop it to model a chunked body.
    Object.defineProperty(req.body, 'expectedLength', { value: undefined });
    let error: unknown;
    await chain([bodyLimit({ maxBytes: 5 })], async (rq) => {
      error = await rq.bytes().catch((e: unknown) => e);
    })(req, res);
    expect(error).toBeInstanceOf(BodyTooLargeError);
  });

  it('does not add Connection: close on HTTP/2', async () => {
    const { req, res, sink } = createExchange({ method: 'POST', body: 'xx', protocol: 'h2' });
    await chain([bodyLimit({ maxBytes: 1 })])(req, res);
    expect(sink.status).toBe(413);
    expect(sink.headers?.has('connection')).toBe(false);
  });

  it('validates maxBytes', () => {
    expect(() => bodyLimit({ maxBytes: -1 })).toThrow(InvalidOptionError);
    expect(() => bodyLimit({ maxBytes: 1.5 })).toThrow(/non-negative integer/);
    expect(() => bodyLimit({} as never)).toThrow(InvalidOptionError);
  });
});
