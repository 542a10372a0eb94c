/**
 * Bearer JWT authentication: verifies a JWS compact-serialised JWT (RFC 7515, RFC 7519)
 * from `Authorization: Bearer <token>` (RFC 6750 §2.1) with node:crypto, and puts its
 * claims in `req.locals.auth`.
 *
 * - Algorithms: HS256 (HMAC SHA-256, compared with `timingSafeEqual`), RS256
 *   (RSASSA-PKCS1-v1_5 with SHA-256) and ES256 (ECDSA P-256 with SHA-256, whose JWS
 *   signature is the 64-byte r||s, RFC 7518 §3.4). Only the listed algorithms are
 *   accepted; `none` never is (RFC 8725 §3.1). HS256 is checked only against `secret`,
 *   RS256/ES256 only against `publicKey`, so a public key can never be used as an HMAC
 *   secret (RFC 8725 §2.1 algorithm confusion).
 * - Claims (RFC 7519 §4.1): `exp` and `nbf` with `clockToleranceSec` leeway; `iss` and
 *   `aud` against the configured values. `exp` is required by default.
 * - A missing token answers 401 with `WWW-Authenticate: Bearer realm="…"` and no error
 *   code (RFC 6750 §3.1); a bad one answers 401 with `error="invalid_token"` (RFC 6750
 *   §3, §3.1).
 */
import {
  KeyObject,
  constants as cryptoConstants,
  createHmac,
  createPublicKey,
  createSecretKey,
  timingSafeEqual,
  verify as cryptoVerify,
} from 'node:crypto';
import { InvalidOptionError } from '../../../errors.js';
import type { Middleware } from '../types.js';
import {
  booleanOption,
  checkObject,
  functionOption,
  integerOption,
  isFieldSafe,
  numberOption,
  quote,
  sendPlain,
} from './internal.js';

export type JwtAlgorithm = 'HS256' | 'RS256' | 'ES256';

export interface JwtClaims {
  iss?: string;
  sub?: string;
  aud?: string | string[];
  exp?: number;
  nbf?: number;
  iat?: number;
  jti?: string;
  [claim: string]: unknown;
}

export interface BearerJwtOptions {
  /** Accepted `alg` values. Required, non-empty. */
  algorithms: readonly JwtAlgorithm[];
  /**
   * The HS256 key: at least 32 bytes (RFC 7518 §3.2). Required with HS256.
   * @default undefined
   */
  secret?: string | Uint8Array | KeyObject;
  /**
   * The RS256 (RSA ≥ 2048 bits) or ES256 (P-256) public key, PEM or KeyObject (a private
   * key is accepted and its public half used). Required with RS256 or ES256.
   * @default undefined
   */
  publicKey?: string | Uint8Array | KeyObject;
  /**
   * Accepted `iss` value(s); when set, tokens must carry one of them.
   * @default undefined (any issuer)
   */
  issuer?: string | readonly string[];
  /**
   * Audience value(s) identifying this service. When set, `aud` must contain one. When
   * unset, tokens that carry an `aud` are rejected (RFC 7519 §4.1.3).
   * @default undefined
   */
  audience?: string | readonly string[];
  /**
   * Leeway for `exp` and `nbf`, in seconds.
   * @default 0
   */
  clockToleranceSec?: number;
  /**
   * Reject tokens without `exp`.
   * @default true
   */
  requireExp?: boolean;
  /** `realm` of the WWW-Authenticate challenge. @default 'api' */
  realm?: string;
  /**
   * Longest token accepted, in characters.
   * @default 8192
   */
  maxTokenLength?: number;
  /** Milliseconds since the Unix epoch (a fake clock in tests). @default Date.now */
  now?: () => number;
}

/** Why a token was refused (the `error_description` sent, and for tests). */
export type JwtFailure =
  | 'malformed token'
  | 'algorithm not allowed'
  | 'unsupported critical header'
  | 'invalid signature'
  | 'token expired'
  | 'token missing exp'
  | 'token not yet valid'
  | 'invalid issuer'
  | 'invalid audience'
  | 'invalid claims';

const WHERE = 'bearerJwt()';
const ALGORITHMS: ReadonlySet<string> = new Set(['HS256', 'RS256', 'ES256']);
const B64URL = /^[A-Za-z0-9_-]+$/;

function stringList(name: string, value: unknown): readonly string[] | undefined {
  if (value === undefined) return undefined;
  const list = typeof value === 'string' ? [value] : value;
  if (
    !Array.isArray(list) ||
    list.length === 0 ||
    list.some((v) => typeof v !== 'string' || v === '')
  ) {
    throw new InvalidOptionError(
      `${WHERE}: invalid ${name}; use a non-empty string or list of strings`,
    );
  }
  return list as string[];
}

