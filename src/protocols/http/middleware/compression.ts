/**
 * Response compression: gzip, deflate and Brotli through node:zlib's streaming
 * compressors, chosen by the request's Accept-Encoding (RFC 9110 §12.5.3).
 *
 * It wraps the response sink (`res.wrapSink`), so the decision is made when the head is
 * written, once status and headers are final. A response is compressed only when:
 * - the method is not HEAD and the status has a body (not 1xx, 204, 304) and is not 206;
 * - it has no Content-Encoding yet (never compressed twice) and no Content-Range;
 * - Cache-Control does not say `no-transform` (RFC 9111 §5.2.2.6);
 * - its Content-Type passes `filter` (text, JSON, JavaScript, XML and SVG by default);
 * - its Content-Length, when known, is at least `threshold`;
 * - the client accepts one of `encodings` with a q-value above 0 and above identity's.
 *
 * A compressible response gets `Vary: Accept-Encoding` whether or not it was compressed
 * (the choice depended on that field). A compressed one loses Content-Length (its length
 * is no longer known: the engine frames it chunked or by DATA frames) and a strong ETag
 * becomes weak (a strong validator must change with the content coding, RFC 9110 §8.8.1).
 *
 * Backpressure is preserved both ways and memory stays bounded: compressed output goes to
 * the inner sink, and when that returns false the compressor is paused until its
 * `onDrain`; while paused, zlib's own buffers fill, and this sink's `writeBody` returns
 * false once more than `highWaterMark` bytes wait to be compressed.
 */
import * as zlib from 'node:zlib';
import type { Transform } from 'node:stream';
import { InvalidOptionError } from '../../../errors.js';
import { HeaderList } from '../headers.js';
import { statusHasBody } from '../response.js';
import type { Middleware, ResponseSink } from '../types.js';
import { appendVaryList, checkObject, functionOption, integerOption } from './internal.js';

export type CompressionEncoding = 'br' | 'gzip' | 'deflate';

export interface CompressionOptions {
  /**
   * Codings offered, in server preference order (used to break q-value ties).
   * @default ['br', 'gzip', 'deflate']
   */
  encodings?: readonly CompressionEncoding[];
  /**
   * Bodies whose Content-Length is below this many bytes are sent as they are (the
   * framing overhead outweighs the gain). Bodies of unknown length are compressed.
   * @default 1024
   */
  threshold?: number;
  /**
   * Whether a media type (lowercase, without parameters) is worth compressing.
   * @default text/* (except text/event-stream, which must not be buffered), JSON, +json,
   *   JavaScript, XML, +xml, image/svg+xml, application/wasm and a few other text types
   */
  filter?: (mediaType: string) => boolean;
  /**
   * gzip and deflate level, 0 (none) to 9 (smallest).
   * @default 6
   */
  level?: number;
  /**
   * Brotli quality, 0 to 11. 11 is for precompressed static files; dynamic responses want
   * a fast setting.
   * @default 4
   */
  brotliQuality?: number;
  /**
   * Bytes that may wait to be compressed before `writeBody` returns false; also zlib's
   * output buffer size.
   * @default 65536
   */
  highWaterMark?: number;
  /**
   * zlib's chunk size for output buffers.
   * @default 16384
   */
  chunkSize?: number;
}

const WHERE = 'compression()';
const ENCODINGS: ReadonlySet<string> = new Set(['br', 'gzip', 'deflate']);
const COMPRESSIBLE = new Set([
  'application/json',
  'application/javascript',
  'application/x-javascript',
  'application/ecmascript',
  'application/xml',
  'application/xhtml+xml',
  'application/rss+xml',
  'application/atom+xml',
  'application/graphql',
  'application/x-www-form-urlencoded',
  'application/wasm',
  'application/manifest+json',
  'image/svg+xml',
  'image/x-icon',
  'font/ttf',
  'font/otf',
]);

/** The default content-type filter. */
export function isCompressible(mediaType: string): boolean {
  if (mediaType === 'text/event-stream') return false;
  if (mediaType.startsWith('text/')) return true;
  if (COMPRESSIBLE.has(mediaType)) return true;
  return mediaType.endsWith('+json') || mediaType.endsWith('+xml');
}

/**
 * Picks a coding from an Accept-Encoding value (RFC 9110 §12.5.3): the supported coding
 * with the highest q-value, `*` standing for codings not named, ties broken by `prefer`
 * order; none when the best q is 0 or identity is preferred to it. An absent field means
 * "no preference" and gets no compression here (senders that can decompress say so).
 */
