/**
 * ghostnet/websocket (RFC 6455, RFC 7692): the sans-I/O frame codec and connection core,
 * the opening handshake and permessage-deflate. The server and client bindings on the
 * HTTP upgrade path are the next step of the WebSocket work.
 */
export * from './codes.js';
export * from './errors.js';
export * from './limits.js';
export * from './frame.js';
export * from './mask.js';
export * from './utf8.js';
export * from './state.js';
export * from './connection.js';
export * from './extensions.js';
export * from './handshake.js';
export * from './deflate.js';
export * from './zlib-limiter.js';
export * from './socket.js';
export * from './server.js';
export * from './client.js';
export * from './broadcast.js';
export * from './reconnect.js';
