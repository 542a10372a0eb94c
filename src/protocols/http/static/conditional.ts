/**
 * Validators and conditional requests (RFC 9110 §8.8, §13) for static files.
 *
 * Evaluation follows the precedence of RFC 9110 §13.2.2: If-Match, then
 * If-Unmodified-Since (only without If-Match), then If-None-Match, then If-Modified-Since
 * (only without If-None-Match, and only for GET/HEAD); If-Range is evaluated separately by
 * the range logic (§13.1.5).
 */
import type { HeaderList } from '../headers.js';

/** The validators of the selected representation. */
export interface Validators {
  /** The entity-tag as sent in the ETag field (`W/"…"` or `"…"`), if any. */
  readonly etag: string | undefined;
  /** Last modification time in milliseconds, truncated to whole seconds, if any. */
  readonly lastModified: number | undefined;
}

/** What the preconditions ask for. */
export type PreconditionOutcome = 'proceed' | 'not-modified' | 'precondition-failed';

/**
 * A weak entity-tag from the file size and modification time (RFC 9110 §8.8.3). Weak,
 * because two files with equal size and mtime are not guaranteed byte-identical (§8.8.1).
 */
export function weakEtag(size: number, mtimeMs: number): string {
  return `W/"${size.toString(16)}-${Math.floor(mtimeMs).toString(16)}"`;
}

/** Truncates a time to whole seconds, the resolution of an HTTP-date (§5.6.7). */
export function toHttpDateResolution(ms: number): number {
  return Math.floor(ms / 1000) * 1000;
}

/** Formats an IMF-fixdate (RFC 9110 §5.6.7). */
export function formatHttpDate(ms: number): string {
  return new Date(ms).toUTCString();
}

// RFC 9110 §5.6.7: IMF-fixdate, and the obsolete rfc850-date and asctime-date a recipient
// MUST also accept.
const IMF_FIXDATE = /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/;
const RFC850_DATE = /^[A-Z][a-z]{5,8}, \d{2}-[A-Z][a-z]{2}-\d{2} \d{2}:\d{2}:\d{2} GMT$/;
const ASCTIME_DATE = /^[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2} \d{4}$/;

/** Parses an HTTP-date (§5.6.7); undefined when the value is not one. */
export function parseHttpDate(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  let ms: number;
  if (IMF_FIXDATE.test(text) || RFC850_DATE.test(text)) ms = Date.parse(text);
  else if (ASCTIME_DATE.test(text)) ms = Date.parse(`${text} GMT`);
  else return undefined;
  return Number.isNaN(ms) ? undefined : ms;
}

interface EntityTag {
  readonly weak: boolean;
  readonly opaque: string;
}

// Sticky regexes: `lastIndex` is set before every exec and parsing is synchronous, so
// sharing them between calls is safe.
const ENTITY_TAG = /(W\/)?"([\x21\x23-\x7e\x80-\xff]*)"/y;
const SEPARATORS = /[ \t,]*/y;
const OWS = /[ \t]*/y;

/**
 * Parses `*` or a list of entity-tags (§8.8.3, §13.1.1). Returns `'*'`, the tags, or
 * undefined when the value is malformed (a malformed precondition never matches).
 */
export function parseEtagList(value: string): '*' | EntityTag[] | undefined {
  if (value.trim() === '*') return '*';
  const tags: EntityTag[] = [];
  let pos = 0;
  for (;;) {
    // Empty list elements are allowed (§5.6.1).
    SEPARATORS.lastIndex = pos;
    SEPARATORS.exec(value);
    pos = SEPARATORS.lastIndex;
    if (pos >= value.length) return tags;
    ENTITY_TAG.lastIndex = pos;
    const match = ENTITY_TAG.exec(value);
    if (!match) return undefined;
    tags.push({ weak: match[1] !== undefined, opaque: match[2]! });
    OWS.lastIndex = ENTITY_TAG.lastIndex;
    OWS.exec(value);
    pos = OWS.lastIndex;
    if (pos < value.length && value[pos] !== ',') return undefined;
  }
}

function parseEtag(value: string): EntityTag | undefined {
  const list = parseEtagList(value);
  return Array.isArray(list) && list.length === 1 ? list[0] : undefined;
}

/** §8.8.3.2 strong comparison: both strong and the opaque tags equal. */
function strongMatch(a: EntityTag, b: EntityTag): boolean {
  return !a.weak && !b.weak && a.opaque === b.opaque;
}

/** §8.8.3.2 weak comparison: opaque tags equal, weakness ignored. */
function weakMatch(a: EntityTag, b: EntityTag): boolean {
  return a.opaque === b.opaque;
}

/**
 * Evaluates If-Match, If-Unmodified-Since, If-None-Match and If-Modified-Since in the
 * order of RFC 9110 §13.2.2 for a representation that exists.
 */
export function evaluatePreconditions(
  method: string,
  headers: HeaderList,
  validators: Validators,
): PreconditionOutcome {
  const current = validators.etag === undefined ? undefined : parseEtag(validators.etag);
  const safe = method === 'GET' || method === 'HEAD';

  // Step 1, §13.1.1: If-Match uses the strong comparison; `*` matches any current
  // representation. A weak ETag therefore never satisfies a listed If-Match.
  const ifMatch = headers.get('if-match');
  if (ifMatch !== undefined) {
    const list = parseEtagList(ifMatch);
    const matched =
      list === '*' ||
      (list !== undefined && current !== undefined && list.some((t) => strongMatch(t, current)));
    if (!matched) return 'precondition-failed';
  } else {
    // Step 2, §13.1.4: If-Unmodified-Since, only without If-Match; an invalid date is
    // ignored (a recipient MUST ignore it).
    const since = parseHttpDate(headers.get('if-unmodified-since'));
    if (since !== undefined && validators.lastModified !== undefined) {
      if (validators.lastModified > since) return 'precondition-failed';
    }
  }

  // Step 3, §13.1.2: If-None-Match uses the weak comparison; a match means 304 for
  // GET/HEAD and 412 for other methods.
  const ifNoneMatch = headers.get('if-none-match');
  if (ifNoneMatch !== undefined) {
    const list = parseEtagList(ifNoneMatch);
    const matched =
      list === '*' ||
      (list !== undefined && current !== undefined && list.some((t) => weakMatch(t, current)));
    if (matched) return safe ? 'not-modified' : 'precondition-failed';
    return 'proceed';
  }

  // Step 4, §13.1.3: If-Modified-Since only for GET/HEAD and only without If-None-Match
  // (a recipient MUST ignore it then, which the return above does).
  if (safe) {
    const since = parseHttpDate(headers.get('if-modified-since'));
    if (since !== undefined && validators.lastModified !== undefined) {
      if (validators.lastModified <= since) return 'not-modified';
    }
  }
  return 'proceed';
}

/**
 * Evaluates If-Range (§13.1.5): true when the Range may be honoured. An entity-tag must
 * match by the strong comparison (so a weak ETag never does); an HTTP-date must exactly
 * equal Last-Modified. Absent If-Range is true.
 */
export function ifRangeAllows(value: string | undefined, validators: Validators): boolean {
  if (value === undefined) return true;
  const text = value.trim();
  if (text.startsWith('"') || text.startsWith('W/')) {
    const tag = parseEtag(text);
    const current = validators.etag === undefined ? undefined : parseEtag(validators.etag);
    return tag !== undefined && current !== undefined && strongMatch(tag, current);
  }
  const date = parseHttpDate(text);
  return (
    date !== undefined && validators.lastModified !== undefined && date === validators.lastModified
  );
}
