import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from '../../../../src/errors.js';
import { basicAuth, parseBasic } from '../../../../src/protocols/http/middleware/basic-auth.js';
import { safeEqual } from '../../../../src/protocols/http/middleware/constant-time.js';
import { createExchange } from '../../../helpers/http-exchange.js';
import { chain } from './run.js';

const basic = (userPass: string) => `Basic ${Buffer.from(userPass, 'utf8').toString('base64')}`;

async function call(authorization?: string) {
  const headers: Record<string, string> = {};
  if (authorization !== undefined) headers['authorization'] = authorization;
  const { req, res, sink } = createExchange({ headers });
  let ran = false;
  const verify = (user: string, pass: string) => user === 'Ünïcode' && safeEqual(pass, 'p:ss wörd');
  await chain([basicAuth({ realm: 'Admin "area"', verify })], (_rq, r) => {
    ran = true;
    r.end();
  })(req, res);
  return {
    ran,
    status: sink.status,
    challenge: sink.headers?.get('www-authenticate'),
    auth: req.locals['auth'],
  };
}

describe('basicAuth', () => {
  it('accepts valid UTF-8 credentials whose password contains a colon', async () => {
    const r = await call(basic('Ünïcode:p:ss wörd'));
    expect(r.ran).toBe(true);
    expect(r.auth).toEqual({ scheme: 'basic', user: 'Ünïcode' });
  });

  it('challenges with realm and charset (RFC 7617)', async () => {
    for (const auth of [
      undefined,
      basic('Ünïcode:wrong'),
      'Bearer abc',
      'Basic !!!',
      basic('no-colon'),
    ]) {
      const r = await call(auth);
      expect(r.ran).toBe(false);
      expect(r.status).toBe(401);
      expect(r.challenge).toBe('Basic realm="Admin \\"area\\"", charset="UTF-8"');
    }
  });

  it('parses strictly', () => {
    expect(parseBasic('basic dXNlcjpwYXNz')).toEqual(['user', 'pass']);
    expect(parseBasic('Basic dXNlcjpwYXNz=')).toBeUndefined(); // bad padding
    expect(
      parseBasic(`Basic ${Buffer.from([0x75, 0x3a, 0xff]).toString('base64')}`),
    ).toBeUndefined();
    expect(parseBasic(basic('us\ner:pass'))).toBeUndefined();
    expect(parseBasic(basic('user:pass'), 10)).toBeUndefined();
  });

  it('validates its options', () => {
    expect(() => basicAuth({ realm: '', verify: () => true })).toThrow(InvalidOptionError);
    expect(() => basicAuth({ realm: 'a\nb', verify: () => true })).toThrow(InvalidOptionError);
    expect(() => basicAuth({ realm: 'a' } as never)).toThrow(/verify/);
  });
});
