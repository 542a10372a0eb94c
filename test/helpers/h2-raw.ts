/**
 * A raw-frame HTTP/2 test client for conformance tests (in the spirit of h2spec).
 *
 * It is deliberately independent of src/protocols/http2: its own frame encoding (RFC 9113
 * §4.1), a minimal HPACK encoder (RFC 7541 §6.1 indexed fields and §6.2.2 literals without
 * indexing, no Huffman) and hpack.js as an independent decoder for what the server sends.
 * Every frame the server sends is kept in arrival order; `next()` and the `expect*` helpers
 * consume them, skipping (and keeping) frames they are not looking for. Every wait is
 * bounded and fails with a message that lists what did arrive.
 */
import { createRequire } from 'node:module';
import net from 'node:net';

/** RFC 9113 §6 frame types. */
export const T = {
  DATA: 0x0,
  HEADERS: 0x1,
  PRIORITY: 0x2,
  RST_STREAM: 0x3,
  SETTINGS: 0x4,
  PUSH_PROMISE: 0x5,
  PING: 0x6,
  GOAWAY: 0x7,
  WINDOW_UPDATE: 0x8,
  CONTINUATION: 0x9,
} as const;

/** RFC 9113 §6 flags. */
export const F = {
  END_STREAM: 0x1,
  ACK: 0x1,
  END_HEADERS: 0x4,
  PADDED: 0x8,
  PRIORITY: 0x20,
} as const;

/** RFC 9113 §7 error codes. */
export const E = {
  NO_ERROR: 0x0,
  PROTOCOL_ERROR: 0x1,
  INTERNAL_ERROR: 0x2,
  FLOW_CONTROL_ERROR: 0x3,
  SETTINGS_TIMEOUT: 0x4,
  STREAM_CLOSED: 0x5,
  FRAME_SIZE_ERROR: 0x6,
  REFUSED_STREAM: 0x7,
  CANCEL: 0x8,
  COMPRESSION_ERROR: 0x9,
  CONNECT_ERROR: 0xa,
  ENHANCE_YOUR_CALM: 0xb,
  INADEQUATE_SECURITY: 0xc,
  HTTP_1_1_REQUIRED: 0xd,
} as const;

/** RFC 9113 §6.5.2 settings. */
export const S = {
  HEADER_TABLE_SIZE: 0x1,
  ENABLE_PUSH: 0x2,
  MAX_CONCURRENT_STREAMS: 0x3,
  INITIAL_WINDOW_SIZE: 0x4,
  MAX_FRAME_SIZE: 0x5,
  MAX_HEADER_LIST_SIZE: 0x6,
} as const;

const TYPE_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(T).map(([k, v]) => [v, k]),
);
const ERROR_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(E).map(([k, v]) => [v, k]),
);

export function errorName(code: number): string {
  return ERROR_NAMES[code] ?? `0x${code.toString(16)}`;
}

/** RFC 9113 §3.4 client connection preface. */
export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

export type HeaderField = readonly [name: string, value: string];

export interface Frame {
  readonly type: number;
  readonly flags: number;
  readonly streamId: number;
  readonly payload: Buffer;
  /** Set on the frame that ends a header block (END_HEADERS): the decoded fields. */
  fields?: HeaderField[];
}

export interface Goaway {
  lastStreamId: number;
  errorCode: number;
  debug: string;
}

export interface RawResponse {
  status: number;
  headers: HeaderField[];
  body: Buffer;
  trailers: HeaderField[] | undefined;
  /** Informational (1xx) header blocks before the final one. */
  informational: HeaderField[][];
}

// ---------------------------------------------------------------------------------------
// Frame encoding (RFC 9113 §4.1)

/** The 9-octet frame header followed by the payload. `length` overrides the length field. */
export function encodeFrame(
  type: number,
  flags: number,
  streamId: number,
  payload: Uint8Array = Buffer.alloc(0),
  length = payload.length,
): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(streamId >>> 0, 5);
  return Buffer.concat([head, payload]);
}

export function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0, 0);
  return b;
}

export function settingsPayload(entries: readonly (readonly [number, number])[]): Buffer {
  const b = Buffer.alloc(6 * entries.length);
  entries.forEach(([id, value], i) => {
    b.writeUInt16BE(id, i * 6);
    b.writeUInt32BE(value >>> 0, i * 6 + 2);
  });
  return b;
}

