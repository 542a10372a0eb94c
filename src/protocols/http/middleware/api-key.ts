/**
 * API key authentication: the key comes in a request header (`X-Api-Key` by default) and
 * is checked against a set of keys (compared in constant time: every key is compared,
 * as SHA-256 digests, so neither the position of a difference nor which key matched shows
 * in timing) or by a function.
 *
 * A missing or unknown key answers 401. RFC 9110 §15.5.2 requires a WWW-Authenticate
 * challenge on every 401; API keys have no registered scheme, so the challenge is
 * `ApiKey header="<name>"`, which clients ignore and people can read.
 * On success `req.locals.auth` is `{ scheme: 'api-key' }` (or the function's result when
 * it returns an object).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { InvalidOptionError } from '../../../errors.js';
import type { HttpRequest, Middleware } from '../types.js';
import { checkObject, quote, sendPlain } from './internal.js';

export type ApiKeyCheck = (
  key: string,
  req: HttpRequest,
) => boolean | object | Promise<boolean | object>;

export interface ApiKeyOptions {
  /** The header carrying the key. @default 'x-api-key' */
  header?: string;
  /** Accepted keys, or a function deciding (it should compare with `safeEqual`). Required. */
  keys: ReadonlySet<string> | readonly string[] | ApiKeyCheck;
  /**
   * Longest key accepted, in characters.
   * @default 1024
   */
  maxKeyLength?: number;
}

const WHERE = 'apiKey()';
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

export function apiKey(options: ApiKeyOptions): Middleware {
  checkObject(WHERE, options);
  const header = options.header ?? 'x-api-key';
  if (typeof header !== 'string' || !TOKEN.test(header)) {
    throw new InvalidOptionError(`${WHERE}: invalid header; use a header name such as 'x-api-key'`);
  }
  const maxKeyLength = options.maxKeyLength ?? 1024;
  if (!Number.isInteger(maxKeyLength) || maxKeyLength < 1 || maxKeyLength > 65_536) {
    throw new InvalidOptionError(`${WHERE}: invalid maxKeyLength; use an integer from 1 to 65536`);
  }
  const keys = options.keys;
  let check: ApiKeyCheck;
  if (typeof keys === 'function') {
    check = keys;
  } else if (keys instanceof Set || Array.isArray(keys)) {
    const list = [...(keys as Iterable<unknown>)];
    if (list.length === 0 || list.some((k) => typeof k !== 'string' || k.length === 0)) {
      throw new InvalidOptionError(
        `${WHERE}: invalid keys; pass a non-empty Set of non-empty strings or a function`,
      );
    }
    const digests = (list as string[]).map(digest);
    check = (key) => {
      const d = digest(key);
      let found = false;
      // No early exit: the time taken does not tell which key (if any) matched.
      for (const candidate of digests) found = timingSafeEqual(candidate, d) || found;
      return found;
    };
  } else {
    throw new InvalidOptionError(`${WHERE}: pass { keys } as a Set of strings or a function`);
  }
  const challenge = `ApiKey header=${quote(header)}`;

  return async function apiKeyMiddleware(req, res, next) {
    const key = req.headers.get(header);
    let result: boolean | object = false;
    if (key !== undefined && key.length > 0 && key.length <= maxKeyLength) {
      result = await check(key, req);
    }
    if (result === false || result === null || (result as unknown) === undefined) {
      sendPlain(res, 401, 'A valid API key is required', { 'www-authenticate': challenge });
      return;
    }
    req.locals['auth'] = typeof result === 'object' ? result : { scheme: 'api-key' };
    await next();
  };
}
