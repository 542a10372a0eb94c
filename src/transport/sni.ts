/**
 * Server-name matching for TLS SNI (RFC 6066 §3) against the DNS names a certificate
 * serves, following RFC 6125 §6.4:
 *
 * - comparison is case-insensitive over ASCII (A-labels; internationalized names must
 *   already be in punycode form) and ignores one trailing dot (§6.4.1, §6.4.2);
 * - a wildcard is only the whole left-most label, `*.example.test`, and matches exactly one
 *   non-empty label: `a.example.test`, never `example.test` nor `a.b.example.test`
 *   (§6.4.3). Partial-label wildcards (`a*.example.test`) are refused, as are wildcards
 *   directly under a single label (`*.test`), which §7.2 warns against;
 * - an exact name wins over a wildcard; for the same name the entry added first wins.
 *
 * The table holds operator configuration, not peer input, but it is still capped
 * (`maxEntries`) so a mistaken configuration fails loudly instead of growing without bound.
 */
import { InvalidOptionError } from '../errors.js';

/** RFC 1035 §2.3.4: 63 octets per label, 253 characters in the presentation form. */
const MAX_LABEL_LENGTH = 63;
const MAX_NAME_LENGTH = 253;
const LABEL_RE = /^[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?$/;

/** Default cap on the number of names a table holds. */
export const DEFAULT_MAX_SERVER_NAMES = 10_000;

/**
 * Lower-case a host name, drop one trailing dot and check its syntax. Returns undefined
 * when `name` is not a syntactically valid DNS name (IP literals included: SNI never
 * carries them, RFC 6066 §3).
 */
export function normalizeServerName(name: string): string | undefined {
  if (name.length === 0 || name.length > MAX_NAME_LENGTH + 1) return undefined;
  let n = name.toLowerCase();
  if (n.endsWith('.')) n = n.slice(0, -1);
  if (n.length === 0 || n.length > MAX_NAME_LENGTH) return undefined;
  const labels = n.split('.');
  for (const label of labels) {
    if (label.length === 0 || label.length > MAX_LABEL_LENGTH || !LABEL_RE.test(label)) {
      return undefined;
    }
  }
  // An all-numeric last label means an IPv4 literal, not a host name.
  if (/^[0-9]+$/.test(labels[labels.length - 1] ?? '')) return undefined;
  return n;
}

/**
 * Does the certificate name `pattern` (exact or `*.`-wildcard) cover `hostname`?
 * Both are normalized first; an invalid pattern or host name never matches.
 */
export function matchServerName(pattern: string, hostname: string): boolean {
  const host = normalizeServerName(hostname);
  if (host === undefined) return false;
  const parsed = parsePattern(pattern);
  if (parsed === undefined) return false;
  if (!parsed.wildcard) return parsed.name === host;
  const dot = host.indexOf('.');
  return dot > 0 && host.slice(dot + 1) === parsed.name;
}

interface ParsedPattern {
  readonly wildcard: boolean;
  /** The exact name, or for a wildcard the parent domain after `*.`. */
  readonly name: string;
}

function parsePattern(pattern: string): ParsedPattern | undefined {
  if (pattern.startsWith('*.')) {
    const parent = normalizeServerName(pattern.slice(2));
    // RFC 6125 §7.2: no wildcard directly below a single label (`*.com`).
    if (parent === undefined || !parent.includes('.')) return undefined;
    return { wildcard: true, name: parent };
  }
  if (pattern.includes('*')) return undefined;
  const name = normalizeServerName(pattern);
  return name === undefined ? undefined : { wildcard: false, name };
}

/** Options for {@link ServerNameTable}. */
export interface ServerNameTableOptions {
  /**
   * Most names (exact plus wildcard) the table accepts; `add` throws beyond it.
   * @default 10000
   */
  maxEntries?: number;
}

/** Maps server names (exact or wildcard) to values such as TLS SecureContexts. */
export class ServerNameTable<T> {
  readonly #exact = new Map<string, T>();
  /** Keyed by the wildcard's parent domain: `*.example.test` → 'example.test'. */
  readonly #wildcard = new Map<string, T>();
  readonly #maxEntries: number;

  constructor(options: ServerNameTableOptions = {}) {
    const max = options.maxEntries ?? DEFAULT_MAX_SERVER_NAMES;
    if (!Number.isInteger(max) || max < 1) {
      throw new InvalidOptionError(`maxEntries must be a positive integer, got ${String(max)}`);
    }
    this.#maxEntries = max;
  }

  /** Number of names held. */
  get size(): number {
    return this.#exact.size + this.#wildcard.size;
  }

  /**
   * Register `pattern` → `value`. Returns false when the name was already registered (the
   * first value stays). Throws InvalidOptionError for an invalid pattern or a full table.
   */
  add(pattern: string, value: T): boolean {
    const parsed = parsePattern(pattern);
    if (parsed === undefined) {
      throw new InvalidOptionError(
        `invalid server name ${JSON.stringify(pattern)}: use a DNS name or a '*.'-wildcard ` +
          'over at least two labels (RFC 6125 §6.4.3)',
      );
    }
    const map = parsed.wildcard ? this.#wildcard : this.#exact;
    if (map.has(parsed.name)) return false;
    if (this.size >= this.#maxEntries) {
      throw new InvalidOptionError(
        `too many server names (limit ${this.#maxEntries}); raise maxEntries`,
      );
    }
    map.set(parsed.name, value);
    return true;
  }

  /** The value for `hostname`: an exact entry first, else a single-label wildcard. */
  match(hostname: string): T | undefined {
    const host = normalizeServerName(hostname);
    if (host === undefined) return undefined;
    const exact = this.#exact.get(host);
    if (exact !== undefined) return exact;
    const dot = host.indexOf('.');
    if (dot <= 0) return undefined;
    return this.#wildcard.get(host.slice(dot + 1));
  }
}
