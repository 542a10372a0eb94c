/**
 * Rate limit: a token bucket per client key.
 *
 * Each key's bucket holds up to `capacity` tokens and refills at `refillPerSecond`; a
 * request takes one token. Without a token the answer is **429 Too Many Requests**
 * (RFC 6585 §4) with `Retry-After` in seconds until the next token (RFC 9110 §10.2.3).
 *
 * Every answer, allowed or not, carries the fields of the IETF draft
 * "RateLimit header fields for HTTP" (draft-ietf-httpapi-ratelimit-headers, the
 * three-field form): `RateLimit-Limit` (capacity), `RateLimit-Remaining` (whole tokens
 * left) and `RateLimit-Reset` (seconds until the bucket is full again).
 *
 * Buckets live in a map bounded by `maxKeys`, evicting the least recently seen key. An
 * evicted client starts again with a full bucket, so size `maxKeys` above the number of
 * clients active within `capacity / refillPerSecond` seconds.
 */
import { InvalidOptionError } from '../../../errors.js';
import type { HttpRequest, Middleware } from '../types.js';
import {
  booleanOption,
  checkObject,
  functionOption,
  integerOption,
  numberOption,
  sendPlain,
} from './internal.js';

export interface RateLimitOptions {
  /** Bucket size: the burst a client may send at once. Required. */
  capacity: number;
  /** Tokens added per second (may be fractional: 0.5 is one request every 2 s). Required. */
  refillPerSecond: number;
  /**
   * Most client keys tracked (least recently seen evicted first).
   * @default 10000
   */
  maxKeys?: number;
  /**
   * The client key. Keys longer than 256 characters are truncated.
   * @default the remote IP address (`req.remoteAddress.address`; 'unknown' when absent)
   */
  key?: (req: HttpRequest) => string;
  /**
   * Send the RateLimit-* fields on allowed responses too.
   * @default true
   */
  headers?: boolean;
  /** Milliseconds since an arbitrary epoch (a fake clock in tests). @default Date.now */
  now?: () => number;
}

interface Bucket {
  tokens: number;
  updatedAt: number;
}

const WHERE = 'rateLimit()';
const MAX_KEY_LENGTH = 256;

/** The default key: the peer's IP address. */
export function remoteAddressKey(req: HttpRequest): string {
  return req.remoteAddress?.address ?? 'unknown';
}

export function rateLimit(options: RateLimitOptions): Middleware {
  checkObject(WHERE, options);
  if (options.capacity === undefined || options.refillPerSecond === undefined) {
    throw new InvalidOptionError(`${WHERE}: pass { capacity, refillPerSecond }`);
  }
  const capacity = integerOption(WHERE, 'capacity', options.capacity, 0, 1, 1_000_000_000);
  const rate = numberOption(WHERE, 'refillPerSecond', options.refillPerSecond, 0, 1_000_000_000);
  const maxKeys = integerOption(WHERE, 'maxKeys', options.maxKeys, 10_000, 1, 10_000_000);
  const keyOf =
    functionOption<(req: HttpRequest) => string>(WHERE, 'key', options.key) ?? remoteAddressKey;
  const sendHeaders = booleanOption(WHERE, 'headers', options.headers, true);
  const now = functionOption<() => number>(WHERE, 'now', options.now) ?? (() => Date.now());
  // Insertion order of a Map is the LRU order: a hit is deleted and re-inserted at the end.
  const buckets = new Map<string, Bucket>();

  return async function rateLimitMiddleware(req, res, next) {
    let key = String(keyOf(req));
    if (key.length > MAX_KEY_LENGTH) key = key.slice(0, MAX_KEY_LENGTH);
    const t = now();
    let bucket = buckets.get(key);
    if (bucket) {
      buckets.delete(key);
      // A clock that steps back refills nothing rather than draining the bucket.
      const elapsed = Math.max(0, t - bucket.updatedAt) / 1000;
      bucket.tokens = Math.min(capacity, bucket.tokens + elapsed * rate);
      bucket.updatedAt = Math.max(t, bucket.updatedAt);
    } else {
      bucket = { tokens: capacity, updatedAt: t };
      if (buckets.size >= maxKeys) {
        const oldest = buckets.keys().next();
        if (!oldest.done) buckets.delete(oldest.value);
      }
    }
    buckets.set(key, bucket);

    const allowed = bucket.tokens >= 1;
    if (allowed) bucket.tokens -= 1;
    const fields: Record<string, number> = {
      'RateLimit-Limit': capacity,
      'RateLimit-Remaining': Math.floor(bucket.tokens),
      'RateLimit-Reset': Math.ceil((capacity - bucket.tokens) / rate),
    };
    if (!allowed) {
      // Whole seconds, rounded up, so a client that waits that long finds a token.
      fields['Retry-After'] = Math.max(1, Math.ceil((1 - bucket.tokens) / rate));
      sendPlain(res, 429, 'Too many requests, retry later', fields);
      return;
    }
    if (sendHeaders && !res.headersSent) {
      for (const [name, value] of Object.entries(fields)) res.headers.set(name, value);
    }
    await next();
  };
}