function loadPublicKey(value: unknown): KeyObject {
  if (value instanceof KeyObject) {
    if (value.type === 'public') return value;
    if (value.type === 'private') return createPublicKey(value);
  } else if (typeof value === 'string' || value instanceof Uint8Array) {
    try {
      return createPublicKey(typeof value === 'string' ? value : Buffer.from(value));
    } catch {
      // fall through to the error below
    }
  }
  throw new InvalidOptionError(`${WHERE}: invalid publicKey; pass a PEM public key or a KeyObject`);
}

export function bearerJwt(options: BearerJwtOptions): Middleware {
  checkObject(WHERE, options);
  const algorithms = options.algorithms;
  if (
    !Array.isArray(algorithms) ||
    algorithms.length === 0 ||
    algorithms.some((a) => !ALGORITHMS.has(a as string))
  ) {
    throw new InvalidOptionError(
      `${WHERE}: invalid algorithms; list one or more of HS256, RS256, ES256 ('none' is never accepted)`,
    );
  }
  const allowed = new Set<string>(algorithms);

  let secret: KeyObject | undefined;
  if (allowed.has('HS256')) {
    const raw = options.secret;
    if (raw instanceof KeyObject) {
      if (raw.type !== 'secret')
        throw new InvalidOptionError(`${WHERE}: HS256 needs a secret key, not a ${raw.type} key`);
      secret = raw;
    } else if (typeof raw === 'string' || raw instanceof Uint8Array) {
      secret = createSecretKey(
        typeof raw === 'string' ? Buffer.from(raw, 'utf8') : Buffer.from(raw),
      );
    } else {
      throw new InvalidOptionError(
        `${WHERE}: HS256 needs { secret } (a string, bytes or secret KeyObject)`,
      );
    }
    // RFC 7518 §3.2: a key of the same size as the hash output (256 bits) or larger MUST be used.
    if ((secret.symmetricKeySize ?? 0) < 32) {
      throw new InvalidOptionError(
        `${WHERE}: the HS256 secret must be at least 32 bytes (RFC 7518 §3.2)`,
      );
    }
  }

  let publicKey: KeyObject | undefined;
  if (allowed.has('RS256') || allowed.has('ES256')) {
    if (allowed.has('RS256') && allowed.has('ES256')) {
      throw new InvalidOptionError(
        `${WHERE}: one publicKey cannot serve both RS256 and ES256; use two middleware or pick one`,
      );
    }
    publicKey = loadPublicKey(options.publicKey);
    const kind = publicKey.asymmetricKeyType;
    if (allowed.has('RS256')) {
      if (kind !== 'rsa')
        throw new InvalidOptionError(
          `${WHERE}: RS256 needs an RSA public key, got ${String(kind)}`,
        );
      // RFC 7518 §3.3: a key of size 2048 bits or larger MUST be used.
      const bits = publicKey.asymmetricKeyDetails?.modulusLength ?? 0;
      if (bits < 2048)
        throw new InvalidOptionError(
          `${WHERE}: RS256 needs an RSA key of at least 2048 bits (RFC 7518 §3.3)`,
        );
    } else {
      const curve = publicKey.asymmetricKeyDetails?.namedCurve;
      if (kind !== 'ec' || curve !== 'prime256v1') {
        throw new InvalidOptionError(
          `${WHERE}: ES256 needs an EC P-256 public key (RFC 7518 §3.4)`,
        );
      }
    }
  }

  const issuers = stringList('issuer', options.issuer);
  const audiences = stringList('audience', options.audience);
  const tolerance = numberOption(
    WHERE,
    'clockToleranceSec',
    options.clockToleranceSec,
    0,
    86_400,
    true,
  );
  const requireExp = booleanOption(WHERE, 'requireExp', options.requireExp, true);
  const maxLength = integerOption(
    WHERE,
    'maxTokenLength',
    options.maxTokenLength,
    8192,
    16,
    1_048_576,
  );
  const now = functionOption<() => number>(WHERE, 'now', options.now) ?? (() => Date.now());
  const realm = options.realm ?? 'api';
  if (typeof realm !== 'string' || !isFieldSafe(realm)) {
    throw new InvalidOptionError(
      `${WHERE}: invalid realm; use a string without control characters`,
    );
  }
  const challenge = `Bearer realm=${quote(realm)}`;

  const verifyToken = (token: string): JwtClaims | JwtFailure => {
    if (token.length > maxLength) return 'malformed token';
    const parts = token.split('.');
    if (
      parts.length !== 3 ||
      !B64URL.test(parts[0]!) ||
      !B64URL.test(parts[1]!) ||
      !/^[A-Za-z0-9_-]*$/.test(parts[2]!)
    ) {
      return 'malformed token';
    }
    const header = parseJsonObject(parts[0]!);
    if (header === undefined) return 'malformed token';
    const alg = header['alg'];
    if (typeof alg !== 'string' || !allowed.has(alg)) return 'algorithm not allowed';
    // RFC 7515 §4.1.11: critical extensions we do not understand MUST make the JWS invalid.
    if (header['crit'] !== undefined) return 'unsupported critical header';
    const signingInput = Buffer.from(`${parts[0]}.${parts[1]}`, 'ascii');
    const signature = Buffer.from(parts[2]!, 'base64url');
    if (!checkSignature(alg as JwtAlgorithm, signingInput, signature, secret, publicKey)) {
      return 'invalid signature';
    }
    const claims = parseJsonObject(parts[1]!) as JwtClaims | undefined;
    if (claims === undefined) return 'malformed token';
    return checkClaims(claims, now() / 1000, tolerance, requireExp, issuers, audiences);
  };

  return async function bearerJwtMiddleware(req, res, next) {
    const authorization = req.headers.get('authorization');
    const match = authorization === undefined ? null : /^Bearer +([^\s,]+) *$/i.exec(authorization);
    if (match === null) {
      // RFC 6750 §3.1: no error code when the request carried no authentication.
      sendPlain(res, 401, 'Authentication required', { 'www-authenticate': challenge });
      return;
    }
    const result = verifyToken(match[1]!);
    if (typeof result === 'string') {
      sendPlain(res, 401, 'Invalid token', {
        'www-authenticate': `${challenge}, error="invalid_token", error_description=${quote(result)}`,
      });
      return;
    }
    req.locals['auth'] = result;
    await next();
  };
}

