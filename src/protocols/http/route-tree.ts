/**
 * The router's path index: a segment tree (one node per path segment) holding static,
 * parametric and wildcard routes, plus the request-path normalisation it matches against.
 *
 * Lookups walk the tree segment by segment with backtracking, trying at each level the
 * static child first, then parametric children, then the wildcard — so `/users/me` beats
 * `/users/:id`, which beats `/users/*`, whatever the registration order. A request costs
 * one map lookup per segment on the static path; nothing is a linear scan of all routes.
 *
 * Route syntax (segments separated by `/`):
 * - `users`        static, matched after normalisation (and case-folding unless
 *                  `caseSensitive`)
 * - `:id`          a parameter: one non-empty segment
 * - `:name.:ext`   several parameters and literals in one segment; each parameter is
 *                  greedy, so `archive.tar.gz` gives name `archive.tar`, ext `gz`
 * - `*`            last segment only: the rest of the path (possibly empty), as `*`
 */
import { GhostnetError } from '../../errors.js';
import { HttpError } from './errors.js';

/** A route path or pattern given to the router is not valid. */
export class RouteDefinitionError extends GhostnetError {
  constructor(message: string, code = 'GN_ERR_HTTP_INVALID_ROUTE') {
    super(code, message);
  }
}

export interface RouteTreeOptions {
  caseSensitive: boolean;
  strictSlash: boolean;
  maxParamLength: number;
}

/** One matcher for a parametric segment (`:id`, `:name.:ext`, `v:major`). */
interface ParamChild<T> {
  /** Shape of the segment with parameter names erased, so `:id` and `:uid` share a node. */
  readonly key: string;
  /** Literal characters in the segment; more literals = more specific = tried first. */
  readonly literalLength: number;
  /** Undefined for a bare `:name` segment (the whole segment is the value). */
  readonly pattern: RegExp | undefined;
  readonly node: PathNode<T>;
}

export class PathNode<T> {
  readonly statics = new Map<string, PathNode<T>>();
  readonly params: Array<ParamChild<T>> = [];
  wildcard: PathNode<T> | undefined;
  /** Routes ending at this node, by method (`*` for `all`). */
  readonly routes = new Map<string, T>();
}

/** The parsed form of a route path. */
export interface ParsedRoute<T = unknown> {
  /** Parameter names in capture order (`*` for the wildcard). */
  readonly paramNames: string[];
  /** The node the route ends at. */
  readonly node: PathNode<T>;
}

const PARAM_NAME = /^[A-Za-z_][A-Za-z0-9_]*/;
const HEX = /^[0-9A-Fa-f]{2}$/;

/**
 * Visits every node matching `segments` in precedence order, with the raw captured values
 * (in capture order); returning true from `visit` stops the walk.
 */
export type NodeVisitor<T> = (node: PathNode<T>, values: readonly string[]) => boolean;

export class RouteTree<T> {
  readonly root = new PathNode<T>();
  readonly #options: RouteTreeOptions;

  constructor(options: RouteTreeOptions) {
    this.#options = options;
  }

