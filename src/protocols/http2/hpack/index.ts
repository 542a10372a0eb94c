/**
 * HPACK: header compression for HTTP/2 (RFC 7541). A sans-I/O codec: the connection owns
 * one encoder and one decoder and feeds them whole header blocks.
 */
export { HpackDecoder } from './decoder.js';
export type { HpackDecoderOptions, HpackHeaderBlock } from './decoder.js';
export { HpackEncoder } from './encoder.js';
export type { HpackEncoderOptions } from './encoder.js';
