/**
 * `createApp()`: an app-level middleware stack in front of a router, as one `Handler`.
 *
 * ```ts
 * const app = createApp();
 * app.use(recover(), requestLog());        // every request, matched or not
 * app.get('/users/:id', showUser);         // routes, as on a Router
 * app.group('/admin', (g) => g.use(requireAdmin).get('/stats', stats));
 * serve(app.handler());
 * ```
 *
 * Unlike `Router.use()` (middleware for the routes the router matched), `App.use()` adds to
 * the stack every request passes through, so logging, CORS and error recovery also see
 * 404s, 405s and automatic OPTIONS answers.
 */
import { InvalidOptionError } from '../../errors.js';
import { compose } from './compose.js';
import { Router } from './router.js';
import type { RouterOptions } from './router.js';
import type { Handler, Middleware } from './types.js';

export class App extends Router {
  readonly #stack: Middleware[] = [];

  /** Adds app-level middleware, run for every request in the order added. */
  override use(...middleware: Middleware[]): this {
    for (const fn of middleware) {
      if (typeof fn !== 'function') {
        throw new InvalidOptionError(`use() takes middleware functions, got ${typeof fn}`);
      }
    }
    this.#stack.push(...middleware);
    return this;
  }

  /**
   * The app as a handler: app middleware, then the routes; 404 when nothing answered.
   * Call it after adding middleware (the stack is captured here).
   */
  override handler(): Handler {
    return compose([...this.#stack, this.middleware()]);
  }
}

export function createApp(options: RouterOptions = {}): App {
  return new App(options);
}
