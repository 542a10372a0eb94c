/**
 * The WebSocket opening handshake (RFC 6455 §4), both sides, sans-I/O.
 *
 * Server: `validateUpgradeRequest` checks an HTTP request (§4.2.1), negotiates the
 * subprotocol and permessage-deflate, and returns either the 101 response headers or the
 * status and headers of the refusal. Client: `createClientHandshake` builds the request
 * headers (§4.1) with an injected `randomBytes`; `verifyServerHandshake` runs the client's
 * checks on the response (§4.1, items 1–6 of the client requirements).
 */
import { createHash } from 'node:crypto';
import { InvalidOptionError, ProtocolError } from '../../errors.js';
import type { Initiator } from '../../errors.js';
import { HeaderList } from '../http/headers.js';
import type { HeaderInit } from '../http/headers.js';
import {
  acceptDeflateResponse,
  createDeflateOffer,
  DeflateError,
  negotiateDeflate,
  PERMESSAGE_DEFLATE,
} from './deflate.js';
import type { NegotiatedDeflate, PerMessageDeflateOptions } from './deflate.js';
import {
  ExtensionHeaderError,
  isToken,
  parseExtensions,
  serializeExtensions,
} from './extensions.js';
import type { ExtensionHeaderLimits, ExtensionOffer } from './extensions.js';

/** RFC 6455 §1.3: the GUID appended to the key. */
export const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
export const WEBSOCKET_VERSION = '13';

export const HandshakeErrorCodes = {
  METHOD_NOT_ALLOWED: 'GN_ERR_WS_HANDSHAKE_METHOD',
  BAD_HTTP_VERSION: 'GN_ERR_WS_HANDSHAKE_HTTP_VERSION',
  MISSING_HOST: 'GN_ERR_WS_HANDSHAKE_HOST',
  BAD_UPGRADE: 'GN_ERR_WS_HANDSHAKE_UPGRADE',
  BAD_CONNECTION: 'GN_ERR_WS_HANDSHAKE_CONNECTION',
  BAD_KEY: 'GN_ERR_WS_HANDSHAKE_KEY',
  UNSUPPORTED_VERSION: 'GN_ERR_WS_HANDSHAKE_VERSION',
  BAD_PROTOCOL: 'GN_ERR_WS_HANDSHAKE_PROTOCOL',
  BAD_EXTENSIONS: 'GN_ERR_WS_HANDSHAKE_EXTENSIONS',
  FORBIDDEN_ORIGIN: 'GN_ERR_WS_HANDSHAKE_ORIGIN',
  BAD_STATUS: 'GN_ERR_WS_HANDSHAKE_STATUS',
  BAD_ACCEPT: 'GN_ERR_WS_HANDSHAKE_ACCEPT',
  INVALID_OPTION: 'GN_ERR_WS_HANDSHAKE_OPTION',
} as const;

export type HandshakeErrorKind = keyof typeof HandshakeErrorCodes;

/**
 * A handshake failure. On the server `wireCode` is the HTTP status to answer with (400, 403,
 * 405, 426); on the client it is the status received for BAD_STATUS and 1002 (protocol
 * error) for the other checks — no close frame can be sent before the handshake completes,
 * the client just fails the connection (RFC 6455 §4.1).
 */
export class HandshakeError extends ProtocolError {
  readonly kind: HandshakeErrorKind;

  constructor(
    kind: HandshakeErrorKind,
    message: string,
    wireCode: number,
    initiator: Initiator,
    cause?: unknown,
  ) {
    super(
      HandshakeErrorCodes[kind],
      message,
      wireCode,
      initiator,
      cause === undefined ? undefined : { cause },
    );
    this.kind = kind;
  }
}

/** `base64(SHA-1(key + GUID))` (RFC 6455 §4.2.2 item 5.4). */
export function acceptKey(key: string): string {
  return createHash('sha1')
    .update(key + WEBSOCKET_GUID, 'latin1')
    .digest('base64');
}

// RFC 6455 §4.2.1 item 5: base64 of 16 bytes is 22 characters and "==". Strict: the last
// character carries 2 bits, so its low 4 bits must be zero (A, Q, g or w).
const KEY = /^[A-Za-z0-9+/]{21}[AQgw]==$/;

/** True when `key` is a canonical base64 encoding of exactly 16 bytes. */
export function isValidKey(key: string): boolean {
  return KEY.test(key);
}

/** Splits a comma-separated header value into trimmed, non-empty elements. */
function listElements(value: string | undefined): string[] {
  if (value === undefined) return [];
  const out: string[] = [];
  for (const part of value.split(',')) {
    const t = part.trim();
    if (t !== '') out.push(t);
  }
  return out;
}

