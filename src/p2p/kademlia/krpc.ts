/**
 * KRPC (BEP 5): the bencoded query / response / error messages of the Mainline DHT, with
 * BEP 43's read-only flag (`ro`), BEP 42's `ip` field and the client version `v`.
 *
 *   query    { t, y: "q", q: method, a: { id, ... }, v?, ro? }
 *   response { t, y: "r", r: { id, ... }, v?, ip? }
 *   error    { t, y: "e", e: [code, message], v? }
 *
 * `parseMessage` never throws: a message it cannot use yields `{ type: 'invalid' }` with the
 * KRPC error to answer (203, or 204 for an unknown method) when it has a transaction id.
 */
import { decode, encodePooled } from './bencode.js';
import type { BDict, BValue } from './bencode.js';
import { KrpcErrorCode } from './codes.js';
import { decodePeer, encodePeer } from './compact.js';
import type { PeerInfo } from './compact.js';
import { KrpcError } from './errors.js';
import { isId } from './id.js';
import type { NodeId } from './id.js';

/** The methods of BEP 5 and BEP 44. */
export const METHODS = new Set(['ping', 'find_node', 'get_peers', 'announce_peer', 'get', 'put']);

export interface KrpcQuery {
  type: 'query';
  t: Uint8Array;
  method: string;
  /** The querying node's id (`a.id`). */
  id: NodeId;
  args: BDict;
  /** BEP 43: the sender is read-only; do not add it to the routing table. */
  readOnly: boolean;
  version: Uint8Array | undefined;
}

export interface KrpcResponse {
  type: 'response';
  t: Uint8Array;
  id: NodeId;
  values: BDict;
  /** BEP 42: our address as the responder saw it. */
  ip: PeerInfo | undefined;
  version: Uint8Array | undefined;
}

export interface KrpcErrorReply {
  type: 'error';
  t: Uint8Array;
  code: number;
  message: string;
  version: Uint8Array | undefined;
}

export interface KrpcInvalid {
  type: 'invalid';
  /** The transaction id, when the message had one: then `error` is answered. */
  t: Uint8Array | undefined;
  /** Set when the message was a query (only queries get an error reply). */
  isQuery: boolean;
  error: KrpcError;
}

export type KrpcMessage = KrpcQuery | KrpcResponse | KrpcErrorReply | KrpcInvalid;

const text = new TextDecoder();

function bytes(v: BValue | undefined): Uint8Array | undefined {
  return v instanceof Uint8Array ? v : undefined;
}

function dict(v: BValue | undefined): BDict | undefined {
  return v !== undefined && typeof v === 'object' && !(v instanceof Uint8Array) && !Array.isArray(v)
    ? (v as BDict)
    : undefined;
}

function invalid(
  t: Uint8Array | undefined,
  isQuery: boolean,
  code: number,
  message: string,
): KrpcInvalid {
  return { type: 'invalid', t, isQuery, error: new KrpcError(code, message) };
}

/** Parses one datagram. */
export function parseMessage(data: Uint8Array): KrpcMessage {
  let root: BValue;
  try {
    root = decode(data);
  } catch (err) {
    return invalid(
      undefined,
      false,
      KrpcErrorCode.PROTOCOL,
      `not bencode: ${(err as Error).message}`,
    );
  }
  const m = dict(root);
  if (m === undefined) return invalid(undefined, false, KrpcErrorCode.PROTOCOL, 'not a dictionary');
  const t = bytes(m.t);
  const y = bytes(m.y);
  const version = bytes(m.v);
  if (t === undefined)
    return invalid(undefined, false, KrpcErrorCode.PROTOCOL, 'no transaction id');
  const kind = y !== undefined && y.length === 1 ? String.fromCharCode(y[0]!) : '';
  if (kind === 'q') {
    const q = bytes(m.q);
    const a = dict(m.a);
    if (q === undefined || a === undefined) {
      return invalid(t, true, KrpcErrorCode.PROTOCOL, 'query without q or a');
    }
    const id = a.id;
    if (!isId(id)) return invalid(t, true, KrpcErrorCode.PROTOCOL, 'query without a 20-byte id');
    const method = text.decode(q);
    if (!METHODS.has(method)) {
      return invalid(
        t,
        true,
        KrpcErrorCode.METHOD_UNKNOWN,
        `method unknown: ${method.slice(0, 32)}`,
      );
    }
    return { type: 'query', t, method, id, args: a, readOnly: m.ro === 1, version };
  }
  if (kind === 'r') {
    const r = dict(m.r);
    if (r === undefined || !isId(r.id)) {
      return invalid(t, false, KrpcErrorCode.PROTOCOL, 'response without a 20-byte id');
    }
    const ipBytes = bytes(m.ip);
    return {
      type: 'response',
      t,
      id: r.id,
      values: r,
      ip: ipBytes === undefined ? undefined : decodePeer(ipBytes),
      version,
    };
  }
  if (kind === 'e') {
    const e = m.e;
    if (!Array.isArray(e) || typeof e[0] !== 'number') {
      return invalid(t, false, KrpcErrorCode.PROTOCOL, 'error without [code, message]');
    }
    const msg = bytes(e[1]);
    return {
      type: 'error',
      t,
      code: e[0],
      message: msg === undefined ? '' : text.decode(msg),
      version,
    };
  }
  return invalid(t, false, KrpcErrorCode.PROTOCOL, 'y is not q, r or e');
}

export interface EncodeOptions {
  /** Client version (BEP 5 `v`): 2 letters of client id and 2 of version. */
  version?: Uint8Array;
}

export function encodeQuery(
  t: Uint8Array,
  method: string,
  args: BDict,
  options: EncodeOptions & { readOnly?: boolean } = {},
): Uint8Array {
  const m: BDict = { t, y: 'q', q: method, a: args };
  if (options.version !== undefined) m.v = options.version;
  if (options.readOnly === true) m.ro = 1;
  return encodePooled(m);
}

export function encodeResponse(
  t: Uint8Array,
  values: BDict,
  options: EncodeOptions & { ip?: { address: string; port: number } } = {},
): Uint8Array {
  const m: BDict = { t, y: 'r', r: values };
  if (options.version !== undefined) m.v = options.version;
  if (options.ip !== undefined) {
    const ip = encodePeer(options.ip.address, options.ip.port);
    if (ip !== undefined) m.ip = ip;
  }
  return encodePooled(m);
}

export function encodeError(
  t: Uint8Array,
  code: number,
  message: string,
  options: EncodeOptions = {},
): Uint8Array {
  const m: BDict = { t, y: 'e', e: [code, message] };
  if (options.version !== undefined) m.v = options.version;
  return encodePooled(m);
}
