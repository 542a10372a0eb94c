/**
 * ghostnet/gossip: SWIM membership wire-compatible with HashiCorp memberlist, with the
 * parts of Serf a cluster member needs (tags, intents, user events).
 */
export * from './errors.js';
export * from './core.js';
export * from './queue.js';
export * from './serf.js';
export * from './agent.js';
export * from './sim.js';
export * from './wire/messages.js';
export * from './wire/packet.js';
export { GoWriter, skipValue, NEED_MORE, decodeValue } from './wire/msgpack.js';
export * from './wire/compress.js';
export * from './wire/crypto.js';
export * from './wire/keyring.js';
export * from './wire/lzw.js';