/** PRIORITY payload (RFC 9113 §6.3): E bit + 31-bit dependency, weight. */
export function priorityPayload(dependsOn: number, weight = 15, exclusive = false): Buffer {
  const b = Buffer.alloc(5);
  b.writeUInt32BE(((exclusive ? 0x80000000 : 0) | dependsOn) >>> 0, 0);
  b[4] = weight;
  return b;
}

// ---------------------------------------------------------------------------------------
// Minimal HPACK encoder (RFC 7541)

/** §5.1 integer with an N-bit prefix; `high` holds the representation's pattern bits. */
export function hpackInt(value: number, prefixBits: number, high = 0): Buffer {
  const max = (1 << prefixBits) - 1;
  if (value < max) return Buffer.from([high | value]);
  const out = [high | max];
  let rest = value - max;
  while (rest >= 128) {
    out.push((rest % 128) + 128);
    rest = Math.floor(rest / 128);
  }
  out.push(rest);
  return Buffer.from(out);
}

/** §5.2 string literal without Huffman (H = 0). */
export function hpackString(s: string | Uint8Array): Buffer {
  const bytes = typeof s === 'string' ? Buffer.from(s, 'latin1') : Buffer.from(s);
  return Buffer.concat([hpackInt(bytes.length, 7, 0x00), bytes]);
}

/** §5.2 string literal with H = 1 and already Huffman-coded bytes (valid or not). */
export function hpackHuffmanString(coded: Uint8Array): Buffer {
  return Buffer.concat([hpackInt(coded.length, 7, 0x80), Buffer.from(coded)]);
}

/** §6.1 indexed header field. */
export function hpackIndexed(index: number): Buffer {
  return hpackInt(index, 7, 0x80);
}

/** §6.2.2 literal header field without indexing, new name. */
export function hpackLiteral(name: string, value: string | Uint8Array): Buffer {
  return Buffer.concat([Buffer.from([0x00]), hpackString(name), hpackString(value)]);
}

/** §6.2.2 literal header field without indexing, indexed name. */
export function hpackLiteralIndexedName(index: number, value: string): Buffer {
  return Buffer.concat([hpackInt(index, 4, 0x00), hpackString(value)]);
}

/** §6.3 dynamic table size update. */
export function hpackSizeUpdate(size: number): Buffer {
  return hpackInt(size, 5, 0x20);
}

/** A header block of literals without indexing (no dynamic-table state to keep in sync). */
export function encodeHeaderBlock(fields: readonly HeaderField[]): Buffer {
  return Buffer.concat(fields.map(([n, v]) => hpackLiteral(n, v)));
}

// ---------------------------------------------------------------------------------------
// HPACK decoding with hpack.js (an independent implementation, CommonJS without types)

interface HpackDecompressor {
  write(data: Buffer): void;
  execute(): void;
  read(): { name: string; value: string } | null;
  on(event: 'error', listener: (err: Error) => void): void;
}
interface HpackModule {
  decompressor: { create(options: { table: { size: number } }): HpackDecompressor };
}
const hpack = createRequire(import.meta.url)('hpack.js') as HpackModule;

// ---------------------------------------------------------------------------------------
// The client

export interface HeadersOptions {
  endStream?: boolean;
  /** @default true */
  endHeaders?: boolean;
  /** Pad length (adds PADDED and the Pad Length octet). */
  padded?: number;
  /** Adds PRIORITY with this dependency (and weight 15 unless given). */
  priority?: { dependsOn: number; weight?: number; exclusive?: boolean };
}

export interface ConnectOptions {
  host?: string;
  /** Milliseconds each `expect*` waits. @default 2000 */
  timeoutMs?: number;
}

export class H2RawClient {
  readonly socket: net.Socket;
  readonly timeoutMs: number;
  /** Every frame received, in arrival order. */
  readonly received: Frame[] = [];
  /** The server's SETTINGS (first non-ACK SETTINGS frame), by id. */
  readonly serverSettings = new Map<number, number>();
  authority: string;
  /** Set when hpack.js could not decode a server header block (the server's bug). */
  hpackError: Error | undefined;
  #pending: Frame[] = [];
  #buf: Buffer = Buffer.alloc(0);
  #closed = false;
  #socketError: Error | undefined;
  #wake: (() => void)[] = [];
  #decoder: HpackDecompressor = hpack.decompressor.create({ table: { size: 4096 } });
  #block: Buffer[] = [];
  #pingSeq = 0;