function hasToken(value: string | undefined, token: string): boolean {
  return listElements(value).some((t) => t.toLowerCase() === token);
}

// ---------------------------------------------------------------------------------------
// Server

export interface UpgradeRequest {
  readonly method: string;
  /** '1.0', '1.1', '2', '3'… */
  readonly httpVersion: string;
  readonly headers: HeaderList;
  /**
   * An extended CONNECT with `:protocol: websocket` (RFC 8441 §4 over HTTP/2, RFC 9220
   * over HTTP/3) instead of a GET with Upgrade: no Upgrade, Connection or
   * Sec-WebSocket-Key, and the answer is a 200 without Sec-WebSocket-Accept (§5).
   */
  readonly extendedConnect?: boolean;
}

export interface ServerHandshakeOptions {
  /**
   * Picks a subprotocol from the client's offer (in the client's order), or undefined for
   * none. Returning something that was not offered is a local error. Without it, no
   * subprotocol is selected.
   */
  protocols?: (offered: string[]) => string | undefined;
  /** Returns false to refuse the Origin (403, RFC 6455 §4.2.2 item 4, §10.2). */
  checkOrigin?: (origin: string | undefined) => boolean;
  /**
   * permessage-deflate settings; `false` or undefined disables it (the extension header is
   * then ignored, as ws's server does by default).
   * @default undefined (disabled)
   */
  extensions?: PerMessageDeflateOptions | false;
  /** Limits for parsing Sec-WebSocket-Extensions. */
  extensionLimits?: ExtensionHeaderLimits;
  /**
   * Most subprotocols accepted in Sec-WebSocket-Protocol.
   * @default 64
   */
  maxProtocols?: number;
}

export interface UpgradeAccepted {
  readonly ok: true;
  /** The Sec-WebSocket-Accept value. */
  readonly accept: string;
  readonly protocol?: string;
  /** The Sec-WebSocket-Extensions response value, when an extension was agreed. */
  readonly extensions?: string;
  readonly deflateParams?: NegotiatedDeflate;
  /** Upgrade, Connection, Sec-WebSocket-Accept and the negotiated fields for the 101. */
  readonly responseHeaders: HeaderList;
}

export interface UpgradeRefused {
  readonly ok: false;
  readonly status: number;
  readonly headers: HeaderList;
  readonly message: string;
  readonly error: HandshakeError;
}

export type UpgradeResult = UpgradeAccepted | UpgradeRefused;

function refuse(
  kind: HandshakeErrorKind,
  status: number,
  message: string,
  headers: Record<string, string> = {},
  initiator: Initiator = 'remote',
): UpgradeRefused {
  return {
    ok: false,
    status,
    headers: new HeaderList(headers),
    message,
    error: new HandshakeError(kind, message, status, initiator),
  };
}

/** HTTP/1.1 or higher (RFC 6455 §4.1 item 2, §4.2.1 item 1). */
function versionAtLeast11(v: string): boolean {
  const m = /^(\d+)(?:\.(\d+))?$/.exec(v);
  if (m === null) return false;
  const major = Number(m[1]);
  const minor = Number(m[2] ?? 0);
  return major > 1 || (major === 1 && minor >= 1);
}

/**
 * Validates a client's opening handshake (RFC 6455 §4.2.1) and negotiates the subprotocol
 * and extensions (§4.2.2). The binding writes `101 Switching Protocols` with
 * `responseHeaders`, or `status` with `headers` and closes.
 */
