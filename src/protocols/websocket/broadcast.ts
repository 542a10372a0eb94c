/**
 * Fan-out of one message to many sockets. Text is encoded once; sockets that are not open
 * or whose `bufferedAmount` is above `maxBufferedAmount` (slow consumers) are skipped, so a
 * broadcast never buffers without bound behind a reader that does not keep up.
 */
import type { WebSocket } from './socket.js';

export interface BroadcastOptions {
  /** Send bytes as a binary message (strings are always text). @default true for bytes */
  binary?: boolean;
  /** A socket not to send to (typically the sender). */
  skip?: WebSocket;
  /**
   * Sockets with more than this many bytes already buffered are skipped.
   * @default 1048576 (1 MiB)
   */
  maxBufferedAmount?: number;
}

/** Send `data` to every open socket in `clients`; returns how many got it. */
export function broadcast(
  clients: Iterable<WebSocket>,
  data: string | Uint8Array,
  options: BroadcastOptions = {},
): number {
  const max = options.maxBufferedAmount ?? 1024 * 1024;
  const isText = typeof data === 'string';
  const bytes = isText ? Buffer.from(data, 'utf8') : data;
  const binary = isText ? false : options.binary !== false;
  let sent = 0;
  for (const ws of clients) {
    if (ws === options.skip || ws.readyState !== 'open' || ws.bufferedAmount > max) continue;
    ws.send(bytes, { binary });
    sent++;
  }
  return sent;
}
