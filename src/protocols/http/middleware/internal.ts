/**
 * Helpers shared by the middleware in this folder: option validation, short plain-text
 * answers and `Vary` merging. Not part of the public surface.
 */
import { InvalidOptionError } from '../../../errors.js';
import type { HeaderList } from '../headers.js';
import type { HttpResponse } from '../types.js';

/** Reason phrases for the statuses the middleware answers with (RFC 9110 §15). */
const STATUS_TEXT: Readonly<Record<number, string>> = Object.freeze({
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  408: 'Request Timeout',
  413: 'Content Too Large',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
});

export function statusText(status: number): string {
  return STATUS_TEXT[status] ?? (status >= 500 ? 'Server Error' : 'Client Error');
}

/**
 * Answers with a short `text/plain` body. The Content-Type is forced (a handler may have
 * set another one before failing); other headers already on the response are kept.
 */
export function sendPlain(
  res: HttpResponse,
  status: number,
  message: string,
  headers?: Readonly<Record<string, string | number>>,
): void {
  res.status = status;
  res.statusMessage = undefined;
  if (headers) for (const [name, value] of Object.entries(headers)) res.headers.set(name, value);
  res.headers.set('content-type', 'text/plain; charset=utf-8');
  res.send(`${message}\n`);
}

/** Adds `token` to the response's Vary field unless it (or `*`) is already listed. */
export function appendVary(res: HttpResponse, token: string): void {
  appendVaryList(res.headers, token);
}

/** A quoted-string (RFC 9110 §5.6.4): `"` and `\` escaped with a backslash. */
export function quote(value: string): string {
  return `"${value.replace(/["\\]/g, '\\$&')}"`;
}

// eslint-disable-next-line no-control-regex -- matching control bytes is the point
const CONTROL = /[\0-\x1f\x7f]/;

/** True when `value` can go into a header field value (no CR, LF, NUL or other controls). */
export function isFieldSafe(value: string): boolean {
  return !CONTROL.test(value);
}

export function checkObject(where: string, options: unknown): void {
  if (options === null || typeof options !== 'object') {
    throw new InvalidOptionError(`${where}: pass an options object`);
  }
}

/** An integer in [min, max], or `fallback` when undefined. */
export function integerOption(
  where: string,
  name: string,
  value: unknown,
  fallback: number,
  min: number,
  max: number,
): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidOptionError(
      `${where}: invalid ${name} ${String(value)}; use an integer from ${min} to ${max}`,
    );
  }
  return value;
}

/** A finite number in (0, max] (or [0, max] with `allowZero`), or `fallback`. */
export function numberOption(
  where: string,
  name: string,
  value: unknown,
  fallback: number,
  max: number,
  allowZero = false,
): number {
  if (value === undefined) return fallback;
  if (
    typeof value !== 'number' ||
    !Number.isFinite(value) ||
    value > max ||
    (allowZero ? value < 0 : value <= 0)
  ) {
    throw new InvalidOptionError(
      `${where}: invalid ${name} ${String(value)}; use a finite number ${
        allowZero ? 'from 0' : 'above 0'
      } up to ${max}`,
    );
  }
  return value;
}

export function booleanOption(where: string, name: string, value: unknown, fallback: boolean) {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') {
    throw new InvalidOptionError(`${where}: invalid ${name}; use true or false`);
  }
  return value;
}

export function functionOption<T>(where: string, name: string, value: unknown): T | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'function') {
    throw new InvalidOptionError(`${where}: invalid ${name}; pass a function`);
  }
  return value as T;
}

/** Adds `token` to the Vary field of a (writable) header list unless already covered. */
export function appendVaryList(headers: HeaderList, token: string): void {
  const current = headers.get('vary');
  if (current === undefined || current.trim() === '') {
    headers.set('vary', token);
    return;
  }
  const lower = token.toLowerCase();
  for (const part of current.split(',')) {
    const name = part.trim().toLowerCase();
    if (name === '*' || name === lower) return;
  }
  headers.set('vary', `${current}, ${token}`);
}