export function validateUpgradeRequest(
  req: UpgradeRequest,
  options: ServerHandshakeOptions = {},
): UpgradeResult {
  const h = req.headers;
  if (req.extendedConnect === true) return validateExtendedConnect(req, options);
  // §4.2.1 item 1: an HTTP/1.1 or higher GET request.
  if (req.method !== 'GET') {
    return refuse('METHOD_NOT_ALLOWED', 405, 'The WebSocket handshake must be a GET request', {
      Allow: 'GET',
    });
  }
  if (!versionAtLeast11(req.httpVersion)) {
    return refuse('BAD_HTTP_VERSION', 400, 'The WebSocket handshake needs HTTP/1.1 or higher');
  }
  // §4.2.1 item 2: a |Host| header field.
  const hosts = h.getAll('host');
  if (hosts.length !== 1 || hosts[0]!.trim() === '') {
    return refuse('MISSING_HOST', 400, 'Missing or repeated Host header');
  }
  // §4.2.1 item 3: |Upgrade| containing "websocket" (ASCII case-insensitive).
  if (!hasToken(h.get('upgrade'), 'websocket')) {
    return refuse('BAD_UPGRADE', 400, 'The Upgrade header must include "websocket"');
  }
  // §4.2.1 item 4: |Connection| including the token "Upgrade" (case-insensitive).
  if (!hasToken(h.get('connection'), 'upgrade')) {
    return refuse('BAD_CONNECTION', 400, 'The Connection header must include "Upgrade"');
  }
  // §4.2.1 item 6 / §4.4: version 13, else 426 listing the versions we support.
  const version = h.get('sec-websocket-version');
  if (version === undefined || version.trim() !== WEBSOCKET_VERSION) {
    return refuse(
      'UNSUPPORTED_VERSION',
      426,
      'Unsupported Sec-WebSocket-Version (only 13 is supported)',
      { 'Sec-WebSocket-Version': WEBSOCKET_VERSION },
    );
  }
  // §4.2.1 item 5: a key that base64-decodes to 16 bytes.
  const keys = h.getAll('sec-websocket-key');
  const key = keys.length === 1 ? keys[0]!.trim() : undefined;
  if (key === undefined || !isValidKey(key)) {
    return refuse('BAD_KEY', 400, 'Missing or invalid Sec-WebSocket-Key');
  }
  const accept = acceptKey(key);
  const responseHeaders = new HeaderList();
  responseHeaders.append('Upgrade', 'websocket');
  responseHeaders.append('Connection', 'Upgrade');
  responseHeaders.append('Sec-WebSocket-Accept', accept);
  return negotiate(h, options, accept, responseHeaders);
}

/**
 * RFC 8441 §4-5: a CONNECT with `:protocol: websocket` opens the WebSocket on its stream.
 * Sec-WebSocket-Version must be 13; Origin, subprotocols and extensions work as in RFC 6455;
 * there is no key and no accept value.
 */
function validateExtendedConnect(
  req: UpgradeRequest,
  options: ServerHandshakeOptions,
): UpgradeResult {
  if (req.method !== 'CONNECT') {
    return refuse('METHOD_NOT_ALLOWED', 405, 'An extended CONNECT must use CONNECT');
  }
  const h = req.headers;
  const version = h.get('sec-websocket-version');
  if (version === undefined || version.trim() !== WEBSOCKET_VERSION) {
    return refuse(
      'UNSUPPORTED_VERSION',
      426,
      'Unsupported Sec-WebSocket-Version (only 13 is supported)',
      { 'Sec-WebSocket-Version': WEBSOCKET_VERSION },
    );
  }
  return negotiate(h, options, '', new HeaderList());
}

/** Origin check, subprotocol and extension negotiation, shared by both handshakes. */
function negotiate(
  h: HeaderList,
  options: ServerHandshakeOptions,
  accept: string,
  responseHeaders: HeaderList,
): UpgradeResult {
  // §4.2.2 item 4 and §10.2: the server may refuse an Origin with a 403.
  if (options.checkOrigin !== undefined && !options.checkOrigin(h.get('origin'))) {
    return refuse('FORBIDDEN_ORIGIN', 403, 'Origin not allowed');
  }

  // §4.2.1 item 8 / §11.3.4: a comma list of tokens, each at most once.
  let protocol: string | undefined;
  const protocolHeader = h.get('sec-websocket-protocol');
  if (protocolHeader !== undefined) {
    const offered = protocolHeader.split(',').map((p) => p.trim());
    const maxProtocols = options.maxProtocols ?? 64;
    if (offered.length > maxProtocols) {
      return refuse('BAD_PROTOCOL', 400, `More than ${maxProtocols} subprotocols offered`);
    }
    const seen = new Set<string>();
    for (const p of offered) {
      if (!isToken(p) || seen.has(p)) {
        return refuse('BAD_PROTOCOL', 400, 'Invalid Sec-WebSocket-Protocol header');
      }
      seen.add(p);
    }
    if (options.protocols !== undefined) {
      protocol = options.protocols([...offered]);
      // §4.2.2 item 5.4 (/subprotocol/): one of the values the client offered.
      if (protocol !== undefined && !seen.has(protocol)) {
        return refuse(
          'INVALID_OPTION',
          500,
          `The protocols callback chose ${JSON.stringify(protocol)}, which was not offered`,
          {},
          'local',
        );
      }
    }
  }

  // §4.2.1 item 9, §9.1: extension negotiation (only permessage-deflate is known).
  let extensions: string | undefined;
  let deflateParams: NegotiatedDeflate | undefined;
  const extHeader = h.get('sec-websocket-extensions');
  if (options.extensions !== undefined && options.extensions !== false && extHeader !== undefined) {
    let offers: ExtensionOffer[];
    try {
      offers = parseExtensions(extHeader, options.extensionLimits);
    } catch (err) {
      if (!(err instanceof ExtensionHeaderError)) throw err;
      return refuse('BAD_EXTENSIONS', 400, err.message);
    }
    const agreed = negotiateDeflate(
      offers.filter((o) => o.name === PERMESSAGE_DEFLATE),
      options.extensions,
    );
    if (agreed !== undefined) {
      deflateParams = agreed.params;
      extensions = serializeExtensions([agreed.response]);
    }
  }

  if (protocol !== undefined) responseHeaders.append('Sec-WebSocket-Protocol', protocol);
  if (extensions !== undefined) responseHeaders.append('Sec-WebSocket-Extensions', extensions);
  return {
    ok: true,
    accept,
    ...(protocol !== undefined ? { protocol } : {}),
    ...(extensions !== undefined ? { extensions, deflateParams } : {}),
    responseHeaders,
  };
}

