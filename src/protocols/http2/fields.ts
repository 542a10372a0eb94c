/**
 * Field validation for HTTP/2 messages (RFC 9113 §8.2, §8.3): what makes a request or
 * response "malformed" (§8.1.1), which the connection answers with a stream error of type
 * PROTOCOL_ERROR. One pass over the decoded block; pseudo-header fields are pulled out.
 */

/** A request head after validation. `names`/`values` hold the regular fields only. */
export interface RequestFields {
  method: string;
  scheme: string | undefined;
  authority: string | undefined;
  path: string | undefined;
  /** RFC 8441 extended CONNECT `:protocol`. */
  protocol: string | undefined;
  names: string[];
  values: string[];
  /** Declared content-length, or -1. */
  contentLength: number;
}

export interface ResponseFields {
  status: number;
  names: string[];
  values: string[];
  contentLength: number;
}

// RFC 9113 §8.2.1: a field name MUST NOT contain 0x00-0x20, 0x41-0x5A (uppercase) or
// 0x7F-0xFF; regular names MUST NOT contain ':'. RFC 9110 §5.1 narrows names to tokens.
const NAME_OK = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz") NAME_OK[c.charCodeAt(0)] = 1;

/** Fields that are connection-specific in HTTP/1.1 and MUST NOT appear in HTTP/2 (§8.2.2). */
const CONNECTION_SPECIFIC = new Set([
  'connection',
  'proxy-connection',
  'keep-alive',
  'transfer-encoding',
  'upgrade',
]);

function validName(name: string, from: number): boolean {
  const n = name.length;
  if (n <= from) return false;
  for (let i = from; i < n; i++) {
    const c = name.charCodeAt(i);
    if (c > 0xff || NAME_OK[c] !== 1) return false;
  }
  return true;
}

/**
 * §8.2.1: a value MUST NOT contain NUL, LF or CR, and MUST NOT start or end with SP or
 * HTAB. Other control characters are refused too (RFC 9110 §5.5), as llhttp does.
 */
export function validValue(value: string): boolean {
  const n = value.length;
  if (n === 0) return true;
  let c = value.charCodeAt(0);
  if (c === 0x20 || c === 0x09) return false;
  c = value.charCodeAt(n - 1);
  if (c === 0x20 || c === 0x09) return false;
  for (let i = 0; i < n; i++) {
    c = value.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f || c > 0xff) return false;
  }
  return true;
}

/** Parses a content-length value; -2 when invalid. */
function parseContentLength(value: string): number {
  if (value.length === 0 || value.length > 15) return -2;
  let n = 0;
  for (let i = 0; i < value.length; i++) {
    const d = value.charCodeAt(i) - 0x30;
    if (d < 0 || d > 9) return -2;
    n = n * 10 + d;
  }
  return n;
}

/**
 * Validates the regular field at `i` and appends it; returns an error message or undefined.
 * Shared by requests, responses and trailers.
 */
function regularField(
  name: string,
  value: string,
  outNames: string[],
  outValues: string[],
  state: { contentLength: number },
): string | undefined {
  if (!validName(name, 0)) return `invalid field name ${JSON.stringify(name)} (§8.2.1)`;
  if (!validValue(value)) return `invalid value for field ${name} (§8.2.1)`;
  if (CONNECTION_SPECIFIC.has(name)) return `connection-specific field ${name} (§8.2.2)`;
  if (name === 'te' && value !== 'trailers') return 'te other than "trailers" (§8.2.2)';
  if (name === 'content-length') {
    const cl = parseContentLength(value);
    if (cl === -2) return 'invalid content-length (§8.1.1)';
    if (state.contentLength >= 0 && state.contentLength !== cl) {
      return 'differing content-length values (§8.1.1)';
    }
    state.contentLength = cl;
  }
  outNames.push(name);
  outValues.push(value);
  return undefined;
}

/**
 * Validates a request header block (§8.3.1, §8.5, RFC 8441 §4). Returns the fields, or a
 * message saying why the request is malformed.
 */
