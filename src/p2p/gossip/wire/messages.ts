/**
 * memberlist's messages (net.go), protocol versions 1-5: a type byte, then one msgpack
 * struct. Field names, order and `omitempty` follow the Go structs so our bytes are the
 * bytes memberlist writes; decoding is as lenient as go-codec (missing fields are zero,
 * unknown fields skipped) but bounded.
 */
import { malformed } from '../errors.js';
import { asStruct, decodeValue, GoWriter } from './msgpack.js';
import type { StructReader } from './msgpack.js';

/** memberlist's message types (net.go `messageType`; append-only on the wire). */
export const MessageType = {
  Ping: 0,
  IndirectPing: 1,
  Ack: 2,
  Suspect: 3,
  Alive: 4,
  Dead: 5,
  PushPull: 6,
  Compound: 7,
  User: 8,
  Compress: 9,
  Encrypt: 10,
  Nack: 11,
  HasCrc: 12,
  Err: 13,
  /** The label header's first byte (deliberately far from the others). */
  HasLabel: 244,
} as const;

/** memberlist's `NodeStateType`. */
export const NodeState = { Alive: 0, Suspect: 1, Dead: 2, Left: 3 } as const;
export type NodeStateValue = (typeof NodeState)[keyof typeof NodeState];

/** memberlist's `MetaMaxSize`: node metadata is at most 512 bytes. */
export const META_MAX_SIZE = 512;
/** memberlist's `maxPushStateNodes`; we default to far fewer (see GossipOptions). */
export const MAX_PUSH_STATE_NODES = 1024 * 1024;
/** memberlist's `maxPushStateBytes` and `maxUserMsgBytes`. */
export const MAX_PUSH_STATE_BYTES = 20 * 1024 * 1024;

const U32 = 0xffffffff;
const U16 = 0xffff;
const NAME_MAX = 512;

export interface Ping {
  seqNo: number;
  /** The name of the node we mean to ping ('' skips the check). */
  node: string;
  sourceAddr?: Uint8Array;
  sourcePort?: number;
  sourceNode?: string;
}

export interface IndirectPing {
  seqNo: number;
  target: Uint8Array;
  port: number;
  node: string;
  /** The requester wants a nack if the target does not answer (protocol ≥ 4). */
  nack: boolean;
  sourceAddr?: Uint8Array;
  sourcePort?: number;
  sourceNode?: string;
}

export interface Ack {
  seqNo: number;
  payload: Uint8Array;
}

export interface Nack {
  seqNo: number;
}

export interface ErrResp {
  error: string;
}

export interface Suspect {
  incarnation: number;
  node: string;
  from: string;
}

export interface Alive {
  incarnation: number;
  node: string;
  addr: Uint8Array;
  port: number;
  meta: Uint8Array;
  /** pmin, pmax, pcur, dmin, dmax, dcur. */
  vsn: Uint8Array;
}

export interface Dead {
  incarnation: number;
  node: string;
  from: string;
}

export interface PushPullHeader {
  nodes: number;
  userStateLen: number;
  join: boolean;
}

export interface PushNodeState {
  name: string;
  addr: Uint8Array;
  port: number;
  meta: Uint8Array;
  incarnation: number;
  state: number;
  vsn: Uint8Array;
}

export interface UserMsgHeader {
  userMsgLen: number;
}

function start(type: number): GoWriter {
  return new GoWriter().byte(type);
}

function writeSource(
  w: GoWriter,
  m: { sourceAddr?: Uint8Array; sourcePort?: number; sourceNode?: string },
): void {
  if (m.sourceAddr !== undefined && m.sourceAddr.length > 0) w.key('SourceAddr').raw(m.sourceAddr);
  if (m.sourcePort !== undefined && m.sourcePort > 0) w.key('SourcePort').uint(m.sourcePort);
  if (m.sourceNode !== undefined && m.sourceNode !== '') w.key('SourceNode').str(m.sourceNode);
}

function sourceCount(m: { sourceAddr?: Uint8Array; sourcePort?: number; sourceNode?: string }) {
  return (
    (m.sourceAddr !== undefined && m.sourceAddr.length > 0 ? 1 : 0) +
    (m.sourcePort !== undefined && m.sourcePort > 0 ? 1 : 0) +
    (m.sourceNode !== undefined && m.sourceNode !== '' ? 1 : 0)
  );
}

export function encodePing(m: Ping): Uint8Array {
  const w = start(MessageType.Ping).map(2 + sourceCount(m));
  w.key('SeqNo').uint(m.seqNo).key('Node').str(m.node);
  writeSource(w, m);
  return w.finish();
}

