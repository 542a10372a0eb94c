/**
 * Test helpers for the sans-I/O HTTP/2 core (STYLE §10): a recording handler, an in-memory
 * client/server pair driven with a manual clock (h11 ConnectionPair, quinn Pair::drive),
 * hand-built frames (with a tiny HPACK literal encoder, so raw tests do not depend on our
 * encoder) and a frame parser for asserting exactly what a core wrote.
 */
import { CLIENT_PREFACE, FrameType } from '../../../src/protocols/http2/codes.js';
import { Http2Connection } from '../../../src/protocols/http2/connection.js';
import type {
  Http2ConnectionHandler,
  Http2PeerSettings,
  Http2Role,
} from '../../../src/protocols/http2/connection.js';
import type { Http2ConnectionError } from '../../../src/protocols/http2/errors.js';
import type { RequestFields, ResponseFields } from '../../../src/protocols/http2/fields.js';
import type { Http2Limits } from '../../../src/protocols/http2/limits.js';
import type { Http2Stream } from '../../../src/protocols/http2/stream.js';

// ------------------------------------------------------------------ events

export type Ev =
  | { type: 'request'; id: number; head: RequestFields; endStream: boolean }
  | { type: 'request-too-large'; id: number }
  | { type: 'response'; id: number; head: ResponseFields; endStream: boolean }
  | { type: 'data'; id: number; data: Buffer; endStream: boolean }
  | { type: 'trailers'; id: number; names: string[]; values: string[] }
  | {
      type: 'reset';
      id: number;
      code: number;
      initiator: 'remote' | 'local' | 'goaway';
      errCode: string | undefined;
    }
  | { type: 'close'; id: number }
  | { type: 'writable'; id: number }
  | { type: 'settings'; settings: Http2PeerSettings }
  | { type: 'ping-ack'; payload: string }
  | { type: 'goaway'; last: number; code: number; debug: string }
  | { type: 'connection-error'; wireCode: number; code: string; initiator: string };

export type EvType = Ev['type'];
export type EvOf<T extends EvType> = Extract<Ev, { type: T }>;

/** Hooks run after an event is logged (the "application"). */
export type Hooks = Partial<Omit<Http2ConnectionHandler, 'onConnectionError'>> & {
  onConnectionError?(err: Http2ConnectionError): void;
};

/** A handler that logs every callback; `autoConsume` returns DATA to the windows at once. */
export class Recorder implements Http2ConnectionHandler {
  events: Ev[] = [];
  conn!: Http2Connection;
  autoConsume: boolean;
  hooks: Hooks;

  constructor(hooks: Hooks = {}, autoConsume = true) {
    this.hooks = hooks;
    this.autoConsume = autoConsume;
  }

  of<T extends EvType>(type: T): EvOf<T>[] {
    return this.events.filter((e): e is EvOf<T> => e.type === type);
  }

  /** Returns the events logged so far and clears the log. */
  take(): Ev[] {
    const e = this.events;
    this.events = [];
    return e;
  }

  /** Body bytes received on `id`, joined. */
  body(id: number): Buffer {
    return Buffer.concat(this.of('data').flatMap((e) => (e.id === id ? [e.data] : [])));
  }

  onRequest(stream: Http2Stream, head: RequestFields, endStream: boolean): void {
    this.events.push({ type: 'request', id: stream.id, head, endStream });
    this.hooks.onRequest?.(stream, head, endStream);
  }

  onRequestTooLarge(stream: Http2Stream): void {
    this.events.push({ type: 'request-too-large', id: stream.id });
    this.hooks.onRequestTooLarge?.(stream);
  }

  onResponse(stream: Http2Stream, head: ResponseFields, endStream: boolean): void {
    this.events.push({ type: 'response', id: stream.id, head, endStream });
    this.hooks.onResponse?.(stream, head, endStream);
  }

