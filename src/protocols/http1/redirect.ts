/**
 * Redirect policy of the HTTP client (RFC 9110 §15.4), as a pure function: given a 3xx
 * response and the request that produced it, the next request or `undefined` (hand the 3xx
 * to the caller). Follows what browsers and fetch do where the RFC allows a choice.
 */
import { GhostnetError } from '../../errors.js';
import type { HeaderList } from '../http/headers.js';

/** Redirects followed by default before `TooManyRedirectsError` (fetch uses 20 too). */
export const DEFAULT_MAX_REDIRECTS = 20;

/** More than `maxRedirects` redirects in a row. */
export class TooManyRedirectsError extends GhostnetError {
  readonly maxRedirects: number;

  constructor(maxRedirects: number, url: string) {
    super(
      'GN_ERR_HTTP1_TOO_MANY_REDIRECTS',
      `More than ${maxRedirects} redirects (last Location: ${url}); raise maxRedirects or set it to 0 to get the 3xx`,
    );
    this.maxRedirects = maxRedirects;
  }
}

export interface RedirectInput {
  readonly status: number;
  /** The Location header of the response, if any. */
  readonly location: string | undefined;
  readonly url: URL;
  readonly method: string;
  /** Request headers as sent (without the cookies the jar adds). */
  readonly headers: HeaderList;
  readonly hasBody: boolean;
  /** The body can be sent again (bytes or a string, not a consumed stream). */
  readonly bodyReplayable: boolean;
}

export interface RedirectStep {
  readonly url: URL;
  readonly method: string;
  /** Send the body again (307/308); otherwise drop it. */
  readonly keepBody: boolean;
  readonly headers: HeaderList;
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
/** Sent only to the origin they were meant for (fetch "CORS non-wildcard" + Cookie). */
const CREDENTIAL_HEADERS = ['authorization', 'cookie', 'proxy-authorization'];
/** Headers that describe the body; dropped with it (fetch "request-body-header name"). */
const BODY_HEADERS = [
  'content-type',
  'content-encoding',
  'content-language',
  'content-location',
  'content-length',
  'transfer-encoding',
];

export function isRedirect(status: number): boolean {
  return REDIRECT_STATUSES.has(status);
}

/** The request that follows `input`, or undefined when the 3xx goes to the caller. */
export function nextRedirect(input: RedirectInput): RedirectStep | undefined {
  if (!isRedirect(input.status) || input.location === undefined) return undefined;
  let url: URL;
  try {
    // RFC 9110 §10.2.2: Location is a URI reference resolved against the request URL.
    url = new URL(input.location, input.url);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  // RFC 9110 §10.2.2: a fragment-less Location inherits the original fragment.
  if (url.hash === '' && input.url.hash !== '') url.hash = input.url.hash;

  let method = input.method;
  let keepBody = input.hasBody;
  const upper = method.toUpperCase();
  if (input.status === 303) {
    // RFC 9110 §15.4.4: 303 → retrieve with GET (HEAD stays HEAD).
    if (upper !== 'HEAD') {
      method = 'GET';
      keepBody = false;
    }
  } else if (input.status === 301 || input.status === 302) {
    // RFC 9110 §15.4.2/§15.4.3 note: user agents change POST to GET; fetch does the same.
    if (upper === 'POST') {
      method = 'GET';
      keepBody = false;
    }
  } else if (input.hasBody && !input.bodyReplayable) {
    // RFC 9110 §15.4.8/§15.4.9: 307/308 must not change the method or body. A stream
    // already sent cannot be sent again, so the 3xx goes to the caller.
    return undefined;
  }

  const headers = input.headers.clone();
  if (!keepBody) for (const name of BODY_HEADERS) headers.delete(name);
  if (url.origin !== input.url.origin) {
    for (const name of CREDENTIAL_HEADERS) headers.delete(name);
  }
  // Host follows the new URL.
  headers.delete('host');
  return { url, method, keepBody, headers };
}