// ---------------------------------------------------------------------------------------
// Client

export interface ClientHandshakeOptions {
  /** ws: or wss: (http:/https: are accepted and mean the same). No fragment (§3). */
  url: URL;
  /** Subprotocols to offer, most preferred first; tokens, each once. */
  protocols?: readonly string[];
  /** permessage-deflate to offer; `false` or undefined offers none. @default undefined */
  extensions?: PerMessageDeflateOptions | false;
  /** Extra request headers (Origin, Authorization, Cookie…); cannot replace ours. */
  headers?: HeaderInit;
  /** Cryptographically strong random bytes (the key must be unpredictable, §4.1 item 7). */
  randomBytes: (n: number) => Uint8Array;
}

export interface ClientHandshakeState {
  readonly key: string;
  readonly expectedAccept: string;
  /** The request-target (origin-form path and query). */
  readonly path: string;
  readonly requestHeaders: HeaderList;
  readonly protocols: readonly string[];
  readonly extensions: PerMessageDeflateOptions | false;
}

/** Headers the handshake computes itself; extra headers may not set them. */
const RESERVED = new Set([
  'host',
  'upgrade',
  'connection',
  'sec-websocket-key',
  'sec-websocket-version',
  'sec-websocket-protocol',
  'sec-websocket-extensions',
  'sec-websocket-accept',
]);

function optionError(message: string): HandshakeError {
  return new HandshakeError('INVALID_OPTION', message, 1002, 'local');
}

/** Builds the client's opening handshake (RFC 6455 §4.1). Throws HandshakeError on bad options. */
export function createClientHandshake(options: ClientHandshakeOptions): ClientHandshakeState {
  const { url } = options;
  // §3: the ws and wss schemes; a fragment MUST NOT be used.
  if (!['ws:', 'wss:', 'http:', 'https:'].includes(url.protocol)) {
    throw optionError(`Unsupported URL scheme ${url.protocol}: use ws: or wss:`);
  }
  if (url.hash !== '' || url.href.endsWith('#')) {
    throw optionError('A WebSocket URL must not have a fragment (RFC 6455 §3)');
  }
  const protocols = [...(options.protocols ?? [])];
  const seen = new Set<string>();
  for (const p of protocols) {
    // §4.1 item 10: each element a token, unique.
    if (!isToken(p) || seen.has(p)) {
      throw optionError(`Invalid or duplicate subprotocol ${JSON.stringify(p)}`);
    }
    seen.add(p);
  }
  const bytes = options.randomBytes(16);
  // §4.1 item 7: a randomly selected 16-byte value, base64-encoded.
  if (!(bytes instanceof Uint8Array) || bytes.length !== 16) {
    throw new InvalidOptionError('randomBytes(16) must return 16 bytes');
  }
  const key = Buffer.from(bytes.buffer, bytes.byteOffset, 16).toString('base64');

  const headers = new HeaderList();
  headers.append('Host', url.host);
  headers.append('Upgrade', 'websocket');
  headers.append('Connection', 'Upgrade');
  headers.append('Sec-WebSocket-Key', key);
  headers.append('Sec-WebSocket-Version', WEBSOCKET_VERSION);
  if (protocols.length > 0) headers.append('Sec-WebSocket-Protocol', protocols.join(', '));
  const extensions = options.extensions ?? false;
  if (extensions !== false) {
    headers.append(
      'Sec-WebSocket-Extensions',
      serializeExtensions([createDeflateOffer(extensions)]),
    );
  }
  if (options.headers !== undefined) {
    const extra = new HeaderList(options.headers);
    for (const [name, value] of extra) {
      if (RESERVED.has(name.toLowerCase())) {
        throw optionError(`The ${name} header is set by the handshake and cannot be overridden`);
      }
      headers.append(name, value);
    }
  }
  return {
    key,
    expectedAccept: acceptKey(key),
    path: (url.pathname || '/') + url.search,
    requestHeaders: headers,
    protocols,
    extensions,
  };
}

