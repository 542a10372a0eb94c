/**
 * The byte queue of the HTTP/1.1 server core. Heads, chunk-size lines and small body
 * chunks are gathered as one latin1 string and encoded once per flush, so a pipelined batch
 * of small responses leaves as one Buffer (STYLE §12); large body chunks are queued as they
 * are, without copying.
 */

/** Body chunks up to this size are copied into the text run instead of queued separately. */
export const SMALL_CHUNK = 1024;

type Latin1Slice = (this: Uint8Array, start: number, end: number) => string;
// Buffer's latin1Slice works on any Uint8Array and maps bytes 0–255 to code points 0–255,
// so a binary chunk survives the round trip through a latin1 string unchanged.
const latin1Slice = (Buffer.prototype as unknown as { latin1Slice: Latin1Slice }).latin1Slice;

/** `bytes[start, end)` as a latin1 string. */
export function latin1(bytes: Uint8Array, start: number, end: number): string {
  return latin1Slice.call(bytes, start, end);
}

export class OutputBuffer {
  #text = '';
  #chunks: Uint8Array[] = [];
  /** Bytes queued and not yet taken. */
  bytes = 0;

  text(s: string): void {
    this.#text += s;
    this.bytes += s.length;
  }

  data(chunk: Uint8Array): void {
    const n = chunk.length;
    if (n === 0) return;
    this.bytes += n;
    if (n <= SMALL_CHUNK) {
      this.#text += latin1Slice.call(chunk, 0, n);
      return;
    }
    this.#flushText();
    this.#chunks.push(chunk);
  }

  /** Moves everything queued here to the end of `to`. */
  moveTo(to: OutputBuffer): void {
    if (this.#chunks.length === 0) {
      to.#text += this.#text;
    } else {
      to.#flushText();
      this.#flushText();
      for (const c of this.#chunks) to.#chunks.push(c);
      this.#chunks = [];
    }
    to.bytes += this.bytes;
    this.#text = '';
    this.bytes = 0;
  }

  /** Everything queued, in order, as chunks for one `writev`; empties the buffer. */
  take(): Uint8Array[] {
    this.#flushText();
    const out = this.#chunks;
    this.#chunks = [];
    this.bytes = 0;
    return out;
  }

  #flushText(): void {
    if (this.#text.length > 0) {
      this.#chunks.push(Buffer.from(this.#text, 'latin1'));
      this.#text = '';
    }
  }
}
