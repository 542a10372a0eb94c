/**
 * Sans-I/O WebSocket connection (RFC 6455), for either role, after the opening handshake:
 * bytes in → events out, intents in → bytes out. No sockets, no timers, no clock reads:
 * `now` (ms) is passed to the constructor, `receive` and `handleTimeout`, and the binding
 * schedules `nextTimeout()`. Masking keys come from the injected `randomMask`.
 *
 * ```
 *   receive(bytes, now) ──► FrameParser ──► header / payload / end ──► WsEvent[]
 *                                              │ rules: §5.1 masking, §5.2 RSV/opcodes,
 *                                              │ §5.4 fragments, §5.5 control, §8.1 UTF-8,
 *                                              │ limits → 1009
 *   send / sendText / ping / pong / close ──► output queue ──► takeOutput() ──► binding
 *   handleTimeout(now) ──► heartbeat ping, pong and close deadlines
 * ```
 *
 * The binding writes `takeOutput()` after every call, and ends the TCP connection once
 * `shouldCloseTransport` is true and the output is flushed (§7.1.1: the server closes
 * first; the client waits for it, up to `closeTimeoutMs`). When the transport ends it
 * calls `handleTransportClose()`.
 *
 * permessage-deflate (RFC 7692) is a hook: with `extensions.perMessageDeflate`, RSV1 on
 * the first frame of a message marks it compressed; such a message is delivered as its raw
 * payload pieces with `compressed: true` and is NOT checked for UTF-8 here. The binding
 * inflates it, validates text with `Utf8Validator`, and calls `fail(1007)` (or 1009) when
 * it must.
 */
import { InvalidOptionError } from '../../errors.js';
import { CloseCode, isValidCloseCode, Opcode } from './codes.js';
import { WebSocketError } from './errors.js';
import type { WebSocketErrorKind } from './errors.js';
import { FrameParser, frameHeaderSize, RSV1, RSV2, RSV3, writeHeader } from './frame.js';
import type { FrameSink } from './frame.js';
import { resolveWebSocketLimits } from './limits.js';
import type { WebSocketLimits } from './limits.js';
import { applyMask } from './mask.js';
import { nextState, WebSocketState } from './state.js';
import type { WebSocketInput } from './state.js';
import { decodeUtf8, isValidUtf8, Utf8Validator } from './utf8.js';

export type WebSocketRole = 'client' | 'server';
export type DataOpcode = 'text' | 'binary';

/** Injected collaborators (STYLE §2, §8). */
export interface WebSocketComponents {
  role: WebSocketRole;
  /** Current time in ms (any monotonic origin), used for the first heartbeat deadline. */
  now: number;
  /**
   * Fill `buf` (4 bytes) with a fresh masking key. Required for clients: RFC 6455 §5.3 says
   * the key MUST be unpredictable, so pass a strong source such as `crypto.randomFillSync`.
   */
  randomMask?: (buf: Uint8Array) => void;
}

export interface WebSocketConnectionOptions {
  /** Receive limits; see `WebSocketLimits`. */
  limits?: Partial<WebSocketLimits>;
  /** Extensions agreed in the handshake. */
  extensions?: { perMessageDeflate: boolean };
  /**
   * `send`/`sendText`/`ping`/`pong`/`close` return false once `bufferedAmount` reaches this
   * many bytes (the data is still queued); the caller should wait for the transport to drain.
   * @default 65536
   */
  highWaterMark?: number;
  /**
   * Split outgoing messages into frames of at most this many payload bytes (§5.4).
   * @default undefined (each message is one frame)
   */
  maxOutgoingFrameSize?: number;
  /**
   * Send a heartbeat ping this often while open.
   * @default undefined (no heartbeat)
   */
  pingIntervalMs?: number;
  /**
   * After a heartbeat ping, a pong must arrive within this time, else the core reports
   * `{ type: 'timeout', reason: 'pong' }` and closes abnormally (1006).
   * @default pingIntervalMs
   */
  pongTimeoutMs?: number;
  /**
   * The peer must answer our Close frame within this time (else `timeout`, 1006); a client
   * that completed the handshake closes the transport itself after this time if the server
   * has not (§7.1.1). Same default as ws.
   * @default 30000
   */
  closeTimeoutMs?: number;
  /**
   * Answer pings automatically (§5.5.2). Only the most recent ping is answered when several
   * arrive before `takeOutput()` (§5.5.3 allows it).
   * @default true
   */
  autoPong?: boolean;
}

