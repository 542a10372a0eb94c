/**
 * Process-unique connection ids for logs and metrics ('tcp-1', 'tls-7', 'memory-3').
 *
 * Intentionally module-level (STYLE §8 exception): ids must be unique across every
 * transport instance in the process, and the counter carries no behaviour.
 */
let counter = 0;

export function nextConnectionId(kind: string): string {
  counter += 1;
  return `${kind}-${counter}`;
}