export function negotiateEncoding(
  acceptEncoding: string | undefined,
  prefer: readonly CompressionEncoding[] = ['br', 'gzip', 'deflate'],
): CompressionEncoding | undefined {
  if (acceptEncoding === undefined) return undefined;
  const q = new Map<string, number>();
  for (const part of acceptEncoding.split(',')) {
    const [rawName, ...params] = part.split(';');
    let name = rawName!.trim().toLowerCase();
    if (name === '') continue;
    // RFC 9110 §8.4.1.3: x-gzip SHOULD be treated as gzip.
    if (name === 'x-gzip') name = 'gzip';
    let weight = 1;
    for (const param of params) {
      const [key, value] = param.split('=').map((s) => s.trim());
      if (key?.toLowerCase() === 'q') {
        // §12.4.2: qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
        weight =
          value !== undefined && /^(0(\.\d{0,3})?|1(\.0{0,3})?)$/.test(value) ? Number(value) : 0;
      }
    }
    // Keep the highest weight when a coding is listed twice.
    q.set(name, Math.max(weight, q.get(name) ?? 0));
  }
  const star = q.get('*');
  const identity = q.get('identity') ?? star ?? 1;
  let best: CompressionEncoding | undefined;
  let bestQ = 0;
  for (const coding of prefer) {
    const weight = q.get(coding) ?? star ?? 0;
    if (weight > bestQ) {
      best = coding;
      bestQ = weight;
    }
  }
  if (best === undefined || bestQ < identity) return undefined;
  return best;
}

export function compression(options: CompressionOptions = {}): Middleware {
  checkObject(WHERE, options);
  const encodings = options.encodings ?? ['br', 'gzip', 'deflate'];
  if (
    !Array.isArray(encodings) ||
    encodings.length === 0 ||
    encodings.some((e) => !ENCODINGS.has(e as string))
  ) {
    throw new InvalidOptionError(
      `${WHERE}: invalid encodings; use a non-empty list of 'br', 'gzip', 'deflate'`,
    );
  }
  const settings: Settings = {
    threshold: integerOption(WHERE, 'threshold', options.threshold, 1024, 0, 2 ** 31 - 1),
    filter:
      functionOption<(t: string) => boolean>(WHERE, 'filter', options.filter) ?? isCompressible,
    level: integerOption(WHERE, 'level', options.level, 6, 0, 9),
    brotliQuality: integerOption(WHERE, 'brotliQuality', options.brotliQuality, 4, 0, 11),
    highWaterMark: integerOption(
      WHERE,
      'highWaterMark',
      options.highWaterMark,
      65_536,
      1024,
      64 * 1024 * 1024,
    ),
    chunkSize: integerOption(WHERE, 'chunkSize', options.chunkSize, 16_384, 64, 1024 * 1024),
    mediaTypes: new Map(),
  };

  // One sink factory per outcome of the negotiation, made once: a request allocates no
  // closure here (STYLE §12). The coding depends only on Accept-Encoding, so it is chosen
  // now; the sink decides at writeHead whether the response is compressed at all.
  const identity = (inner: ResponseSink): ResponseSink => new VarySink(inner, settings);
  const factories = new Map<CompressionEncoding, (inner: ResponseSink) => ResponseSink>();
  for (const coding of encodings) {
    factories.set(coding, (inner) => new CompressionSink(inner, settings, coding));
  }
  const negotiated = new Map<string, CompressionEncoding | undefined>();

  return function compressionMiddleware(req, res, next) {
    if (req.method !== 'HEAD' && !res.headersSent) {
      const accept = req.headers.get('accept-encoding');
      let coding: CompressionEncoding | undefined;
      if (accept !== undefined) {
        // Clients send a handful of distinct values; remember their outcome (bounded).
        coding = negotiated.get(accept);
        if (coding === undefined && !negotiated.has(accept)) {
          coding = negotiateEncoding(accept, encodings);
          if (accept.length <= MAX_NEGOTIATED_LENGTH) {
            if (negotiated.size >= MAX_NEGOTIATED) negotiated.clear();
            negotiated.set(accept, coding);
          }
        }
      }
      // No acceptable coding (no Accept-Encoding, or identity only): nothing is compressed,
      // but a compressible response still carries Vary (RFC 9110 §12.5.5), as with gzip.
      res.wrapSink(coding === undefined ? identity : factories.get(coding)!);
    }
    return next();
  };
}

/** Distinct Accept-Encoding values whose negotiation is remembered. */
const MAX_NEGOTIATED = 256;
/** Longer Accept-Encoding values are negotiated every time rather than remembered. */
const MAX_NEGOTIATED_LENGTH = 256;
/** Distinct Content-Type values whose compressibility is remembered. */
const MAX_MEDIA_TYPES = 256;

