/**
 * ghostnet/http: the application interface shared by every HTTP engine (DESIGN §4) —
 * request and response objects, router, middleware, static files, SSE, multipart and the
 * fetch-style adapter. Engines: `ghostnet/http1` (and HTTP/2, HTTP/3 as they land).
 */
export type * from './types.js';
export * from './errors.js';
export { HeaderList } from './headers.js';
export type { HeaderInit } from './headers.js';
export * from './body.js';
export { ServerRequest, splitTarget } from './request.js';
export type { ServerRequestInit } from './request.js';
export { ServerResponse, statusHasBody } from './response.js';
export type { ServerResponseOptions } from './response.js';
export * from './compose.js';
export * from './router.js';
export * from './app.js';
export * from './fetch-adapter.js';
export * from './static/index.js';
export * from './sse.js';
export * from './multipart.js';
export * from './mime.js';
export * from './middleware/index.js';
export { ClientResponse } from './client-response.js';
