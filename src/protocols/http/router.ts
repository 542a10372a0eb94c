/**
 * The HTTP router shared by every engine (DESIGN §4).
 *
 * ```ts
 * const router = new Router();
 * router.get('/health', (req, res) => res.text('ok'));
 * router.get('/users/:id', loadUser, (req, res) => res.json(req.locals.user));
 * router.group('/admin', (g) => {
 *   g.use(requireAdmin);
 *   g.delete('/users/:id', removeUser);
 * });
 * server.handler = router.handler();            // or compose([...], router.middleware())
 * ```
 *
 * Matching: static segments beat parameters, which beat `*` wildcards (a segment tree,
 * see route-tree.ts), which beat regular-expression routes (tried in registration order).
 * Among routes matching the path, the first in that order that accepts the method wins.
 *
 * Answers the router gives itself:
 * - no route matches the path: 404 from `handler()`, or `next()` from `middleware()`;
 * - the path matches but not the method: 405 with `Allow` (RFC 9110 §15.5.6). From
 *   `middleware()` the rest of the chain runs first and the 405 is sent only if nothing
 *   downstream answered, so several mounted routers may share a path;
 * - OPTIONS with no OPTIONS route: 204 with `Allow` (RFC 9110 §9.3.7), unless
 *   `autoOptions: false`; `OPTIONS *` lists every method the router serves;
 * - HEAD with no HEAD route runs the GET route (RFC 9110 §9.3.2; the engine drops the body).
 *
 * Middleware added with `use()` (on the router or a group) runs only for requests that a
 * route of that scope matched, in the order router → outer group → inner group → route,
 * whatever the registration order. Middleware for every request (logging, CORS) belongs
 * in the app-level stack: `createApp().use()` or `compose()`.
 */
import { InvalidOptionError } from '../../errors.js';
import { chain, DONE, notFound } from './compose.js';
import { HttpError } from './errors.js';
import { decodeParam, normalizePath, RouteDefinitionError, RouteTree } from './route-tree.js';
import type { PathNode } from './route-tree.js';
import type { Handler, HttpRequest, HttpResponse, Middleware } from './types.js';

export { RouteDefinitionError } from './route-tree.js';

export interface RouterOptions {
  /**
   * Match static segments case-sensitively (`/Users` ≠ `/users`). Parameter values keep
   * their case either way.
   * @default false
   */
  caseSensitive?: boolean;
  /**
   * Treat a trailing slash as significant (`/users/` ≠ `/users`).
   * @default false
   */
  strictSlash?: boolean;
  /**
   * Longest raw (still percent-encoded) path segment a parameter matches; longer segments
   * do not match that parameter, so a hostile path cannot make `:name.:ext` patterns scan
   * megabytes. Wildcards are bounded by the engine's request-target limit instead.
   * @default 256
   */
  maxParamLength?: number;
  /**
   * Answer OPTIONS requests that no route handles with 204 and an `Allow` header.
   * @default true
   */
  autoOptions?: boolean;
}

/**
 * Route handlers: any number of middleware; the last one usually answers. A `Handler`
 * (no `next`) fits this type as is. Calling `next()` from a route falls through: to the
 * outer chain from `middleware()`, to the 404 from `handler()`.
 */
export type RouteHandler = Middleware;

interface Scope {
  readonly prefix: string;
  readonly middleware: Middleware[];
  readonly parent: Scope | undefined;
}

interface RouteEntry {
  readonly method: string;
  readonly paramNames: readonly string[];
  readonly scope: Scope;
  readonly stack: readonly Middleware[];
  compiled: Middleware | undefined;
  compiledVersion: number;
}

interface RegexRoute {
  readonly pattern: RegExp;
  readonly entry: RouteEntry;
}

type Register = (
  method: string,
  path: string | RegExp,
  handlers: readonly RouteHandler[],
  scope: Scope,
) => void;

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const NOOP_NEXT = (): Promise<void> => DONE;

/** Registers routes into a scope (the router itself, or a group with a prefix). */
export class RouteGroup {
  readonly #register: Register;
  readonly #scope: Scope;
  readonly #onUse: () => void;

  /** @internal Created by `Router.group()`. */
  constructor(register: Register, scope: Scope, onUse: () => void) {
    this.#register = register;
    this.#scope = scope;
    this.#onUse = onUse;
  }

  /** The path prefix of this scope (`''` for the router itself). */
  get prefix(): string {
    return this.#scope.prefix;
  }

  /** Adds middleware that runs for every route of this scope (and nested groups). */
  use(...middleware: Middleware[]): this {
    for (const fn of middleware) {
      if (typeof fn !== 'function') {
        throw new InvalidOptionError(`use() takes middleware functions, got ${typeof fn}`);
      }
    }
    this.#scope.middleware.push(...middleware);
    this.#onUse();
    return this;
  }

