/** Static files: `sendFile` for one file, `serveStatic` middleware for a directory tree. */
export { sendFile, FileChangedError, DEFAULT_FILE_CHUNK_SIZE } from './send-file.js';
export type { SendFileOptions } from './send-file.js';
export { serveStatic } from './serve-static.js';
export type { ServeStaticOptions } from './serve-static.js';
export { parseRange, MAX_RANGES } from './range.js';
export type { RangeResult } from './range.js';
export {
  evaluatePreconditions,
  ifRangeAllows,
  parseHttpDate,
  formatHttpDate,
  weakEtag,
} from './conditional.js';
export type { PreconditionOutcome, Validators } from './conditional.js';
export { decodeRequestPath } from './safe-path.js';
