/**
 * An in-memory cookie store for the HTTP client (RFC 6265): parses Set-Cookie (§5.2),
 * stores with domain/path defaults and the host-only flag (§5.3), and builds the Cookie
 * header (§5.4) with domain matching, path matching, Secure and expiry. Time comes from an
 * injected clock (STYLE §2). Size is bounded: per cookie, per domain and in total; the
 * least recently used cookies are evicted first (§6.1).
 *
 * Not implemented: the public suffix list. As a stand-in, a Domain attribute naming a
 * single label (`com`, `localhost` for another host) is rejected, which stops the most
 * common supercookies but not `co.uk`-style ones.
 */
import { InvalidOptionError } from '../../errors.js';

export interface CookieJarOptions {
  /**
   * Cookies stored in total; beyond it the least recently used is evicted.
   * @default 3000 (RFC 6265 §6.1 asks for at least 3000)
   */
  maxCookies?: number;
  /**
   * Cookies per domain; beyond it that domain's least recently used is evicted.
   * @default 50 (RFC 6265 §6.1 asks for at least 50)
   */
  maxCookiesPerDomain?: number;
  /**
   * Largest name + value + attributes of one Set-Cookie line; longer ones are ignored.
   * @default 4096 (RFC 6265 §6.1 asks for at least 4096)
   */
  maxCookieBytes?: number;
}

export interface CookieJarComponents {
  /** Current time in ms since the epoch. @default Date.now */
  now?: () => number;
}

/** A stored cookie (RFC 6265 §5.3). */
export interface Cookie {
  readonly name: string;
  readonly value: string;
  readonly domain: string;
  readonly path: string;
  /** Expiry time in ms, or undefined for a session cookie. */
  readonly expires: number | undefined;
  readonly secure: boolean;
  readonly httpOnly: boolean;
  readonly hostOnly: boolean;
  readonly sameSite: string | undefined;
  readonly creationTime: number;
  readonly lastAccessTime: number;
}

type MutableCookie = { -readonly [K in keyof Cookie]: Cookie[K] };

const DEFAULTS = { maxCookies: 3000, maxCookiesPerDomain: 50, maxCookieBytes: 4096 };
/** Latest date representable (RFC 6265 §5.2.1/§5.2.2 cap expiry at the latest date). */
const MAX_DATE = 8.64e15;

function positive(name: string, v: number | undefined, d: number): number {
  if (v === undefined) return d;
  if (!Number.isSafeInteger(v) || v < 1) {
    throw new InvalidOptionError(`${name} must be a positive integer, got ${String(v)}`);
  }
  return v;
}

export class CookieJar {
  readonly #now: () => number;
  readonly #maxCookies: number;
  readonly #maxPerDomain: number;
  readonly #maxBytes: number;
  /** Keyed by `domain;path;name` (RFC 6265 §5.3 step 11 identity). */
  readonly #cookies = new Map<string, MutableCookie>();
  /** Creation times must be distinct for the §5.4 ordering; bumped when the clock repeats. */
  #lastCreation = -Infinity;

