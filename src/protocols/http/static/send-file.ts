/**
 * `sendFile`: answers a GET or HEAD with a file from disk — validators (ETag,
 * Last-Modified), conditional requests (RFC 9110 §13), single byte ranges (§14), and a
 * body streamed in bounded chunks that honours the response's backpressure.
 *
 * Multiple ranges (`bytes=0-1,5-6`) are answered with the whole representation and 200,
 * which RFC 9110 §14.2 allows ("a server MAY ignore the Range header field"); a server
 * that built multipart/byteranges bodies would buy little for static files and open an
 * amplification vector.
 */
import { constants as fsConstants } from 'node:fs';
import { open, realpath, stat } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { resolve } from 'node:path';
import { GhostnetError, InvalidOptionError } from '../../../errors.js';
import { HttpError } from '../errors.js';
import { mimeTypeFor } from '../mime.js';
import type { HttpRequest, HttpResponse } from '../types.js';
import {
  evaluatePreconditions,
  formatHttpDate,
  ifRangeAllows,
  toHttpDateResolution,
  weakEtag,
} from './conditional.js';
import type { Validators } from './conditional.js';
import { parseRange } from './range.js';
import { isInside } from './safe-path.js';

export interface SendFileOptions {
  /**
   * When set, `filePath` is relative to this directory and must stay inside it, also after
   * symlinks are resolved (403 otherwise).
   */
  root?: string;
  /**
   * `Cache-Control: public, max-age=<maxAge>` in seconds (not set when the response
   * already has a Cache-Control field).
   * @default 0
   */
  maxAge?: number;
  /**
   * Adds `immutable` to Cache-Control (RFC 8246), for fingerprinted asset names.
   * @default false
   */
  immutable?: boolean;
  /**
   * Sends a weak ETag from size and mtime and honours If-Match / If-None-Match / If-Range.
   * @default true
   */
  etag?: boolean;
  /**
   * Sends Last-Modified and honours If-Modified-Since / If-Unmodified-Since.
   * @default true
   */
  lastModified?: boolean;
  /** Content-Type to send; by default looked up from the extension (mime.ts). */
  contentType?: string;
  /**
   * Sends `Accept-Ranges: bytes` and honours Range; when false, Range is ignored.
   * @default true
   */
  acceptRanges?: boolean;
  /**
   * Size of each chunk read from the file and written to the response, in bytes: at most
   * this much is read ahead of what the response accepted.
   * @default 65536
   */
  highWaterMark?: number;
}

export const DEFAULT_FILE_CHUNK_SIZE = 64 * 1024;
/** Largest chunk size accepted for `highWaterMark` (8 MiB). */
const MAX_FILE_CHUNK_SIZE = 8 * 1024 * 1024;
const ALLOW = 'GET, HEAD';

/** The file changed size while it was being sent; the response cannot be completed. */
export class FileChangedError extends GhostnetError {
  constructor(path: string) {
    super('GN_ERR_HTTP_FILE_CHANGED', `File ${path} shrank while it was being sent`);
  }
}

/**
 * Sends the file at `filePath` (relative to `options.root` when given). Throws an
 * `HttpError`: 405 (with Allow) for methods other than GET and HEAD, 404 when there is no
 * such regular file, 403 when it is not readable or lies outside `root`.
 */
export async function sendFile(
  req: HttpRequest,
  res: HttpResponse,
  filePath: string,
  options: SendFileOptions = {},
): Promise<void> {
  checkOptions(options);
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    throw new HttpError(405, `${req.method} is not allowed here`, { headers: { Allow: ALLOW } });
  }
  let target = resolve(filePath);
  if (options.root !== undefined) {
    const root = resolve(options.root);
    target = resolve(root, filePath);
    if (!isInside(root, target)) throw forbidden();
    const real = await realpathOrUndefined(target);
    if (real === undefined) throw notFound();
    const realRoot = await realpath(root);
    if (!isInside(realRoot, real)) throw forbidden();
    target = real;
  }
  const file = await openRegularFile(target);
  if (file === undefined) throw notFound();
  try {
    await sendOpenFile(req, res, file.handle, file.stats, target, options);
  } finally {
    await file.handle.close();
  }
}

