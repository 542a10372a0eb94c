/**
 * `serveStatic`: middleware that serves the files below a root directory.
 *
 * Path handling is in safe-path.ts (strict decoding, no `..`, no encoded separators, no
 * NUL, containment checked before and after `fs.realpath`); the response is `sendFile`'s
 * (validators, conditional requests, ranges, streaming with backpressure).
 */
import { realpath } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { InvalidOptionError } from '../../../errors.js';
import { HttpError } from '../errors.js';
import type { HttpRequest, HttpResponse, Middleware } from '../types.js';
import { decodeRequestPath, isInside, joinInside } from './safe-path.js';
import type { DecodedPath } from './safe-path.js';
import {
  checkOptions,
  openRegularFile,
  realpathOrUndefined,
  sendOpenFile,
  statOrUndefined,
} from './send-file.js';
import type { SendFileOptions } from './send-file.js';

export interface ServeStaticOptions extends Pick<
  SendFileOptions,
  'maxAge' | 'immutable' | 'etag' | 'lastModified' | 'acceptRanges' | 'highWaterMark'
> {
  /**
   * File names tried, in order, for a path that names a directory (with trailing slash).
   * An empty list disables directory indexes. There are no directory listings.
   * @default ['index.html']
   */
  index?: readonly string[];
  /**
   * A file (relative to the root) served with 200 for GET/HEAD misses whose last path
   * segment has no extension — client-side routes of a single-page app (`/users/42`), but
   * not missing assets (`/app.js` stays 404).
   * @default false
   */
  spaFallback?: string | false;
  /**
   * Paths with a segment starting with `.`: `'ignore'` treats them as missing, `'deny'`
   * answers 403, `'allow'` serves them.
   * @default 'ignore'
   */
  dotfiles?: 'ignore' | 'deny' | 'allow';
  /**
   * On a miss, or a method other than GET/HEAD, call `next()` instead of answering
   * 404 / 405. Malformed and forbidden paths (400, 403) never fall through.
   * @default true
   */
  fallthrough?: boolean;
}

const ALLOW = 'GET, HEAD';

/** Middleware serving the files below `root`. */
export function serveStatic(root: string, options: ServeStaticOptions = {}): Middleware {
  checkOptions(options);
  const index = options.index ?? ['index.html'];
  const spaFallback = options.spaFallback ?? false;
  const dotfiles = options.dotfiles ?? 'ignore';
  const fallthrough = options.fallthrough ?? true;
  if (!['ignore', 'deny', 'allow'].includes(dotfiles)) {
    throw new InvalidOptionError(`dotfiles must be 'ignore', 'deny' or 'allow', got ${dotfiles}`);
  }
  for (const name of index) {
    if (name === '' || name.includes('/') || name.includes('\\') || name === '..') {
      throw new InvalidOptionError(`index entries must be plain file names, got "${name}"`);
    }
  }
  const fallbackSegments =
    spaFallback === false ? [] : spaFallback.split('/').filter((s) => s !== '' && s !== '.');
  if (spaFallback !== false && (fallbackSegments.length === 0 || fallbackSegments.includes('..'))) {
    throw new InvalidOptionError(
      `spaFallback must name a file inside the root, like 'index.html', got "${spaFallback}"`,
    );
  }
  const absRoot = resolve(root);
  const fileOptions: SendFileOptions = {
    maxAge: options.maxAge,
    immutable: options.immutable,
    etag: options.etag,
    lastModified: options.lastModified,
    acceptRanges: options.acceptRanges,
    highWaterMark: options.highWaterMark,
  };
  // The root's real path, resolved once on first use (the root may not exist yet at setup).
  let realRoot: Promise<string> | undefined;
  const getRealRoot = (): Promise<string> => {
    realRoot ??= realpath(absRoot).catch((err: unknown) => {
      realRoot = undefined;
      throw err;
    });
    return realRoot;
  };

  /** Serves `target` when it is a regular file inside the root; false when it is not there. */
  const tryFile = async (req: HttpRequest, res: HttpResponse, target: string): Promise<boolean> => {
    const real = await realpathOrUndefined(target);
    if (real === undefined) return false;
    if (!isInside(await getRealRoot(), real)) {
      throw new HttpError(403, 'The path leads outside the root', {
        code: 'GN_ERR_HTTP_PATH_TRAVERSAL',
      });
    }
    const file = await openRegularFile(real);
    if (file === undefined) return false;
    try {
      await sendOpenFile(req, res, file.handle, file.stats, real, fileOptions);
    } finally {
      await file.handle.close();
    }
    return true;
  };

  const serve = async (
    req: HttpRequest,
    res: HttpResponse,
    path: DecodedPath,
  ): Promise<boolean> => {
    const target = joinInside(absRoot, path.segments);
    const real = await realpathOrUndefined(target);
    if (real === undefined) return false;
    if (!isInside(await getRealRoot(), real)) {
      throw new HttpError(403, 'The path leads outside the root', {
        code: 'GN_ERR_HTTP_PATH_TRAVERSAL',
      });
    }
    const stats = await statOrUndefined(real);
    if (stats === undefined) return false;
    if (stats.isDirectory()) {
      if (!path.trailingSlash && path.segments.length > 0) {
        // Relative links in an index page resolve against the slash form. Built from the
        // segments (never from the raw path) so `//evil.example` cannot become a
        // scheme-relative redirect.
        const search = req.search === '' ? '' : `?${req.search}`;
        res.status = 301;
        res.setHeader('location', `/${path.encodedSegments.join('/')}/${search}`);
        res.end();
        return true;
      }
      for (const name of index) {
        if (await tryFile(req, res, join(real, name))) return true;
      }
      return false;
    }
    // `/file.txt/` names a directory that does not exist.
    if (path.trailingSlash) return false;
    return tryFile(req, res, real);
  };

  return async (req, res, next) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      if (fallthrough) return next();
      throw new HttpError(405, `${req.method} is not allowed here`, {
        headers: { Allow: ALLOW },
      });
    }
    const path = decodeRequestPath(req.path);
    let hidden = false;
    if (dotfiles !== 'allow' && path.segments.some((s) => s.startsWith('.'))) {
      if (dotfiles === 'deny') {
        throw new HttpError(403, 'Forbidden', { code: 'GN_ERR_HTTP_FORBIDDEN' });
      }
      hidden = true;
    }
    if (!hidden && (await serve(req, res, path))) return;
    if (spaFallback !== false) {
      const last = path.segments[path.segments.length - 1] ?? '';
      if (!last.includes('.')) {
        if (await tryFile(req, res, joinInside(absRoot, fallbackSegments))) return;
      }
    }
    if (fallthrough) return next();
    throw new HttpError(404, 'Not Found', { code: 'GN_ERR_HTTP_NOT_FOUND' });
  };
}
