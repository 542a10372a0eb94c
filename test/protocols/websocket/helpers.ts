/** Shared helpers for the WebSocket core tests. */
import { expect } from 'vitest';
import { WebSocketConnection } from '../../../src/protocols/websocket/connection.js';
import type {
  WebSocketConnectionOptions,
  WebSocketRole,
  WsEvent,
} from '../../../src/protocols/websocket/connection.js';

export const hex = (s: string): Uint8Array =>
  new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
export const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
export const utf8 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'utf8'));
export const concatBytes = (parts: Uint8Array[]): Uint8Array =>
  new Uint8Array(Buffer.concat(parts.map((p) => Buffer.from(p.buffer, p.byteOffset, p.length))));

/** The masking key of the RFC 6455 §5.7 examples. */
export const RFC_KEY = hex('37fa213d');

/** A deterministic mask source: 37 fa 21 3d, then counting keys. */
export function fixedMasks(): (buf: Uint8Array) => void {
  let n = 0;
  return (buf) => {
    if (n === 0) buf.set(RFC_KEY);
    else for (let i = 0; i < 4; i++) buf[i] = (n * 31 + i * 7 + 1) & 0xff;
    n++;
  };
}

export interface FrameSpec {
  fin?: boolean;
  rsv?: number; // 0..7 as RSV1<<2 | RSV2<<1 | RSV3
  opcode: number;
  payload?: Uint8Array;
  mask?: Uint8Array | null;
  /** Force the length field encoding: 7, 16 or 64 bits. */
  lengthBits?: 7 | 16 | 64;
}

/** Build a frame independently of the codec under test (naive byte loop). */
export function frame(spec: FrameSpec): Uint8Array {
  const payload = spec.payload ?? new Uint8Array(0);
  const n = payload.length;
  const bits = spec.lengthBits ?? (n < 126 ? 7 : n < 65536 ? 16 : 64);
  const bytes: number[] = [];
  bytes.push(((spec.fin ?? true) ? 0x80 : 0) | ((spec.rsv ?? 0) << 4) | spec.opcode);
  const m = spec.mask ? 0x80 : 0;
  if (bits === 7) bytes.push(m | n);
  else if (bits === 16) bytes.push(m | 126, (n >> 8) & 0xff, n & 0xff);
  else {
    bytes.push(m | 127);
    const big = BigInt(n);
    for (let i = 7; i >= 0; i--) bytes.push(Number((big >> BigInt(i * 8)) & 0xffn));
  }
  if (spec.mask) bytes.push(...spec.mask);
  const out = new Uint8Array(bytes.length + n);
  out.set(bytes);
  for (let i = 0; i < n; i++)
    out[bytes.length + i] = payload[i]! ^ (spec.mask ? spec.mask[i % 4]! : 0);
  return out;
}

/** Frames as a client sends them (masked with a fixed key) — what a server receives. */
export const cf = (spec: FrameSpec): Uint8Array => frame({ mask: hex('0badf00d'), ...spec });
/** Frames as a server sends them (unmasked) — what a client receives. */
export const sf = (spec: FrameSpec): Uint8Array => frame({ mask: null, ...spec });

export function makeConn(role: WebSocketRole, options: WebSocketConnectionOptions = {}, now = 0) {
  return new WebSocketConnection({ role, now, randomMask: fixedMasks() }, options);
}

/** Events in a comparable plain form. */
export function plain(events: readonly WsEvent[]): unknown[] {
  return events.map((e) => {
    switch (e.type) {
      case 'message':
        return e.compressed
          ? {
              type: e.type,
              opcode: e.opcode,
              compressed: true,
              data: toHex(concatBytes([...e.data])),
            }
          : { type: e.type, opcode: e.opcode, compressed: false, data: toHex(e.data) };
      case 'ping':
      case 'pong':
        return { type: e.type, data: toHex(e.data) };
      case 'error':
        return { type: 'error', kind: e.error.kind, wireCode: e.error.wireCode };
      default:
        return { ...e };
    }
  });
}

export interface RunResult {
  events: unknown[];
  output: string;
  state: string;
}

/** Feed `input` in the given pieces to a fresh connection; the input is copied first. */
export function runSplit(
  role: WebSocketRole,
  input: Uint8Array,
  cuts: number[],
  options: WebSocketConnectionOptions = {},
): RunResult {
  const conn = makeConn(role, options);
  const events: WsEvent[] = [];
  let prev = 0;
  for (const cut of [...cuts, input.length]) {
    events.push(...conn.receive(input.slice(prev, cut), 0));
    prev = cut;
  }
  return {
    events: plain(events),
    output: toHex(concatBytes(conn.takeOutput())),
    state: conn.state,
  };
}

/**
 * Feed `input` whole, split in two at every byte, and byte by byte (h11 style); all must
 * agree. Returns the whole-input result.
 */
export function runAllSplits(
  role: WebSocketRole,
  input: Uint8Array,
  options: WebSocketConnectionOptions = {},
): RunResult {
  const whole = runSplit(role, input, [], options);
  const step = input.length > 2048 ? Math.ceil(input.length / 257) : 1;
  for (let i = 1; i < input.length; i += step) {
    expect(runSplit(role, input, [i], options), `split at ${i}`).toEqual(whole);
  }
  const bytewise = input.length <= 70_000 ? [...Array(input.length).keys()].slice(1) : [];
  if (bytewise.length > 0)
    expect(runSplit(role, input, bytewise, options), 'byte by byte').toEqual(whole);
  return whole;
}

/** The close code a server core answers `input` with (its Close frame's code), or null. */
export function closeCodeOf(output: string): number | null {
  const b = hex(output);
  // Find the last Close frame in an unmasked output stream.
  let i = 0;
  let code: number | null = null;
  while (i < b.length) {
    const op = b[i]! & 0x0f;
    let len = b[i + 1]! & 0x7f;
    let p = i + 2;
    if (len === 126) {
      len = (b[p]! << 8) | b[p + 1]!;
      p += 2;
    } else if (len === 127) {
      len = Number(Buffer.from(b.subarray(p, p + 8)).readBigUInt64BE());
      p += 8;
    }
    if (op === 8) code = len >= 2 ? (b[p]! << 8) | b[p + 1]! : 1005;
    i = p + len;
  }
  return code;
}
