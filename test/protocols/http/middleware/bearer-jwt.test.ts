import { createHmac, createPrivateKey, generateKeyPairSync, sign } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from '../../../../src/errors.js';
import { bearerJwt } from '../../../../src/protocols/http/middleware/bearer-jwt.js';
import type { BearerJwtOptions } from '../../../../src/protocols/http/middleware/bearer-jwt.js';
import { createExchange } from '../../../helpers/http-exchange.js';
import { chain } from './run.js';

const NOW_SEC = 1_700_000_000;
const SECRET = 'a-test-secret-that-is-32-bytes!!';
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });

function signToken(
  header: Record<string, unknown>,
  claims: Record<string, unknown>,
  key: { hs?: string; rsa?: KeyObject; ec?: KeyObject },
): string {
  const input = `${b64(header)}.${b64(claims)}`;
  let sig: Buffer;
  if (key.hs !== undefined) sig = createHmac('sha256', key.hs).update(input).digest();
  else if (key.rsa) sig = sign('sha256', Buffer.from(input), key.rsa);
  else sig = sign('sha256', Buffer.from(input), { key: key.ec!, dsaEncoding: 'ieee-p1363' });
  return `${input}.${sig.toString('base64url')}`;
}

const good = { sub: 'user-1', exp: NOW_SEC + 60, iss: 'https://issuer.example', aud: 'api' };