/** Validates the options, naming the fix (STYLE §5). */
export function checkOptions(options: SendFileOptions): void {
  const { maxAge, highWaterMark } = options;
  if (maxAge !== undefined && !(Number.isInteger(maxAge) && maxAge >= 0)) {
    throw new InvalidOptionError(`maxAge must be a whole number of seconds >= 0, got ${maxAge}`);
  }
  if (
    highWaterMark !== undefined &&
    !(Number.isInteger(highWaterMark) && highWaterMark > 0 && highWaterMark <= MAX_FILE_CHUNK_SIZE)
  ) {
    throw new InvalidOptionError(
      `highWaterMark must be an integer between 1 and ${MAX_FILE_CHUNK_SIZE}, got ${highWaterMark}`,
    );
  }
}

/** Opens `path` when it is a regular file; undefined when it does not exist or is not one. */
export async function openRegularFile(
  path: string,
): Promise<{ handle: FileHandle; stats: Stats } | undefined> {
  let handle: FileHandle;
  try {
    handle = await open(path, fsConstants.O_RDONLY);
  } catch (err) {
    return missOrThrow(err);
  }
  try {
    const stats = await handle.stat();
    if (stats.isFile()) return { handle, stats };
  } catch (err) {
    await handle.close();
    throw err;
  }
  await handle.close();
  return undefined;
}

/** `fs.stat` that returns undefined for paths that do not exist. */
export async function statOrUndefined(path: string): Promise<Stats | undefined> {
  try {
    return await stat(path);
  } catch (err) {
    return missOrThrow(err);
  }
}

/** `fs.realpath` that returns undefined for paths that do not exist. */
export async function realpathOrUndefined(path: string): Promise<string | undefined> {
  try {
    return await realpath(path);
  } catch (err) {
    return missOrThrow(err);
  }
}

const MISSING = new Set(['ENOENT', 'ENOTDIR', 'ENAMETOOLONG', 'ELOOP', 'EISDIR']);

function missOrThrow(err: unknown): undefined {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code !== undefined && MISSING.has(code)) return undefined;
  if (code === 'EACCES' || code === 'EPERM') {
    throw new HttpError(403, 'The file is not readable', {
      code: 'GN_ERR_HTTP_FORBIDDEN',
      cause: err,
    });
  }
  throw err;
}

function notFound(): HttpError {
  return new HttpError(404, 'Not Found', { code: 'GN_ERR_HTTP_NOT_FOUND' });
}

function forbidden(): HttpError {
  return new HttpError(403, 'The path leads outside the root', {
    code: 'GN_ERR_HTTP_PATH_TRAVERSAL',
  });
}

/**
 * The response part of `sendFile` for a file already opened and checked (serveStatic uses
 * it after its own path checks). Does not close `handle`.
 */
