/**
 * ghostnet/nat: STUN (RFC 8489) codec, client and server, RFC 5780 behavior discovery, and
 * ICE (RFC 8445) candidate arithmetic.
 */
export * from './stun/codec.js';
export * from './stun/transaction.js';
export * from './stun/server.js';
export * from './stun/client.js';
export * from './stun/node.js';
export * from './ice/candidates.js';
export * from './turn/client.js';
export * from './turn/node.js';
export * from './ice/agent.js';
export * from './ice/node.js';
