/**
 * Byte-range requests (RFC 9110 §14): parses a `Range` field value against the size of
 * the selected representation.
 *
 * Only the `bytes` unit is understood (§14.1); any other unit, and any syntactically
 * invalid value, is ignored — the whole representation is served (§14.2: "a server MAY
 * ignore the Range header field").
 */

/** The outcome of evaluating a Range field against a representation of `size` bytes. */
export type RangeResult =
  /** Serve the whole representation with 200 (no Range, invalid, or not worth honouring). */
  | { readonly type: 'ignore' }
  /** 416 with `Content-Range: bytes *\/size` (§14.1.2, §15.5.17). */
  | { readonly type: 'unsatisfiable' }
  /** 206 with one `Content-Range: bytes start-end/size`; `end` is inclusive. */
  | { readonly type: 'single'; readonly start: number; readonly end: number }
  /** Several satisfiable ranges; this module's callers serve the whole 200 instead. */
  | {
      readonly type: 'multiple';
      readonly ranges: ReadonlyArray<{ readonly start: number; readonly end: number }>;
    };

/**
 * Most ranges accepted in one field: a request for more is ignored (served whole), which
 * RFC 9110 §14.2 allows and which defeats "many tiny ranges" amplification.
 */
export const MAX_RANGES = 32;
/** A Range field value longer than this is ignored. */
export const MAX_RANGE_HEADER_LENGTH = 1024;

const INT_RANGE = /^(\d+)-(\d*)$/;
const SUFFIX_RANGE = /^-(\d+)$/;

/** Evaluates `header` (a Range field value) for a representation of `size` bytes. */
export function parseRange(header: string | undefined, size: number): RangeResult {
  if (header === undefined || header.length > MAX_RANGE_HEADER_LENGTH) return IGNORE;
  const eq = header.indexOf('=');
  if (eq < 0) return IGNORE;
  // §14.1: range units are compared case-insensitively.
  if (header.slice(0, eq).trim().toLowerCase() !== 'bytes') return IGNORE;
  const specs = header.slice(eq + 1).split(',');
  if (specs.length > MAX_RANGES) return IGNORE;
  const ranges: Array<{ start: number; end: number }> = [];
  let sawRange = false;
  for (const raw of specs) {
    const spec = raw.trim();
    // §5.6.1: list elements may be empty (`a, , b`); they do not count.
    if (spec === '') continue;
    sawRange = true;
    let match = INT_RANGE.exec(spec);
    if (match) {
      const first = Number(match[1]);
      const last = match[2] === '' ? Infinity : Number(match[2]);
      // §14.1.1: an int-range whose last-pos is below its first-pos is invalid.
      if (last < first) return IGNORE;
      // §14.1.2: satisfiable when first-pos is below the length.
      if (first < size) ranges.push({ start: first, end: Math.min(last, size - 1) });
      continue;
    }
    match = SUFFIX_RANGE.exec(spec);
    if (match) {
      const suffix = Number(match[1]);
      // §14.1.2: a suffix-range is satisfiable when its length is non-zero and the
      // representation is not empty.
      if (suffix > 0 && size > 0) ranges.push({ start: Math.max(0, size - suffix), end: size - 1 });
      continue;
    }
    return IGNORE;
  }
  if (!sawRange) return IGNORE;
  if (ranges.length === 0) return UNSATISFIABLE;
  if (ranges.length === 1) return { type: 'single', start: ranges[0]!.start, end: ranges[0]!.end };
  return { type: 'multiple', ranges };
}

const IGNORE: RangeResult = Object.freeze({ type: 'ignore' });
const UNSATISFIABLE: RangeResult = Object.freeze({ type: 'unsatisfiable' });