export async function sendOpenFile(
  req: HttpRequest,
  res: HttpResponse,
  handle: FileHandle,
  stats: Stats,
  path: string,
  options: SendFileOptions,
): Promise<void> {
  const size = stats.size;
  const useEtag = options.etag ?? true;
  const useLastModified = options.lastModified ?? true;
  const acceptRanges = options.acceptRanges ?? true;
  const validators: Validators = {
    etag: useEtag ? weakEtag(size, stats.mtimeMs) : undefined,
    lastModified: useLastModified ? toHttpDateResolution(stats.mtimeMs) : undefined,
  };

  if (acceptRanges) res.setHeader('accept-ranges', 'bytes');
  if (!res.headers.has('cache-control')) {
    const maxAge = options.maxAge ?? 0;
    res.setHeader(
      'cache-control',
      `public, max-age=${maxAge}${options.immutable ? ', immutable' : ''}`,
    );
  }
  if (validators.etag !== undefined) res.setHeader('etag', validators.etag);
  if (validators.lastModified !== undefined) {
    res.setHeader('last-modified', formatHttpDate(validators.lastModified));
  }
  if (options.contentType !== undefined) res.setHeader('content-type', options.contentType);
  else if (!res.headers.has('content-type')) res.setHeader('content-type', mimeTypeFor(path));

  // Preconditions and ranges apply to a successful response only (§13.2.1: a server MUST
  // ignore the conditional request header fields when the response would not be a 2xx).
  if (res.status === 200) {
    const outcome = evaluatePreconditions(req.method, req.headers, validators);
    if (outcome === 'not-modified') {
      // §15.4.5: a 304 carries the validators and caching fields, not the body's.
      res.headers.delete('content-type');
      res.headers.delete('accept-ranges');
      res.status = 304;
      res.end();
      return;
    }
    if (outcome === 'precondition-failed') {
      res.headers.delete('content-type');
      res.status = 412;
      res.end();
      return;
    }

    // §14.2: a server MUST ignore Range for methods other than GET.
    const rangeHeader = req.method === 'GET' && acceptRanges ? req.headers.get('range') : undefined;
    if (rangeHeader !== undefined && ifRangeAllows(req.headers.get('if-range'), validators)) {
      const range = parseRange(rangeHeader, size);
      if (range.type === 'unsatisfiable') {
        // §15.5.17: 416 SHOULD carry Content-Range with the current length.
        res.headers.delete('content-type');
        res.status = 416;
        res.setHeader('content-range', `bytes */${size}`);
        res.end();
        return;
      }
      if (range.type === 'single') {
        res.status = 206;
        res.setHeader('content-range', `bytes ${range.start}-${range.end}/${size}`);
        res.setHeader('content-length', range.end - range.start + 1);
        await streamOrAbort(req, res, handle, range.start, range.end, path, options);
        return;
      }
      // 'multiple' and 'ignore': the whole representation, below.
    }
  }

  res.setHeader('content-length', size);
  if (req.method === 'HEAD' || size === 0) {
    res.end();
    return;
  }
  await streamOrAbort(req, res, handle, 0, size - 1, path, options);
}

/** `streamRange`, abandoning the response when reading fails after the head went out. */
async function streamOrAbort(
  req: HttpRequest,
  res: HttpResponse,
  handle: FileHandle,
  start: number,
  end: number,
  path: string,
  options: SendFileOptions,
): Promise<void> {
  try {
    await streamRange(req, res, handle, start, end, path, options);
  } catch (err) {
    // A read error mid-body: the promised Content-Length cannot be met, so the response
    // must not end normally. Before the head, the caller can still answer with an error.
    if (res.headersSent && !res.finished) res.abort(err instanceof Error ? err : undefined);
    throw err;
  }
}

/** Streams bytes `start..end` (inclusive), waiting for `drained()` whenever write is refused. */
async function streamRange(
  req: HttpRequest,
  res: HttpResponse,
  handle: FileHandle,
  start: number,
  end: number,
  path: string,
  options: SendFileOptions,
): Promise<void> {
  const chunkSize = options.highWaterMark ?? DEFAULT_FILE_CHUNK_SIZE;
  const signal = req.signal;
  let position = start;
  while (position <= end) {
    if (signal.aborted) {
      res.abort();
      return;
    }
    const length = Math.min(chunkSize, end - position + 1);
    // A fresh buffer per chunk: the sink may keep it until it is written out.
    const buffer = new Uint8Array(length);
    const { bytesRead } = await handle.read(buffer, 0, length, position);
    if (bytesRead === 0) {
      // Content-Length was promised; a truncated body must not look complete.
      res.abort(new FileChangedError(path));
      return;
    }
    position += bytesRead;
    const chunk = bytesRead === length ? buffer : buffer.subarray(0, bytesRead);
    if (position > end) {
      res.end(chunk);
      return;
    }
    if (!res.write(chunk)) await drainedOrAborted(res, signal);
  }
  res.end();
}

/** Resolves on `res.drained()` or when the request is aborted, whichever comes first. */
function drainedOrAborted(res: HttpResponse, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise<void>((done) => {
    const onAbort = (): void => done();
    signal.addEventListener('abort', onAbort, { once: true });
    void res.drained().then(() => {
      signal.removeEventListener('abort', onAbort);
      done();
    });
  });
}
