/**
 * Security headers: sets conservative defaults before the handler runs (a handler may
 * override any of them with `res.setHeader`). Pass `false` for a field to leave it out.
 *
 * - Strict-Transport-Security (RFC 6797), only on https requests (§7.2).
 * - Content-Security-Policy (W3C CSP Level 3).
 * - X-Content-Type-Options: nosniff (WHATWG Fetch §X-Content-Type-Options).
 * - X-Frame-Options (RFC 7034).
 * - Referrer-Policy (W3C Referrer Policy).
 * - Cross-Origin-Opener-Policy (WHATWG HTML).
 */
import { InvalidOptionError } from '../../../errors.js';
import type { Middleware } from '../types.js';
import { booleanOption, checkObject, integerOption, isFieldSafe } from './internal.js';

export interface HstsOptions {
  /**
   * Seconds the browser remembers to use https only.
   * @default 15552000 (180 days)
   */
  maxAge?: number;
  /** @default true */
  includeSubDomains?: boolean;
  /**
   * Adds `preload`; needs `includeSubDomains` and a max-age of at least one year
   * (the browsers' preload list requirements).
   * @default false
   */
  preload?: boolean;
}

export type ReferrerPolicy =
  | 'no-referrer'
  | 'no-referrer-when-downgrade'
  | 'origin'
  | 'origin-when-cross-origin'
  | 'same-origin'
  | 'strict-origin'
  | 'strict-origin-when-cross-origin'
  | 'unsafe-url';

export type CrossOriginOpenerPolicy = 'same-origin' | 'same-origin-allow-popups' | 'unsafe-none';

export interface SecurityHeadersOptions {
  /** @default { maxAge: 15552000, includeSubDomains: true, preload: false } */
  hsts?: HstsOptions | false;
  /** @default "default-src 'self'" */
  contentSecurityPolicy?: string | false;
  /** `X-Content-Type-Options: nosniff`. @default true */
  noSniff?: boolean;
  /** @default 'SAMEORIGIN' */
  frameOptions?: 'DENY' | 'SAMEORIGIN' | false;
  /** @default 'no-referrer' */
  referrerPolicy?: ReferrerPolicy | false;
  /** @default 'same-origin' */
  crossOriginOpenerPolicy?: CrossOriginOpenerPolicy | false;
}

const WHERE = 'securityHeaders()';
const ONE_YEAR = 31_536_000;
const REFERRER_POLICIES: ReadonlySet<string> = new Set<ReferrerPolicy>([
  'no-referrer',
  'no-referrer-when-downgrade',
  'origin',
  'origin-when-cross-origin',
  'same-origin',
  'strict-origin',
  'strict-origin-when-cross-origin',
  'unsafe-url',
]);
const COOP: ReadonlySet<string> = new Set([
  'same-origin',
  'same-origin-allow-popups',
  'unsafe-none',
]);

export function securityHeaders(options: SecurityHeadersOptions = {}): Middleware {
  checkObject(WHERE, options);
  const always: Array<[string, string]> = [];

  let hsts: string | undefined;
  if (options.hsts !== false) {
    const o = options.hsts ?? {};
    checkObject(`${WHERE} hsts`, o);
    const maxAge = integerOption(WHERE, 'hsts.maxAge', o.maxAge, 15_552_000, 0, 2 ** 31 - 1);
    const sub = booleanOption(WHERE, 'hsts.includeSubDomains', o.includeSubDomains, true);
    const preload = booleanOption(WHERE, 'hsts.preload', o.preload, false);
    if (preload && (!sub || maxAge < ONE_YEAR)) {
      throw new InvalidOptionError(
        `${WHERE}: hsts.preload needs includeSubDomains: true and maxAge >= ${ONE_YEAR}`,
      );
    }
    // RFC 6797 §6.1: max-age is required; includeSubDomains and preload are valueless.
    hsts = `max-age=${maxAge}${sub ? '; includeSubDomains' : ''}${preload ? '; preload' : ''}`;
  }

  const csp = options.contentSecurityPolicy ?? "default-src 'self'";
  if (csp !== false) {
    if (typeof csp !== 'string' || csp.trim() === '' || !isFieldSafe(csp)) {
      throw new InvalidOptionError(
        `${WHERE}: invalid contentSecurityPolicy; use a policy string without control characters, or false`,
      );
    }
    always.push(['Content-Security-Policy', csp]);
  }

  if (booleanOption(WHERE, 'noSniff', options.noSniff, true)) {
    always.push(['X-Content-Type-Options', 'nosniff']);
  }

  const frame = options.frameOptions ?? 'SAMEORIGIN';
  if (frame !== false) {
    if (frame !== 'DENY' && frame !== 'SAMEORIGIN') {
      // RFC 7034 §2.1: ALLOW-FROM is obsolete and ignored by browsers; use CSP frame-ancestors.
      throw new InvalidOptionError(
        `${WHERE}: invalid frameOptions; use 'DENY', 'SAMEORIGIN' or false (for allow-lists use CSP frame-ancestors)`,
      );
    }
    always.push(['X-Frame-Options', frame]);
  }

  const referrer = options.referrerPolicy ?? 'no-referrer';
  if (referrer !== false) {
    if (!REFERRER_POLICIES.has(referrer)) {
      throw new InvalidOptionError(
        `${WHERE}: invalid referrerPolicy; use one of ${[...REFERRER_POLICIES].join(', ')} or false`,
      );
    }
    always.push(['Referrer-Policy', referrer]);
  }

  const coop = options.crossOriginOpenerPolicy ?? 'same-origin';
  if (coop !== false) {
    if (!COOP.has(coop)) {
      throw new InvalidOptionError(
        `${WHERE}: invalid crossOriginOpenerPolicy; use one of ${[...COOP].join(', ')} or false`,
      );
    }
    always.push(['Cross-Origin-Opener-Policy', coop]);
  }

  return async function securityHeadersMiddleware(req, res, next) {
    if (!res.headersSent) {
      for (const [name, value] of always) res.headers.set(name, value);
      // RFC 6797 §7.2: an HSTS host MUST NOT send the STS field over non-secure transport.
      if (hsts !== undefined && req.scheme === 'https') {
        res.headers.set('Strict-Transport-Security', hsts);
      }
    }
    await next();
  };
}
