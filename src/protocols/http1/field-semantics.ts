/**
 * The field lines the parser itself interprets, recognised byte by byte as they stream
 * past (no name or value is buffered): Content-Length and Transfer-Encoding (framing,
 * RFC 9112 §6), Connection / Proxy-Connection (RFC 9110 §7.6.1, RFC 9112 §9.3), Upgrade
 * (RFC 9110 §7.8) and Expect (RFC 9110 §10.1.1). Internal to the parser.
 */
import { COMMA, HTAB, Http1Flags, SP } from './constants.js';
import { LOWER, ascii } from './tokens.js';

export const H_NONE = 0;
export const H_CONTENT_LENGTH = 1;
export const H_TRANSFER_ENCODING = 2;
export const H_CONNECTION = 3;
export const H_UPGRADE = 4;
export const H_EXPECT = 5;
/** Non-standard; treated as Connection, as llhttp and Node's http do. */
const H_PROXY_CONNECTION = 6;
const KNOWN_NAMES = [
  ascii(''),
  ascii('content-length'),
  ascii('transfer-encoding'),
  ascii('connection'),
  ascii('upgrade'),
  ascii('expect'),
  ascii('proxy-connection'),
];
const ALL_NAMES = 0b1111110;

const T_CHUNKED = 1;
const T_CLOSE = 2;
const T_KEEP_ALIVE = 3;
const T_UPGRADE = 4;
const T_100_CONTINUE = 5;
const KNOWN_TOKENS = [
  ascii(''),
  ascii('chunked'),
  ascii('close'),
  ascii('keep-alive'),
  ascii('upgrade'),
  ascii('100-continue'),
];
const ALL_TOKENS = 0b111110;

/** Results of `valueByte` / `valueEnd`. */
export const SEM_OK = 0;
export const SEM_BAD_CONTENT_LENGTH = 1;
export const SEM_CONTENT_LENGTH_OVERFLOW = 2;
export const SEM_DUPLICATE_CONTENT_LENGTH = 3;
export const SEM_EMPTY_CONTENT_LENGTH = 4;
/** A request coding follows `chunked` (RFC 9112 §6.3: chunked must be last). */
export const SEM_CODING_AFTER_CHUNKED = 5;

export class FieldSemantics {
  /** `Http1Flags` bits seen so far in this head. */
  flags = 0;
  /** Content-Length value, -1 when absent. */
  contentLength = -1;
  expectContinue = false;
  /** The last transfer coding seen is `chunked`. */
  teChunkedLast = false;
  /** `chunked` was seen in some Transfer-Encoding field. */
  teChunkedSeen = false;
  /** Which interpreted field the current value belongs to (`H_*`). */
  header = H_NONE;

  #nameMask = 0;
  #nameLen = 0;
  #clDigits = 0;
  #clSpace = false;
  #tokMask = 0;
  #tokLen = 0;
  #tokSpace = false;

  reset(): void {
    this.flags = 0;
    this.contentLength = -1;
    this.expectContinue = false;
    this.teChunkedLast = false;
    this.teChunkedSeen = false;
    this.header = H_NONE;
  }

  nameStart(): void {
    this.#nameMask = ALL_NAMES;
    this.#nameLen = 0;
  }

  /** Field-name bytes `data[start..end)` (already checked to be tchar). */
  nameBytes(data: Uint8Array, start: number, end: number): void {
    let mask = this.#nameMask;
    let n = this.#nameLen;
    for (let i = start; i < end && mask !== 0; i++, n++) {
      const c = LOWER[data[i]!]!;
      for (let k = 1; k < KNOWN_NAMES.length; k++) {
        if ((mask & (1 << k)) !== 0 && KNOWN_NAMES[k]![n] !== c) mask &= ~(1 << k);
      }
    }
    this.#nameMask = mask;
    this.#nameLen += end - start;
  }