/** What `decide` chose for a response. */
const enum Decision {
  /** Headers as they are. */
  Pass,
  /** Uncompressed, with `Vary: Accept-Encoding` added. */
  Vary,
  /** Compressed (and Vary added). */
  Compress,
}

/**
 * Whether the response is compressed, or only gets Vary, once status and headers are final.
 * `canCompress` is false when the client accepts no coding we offer.
 */
function decide(
  status: number,
  headers: HeaderList,
  end: boolean,
  settings: Settings,
  canCompress: boolean,
): Decision {
  const type = headers.get('content-type');
  const compressible = type !== undefined && compressibleType(type, settings);
  const encoding = headers.get('content-encoding');
  const alreadyEncoded = encoding !== undefined && encoding.trim().toLowerCase() !== 'identity';
  // 304 carries the Vary its 200 would have (RFC 9110 §15.4.5); it has no Content-Type.
  const addVary = !alreadyEncoded && (compressible || (status === 304 && type === undefined));
  if (!compressible || alreadyEncoded || end || !statusHasBody(status) || status === 206) {
    return addVary ? Decision.Vary : Decision.Pass;
  }
  if (headers.has('content-range')) return Decision.Pass;
  if (!canCompress) return Decision.Vary;
  if (/(^|[\s,])no-transform($|[\s,])/i.test(headers.get('cache-control') ?? '')) {
    return Decision.Vary;
  }
  const length = headers.get('content-length');
  if (length !== undefined && Number(length) < settings.threshold) return Decision.Vary;
  return Decision.Compress;
}

/** The filter's verdict on a Content-Type value, remembered per distinct value (bounded). */
function compressibleType(type: string, settings: Settings): boolean {
  const cache = settings.mediaTypes;
  let verdict = cache.get(type);
  if (verdict === undefined) {
    const mediaType = type.split(';', 1)[0]!.trim().toLowerCase();
    verdict = mediaType !== '' && settings.filter(mediaType);
    if (cache.size >= MAX_MEDIA_TYPES) cache.clear();
    cache.set(type, verdict);
  }
  return verdict;
}

/** A copy of frozen `headers` with Accept-Encoding added to Vary. */
function withVary(headers: HeaderList): HeaderList {
  const copy = headers.clone();
  if (copy.has('vary')) appendVaryList(copy, 'Accept-Encoding');
  else HeaderList.setTrusted(copy, 'vary', 'Accept-Encoding');
  return copy;
}

/**
 * The sink for a client that accepts no coding we offer: everything passes through, and
 * only Vary is added to a compressible response's head.
 */
class VarySink implements ResponseSink {
  readonly #inner: ResponseSink;
  readonly #settings: Settings;

  constructor(inner: ResponseSink, settings: Settings) {
    this.#inner = inner;
    this.#settings = settings;
  }

  get supportsTrailers(): boolean {
    return this.#inner.supportsTrailers;
  }

  get bufferedAmount(): number {
    return this.#inner.bufferedAmount;
  }

  writeHead(status: number, reason: string | undefined, headers: HeaderList, end: boolean): void {
    const vary = decide(status, headers, end, this.#settings, false) === Decision.Vary;
    this.#inner.writeHead(status, reason, vary ? withVary(headers) : headers, end);
  }

  writeBody(chunk: Uint8Array, end: boolean): boolean {
    return this.#inner.writeBody(chunk, end);
  }

  writeTrailers(trailers: HeaderList): void {
    this.#inner.writeTrailers(trailers);
  }

  writeInformational(status: number, headers: HeaderList): void {
    this.#inner.writeInformational(status, headers);
  }

  onDrain(listener: () => void): void {
    this.#inner.onDrain(listener);
  }

  abort(err?: Error): void {
    this.#inner.abort(err);
  }
}

interface Settings {
  threshold: number;
  filter: (mediaType: string) => boolean;
  level: number;
  brotliQuality: number;
  highWaterMark: number;
  chunkSize: number;
  /** Content-Type value → compressible (see `compressibleType`). */
  mediaTypes: Map<string, boolean>;
}

const EMPTY = new Uint8Array(0);

/** The body filter: decides at `writeHead`, then passes through or compresses. */
class CompressionSink implements ResponseSink {
  readonly #inner: ResponseSink;
  readonly #settings: Settings;
  /** The coding the client's Accept-Encoding chose. */
  readonly #coding: CompressionEncoding;
  #zlib: Transform | undefined;
  /** The inner sink returned false and has not drained yet. */
  #innerBlocked = false;
  #ending = false;
  #pendingTrailers: HeaderList | undefined;
  #aborted = false;
  readonly #drainListeners: Array<() => void> = [];