export interface ServerHandshakeResponse {
  readonly status: number;
  readonly headers: HeaderList;
}

export type ClientHandshakeResult =
  | {
      readonly ok: true;
      readonly protocol?: string;
      readonly deflateParams?: NegotiatedDeflate;
      /** The extensions the server agreed to, as parsed. */
      readonly extensions: readonly ExtensionOffer[];
    }
  | { readonly ok: false; readonly error: HandshakeError };

/** The client's checks on the server's response (RFC 6455 §4.1, items 1–6). */
export function verifyServerHandshake(
  res: ServerHandshakeResponse,
  state: ClientHandshakeState,
): ClientHandshakeResult {
  const fail = (
    kind: HandshakeErrorKind,
    message: string,
    cause?: unknown,
  ): ClientHandshakeResult => ({
    ok: false,
    error: new HandshakeError(
      kind,
      message,
      kind === 'BAD_STATUS' ? res.status : 1002,
      'remote',
      cause,
    ),
  });
  const h = res.headers;
  // Item 1: anything other than 101 is handled per HTTP (the binding may follow redirects
  // or authenticate); as far as the WebSocket is concerned the handshake failed.
  if (res.status !== 101) {
    return fail('BAD_STATUS', `Expected status 101 Switching Protocols, got ${res.status}`);
  }
  // Item 2: |Upgrade| an ASCII case-insensitive match for "websocket".
  const upgrade = h.get('upgrade');
  if (upgrade === undefined || upgrade.trim().toLowerCase() !== 'websocket') {
    return fail('BAD_UPGRADE', 'The response Upgrade header is not "websocket"');
  }
  // Item 3: |Connection| containing the token "Upgrade".
  if (!hasToken(h.get('connection'), 'upgrade')) {
    return fail('BAD_CONNECTION', 'The response Connection header does not include "Upgrade"');
  }
  // Item 4: Sec-WebSocket-Accept must be base64(SHA-1(key + GUID)).
  const accepts = h.getAll('sec-websocket-accept');
  if (accepts.length !== 1 || accepts[0]!.trim() !== state.expectedAccept) {
    return fail('BAD_ACCEPT', 'Sec-WebSocket-Accept does not match the key');
  }
  // Item 5: extensions must be ones we requested, with acceptable parameters.
  let deflateParams: NegotiatedDeflate | undefined;
  let agreed: ExtensionOffer[] = [];
  const extHeader = h.get('sec-websocket-extensions');
  if (extHeader !== undefined) {
    try {
      agreed = parseExtensions(extHeader);
    } catch (err) {
      if (!(err instanceof ExtensionHeaderError)) throw err;
      return fail('BAD_EXTENSIONS', err.message, err);
    }
    for (const ext of agreed) {
      if (ext.name !== PERMESSAGE_DEFLATE || state.extensions === false) {
        return fail(
          'BAD_EXTENSIONS',
          `The server selected extension "${ext.name}", which was not offered`,
        );
      }
      if (deflateParams !== undefined) {
        return fail('BAD_EXTENSIONS', 'The server selected permessage-deflate twice');
      }
      try {
        deflateParams = acceptDeflateResponse(ext, state.extensions);
      } catch (err) {
        if (!(err instanceof DeflateError)) throw err;
        return fail('BAD_EXTENSIONS', err.message, err);
      }
    }
  }
  // Item 6: the subprotocol must be one we offered; none when we offered none.
  let protocol: string | undefined;
  const protocols = h.getAll('sec-websocket-protocol');
  if (protocols.length > 0) {
    const value = protocols.length === 1 ? protocols[0]!.trim() : '';
    if (!state.protocols.includes(value)) {
      return fail(
        'BAD_PROTOCOL',
        state.protocols.length === 0
          ? 'The server selected a subprotocol although none was offered'
          : `The server selected subprotocol ${JSON.stringify(value)}, which was not offered`,
      );
    }
    protocol = value;
  }
  return {
    ok: true,
    ...(protocol !== undefined ? { protocol } : {}),
    ...(deflateParams !== undefined ? { deflateParams } : {}),
    extensions: agreed,
  };
}
