/**
 * Streaming `multipart/form-data` (RFC 7578) over the multipart syntax of RFC 2046 §5.1.
 *
 * - `MultipartParser` is sans-I/O: bytes in (any split), events out. It finds delimiters
 *   across chunk boundaries while holding back at most one delimiter's length of body
 *   bytes, and enforces every limit as it goes, so memory stays bounded by
 *   `maxHeaderBytes` plus one chunk.
 * - `parseMultipart(req)` drives it from the request body and yields parts whose bodies
 *   stream (backpressure flows to the request body: nothing is read ahead of the consumer).
 * - `readMultipart(req)` collects a whole form, bounded by `maxTotalBytes`.
 *
 * Limits raise `HttpError(413)`; malformed input (no boundary, bad part headers, missing
 * close delimiter) raises `HttpError(400)`; a Content-Type that is not multipart/form-data
 * raises `HttpError(415)`.
 */
import { GhostnetError, InvalidOptionError } from '../../errors.js';
import { HttpError } from './errors.js';
import { HeaderList } from './headers.js';
import type { HttpRequest } from './types.js';

export interface MultipartLimits {
  /**
   * Most parts in one body.
   * @default 100
   */
  maxParts?: number;
  /**
   * Largest body of a part without a filename (a form field), in bytes.
   * @default 1048576 (1 MiB)
   */
  maxFieldBytes?: number;
  /**
   * Largest body of a part with a filename (a file), in bytes.
   * @default 10485760 (10 MiB)
   */
  maxFileBytes?: number;
  /**
   * Largest header block of one part, in bytes.
   * @default 8192
   */
  maxHeaderBytes?: number;
  /**
   * Largest whole request body (preamble, delimiters, headers, epilogue included). It also
   * bounds what `readMultipart` holds in memory.
   * @default 33554432 (32 MiB)
   */
  maxTotalBytes?: number;
}

export const DEFAULT_MULTIPART_LIMITS: Readonly<Required<MultipartLimits>> = Object.freeze({
  maxParts: 100,
  maxFieldBytes: 1024 * 1024,
  maxFileBytes: 10 * 1024 * 1024,
  maxHeaderBytes: 8 * 1024,
  maxTotalBytes: 32 * 1024 * 1024,
});

/** What the parser reports, in order: part, data*, part-end, …, end. */
export type MultipartEvent =
  | {
      readonly type: 'part';
      readonly name: string;
      readonly filename: string | undefined;
      readonly contentType: string;
      readonly headers: HeaderList;
    }
  | { readonly type: 'data'; readonly data: Uint8Array }
  | { readonly type: 'part-end' }
  | { readonly type: 'end' };

export interface MultipartPart {
  /** The `name` parameter of Content-Disposition (RFC 7578 §4.2). */
  readonly name: string;
  /**
   * The file name (`filename*` preferred over `filename`), reduced to its last path
   * segment: RFC 7578 §4.2 warns never to use a supplied name blindly. Undefined for
   * plain fields.
   */
  readonly filename: string | undefined;
  /** The part's Content-Type, `text/plain` when absent (RFC 7578 §4.4). */
  readonly contentType: string;
  readonly headers: HeaderList;
  /** The part's bytes. Read it before asking for the next part (unread bytes are skipped). */
  readonly body: AsyncIterable<Uint8Array>;
  /** The whole body (bounded by maxFieldBytes or maxFileBytes). */
  bytes(): Promise<Uint8Array>;
  /** The whole body as UTF-8 (invalid → 400). */
  text(): Promise<string>;
}

export interface MultipartForm {
  /** Plain fields by name, values in order. */
  readonly fields: Map<string, string[]>;
  readonly files: Array<{ name: string; filename: string; contentType: string; data: Uint8Array }>;
}

/** A part's body was read after the iteration moved on to a later part. */
export class MultipartStateError extends GhostnetError {
  constructor() {
    super(
      'GN_ERR_HTTP_MULTIPART_STATE',
      'A multipart part body must be read before the next part is requested',
    );
  }
}

