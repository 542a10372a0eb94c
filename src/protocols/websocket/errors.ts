/** WebSocket errors. Match on `code`; `wireCode` is the close code sent to the peer. */
import { ProtocolError } from '../../errors.js';
import type { Initiator } from '../../errors.js';

/** Stable codes and the close code (RFC 6455 §7.4.1) that ends the connection. */
export const WebSocketErrorCodes = {
  /** RSV bits set without a negotiated extension that defines them (§5.2). */
  RESERVED_BITS: ['GN_ERR_WS_RESERVED_BITS', 1002],
  /** Opcode 3-7 or 11-15 (§5.2). */
  UNKNOWN_OPCODE: ['GN_ERR_WS_UNKNOWN_OPCODE', 1002],
  /** A server received an unmasked frame (§5.1). */
  UNMASKED_FRAME: ['GN_ERR_WS_UNMASKED_FRAME', 1002],
  /** A client received a masked frame (§5.1). */
  MASKED_FRAME: ['GN_ERR_WS_MASKED_FRAME', 1002],
  /** A 64-bit payload length with the most significant bit set (§5.2). */
  LENGTH_TOP_BIT: ['GN_ERR_WS_LENGTH_TOP_BIT', 1002],
  /** A payload length not encoded in the minimal number of bytes (§5.2). */
  NON_MINIMAL_LENGTH: ['GN_ERR_WS_NON_MINIMAL_LENGTH', 1002],
  /** A control frame with a payload over 125 bytes (§5.5). */
  CONTROL_FRAME_TOO_LONG: ['GN_ERR_WS_CONTROL_FRAME_TOO_LONG', 1002],
  /** A control frame without FIN (§5.5). */
  FRAGMENTED_CONTROL_FRAME: ['GN_ERR_WS_FRAGMENTED_CONTROL_FRAME', 1002],
  /** A continuation frame with no message in progress (§5.4). */
  UNEXPECTED_CONTINUATION: ['GN_ERR_WS_UNEXPECTED_CONTINUATION', 1002],
  /** A new text/binary frame while a fragmented message is in progress (§5.4). */
  EXPECTED_CONTINUATION: ['GN_ERR_WS_EXPECTED_CONTINUATION', 1002],
  /** A Close frame with a 1-byte payload (§5.5.1). */
  INVALID_CLOSE_PAYLOAD: ['GN_ERR_WS_INVALID_CLOSE_PAYLOAD', 1002],
  /** A Close frame with a code that must not be sent (§7.4). */
  INVALID_CLOSE_CODE: ['GN_ERR_WS_INVALID_CLOSE_CODE', 1002],
  /** Text (or a close reason) that is not valid UTF-8 (§8.1). */
  INVALID_UTF8: ['GN_ERR_WS_INVALID_UTF8', 1007],
  /** One frame's payload exceeds `maxFrameSize`. */
  FRAME_TOO_LARGE: ['GN_ERR_WS_FRAME_TOO_LARGE', 1009],
  /** One message exceeds `maxPayload`. */
  MESSAGE_TOO_LARGE: ['GN_ERR_WS_MESSAGE_TOO_LARGE', 1009],
  /** One message has more than `maxFragments` frames. */
  TOO_MANY_FRAGMENTS: ['GN_ERR_WS_TOO_MANY_FRAGMENTS', 1009],
  /** No pong arrived within `pongTimeoutMs` of a heartbeat ping. */
  PONG_TIMEOUT: ['GN_ERR_WS_PONG_TIMEOUT', 1006],
  /** The peer did not answer our Close frame within `closeTimeoutMs`. */
  CLOSE_TIMEOUT: ['GN_ERR_WS_CLOSE_TIMEOUT', 1006],
  /** The application sent after the connection started closing. */
  SEND_AFTER_CLOSE: ['GN_ERR_WS_SEND_AFTER_CLOSE', 1006],
  /** The application passed an invalid argument to a send method. */
  INVALID_ARGUMENT: ['GN_ERR_WS_INVALID_ARGUMENT', 1011],
  /** The binding failed the connection through `fail()`. */
  FAILED: ['GN_ERR_WS_FAILED', 1011],
} as const satisfies Record<string, readonly [string, number]>;

export type WebSocketErrorKind = keyof typeof WebSocketErrorCodes;

const LIBRARY_KINDS: ReadonlySet<WebSocketErrorKind> = new Set([
  'FRAME_TOO_LARGE',
  'MESSAGE_TOO_LARGE',
  'TOO_MANY_FRAGMENTS',
  'PONG_TIMEOUT',
  'CLOSE_TIMEOUT',
]);
const LOCAL_KINDS: ReadonlySet<WebSocketErrorKind> = new Set([
  'SEND_AFTER_CLOSE',
  'INVALID_ARGUMENT',
  'FAILED',
]);

/**
 * A WebSocket protocol violation or limit. `wireCode` is the close code (1002, 1007,
 * 1009, …; 1006 for timeouts, which are never sent); `kind` names the rule. The initiator
 * is 'remote' for peer violations, 'library' for limits and timeouts, 'local' for misuse
 * of the API.
 */
export class WebSocketError extends ProtocolError {
  readonly kind: WebSocketErrorKind;

  constructor(kind: WebSocketErrorKind, message: string, wireCode?: number) {
    const [code, close] = WebSocketErrorCodes[kind];
    const initiator: Initiator = LIBRARY_KINDS.has(kind)
      ? 'library'
      : LOCAL_KINDS.has(kind)
        ? 'local'
        : 'remote';
    super(code, message, wireCode ?? close, initiator);
    this.kind = kind;
  }
}