export function encodeIndirectPing(m: IndirectPing): Uint8Array {
  const w = start(MessageType.IndirectPing).map(5 + sourceCount(m));
  w.key('SeqNo').uint(m.seqNo).key('Target').slice(m.target).key('Port').uint(m.port);
  w.key('Node').str(m.node).key('Nack').bool(m.nack);
  writeSource(w, m);
  return w.finish();
}

export function encodeAck(m: Ack): Uint8Array {
  return start(MessageType.Ack)
    .map(2)
    .key('SeqNo')
    .uint(m.seqNo)
    .key('Payload')
    .slice(m.payload)
    .finish();
}

export function encodeNack(m: Nack): Uint8Array {
  return start(MessageType.Nack).map(1).key('SeqNo').uint(m.seqNo).finish();
}

export function encodeErr(m: ErrResp): Uint8Array {
  return start(MessageType.Err).map(1).key('Error').str(m.error).finish();
}

export function encodeSuspect(m: Suspect): Uint8Array {
  return start(MessageType.Suspect)
    .map(3)
    .key('Incarnation')
    .uint(m.incarnation)
    .key('Node')
    .str(m.node)
    .key('From')
    .str(m.from)
    .finish();
}

export function encodeDead(m: Dead): Uint8Array {
  return start(MessageType.Dead)
    .map(3)
    .key('Incarnation')
    .uint(m.incarnation)
    .key('Node')
    .str(m.node)
    .key('From')
    .str(m.from)
    .finish();
}

export function encodeAlive(m: Alive): Uint8Array {
  const w = start(MessageType.Alive).map(6);
  w.key('Incarnation').uint(m.incarnation).key('Node').str(m.node);
  w.key('Addr').slice(m.addr).key('Port').uint(m.port);
  w.key('Meta').slice(m.meta).key('Vsn').slice(m.vsn);
  return w.finish();
}

/** The push-pull header, without a type byte (it follows `[pushPullMsg]` on a stream). */
export function encodePushPullHeader(w: GoWriter, m: PushPullHeader): void {
  // Nodes and UserStateLen are Go ints: go-codec writes them signed (d1/d2 past 127).
  w.map(3).key('Nodes').int(m.nodes).key('UserStateLen').int(m.userStateLen);
  w.key('Join').bool(m.join);
}

export function encodePushNodeState(w: GoWriter, m: PushNodeState): void {
  w.map(7).key('Name').str(m.name).key('Addr').slice(m.addr).key('Port').uint(m.port);
  w.key('Meta').slice(m.meta).key('Incarnation').uint(m.incarnation).key('State').uint(m.state);
  w.key('Vsn').slice(m.vsn);
}

/** A whole push-pull stream message: type byte, header, node states, user state. */
export function encodePushPull(
  nodes: readonly PushNodeState[],
  userState: Uint8Array,
  join: boolean,
): Uint8Array {
  const w = new GoWriter().byte(MessageType.PushPull);
  encodePushPullHeader(w, { nodes: nodes.length, userStateLen: userState.length, join });
  for (const n of nodes) encodePushNodeState(w, n);
  w.bytes(userState);
  return w.finish();
}

/** A whole user stream message: type byte, header, the user bytes. */
export function encodeUserStream(msg: Uint8Array): Uint8Array {
  return new GoWriter()
    .byte(MessageType.User)
    .map(1)
    .key('UserMsgLen')
    .int(msg.length) // a Go int
    .bytes(msg)
    .finish();
}

// ---- decoding -------------------------------------------------------------------------

function struct(body: Uint8Array, what: string, fields: readonly string[]): StructReader {
  return asStruct(decodeValue(body, { maxBytes: 1 << 16, maxItems: 64 }), what, fields);
}

function name(r: StructReader, field: string): string {
  const s = r.string(field);
  if (s.length > NAME_MAX) throw malformed(`${r.what}.${field} is longer than ${NAME_MAX}`);
  return s;
}

function address(r: StructReader, field: string): Uint8Array {
  const a = r.bytes(field);
  if (a.length !== 0 && a.length !== 4 && a.length !== 16) {
    throw malformed(`${r.what}.${field} is not an IPv4 or IPv6 address (${a.length} bytes)`);
  }
  return a;
}