  /**
   * Routes `method` (case-sensitive, RFC 9110 §9.1) at `path`: a route path, or a
   * RegExp tested against the normalised, still-encoded path whose capture groups become
   * params `'0'`, `'1'`, … (named groups by name).
   */
  route(method: string, path: string | RegExp, ...handlers: RouteHandler[]): this {
    if (!TOKEN.test(method)) {
      throw new InvalidOptionError(`Invalid method ${JSON.stringify(method)}: must be a token`);
    }
    this.#register(method, path, handlers, this.#scope);
    return this;
  }

  /** Routes every method at `path`. */
  all(path: string | RegExp, ...handlers: RouteHandler[]): this {
    this.#register('*', path, handlers, this.#scope);
    return this;
  }

  get(path: string | RegExp, ...handlers: RouteHandler[]): this {
    return this.route('GET', path, ...handlers);
  }

  head(path: string | RegExp, ...handlers: RouteHandler[]): this {
    return this.route('HEAD', path, ...handlers);
  }

  post(path: string | RegExp, ...handlers: RouteHandler[]): this {
    return this.route('POST', path, ...handlers);
  }

  put(path: string | RegExp, ...handlers: RouteHandler[]): this {
    return this.route('PUT', path, ...handlers);
  }

  patch(path: string | RegExp, ...handlers: RouteHandler[]): this {
    return this.route('PATCH', path, ...handlers);
  }

  delete(path: string | RegExp, ...handlers: RouteHandler[]): this {
    return this.route('DELETE', path, ...handlers);
  }

  options(path: string | RegExp, ...handlers: RouteHandler[]): this {
    return this.route('OPTIONS', path, ...handlers);
  }

  /**
   * A nested scope: routes registered on `g` get `prefix` in front of their path, and
   * `g.use()` middleware runs only for them.
   */
  group(prefix: string, define: (group: RouteGroup) => void): this {
    if (!prefix.startsWith('/')) {
      throw new RouteDefinitionError(
        `Group prefix must start with "/", got ${JSON.stringify(prefix)}`,
      );
    }
    const scope: Scope = {
      prefix: this.#scope.prefix + prefix.replace(/\/+$/, ''),
      middleware: [],
      parent: this.#scope,
    };
    define(new RouteGroup(this.#register, scope, this.#onUse));
    return this;
  }
}

export class Router extends RouteGroup {
  readonly #tree: RouteTree<RouteEntry>;
  readonly #regexRoutes: RegexRoute[] = [];
  /**
   * Fully static routes by their exact path (lowercase unless `caseSensitive`): a request
   * whose path is a key here is answered by one map lookup, without splitting the path or
   * walking the tree (STYLE §12). Only paths the tree would match to the same node first
   * are keys: no parameters, wildcards, `%`, empty segments or trailing slash. Anything
   * else, or a method that node does not route, takes the tree.
   */
  readonly #static = new Map<string, PathNode<RouteEntry>>();
  readonly #caseSensitive: boolean;
  readonly #autoOptions: boolean;
  /** Every method routed anywhere (for `OPTIONS *`). */
  readonly #methods = new Set<string>();
  /** Bumped by `use()`, so cached per-route chains are rebuilt. */
  #version = 0;

  constructor(options: RouterOptions = {}) {
    const root: Scope = { prefix: '', middleware: [], parent: undefined };
    // The callbacks run only after construction, once `host.router` is set.
    const host: { router?: Router } = {};
    super(
      (method, path, handlers, scope) => host.router!.#add(method, path, handlers, scope),
      root,
      () => {
        host.router!.#version++;
      },
    );
    host.router = this;
    const maxParamLength = options.maxParamLength ?? 256;
    if (!Number.isInteger(maxParamLength) || maxParamLength < 1) {
      throw new InvalidOptionError(
        `maxParamLength must be a positive integer, got ${String(options.maxParamLength)}`,
      );
    }
    this.#tree = new RouteTree({
      caseSensitive: options.caseSensitive ?? false,
      strictSlash: options.strictSlash ?? false,
      maxParamLength,
    });
    this.#autoOptions = options.autoOptions ?? true;
    this.#caseSensitive = options.caseSensitive ?? false;
  }

  /** The router as a handler: unmatched paths get 404. */
  handler(): Handler {
    return (req, res) => {
      try {
        return this.#dispatch(req, res, undefined);
      } catch (err) {
        return Promise.reject(err);
      }
    };
  }

  /** The router as middleware: unmatched paths continue with `next()`. */
  middleware(): Middleware {
    return (req, res, next) => {
      try {
        return this.#dispatch(req, res, next);
      } catch (err) {
        return Promise.reject(err);
      }
    };
  }