async function call(options: BearerJwtOptions, authorization?: string) {
  const headers: Record<string, string> = {};
  if (authorization !== undefined) headers['authorization'] = authorization;
  const { req, res, sink } = createExchange({ headers });
  let ran = false;
  await chain([bearerJwt({ now: () => NOW_SEC * 1000, ...options })], (_rq, r) => {
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

const hs: BearerJwtOptions = {
  algorithms: ['HS256'],
  secret: SECRET,
  issuer: 'https://issuer.example',
  audience: 'api',
};
const hsToken = (
  claims: Record<string, unknown>,
  header: Record<string, unknown> = { alg: 'HS256', typ: 'JWT' },
) => `Bearer ${signToken(header, claims, { hs: SECRET })}`;

describe('bearerJwt', () => {
  it('accepts a valid HS256 token and exposes its claims', async () => {
    const r = await call(hs, hsToken(good));
    expect(r.ran).toBe(true);
    expect(r.auth).toEqual(good);
  });

  it('accepts a valid RS256 token', async () => {
    const token = signToken({ alg: 'RS256' }, good, { rsa: rsa.privateKey });
    const r = await call(
      {
        algorithms: ['RS256'],
        publicKey: rsa.publicKey.export({ type: 'spki', format: 'pem' }) as string,
        audience: 'api',
      },
      `Bearer ${token}`,
    );
    expect(r.ran).toBe(true);
  });

  it('accepts a valid ES256 (r||s) token and rejects a DER signature', async () => {
    const token = signToken({ alg: 'ES256' }, good, { ec: ec.privateKey });
    expect(token.split('.')[2]!.length).toBe(86); // 64 bytes
    const options: BearerJwtOptions = {
      algorithms: ['ES256'],
      publicKey: ec.publicKey,
      audience: 'api',
    };
    expect((await call(options, `Bearer ${token}`)).ran).toBe(true);
    const input = `${b64({ alg: 'ES256' })}.${b64(good)}`;
    const der = sign('sha256', Buffer.from(input), ec.privateKey).toString('base64url');
    const r = await call(options, `Bearer ${input}.${der}`);
    expect(r.status).toBe(401);
    expect(r.challenge).toContain('error="invalid_token"');
  });

  it('answers 401 without an error code when no token is sent', async () => {
    const r = await call(hs);
    expect(r.ran).toBe(false);
    expect(r.status).toBe(401);
    expect(r.challenge).toBe('Bearer realm="api"');
    expect((await call(hs, 'Basic dXNlcjpwYXNz')).challenge).toBe('Bearer realm="api"');
  });

  it('accepts the scheme in any case', async () => {
    expect((await call(hs, hsToken(good).replace('Bearer', 'bEaReR'))).ran).toBe(true);
  });

  const rejects: Array<[string, string]> = [
    [
      'a tampered payload',
      hsToken(good).replace(/\.[^.]+\./, `.${b64({ ...good, sub: 'admin' })}.`),
    ],
    ['alg none', `Bearer ${b64({ alg: 'none' })}.${b64(good)}.`],
    [
      'alg not in the allow-list',
      `Bearer ${signToken({ alg: 'RS256' }, good, { rsa: rsa.privateKey })}`,
    ],
    [
      'a wrong secret',
      `Bearer ${signToken({ alg: 'HS256' }, good, { hs: 'another-secret-that-is-32-bytes!!' })}`,
    ],
    ['an expired token', hsToken({ ...good, exp: NOW_SEC })],
    ['a token without exp', hsToken({ ...good, exp: undefined })],
    ['a token not yet valid', hsToken({ ...good, nbf: NOW_SEC + 10 })],
    ['a wrong issuer', hsToken({ ...good, iss: 'https://evil.example' })],
    ['a wrong audience', hsToken({ ...good, aud: ['other'] })],
    ['a missing audience', hsToken({ ...good, aud: undefined })],
    ['a non-numeric exp', hsToken({ ...good, exp: String(NOW_SEC + 60) })],
    ['a crit header', hsToken(good, { alg: 'HS256', crit: ['exp'] })],
    ['garbage', 'Bearer not.a.jwt!'],
    ['two segments', 'Bearer abc.def'],
    [
      'a non-object payload',
      `Bearer ${b64({ alg: 'HS256' })}.${b64([1])}.${createHmac('sha256', SECRET)
        .update(`${b64({ alg: 'HS256' })}.${b64([1])}`)
        .digest('base64url')}`,
    ],
  ];
  for (const [name, authorization] of rejects) {
    it(`rejects ${name} with invalid_token`, async () => {
      const r = await call(hs, authorization);
      expect(r.ran).toBe(false);
      expect(r.status).toBe(401);
      expect(r.challenge).toMatch(
        /^Bearer realm="api", error="invalid_token", error_description="[^"]+"$/,
      );
      expect(r.auth).toBeUndefined();
    });
  }

  it('applies the clock tolerance to exp and nbf', async () => {
    const lenient = { ...hs, clockToleranceSec: 30 };
    expect((await call(lenient, hsToken({ ...good, exp: NOW_SEC - 10 }))).ran).toBe(true);
    expect((await call(lenient, hsToken({ ...good, nbf: NOW_SEC + 10 }))).ran).toBe(true);
    expect((await call(lenient, hsToken({ ...good, exp: NOW_SEC - 30 }))).ran).toBe(false);
  });

  it('rejects tokens carrying an aud when no audience is configured', async () => {
    const noAudience = { algorithms: ['HS256'] as const, secret: SECRET };
    expect((await call({ ...noAudience, algorithms: ['HS256'] }, hsToken(good))).ran).toBe(false);
    expect(
      (await call({ ...noAudience, algorithms: ['HS256'] }, hsToken({ ...good, aud: undefined })))
        .ran,
    ).toBe(true);
  });

  it('never treats a public key as an HMAC secret (algorithm confusion)', async () => {
    const pem = rsa.publicKey.export({ type: 'spki', format: 'pem' }) as string;
    const forged = signToken({ alg: 'HS256' }, good, { hs: pem });
    const r = await call(
      { algorithms: ['RS256'], publicKey: pem, audience: 'api' },
      `Bearer ${forged}`,
    );
    expect(r.ran).toBe(false);
  });

  it('validates its options', () => {
    expect(() => bearerJwt({ algorithms: [] })).toThrow(InvalidOptionError);
    expect(() => bearerJwt({ algorithms: ['none' as never] })).toThrow(/none/);
    expect(() => bearerJwt({ algorithms: ['HS256'] })).toThrow(/secret/);
    expect(() => bearerJwt({ algorithms: ['HS256'], secret: 'short' })).toThrow(/32 bytes/);
    expect(() => bearerJwt({ algorithms: ['RS256'], publicKey: ec.publicKey })).toThrow(/RSA/);
    expect(() => bearerJwt({ algorithms: ['ES256'], publicKey: rsa.publicKey })).toThrow(/P-256/);
    expect(() => bearerJwt({ algorithms: ['RS256'], publicKey: 'not a pem' })).toThrow(/publicKey/);
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 });
    expect(() => bearerJwt({ algorithms: ['RS256'], publicKey: small.publicKey })).toThrow(/2048/);
    expect(() =>
      bearerJwt({
        algorithms: ['ES256'],
        publicKey: createPrivateKey(ec.privateKey.export({ type: 'pkcs8', format: 'pem' })),
      }),
    ).not.toThrow();
  });
});