  /**
   * Adds `value` for `method` at `path`. Throws `RouteDefinitionError` on bad syntax, and
   * with code `GN_ERR_HTTP_ROUTE_CONFLICT` when the same method is already routed to a
   * path of the same shape.
   */
  insert(path: string, method: string, value: T): ParsedRoute<T> {
    if (!path.startsWith('/')) {
      throw new RouteDefinitionError(`Route path must start with "/", got ${JSON.stringify(path)}`);
    }
    const segments = path.slice(1).split('/');
    if (!this.#options.strictSlash && segments.length > 1 && segments.at(-1) === '') {
      segments.pop();
    }
    const paramNames: string[] = [];
    let node = this.root;
    for (let i = 0; i < segments.length; i++) {
      const segment = segments[i]!;
      if (segment === '*') {
        if (i !== segments.length - 1) {
          throw new RouteDefinitionError(`"*" must be the last segment of a route: ${path}`);
        }
        node.wildcard ??= new PathNode<T>();
        node = node.wildcard;
        paramNames.push('*');
      } else if (segment.includes(':')) {
        node = this.#insertParam(node, segment, paramNames, path);
      } else {
        if (segment.includes('*')) {
          throw new RouteDefinitionError(`"*" must be a whole segment: ${path}`);
        }
        const normalized = normalizeSegment(segment, path);
        if (normalized === '.' || normalized === '..') {
          throw new RouteDefinitionError(`Route paths cannot contain dot segments: ${path}`);
        }
        const key = this.#options.caseSensitive ? normalized : normalized.toLowerCase();
        let child = node.statics.get(key);
        if (!child) {
          child = new PathNode<T>();
          node.statics.set(key, child);
        }
        node = child;
      }
    }
    if (new Set(paramNames).size !== paramNames.length) {
      throw new RouteDefinitionError(`Duplicate parameter name in route ${path}`);
    }
    if (node.routes.has(method)) {
      throw new RouteDefinitionError(
        `${method === '*' ? 'ALL' : method} ${path} conflicts with a route already registered`,
        'GN_ERR_HTTP_ROUTE_CONFLICT',
      );
    }
    node.routes.set(method, value);
    return { paramNames, node };
  }

  /** Walks the nodes matching normalised `segments` (see `normalizePath`). */
  walk(segments: readonly string[], visit: NodeVisitor<T>): boolean {
    return this.#walk(this.root, segments, 0, [], visit);
  }