  constructor(components: CookieJarComponents = {}, options: CookieJarOptions = {}) {
    this.#now = components.now ?? Date.now;
    this.#maxCookies = positive('maxCookies', options.maxCookies, DEFAULTS.maxCookies);
    this.#maxPerDomain = positive(
      'maxCookiesPerDomain',
      options.maxCookiesPerDomain,
      DEFAULTS.maxCookiesPerDomain,
    );
    this.#maxBytes = positive('maxCookieBytes', options.maxCookieBytes, DEFAULTS.maxCookieBytes);
  }

  /** Unexpired cookies stored. */
  get size(): number {
    this.#purgeExpired();
    return this.#cookies.size;
  }

  /**
   * Store the cookie of one Set-Cookie value received from `url`. Returns false when it
   * was ignored (malformed, too large, wrong domain) or deleted (expired).
   * `http: false` is a non-HTTP API (RFC 6265 §5.3 step 10: it cannot touch HttpOnly).
   */
  setCookie(setCookie: string, url: URL | string, options: { http?: boolean } = {}): boolean {
    const u = typeof url === 'string' ? new URL(url) : url;
    const http = options.http ?? true;
    if (setCookie.length > this.#maxBytes) return false;
    const parsed = parseSetCookie(setCookie);
    if (parsed === undefined) return false;
    const now = this.#now();
    const host = canonicalHost(u.hostname);

    // §5.3 step 3: Max-Age wins over Expires.
    let expires: number | undefined;
    if (parsed.maxAge !== undefined) {
      expires = parsed.maxAge <= 0 ? -Infinity : Math.min(now + parsed.maxAge * 1000, MAX_DATE);
    } else if (parsed.expires !== undefined) {
      expires = parsed.expires;
    }

    // §5.3 steps 4–6: domain.
    let domain = parsed.domain ?? '';
    let hostOnly: boolean;
    if (domain !== '') {
      if (domain !== host && (isIpLiteral(host) || !domainMatch(host, domain))) return false;
      // Stand-in for the public-suffix check (§5.3 step 5): no single-label domains.
      if (domain !== host && !domain.includes('.')) return false;
      hostOnly = false;
    } else {
      hostOnly = true;
      domain = host;
    }
    // §5.3 step 7: default-path.
    const path = parsed.path ?? defaultPath(u.pathname);
    if (parsed.httpOnly && !http) return false;

    const key = `${domain};${path};${parsed.name}`;
    const old = this.#cookies.get(key);
    // §5.3 step 11.2: a non-HTTP API cannot replace an HttpOnly cookie.
    if (old !== undefined && old.httpOnly && !http) return false;
    if (expires !== undefined && expires <= now) {
      this.#cookies.delete(key);
      return false;
    }
    // §5.3 step 11.3: a replaced cookie keeps its creation time.
    let creationTime = old?.creationTime;
    if (creationTime === undefined) {
      creationTime = Math.max(now, this.#lastCreation + 1e-3);
      this.#lastCreation = creationTime;
    }
    this.#cookies.delete(key);
    this.#cookies.set(key, {
      name: parsed.name,
      value: parsed.value,
      domain,
      path,
      expires,
      secure: parsed.secure,
      httpOnly: parsed.httpOnly,
      hostOnly,
      sameSite: parsed.sameSite,
      creationTime,
      lastAccessTime: now,
    });
    this.#evict(domain);
    return true;
  }

  /** Store every Set-Cookie value of a response to `url`. */
  setCookies(values: readonly string[], url: URL | string): void {
    for (const v of values) this.setCookie(v, url);
  }

  /** Cookies to send to `url` (RFC 6265 §5.4), in the order they go into the header. */
  cookiesFor(url: URL | string, options: { http?: boolean } = {}): Cookie[] {
    const u = typeof url === 'string' ? new URL(url) : url;
    const http = options.http ?? true;
    const now = this.#now();
    this.#purgeExpired(now);
    const host = canonicalHost(u.hostname);
    const secure = u.protocol === 'https:' || u.protocol === 'wss:';
    const path = u.pathname || '/';
    const out: MutableCookie[] = [];
    for (const c of this.#cookies.values()) {
      if (c.hostOnly ? c.domain !== host : !domainMatch(host, c.domain)) continue;
      if (!pathMatch(path, c.path)) continue;
      if (c.secure && !secure) continue;
      if (c.httpOnly && !http) continue;
      out.push(c);
    }
    // §5.4 step 2: longer paths first, then earlier creation times.
    out.sort((a, b) => b.path.length - a.path.length || a.creationTime - b.creationTime);
    for (const c of out) c.lastAccessTime = now;
    return out.map((c) => Object.freeze({ ...c }));
  }

  /** The Cookie header value for a request to `url`, or undefined when none applies. */
  cookieHeader(url: URL | string): string | undefined {
    const cookies = this.cookiesFor(url);
    if (cookies.length === 0) return undefined;
    return cookies.map((c) => (c.name === '' ? c.value : `${c.name}=${c.value}`)).join('; ');
  }

  /** Every unexpired cookie (a snapshot). */
  all(): Cookie[] {
    this.#purgeExpired();
    return [...this.#cookies.values()].map((c) => Object.freeze({ ...c }));
  }

  clear(): void {
    this.#cookies.clear();
  }

  #purgeExpired(now = this.#now()): void {
    for (const [key, c] of this.#cookies) {
      if (c.expires !== undefined && c.expires <= now) this.#cookies.delete(key);
    }
  }

  /** RFC 6265 §5.3 step 12 / §6.1: expired first, then least recently used. */
  #evict(domain: string): void {
    this.#purgeExpired();
    let inDomain = 0;
    for (const c of this.#cookies.values()) if (c.domain === domain) inDomain++;
    while (inDomain > this.#maxPerDomain) {
      const victim = this.#lru((c) => c.domain === domain);
      if (victim === undefined) break;
      this.#cookies.delete(victim);
      inDomain--;
    }
    while (this.#cookies.size > this.#maxCookies) {
      const victim = this.#lru(() => true);
      if (victim === undefined) break;
      this.#cookies.delete(victim);
    }
  }

  #lru(filter: (c: MutableCookie) => boolean): string | undefined {
    let best: string | undefined;
    let bestTime = Infinity;
    for (const [key, c] of this.#cookies) {
      if (filter(c) && c.lastAccessTime < bestTime) {
        bestTime = c.lastAccessTime;
        best = key;
      }
    }
    return best;
  }
}

interface ParsedCookie {
  name: string;
  value: string;
  expires: number | undefined;
  maxAge: number | undefined;
  domain: string | undefined;
  path: string | undefined;
  secure: boolean;
  httpOnly: boolean;
  sameSite: string | undefined;
}

