/**
 * WebSocket registries (RFC 6455 §11.7 close codes, §11.8 opcodes), mirroring the IANA
 * "WebSocket Close Code Number Registry" and "WebSocket Opcode Registry" (STYLE §5).
 */

/** Close status codes (RFC 6455 §7.4.1 and the IANA registry). */
export const CloseCode = {
  /** The purpose for which the connection was established has been fulfilled. */
  NORMAL_CLOSURE: 1000,
  /** An endpoint is going away (server shutdown, page navigation). */
  GOING_AWAY: 1001,
  /** An endpoint received a frame that breaks the protocol. */
  PROTOCOL_ERROR: 1002,
  /** An endpoint received a data type it cannot accept. */
  UNSUPPORTED_DATA: 1003,
  /** Reserved; meaning may be defined in the future. Never on the wire. */
  RESERVED: 1004,
  /** No status code was present in the Close frame. Never on the wire (§7.4.1). */
  NO_STATUS_RECEIVED: 1005,
  /** The connection closed without a Close frame. Never on the wire (§7.4.1). */
  ABNORMAL_CLOSURE: 1006,
  /** A message's data was not consistent with its type (e.g. invalid UTF-8 text). */
  INVALID_FRAME_PAYLOAD_DATA: 1007,
  /** A message violates the endpoint's policy. */
  POLICY_VIOLATION: 1008,
  /** A message is too big to process. */
  MESSAGE_TOO_BIG: 1009,
  /** The client expected the server to negotiate an extension. */
  MANDATORY_EXTENSION: 1010,
  /** The server met an unexpected condition. */
  INTERNAL_ERROR: 1011,
  /** The service is restarting (IANA registry). */
  SERVICE_RESTART: 1012,
  /** Try again later (IANA registry). */
  TRY_AGAIN_LATER: 1013,
  /** A gateway received an invalid response upstream (IANA registry). */
  BAD_GATEWAY: 1014,
  /** The TLS handshake failed. Never on the wire (§7.4.1). */
  TLS_HANDSHAKE: 1015,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/** Frame opcodes (RFC 6455 §5.2, §11.8). 3-7 and 11-15 are reserved. */
export const Opcode = {
  CONTINUATION: 0x0,
  TEXT: 0x1,
  BINARY: 0x2,
  CLOSE: 0x8,
  PING: 0x9,
  PONG: 0xa,
} as const;
export type Opcode = (typeof Opcode)[keyof typeof Opcode];

/**
 * May this code appear in a Close frame on the wire? 1000-1003 and 1007-1014 are
 * registered codes an endpoint may send; 3000-3999 are IANA-registered for libraries and
 * 4000-4999 are private use (RFC 6455 §7.4.2). 1004-1006 and 1015 MUST NOT be sent
 * (§7.4.1), 0-999 are unused and 1016-2999 are reserved for future RFCs (§7.4.2), so a
 * received frame carrying one is a protocol error.
 */
export function isValidCloseCode(code: number): boolean {
  if (code >= 1000 && code <= 1014) return code < 1004 || code > 1006;
  return code >= 3000 && code <= 4999;
}
