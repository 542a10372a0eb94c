export { QpackDecoder } from './decoder.js';
export type { FieldLine, QpackDecoderOptions } from './decoder.js';
export { QpackEncoder } from './encoder.js';
export type { QpackEncoderOptions } from './encoder.js';
export { FieldSectionTooLargeError, QpackError, QpackErrorCode } from './errors.js';
export { STATIC_TABLE } from './static-table.js';