  onData(stream: Http2Stream, chunk: Uint8Array, endStream: boolean): void {
    this.events.push({ type: 'data', id: stream.id, data: Buffer.from(chunk), endStream });
    if (this.autoConsume) this.conn.consume(stream, chunk.length);
    this.hooks.onData?.(stream, chunk, endStream);
  }

  onTrailers(stream: Http2Stream, names: string[], values: string[]): void {
    this.events.push({ type: 'trailers', id: stream.id, names, values });
    this.hooks.onTrailers?.(stream, names, values);
  }

  onStreamReset(
    stream: Http2Stream,
    code: number,
    initiator: 'remote' | 'local' | 'goaway',
    err?: Error,
  ): void {
    const errCode = (err as { code?: string } | undefined)?.code;
    this.events.push({ type: 'reset', id: stream.id, code, initiator, errCode });
    this.hooks.onStreamReset?.(stream, code, initiator, err);
  }

  onStreamClose(stream: Http2Stream): void {
    this.events.push({ type: 'close', id: stream.id });
    this.hooks.onStreamClose?.(stream);
  }

  onStreamWritable(stream: Http2Stream): void {
    this.events.push({ type: 'writable', id: stream.id });
    this.hooks.onStreamWritable?.(stream);
  }

  onSettings(settings: Readonly<Http2PeerSettings>): void {
    this.events.push({ type: 'settings', settings: { ...settings } });
    this.hooks.onSettings?.(settings);
  }

  onPingAck(payload: Uint8Array): void {
    this.events.push({ type: 'ping-ack', payload: Buffer.from(payload).toString('hex') });
    this.hooks.onPingAck?.(payload);
  }

  onGoaway(lastStreamId: number, code: number, debug: Uint8Array): void {
    this.events.push({
      type: 'goaway',
      last: lastStreamId,
      code,
      debug: Buffer.from(debug).toString('utf8'),
    });
    this.hooks.onGoaway?.(lastStreamId, code, debug);
  }

  onConnectionError(err: Http2ConnectionError): void {
    this.events.push({
      type: 'connection-error',
      wireCode: err.wireCode,
      code: err.code,
      initiator: err.initiator,
    });
    this.hooks.onConnectionError?.(err);
  }
}

/** Creates a core with a Recorder attached. */
export function makeCore(
  role: Http2Role,
  opts: {
    limits?: Partial<Http2Limits>;
    hooks?: Hooks;
    autoConsume?: boolean;
    firstStreamId?: number;
    now?: number;
  } = {},
): { conn: Http2Connection; rec: Recorder } {
  const rec = new Recorder(opts.hooks, opts.autoConsume ?? true);
  const conn = new Http2Connection(role, rec, {
    ...(opts.limits ? { limits: opts.limits } : {}),
    ...(opts.firstStreamId !== undefined ? { firstStreamId: opts.firstStreamId } : {}),
    now: opts.now ?? 0,
  });
  rec.conn = conn;
  return { conn, rec };
}

// ------------------------------------------------------------------ pair

export interface PairOptions {
  client?: Partial<Http2Limits>;
  server?: Partial<Http2Limits>;
  clientHooks?: Hooks;
  serverHooks?: Hooks;
  /** Both recorders return DATA to the windows as it arrives. @default true */
  autoConsume?: boolean;
  firstStreamId?: number;
  /** Keep every byte in each direction (`c2s`, `s2c`). @default true */
  tap?: boolean;
}

/** A client and a server core linked in memory with a manual clock. */
export class Pair {
  now = 0;
  readonly client: Http2Connection;
  readonly server: Http2Connection;
  readonly c: Recorder;
  readonly s: Recorder;
  readonly c2s: Uint8Array[] = [];
  readonly s2c: Uint8Array[] = [];
  readonly #tap: boolean;

