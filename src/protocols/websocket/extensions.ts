/**
 * `Sec-WebSocket-Extensions` parsing and serialization (RFC 6455 §9.1):
 *
 * ```
 * Sec-WebSocket-Extensions = extension-list
 * extension-list  = 1#extension
 * extension       = extension-token *( ";" extension-param )
 * extension-token = registered-token
 * registered-token = token
 * extension-param = token [ "=" (token | quoted-string) ]
 * ```
 *
 * The parser is strict (anything outside the grammar is an error: 400 on a server, a failed
 * connection on a client) and bounded (`ExtensionHeaderLimits`). Empty list elements
 * (`a, , b`) are skipped as RFC 9110 §5.6.1.2 requires of recipients.
 */
import { ProtocolError } from '../../errors.js';

/** One extension with its parameters, in the order they were written. */
export interface ExtensionOffer {
  /** The extension token, lowercased (extension names are case-insensitive tokens). */
  readonly name: string;
  /**
   * Parameters as `[name, value]`, name lowercased, `true` for a parameter without a value.
   * Duplicates are kept: whether they are allowed is the extension's decision (RFC 7692 §5).
   */
  readonly params: ReadonlyArray<readonly [string, string | true]>;
}

export interface ExtensionHeaderLimits {
  /**
   * Longest header value accepted (all `Sec-WebSocket-Extensions` fields joined).
   * @default 4096
   */
  maxLength?: number;
  /**
   * Most extensions (list elements) accepted. Browsers offer one or two.
   * @default 16
   */
  maxExtensions?: number;
  /**
   * Most parameters accepted on one extension.
   * @default 16
   */
  maxParams?: number;
}

export const DEFAULT_EXTENSION_HEADER_LIMITS: Required<ExtensionHeaderLimits> = {
  maxLength: 4096,
  maxExtensions: 16,
  maxParams: 16,
};

/**
 * The `Sec-WebSocket-Extensions` value is malformed or over a limit. `wireCode` is 400 (the
 * status a server answers with); a client fails the connection (RFC 6455 §4.1).
 */
export class ExtensionHeaderError extends ProtocolError {
  constructor(message: string, initiator: 'local' | 'remote' = 'remote') {
    super('GN_ERR_WS_INVALID_EXTENSIONS', message, 400, initiator);
  }
}

// tchar (RFC 9110 §5.6.2).
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

function isTchar(c: number): boolean {
  return (
    (c >= 0x30 && c <= 0x39) ||
    (c >= 0x41 && c <= 0x5a) ||
    (c >= 0x61 && c <= 0x7a) ||
    c === 0x21 ||
    (c >= 0x23 && c <= 0x27) ||
    c === 0x2a ||
    c === 0x2b ||
    c === 0x2d ||
    c === 0x2e ||
    c === 0x5e ||
    c === 0x5f ||
    c === 0x60 ||
    c === 0x7c ||
    c === 0x7e
  );
}

export function isToken(s: string): boolean {
  return TOKEN.test(s);
}

/**
 * Parses a `Sec-WebSocket-Extensions` value (several header fields joined with ", ").
 * Throws `ExtensionHeaderError` on anything outside the RFC 6455 §9.1 grammar or a limit.
 */
