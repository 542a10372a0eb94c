/**
 * CORS (WHATWG Fetch §3.2, "CORS protocol").
 *
 * - A request without `Origin` is not a CORS request and passes through untouched.
 * - A request whose origin is not allowed gets no CORS fields (the browser then blocks
 *   the response) and is otherwise handled normally.
 * - A preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) from an
 *   allowed origin is answered here with 204: Allow-Origin, Allow-Methods, Allow-Headers
 *   (the configured list, or the requested headers reflected), Max-Age and, when enabled,
 *   Allow-Credentials. The handler chain is not run for it.
 * - An actual request from an allowed origin gets Allow-Origin, Expose-Headers and, when
 *   enabled, Allow-Credentials, then runs the chain.
 * - With credentials the wildcard is never sent (Fetch forbids `*` with credentials): the
 *   request's origin is echoed, with `Vary: Origin`. Any answer that depends on the origin
 *   carries `Vary: Origin`, so caches keep one copy per origin.
 */
import { InvalidOptionError } from '../../../errors.js';
import type { HttpRequest, Middleware } from '../types.js';
import { appendVary, booleanOption, checkObject, integerOption } from './internal.js';

export type CorsOriginMatcher = (origin: string, req: HttpRequest) => boolean;

export interface CorsOptions {
  /**
   * Allowed origins: `'*'` (any), one origin (`'https://a.example'`), a list of origins and
   * RegExps, a RegExp tested against the whole Origin value, or a function.
   * Origins are compared exactly (scheme, host and port, no trailing slash).
   * @default '*'
   */
  origins?: '*' | string | RegExp | ReadonlyArray<string | RegExp> | CorsOriginMatcher;
  /**
   * Methods allowed in a preflight.
   * @default ['GET', 'HEAD', 'PUT', 'PATCH', 'POST', 'DELETE']
   */
  methods?: readonly string[];
  /**
   * Request headers allowed in a preflight. When omitted, the headers the preflight asks
   * for are reflected (with `Vary: Access-Control-Request-Headers`).
   * @default undefined (reflect)
   */
  allowedHeaders?: readonly string[];
  /**
   * Response headers scripts may read beyond the CORS-safelisted ones.
   * @default []
   */
  exposedHeaders?: readonly string[];
  /**
   * Allow cookies and HTTP authentication (`Access-Control-Allow-Credentials: true`).
   * @default false
   */
  credentials?: boolean;
  /**
   * Seconds a browser may cache a preflight answer (browsers cap it: 7200 in Chromium).
   * @default 600
   */
  maxAge?: number;
}

const WHERE = 'cors()';
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Bound on a reflected Access-Control-Request-Headers value. */
const MAX_REFLECTED_HEADERS_LENGTH = 2048;

function tokenList(name: string, value: unknown, fallback: readonly string[]): string[] {
  if (value === undefined) return [...fallback];
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' || !TOKEN.test(v))) {
    throw new InvalidOptionError(
      `${WHERE}: invalid ${name}; use an array of header or method names`,
    );
  }
  return [...(value as string[])];
}

function compileOrigins(value: CorsOptions['origins']): CorsOriginMatcher | '*' {
  if (value === undefined || value === '*') return '*';
  if (typeof value === 'function') return value;
  const list = Array.isArray(value) ? value : [value];
  const exact = new Set<string>();
  const patterns: RegExp[] = [];
  for (const item of list as ReadonlyArray<unknown>) {
    if (item instanceof RegExp) patterns.push(item);
    else if (typeof item === 'string' && item !== '*' && item.length > 0)
      exact.add(item.toLowerCase());
    else {
      throw new InvalidOptionError(
        `${WHERE}: invalid origins entry ${String(item)}; use '*' alone, origin strings like 'https://a.example', RegExps or a function`,
      );
    }
  }
  return (origin) => {
    if (exact.has(origin.toLowerCase())) return true;
    for (const re of patterns) {
      re.lastIndex = 0;
      const m = re.exec(origin);
      if (m !== null && m.index === 0 && m[0].length === origin.length) return true;
    }
    return false;
  };
}

export function cors(options: CorsOptions = {}): Middleware {
  checkObject(WHERE, options);
  const origins = compileOrigins(options.origins);
  const methods = tokenList('methods', options.methods, [
    'GET',
    'HEAD',
    'PUT',
    'PATCH',
    'POST',
    'DELETE',
  ]);
  const allowed =
    options.allowedHeaders === undefined
      ? undefined
      : tokenList('allowedHeaders', options.allowedHeaders, []);
  const exposed = tokenList('exposedHeaders', options.exposedHeaders, []);
  const credentials = booleanOption(WHERE, 'credentials', options.credentials, false);
  const maxAge = integerOption(WHERE, 'maxAge', options.maxAge, 600, 0, 86_400);
  if (credentials && (methods.includes('*') || allowed?.includes('*') || exposed.includes('*'))) {
    // Fetch §3.2.5: with credentials, '*' in these fields is a literal name, not a wildcard.
    throw new InvalidOptionError(
      `${WHERE}: with credentials, list methods and headers by name instead of '*'`,
    );
  }
  const methodsValue = methods.join(', ');
  const allowedValue = allowed?.join(', ');
  const exposedValue = exposed.length > 0 ? exposed.join(', ') : undefined;
  // The answer depends on the Origin unless any origin gets the same literal '*'.
  const varies = origins !== '*' || credentials;

  return async function corsMiddleware(req, res, next) {
    const origin = req.headers.get('origin');
    if (varies && !res.headersSent) appendVary(res, 'Origin');
    const preflight = req.method === 'OPTIONS' && req.headers.has('access-control-request-method');
    if (origin === undefined || res.headersSent) {
      await next();
      return;
    }
    const ok = origins === '*' || origins(origin, req);
    if (!ok) {
      await next();
      return;
    }
    res.headers.set('access-control-allow-origin', varies ? origin : '*');
    if (credentials) res.headers.set('access-control-allow-credentials', 'true');

    if (preflight) {
      res.headers.set('access-control-allow-methods', methodsValue);
      let headers = allowedValue;
      if (headers === undefined) {
        appendVary(res, 'Access-Control-Request-Headers');
        const asked = req.headers.get('access-control-request-headers');
        if (asked !== undefined && asked.length <= MAX_REFLECTED_HEADERS_LENGTH) {
          const names = asked
            .split(',')
            .map((s) => s.trim())
            .filter((s) => s.length > 0);
          if (names.every((n) => TOKEN.test(n))) headers = names.join(', ');
        }
      }
      if (headers !== undefined && headers.length > 0) {
        res.headers.set('access-control-allow-headers', headers);
      }
      res.headers.set('access-control-max-age', maxAge);
      res.status = 204;
      res.end();
      return;
    }
    if (exposedValue !== undefined) res.headers.set('access-control-expose-headers', exposedValue);
    await next();
  };
}