function source(r: StructReader): {
  sourceAddr?: Uint8Array;
  sourcePort?: number;
  sourceNode?: string;
} {
  const out: { sourceAddr?: Uint8Array; sourcePort?: number; sourceNode?: string } = {};
  const addr = address(r, 'SourceAddr');
  if (addr.length > 0) out.sourceAddr = addr;
  const port = r.uint('SourcePort', U16);
  if (port > 0) out.sourcePort = port;
  const node = name(r, 'SourceNode');
  if (node !== '') out.sourceNode = node;
  return out;
}

const PING_FIELDS = ['SeqNo', 'Node', 'SourceAddr', 'SourcePort', 'SourceNode'];
const IND_FIELDS = [
  'SeqNo',
  'Target',
  'Port',
  'Node',
  'Nack',
  'SourceAddr',
  'SourcePort',
  'SourceNode',
];

/** Decodes a ping body (the bytes after the type byte). */
export function decodePing(body: Uint8Array): Ping {
  const r = struct(body, 'ping', PING_FIELDS);
  return { seqNo: r.uint('SeqNo', U32), node: name(r, 'Node'), ...source(r) };
}

export function decodeIndirectPing(body: Uint8Array): IndirectPing {
  const r = struct(body, 'indirectPingReq', IND_FIELDS);
  return {
    seqNo: r.uint('SeqNo', U32),
    target: address(r, 'Target'),
    port: r.uint('Port', U16),
    node: name(r, 'Node'),
    nack: r.bool('Nack'),
    ...source(r),
  };
}

export function decodeAck(body: Uint8Array): Ack {
  const r = struct(body, 'ackResp', ['SeqNo', 'Payload']);
  return { seqNo: r.uint('SeqNo', U32), payload: r.bytes('Payload') };
}

export function decodeNack(body: Uint8Array): Nack {
  return { seqNo: struct(body, 'nackResp', ['SeqNo']).uint('SeqNo', U32) };
}

export function decodeErr(body: Uint8Array): ErrResp {
  return { error: struct(body, 'errResp', ['Error']).string('Error') };
}

export function decodeSuspect(body: Uint8Array): Suspect {
  const r = struct(body, 'suspect', ['Incarnation', 'Node', 'From']);
  return { incarnation: r.uint('Incarnation', U32), node: name(r, 'Node'), from: name(r, 'From') };
}

export function decodeDead(body: Uint8Array): Dead {
  const r = struct(body, 'dead', ['Incarnation', 'Node', 'From']);
  return { incarnation: r.uint('Incarnation', U32), node: name(r, 'Node'), from: name(r, 'From') };
}

function meta(r: StructReader): Uint8Array {
  const m = r.bytes('Meta');
  if (m.length > META_MAX_SIZE) {
    throw malformed(`${r.what}.Meta is ${m.length} bytes; memberlist allows ${META_MAX_SIZE}`);
  }
  return m;
}

function vsn(r: StructReader): Uint8Array {
  const v = r.bytes('Vsn');
  if (v.length > 16) throw malformed(`${r.what}.Vsn has ${v.length} entries`);
  return v;
}

export function decodeAlive(body: Uint8Array): Alive {
  const r = struct(body, 'alive', ['Incarnation', 'Node', 'Addr', 'Port', 'Meta', 'Vsn']);
  return {
    incarnation: r.uint('Incarnation', U32),
    node: name(r, 'Node'),
    addr: address(r, 'Addr'),
    port: r.uint('Port', U16),
    meta: meta(r),
    vsn: vsn(r),
  };
}

export function decodePushPullHeader(value: Uint8Array): PushPullHeader {
  const r = struct(value, 'pushPullHeader', ['Nodes', 'UserStateLen', 'Join']);
  return {
    nodes: r.int('Nodes', MAX_PUSH_STATE_NODES),
    userStateLen: r.int('UserStateLen', MAX_PUSH_STATE_BYTES),
    join: r.bool('Join'),
  };
}

export function decodePushNodeState(value: Uint8Array): PushNodeState {
  const r = struct(value, 'pushNodeState', [
    'Name',
    'Addr',
    'Port',
    'Meta',
    'Incarnation',
    'State',
    'Vsn',
  ]);
  return {
    name: name(r, 'Name'),
    addr: address(r, 'Addr'),
    port: r.uint('Port', U16),
    meta: meta(r),
    incarnation: r.uint('Incarnation', U32),
    state: r.uint('State', 255),
    vsn: vsn(r),
  };
}

export function decodeUserMsgHeader(value: Uint8Array): UserMsgHeader {
  return {
    userMsgLen: struct(value, 'userMsgHeader', ['UserMsgLen']).int(
      'UserMsgLen',
      MAX_PUSH_STATE_BYTES,
    ),
  };
}