export function parseExtensions(value: string, limits?: ExtensionHeaderLimits): ExtensionOffer[] {
  const lim = { ...DEFAULT_EXTENSION_HEADER_LIMITS, ...limits };
  if (value.length > lim.maxLength) {
    throw new ExtensionHeaderError(
      `Sec-WebSocket-Extensions is ${value.length} characters long, over the limit of ${lim.maxLength}`,
    );
  }
  const out: ExtensionOffer[] = [];
  const n = value.length;
  let i = 0;
  const skipOws = (): void => {
    while (i < n && (value.charCodeAt(i) === 0x20 || value.charCodeAt(i) === 0x09)) i++;
  };
  const readToken = (what: string): string => {
    const start = i;
    while (i < n && isTchar(value.charCodeAt(i))) i++;
    if (i === start) {
      throw new ExtensionHeaderError(
        `Malformed Sec-WebSocket-Extensions: expected ${what} at offset ${start}`,
      );
    }
    return value.slice(start, i);
  };
  const readQuoted = (): string => {
    // quoted-string (RFC 9110 §5.6.4); i is at the opening DQUOTE.
    i++;
    let text = '';
    for (;;) {
      if (i >= n)
        throw new ExtensionHeaderError(
          'Malformed Sec-WebSocket-Extensions: unterminated quoted-string',
        );
      const c = value.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return text;
      }
      if (c === 0x5c) {
        if (i + 1 >= n)
          throw new ExtensionHeaderError('Malformed Sec-WebSocket-Extensions: dangling backslash');
        text += value[i + 1];
        i += 2;
        continue;
      }
      text += value[i];
      i++;
    }
  };

  for (;;) {
    skipOws();
    if (i >= n) break;
    if (value.charCodeAt(i) === 0x2c) {
      // An empty list element (RFC 9110 §5.6.1.2): skip it.
      i++;
      continue;
    }
    const name = readToken('an extension token').toLowerCase();
    const params: Array<readonly [string, string | true]> = [];
    skipOws();
    while (i < n && value.charCodeAt(i) === 0x3b) {
      i++;
      skipOws();
      const pname = readToken('a parameter name').toLowerCase();
      skipOws();
      let pvalue: string | true = true;
      if (i < n && value.charCodeAt(i) === 0x3d) {
        i++;
        skipOws();
        if (i < n && value.charCodeAt(i) === 0x22) {
          pvalue = readQuoted();
          // RFC 6455 §9.1: after unescaping, a quoted value MUST conform to the token ABNF.
          if (!isToken(pvalue)) {
            throw new ExtensionHeaderError(
              `Malformed Sec-WebSocket-Extensions: quoted value of "${pname}" is not a token`,
            );
          }
        } else {
          pvalue = readToken(`a value for "${pname}"`);
        }
        skipOws();
      }
      params.push([pname, pvalue]);
      if (params.length > lim.maxParams) {
        throw new ExtensionHeaderError(
          `Sec-WebSocket-Extensions: "${name}" has more than ${lim.maxParams} parameters`,
        );
      }
    }
    out.push({ name, params });
    if (out.length > lim.maxExtensions) {
      throw new ExtensionHeaderError(
        `Sec-WebSocket-Extensions lists more than ${lim.maxExtensions} extensions`,
      );
    }
    if (i >= n) break;
    if (value.charCodeAt(i) !== 0x2c) {
      throw new ExtensionHeaderError(
        `Malformed Sec-WebSocket-Extensions: unexpected ${JSON.stringify(value[i])} at offset ${i}`,
      );
    }
    i++;
  }
  if (out.length === 0) {
    // 1#extension: at least one element.
    throw new ExtensionHeaderError('Sec-WebSocket-Extensions is empty');
  }
  return out;
}

/**
 * Serializes extensions into a header value. Names and parameter names must be tokens and
 * values tokens (RFC 6455 §9.1); anything else is a local error.
 */
export function serializeExtensions(list: readonly ExtensionOffer[]): string {
  return list
    .map((ext) => {
      if (!isToken(ext.name)) {
        throw new ExtensionHeaderError(
          `Extension name ${JSON.stringify(ext.name)} is not a token`,
          'local',
        );
      }
      let s = ext.name;
      for (const [name, value] of ext.params) {
        if (!isToken(name)) {
          throw new ExtensionHeaderError(
            `Parameter name ${JSON.stringify(name)} is not a token`,
            'local',
          );
        }
        if (value === true) {
          s += `; ${name}`;
        } else {
          if (!isToken(value)) {
            throw new ExtensionHeaderError(
              `Parameter value ${JSON.stringify(value)} is not a token (RFC 6455 §9.1)`,
              'local',
            );
          }
          s += `; ${name}=${value}`;
        }
      }
      return s;
    })
    .join(', ');
}