/** RFC 6265 §5.2: parse one Set-Cookie value; undefined when it must be ignored. */
export function parseSetCookie(header: string): ParsedCookie | undefined {
  // eslint-disable-next-line no-control-regex -- control bytes make the cookie invalid
  if (/[\x00-\x08\x0a-\x1f\x7f]/.test(header)) return undefined;
  const parts = header.split(';');
  const pair = parts[0]!;
  const eq = pair.indexOf('=');
  // §5.2 step 2: no '=' → ignore the whole line.
  if (eq < 0) return undefined;
  const name = pair.slice(0, eq).trim();
  const value = pair.slice(eq + 1).trim();
  // §5.2 step 5: an empty name is ignored.
  if (name === '') return undefined;
  const out: ParsedCookie = {
    name,
    value,
    expires: undefined,
    maxAge: undefined,
    domain: undefined,
    path: undefined,
    secure: false,
    httpOnly: false,
    sameSite: undefined,
  };
  for (let i = 1; i < parts.length; i++) {
    const av = parts[i]!;
    const aeq = av.indexOf('=');
    const attr = (aeq < 0 ? av : av.slice(0, aeq)).trim().toLowerCase();
    const val = aeq < 0 ? '' : av.slice(aeq + 1).trim();
    switch (attr) {
      case 'expires': {
        // §5.2.1: an unparseable date is ignored.
        const t = parseCookieDate(val);
        if (t !== undefined) out.expires = t;
        break;
      }
      case 'max-age': {
        // §5.2.2: digits with an optional leading '-'; anything else is ignored.
        if (/^-?\d+$/.test(val)) out.maxAge = Math.max(-1, Math.min(Number(val), MAX_DATE / 1000));
        break;
      }
      case 'domain': {
        // §5.2.3: empty is ignored; a leading '.' is dropped; compare lowercased.
        if (val === '') break;
        out.domain = canonicalHost(val.startsWith('.') ? val.slice(1) : val);
        break;
      }
      case 'path': {
        // §5.2.4: a value not starting with '/' means the default path.
        out.path = val.startsWith('/') ? val : undefined;
        break;
      }
      case 'secure':
        out.secure = true;
        break;
      case 'httponly':
        out.httpOnly = true;
        break;
      case 'samesite':
        out.sameSite = val.toLowerCase();
        break;
    }
  }
  return out;
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

/** RFC 6265 §5.1.1 cookie-date parsing; undefined when the date is invalid. */
export function parseCookieDate(text: string): number | undefined {
  // delimiter = %x09 / %x20-2F / %x3B-40 / %x5B-60 / %x7B-7E
  // eslint-disable-next-line no-control-regex -- the RFC's delimiter set
  const tokens = text.split(/[\x09\x20-\x2f\x3b-\x40\x5b-\x60\x7b-\x7e]+/).filter(Boolean);
  let time: [number, number, number] | undefined;
  let day: number | undefined;
  let month: number | undefined;
  let year: number | undefined;
  for (const t of tokens) {
    let m: RegExpExecArray | null;
    if (time === undefined && (m = /^(\d{1,2}):(\d{1,2}):(\d{1,2})(?:\D.*)?$/.exec(t))) {
      time = [Number(m[1]), Number(m[2]), Number(m[3])];
    } else if (day === undefined && (m = /^(\d{1,2})(?:\D.*)?$/.exec(t))) {
      day = Number(m[1]);
    } else if (month === undefined && MONTHS.includes(t.slice(0, 3).toLowerCase())) {
      month = MONTHS.indexOf(t.slice(0, 3).toLowerCase());
    } else if (year === undefined && (m = /^(\d{2,4})(?:\D.*)?$/.exec(t))) {
      year = Number(m[1]);
    }
  }
  if (time === undefined || day === undefined || month === undefined || year === undefined) {
    return undefined;
  }
  if (year >= 70 && year <= 99) year += 1900;
  else if (year >= 0 && year <= 69) year += 2000;
  const [h, mi, s] = time;
  if (day < 1 || day > 31 || year < 1601 || h > 23 || mi > 59 || s > 59) return undefined;
  const t = Date.UTC(year, month, day, h, mi, s);
  // An impossible day (Feb 30) rolls over in Date.UTC; reject it.
  if (new Date(t).getUTCDate() !== day) return undefined;
  return t;
}

/** An IPv4 or IPv6 literal (no domain matching applies to those, RFC 6265 §5.1.3). */
function isIpLiteral(host: string): boolean {
  return host.includes(':') || /^\d{1,3}(?:\.\d{1,3}){3}$/.test(host);
}

function canonicalHost(host: string): string {
  const h = host.toLowerCase();
  return h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h;
}

/** RFC 6265 §5.1.3 domain matching. */
export function domainMatch(host: string, domain: string): boolean {
  if (host === domain) return true;
  return (
    !isIpLiteral(host) &&
    host.endsWith(domain) &&
    host.charCodeAt(host.length - domain.length - 1) === 0x2e
  );
}

/** RFC 6265 §5.1.4 default-path of a request path. */
export function defaultPath(path: string): string {
  if (!path.startsWith('/')) return '/';
  const last = path.lastIndexOf('/');
  return last === 0 ? '/' : path.slice(0, last);
}

/** RFC 6265 §5.1.4 path matching. */
export function pathMatch(requestPath: string, cookiePath: string): boolean {
  if (requestPath === cookiePath) return true;
  if (!requestPath.startsWith(cookiePath)) return false;
  return cookiePath.endsWith('/') || requestPath.charCodeAt(cookiePath.length) === 0x2f;
}
