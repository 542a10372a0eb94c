/** Limits of the HTTP/1.1 parser (STYLE §4). Every default is finite. */
import { InvalidOptionError } from '../../errors.js';

export interface Http1Limits {
  /**
   * Longest request-target (URL) in bytes. Longer → 414 URI Too Long (RFC 9112 §3 asks
   * for at least 8000 octets).
   * @default 8192
   */
  maxUrlLength: number;
  /**
   * Longest method token. Longer → 501 Not Implemented (no such method is implemented).
   * @default 32
   */
  maxMethodLength: number;
  /**
   * Bytes of the message head (start line without the URL, every field line, the final
   * CRLF). Larger → 431 Request Header Fields Too Large.
   * @default 16384
   */
  maxHeaderBytes: number;
  /**
   * Field lines in one head. More → 431.
   * @default 100
   */
  maxHeaderCount: number;
  /**
   * Body bytes of one message (Content-Length, the sum of chunks, or a close-delimited
   * body). Larger → 413 Content Too Large. The parser never buffers the body; this is a
   * policy limit so one request cannot stream forever.
   * @default 1073741824 (1 GiB)
   */
  maxBodySize: number;
  /**
   * Bytes of the chunk extensions of one chunk (after the size, up to CRLF). Larger → 400.
   * @default 1024
   */
  maxChunkExtensionLength: number;
  /**
   * Bytes of the trailer section after the last chunk. Larger → 431.
   * @default 8192
   */
  maxTrailerBytes: number;
  /**
   * Requests parsed but not yet released with `releaseMessage()` (pipelining). When this
   * many are outstanding, `execute()` stops before the next request and returns
   * `ExecuteStatus.BLOCKED`; the caller keeps the rest and feeds it after a release.
   * Request parsers only.
   * @default 16
   */
  maxPipelinedRequests: number;
}

export const DEFAULT_HTTP1_LIMITS: Readonly<Http1Limits> = Object.freeze({
  maxUrlLength: 8192,
  maxMethodLength: 32,
  maxHeaderBytes: 16384,
  maxHeaderCount: 100,
  maxBodySize: 1024 * 1024 * 1024,
  maxChunkExtensionLength: 1024,
  maxTrailerBytes: 8192,
  maxPipelinedRequests: 16,
});

/** Merge user limits over the defaults and validate them. */
export function resolveHttp1Limits(user: Partial<Http1Limits> = {}): Readonly<Http1Limits> {
  const out = { ...DEFAULT_HTTP1_LIMITS, ...user };
  for (const key of Object.keys(DEFAULT_HTTP1_LIMITS) as (keyof Http1Limits)[]) {
    const v = out[key];
    if (!Number.isSafeInteger(v) || v < 1) {
      throw new InvalidOptionError(
        `unsupported ${key}: ${String(v)}, use a positive safe integer (there is no "unlimited")`,
      );
    }
  }
  return Object.freeze(out);
}