  #walk(
    node: PathNode<T>,
    segments: readonly string[],
    index: number,
    values: string[],
    visit: NodeVisitor<T>,
  ): boolean {
    const n = segments.length;
    if (index === n) return node.routes.size > 0 && visit(node, values);
    const segment = segments[index]!;
    // A trailing slash is not significant unless `strictSlash` (`/users/` ≡ `/users`).
    if (
      !this.#options.strictSlash &&
      index === n - 1 &&
      index > 0 &&
      segment === '' &&
      node.routes.size > 0 &&
      visit(node, values)
    ) {
      return true;
    }
    const staticChild = node.statics.get(
      this.#options.caseSensitive ? segment : segment.toLowerCase(),
    );
    if (staticChild && this.#walk(staticChild, segments, index + 1, values, visit)) return true;
    if (
      node.params.length > 0 &&
      segment.length > 0 &&
      segment.length <= this.#options.maxParamLength
    ) {
      for (const param of node.params) {
        let captured: string[];
        if (param.pattern === undefined) {
          captured = [segment];
        } else {
          const match = param.pattern.exec(segment);
          if (match === null) continue;
          captured = match.slice(1) as string[];
        }
        const depth = values.length;
        values.push(...captured);
        if (this.#walk(param.node, segments, index + 1, values, visit)) return true;
        values.length = depth;
      }
    }
    if (node.wildcard && node.wildcard.routes.size > 0) {
      values.push(segments.slice(index).join('/'));
      if (visit(node.wildcard, values)) return true;
      values.pop();
    }
    return false;
  }

  #insertParam(
    node: PathNode<T>,
    segment: string,
    paramNames: string[],
    path: string,
  ): PathNode<T> {
    let key = '';
    let source = '^';
    let literalLength = 0;
    let bare = false;
    let i = 0;
    let previousWasParam = false;
    while (i < segment.length) {
      if (segment[i] === ':') {
        const name = PARAM_NAME.exec(segment.slice(i + 1))?.[0];
        if (name === undefined) {
          throw new RouteDefinitionError(`Invalid parameter name in route ${path}`);
        }
        if (previousWasParam) {
          throw new RouteDefinitionError(
            `Two parameters need a literal between them (:a-:b, not :a:b) in route ${path}`,
          );
        }
        paramNames.push(name);
        key += ':';
        source += '(.+)';
        i += 1 + name.length;
        previousWasParam = true;
        bare = i === segment.length && key === ':';
      } else {
        const next = segment.indexOf(':', i);
        const literal = segment.slice(i, next < 0 ? undefined : next);
        if (literal.includes('*')) {
          throw new RouteDefinitionError(`"*" must be a whole segment: ${path}`);
        }
        const normalized = normalizeSegment(literal, path);
        key += this.#options.caseSensitive ? normalized : normalized.toLowerCase();
        source += escapeRegExp(normalized);
        literalLength += normalized.length;
        i += literal.length;
        previousWasParam = false;
      }
    }
    const existing = node.params.find((p) => p.key === key);
    if (existing) return existing.node;
    const child: ParamChild<T> = {
      key,
      literalLength,
      pattern: bare
        ? undefined
        : new RegExp(`${source}$`, this.#options.caseSensitive ? 's' : 'is'),
      node: new PathNode<T>(),
    };
    node.params.push(child);
    // Most literal characters first; bare `:name` last. Stable for equal lengths.
    node.params.sort((a, b) => b.literalLength - a.literalLength);
    return child.node;
  }
}

/**
 * Splits a request path into normalised segments, or returns undefined when it is not an
 * origin-form path (`*`, authority-form), which no route matches.
 *
 * - Percent-encodings must be well formed (`%` + two hex digits), else 400 (RFC 3986 §2.1).
 *   Encoded unreserved characters are decoded and the other escapes uppercased, so
 *   equivalent spellings match the same route (RFC 3986 §6.2.2.1, §6.2.2.2).
 * - Dot segments (`.`, `..`, also spelt `%2e`) are removed as RFC 3986 §5.2.4 describes;
 *   a `..` that would climb above the root is rejected with 400 rather than clamped, so a
 *   route never sees a path the client tried to escape with.
 */
export function normalizePath(path: string): string[] | undefined {
  if (path.charCodeAt(0) !== 0x2f /* / */) return undefined;
  const raw = path.slice(1).split('/');
  if (!path.includes('%') && !path.includes('/.')) return raw;
  const out: string[] = [];
  for (let i = 0; i < raw.length; i++) {
    const segment = normalizeSegment(raw[i]!, undefined);
    const last = i === raw.length - 1;
    if (segment === '.') {
      if (last) out.push('');
    } else if (segment === '..') {
      if (out.length === 0) {
        throw new HttpError(400, 'The request path climbs above the root', {
          code: 'GN_ERR_HTTP_PATH_TRAVERSAL',
        });
      }
      out.pop();
      if (last) out.push('');
    } else {
      out.push(segment);
    }
  }
  if (out.length === 0) out.push('');
  return out;
}

/** Percent-decodes a captured value (malformed or non-UTF-8 → 400). */
export function decodeParam(raw: string): string {
  if (!raw.includes('%')) return raw;
  try {
    return decodeURIComponent(raw);
  } catch (err) {
    throw new HttpError(400, 'Malformed percent-encoding in the request path', {
      code: 'GN_ERR_HTTP_BAD_PATH_ENCODING',
      cause: err,
    });
  }
}

const UNRESERVED = /[A-Za-z0-9\-._~]/;

/** Decodes escaped unreserved characters and uppercases the other escapes. */
function normalizeSegment(segment: string, routePath: string | undefined): string {
  if (!segment.includes('%')) return segment;
  let out = '';
  let i = 0;
  while (i < segment.length) {
    const percent = segment.indexOf('%', i);
    if (percent < 0) {
      out += segment.slice(i);
      break;
    }
    out += segment.slice(i, percent);
    const hex = segment.slice(percent + 1, percent + 3);
    if (!HEX.test(hex)) {
      if (routePath !== undefined) {
        throw new RouteDefinitionError(`Malformed percent-encoding in route ${routePath}`);
      }
      throw new HttpError(400, 'Malformed percent-encoding in the request path', {
        code: 'GN_ERR_HTTP_BAD_PATH_ENCODING',
      });
    }
    const char = String.fromCharCode(parseInt(hex, 16));
    out += UNRESERVED.test(char) ? char : `%${hex.toUpperCase()}`;
    i = percent + 3;
  }
  return out;
}

function escapeRegExp(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&');
}
