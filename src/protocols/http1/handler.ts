/** The callback interface of Http1Parser (llhttp style, STYLE §12). */
import type { HeadersCompleteAction, Http1MessageKind } from './constants.js';
import type { Http1ParseError } from './errors.js';

/** What the parser knows when the head of a message is complete. */
export interface Http1HeadersInfo {
  readonly kind: Http1MessageKind;
  /** Request method (`''` for responses). */
  readonly method: string;
  /** Response status code (0 for requests). */
  readonly statusCode: number;
  readonly versionMajor: number;
  readonly versionMinor: number;
  /** `Http1Flags` bits. */
  readonly flags: number;
  /** The connection may carry another message after this one (RFC 9112 §9.3). */
  readonly keepAlive: boolean;
  /** Upgrade or CONNECT: the parser stops after this message (RFC 9110 §7.8, §9.3.6). */
  readonly upgrade: boolean;
  /** Content-Length value, or -1 when absent. */
  readonly contentLength: number;
  readonly chunked: boolean;
  /** `Expect: 100-continue` was sent (RFC 9110 §10.1.1). */
  readonly expectContinue: boolean;
}

/** Callbacks. Every method is optional; spans are `bytes.subarray(start, end)`. */
export interface Http1ParserHandler {
  onMessageBegin?(): void;
  onMethod?(bytes: Uint8Array, start: number, end: number): void;
  onMethodComplete?(): void;
  onUrl?(bytes: Uint8Array, start: number, end: number): void;
  onUrlComplete?(): void;
  onProtocol?(bytes: Uint8Array, start: number, end: number): void;
  onProtocolComplete?(): void;
  onVersion?(bytes: Uint8Array, start: number, end: number): void;
  onVersionComplete?(): void;
  onStatus?(bytes: Uint8Array, start: number, end: number): void;
  onStatusComplete?(): void;
  onHeaderField?(bytes: Uint8Array, start: number, end: number): void;
  onHeaderFieldComplete?(): void;
  onHeaderValue?(bytes: Uint8Array, start: number, end: number): void;
  onHeaderValueComplete?(): void;
  /** Return `HeadersCompleteAction.SKIP_BODY` or `.UPGRADE` to override the framing. */
  onHeadersComplete?(info: Http1HeadersInfo): HeadersCompleteAction | void;
  onBody?(bytes: Uint8Array, start: number, end: number): void;
  onChunkHeader?(size: number): void;
  onChunkExtensionName?(bytes: Uint8Array, start: number, end: number): void;
  onChunkExtensionNameComplete?(): void;
  onChunkExtensionValue?(bytes: Uint8Array, start: number, end: number): void;
  onChunkExtensionValueComplete?(): void;
  onChunkComplete?(): void;
  onMessageComplete?(): void;
  onError?(error: Http1ParseError): void;
}

export type SpanFn = (bytes: Uint8Array, start: number, end: number) => void;
type Fn = () => void;
export interface ResolvedHandler {
  onMessageBegin: Fn;
  onMethod: SpanFn;
  onMethodComplete: Fn;
  onUrl: SpanFn;
  onUrlComplete: Fn;
  onProtocol: SpanFn;
  onProtocolComplete: Fn;
  onVersion: SpanFn;
  onVersionComplete: Fn;
  onStatus: SpanFn;
  onStatusComplete: Fn;
  onHeaderField: SpanFn;
  onHeaderFieldComplete: Fn;
  onHeaderValue: SpanFn;
  onHeaderValueComplete: Fn;
  onHeadersComplete: (info: Http1HeadersInfo) => HeadersCompleteAction | void;
  onBody: SpanFn;
  onChunkHeader: (size: number) => void;
  onChunkExtensionName: SpanFn;
  onChunkExtensionNameComplete: Fn;
  onChunkExtensionValue: SpanFn;
  onChunkExtensionValueComplete: Fn;
  onChunkComplete: Fn;
  onMessageComplete: Fn;
  onError: (error: Http1ParseError) => void;
}
const HANDLER_KEYS: readonly (keyof ResolvedHandler)[] = [
  'onMessageBegin',
  'onMethod',
  'onMethodComplete',
  'onUrl',
  'onUrlComplete',
  'onProtocol',
  'onProtocolComplete',
  'onVersion',
  'onVersionComplete',
  'onStatus',
  'onStatusComplete',
  'onHeaderField',
  'onHeaderFieldComplete',
  'onHeaderValue',
  'onHeaderValueComplete',
  'onHeadersComplete',
  'onBody',
  'onChunkHeader',
  'onChunkExtensionName',
  'onChunkExtensionNameComplete',
  'onChunkExtensionValue',
  'onChunkExtensionValueComplete',
  'onChunkComplete',
  'onMessageComplete',
  'onError',
];
const noop = (): void => {};

/**
 * Marks a handler whose callbacks need no `this` (arrow functions closed over their
 * owner). The parser then uses the object as it is — missing callbacks are filled in
 * with no-ops on it — instead of binding every callback: on a server with thousands of
 * idle keep-alive connections, 22 bound functions and an object per connection add up.
 */
export const PRE_BOUND: unique symbol = Symbol('ghostnet.http1.preBoundHandler');

/** Every callback present (missing ones become no-ops), bound to `handler`. */
export function resolveHandler(handler: Http1ParserHandler): ResolvedHandler {
  if ((handler as { [PRE_BOUND]?: boolean })[PRE_BOUND] === true) {
    const target = handler as Record<string, unknown>;
    for (const key of HANDLER_KEYS) if (typeof target[key] !== 'function') target[key] = noop;
    return handler as unknown as ResolvedHandler;
  }
  const h = {} as Record<string, unknown>;
  for (const key of HANDLER_KEYS) {
    const fn = handler[key] as ((...args: unknown[]) => unknown) | undefined;
    h[key] = typeof fn === 'function' ? fn.bind(handler) : noop;
  }
  return h as unknown as ResolvedHandler;
}
