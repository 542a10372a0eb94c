/**
 * The HPACK static table (RFC 7541 §2.3.1, Appendix A): 61 fixed entries, addressed with
 * indices 1–61; dynamic table entries follow from 62 (§2.3.3).
 */

/** Appendix A, in index order starting at 1: [name, value]. */
const ENTRIES: readonly (readonly [string, string])[] = [
  [':authority', ''],
  [':method', 'GET'],
  [':method', 'POST'],
  [':path', '/'],
  [':path', '/index.html'],
  [':scheme', 'http'],
  [':scheme', 'https'],
  [':status', '200'],
  [':status', '204'],
  [':status', '206'],
  [':status', '304'],
  [':status', '400'],
  [':status', '404'],
  [':status', '500'],
  ['accept-charset', ''],
  ['accept-encoding', 'gzip, deflate'],
  ['accept-language', ''],
  ['accept-ranges', ''],
  ['accept', ''],
  ['access-control-allow-origin', ''],
  ['age', ''],
  ['allow', ''],
  ['authorization', ''],
  ['cache-control', ''],
  ['content-disposition', ''],
  ['content-encoding', ''],
  ['content-language', ''],
  ['content-length', ''],
  ['content-location', ''],
  ['content-range', ''],
  ['content-type', ''],
  ['cookie', ''],
  ['date', ''],
  ['etag', ''],
  ['expect', ''],
  ['expires', ''],
  ['from', ''],
  ['host', ''],
  ['if-match', ''],
  ['if-modified-since', ''],
  ['if-none-match', ''],
  ['if-range', ''],
  ['if-unmodified-since', ''],
  ['last-modified', ''],
  ['link', ''],
  ['location', ''],
  ['max-forwards', ''],
  ['proxy-authenticate', ''],
  ['proxy-authorization', ''],
  ['range', ''],
  ['referer', ''],
  ['refresh', ''],
  ['retry-after', ''],
  ['server', ''],
  ['set-cookie', ''],
  ['strict-transport-security', ''],
  ['transfer-encoding', ''],
  ['user-agent', ''],
  ['vary', ''],
  ['via', ''],
  ['www-authenticate', ''],
];

/** Number of static entries; the first dynamic index is STATIC_LENGTH + 1 (§2.3.3). */
export const STATIC_LENGTH = ENTRIES.length;

/** Names by index; slot 0 is unused (index 0 is not a valid index, §6.1). */
export const STATIC_NAMES: readonly string[] = ['', ...ENTRIES.map((e) => e[0])];
/** Values by index; slot 0 is unused. */
export const STATIC_VALUES: readonly string[] = ['', ...ENTRIES.map((e) => e[1])];

/**
 * Encoder-side lookup: name → the lowest index with that name, and value → index for the
 * entries that carry a value worth matching. Built once; never mutated.
 */
export interface StaticNameEntry {
  readonly index: number;
  readonly values: ReadonlyMap<string, number>;
}

export const STATIC_LOOKUP: ReadonlyMap<string, StaticNameEntry> = (() => {
  const byName = new Map<string, { index: number; values: Map<string, number> }>();
  for (let i = 1; i <= STATIC_LENGTH; i++) {
    const name = STATIC_NAMES[i]!;
    let entry = byName.get(name);
    if (entry === undefined) {
      entry = { index: i, values: new Map() };
      byName.set(name, entry);
    }
    if (!entry.values.has(STATIC_VALUES[i]!)) entry.values.set(STATIC_VALUES[i]!, i);
  }
  return byName;
})();