export type WsEvent =
  | Readonly<{ type: 'message'; opcode: DataOpcode; compressed: false; data: Uint8Array }>
  | Readonly<{
      type: 'message';
      opcode: DataOpcode;
      compressed: true;
      /** Raw payload pieces of the whole message in order (still compressed). */
      data: readonly Uint8Array[];
    }>
  | Readonly<{ type: 'ping'; data: Uint8Array }>
  | Readonly<{ type: 'pong'; data: Uint8Array }>
  | Readonly<{ type: 'close-received'; code: number; reason: string }>
  | Readonly<{ type: 'closed'; code: number; reason: string; wasClean: boolean }>
  | Readonly<{ type: 'error'; error: WebSocketError }>
  | Readonly<{ type: 'timeout'; reason: 'pong' | 'close' }>;

const EMPTY = new Uint8Array(0);
/** Set by WebSocketConnection's static block (the sink reaches its private handlers). */
let makeSink: (c: WebSocketConnection) => FrameSink;
const MAX_CONTROL_PAYLOAD = 125;
/** Unmasked data frames up to this payload size are sent as one copied buffer. */
const COPY_FRAME_BELOW = 2048;
/** takeOutput() with nothing queued (never mutated). */
const NO_OUTPUT: Uint8Array[] = [];
const MAX_TIMEOUT_MS = 2_147_483_647;

/** Pieces shorter than this are copied together instead of being kept as subarrays. */
const COALESCE_BELOW = 1024;
const MAX_SCRATCH = 16384;

/**
 * The payload of the message being assembled. Large pieces stay zero-copy subarrays of the
 * input; small ones after the first are coalesced so a message fed byte by byte does not
 * become millions of tiny arrays.
 */
class MessagePieces {
  list: Uint8Array[] = [];
  size = 0;
  #scratch: Uint8Array | null = null;
  #start = 0;
  #used = 0;