  /**
   * The methods routed for `path` (a request path), as the `Allow` header would list
   * them; empty when no route matches the path.
   */
  allowedMethods(path: string): string[] {
    const segments = normalizePath(path);
    if (segments === undefined) return [];
    return this.#allowed(segments);
  }

  #add(
    method: string,
    path: string | RegExp,
    handlers: readonly RouteHandler[],
    scope: Scope,
  ): void {
    if (handlers.length === 0) {
      throw new InvalidOptionError(`Route ${String(path)} needs at least one handler`);
    }
    for (const fn of handlers) {
      if (typeof fn !== 'function') {
        throw new InvalidOptionError(`Route handlers must be functions, got ${typeof fn}`);
      }
    }
    const stack = handlers as readonly Middleware[];
    if (path instanceof RegExp) {
      if (scope.prefix !== '') {
        throw new RouteDefinitionError(
          `A RegExp route cannot take the group prefix ${scope.prefix}; put the prefix in the pattern and register it on the router`,
        );
      }
      // g and y make RegExp#exec stateful (lastIndex); a shared route must not be.
      const pattern = new RegExp(path.source, path.flags.replace(/[gy]/g, ''));
      const entry = this.#entry(method, [], scope, stack);
      this.#regexRoutes.push({ pattern, entry });
    } else {
      const full = scope.prefix + (path === '/' && scope.prefix !== '' ? '' : path);
      const names: string[] = [];
      const entry = this.#entry(method, names, scope, stack);
      const parsed = this.#tree.insert(full, method, entry);
      names.push(...parsed.paramNames);
      if (isExactPath(full)) {
        this.#static.set(this.#caseSensitive ? full : full.toLowerCase(), parsed.node);
      }
    }
    this.#methods.add(method);
  }

  #entry(
    method: string,
    names: readonly string[],
    scope: Scope,
    stack: readonly Middleware[],
  ): RouteEntry {
    return { method, paramNames: names, scope, stack, compiled: undefined, compiledVersion: -1 };
  }

  /** Synchronous when the route's chain is; may throw (the callers turn that into a rejection). */
  #dispatch(
    req: HttpRequest,
    res: HttpResponse,
    next: (() => Promise<void>) | undefined,
  ): void | Promise<void> {
    const node = this.#static.get(req.path);
    if (node !== undefined) {
      const method = req.method;
      const routes = node.routes;
      const entry =
        routes.get(method) ??
        (method === 'HEAD' ? routes.get('GET') : undefined) ??
        routes.get('*');
      if (entry !== undefined) {
        req.params = {};
        const result = this.#compiled(entry)(req, res, next ?? NOOP_NEXT);
        if (next !== undefined) return result;
        if (result === undefined || result === DONE) {
          if (!res.headersSent) notFound(res);
          return;
        }
        return answerWhenDone(result, res);
      }
    }
    return this.#dispatchTree(req, res, next);
  }

  async #dispatchTree(
    req: HttpRequest,
    res: HttpResponse,
    next: (() => Promise<void>) | undefined,
  ): Promise<void> {
    const method = req.method;
    const segments = normalizePath(req.path);
    if (segments === undefined) {
      if (req.path === '*' && method === 'OPTIONS' && this.#autoOptions && next === undefined) {
        return answerOptions(res, this.#allMethods());
      }
      return this.#noMatch(res, next);
    }

    let found: RouteEntry | undefined;
    let values: readonly string[] = [];
    this.#tree.walk(segments, (node, captured) => {
      const entry =
        node.routes.get(method) ??
        (method === 'HEAD' ? node.routes.get('GET') : undefined) ??
        node.routes.get('*');
      if (entry === undefined) return false;
      found = entry;
      values = captured.slice();
      return true;
    });

    let params: Record<string, string>;
    if (found !== undefined) {
      params = buildParams(found.paramNames, values);
    } else {
      const regex = this.#matchRegex(method, segments);
      if (regex === undefined) return this.#methodMismatch(req, res, segments, next);
      found = regex.entry;
      params = regex.params;
    }

    req.params = params;
    const run = this.#compiled(found);
    await run(req, res, next ?? NOOP_NEXT);
    if (next === undefined && !res.headersSent) notFound(res);
  }

  async #methodMismatch(
    req: HttpRequest,
    res: HttpResponse,
    segments: string[],
    next: (() => Promise<void>) | undefined,
  ): Promise<void> {
    const allowed = this.#allowed(segments);
    if (allowed.length === 0) return this.#noMatch(res, next);
    if (req.method === 'OPTIONS' && this.#autoOptions) return answerOptions(res, allowed);
    if (next !== undefined) {
      await next();
      if (res.headersSent) return;
    }
    // RFC 9110 §15.5.6: a 405 MUST carry an Allow header listing the supported methods.
    res.status = 405;
    res.setHeader('allow', allowed.join(', '));
    res.text('Method Not Allowed');
  }

  #noMatch(res: HttpResponse, next: (() => Promise<void>) | undefined): Promise<void> | void {
    if (next !== undefined) return next();
    notFound(res);
  }

  #matchRegex(
    method: string,
    segments: readonly string[],
  ): { entry: RouteEntry; params: Record<string, string> } | undefined {
    if (this.#regexRoutes.length === 0) return undefined;
    const path = `/${segments.join('/')}`;
    for (const { pattern, entry } of this.#regexRoutes) {
      if (!methodMatches(entry.method, method)) continue;
      const match = pattern.exec(path);
      if (match === null) continue;
      const params: Record<string, string> = {};
      for (let i = 1; i < match.length; i++) {
        const value = match[i];
        if (value !== undefined) params[String(i - 1)] = checkedParam(value);
      }
      if (match.groups) {
        for (const [name, value] of Object.entries(match.groups)) {
          if (value !== undefined) params[name] = checkedParam(value);
        }
      }
      return { entry, params };
    }
    return undefined;
  }

  /** Methods accepted for the path: what the Allow header lists (RFC 9110 §10.2.1). */
  #allowed(segments: readonly string[]): string[] {
    const methods = new Set<string>();
    this.#tree.walk(segments, (node) => {
      for (const method of node.routes.keys()) methods.add(method);
      return false;
    });
    if (this.#regexRoutes.length > 0) {
      const path = `/${segments.join('/')}`;
      for (const { pattern, entry } of this.#regexRoutes) {
        if (pattern.test(path)) methods.add(entry.method);
      }
    }
    if (methods.size === 0) return [];
    return finishAllow(methods, this.#autoOptions);
  }

  #allMethods(): string[] {
    return finishAllow(new Set(this.#methods), this.#autoOptions);
  }

  #compiled(entry: RouteEntry): Middleware {
    if (entry.compiled === undefined || entry.compiledVersion !== this.#version) {
      const scopes: Scope[] = [];
      for (let scope: Scope | undefined = entry.scope; scope; scope = scope.parent) {
        scopes.unshift(scope);
      }
      entry.compiled = chain([...scopes.flatMap((s) => s.middleware), ...entry.stack]);
      entry.compiledVersion = this.#version;
    }
    return entry.compiled;
  }
}

