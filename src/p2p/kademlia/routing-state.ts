/**
 * The saved routing table (BEP 5: "the routing table should be saved between invocations
 * of the software"), as pure functions: the node binding reads and writes the file.
 *
 * Format, version 1: UTF-8 JSON text, one object, no other keys allowed.
 * ```json
 * {
 *   "version": 1,
 *   "id": "<our node id: 40 hex digits>",
 *   "savedAt": 1700000000000,
 *   "nodes": [
 *     { "id": "<40 hex digits>", "address": "203.0.113.7", "port": 6881 },
 *     { "id": "<40 hex digits>", "address": "2001:db8::7", "port": 6881 }
 *   ]
 * }
 * ```
 * - `savedAt`: ms since the epoch when saved (non-negative integer).
 * - `nodes[].address`: an IPv4 dotted quad (no leading zeros) or an IPv6 address (RFC 4291
 *   text form, no zone id); the contact's family follows from it, so IPv4 and IPv6 tables
 *   (BEP 32) can share one file. `port`: 1-65535.
 * - No node may repeat an id or carry our own id; at most `maxNodes` nodes.
 *
 * Restored nodes are unverified: insert them with `table.heard(contact, now, 'query')`, so
 * they stay questionable until they answer (the table hands them out to be pinged), then
 * run the BEP 5 self lookup.
 */
import { GhostnetError, InvalidOptionError } from '../../errors.js';
import { idEquals, idToHex, isId } from './id.js';
import type { NodeId } from './id.js';
import type { Contact } from './bucket.js';

export const ROUTING_STATE_VERSION = 1;

export interface RoutingState {
  /** Our own node id. */
  readonly id: NodeId;
  readonly contacts: readonly Contact[];
  /** When it was saved, ms since the epoch. */
  readonly savedAt: number;
}

export interface RoutingStateLimits {
  /**
   * Most nodes in a file. A full table holds at most 160 × k (1280) per family.
   * @default 10_000
   */
  maxNodes?: number;
  /**
   * Largest file accepted by `parseRoutingState` (10,000 nodes take about 1 MiB).
   * @default 4 MiB
   */
  maxBytes?: number;
}

const DEFAULT_LIMITS: Required<RoutingStateLimits> = {
  maxNodes: 10_000,
  maxBytes: 4 * 1024 * 1024,
};

export type RoutingStateErrorReason =
  | 'too-large'
  | 'encoding'
  | 'json'
  | 'shape'
  | 'version'
  | 'id'
  | 'saved-at'
  | 'too-many-nodes'
  | 'node';

/** A saved routing state that cannot be used; `reason` says which check failed. */
export class RoutingStateError extends GhostnetError {
  readonly reason: RoutingStateErrorReason;

  constructor(reason: RoutingStateErrorReason, message: string, options?: { cause?: unknown }) {
    super('GN_ERR_DHT_ROUTING_STATE', message, options);
    this.reason = reason;
  }
}

/** Encodes a routing state. Throws InvalidOptionError on contacts that could not be parsed back. */
export function serializeRoutingState(
  state: RoutingState,
  limits: RoutingStateLimits = {},
): Uint8Array {
  const { maxNodes } = mergeLimits(limits);
  if (!isId(state.id)) throw new InvalidOptionError('id must be a 20-byte node id');
  if (!validSavedAt(state.savedAt)) {
    throw new InvalidOptionError(`savedAt must be a non-negative integer, got ${state.savedAt}`);
  }
  if (state.contacts.length > maxNodes) {
    throw new InvalidOptionError(
      `${state.contacts.length} contacts exceed maxNodes (${maxNodes}); save fewer or raise it`,
    );
  }
  const seen = new Set<string>([idToHex(state.id)]);
  const nodes = state.contacts.map((c, i) => {
    const problem = contactProblem(c.id, c.address, c.port);
    if (problem !== undefined) throw new InvalidOptionError(`contacts[${i}]: ${problem}`);
    const id = idToHex(c.id);
    if (seen.has(id)) throw new InvalidOptionError(`contacts[${i}]: duplicate or own id ${id}`);
    seen.add(id);
    return { id, address: c.address, port: c.port };
  });
  const doc = {
    version: ROUTING_STATE_VERSION,
    id: idToHex(state.id),
    savedAt: state.savedAt,
    nodes,
  };
  return new TextEncoder().encode(JSON.stringify(doc));
}

