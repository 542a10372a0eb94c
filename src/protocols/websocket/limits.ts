/** Limits of the WebSocket core (STYLE §4). Every default is finite; there is no "0 = unlimited". */
import { InvalidOptionError } from '../../errors.js';

export interface WebSocketLimits {
  /**
   * Bytes of one received message (sum of its frames' payloads, before any inflation).
   * Larger → close 1009. Same default as ws's `maxPayload`.
   * @default 104857600 (100 MiB)
   */
  maxPayload: number;
  /**
   * Payload bytes of one received frame. Larger → close 1009. Checked on the frame header,
   * before any payload byte is buffered.
   * @default 104857600 (100 MiB)
   */
  maxFrameSize: number;
  /**
   * Frames in one received message. More → close 1009. Empty continuation frames cost no
   * payload, so without this a peer could keep one message open forever. 2^17 leaves room
   * for Autobahn 9.3.1 / 9.4.1 (4 MiB in 64-byte fragments = 65536 frames).
   * @default 131072
   */
  maxFragments: number;
}

export const DEFAULT_WEBSOCKET_LIMITS: Readonly<WebSocketLimits> = Object.freeze({
  maxPayload: 100 * 1024 * 1024,
  maxFrameSize: 100 * 1024 * 1024,
  maxFragments: 131072,
});

let resolvedDefaults: Readonly<WebSocketLimits> | undefined;
/** Resolved limits by the (frozen) object they came from, and each result by itself. */
const resolved = new WeakMap<object, Readonly<WebSocketLimits>>();

/** Merge user limits over the defaults and validate them. */
export function resolveWebSocketLimits(user?: Partial<WebSocketLimits>): Readonly<WebSocketLimits> {
  // A server resolves the same options for every connection: share one frozen result.
  if (user === undefined) return (resolvedDefaults ??= resolveWebSocketLimits({}));
  const cached = resolved.get(user);
  if (cached !== undefined) return cached;
  const out = { ...DEFAULT_WEBSOCKET_LIMITS, ...user };
  for (const key of Object.keys(DEFAULT_WEBSOCKET_LIMITS) as (keyof WebSocketLimits)[]) {
    const v = out[key];
    if (!Number.isSafeInteger(v) || v < 1) {
      throw new InvalidOptionError(
        `unsupported ${key}: ${String(v)}, use a positive safe integer (there is no "unlimited")`,
      );
    }
  }
  const frozen = Object.freeze(out);
  // Cached only for frozen input: a mutable object could change after it was checked.
  if (Object.isFrozen(user)) resolved.set(user, frozen);
  resolved.set(frozen, frozen);
  return frozen;
}
