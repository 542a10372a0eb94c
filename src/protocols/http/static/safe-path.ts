/**
 * Maps a request path onto a file below a root directory without ever leaving it.
 *
 * Defence in depth against path traversal:
 * 1. each `/`-separated segment is percent-decoded strictly (RFC 3986 §2.1: `%` must be
 *    followed by two hex digits; the result must be UTF-8) — malformed → 400;
 * 2. a decoded NUL byte → 400 (it truncates paths in C APIs);
 * 3. a decoded `..` segment, or a segment that decodes to contain `/` or `\` (`%2f`,
 *    `%5c`, which would smuggle a separator past step 1) → 403;
 * 4. the joined path is resolved and must lie inside the root;
 * 5. the caller resolves symlinks with `fs.realpath` and checks containment again
 *    (`isInside`), so a link cannot lead out of the root either.
 */
import { resolve, sep } from 'node:path';
import { HttpError } from '../errors.js';

export interface DecodedPath {
  /** Decoded, non-empty segments (`.` segments dropped). */
  readonly segments: readonly string[];
  /** The same segments as sent (percent-encoding kept), for building redirects. */
  readonly encodedSegments: readonly string[];
  /** The path ended with `/` (a directory was asked for). */
  readonly trailingSlash: boolean;
}

const BAD_PERCENT = /%(?![0-9A-Fa-f]{2})/;

/** Decodes a request path (`req.path`, percent-encoding kept) into safe segments. */
export function decodeRequestPath(path: string): DecodedPath {
  if (path.charCodeAt(0) !== 0x2f /* / */) {
    throw new HttpError(400, 'The request path must start with "/"', {
      code: 'GN_ERR_HTTP_BAD_PATH',
    });
  }
  const segments: string[] = [];
  const encodedSegments: string[] = [];
  for (const raw of path.split('/')) {
    if (raw === '') continue;
    if (BAD_PERCENT.test(raw)) {
      throw new HttpError(400, 'Malformed percent-encoding in the request path', {
        code: 'GN_ERR_HTTP_BAD_PATH',
      });
    }
    let decoded: string;
    try {
      decoded = decodeURIComponent(raw);
    } catch (err) {
      throw new HttpError(400, 'The request path does not decode to UTF-8', {
        code: 'GN_ERR_HTTP_BAD_PATH',
        cause: err,
      });
    }
    if (decoded.includes('\0')) {
      throw new HttpError(400, 'NUL byte in the request path', { code: 'GN_ERR_HTTP_BAD_PATH' });
    }
    if (decoded === '..' || decoded.includes('/') || decoded.includes('\\')) {
      throw new HttpError(403, 'Path traversal is not allowed', {
        code: 'GN_ERR_HTTP_PATH_TRAVERSAL',
      });
    }
    if (decoded === '.') continue;
    segments.push(decoded);
    encodedSegments.push(raw);
  }
  return { segments, encodedSegments, trailingSlash: path.length > 1 && path.endsWith('/') };
}

/** True when `target` is `root` or below it (both absolute and normalized). */
export function isInside(root: string, target: string): boolean {
  if (target === root) return true;
  const prefix = root.endsWith(sep) ? root : root + sep;
  return target.startsWith(prefix);
}

/**
 * Joins decoded segments below `root` and checks the result stays inside it (step 4).
 * Throws 403 otherwise; with the checks of `decodeRequestPath` that cannot happen, so this
 * is a second line of defence.
 */
export function joinInside(root: string, segments: readonly string[]): string {
  const absRoot = resolve(root);
  const target = resolve(absRoot, ...segments);
  if (!isInside(absRoot, target)) {
    throw new HttpError(403, 'Path traversal is not allowed', {
      code: 'GN_ERR_HTTP_PATH_TRAVERSAL',
    });
  }
  return target;
}