  constructor(opts: PairOptions = {}) {
    const auto = opts.autoConsume ?? true;
    const c = makeCore('client', {
      ...(opts.client ? { limits: opts.client } : {}),
      ...(opts.clientHooks ? { hooks: opts.clientHooks } : {}),
      autoConsume: auto,
      ...(opts.firstStreamId !== undefined ? { firstStreamId: opts.firstStreamId } : {}),
    });
    const s = makeCore('server', {
      ...(opts.server ? { limits: opts.server } : {}),
      ...(opts.serverHooks ? { hooks: opts.serverHooks } : {}),
      autoConsume: auto,
    });
    this.client = c.conn;
    this.c = c.rec;
    this.server = s.conn;
    this.s = s.rec;
    this.#tap = opts.tap ?? true;
  }

  /** Client → server: one hop. Returns the number of chunks moved. */
  flushClient(): number {
    const out = this.client.takeOutput();
    for (const chunk of out) {
      if (this.#tap) this.c2s.push(chunk);
      this.server.receive(chunk, this.now);
    }
    return out.length;
  }

  /** Server → client: one hop. */
  flushServer(): number {
    const out = this.server.takeOutput();
    for (const chunk of out) {
      if (this.#tap) this.s2c.push(chunk);
      this.client.receive(chunk, this.now);
    }
    return out.length;
  }

  /** Moves output both ways until neither side has anything to write. */
  drive(maxIterations = 100_000): number {
    for (let i = 0; i < maxIterations; i++) {
      const a = this.flushClient();
      const b = this.flushServer();
      if (a === 0 && b === 0) return i;
    }
    throw new Error(`pair did not settle in ${maxIterations} iterations`);
  }

  /** Moves the clock and runs both timers. */
  advance(ms: number): void {
    this.now += ms;
    this.client.handleTimeout(this.now);
    this.server.handleTimeout(this.now);
  }

  /** Frames the server wrote so far (tap). */
  serverFrames(): Frame[] {
    return parseFrames(this.s2c);
  }

  clientFrames(): Frame[] {
    return parseFrames(this.c2s);
  }
}

// ------------------------------------------------------------------ raw single core

/**
 * One core and a hand-driven peer: feed it frames built below, read back what it wrote as
 * parsed frames.
 */
export class Raw {
  now = 0;
  readonly conn: Http2Connection;
  readonly rec: Recorder;
  readonly role: Http2Role;

  constructor(
    role: Http2Role,
    opts: {
      limits?: Partial<Http2Limits>;
      hooks?: Hooks;
      autoConsume?: boolean;
      firstStreamId?: number;
    } = {},
  ) {
    this.role = role;
    const { conn, rec } = makeCore(role, { ...opts, autoConsume: opts.autoConsume ?? false });
    this.conn = conn;
    this.rec = rec;
  }

  /**
   * The peer's preface: (client preface +) SETTINGS with `settings`, and an ACK of the
   * core's SETTINGS. Returns the core's frames so far (its SETTINGS, WINDOW_UPDATE, ACK).
   */
  handshake(settings: [number, number][] = []): Frame[] {
    const parts: Uint8Array[] = [];
    if (this.role === 'server') parts.push(CLIENT_PREFACE);
    parts.push(settingsFrame(settings), settingsFrame([], true));
    this.feed(...parts);
    return this.out();
  }

  /** Feeds the bytes in one `receive` call. */
  feed(...parts: Uint8Array[]): void {
    this.conn.receive(Buffer.concat(parts), this.now);
  }

  /** The core's output, parsed. */
  out(): Frame[] {
    return parseFrames(this.conn.takeOutput());
  }
}

// ------------------------------------------------------------------ frames

export interface Frame {
  type: number;
  flags: number;
  streamId: number;
  payload: Buffer;
}

/** Parses whole frames (skipping a leading client preface); throws on a partial frame. */
export function parseFrames(chunks: Uint8Array[] | Uint8Array): Frame[] {
  const buf = Buffer.concat(Array.isArray(chunks) ? chunks : [chunks]);
  let pos = 0;
  if (buf.length >= CLIENT_PREFACE.length && buf.subarray(0, 24).equals(CLIENT_PREFACE)) pos = 24;
  const out: Frame[] = [];
  for (let n = 0; pos < buf.length && n < 10_000_000; n++) {
    if (buf.length - pos < 9) throw new Error('partial frame header');
    const length = buf.readUIntBE(pos, 3);
    const type = buf[pos + 3]!;
    const flags = buf[pos + 4]!;
    const streamId = buf.readUInt32BE(pos + 5) & 0x7fffffff;
    if (buf.length - pos - 9 < length) throw new Error('partial frame payload');
    out.push({ type, flags, streamId, payload: buf.subarray(pos + 9, pos + 9 + length) });
    pos += 9 + length;
  }
  return out;
}

export const rstCode = (f: Frame): number => f.payload.readUInt32BE(0);
export const wuIncrement = (f: Frame): number => f.payload.readUInt32BE(0) & 0x7fffffff;
export function goawayOf(f: Frame): { last: number; code: number; debug: string } {
  return {
    last: f.payload.readUInt32BE(0) & 0x7fffffff,
    code: f.payload.readUInt32BE(4),
    debug: f.payload.subarray(8).toString('utf8'),
  };
}
export function settingsOf(f: Frame): Map<number, number> {
  const m = new Map<number, number>();
  for (let p = 0; p + 6 <= f.payload.length; p += 6) {
    m.set(f.payload.readUInt16BE(p), f.payload.readUInt32BE(p + 2));
  }
  return m;
}

/** Short names for assertions: `RST_STREAM:1`, `GOAWAY:0`. */
export function frameNames(frames: Frame[]): string[] {
  const names = Object.fromEntries(Object.entries(FrameType).map(([k, v]) => [v, k]));
  return frames.map((f) => `${names[f.type] ?? f.type}:${f.streamId}`);
}

export function frame(
  type: number,
  flags: number,
  streamId: number,
  payload: Uint8Array = Buffer.alloc(0),
): Buffer {
  const b = Buffer.alloc(9 + payload.length);
  b.writeUIntBE(payload.length, 0, 3);
  b[3] = type;
  b[4] = flags;
  b.writeUInt32BE(streamId >>> 0, 5);
  b.set(payload, 9);
  return b;
}

export function settingsFrame(pairs: [number, number][] = [], ack = false): Buffer {
  const p = Buffer.alloc(pairs.length * 6);
  pairs.forEach(([id, v], i) => {
    p.writeUInt16BE(id, i * 6);
    p.writeUInt32BE(v >>> 0, i * 6 + 2);
  });
  return frame(FrameType.SETTINGS, ack ? 1 : 0, 0, p);
}

export function pingFrame(payload: Uint8Array, ack = false): Buffer {
  return frame(FrameType.PING, ack ? 1 : 0, 0, payload);
}

export function rstFrame(id: number, code: number): Buffer {
  const p = Buffer.alloc(4);
  p.writeUInt32BE(code >>> 0);
  return frame(FrameType.RST_STREAM, 0, id, p);
}

export function wuFrame(id: number, increment: number): Buffer {
  const p = Buffer.alloc(4);
  p.writeUInt32BE(increment >>> 0);
  return frame(FrameType.WINDOW_UPDATE, 0, id, p);
}

export function goawayFrame(last: number, code: number, debug = ''): Buffer {
  const d = Buffer.from(debug);
  const p = Buffer.alloc(8 + d.length);
  p.writeUInt32BE(last >>> 0, 0);
  p.writeUInt32BE(code >>> 0, 4);
  d.copy(p, 8);
  return frame(FrameType.GOAWAY, 0, 0, p);
}

export function headersFrame(
  id: number,
  block: Uint8Array,
  o: { endStream?: boolean; endHeaders?: boolean; pad?: number; dependsOn?: number } = {},
): Buffer {
  let flags = (o.endStream ? 0x1 : 0) | (o.endHeaders === false ? 0 : 0x4);
  const parts: Uint8Array[] = [];
  if (o.pad !== undefined) {
    flags |= 0x8;
    parts.push(Uint8Array.of(o.pad));
  }
  if (o.dependsOn !== undefined) {
    flags |= 0x20;
    const p = Buffer.alloc(5);
    p.writeUInt32BE(o.dependsOn);
    p[4] = 15;
    parts.push(p);
  }
  parts.push(block);
  if (o.pad !== undefined) parts.push(Buffer.alloc(o.pad));
  return frame(FrameType.HEADERS, flags, id, Buffer.concat(parts));
}

export function continuationFrame(id: number, block: Uint8Array, endHeaders: boolean): Buffer {
  return frame(FrameType.CONTINUATION, endHeaders ? 0x4 : 0, id, block);
}

export function dataFrame(
  id: number,
  data: Uint8Array | string,
  o: { endStream?: boolean; pad?: number } = {},
): Buffer {
  const body = typeof data === 'string' ? Buffer.from(data) : data;
  let flags = o.endStream ? 0x1 : 0;
  if (o.pad === undefined) return frame(FrameType.DATA, flags, id, body);
  flags |= 0x8;
  return frame(
    FrameType.DATA,
    flags,
    id,
    Buffer.concat([Uint8Array.of(o.pad), body, Buffer.alloc(o.pad)]),
  );
}

export function priorityUpdateFrame(prioritized: number, value: string, streamId = 0): Buffer {
  const p = Buffer.alloc(4);
  p.writeUInt32BE(prioritized);
  return frame(FrameType.PRIORITY_UPDATE, 0, streamId, Buffer.concat([p, Buffer.from(value)]));
}

// ------------------------------------------------------------------ HPACK (literals only)

/** RFC 7541 §5.1 integer with an N-bit prefix; `first` holds the pattern bits. */
export function hpackInt(value: number, prefixBits: number, first: number): number[] {
  const max = (1 << prefixBits) - 1;
  if (value < max) return [first | value];
  const out = [first | max];
  let v = value - max;
  while (v >= 128) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}

function hpackString(s: string): number[] {
  const b = Buffer.from(s, 'latin1');
  return [...hpackInt(b.length, 7, 0), ...b];
}

/** Literal header field without indexing, new name (RFC 7541 §6.2.2): no table change. */
export function hpackLiteral(fields: [string, string][]): Buffer {
  const out: number[] = [];
  for (const [n, v] of fields) out.push(0x00, ...hpackString(n), ...hpackString(v));
  return Buffer.from(out);
}

/** Literal header field with incremental indexing, new name (RFC 7541 §6.2.1). */
export function hpackIndexed(name: string, value: string): Buffer {
  return Buffer.from([0x40, ...hpackString(name), ...hpackString(value)]);
}

/** Indexed header field (RFC 7541 §6.1); dynamic entries start at 62. */
export function hpackRef(index: number): Buffer {
  return Buffer.from(hpackInt(index, 7, 0x80));
}

export const GET: [string, string][] = [
  [':method', 'GET'],
  [':scheme', 'https'],
  [':authority', 'example.test'],
  [':path', '/'],
];

/** A GET request block (plus `extra` regular fields), literals only. */
export function requestBlock(extra: [string, string][] = [], base = GET): Buffer {
  return hpackLiteral([...base, ...extra]);
}

export const names = (f: [string, string][]): string[] => f.map((x) => x[0]);
export const values = (f: [string, string][]): string[] => f.map((x) => x[1]);

/** A deterministic byte pattern (xorshift), for body integrity checks. */
export function pattern(n: number, seed = 1): Buffer {
  const b = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    b[i] = x & 0xff;
  }
  return b;
}