function parseJsonObject(segment: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return value !== null && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

function checkSignature(
  alg: JwtAlgorithm,
  input: Buffer,
  signature: Buffer,
  secret: KeyObject | undefined,
  publicKey: KeyObject | undefined,
): boolean {
  try {
    if (alg === 'HS256') {
      if (!secret) return false;
      const expected = createHmac('sha256', secret).update(input).digest();
      return signature.length === expected.length && timingSafeEqual(signature, expected);
    }
    if (!publicKey) return false;
    if (alg === 'RS256') {
      if (publicKey.asymmetricKeyType !== 'rsa') return false;
      return cryptoVerify(
        'sha256',
        input,
        { key: publicKey, padding: cryptoConstants.RSA_PKCS1_PADDING },
        signature,
      );
    }
    // RFC 7518 §3.4: the signature is the 32-byte R followed by the 32-byte S.
    if (publicKey.asymmetricKeyType !== 'ec' || signature.length !== 64) return false;
    return cryptoVerify('sha256', input, { key: publicKey, dsaEncoding: 'ieee-p1363' }, signature);
  } catch {
    return false;
  }
}

function isNumericDate(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

/** RFC 7519 §4.1 registered-claim checks; `nowSec` in seconds. */
export function checkClaims(
  claims: JwtClaims,
  nowSec: number,
  toleranceSec: number,
  requireExp: boolean,
  issuers: readonly string[] | undefined,
  audiences: readonly string[] | undefined,
): JwtClaims | JwtFailure {
  for (const name of ['exp', 'nbf', 'iat'] as const) {
    if (claims[name] !== undefined && !isNumericDate(claims[name])) return 'invalid claims';
  }
  if (claims.exp === undefined) {
    if (requireExp) return 'token missing exp';
  } else if (nowSec >= claims.exp + toleranceSec) {
    // §4.1.4: the current time MUST be before the expiration time.
    return 'token expired';
  }
  // §4.1.5: the current time MUST be after or equal to the not-before time.
  if (claims.nbf !== undefined && nowSec + toleranceSec < claims.nbf) return 'token not yet valid';
  if (issuers !== undefined && (typeof claims.iss !== 'string' || !issuers.includes(claims.iss))) {
    return 'invalid issuer';
  }
  if (claims.aud !== undefined) {
    const aud = typeof claims.aud === 'string' ? [claims.aud] : claims.aud;
    if (!Array.isArray(aud) || aud.some((a) => typeof a !== 'string')) return 'invalid audience';
    // §4.1.3: a recipient that does not identify itself with a value in "aud" MUST reject.
    if (audiences === undefined || !aud.some((a) => audiences.includes(a)))
      return 'invalid audience';
  } else if (audiences !== undefined) {
    return 'invalid audience';
  }
  return claims;
}
