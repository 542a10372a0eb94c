/**
 * HTTP/2 registries (RFC 9113 §11), mirroring IANA's "HTTP/2 Frame Type", "HTTP/2
 * Settings" and "HTTP/2 Error Code" registries (STYLE §5).
 */

/** Error codes (RFC 9113 §7). Unknown codes received MUST NOT trigger special behavior. */
export const ErrorCode = {
  NO_ERROR: 0x0,
  PROTOCOL_ERROR: 0x1,
  INTERNAL_ERROR: 0x2,
  FLOW_CONTROL_ERROR: 0x3,
  SETTINGS_TIMEOUT: 0x4,
  STREAM_CLOSED: 0x5,
  FRAME_SIZE_ERROR: 0x6,
  REFUSED_STREAM: 0x7,
  CANCEL: 0x8,
  COMPRESSION_ERROR: 0x9,
  CONNECT_ERROR: 0xa,
  ENHANCE_YOUR_CALM: 0xb,
  INADEQUATE_SECURITY: 0xc,
  HTTP_1_1_REQUIRED: 0xd,
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

const ERROR_NAMES: readonly string[] = Object.keys(ErrorCode);

/** `PROTOCOL_ERROR` for 0x1; `0x1f` for codes outside the registry. */
export function errorCodeName(code: number): string {
  return ERROR_NAMES[code] ?? `0x${code.toString(16)}`;
}

/** Frame types (RFC 9113 §6, RFC 9218 §7.1 PRIORITY_UPDATE). */
export const FrameType = {
  DATA: 0x0,
  HEADERS: 0x1,
  PRIORITY: 0x2,
  RST_STREAM: 0x3,
  SETTINGS: 0x4,
  PUSH_PROMISE: 0x5,
  PING: 0x6,
  GOAWAY: 0x7,
  WINDOW_UPDATE: 0x8,
  CONTINUATION: 0x9,
  PRIORITY_UPDATE: 0x10,
} as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

/** Frame flags (RFC 9113 §6). The same bit means different things per frame type. */
export const Flag = {
  END_STREAM: 0x1,
  ACK: 0x1,
  END_HEADERS: 0x4,
  PADDED: 0x8,
  PRIORITY: 0x20,
} as const;

/** SETTINGS parameters (RFC 9113 §6.5.2, RFC 8441 §3, RFC 9218 §2.1). */
export const SettingId = {
  HEADER_TABLE_SIZE: 0x1,
  ENABLE_PUSH: 0x2,
  MAX_CONCURRENT_STREAMS: 0x3,
  INITIAL_WINDOW_SIZE: 0x4,
  MAX_FRAME_SIZE: 0x5,
  MAX_HEADER_LIST_SIZE: 0x6,
  ENABLE_CONNECT_PROTOCOL: 0x8,
  NO_RFC7540_PRIORITIES: 0x9,
} as const;
export type SettingId = (typeof SettingId)[keyof typeof SettingId];

/** The client connection preface (RFC 9113 §3.4): "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n". */
export const CLIENT_PREFACE = new Uint8Array([
  0x50, 0x52, 0x49, 0x20, 0x2a, 0x20, 0x48, 0x54, 0x54, 0x50, 0x2f, 0x32, 0x2e, 0x30, 0x0d, 0x0a,
  0x0d, 0x0a, 0x53, 0x4d, 0x0d, 0x0a, 0x0d, 0x0a,
]);

/** RFC 9113 §4.2: the frame header is 9 octets. */
export const FRAME_HEADER_LENGTH = 9;
/** RFC 9113 §4.2: SETTINGS_MAX_FRAME_SIZE starts at 2^14 and may not go below it. */
export const DEFAULT_MAX_FRAME_SIZE = 16384;
/** RFC 9113 §6.5.2: the largest SETTINGS_MAX_FRAME_SIZE, 2^24-1. */
export const MAX_MAX_FRAME_SIZE = 16777215;
/** RFC 9113 §6.9.1: windows start at 65,535 octets. */
export const DEFAULT_WINDOW_SIZE = 65535;
/** RFC 9113 §6.9.1: a flow-control window may not exceed 2^31-1. */
export const MAX_WINDOW_SIZE = 2147483647;
/** RFC 9113 §5.1.1: stream identifiers are 31 bits. */
export const MAX_STREAM_ID = 2147483647;
/** RFC 7541 §4.2 / RFC 9113 §6.5.2: SETTINGS_HEADER_TABLE_SIZE starts at 4,096. */
export const DEFAULT_HEADER_TABLE_SIZE = 4096;