  private constructor(socket: net.Socket, timeoutMs: number, authority: string) {
    this.socket = socket;
    this.timeoutMs = timeoutMs;
    this.authority = authority;
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', (err) => {
      this.#socketError = err;
    });
    const onEnd = (): void => {
      this.#closed = true;
      this.#notify();
    };
    socket.on('end', onEnd);
    socket.on('close', onEnd);
    this.#decoder.on('error', (err) => {
      this.hpackError = err;
    });
  }

  static connect(port: number, options: ConnectOptions = {}): Promise<H2RawClient> {
    const host = options.host ?? '127.0.0.1';
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host, port });
      socket.setNoDelay(true);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`connect to ${host}:${port} timed out`));
      }, 2000);
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve(new H2RawClient(socket, options.timeoutMs ?? 2000, `${host}:${port}`));
      });
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  close(): void {
    this.socket.destroy();
  }

  // --- sending ---

  write(bytes: Uint8Array): void {
    if (this.socket.destroyed || this.socket.writableEnded) return;
    this.socket.write(bytes);
  }

  writeFrame(type: number, flags: number, streamId: number, payload?: Uint8Array): void {
    this.write(encodeFrame(type, flags, streamId, payload));
  }

  preface(): void {
    this.write(PREFACE);
  }

  settings(entries: readonly (readonly [number, number])[] = []): void {
    this.writeFrame(T.SETTINGS, 0, 0, settingsPayload(entries));
  }

  settingsAck(): void {
    this.writeFrame(T.SETTINGS, F.ACK, 0);
  }

  /**
   * Preface and SETTINGS, then: the server's SETTINGS (ACKed) and its ACK of ours. The
   * server's WINDOW_UPDATE and anything else stays pending.
   */
  async handshake(settings: readonly (readonly [number, number])[] = []): Promise<void> {
    this.preface();
    this.settings(settings);
    const theirs = await this.next(
      (f) => f.type === T.SETTINGS && (f.flags & F.ACK) === 0,
      'the server SETTINGS frame',
    );
    for (let i = 0; i + 6 <= theirs.payload.length; i += 6) {
      this.serverSettings.set(theirs.payload.readUInt16BE(i), theirs.payload.readUInt32BE(i + 2));
    }
    this.settingsAck();
    await this.expectSettingsAck();
  }

  /** A HEADERS frame; `block` is a header list (encoded as literals) or raw bytes. */
  headers(
    streamId: number,
    block: readonly HeaderField[] | Uint8Array,
    opts: HeadersOptions = {},
  ): void {
    const fragment = block instanceof Uint8Array ? Buffer.from(block) : encodeHeaderBlock(block);
    let flags = 0;
    if (opts.endStream) flags |= F.END_STREAM;
    if (opts.endHeaders ?? true) flags |= F.END_HEADERS;
    const parts: Buffer[] = [];
    if (opts.padded !== undefined) {
      flags |= F.PADDED;
      parts.push(Buffer.from([opts.padded]));
    }
    if (opts.priority) {
      flags |= F.PRIORITY;
      const p = opts.priority;
      parts.push(priorityPayload(p.dependsOn, p.weight ?? 15, p.exclusive ?? false));
    }
    parts.push(fragment);
    if (opts.padded !== undefined) parts.push(Buffer.alloc(opts.padded));
    this.writeFrame(T.HEADERS, flags, streamId, Buffer.concat(parts));
  }

  continuation(
    streamId: number,
    block: readonly HeaderField[] | Uint8Array,
    endHeaders = true,
  ): void {
    const fragment = block instanceof Uint8Array ? Buffer.from(block) : encodeHeaderBlock(block);
    this.writeFrame(T.CONTINUATION, endHeaders ? F.END_HEADERS : 0, streamId, fragment);
  }

  data(
    streamId: number,
    body: string | Uint8Array,
    opts: { endStream?: boolean; padded?: number } = {},
  ): void {
    const bytes = typeof body === 'string' ? Buffer.from(body) : Buffer.from(body);
    let flags = opts.endStream ? F.END_STREAM : 0;
    let payload = bytes;
    if (opts.padded !== undefined) {
      flags |= F.PADDED;
      payload = Buffer.concat([Buffer.from([opts.padded]), bytes, Buffer.alloc(opts.padded)]);
    }
    this.writeFrame(T.DATA, flags, streamId, payload);
  }

  priority(streamId: number, dependsOn: number, weight = 15, exclusive = false): void {
    this.writeFrame(T.PRIORITY, 0, streamId, priorityPayload(dependsOn, weight, exclusive));
  }

  rstStream(streamId: number, code: number): void {
    this.writeFrame(T.RST_STREAM, 0, streamId, u32(code));
  }

  ping(payload: Uint8Array, ack = false): void {
    this.writeFrame(T.PING, ack ? F.ACK : 0, 0, payload);
  }

  goaway(lastStreamId: number, code: number, debug = ''): void {
    this.writeFrame(
      T.GOAWAY,
      0,
      0,
      Buffer.concat([u32(lastStreamId), u32(code), Buffer.from(debug)]),
    );
  }

  windowUpdate(streamId: number, increment: number): void {
    this.writeFrame(T.WINDOW_UPDATE, 0, streamId, u32(increment));
  }

  /** The request pseudo-header fields (RFC 9113 §8.3.1) followed by `extra`. */
  request(method = 'GET', path = '/', extra: readonly HeaderField[] = []): HeaderField[] {
    return [
      [':method', method],
      [':scheme', 'http'],
      [':path', path],
      [':authority', this.authority],
      ...extra,
    ];
  }

  // --- receiving ---

  #onData(chunk: Buffer): void {
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    while (this.#buf.length >= 9) {
      const length = this.#buf.readUIntBE(0, 3);
      if (this.#buf.length < 9 + length) break;
      const frame: Frame = {
        type: this.#buf[3]!,
        flags: this.#buf[4]!,
        streamId: this.#buf.readUInt32BE(5) & 0x7fffffff,
        payload: Buffer.from(this.#buf.subarray(9, 9 + length)),
      };
      this.#buf = this.#buf.subarray(9 + length);
      this.#decodeHeaderBlock(frame);
      this.received.push(frame);
      this.#pending.push(frame);
    }
    this.#notify();
  }

  /** Header blocks are decoded in arrival order (HPACK state is per connection). */
  #decodeHeaderBlock(frame: Frame): void {
    if (frame.type === T.HEADERS || frame.type === T.PUSH_PROMISE) {
      let p = frame.payload;
      let pad = 0;
      if (frame.flags & F.PADDED) {
        pad = p[0] ?? 0;
        p = p.subarray(1);
      }
      if (frame.type === T.HEADERS && frame.flags & F.PRIORITY) p = p.subarray(5);
      if (frame.type === T.PUSH_PROMISE) p = p.subarray(4);
      this.#block = [p.subarray(0, p.length - pad)];
    } else if (frame.type === T.CONTINUATION) {
      this.#block.push(frame.payload);
    } else {
      return;
    }
    if ((frame.flags & F.END_HEADERS) === 0) return;
    const fields: HeaderField[] = [];
    this.#decoder.write(Buffer.concat(this.#block));
    this.#decoder.execute();
    for (let f = this.#decoder.read(); f !== null; f = this.#decoder.read()) {
      fields.push([f.name, f.value]);
    }
    this.#block = [];
    frame.fields = fields;
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = [];
    for (const w of wake) w();
  }

  /** Frames received and not yet consumed by `next()`/`expect*`, described. */
  describePending(): string {
    if (this.#pending.length === 0) return '(none)';
    return this.#pending.map(describeFrame).join(', ');
  }

  /**
   * Consumes and returns the first pending frame that matches, waiting (bounded) for it.
   * Fails when the connection closes first or the time runs out.
   */
  async next(
    match: (f: Frame) => boolean,
    what: string,
    timeoutMs = this.timeoutMs,
  ): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.#pending.findIndex(match);
      if (i >= 0) return this.#pending.splice(i, 1)[0]!;
      if (this.#closed) {
        throw new Error(
          `connection closed while waiting for ${what}; unconsumed frames: ${this.describePending()}` +
            (this.#socketError ? ` (socket error: ${this.#socketError.message})` : ''),
        );
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(
          `timed out after ${timeoutMs} ms waiting for ${what}; unconsumed frames: ${this.describePending()}`,
        );
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#wake.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  async expectSettingsAck(): Promise<void> {
    const f = await this.next(
      (f) => f.type === T.SETTINGS && (f.flags & F.ACK) !== 0,
      'SETTINGS with ACK',
    );
    if (f.payload.length !== 0) throw new Error('SETTINGS ACK with a payload');
  }

  /** The next GOAWAY; checks its error code when `code` is given (one code or a list). */
  async expectGoaway(code?: number | readonly number[]): Promise<Goaway> {
    const f = await this.next((f) => f.type === T.GOAWAY, `GOAWAY(${codesName(code)})`);
    const g = parseGoaway(f);
    if (code !== undefined && !codeList(code).includes(g.errorCode)) {
      throw new Error(
        `expected GOAWAY(${codesName(code)}), got GOAWAY(${errorName(g.errorCode)}) ${JSON.stringify(g.debug)}`,
      );
    }
    return g;
  }

  /**
   * A connection error (RFC 9113 §5.4.1): GOAWAY with the code, then the connection closes.
   */
  async expectConnectionError(
    code: number | readonly number[],
    opts: {
      /** h2spec also accepts a bare close (for example for a bad preface). */
      allowCloseWithoutGoaway?: boolean;
      /** RFC 9113 §5.4.1: the endpoint MUST close the TCP connection. @default true */
      requireClose?: boolean;
    } = {},
  ): Promise<Goaway | undefined> {
    let f: Frame;
    try {
      f = await this.next(
        (f) => f.type === T.GOAWAY,
        `connection error GOAWAY(${codesName(code)})`,
      );
    } catch (err) {
      if (opts.allowCloseWithoutGoaway && this.#closed) return undefined;
      throw err;
    }
    const g = parseGoaway(f);
    if (!codeList(code).includes(g.errorCode)) {
      throw new Error(
        `expected GOAWAY(${codesName(code)}), got GOAWAY(${errorName(g.errorCode)}) ${JSON.stringify(g.debug)}`,
      );
    }
    if (opts.requireClose ?? true) await this.expectClosed();
    return g;
  }

  /** RST_STREAM on `streamId` with the code. A GOAWAY instead fails at once. */
  async expectRst(streamId: number, code: number | readonly number[]): Promise<number> {
    const f = await this.next(
      (f) => (f.type === T.RST_STREAM && f.streamId === streamId) || f.type === T.GOAWAY,
      `RST_STREAM(stream ${streamId}, ${codesName(code)})`,
    );
    if (f.type === T.GOAWAY) {
      const g = parseGoaway(f);
      throw new Error(
        `expected RST_STREAM(stream ${streamId}, ${codesName(code)}), got GOAWAY(${errorName(g.errorCode)}) ${JSON.stringify(g.debug)}`,
      );
    }
    const got = f.payload.readUInt32BE(0);
    if (!codeList(code).includes(got)) {
      throw new Error(
        `expected RST_STREAM(stream ${streamId}, ${codesName(code)}), got RST_STREAM(${errorName(got)})`,
      );
    }
    return got;
  }

  /**
   * A stream error (RST_STREAM on the stream with the code) or a connection error with the
   * code — h2spec accepts either. A response before it is allowed (RFC 9113 §8.1.1: a
   * server MAY answer a malformed request before resetting the stream).
   */
  async expectStreamError(
    streamId: number,
    code: number | readonly number[],
  ): Promise<'stream' | 'connection'> {
    const f = await this.next(
      (f) => (f.type === T.RST_STREAM && f.streamId === streamId) || f.type === T.GOAWAY,
      `RST_STREAM(stream ${streamId}, ${codesName(code)}) or GOAWAY(${codesName(code)})`,
    );
    if (f.type === T.GOAWAY) {
      const g = parseGoaway(f);
      if (!codeList(code).includes(g.errorCode)) {
        throw new Error(
          `expected a ${codesName(code)} error, got GOAWAY(${errorName(g.errorCode)}) ${JSON.stringify(g.debug)}`,
        );
      }
      return 'connection';
    }
    const got = f.payload.readUInt32BE(0);
    if (!codeList(code).includes(got)) {
      throw new Error(
        `expected RST_STREAM(stream ${streamId}, ${codesName(code)}), got RST_STREAM(${errorName(got)})`,
      );
    }
    return 'stream';
  }

  /** The connection closes (the server ended or reset it) within the timeout. */
  async expectClosed(timeoutMs = this.timeoutMs): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.#closed) {
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(
          `timed out after ${timeoutMs} ms waiting for the connection to close; unconsumed frames: ${this.describePending()}`,
        );
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#wake.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** The next PING frame must be an ACK carrying `payload`. */
  async expectPingAck(payload: Uint8Array): Promise<void> {
    const f = await this.next((f) => f.type === T.PING, `PING ACK ${hex(payload)}`);
    if ((f.flags & F.ACK) === 0) throw new Error(`expected a PING ACK, got PING without ACK`);
    if (!f.payload.equals(Buffer.from(payload))) {
      throw new Error(`expected PING ACK ${hex(payload)}, got ${hex(f.payload)}`);
    }
  }

  /** Round-trips a PING: the connection is alive and the server processed what came before. */
  async expectAlive(): Promise<void> {
    const payload = Buffer.alloc(8);
    payload.write('alive', 0, 'latin1');
    payload.writeUInt16BE(++this.#pingSeq & 0xffff, 6);
    this.ping(payload);
    await this.expectPingAck(payload);
  }

  /**
   * The response on `streamId`: informational blocks, the final head, DATA (until
   * END_STREAM) and trailers. RST_STREAM or GOAWAY fails with the code.
   */
  async expectResponse(streamId: number): Promise<RawResponse> {
    const res: RawResponse = {
      status: 0,
      headers: [],
      body: Buffer.alloc(0),
      trailers: undefined,
      informational: [],
    };
    const chunks: Buffer[] = [];
    let headDone = false;
    for (;;) {
      const f = await this.next(
        (f) => f.streamId === streamId || f.type === T.GOAWAY,
        `the response on stream ${streamId}`,
      );
      if (f.type === T.GOAWAY) {
        const g = parseGoaway(f);
        throw new Error(
          `expected a response on stream ${streamId}, got GOAWAY(${errorName(g.errorCode)}) ${JSON.stringify(g.debug)}`,
        );
      }
      if (f.type === T.RST_STREAM) {
        throw new Error(
          `expected a response on stream ${streamId}, got RST_STREAM(${errorName(f.payload.readUInt32BE(0))})`,
        );
      }
      if (f.fields !== undefined) {
        if (!headDone) {
          const status = Number(f.fields.find(([n]) => n === ':status')?.[1]);
          if (status >= 100 && status < 200) {
            res.informational.push(f.fields);
          } else {
            res.status = status;
            res.headers = f.fields;
            headDone = true;
          }
        } else {
          res.trailers = f.fields;
        }
      }
      if (f.type === T.DATA) {
        let p = f.payload;
        if (f.flags & F.PADDED) p = p.subarray(1, p.length - (p[0] ?? 0));
        chunks.push(p);
      }
      const ends = (f.type === T.DATA || f.type === T.HEADERS) && (f.flags & F.END_STREAM) !== 0;
      if (ends) {
        // A HEADERS with END_STREAM but without END_HEADERS ends after its CONTINUATIONs.
        if (f.type === T.HEADERS && f.fields === undefined) {
          const last = await this.next(
            (c) => c.type === T.CONTINUATION && c.streamId === streamId && c.fields !== undefined,
            `the CONTINUATION ending the header block on stream ${streamId}`,
          );
          if (headDone) res.trailers = last.fields;
          else {
            res.status = Number(last.fields?.find(([n]) => n === ':status')?.[1]);
            res.headers = last.fields ?? [];
          }
        }
        break;
      }
    }
    res.body = Buffer.concat(chunks);
    return res;
  }

  /**
   * Payload bytes of DATA frames on `streamId` consumed until `n` arrived. With `end`, the
   * stream must then end (END_STREAM on the last of them, or on an empty DATA frame after
   * them) without any further octet.
   */
  async expectData(
    streamId: number,
    n: number,
    opts: { end?: boolean } = {},
  ): Promise<{ body: Buffer; endStream: boolean }> {
    const chunks: Buffer[] = [];
    let got = 0;
    let endStream = false;
    while (got < n || (opts.end && !endStream)) {
      if (endStream) throw new Error(`stream ${streamId} ended after ${got} of ${n} octets`);
      const f = await this.next(
        (f) => (f.type === T.DATA || f.type === T.RST_STREAM) && f.streamId === streamId,
        got < n
          ? `${n - got} more octets of DATA on stream ${streamId}`
          : `END_STREAM on stream ${streamId}`,
      );
      if (f.type === T.RST_STREAM) {
        throw new Error(`expected DATA, got RST_STREAM(${errorName(f.payload.readUInt32BE(0))})`);
      }
      let p = f.payload;
      if (f.flags & F.PADDED) p = p.subarray(1, p.length - (p[0] ?? 0));
      chunks.push(p);
      got += p.length;
      endStream = (f.flags & F.END_STREAM) !== 0;
    }
    if (got > n) throw new Error(`expected ${n} octets of DATA on stream ${streamId}, got ${got}`);
    return { body: Buffer.concat(chunks), endStream };
  }

  /** Pending (unconsumed) frames matching, without consuming them. */
  peek(match: (f: Frame) => boolean): Frame[] {
    return this.#pending.filter(match);
  }
}

// ---------------------------------------------------------------------------------------

function codeList(code: number | readonly number[] | undefined): readonly number[] {
  if (code === undefined) return [];
  return typeof code === 'number' ? [code] : code;
}

function codesName(code: number | readonly number[] | undefined): string {
  if (code === undefined) return 'any';
  return codeList(code).map(errorName).join(' or ');
}

function parseGoaway(f: Frame): Goaway {
  return {
    lastStreamId: f.payload.readUInt32BE(0) & 0x7fffffff,
    errorCode: f.payload.readUInt32BE(4),
    debug: f.payload.subarray(8).toString('utf8'),
  };
}

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

export function describeFrame(f: Frame): string {
  const name = TYPE_NAMES[f.type] ?? `type 0x${f.type.toString(16)}`;
  let detail = `len=${f.payload.length}`;
  if (f.type === T.RST_STREAM && f.payload.length === 4) {
    detail = errorName(f.payload.readUInt32BE(0));
  } else if (f.type === T.GOAWAY && f.payload.length >= 8) {
    const g = parseGoaway(f);
    detail = `${errorName(g.errorCode)} ${JSON.stringify(g.debug)}`;
  } else if (f.fields !== undefined) {
    detail = JSON.stringify(f.fields);
  }
  return `${name}(stream ${f.streamId}, flags 0x${f.flags.toString(16)}, ${detail})`;
}

/**
 * Clients for one test file: `connect()` opens and handshakes, `raw()` only opens;
 * `closeAll()` (in afterEach) destroys every socket opened since the last call.
 */
export function clientPool(port: () => number): {
  connect(settings?: readonly (readonly [number, number])[]): Promise<H2RawClient>;
  raw(): Promise<H2RawClient>;
  closeAll(): void;
} {
  const open: H2RawClient[] = [];
  const raw = async (): Promise<H2RawClient> => {
    const c = await H2RawClient.connect(port());
    open.push(c);
    return c;
  };
  return {
    raw,
    async connect(settings = []) {
      const c = await raw();
      await c.handshake(settings);
      return c;
    },
    closeAll() {
      for (const c of open.splice(0)) c.close();
    },
  };
}

// ---------------------------------------------------------------------------------------
// A request handler for conformance servers (structural types: no import from src/).

interface MinimalRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: { get(name: string): string | undefined };
  text(): Promise<string>;
}
interface MinimalResponse {
  status: number;
  setHeader(name: string, value: string | number): unknown;
  write(chunk: Uint8Array | string): boolean;
  end(chunk?: Uint8Array | string): void;
}

/**
 * `GET /` → 200 "hello"; `POST /echo` → the body; `/bytes?n=N` → N octets "a".."z"…;
 * `/header?name=x` → the value of field x; `/hang` → headers, then never ends (for concurrency tests). Anything else → 200 "ok".
 */
export async function conformanceHandler(req: MinimalRequest, res: MinimalResponse): Promise<void> {
  if (req.path === '/echo') {
    const body = await req.text();
    res.status = 200;
    res.end(body);
    return;
  }
  if (req.path === '/bytes') {
    const n = Number(req.query.get('n') ?? '0');
    res.status = 200;
    res.setHeader('content-length', n);
    res.end(alphabet(n));
    return;
  }
  if (req.path === '/header') {
    await req.text();
    res.status = 200;
    res.end(req.headers.get(req.query.get('name') ?? '') ?? '(absent)');
    return;
  }
  if (req.path === '/hang') {
    res.status = 200;
    res.write('started');
    return;
  }
  await req.text();
  res.status = 200;
  res.end(req.path === '/' ? 'hello' : 'ok');
}

/** n octets "abc…zabc…". */
export function alphabet(n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += String.fromCharCode(97 + (i % 26));
  return s;
}
