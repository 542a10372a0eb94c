/**
 * Gossip (memberlist / Serf) errors (STYLE §5). memberlist has no error codes on the wire
 * (a stream may carry an `errResp` string); our codes say what was wrong with the input so
 * a binding can count and log it. A malformed packet is dropped, never answered.
 */
import { GhostnetError } from '../../errors.js';

export const GossipErrorCodes = {
  /** A message body is not the msgpack memberlist sends (wrong types, missing fields). */
  MALFORMED: 'GN_ERR_GOSSIP_MALFORMED',
  /** A message type byte we do not know. */
  UNKNOWN_TYPE: 'GN_ERR_GOSSIP_UNKNOWN_TYPE',
  /** A packet or stream is larger, or nests deeper, than our limits allow. */
  TOO_LARGE: 'GN_ERR_GOSSIP_TOO_LARGE',
  /** The label header does not match ours (memberlist drops such packets). */
  LABEL_MISMATCH: 'GN_ERR_GOSSIP_LABEL',
  /** A CRC-wrapped packet whose CRC-32 does not match. */
  BAD_CHECKSUM: 'GN_ERR_GOSSIP_CHECKSUM',
  /** Encryption is configured but the input was not encrypted (or the reverse). */
  ENCRYPTION_MISMATCH: 'GN_ERR_GOSSIP_ENCRYPTION',
  /** A remote stream answered with an errResp message. */
  REMOTE_ERROR: 'GN_ERR_GOSSIP_REMOTE',
  /** Protocol versions of a remote cluster that we cannot speak. */
  INCOMPATIBLE: 'GN_ERR_GOSSIP_INCOMPATIBLE',
} as const;

export type GossipErrorCode = (typeof GossipErrorCodes)[keyof typeof GossipErrorCodes];

/** Bad gossip input: a packet or stream we drop (the code says why). */
export class GossipError extends GhostnetError {
  constructor(code: GossipErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** Shorthand for a MALFORMED error. */
export function malformed(message: string, cause?: unknown): GossipError {
  return new GossipError(
    GossipErrorCodes.MALFORMED,
    message,
    cause === undefined ? undefined : { cause },
  );
}