  constructor(inner: ResponseSink, settings: Settings, coding: CompressionEncoding) {
    this.#inner = inner;
    this.#settings = settings;
    this.#coding = coding;
    inner.onDrain(() => this.#handleInnerDrain());
  }

  get supportsTrailers(): boolean {
    return this.#inner.supportsTrailers;
  }

  get bufferedAmount(): number {
    const z = this.#zlib;
    return this.#inner.bufferedAmount + (z ? z.writableLength + z.readableLength : 0);
  }

  writeHead(status: number, reason: string | undefined, headers: HeaderList, end: boolean): void {
    const decision = decide(status, headers, end, this.#settings, true);
    if (decision !== Decision.Compress) {
      const out = decision === Decision.Vary ? withVary(headers) : headers;
      this.#inner.writeHead(status, reason, out, end);
      return;
    }
    const out = withVary(headers);
    out.delete('content-length');
    out.set('content-encoding', this.#coding);
    const etag = out.get('etag');
    if (etag !== undefined && etag.startsWith('"')) out.set('etag', `W/${etag}`);
    const length = Number(headers.get('content-length'));
    this.#zlib = this.#createStream(
      this.#coding,
      Number.isSafeInteger(length) ? length : undefined,
    );
    this.#inner.writeHead(status, reason, out, false);
  }

  writeBody(chunk: Uint8Array, end: boolean): boolean {
    const z = this.#zlib;
    if (!z) return this.#inner.writeBody(chunk, end);
    if (this.#aborted || this.#ending) return false;
    let ok = true;
    if (chunk.length > 0) ok = z.write(chunk);
    if (end) {
      this.#ending = true;
      z.end();
    }
    return ok && !this.#innerBlocked;
  }

  writeTrailers(trailers: HeaderList): void {
    const z = this.#zlib;
    if (!z) {
      this.#inner.writeTrailers(trailers);
      return;
    }
    if (this.#aborted || this.#ending) return;
    this.#ending = true;
    this.#pendingTrailers = trailers;
    z.end();
  }

  writeInformational(status: number, headers: HeaderList): void {
    this.#inner.writeInformational(status, headers);
  }

  onDrain(listener: () => void): void {
    this.#drainListeners.push(listener);
  }

  abort(err?: Error): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#zlib?.destroy();
    this.#inner.abort(err);
  }

  #createStream(coding: CompressionEncoding, length: number | undefined): Transform {
    const s = this.#settings;
    // highWaterMark is a stream option zlib passes on to its Transform base.
    const common = { chunkSize: s.chunkSize, highWaterMark: s.highWaterMark } as zlib.ZlibOptions;
    let z: Transform;
    if (coding === 'br') {
      const params: Record<number, number> = {
        [zlib.constants.BROTLI_PARAM_QUALITY]: s.brotliQuality,
        [zlib.constants.BROTLI_PARAM_MODE]: zlib.constants.BROTLI_MODE_TEXT,
      };
      if (length !== undefined) params[zlib.constants.BROTLI_PARAM_SIZE_HINT] = length;
      z = zlib.createBrotliCompress({ ...(common as zlib.BrotliOptions), params });
    } else if (coding === 'gzip') {
      z = zlib.createGzip({ ...common, level: s.level });
    } else {
      // "deflate" is the zlib format (RFC 1950), not raw DEFLATE (RFC 9110 §8.4.1.2).
      z = zlib.createDeflate({ ...common, level: s.level });
    }
    z.on('data', (out: Buffer) => {
      if (this.#aborted) return;
      if (!this.#inner.writeBody(out, false)) {
        this.#innerBlocked = true;
        z.pause();
      }
    });
    z.on('end', () => {
      if (this.#aborted) return;
      const trailers = this.#pendingTrailers;
      if (trailers) this.#inner.writeTrailers(trailers);
      else this.#inner.writeBody(EMPTY, true);
    });
    z.on('drain', () => this.#emitDrain());
    z.on('error', (err: Error) => {
      if (this.#aborted) return;
      this.#aborted = true;
      this.#inner.abort(err);
    });
    return z;
  }

  #handleInnerDrain(): void {
    if (this.#zlib && this.#innerBlocked) {
      this.#innerBlocked = false;
      this.#zlib.resume();
    }
    this.#emitDrain();
  }

  /** Wakes writers only when a write would be accepted now (no spurious wake-ups). */
  #emitDrain(): void {
    if (this.#innerBlocked || this.#aborted) return;
    const z = this.#zlib;
    if (z && z.writableLength >= z.writableHighWaterMark) return;
    for (const listener of this.#drainListeners) listener();
  }
}
