/** Hex helpers for tests that compare wire bytes with the RFCs' hex dumps. */

/** Bytes from hex; whitespace is ignored so RFC dumps can be pasted as they are. */
export const hex = (s: string): Uint8Array =>
  Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

/** Lowercase hex of the bytes ('' for undefined). */
export const toHex = (b: Uint8Array | undefined): string =>
  b === undefined ? '' : Buffer.from(b).toString('hex');

/** Hex of a Latin-1 string, for writing expected string literals inside a dump. */
export const ascii = (s: string): string => Buffer.from(s, 'latin1').toString('hex');
