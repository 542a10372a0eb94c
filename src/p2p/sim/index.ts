/**
 * p2p/sim: a deterministic discrete-event datagram network for running sans-I/O cores
 * (Kademlia, SWIM, STUN/ICE) by the thousand in one process (DESIGN §5).
 */
export { SimClock, SIM_CLOCK_DEFAULTS } from './clock.js';
export type { SimClockOptions, SimTimer } from './clock.js';
export { Rng } from './rng.js';
export type { RngSeed } from './rng.js';
export { DeadlineTimer, realTimers } from './timers.js';
export type { Timers } from './timers.js';
export {
  constantLatency,
  uniformLatency,
  pairwiseLatency,
  PAIRWISE_LATENCY_DEFAULTS,
} from './latency.js';
export type { LatencyModel, LinkEnd, PairwiseLatencyOptions } from './latency.js';
export { SimNode } from './node.js';
export type { SimCore, SimDatagram, SimNodeStats } from './node.js';
export { SimNetwork, SIM_NETWORK_DEFAULTS } from './network.js';
export type {
  SimDropReason,
  SimDropStats,
  SimNetworkOptions,
  SimNetworkStats,
  SimNodeContext,
  SimNodeOptions,
  SimNodeRef,
  SimPartition,
  SimTraceRecord,
} from './network.js';
export { SimDatagramEndpoint } from './endpoint.js';
export { SimNat } from './nat.js';
export type { SimNatOptions, SimNatStats, SimNatType } from './nat.js';
export { SimStateError } from './errors.js';