export function validateRequest(
  names: readonly string[],
  values: readonly string[],
  allowExtendedConnect: boolean,
): RequestFields | string {
  let method: string | undefined;
  let scheme: string | undefined;
  let authority: string | undefined;
  let path: string | undefined;
  let protocol: string | undefined;
  let host: string | undefined;
  const outNames: string[] = [];
  const outValues: string[] = [];
  const state = { contentLength: -1 };
  let regular = false;
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!;
    const value = values[i]!;
    if (name.charCodeAt(0) === 0x3a /* : */) {
      // §8.3: pseudo-header fields MUST come before regular fields, appear once, and only
      // the defined ones; response pseudo-headers in a request are malformed.
      if (regular) return `pseudo-header ${name} after a regular field (§8.3)`;
      if (!validValue(value)) return `invalid value for ${name} (§8.2.1)`;
      switch (name) {
        case ':method':
          if (method !== undefined) return 'duplicate :method (§8.3)';
          method = value;
          break;
        case ':scheme':
          if (scheme !== undefined) return 'duplicate :scheme (§8.3)';
          scheme = value;
          break;
        case ':authority':
          if (authority !== undefined) return 'duplicate :authority (§8.3)';
          authority = value;
          break;
        case ':path':
          if (path !== undefined) return 'duplicate :path (§8.3)';
          path = value;
          break;
        case ':protocol':
          if (protocol !== undefined) return 'duplicate :protocol (RFC 8441 §4)';
          protocol = value;
          break;
        default:
          return `unknown or misplaced pseudo-header ${name} (§8.3)`;
      }
      continue;
    }
    regular = true;
    const err = regularField(name, value, outNames, outValues, state);
    if (err !== undefined) return err;
    if (name === 'host') host = value;
  }
  if (method === undefined) return 'missing :method (§8.3.1)';
  if (method.length === 0 || !validName(method.toLowerCase(), 0)) return 'invalid :method';
  if (protocol !== undefined) {
    // RFC 8441 §4: :protocol only on CONNECT, only when we enabled it, and then :scheme and
    // :path are required.
    if (!allowExtendedConnect) return ':protocol without SETTINGS_ENABLE_CONNECT_PROTOCOL';
    if (method !== 'CONNECT') return ':protocol on a method other than CONNECT (RFC 8441 §4)';
    if (scheme === undefined || path === undefined || authority === undefined) {
      return 'extended CONNECT needs :scheme, :path and :authority (RFC 8441 §4)';
    }
  } else if (method === 'CONNECT') {
    // §8.5: CONNECT has :authority and no :scheme or :path.
    if (scheme !== undefined || path !== undefined) return 'CONNECT with :scheme or :path (§8.5)';
    if (authority === undefined) return 'CONNECT without :authority (§8.5)';
  } else {
    // §8.3.1: all requests MUST include exactly one :method, :scheme and :path.
    if (scheme === undefined) return 'missing :scheme (§8.3.1)';
    if (path === undefined) return 'missing :path (§8.3.1)';
    if (path.length === 0) return 'empty :path (§8.3.1)';
    if (path.charCodeAt(0) !== 0x2f && !(path === '*' && method === 'OPTIONS')) {
      if (scheme === 'http' || scheme === 'https') return ':path not in origin-form (§8.3.1)';
    }
  }
  // §8.3.1: without :authority, Host supplies it.
  return {
    method,
    scheme,
    authority: authority ?? host,
    path,
    protocol,
    names: outNames,
    values: outValues,
    contentLength: state.contentLength,
  };
}

/** Validates a response header block (§8.3.2). */
export function validateResponse(
  names: readonly string[],
  values: readonly string[],
): ResponseFields | string {
  let status: number | undefined;
  const outNames: string[] = [];
  const outValues: string[] = [];
  const state = { contentLength: -1 };
  let regular = false;
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!;
    const value = values[i]!;
    if (name.charCodeAt(0) === 0x3a) {
      if (regular) return `pseudo-header ${name} after a regular field (§8.3)`;
      if (name !== ':status') return `unknown or misplaced pseudo-header ${name} (§8.3)`;
      if (status !== undefined) return 'duplicate :status (§8.3.2)';
      if (!/^[1-9][0-9][0-9]$/.test(value)) return 'invalid :status (§8.3.2)';
      status = Number(value);
      continue;
    }
    regular = true;
    const err = regularField(name, value, outNames, outValues, state);
    if (err !== undefined) return err;
  }
  if (status === undefined) return 'missing :status (§8.3.2)';
  return { status, names: outNames, values: outValues, contentLength: state.contentLength };
}

/** Validates a trailer block (§8.1): regular fields only. */
export function validateTrailers(
  names: readonly string[],
  values: readonly string[],
): { names: string[]; values: string[] } | string {
  const outNames: string[] = [];
  const outValues: string[] = [];
  const state = { contentLength: -1 };
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!;
    if (name.charCodeAt(0) === 0x3a) return `pseudo-header ${name} in trailers (§8.1)`;
    const err = regularField(name, values[i]!, outNames, outValues, state);
    if (err !== undefined) return err;
  }
  return { names: outNames, values: outValues };
}