const encoder = new TextEncoder();
const headerDecoder = new TextDecoder('utf-8');
const CRLF = encoder.encode('\r\n');
const CRLFCRLF = encoder.encode('\r\n\r\n');
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// RFC 2046 §5.1.1: 1 to 70 bchars, the last not a space.
const BOUNDARY = /^[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]$/;
// eslint-disable-next-line no-control-regex -- matching control bytes is the point
const CONTROL = /[\0-\x08\x0a-\x1f\x7f]/;
/** Most transport padding (LWSP after a delimiter) tolerated before its CRLF. */
const MAX_PADDING = 256;

function badRequest(message: string): HttpError {
  return new HttpError(400, message, { code: 'GN_ERR_HTTP_MULTIPART_MALFORMED' });
}

function tooLarge(message: string): HttpError {
  return new HttpError(413, message, { code: 'GN_ERR_HTTP_MULTIPART_LIMIT' });
}

// ── header parameters ──────────────────────────────────────────────────────────

/**
 * Splits `value; a=b; c="d"` into its leading value and parameters (RFC 9110 §5.6.6,
 * quoted strings with quoted-pairs per §5.6.4, names case-insensitive). Returns undefined
 * when the syntax is broken or a parameter repeats (a repeated `name` would let two
 * parsers disagree about which field this is).
 */
export function parseHeaderParams(
  value: string,
): { value: string; params: Map<string, string> } | undefined {
  const semi = value.indexOf(';');
  const head = (semi < 0 ? value : value.slice(0, semi)).trim();
  const params = new Map<string, string>();
  if (semi < 0) return { value: head, params };
  let i = semi;
  const n = value.length;
  const skipOws = (): void => {
    while (i < n && (value[i] === ' ' || value[i] === '\t')) i++;
  };
  while (i < n) {
    // at ';'
    i++;
    skipOws();
    if (i >= n) break; // a trailing ';'
    if (value[i] === ';') continue;
    let start = i;
    while (i < n && value[i] !== '=' && value[i] !== ';') i++;
    const name = value.slice(start, i).trim().toLowerCase();
    if (!TOKEN.test(name) || value[i] !== '=') return undefined;
    i++;
    skipOws();
    let paramValue: string;
    if (value[i] === '"') {
      i++;
      paramValue = '';
      for (;;) {
        if (i >= n) return undefined;
        const c = value[i]!;
        if (c === '"') {
          i++;
          break;
        }
        if (c === '\\') {
          if (i + 1 >= n) return undefined;
          paramValue += value[i + 1];
          i += 2;
          continue;
        }
        paramValue += c;
        i++;
      }
    } else {
      start = i;
      while (i < n && value[i] !== ';' && value[i] !== ' ' && value[i] !== '\t') i++;
      paramValue = value.slice(start, i);
      if (!TOKEN.test(paramValue)) return undefined;
    }
    skipOws();
    if (i < n && value[i] !== ';') return undefined;
    if (params.has(name)) return undefined;
    params.set(name, paramValue);
  }
  return { value: head, params };
}

