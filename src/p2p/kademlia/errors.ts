/**
 * Kademlia / Mainline DHT errors (STYLE §5): a KRPC error carries its BEP 5 / BEP 44 code
 * (201-207, 301, 302) as `wireCode`, the code we answer with or were answered with.
 */
import { GhostnetError, ProtocolError } from '../../errors.js';
import type { Initiator } from '../../errors.js';

/** Input that is not canonical, strict bencode (or exceeds the decoder's bounds). */
export class BencodeError extends GhostnetError {
  /** Offset in the input where decoding failed. */
  readonly offset: number;

  constructor(message: string, offset: number) {
    super('GN_ERR_BENCODE', `${message} (at byte ${offset})`);
    this.offset = offset;
  }
}

/** A KRPC error: received in an `e` message, or raised to be answered with one. */
export class KrpcError extends ProtocolError {
  constructor(wireCode: number, message: string, initiator: Initiator = 'remote') {
    super(`GN_ERR_KRPC_${wireCode}`, message, wireCode, initiator);
  }
}