  /**
   * The colon was read. Returns true when Content-Length and Transfer-Encoding now both
   * appear (RFC 9112 §6.3: reject). Trailer fields are never interpreted (RFC 9110 §6.5.1).
   */
  valueStart(inTrailers: boolean): boolean {
    let id = H_NONE;
    if (!inTrailers) {
      for (let k = 1; k < KNOWN_NAMES.length; k++) {
        if ((this.#nameMask & (1 << k)) !== 0 && KNOWN_NAMES[k]!.length === this.#nameLen) id = k;
      }
      if (id === H_PROXY_CONNECTION) id = H_CONNECTION;
    }
    this.header = id;
    this.#clDigits = 0;
    this.#clSpace = false;
    this.#tokLen = 0;
    this.#tokMask = ALL_TOKENS;
    this.#tokSpace = false;
    if (id === H_TRANSFER_ENCODING) {
      this.flags |= Http1Flags.TRANSFER_ENCODING;
      return (this.flags & Http1Flags.CONTENT_LENGTH) !== 0;
    }
    if (id === H_CONTENT_LENGTH) return (this.flags & Http1Flags.TRANSFER_ENCODING) !== 0;
    if (id === H_UPGRADE) this.flags |= Http1Flags.UPGRADE;
    return false;
  }

  /** True when the current value needs `valueByte` for each byte. */
  get interpreting(): boolean {
    return this.header !== H_NONE && this.header !== H_UPGRADE;
  }

  /** One value byte (a field-value character). Returns `SEM_*`. */
  valueByte(b: number, isRequest: boolean): number {
    if (this.header === H_CONTENT_LENGTH) {
      // RFC 9112 §6.3 / RFC 9110 §8.6: Content-Length = 1*DIGIT; anything else is fatal.
      if (b >= 0x30 && b <= 0x39) {
        if (this.#clSpace) return SEM_BAD_CONTENT_LENGTH;
        if (this.#clDigits === 0) {
          if ((this.flags & Http1Flags.CONTENT_LENGTH) !== 0) return SEM_DUPLICATE_CONTENT_LENGTH;
          this.contentLength = 0;
        }
        const v = this.contentLength * 10 + (b - 0x30);
        if (v > Number.MAX_SAFE_INTEGER) return SEM_CONTENT_LENGTH_OVERFLOW;
        this.contentLength = v;
        this.#clDigits++;
        return SEM_OK;
      }
      if ((b === SP || b === HTAB) && this.#clDigits > 0) {
        this.#clSpace = true;
        return SEM_OK;
      }
      return SEM_BAD_CONTENT_LENGTH;
    }
    // Comma-separated token lists (RFC 9110 §5.6.1).
    if (b === COMMA) {
      this.#endToken();
      const te = this.header === H_TRANSFER_ENCODING;
      return te && this.teChunkedLast && isRequest ? SEM_CODING_AFTER_CHUNKED : SEM_OK;
    }
    if (b === SP || b === HTAB) {
      if (this.#tokLen > 0) this.#tokSpace = true;
      return SEM_OK;
    }
    let mask = this.#tokMask;
    if (this.#tokSpace) mask = 0;
    else if (mask !== 0) {
      const c = LOWER[b]!;
      const n = this.#tokLen;
      for (let k = 1; k < KNOWN_TOKENS.length; k++) {
        if ((mask & (1 << k)) !== 0 && KNOWN_TOKENS[k]![n] !== c) mask &= ~(1 << k);
      }
    }
    this.#tokMask = mask;
    this.#tokLen++;
    return SEM_OK;
  }

  /** The value ended (CRLF not followed by obs-fold). Returns `SEM_*`. */
  valueEnd(): number {
    const id = this.header;
    this.header = H_NONE;
    if (id === H_CONTENT_LENGTH) {
      if (this.#clDigits === 0) return SEM_EMPTY_CONTENT_LENGTH;
      this.flags |= Http1Flags.CONTENT_LENGTH;
      return SEM_OK;
    }
    if (id === H_TRANSFER_ENCODING || id === H_CONNECTION || id === H_EXPECT) {
      this.header = id;
      this.#endToken();
      this.header = H_NONE;
    }
    return SEM_OK;
  }

  #endToken(): void {
    const n = this.#tokLen;
    if (n > 0) {
      let tok = 0;
      for (let k = 1; k < KNOWN_TOKENS.length; k++) {
        if ((this.#tokMask & (1 << k)) !== 0 && KNOWN_TOKENS[k]!.length === n) tok = k;
      }
      switch (this.header) {
        case H_TRANSFER_ENCODING:
          this.teChunkedLast = tok === T_CHUNKED;
          if (tok === T_CHUNKED) this.teChunkedSeen = true;
          break;
        case H_CONNECTION:
          if (tok === T_CLOSE) this.flags |= Http1Flags.CONNECTION_CLOSE;
          else if (tok === T_KEEP_ALIVE) this.flags |= Http1Flags.CONNECTION_KEEP_ALIVE;
          else if (tok === T_UPGRADE) this.flags |= Http1Flags.CONNECTION_UPGRADE;
          break;
        case H_EXPECT:
          if (tok === T_100_CONTINUE) this.expectContinue = true;
          break;
      }
    }
    this.#tokLen = 0;
    this.#tokMask = ALL_TOKENS;
    this.#tokSpace = false;
  }
}