/** Decodes an RFC 8187 §3.2 ext-value (`UTF-8''%e2%82%ac.txt`); undefined when invalid. */
export function decodeExtValue(value: string): string | undefined {
  const match =
    /^([A-Za-z0-9!#$%&+\-^_`{}~]+)'[A-Za-z0-9-]*'((?:%[0-9A-Fa-f]{2}|[A-Za-z0-9!#$&+\-.^_`|~])*)$/.exec(
      value,
    );
  if (!match) return undefined;
  const charset = match[1]!.toLowerCase();
  const encoded = match[2]!;
  const bytes: number[] = [];
  for (let i = 0; i < encoded.length; i++) {
    if (encoded[i] === '%') {
      bytes.push(parseInt(encoded.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(encoded.charCodeAt(i));
    }
  }
  const raw = Uint8Array.from(bytes);
  if (charset === 'utf-8') {
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(raw);
    } catch {
      return undefined;
    }
  }
  if (charset === 'iso-8859-1') return new TextDecoder('latin1').decode(raw);
  return undefined;
}

/**
 * The boundary of a `multipart/form-data` Content-Type (RFC 2046 §5.1.1, RFC 7578 §4.1).
 * Throws 415 for another media type and 400 for a missing or invalid boundary.
 */
export function parseBoundary(contentType: string | undefined): string {
  const parsed = contentType === undefined ? undefined : parseHeaderParams(contentType);
  if (parsed === undefined || parsed.value.toLowerCase() !== 'multipart/form-data') {
    throw new HttpError(415, 'Expected a multipart/form-data body', {
      code: 'GN_ERR_HTTP_UNSUPPORTED_MEDIA_TYPE',
    });
  }
  const boundary = parsed.params.get('boundary');
  if (boundary === undefined || !BOUNDARY.test(boundary)) {
    throw badRequest('multipart/form-data without a valid boundary parameter');
  }
  return boundary;
}

function checkLimits(limits: MultipartLimits): Required<MultipartLimits> {
  const merged = { ...DEFAULT_MULTIPART_LIMITS, ...stripUndefined(limits) };
  for (const [key, value] of Object.entries(merged)) {
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new InvalidOptionError(`${key} must be a positive integer, got ${String(value)}`);
    }
  }
  return merged;
}

function stripUndefined(limits: MultipartLimits): MultipartLimits {
  const out: Record<string, number> = {};
  for (const [key, value] of Object.entries(limits)) if (value !== undefined) out[key] = value;
  return out;
}

// ── the parser ─────────────────────────────────────────────────────────────────

type State = 'preamble' | 'after-delimiter' | 'headers' | 'body' | 'epilogue';

/**
 * Sans-I/O multipart parser. `receive` returns the events the bytes complete; `finish`
 * checks the body ended after its close delimiter. Both throw `HttpError` (400 or 413);
 * after that the parser is failed and throws the same error again.
 */
export class MultipartParser {
  readonly #delimiter: Uint8Array;
  readonly #limits: Required<MultipartLimits>;
  #state: State = 'preamble';
  /** Unconsumed bytes; starts with the CRLF that lets the first delimiter match. */
  #buf: Uint8Array = CRLF;
  #total = 0;
  #parts = 0;
  #partBytes = 0;
  #partLimit = 0;
  #error: HttpError | undefined;

  constructor(boundary: string, limits: MultipartLimits = {}) {
    if (!BOUNDARY.test(boundary)) {
      throw new InvalidOptionError('The multipart boundary must be 1-70 bchars (RFC 2046 §5.1.1)');
    }
    // RFC 2046 §5.1.1: the delimiter is CRLF "--" boundary; the CRLF belongs to it, not
    // to the preceding part's body.
    this.#delimiter = encoder.encode(`\r\n--${boundary}`);
    this.#limits = checkLimits(limits);
  }

  /** True after the close delimiter. */
  get done(): boolean {
    return this.#state === 'epilogue';
  }

  receive(chunk: Uint8Array): MultipartEvent[] {
    if (this.#error) throw this.#error;
    try {
      return this.#receive(chunk);
    } catch (err) {
      this.#error = err as HttpError;
      throw err;
    }
  }

  finish(): void {
    if (this.#error) throw this.#error;
    if (this.#state !== 'epilogue') {
      // RFC 2046 §5.1.1: the body ends with the close-delimiter.
      this.#error = badRequest('The multipart body ended without its close delimiter');
      throw this.#error;
    }
  }

  #receive(chunk: Uint8Array): MultipartEvent[] {
    this.#total += chunk.length;
    if (this.#total > this.#limits.maxTotalBytes) {
      throw tooLarge(`The multipart body exceeds ${this.#limits.maxTotalBytes} bytes`);
    }
    const events: MultipartEvent[] = [];
    if (this.#state === 'epilogue') return events;
    let buf = this.#buf.length === 0 ? chunk : concat(this.#buf, chunk);
    for (;;) {
      switch (this.#state as State) {
        case 'preamble': {
          // RFC 2046 §5.1.1: the preamble is ignored.
          const at = indexOf(buf, this.#delimiter, 0);
          if (at < 0) {
            buf = buf.subarray(Math.max(0, buf.length - (this.#delimiter.length - 1)));
            this.#buf = buf;
            return events;
          }
          buf = buf.subarray(at + this.#delimiter.length);
          this.#state = 'after-delimiter';
          break;
        }
        case 'after-delimiter': {
          const consumed = this.#afterDelimiter(buf, events);
          if (consumed < 0) {
            this.#buf = buf.slice();
            return events;
          }
          buf = buf.subarray(consumed);
          if ((this.#state as State) === 'epilogue') {
            this.#buf = new Uint8Array(0);
            return events;
          }
          break;
        }
        case 'headers': {
          const consumed = this.#headers(buf, events);
          if (consumed < 0) {
            this.#buf = buf.slice();
            return events;
          }
          buf = buf.subarray(consumed);
          break;
        }
        case 'body': {
          const at = indexOf(buf, this.#delimiter, 0);
          if (at < 0) {
            // Hold back what could be the start of a delimiter split across chunks.
            const safe = buf.length - (this.#delimiter.length - 1);
            if (safe > 0) this.#data(buf.subarray(0, safe), events);
            this.#buf = buf.slice(Math.max(0, safe));
            return events;
          }
          if (at > 0) this.#data(buf.subarray(0, at), events);
          events.push(PART_END);
          buf = buf.subarray(at + this.#delimiter.length);
          this.#state = 'after-delimiter';
          break;
        }
        case 'epilogue':
          this.#buf = new Uint8Array(0);
          return events;
      }
    }
  }

  /** After `--boundary`: `--` (close), or padding then CRLF. Bytes consumed, or -1 for more. */
  #afterDelimiter(buf: Uint8Array, events: MultipartEvent[]): number {
    if (buf.length === 0) return -1;
    if (buf[0] === 0x2d /* - */) {
      if (buf.length < 2) return -1;
      if (buf[1] !== 0x2d) throw badRequest('Malformed multipart delimiter');
      // RFC 2046 §5.1.1: the close-delimiter; what follows is the epilogue, ignored.
      this.#state = 'epilogue';
      events.push(END);
      return 2;
    }
    let i = 0;
    // transport-padding := *LWSP-char (RFC 2046 §5.1.1)
    while (i < buf.length && (buf[i] === 0x20 || buf[i] === 0x09)) i++;
    if (i > MAX_PADDING) throw badRequest('Too much padding after a multipart delimiter');
    if (i + 1 >= buf.length) return -1;
    if (buf[i] !== 0x0d || buf[i + 1] !== 0x0a) {
      throw badRequest('A multipart delimiter must end its line');
    }
    this.#state = 'headers';
    return i + 2;
  }

  /** A part's header block. Bytes consumed, or -1 for more. */
  #headers(buf: Uint8Array, events: MultipartEvent[]): number {
    let end: number;
    let consumed: number;
    if (buf.length >= 2 && buf[0] === 0x0d && buf[1] === 0x0a) {
      end = 0; // no header fields at all
      consumed = 2;
    } else {
      end = indexOf(buf, CRLFCRLF, 0);
      if (end < 0) {
        // Up to 3 bytes of the terminating CRLFCRLF may already be here: allow for them so
        // the verdict does not depend on how the input was split.
        if (buf.length > this.#limits.maxHeaderBytes + 3) {
          throw tooLarge(`A multipart header block exceeds ${this.#limits.maxHeaderBytes} bytes`);
        }
        return -1;
      }
      consumed = end + 4;
    }
    if (end > this.#limits.maxHeaderBytes) {
      throw tooLarge(`A multipart header block exceeds ${this.#limits.maxHeaderBytes} bytes`);
    }
    this.#parts++;
    if (this.#parts > this.#limits.maxParts) {
      throw tooLarge(`The multipart body has more than ${this.#limits.maxParts} parts`);
    }
    const part = parsePartHeaders(headerDecoder.decode(buf.subarray(0, end)));
    this.#partBytes = 0;
    this.#partLimit =
      part.filename === undefined ? this.#limits.maxFieldBytes : this.#limits.maxFileBytes;
    events.push(part);
    this.#state = 'body';
    return consumed;
  }

  #data(data: Uint8Array, events: MultipartEvent[]): void {
    this.#partBytes += data.length;
    if (this.#partBytes > this.#partLimit) {
      throw tooLarge(`A multipart part exceeds ${this.#partLimit} bytes`);
    }
    // A view, not a copy: it aliases the received chunk or the parser's own joined buffer.
    events.push({ type: 'data', data });
  }
}

const PART_END: MultipartEvent = Object.freeze({ type: 'part-end' });
const END: MultipartEvent = Object.freeze({ type: 'end' });

function parsePartHeaders(block: string): Extract<MultipartEvent, { type: 'part' }> {
  const headers = new HeaderList();
  if (block !== '') {
    for (const line of block.split('\r\n')) {
      // RFC 9112 §5.2: obsolete line folding is not accepted in new syntax.
      if (line.startsWith(' ') || line.startsWith('\t')) {
        throw badRequest('Folded multipart header lines are not allowed');
      }
      const colon = line.indexOf(':');
      const name = colon < 0 ? '' : line.slice(0, colon);
      const value = line.slice(colon + 1).trim();
      // RFC 9112 §5.1: no whitespace between the field name and the colon.
      if (!TOKEN.test(name) || CONTROL.test(value)) {
        throw badRequest('Malformed multipart part header');
      }
      try {
        headers.append(name, value);
      } catch {
        // HeaderList refuses what could not go back on the wire (e.g. chars above U+00FF).
        throw badRequest('Malformed multipart part header');
      }
    }
  }
  // RFC 7578 §4.2: each part MUST have Content-Disposition: form-data with a name.
  const disposition = headers.get('content-disposition');
  const parsed = disposition === undefined ? undefined : parseHeaderParams(disposition);
  if (parsed === undefined || parsed.value.toLowerCase() !== 'form-data') {
    throw badRequest('A multipart part lacks Content-Disposition: form-data');
  }
  const name = parsed.params.get('name');
  if (name === undefined) throw badRequest('A multipart part has no name parameter');
  let filename: string | undefined;
  const extended = parsed.params.get('filename*');
  if (extended !== undefined) filename = decodeExtValue(extended);
  filename ??= parsed.params.get('filename');
  if (filename !== undefined) filename = baseName(filename);
  // RFC 7578 §4.4: the default is text/plain.
  const contentType = headers.get('content-type') ?? 'text/plain';
  return { type: 'part', name, filename, contentType, headers: headers.freeze() };
}

/** The last segment of a client-side path (`C:\Users\me\a.txt` → `a.txt`). */
function baseName(name: string): string {
  const cut = Math.max(name.lastIndexOf('/'), name.lastIndexOf('\\'));
  return name.slice(cut + 1);
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

function indexOf(haystack: Uint8Array, needle: Uint8Array, from: number): number {
  return Buffer.from(haystack.buffer, haystack.byteOffset, haystack.byteLength).indexOf(
    needle,
    from,
  );
}

// ── the driver ─────────────────────────────────────────────────────────────────

class EventSource {
  readonly #parser: MultipartParser;
  readonly #req: HttpRequest;
  #queue: MultipartEvent[] = [];
  #pos = 0;
  #done = false;

  constructor(parser: MultipartParser, req: HttpRequest) {
    this.#parser = parser;
    this.#req = req;
  }

  /** The next event, or undefined once the body ended (after `finish` checked it). */
  async next(): Promise<MultipartEvent | undefined> {
    while (this.#pos >= this.#queue.length) {
      if (this.#done) return undefined;
      const chunk = await this.#req.body.read();
      if (chunk === null) {
        this.#done = true;
        this.#parser.finish();
        return undefined;
      }
      this.#queue = this.#parser.receive(chunk);
      this.#pos = 0;
    }
    return this.#queue[this.#pos++];
  }
}

class Part implements MultipartPart {
  readonly name: string;
  readonly filename: string | undefined;
  readonly contentType: string;
  readonly headers: HeaderList;
  readonly #source: EventSource;
  #ended = false;
  #stale = false;

  constructor(event: Extract<MultipartEvent, { type: 'part' }>, source: EventSource) {
    this.name = event.name;
    this.filename = event.filename;
    this.contentType = event.contentType;
    this.headers = event.headers;
    this.#source = source;
  }

  get body(): AsyncIterable<Uint8Array> {
    return { [Symbol.asyncIterator]: () => this.#chunks() };
  }

  async *#chunks(): AsyncGenerator<Uint8Array, void, undefined> {
    if (this.#stale) throw new MultipartStateError();
    for (;;) {
      const chunk = await this.#nextChunk();
      if (chunk === null) return;
      yield chunk;
    }
  }

  async #nextChunk(): Promise<Uint8Array | null> {
    if (this.#ended) return null;
    const event = await this.#source.next();
    if (event === undefined || event.type !== 'data') {
      this.#ended = true;
      return null;
    }
    return event.data;
  }

  /** Skips what the consumer did not read, and marks the part as left behind. */
  async skipRest(): Promise<void> {
    while ((await this.#nextChunk()) !== null);
    this.#stale = true;
  }

  async bytes(): Promise<Uint8Array> {
    const chunks: Uint8Array[] = [];
    for await (const chunk of this.body) chunks.push(chunk);
    return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
  }

  async text(): Promise<string> {
    const bytes = await this.bytes();
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch (err) {
      throw new HttpError(400, `Multipart field "${this.name}" is not valid UTF-8`, {
        code: 'GN_ERR_HTTP_MULTIPART_MALFORMED',
        cause: err,
      });
    }
  }
}

/**
 * Parses a `multipart/form-data` request body into a stream of parts. Each part's body
 * must be read (or is skipped) before the next part is produced; the parts are read one
 * at a time, so memory stays bounded whatever the body's size.
 */
export async function* parseMultipart(
  req: HttpRequest,
  limits: MultipartLimits = {},
): AsyncGenerator<MultipartPart, void, undefined> {
  const checked = checkLimits(limits);
  const boundary = parseBoundary(req.headers.get('content-type'));
  if (req.body.expectedLength !== undefined && req.body.expectedLength > checked.maxTotalBytes) {
    throw tooLarge(`The multipart body exceeds ${checked.maxTotalBytes} bytes`);
  }
  const source = new EventSource(new MultipartParser(boundary, checked), req);
  let current: Part | undefined;
  for (;;) {
    if (current) {
      await current.skipRest();
      current = undefined;
    }
    const event = await source.next();
    if (event === undefined) return;
    if (event.type === 'end') {
      // Read the epilogue through the parser (it counts toward maxTotalBytes).
      while ((await source.next()) !== undefined);
      return;
    }
    if (event.type !== 'part') {
      throw new GhostnetError('GN_ERR_HTTP_MULTIPART_STATE', `Unexpected ${event.type} event`);
    }
    current = new Part(event, source);
    yield current;
  }
}

/**
 * Reads a whole `multipart/form-data` body: fields (decoded as UTF-8) and files in
 * memory. Everything is bounded by the limits (`maxTotalBytes` in total).
 */
export async function readMultipart(
  req: HttpRequest,
  limits: MultipartLimits = {},
): Promise<MultipartForm> {
  const fields = new Map<string, string[]>();
  const files: MultipartForm['files'] = [];
  for await (const part of parseMultipart(req, limits)) {
    if (part.filename === undefined) {
      const value = await part.text();
      const list = fields.get(part.name);
      if (list) list.push(value);
      else fields.set(part.name, [value]);
    } else {
      files.push({
        name: part.name,
        filename: part.filename,
        contentType: part.contentType,
        data: await part.bytes(),
      });
    }
  }
  return { fields, files };
}