/** A route path the static map may hold (see `Router.#static`). */
function isExactPath(path: string): boolean {
  if (path === '/') return true;
  return !(
    path.endsWith('/') ||
    path.includes('//') ||
    path.includes('%') ||
    path.includes(':') ||
    path.includes('*')
  );
}

/** Handler mode: 404 once the route's asynchronous chain is done, if nothing answered. */
async function answerWhenDone(result: Promise<void>, res: HttpResponse): Promise<void> {
  await result;
  if (!res.headersSent) notFound(res);
}

function methodMatches(routeMethod: string, method: string): boolean {
  return (
    routeMethod === method || routeMethod === '*' || (method === 'HEAD' && routeMethod === 'GET')
  );
}

function finishAllow(methods: Set<string>, autoOptions: boolean): string[] {
  if (methods.has('*')) {
    methods.delete('*');
    for (const m of ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE']) methods.add(m);
  }
  if (methods.has('GET')) methods.add('HEAD');
  if (autoOptions) methods.add('OPTIONS');
  return [...methods];
}

function buildParams(names: readonly string[], values: readonly string[]): Record<string, string> {
  const params: Record<string, string> = {};
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!;
    const raw = values[i]!;
    params[name] = name === '*' ? decodeWildcard(raw) : checkedParam(raw);
  }
  return params;
}

/** Decodes a parameter; a NUL byte is never a legitimate path character (→ 400). */
function checkedParam(raw: string): string {
  const value = decodeParam(raw);
  if (value.includes('\0')) throw badPath('A NUL byte in the request path');
  return value;
}

/**
 * Decodes the wildcard segment by segment. An encoded `/` or `\` inside a segment would
 * let `a%2F..%2Fsecret` reach a file-serving handler as `a/../secret`, so it is 400.
 */
function decodeWildcard(raw: string): string {
  if (!raw.includes('%')) return raw;
  const parts = raw.split('/');
  for (let i = 0; i < parts.length; i++) {
    const part = checkedParam(parts[i]!);
    if (part.includes('/') || part.includes('\\')) {
      throw badPath('An encoded slash in a wildcard path');
    }
    parts[i] = part;
  }
  return parts.join('/');
}

function badPath(message: string): HttpError {
  return new HttpError(400, message, { code: 'GN_ERR_HTTP_BAD_PATH' });
}

function answerOptions(res: HttpResponse, allowed: readonly string[]): void {
  res.status = 204;
  res.setHeader('allow', allowed.join(', '));
  res.end();
}
