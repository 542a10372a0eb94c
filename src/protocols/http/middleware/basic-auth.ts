/**
 * HTTP Basic authentication (RFC 7617).
 *
 * Parses `Authorization: Basic <base64(user-id ":" password)>` (§2), decodes it as UTF-8
 * (the `charset="UTF-8"` the challenge announces, §2.1) and calls `verify`. Missing or
 * rejected credentials answer 401 with `WWW-Authenticate: Basic realm="…", charset="UTF-8"`
 * (§2; RFC 9110 §15.5.2 requires the challenge on every 401). On success
 * `req.locals.auth` is `{ scheme: 'basic', user }`.
 *
 * `verify` should compare passwords with `safeEqual` (or a password-hash check) rather
 * than `===`, which leaks timing.
 */
import { InvalidOptionError } from '../../../errors.js';
import type { HttpRequest, Middleware } from '../types.js';
import { checkObject, isFieldSafe, quote, sendPlain } from './internal.js';

export interface BasicAuthOptions {
  /** The protection space shown by browsers (RFC 7617 §2, RFC 9110 §11.5). Required. */
  realm: string;
  /** Decides whether the credentials are valid. Required. */
  verify: (user: string, password: string, req: HttpRequest) => boolean | Promise<boolean>;
  /**
   * Longest Authorization value accepted, in characters.
   * @default 4096
   */
  maxCredentialsLength?: number;
}

const WHERE = 'basicAuth()';
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\0-\x1f\x7f]/;

export function basicAuth(options: BasicAuthOptions): Middleware {
  checkObject(WHERE, options);
  const { realm, verify } = options;
  if (typeof realm !== 'string' || realm === '' || !isFieldSafe(realm)) {
    throw new InvalidOptionError(
      `${WHERE}: pass { realm } as a non-empty string without control characters`,
    );
  }
  if (typeof verify !== 'function') {
    throw new InvalidOptionError(`${WHERE}: pass { verify(user, password) } returning a boolean`);
  }
  const maxLength = options.maxCredentialsLength ?? 4096;
  if (!Number.isInteger(maxLength) || maxLength < 16 || maxLength > 65_536) {
    throw new InvalidOptionError(
      `${WHERE}: invalid maxCredentialsLength; use an integer from 16 to 65536`,
    );
  }
  const challenge = `Basic realm=${quote(realm)}, charset="UTF-8"`;

  return async function basicAuthMiddleware(req, res, next) {
    const credentials = parseBasic(req.headers.get('authorization'), maxLength);
    if (credentials === undefined || !(await verify(credentials[0], credentials[1], req))) {
      sendPlain(res, 401, 'Authentication required', { 'www-authenticate': challenge });
      return;
    }
    req.locals['auth'] = { scheme: 'basic', user: credentials[0] };
    await next();
  };
}

/** `[user, password]` from a Basic Authorization value, or undefined when malformed. */
export function parseBasic(
  authorization: string | undefined,
  maxLength = 4096,
): [user: string, password: string] | undefined {
  if (authorization === undefined || authorization.length > maxLength) return undefined;
  // RFC 9110 §11.1: the scheme name is case-insensitive.
  const match = /^Basic +([A-Za-z0-9+/=]+) *$/i.exec(authorization);
  if (match === null || !BASE64.test(match[1]!) || match[1]!.length % 4 !== 0) return undefined;
  let decoded: string;
  try {
    decoded = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(match[1]!, 'base64'));
  } catch {
    return undefined;
  }
  // RFC 7617 §2: the user-id cannot contain ':'; the password may. Control characters
  // are not allowed in either.
  const colon = decoded.indexOf(':');
  if (colon < 0 || CONTROL.test(decoded)) return undefined;
  return [decoded.slice(0, colon), decoded.slice(colon + 1)];
}
