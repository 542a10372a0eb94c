/**
 * KRPC error codes (BEP 5 "Errors", BEP 44 "Errors"), as a registry (STYLE §5).
 */
export const KrpcErrorCode = {
  /** BEP 5: generic error. */
  GENERIC: 201,
  /** BEP 5: server error. */
  SERVER: 202,
  /** BEP 5: protocol error (malformed packet, invalid arguments, bad token). */
  PROTOCOL: 203,
  /** BEP 5: method unknown. */
  METHOD_UNKNOWN: 204,
  /** BEP 44: message (v field) too big. */
  MESSAGE_TOO_BIG: 205,
  /** BEP 44: invalid signature. */
  INVALID_SIGNATURE: 206,
  /** BEP 44: salt (salt field) too big. */
  SALT_TOO_BIG: 207,
  /** BEP 44: the CAS hash mismatched, re-read the value and try again. */
  CAS_MISMATCH: 301,
  /** BEP 44: sequence number less than current. */
  SEQ_TOO_LOW: 302,
} as const;
export type KrpcErrorCode = (typeof KrpcErrorCode)[keyof typeof KrpcErrorCode];

/** BEP 5: node ids and infohashes are 160 bits. */
export const ID_LENGTH = 20;
/** BEP 5: compact node info is the 20-byte id then the 6-byte compact IPv4 address. */
export const COMPACT_NODE_LENGTH = 26;
/** BEP 32: the IPv6 form: 20-byte id then 16-byte address and 2-byte port. */
export const COMPACT_NODE6_LENGTH = 38;
/** BEP 5: compact peer info, 4-byte IPv4 address then 2-byte port. */
export const COMPACT_PEER_LENGTH = 6;
export const COMPACT_PEER6_LENGTH = 18;
/** BEP 44: values are at most 1000 bytes bencoded. */
export const MAX_ITEM_VALUE_LENGTH = 1000;
/** BEP 44: salts are at most 64 bytes. */
export const MAX_SALT_LENGTH = 64;
