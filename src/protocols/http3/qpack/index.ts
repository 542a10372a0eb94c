/**
 * QPACK: field compression for HTTP/3 (RFC 9204). A sans-I/O codec: the connection owns one
 * encoder and one decoder, feeds them the peer's encoder/decoder stream bytes and whole
 * field sections, and writes out what they queue for our own encoder/decoder streams.
 */
export { QpackDecoder } from './decoder.js';
export type { FieldLine, QpackDecoderOptions } from './decoder.js';
export { QpackEncoder } from './encoder.js';
export type { QpackEncoderOptions } from './encoder.js';
export { FieldSectionTooLargeError, QpackError, QpackErrorCode } from './errors.js';
export { STATIC_TABLE } from './static-table.js';
