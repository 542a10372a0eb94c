/**
 * 256-entry character tables for the HTTP/1.1 parser (STYLE §12: one indexed load per
 * byte instead of comparisons).
 */

function table(pred: (c: number) => boolean): Uint8Array {
  const t = new Uint8Array(256);
  for (let c = 0; c < 256; c++) t[c] = pred(c) ? 1 : 0;
  return t;
}

const isAlnum = (c: number): boolean =>
  (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);

/** tchar (RFC 9110 §5.6.2): `!#$%&'*+-.^_`|~`, DIGIT, ALPHA. */
export const TCHAR = table((c) => isAlnum(c) || "!#$%&'*+-.^_`|~".includes(String.fromCharCode(c)));

/**
 * field-vchar / SP / HTAB (RFC 9110 §5.5): VCHAR, obs-text (0x80–0xFF), SP, HTAB.
 * CR, LF, NUL and other controls are excluded.
 */
export const FIELD_VALUE = table((c) => c === 0x09 || (c >= 0x20 && c !== 0x7f));

/**
 * request-target bytes (RFC 9112 §3.2, RFC 3986): visible ASCII. Spaces, controls and
 * non-ASCII bytes are rejected (strict, as llhttp is).
 */
export const URL_CHAR = table((c) => c > 0x20 && c < 0x7f);

/** reason-phrase (RFC 9112 §4): HTAB, SP, VCHAR, obs-text. */
export const REASON_CHAR = FIELD_VALUE;

/** qdtext (RFC 9110 §5.6.4): HTAB, SP, VCHAR except `"` and `\`, obs-text. */
export const QDTEXT = table(
  (c) => c === 0x09 || (c >= 0x20 && c !== 0x22 && c !== 0x5c && c !== 0x7f),
);

/** Hex digit values; 0xff marks a non-hex byte. */
export const HEX = (() => {
  const t = new Uint8Array(256).fill(0xff);
  for (let c = 0; c < 10; c++) t[0x30 + c] = c;
  for (let c = 0; c < 6; c++) {
    t[0x41 + c] = 10 + c;
    t[0x61 + c] = 10 + c;
  }
  return t;
})();

/** ASCII lowercase map. */
export const LOWER = (() => {
  const t = new Uint8Array(256);
  for (let c = 0; c < 256; c++) t[c] = c >= 0x41 && c <= 0x5a ? c + 0x20 : c;
  return t;
})();

/** ASCII bytes of a lowercase literal. */
export function ascii(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}
