/** HTTP/3 code points (RFC 9114 §7.2, §6.2, §7.2.4.1, §8.1; RFC 9204; RFC 9220; RFC 9297). */

/** RFC 9114 §8.1 error codes, plus H3_DATAGRAM_ERROR (RFC 9297 §5.2). */
export const H3ErrorCode = {
  H3_DATAGRAM_ERROR: 0x33,
  H3_NO_ERROR: 0x100,
  H3_GENERAL_PROTOCOL_ERROR: 0x101,
  H3_INTERNAL_ERROR: 0x102,
  H3_STREAM_CREATION_ERROR: 0x103,
  H3_CLOSED_CRITICAL_STREAM: 0x104,
  H3_FRAME_UNEXPECTED: 0x105,
  H3_FRAME_ERROR: 0x106,
  H3_EXCESSIVE_LOAD: 0x107,
  H3_ID_ERROR: 0x108,
  H3_SETTINGS_ERROR: 0x109,
  H3_MISSING_SETTINGS: 0x10a,
  H3_REQUEST_REJECTED: 0x10b,
  H3_REQUEST_CANCELLED: 0x10c,
  H3_REQUEST_INCOMPLETE: 0x10d,
  H3_MESSAGE_ERROR: 0x10e,
  H3_CONNECT_ERROR: 0x10f,
  H3_VERSION_FALLBACK: 0x110,
  QPACK_DECOMPRESSION_FAILED: 0x200,
  QPACK_ENCODER_STREAM_ERROR: 0x201,
  QPACK_DECODER_STREAM_ERROR: 0x202,
} as const;

const NAMES = new Map<number, string>(Object.entries(H3ErrorCode).map(([k, v]) => [v, k]));

/** `H3_FRAME_UNEXPECTED`, or `0x…` for codes we do not know (including grease). */
export function errorCodeName(code: number): string {
  return NAMES.get(code) ?? `0x${code.toString(16)}`;
}

/** Frame types (RFC 9114 §7.2; WEBTRANSPORT_STREAM from draft-ietf-webtrans-http3). */
export const FrameType = {
  DATA: 0x00,
  HEADERS: 0x01,
  CANCEL_PUSH: 0x03,
  SETTINGS: 0x04,
  PUSH_PROMISE: 0x05,
  GOAWAY: 0x07,
  MAX_PUSH_ID: 0x0d,
  WEBTRANSPORT_STREAM: 0x41,
} as const;

/** HTTP/2 frame types reserved in HTTP/3 (§7.2.8): receiving one is H3_FRAME_UNEXPECTED. */
export const RESERVED_H2_FRAME_TYPES: ReadonlySet<number> = new Set([0x02, 0x06, 0x08, 0x09]);

/** Unidirectional stream types (§6.2, RFC 9204 §4.2, WebTransport). */
export const StreamType = {
  CONTROL: 0x00,
  PUSH: 0x01,
  QPACK_ENCODER: 0x02,
  QPACK_DECODER: 0x03,
  WEBTRANSPORT_UNI: 0x54,
} as const;

/** Settings identifiers (§7.2.4.1, RFC 9204 §5, RFC 9220 §3, RFC 9297 §2.1.1, WebTransport). */
export const SettingId = {
  QPACK_MAX_TABLE_CAPACITY: 0x01,
  MAX_FIELD_SECTION_SIZE: 0x06,
  QPACK_BLOCKED_STREAMS: 0x07,
  ENABLE_CONNECT_PROTOCOL: 0x08,
  H3_DATAGRAM: 0x33,
  ENABLE_WEBTRANSPORT: 0x2b603742,
  WEBTRANSPORT_MAX_SESSIONS: 0xc671706a,
} as const;

/** HTTP/2 settings identifiers that MUST NOT appear in HTTP/3 SETTINGS (§7.2.4.1). */
export const RESERVED_H2_SETTINGS: ReadonlySet<number> = new Set([0x00, 0x02, 0x03, 0x04, 0x05]);

/** Reserved "grease" values 0x1f * N + 0x21 (§7.2.8, §6.2.3, §8.1). */
export function isReservedGrease(n: number): boolean {
  return n >= 0x21 && (n - 0x21) % 0x1f === 0;
}