/** Decodes and validates a routing state; any defect throws a RoutingStateError. */
export function parseRoutingState(
  bytes: Uint8Array,
  limits: RoutingStateLimits = {},
): RoutingState {
  const { maxNodes, maxBytes } = mergeLimits(limits);
  if (bytes.length > maxBytes) {
    throw new RoutingStateError(
      'too-large',
      `routing state is ${bytes.length} bytes, over ${maxBytes}`,
    );
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (err) {
    throw new RoutingStateError('encoding', 'routing state is not valid UTF-8', { cause: err });
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new RoutingStateError('json', 'routing state is not valid JSON', { cause: err });
  }
  if (!isPlainObject(doc))
    throw new RoutingStateError('shape', 'routing state must be a JSON object');
  checkKeys(doc, ['version', 'id', 'savedAt', 'nodes'], 'routing state');
  if (doc.version !== ROUTING_STATE_VERSION) {
    throw new RoutingStateError(
      'version',
      `unsupported routing state version ${JSON.stringify(doc.version)}, expected ${ROUTING_STATE_VERSION}`,
    );
  }
  const id = hexId(doc.id);
  if (id === undefined) throw new RoutingStateError('id', 'id must be 40 hex digits');
  if (!validSavedAt(doc.savedAt)) {
    throw new RoutingStateError('saved-at', 'savedAt must be a non-negative integer');
  }
  const savedAt = doc.savedAt;
  if (!Array.isArray(doc.nodes)) throw new RoutingStateError('shape', 'nodes must be an array');
  if (doc.nodes.length > maxNodes) {
    throw new RoutingStateError(
      'too-many-nodes',
      `routing state holds ${doc.nodes.length} nodes, over maxNodes (${maxNodes})`,
    );
  }
  const seen = new Set<string>([idToHex(id)]);
  const contacts: Contact[] = [];
  for (let i = 0; i < doc.nodes.length; i++) {
    const node: unknown = doc.nodes[i];
    if (!isPlainObject(node)) throw new RoutingStateError('node', `nodes[${i}] must be an object`);
    checkKeys(node, ['id', 'address', 'port'], `nodes[${i}]`, 'node');
    const nodeId = hexId(node.id);
    const problem =
      nodeId === undefined
        ? 'id must be 40 hex digits'
        : contactProblem(nodeId, node.address, node.port);
    if (problem !== undefined) throw new RoutingStateError('node', `nodes[${i}]: ${problem}`);
    const key = idToHex(nodeId!);
    if (seen.has(key)) {
      throw new RoutingStateError(
        'node',
        `nodes[${i}]: ${idEquals(nodeId!, id) ? 'our own' : 'duplicate'} id`,
      );
    }
    seen.add(key);
    const address = node.address as string;
    contacts.push(
      Object.freeze({
        id: nodeId!,
        address,
        port: node.port as number,
        family: isIPv4(address) ? 'IPv4' : 'IPv6',
      }),
    );
  }
  return { id, savedAt, contacts };
}

/** Why a contact cannot be saved, or undefined if it can. */
function contactProblem(id: unknown, address: unknown, port: unknown): string | undefined {
  if (!isId(id)) return 'id must be a 20-byte node id';
  if (typeof address !== 'string' || !(isIPv4(address) || isIPv6(address))) {
    return `address must be an IPv4 or IPv6 address, got ${JSON.stringify(address)}`;
  }
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 0xffff) {
    return `port must be an integer from 1 to 65535, got ${JSON.stringify(port)}`;
  }
  return undefined;
}

function mergeLimits(limits: RoutingStateLimits): Required<RoutingStateLimits> {
  const maxNodes = limits.maxNodes ?? DEFAULT_LIMITS.maxNodes;
  const maxBytes = limits.maxBytes ?? DEFAULT_LIMITS.maxBytes;
  if (!Number.isInteger(maxNodes) || maxNodes < 0 || maxNodes > 1_000_000) {
    throw new InvalidOptionError(
      `maxNodes must be an integer from 0 to 1,000,000, got ${maxNodes}`,
    );
  }
  if (!Number.isInteger(maxBytes) || maxBytes < 0 || maxBytes > 256 * 1024 * 1024) {
    throw new InvalidOptionError(`maxBytes must be an integer from 0 to 256 MiB, got ${maxBytes}`);
  }
  return { maxNodes, maxBytes };
}

function validSavedAt(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

function hexId(x: unknown): NodeId | undefined {
  if (typeof x !== 'string' || !/^[0-9a-fA-F]{40}$/.test(x)) return undefined;
  return Uint8Array.from(Buffer.from(x, 'hex'));
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function checkKeys(
  o: Record<string, unknown>,
  allowed: readonly string[],
  where: string,
  reason: RoutingStateErrorReason = 'shape',
): void {
  for (const key of Object.keys(o)) {
    if (!allowed.includes(key)) {
      throw new RoutingStateError(reason, `${where}: unknown key ${JSON.stringify(key)}`);
    }
  }
}

const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

/** Dotted quad, four decimal octets 0-255 without leading zeros. */
export function isIPv4(s: string): boolean {
  return s.length <= 15 && IPV4.test(s);
}

/** RFC 4291 §2.2 text forms: eight groups, `::` once, optional dotted-quad tail; no zone. */
export function isIPv6(s: string): boolean {
  if (s.length < 2 || s.length > 45) return false;
  let text = s;
  const lastColon = s.lastIndexOf(':');
  if (lastColon < 0) return false;
  const tail = s.slice(lastColon + 1);
  if (tail.includes('.')) {
    if (!isIPv4(tail)) return false;
    // The dotted quad stands for two groups.
    text = `${s.slice(0, lastColon + 1)}0:0`;
  }
  const gap = text.indexOf('::');
  if (gap < 0) {
    const groups = text.split(':');
    return groups.length === 8 && groups.every((g) => HEX_GROUP.test(g));
  }
  if (text.indexOf('::', gap + 1) >= 0) return false;
  const left = text.slice(0, gap);
  const right = text.slice(gap + 2);
  const groups = [...(left ? left.split(':') : []), ...(right ? right.split(':') : [])];
  return groups.length <= 7 && groups.every((g) => HEX_GROUP.test(g));
}