  push(chunk: Uint8Array): void {
    const n = chunk.length;
    this.size += n;
    if (n >= COALESCE_BELOW || (this.list.length === 0 && this.#scratch === null)) {
      this.#flush();
      this.list.push(chunk);
      return;
    }
    let s = this.#scratch;
    if (s === null || this.#used + n > s.length) {
      this.#flush();
      s = this.#scratch = new Uint8Array(Math.max(256, Math.min(MAX_SCRATCH, this.size)));
      this.#start = this.#used = 0;
    }
    s.set(chunk, this.#used);
    this.#used += n;
  }

  take(): Uint8Array[] {
    this.#flush();
    const out = this.list;
    this.list = [];
    this.size = 0;
    this.#scratch = null;
    return out;
  }

  #flush(): void {
    if (this.#scratch !== null && this.#used > this.#start) {
      this.list.push(this.#scratch.subarray(this.#start, this.#used));
      this.#start = this.#used;
    }
  }
}

function concat(list: Uint8Array[], size: number): Uint8Array {
  if (list.length === 1) return list[0]!;
  if (list.length === 0) return EMPTY;
  const out = new Uint8Array(size);
  let at = 0;
  for (const piece of list) {
    out.set(piece, at);
    at += piece.length;
  }
  return out;
}

function checkMs(name: string, v: number | undefined): void {
  if (v !== undefined && (!Number.isSafeInteger(v) || v < 1 || v > MAX_TIMEOUT_MS)) {
    throw new InvalidOptionError(
      `unsupported ${name}: ${String(v)}, use an integer number of ms in 1..${MAX_TIMEOUT_MS}`,
    );
  }
}

export class WebSocketConnection {
  readonly #client: boolean;
  readonly #randomMask: ((buf: Uint8Array) => void) | undefined;
  readonly #limits: Readonly<WebSocketLimits>;
  readonly #deflate: boolean;
  readonly #highWaterMark: number;
  readonly #maxOutgoingFrameSize: number | undefined;
  readonly #pingIntervalMs: number | undefined;
  readonly #pongTimeoutMs: number | undefined;
  readonly #closeTimeoutMs: number;
  readonly #autoPong: boolean;
  readonly #parser: FrameParser;

  #state: WebSocketState = WebSocketState.OPEN;
  #now: number;
  #events: WsEvent[] = [];

  #out: Uint8Array[] = [];
  #buffered = 0;
  /** Index in `#out` of an automatic pong not yet taken (replaced by a newer ping's). */
  #pongSlot = -1;

  // The frame being received.
  #control = false;
  #frameOpcode = 0;
  #frameFin = false;
  /** Payload of the control frame being read (allocated with the first one). */
  #controlBuf: Uint8Array | undefined;
  #controlLen = 0;

  // The message being received (opcode 0 = none).
  #msgOpcode = 0;
  #msgCompressed = false;
  #msgFrames = 0;
  readonly #pieces = new MessagePieces();
  readonly #utf8 = new Utf8Validator();

  #shouldCloseTransport = false;
  #transportClosed = false;
  #pingDue: number | undefined;
  #pongDeadline: number | undefined;
  #closeDeadline: number | undefined;
  #transportDeadline: number | undefined;

  constructor(components: WebSocketComponents, options: WebSocketConnectionOptions = {}) {
    const { role, now, randomMask } = components;
    if (role !== 'client' && role !== 'server') {
      throw new InvalidOptionError(`unsupported role: ${String(role)}, use 'client' or 'server'`);
    }
    if (role === 'client' && typeof randomMask !== 'function') {
      throw new InvalidOptionError(
        'a client needs randomMask (RFC 6455 §5.3), e.g. (b) => crypto.randomFillSync(b)',
      );
    }
    if (!Number.isFinite(now)) throw new InvalidOptionError('components.now must be a number');
    this.#client = role === 'client';
    this.#randomMask = randomMask;
    this.#now = now;
    this.#limits = resolveWebSocketLimits(options.limits);
    this.#deflate = options.extensions?.perMessageDeflate === true;
    this.#highWaterMark = options.highWaterMark ?? 65536;
    if (!Number.isSafeInteger(this.#highWaterMark) || this.#highWaterMark < 1) {
      throw new InvalidOptionError('unsupported highWaterMark, use a positive integer');
    }
    const mof = options.maxOutgoingFrameSize;
    if (mof !== undefined && (!Number.isSafeInteger(mof) || mof < 1)) {
      throw new InvalidOptionError('unsupported maxOutgoingFrameSize, use a positive integer');
    }
    this.#maxOutgoingFrameSize = mof;
    checkMs('pingIntervalMs', options.pingIntervalMs);
    checkMs('pongTimeoutMs', options.pongTimeoutMs);
    checkMs('closeTimeoutMs', options.closeTimeoutMs);
    this.#pingIntervalMs = options.pingIntervalMs;
    this.#pongTimeoutMs = options.pongTimeoutMs ?? options.pingIntervalMs;
    this.#closeTimeoutMs = options.closeTimeoutMs ?? 30_000;
    this.#autoPong = options.autoPong ?? true;
    if (this.#pingIntervalMs !== undefined) this.#pingDue = now + this.#pingIntervalMs;
    this.#parser = new FrameParser(makeSink(this));
  }

  static {
    // One small object per connection forwards the parser's callbacks to the private
    // handlers (instead of four closures and their context): idle connections are many.
    class Sink implements FrameSink {
      readonly #c: WebSocketConnection;
      constructor(c: WebSocketConnection) {
        this.#c = c;
      }
      onHeader(fin: boolean, rsv: number, opcode: number, masked: boolean, length: number) {
        return this.#c.#onHeader(fin, rsv, opcode, masked, length);
      }
      onPayload(chunk: Uint8Array): boolean {
        return this.#c.#onPayload(chunk);
      }
      onFrameEnd(): boolean {
        return this.#c.#onFrameEnd();
      }
      onError(error: WebSocketError): void {
        this.#c.#fail(error);
      }
    }
    makeSink = (c) => new Sink(c);
  }

  get role(): WebSocketRole {
    return this.#client ? 'client' : 'server';
  }

  get state(): WebSocketState {
    return this.#state;
  }

  /** True while data and control frames may be sent (state OPEN). */
  get canSend(): boolean {
    return this.#state === WebSocketState.OPEN;
  }

  /** Bytes queued for the transport and not yet taken with `takeOutput()`. */
  get bufferedAmount(): number {
    return this.#buffered;
  }

  /**
   * True when the binding should end the transport once the output is flushed: a server
   * after the close handshake (§7.1.1), either side after a failure or timeout, a client
   * whose server did not close within `closeTimeoutMs`.
   */
  get shouldCloseTransport(): boolean {
    return this.#shouldCloseTransport && !this.#transportClosed;
  }

  /**
   * Parse received bytes. `bytes` may be unmasked in place and message data may be
   * subarrays of it: hand over a buffer you will not reuse (socket chunks qualify).
   */
  receive(bytes: Uint8Array, now: number): WsEvent[] {
    this.#now = now;
    const events: WsEvent[] = (this.#events = []);
    if (this.#state !== WebSocketState.CLOSED) this.#parser.execute(bytes);
    return events;
  }

  /**
   * Queue a data message. The payload is not copied (server, above 2 KiB) or is copied
   * with its header (server, smaller) or masked into a copy (client); do not modify it until `takeOutput()` hands it on. `compressed` sets RSV1 on
   * the first frame (the payload must already be deflated; RFC 7692 §6).
   * Returns false when `bufferedAmount` reached the high-water mark.
   * @throws WebSocketError SEND_AFTER_CLOSE unless `canSend`.
   */
  send(opcode: DataOpcode, payload: Uint8Array, options?: { compressed?: boolean }): boolean {
    this.#transition('send-data');
    const op = opcode === 'text' ? Opcode.TEXT : opcode === 'binary' ? Opcode.BINARY : -1;
    if (op < 0)
      throw this.#argError(`unsupported opcode ${String(opcode)}, use 'text' or 'binary'`);
    let rsv = 0;
    if (options?.compressed) {
      if (!this.#deflate) throw this.#argError('compressed send without perMessageDeflate');
      rsv = RSV1;
    }
    const n = payload.length;
    const max = this.#maxOutgoingFrameSize;
    if (max === undefined || n <= max) {
      this.#queueFrame(true, rsv, op, payload);
    } else {
      for (let off = 0; off < n; off += max) {
        const end = Math.min(n, off + max);
        const first = off === 0;
        this.#queueFrame(end === n, first ? rsv : 0, first ? op : 0, payload.subarray(off, end));
      }
    }
    return this.#buffered < this.#highWaterMark;
  }

  /** Queue a text message (encoded as UTF-8). */
  sendText(text: string): boolean {
    return this.send('text', Buffer.from(text, 'utf8'));
  }

  /** Queue a ping (payload ≤ 125 bytes, §5.5). */
  ping(data: Uint8Array = EMPTY): boolean {
    this.#transition('send-control');
    this.#queueControl(Opcode.PING, this.#checkControl(data));
    return this.#buffered < this.#highWaterMark;
  }

  /** Queue an unsolicited pong (a unidirectional heartbeat, §5.5.3). */
  pong(data: Uint8Array = EMPTY): boolean {
    this.#transition('send-control');
    this.#queueControl(Opcode.PONG, this.#checkControl(data));
    return this.#buffered < this.#highWaterMark;
  }

  /**
   * Start the close handshake (§5.5.1, §7.1.2). Without a code the Close frame is empty
   * (the peer sees 1005). Does nothing once closing. The peer must answer within
   * `closeTimeoutMs` (measured from the last `now` the core saw).
   */
  close(code?: number, reason = ''): boolean {
    if (this.#state !== WebSocketState.OPEN) return false;
    const payload = this.#closePayload(code, reason);
    this.#transition('send-close');
    this.#queueControl(Opcode.CLOSE, payload);
    this.#pingDue = this.#pongDeadline = undefined;
    this.#closeDeadline = this.#now + this.#closeTimeoutMs;
    return this.#buffered < this.#highWaterMark;
  }

  /**
   * Fail the connection (§7.1.7) on the binding's behalf, e.g. 1007 when an inflated text
   * message is not UTF-8 or 1009 when it inflates too large: queue a Close frame with
   * `code` (unless one was sent already) and close. Returns the `closed` event.
   */
  fail(code: number, reason = ''): WsEvent[] {
    const payload = this.#closePayload(code, reason);
    const events: WsEvent[] = (this.#events = []);
    if (this.#state === WebSocketState.CLOSED) return events;
    if (this.#state === WebSocketState.OPEN) this.#queueControl(Opcode.CLOSE, payload);
    this.#transition('error');
    this.#emit({ type: 'closed', code, reason, wasClean: false });
    this.#finish(false);
    return events;
  }

  /** Hand over everything queued for the transport (header and payload pieces). */
  takeOutput(): Uint8Array[] {
    if (this.#out.length === 0) return NO_OUTPUT;
    const out = this.#out;
    this.#out = [];
    this.#buffered = 0;
    this.#pongSlot = -1;
    return out;
  }

  /** The earliest deadline at which `handleTimeout` must be called, if any. */
  nextTimeout(): number | undefined {
    // Four comparisons, no array: the binding asks after every message.
    let t = this.#pingDue;
    const pong = this.#pongDeadline;
    if (pong !== undefined && (t === undefined || pong < t)) t = pong;
    const close = this.#closeDeadline;
    if (close !== undefined && (t === undefined || close < t)) t = close;
    const transport = this.#transportDeadline;
    if (transport !== undefined && (t === undefined || transport < t)) t = transport;
    return t;
  }

  /** Run the deadlines due at `now`: heartbeat ping, pong timeout, close timeout. */
  handleTimeout(now: number): WsEvent[] {
    this.#now = now;
    const events: WsEvent[] = (this.#events = []);
    if (this.#transportDeadline !== undefined && now >= this.#transportDeadline) {
      // §7.1.1: the client MAY close the connection if the server has not in time.
      this.#transportDeadline = undefined;
      this.#shouldCloseTransport = true;
    }
    if (this.#closeDeadline !== undefined && now >= this.#closeDeadline) {
      this.#timeout('close', 'CLOSE_TIMEOUT', 'no Close frame from the peer in time');
    } else if (this.#pongDeadline !== undefined && now >= this.#pongDeadline) {
      this.#timeout('pong', 'PONG_TIMEOUT', 'no pong in time');
    } else if (this.#pingDue !== undefined && now >= this.#pingDue) {
      this.#pingDue = now + this.#pingIntervalMs!;
      if (this.#pongDeadline === undefined && this.#state === WebSocketState.OPEN) {
        this.#queueControl(Opcode.PING, EMPTY);
        this.#pongDeadline = now + this.#pongTimeoutMs!;
      }
    }
    return events;
  }

  /** The transport ended (either side). Reports `closed` (1006) unless already closed. */
  handleTransportClose(): WsEvent[] {
    const events: WsEvent[] = (this.#events = []);
    this.#transportClosed = true;
    this.#transportDeadline = undefined;
    if (this.#state !== WebSocketState.CLOSED) {
      this.#transition('transport-closed');
      this.#emit({
        type: 'closed',
        code: CloseCode.ABNORMAL_CLOSURE,
        reason: '',
        wasClean: false,
      });
      this.#finish(false);
    }
    return events;
  }

  // ── receiving ────────────────────────────────────────────────────────────────────────

  #onHeader(fin: boolean, rsv: number, opcode: number, masked: boolean, length: number): boolean {
    // §5.1: a server MUST close on an unmasked frame, a client on a masked one.
    if (this.#client === masked) {
      return this.#error(
        this.#client ? 'MASKED_FRAME' : 'UNMASKED_FRAME',
        this.#client ? 'a server frame was masked' : 'a client frame was not masked',
      );
    }
    if (opcode >= 0x8) {
      // §5.2: opcodes 0xB-0xF are reserved → fail.
      if (opcode > Opcode.PONG) return this.#error('UNKNOWN_OPCODE', `opcode ${opcode}`);
      // §5.2 RSV without extension; RFC 7692 §6: RSV1 never on control frames.
      if (rsv !== 0) return this.#error('RESERVED_BITS', 'RSV bits on a control frame');
      // §5.5: control frames MUST NOT be fragmented and MUST have ≤ 125 payload bytes.
      if (!fin) return this.#error('FRAGMENTED_CONTROL_FRAME', 'control frame without FIN');
      if (length > MAX_CONTROL_PAYLOAD) {
        return this.#error('CONTROL_FRAME_TOO_LONG', `control payload of ${length} bytes`);
      }
      this.#control = true;
      this.#frameOpcode = opcode;
      this.#controlLen = 0;
      return true;
    }
    // §5.2: opcodes 0x3-0x7 are reserved → fail.
    if (opcode > Opcode.BINARY) return this.#error('UNKNOWN_OPCODE', `opcode ${opcode}`);
    // §5.2: RSV bits MUST be 0 unless an extension defines them.
    if (rsv & (RSV2 | RSV3)) return this.#error('RESERVED_BITS', 'RSV2/RSV3 set');
    if (rsv & RSV1) {
      if (!this.#deflate) return this.#error('RESERVED_BITS', 'RSV1 set without an extension');
      // RFC 7692 §6.1: RSV1 only on the first frame of a message.
      if (opcode === Opcode.CONTINUATION) {
        return this.#error('RESERVED_BITS', 'RSV1 on a continuation frame');
      }
    }
    if (opcode === Opcode.CONTINUATION) {
      // §5.4: a continuation needs a message in progress.
      if (this.#msgOpcode === 0) {
        return this.#error('UNEXPECTED_CONTINUATION', 'continuation without a message');
      }
    } else {
      // §5.4: fragments of one message MUST NOT be interleaved with another.
      if (this.#msgOpcode !== 0) {
        return this.#error('EXPECTED_CONTINUATION', 'new message inside a fragmented one');
      }
      this.#msgOpcode = opcode;
      this.#msgCompressed = (rsv & RSV1) !== 0;
      this.#msgFrames = 0;
      this.#utf8.reset();
    }
    if (length > this.#limits.maxFrameSize) {
      return this.#error('FRAME_TOO_LARGE', `frame of ${length} bytes`);
    }
    if (this.#pieces.size + length > this.#limits.maxPayload) {
      return this.#error('MESSAGE_TOO_LARGE', `message over ${this.#limits.maxPayload} bytes`);
    }
    if (++this.#msgFrames > this.#limits.maxFragments) {
      return this.#error('TOO_MANY_FRAGMENTS', `more than ${this.#limits.maxFragments} frames`);
    }
    this.#control = false;
    this.#frameFin = fin;
    return true;
  }

  #onPayload(chunk: Uint8Array): boolean {
    if (this.#control) {
      (this.#controlBuf ??= new Uint8Array(MAX_CONTROL_PAYLOAD)).set(chunk, this.#controlLen);
      this.#controlLen += chunk.length;
      return true;
    }
    // §8.1: fail as soon as text turns out not to be UTF-8 (not only at message end).
    if (this.#msgOpcode === Opcode.TEXT && !this.#msgCompressed && this.#utf8.update(chunk) >= 0) {
      return this.#error('INVALID_UTF8', 'text message is not valid UTF-8');
    }
    this.#pieces.push(chunk);
    return true;
  }

  #onFrameEnd(): boolean {
    if (this.#control) return this.#onControl();
    if (!this.#frameFin) return true;
    const opcode: DataOpcode = this.#msgOpcode === Opcode.TEXT ? 'text' : 'binary';
    const compressed = this.#msgCompressed;
    if (opcode === 'text' && !compressed && !this.#utf8.end()) {
      return this.#error('INVALID_UTF8', 'text message ends inside a UTF-8 sequence');
    }
    this.#msgOpcode = 0;
    const size = this.#pieces.size;
    const pieces = this.#pieces.take();
    this.#transition('receive-frame');
    if (compressed) {
      this.#emit({ type: 'message', opcode, compressed: true, data: Object.freeze(pieces) });
    } else {
      this.#emit({ type: 'message', opcode, compressed: false, data: concat(pieces, size) });
    }
    return true;
  }

  #onControl(): boolean {
    const data = this.#controlBuf?.slice(0, this.#controlLen) ?? new Uint8Array(0);
    switch (this.#frameOpcode) {
      case Opcode.PING:
        this.#emit({ type: 'ping', data });
        // §5.5.2: answer with a Pong carrying the same data, unless we are closing.
        if (this.#autoPong && this.#state === WebSocketState.OPEN) {
          this.#queueControl(Opcode.PONG, data, true);
        }
        return true;
      case Opcode.PONG:
        this.#pongDeadline = undefined;
        this.#emit({ type: 'pong', data });
        return true;
      default:
        return this.#onClose(data);
    }
  }

  #onClose(payload: Uint8Array): boolean {
    let code: number = CloseCode.NO_STATUS_RECEIVED;
    let reason = '';
    // §5.5.1: a body, if present, starts with a 2-byte code.
    if (payload.length === 1) return this.#error('INVALID_CLOSE_PAYLOAD', '1-byte Close payload');
    if (payload.length >= 2) {
      code = (payload[0]! << 8) | payload[1]!;
      // §7.4: only codes an endpoint may send are accepted.
      if (!isValidCloseCode(code)) return this.#error('INVALID_CLOSE_CODE', `close code ${code}`);
      const text = payload.subarray(2);
      // §5.5.1: the reason is UTF-8; §8.1 → 1007.
      if (!isValidUtf8(text)) return this.#error('INVALID_UTF8', 'close reason is not UTF-8');
      reason = decodeUtf8(text);
    }
    this.#emit({ type: 'close-received', code, reason });
    if (this.#state === WebSocketState.OPEN) {
      // §5.5.1: reply with a Close frame, echoing the code.
      const echo = code === CloseCode.NO_STATUS_RECEIVED ? EMPTY : payload.subarray(0, 2);
      this.#queueControl(Opcode.CLOSE, echo);
    }
    this.#transition('receive-close');
    this.#emit({ type: 'closed', code, reason, wasClean: true });
    this.#finish(true);
    return false;
  }

  // ── closing ──────────────────────────────────────────────────────────────────────────

  #error(kind: WebSocketErrorKind, message: string): false {
    this.#fail(new WebSocketError(kind, message));
    return false;
  }

  /** §7.1.7 Fail the WebSocket Connection: send a Close (if we still may) and close. */
  #fail(error: WebSocketError): void {
    if (this.#state === WebSocketState.CLOSED) return;
    this.#emit({ type: 'error', error });
    if (this.#state === WebSocketState.OPEN) {
      this.#queueControl(Opcode.CLOSE, this.#closePayload(error.wireCode, ''));
    }
    this.#transition('error');
    this.#emit({ type: 'closed', code: error.wireCode, reason: '', wasClean: false });
    this.#finish(false);
  }

  #timeout(reason: 'pong' | 'close', kind: WebSocketErrorKind, message: string): void {
    this.#emit({ type: 'timeout', reason });
    this.#emit({ type: 'error', error: new WebSocketError(kind, message) });
    // An unresponsive peer: no Close frame, just drop the transport (1006, §7.1.5).
    this.#transition('timeout');
    this.#emit({ type: 'closed', code: CloseCode.ABNORMAL_CLOSURE, reason: '', wasClean: false });
    this.#finish(false);
  }

  #finish(clean: boolean): void {
    this.#parser.stop();
    this.#pingDue = this.#pongDeadline = this.#closeDeadline = undefined;
    this.#msgOpcode = 0;
    this.#pieces.take();
    // §7.1.1: the server closes the TCP connection first; the client waits for it.
    if (!this.#client || !clean) this.#shouldCloseTransport = true;
    else if (!this.#transportClosed) this.#transportDeadline = this.#now + this.#closeTimeoutMs;
  }

  #closePayload(code: number | undefined, reason: string): Uint8Array {
    if (code === undefined) {
      if (reason !== '') throw this.#argError('a close reason needs a code');
      return EMPTY;
    }
    // §7.4.1: 1004-1006 and 1015 MUST NOT be sent.
    if (!Number.isInteger(code) || !isValidCloseCode(code)) {
      throw this.#argError(
        `close code ${code} may not be sent, use 1000-1003, 1007-1014, 3000-4999`,
      );
    }
    const text = Buffer.from(reason, 'utf8');
    // §5.5: control payload ≤ 125 bytes, 2 of them for the code.
    if (text.length > MAX_CONTROL_PAYLOAD - 2) throw this.#argError('close reason over 123 bytes');
    const out = new Uint8Array(2 + text.length);
    out[0] = code >>> 8;
    out[1] = code & 0xff;
    out.set(text, 2);
    return out;
  }

  // ── sending ──────────────────────────────────────────────────────────────────────────

  #checkControl(data: Uint8Array): Uint8Array {
    if (data.length > MAX_CONTROL_PAYLOAD) throw this.#argError('control payload over 125 bytes');
    return data;
  }

  #argError(message: string): WebSocketError {
    return new WebSocketError('INVALID_ARGUMENT', message);
  }

  #transition(input: WebSocketInput): void {
    const next = nextState(this.#state, input);
    if (next === undefined) {
      throw new WebSocketError('SEND_AFTER_CLOSE', `${input} in state ${this.#state}`);
    }
    this.#state = next;
  }

  #emit(event: WsEvent): void {
    this.#events.push(Object.freeze(event));
  }

  #push(buf: Uint8Array): void {
    this.#out.push(buf);
    this.#buffered += buf.length;
  }

  #queueFrame(fin: boolean, rsv: number, opcode: number, payload: Uint8Array): void {
    const n = payload.length;
    if (this.#client) {
      // §5.3: a fresh key per frame; the payload is masked into a new buffer.
      const out = new Uint8Array(frameHeaderSize(n, true) + n);
      const at = writeHeader(out, fin, rsv, opcode, n, true);
      const key = out.subarray(at, at + 4);
      this.#randomMask!(key);
      out.set(payload, at + 4);
      applyMask(out.subarray(at + 4), key, 0);
      this.#push(out);
      return;
    }
    if (n <= COPY_FRAME_BELOW) {
      // Small frames go out as one buffer: copying a few KiB costs less than a second
      // chunk in the transport's gather write. allocUnsafe slices node's shared pool.
      const out = Buffer.allocUnsafe(frameHeaderSize(n, false) + n);
      out.set(payload, writeHeader(out, fin, rsv, opcode, n, false));
      this.#push(out);
      return;
    }
    const header = new Uint8Array(frameHeaderSize(n, false));
    writeHeader(header, fin, rsv, opcode, n, false);
    this.#push(header);
    this.#push(payload);
  }

  /** A control frame as one buffer (its payload is at most 125 bytes and is copied). */
  #controlFrame(opcode: number, payload: Uint8Array): Uint8Array {
    const n = payload.length;
    const out = new Uint8Array(frameHeaderSize(n, this.#client) + n);
    let at = writeHeader(out, true, 0, opcode, n, this.#client);
    if (this.#client) {
      const key = out.subarray(at, at + 4);
      this.#randomMask!(key);
      at += 4;
      out.set(payload, at);
      applyMask(out.subarray(at), key, 0);
    } else {
      out.set(payload, at);
    }
    return out;
  }

  #queueControl(opcode: number, payload: Uint8Array, autoPong = false): void {
    const frame = this.#controlFrame(opcode, payload);
    if (autoPong && this.#pongSlot >= 0) {
      // §5.5.3: only the most recent ping needs an answer; replace the unsent pong.
      this.#buffered += frame.length - this.#out[this.#pongSlot]!.length;
      this.#out[this.#pongSlot] = frame;
      return;
    }
    if (autoPong) this.#pongSlot = this.#out.length;
    this.#push(frame);
  }
}
