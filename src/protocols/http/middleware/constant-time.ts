/** Constant-time string comparison for credentials (API keys, passwords). */
import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Compares two strings in time that does not depend on where they differ nor on their
 * lengths: both are hashed with SHA-256 first, so the comparison is over equal-length
 * digests. Use it in `basicAuth`'s `verify` and `apiKey`'s function form.
 */
export function safeEqual(a: string, b: string): boolean {
  const da = createHash('sha256').update(a, 'utf8').digest();
  const db = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(da, db);
}
