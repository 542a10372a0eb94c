/**
 * ghostnet/kademlia: a Mainline DHT node (BEP 5, 32, 42, 43, 44) — the sans-I/O core, the
 * UDP binding, and the codecs (bencode, KRPC, compact node info, BEP 44 items, BEP 42 ids).
 */
export { DhtCore } from './dht.js';
export type {
  DhtComponents,
  DhtOptions,
  DhtStats,
  GotItem,
  LookupResult,
  PutResult,
} from './dht.js';
export { DhtNode, MAINLINE_ROUTERS } from './node.js';
export type { DhtNodeEvents, DhtNodeOptions } from './node.js';
export { RoutingTable } from './routing-table.js';
export type { Contact, InsertResult, NodeState, RoutingTableOptions } from './routing-table.js';
export { parseRoutingState, serializeRoutingState, RoutingStateError } from './routing-state.js';
export { decode as bdecode, encode as bencode } from './bencode.js';
export type { BDict, BValue, BencodeLimits } from './bencode.js';
export { parseMessage, encodeQuery, encodeResponse, encodeError } from './krpc.js';
export { decodeNodes, encodeNodes, decodePeer, encodePeer } from './compact.js';
export type { NodeInfo, PeerInfo } from './compact.js';
export {
  immutableTarget,
  mutableTarget,
  signMutable,
  signatureBuffer,
  verifyImmutable,
  verifyMutable,
} from './bep44.js';
export type { Ed25519, MutableItem } from './bep44.js';
export { nodeEd25519 } from './ed25519-node.js';
export { isCompliantId, nodeIdForIp } from './bep42.js';
export { idFromHex, idToHex, distance, compareDistance } from './id.js';
export type { NodeId, RandomBytes } from './id.js';
export { KrpcErrorCode } from './codes.js';
export { BencodeError, KrpcError } from './errors.js';
