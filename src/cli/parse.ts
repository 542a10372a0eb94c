/** Parsers for CLI option values; each failure is a UsageError naming the option. */
import { UsageError } from './command.js';

/** A TCP/UDP port, 0..65535. */
export function parsePort(value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d{1,5}$/.test(value) || Number(value) > 65535) {
    throw new UsageError(`--port must be an integer from 0 to 65535, got '${value}'`);
  }
  return Number(value);
}

/** A duration in milliseconds, 0..2^31-1 (the largest value Node timers accept). */
export function parseMs(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d{1,10}$/.test(value) || Number(value) > 2 ** 31 - 1) {
    throw new UsageError(`--${name} must be milliseconds from 0 to ${2 ** 31 - 1}, got '${value}'`);
  }
  return Number(value);
}
