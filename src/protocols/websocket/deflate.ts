/**
 * permessage-deflate (RFC 7692): parameter negotiation and per-message compression.
 *
 * Negotiation (RFC 7692 §7.1) is pure: `negotiateDeflate` (server: picks the first acceptable
 * offer), `createDeflateOffer` and `acceptDeflateResponse` (client). `PerMessageDeflate`
 * compresses and decompresses whole messages with node:zlib raw DEFLATE streams.
 *
 * Window bits 8. zlib cannot deflate with a 256-byte window: node:zlib silently turns
 * `windowBits: 8` into 9 for raw deflate. That is still correct for a peer that agreed to 8,
 * because zlib never emits a distance above `w_size - 262` (250 with a 512-byte window), so
 * every stream fits a 256-byte window. ws accepts 8 in offers and responses and compresses
 * this way, so we do the same: 8 is negotiated like any other value and we deflate with 9;
 * we inflate with the agreed value (zlib's inflate supports 8).
 *
 * Memory. A deflate context costs (1 << (windowBits + 2)) + (1 << (memLevel + 9)) bytes
 * (256 KiB at 15/8) and an inflate context about 1 << windowBits (32 KiB) plus 7 KiB. ws's
 * most common complaint is RSS growth and fragmentation from one pair per connection kept
 * forever. So by default (`lazyContexts: true`) contexts are created on the first message
 * that needs them, released after each message when the direction has no context takeover,
 * and the deflater (whose window is optional: the peer keeps its own, so starting afresh is
 * always valid) is released by `sweepIdle()` when no message was compressed since the
 * previous sweep. An inflater with context takeover is never released: the peer may refer to
 * its window in the next message. All zlib work goes through a `ZlibLimiter` (default: the
 * process-wide one, concurrency 10).
 *
 * Measured (node 20.20, glibc, /tmp/rss-deflate.mjs under --expose-gc: 1,000 server-side
 * instances, each compressed and decompressed one 15 KB JSON message, concurrency 10; RSS
 * growth over the baseline after GC):
 *
 * | mode                                              | RSS growth | per instance | contexts |
 * | ------------------------------------------------- | ---------- | ------------ | -------- |
 * | eager contexts kept forever (ws's model)          | 294 MiB    | 301 KiB      | 2000     |
 * | lazy (default), context takeover both ways        | 296 MiB    | 303 KiB      | 2000     |
 * | lazy, after two `sweepIdle()` (deflaters freed)   | 296 MiB    | 303 KiB      | 1000     |
 * | lazy, serverNoContextTakeover                     | 76 MiB     | 78 KiB       | 1000     |
 * | lazy, no context takeover both ways               | 41 MiB     | 42 KiB       | 0        |
 * | eager, never used                                 | 20 MiB     | 21 KiB       | 2000     |
 * | lazy, never used                                  | 5 MiB      | 5 KiB        | 0        |
 *
 * Freed zlib memory is not handed back to the OS (glibc keeps the fragmented heap: the
 * swept row), but it is reused: contexts released after each message never add up beyond
 * the limiter's concurrency, which is why the no-takeover rows stay small. Hence the
 * defaults: lazy contexts on (nothing is allocated for connections that never compress, and
 * no-takeover directions hold no context between messages); context takeover is allowed as
 * ws does (better ratio); servers short of memory set `serverNoContextTakeover: true`
 * (301 → 78 KiB per busy connection) or also `clientNoContextTakeover` (→ 42 KiB).
 *
 * Defaults: `threshold` 1024 bytes (ws's: below it the frame header and CPU cost outweigh
 * the savings), zlib level 6 (`Z_DEFAULT_COMPRESSION`), memLevel 8, window bits 15 unless
 * negotiated lower, lazy contexts on.
 */
import zlib from 'node:zlib';
import { InvalidOptionError, ProtocolError } from '../../errors.js';
import type { Initiator } from '../../errors.js';
import type { ExtensionOffer } from './extensions.js';
import { defaultZlibLimiter } from './zlib-limiter.js';
import type { ZlibLimiter } from './zlib-limiter.js';

export const PERMESSAGE_DEFLATE = 'permessage-deflate';

/** Options for negotiating and running permessage-deflate. */
export interface PerMessageDeflateOptions {
  /**
   * Server: always ask ourselves not to take over context (answered even when not offered).
   * Client: offer `server_no_context_takeover` (the server must then reset its context).
   * @default false
   */
  serverNoContextTakeover?: boolean;
  /**
   * Server: require the client to reset its context after each message.
   * Client: offer `client_no_context_takeover` (we then reset ours).
   * @default false
   */
  clientNoContextTakeover?: boolean;
  /**
   * Server: largest window we compress with; offers asking for less are honoured.
   * Client: offered as `server_max_window_bits` when set. 8–15.
   * @default 15
   */
  serverMaxWindowBits?: number;
  /**
   * Server: largest window we let the client use (offers without `client_max_window_bits`
   * are declined when this is below 15, since the client cannot be limited).
   * Client: offered as `client_max_window_bits=N`; when unset, offered without a value.
   * 8–15.
   * @default 15
   */
  clientMaxWindowBits?: number;
  /**
   * Messages shorter than this (bytes) are sent uncompressed (`shouldCompress`).
   * @default 1024
   */
  threshold?: number;
  /**
   * zlib compression level, -1 (zlib's default, 6) to 9.
   * @default -1
   */
  level?: number;
  /**
   * zlib memLevel, 1–9: the deflate hash table costs 1 << (memLevel + 9) bytes.
   * @default 8
   */
  memLevel?: number;
  /**
   * Create zlib contexts on first use and release them when they cannot be reused (no context
   * takeover) or are idle (`sweepIdle`). False keeps both contexts from construction to
   * `close()`.
   * @default true
   */
  lazyContexts?: boolean;
  /**
   * zlib output chunk size: decompression checks `maxSize` once per chunk, so a bomb is
   * stopped at most this many bytes past the limit.
   * @default 16384
   */
  chunkSize?: number;
  /** Limiter shared across connections. @default defaultZlibLimiter (concurrency 10) */
  limiter?: ZlibLimiter;
}

/** The parameters both ends agreed on (absent window parameters are 15). */
export interface NegotiatedDeflate {
  readonly serverNoContextTakeover: boolean;
  readonly clientNoContextTakeover: boolean;
  readonly serverMaxWindowBits: number;
  readonly clientMaxWindowBits: number;
}

export const DeflateErrorCodes = {
  /** A client received an unacceptable permessage-deflate response (RFC 7692 §5). */
  NEGOTIATION: ['GN_ERR_WS_DEFLATE_NEGOTIATION', 1002],
  /** The inflated message exceeds maxSize (RFC 6455 §7.4.1: 1009 Message Too Big). */
  MESSAGE_TOO_BIG: ['GN_ERR_WS_MESSAGE_TOO_BIG', 1009],
  /** The compressed payload is not valid DEFLATE data (1007, as ws and browsers use). */
  INFLATE_FAILED: ['GN_ERR_WS_INFLATE_FAILED', 1007],
  /** zlib failed while compressing (1011 Internal Error). */
  DEFLATE_FAILED: ['GN_ERR_WS_DEFLATE_FAILED', 1011],
  /** The PerMessageDeflate was closed or destroyed. */
  CLOSED: ['GN_ERR_WS_DEFLATE_CLOSED', 1011],
} as const satisfies Record<string, readonly [string, number]>;

export type DeflateErrorKind = keyof typeof DeflateErrorCodes;

/** A permessage-deflate failure; `wireCode` is the WebSocket close code to send. */
export class DeflateError extends ProtocolError {
  readonly kind: DeflateErrorKind;

  constructor(kind: DeflateErrorKind, message: string, initiator: Initiator, cause?: unknown) {
    const [code, wire] = DeflateErrorCodes[kind];
    super(code, message, wire, initiator, cause === undefined ? undefined : { cause });
    this.kind = kind;
  }
}

// ---------------------------------------------------------------------------------------
// Negotiation (RFC 7692 §7.1)

interface ParsedParams {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number | undefined;
  /** `true`: present without a value (offers only). */
  clientMaxWindowBits: number | true | undefined;
}

// RFC 7692 §7.1.2.1/§7.1.2.2: a decimal integer 8–15 without leading zeroes.
const WINDOW_BITS = /^(?:8|9|1[0-5])$/;

/** Parses permessage-deflate parameters; returns a reason string when they are invalid. */
function parseParams(
  params: ExtensionOffer['params'],
  where: 'offer' | 'response',
): ParsedParams | string {
  const out: ParsedParams = {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: undefined,
    clientMaxWindowBits: undefined,
  };
  const seen = new Set<string>();
  for (const [name, value] of params) {
    // RFC 7692 §7: multiple parameters with the same name → decline (offer) / fail (response).
    if (seen.has(name)) return `duplicate parameter "${name}"`;
    seen.add(name);
    switch (name) {
      case 'server_no_context_takeover':
      case 'client_no_context_takeover':
        // RFC 7692 §7.1.1.1/§7.1.1.2: these parameters have no value.
        if (value !== true) return `"${name}" must not have a value`;
        if (name === 'server_no_context_takeover') out.serverNoContextTakeover = true;
        else out.clientNoContextTakeover = true;
        break;
      case 'server_max_window_bits':
        // RFC 7692 §7.1.2.1: always has a value.
        if (value === true || !WINDOW_BITS.test(value)) return `invalid "${name}"`;
        out.serverMaxWindowBits = Number(value);
        break;
      case 'client_max_window_bits':
        // RFC 7692 §7.1.2.2: an offer may omit the value; a response must carry one.
        if (value === true) {
          if (where === 'response') return `"${name}" needs a value in a response`;
          out.clientMaxWindowBits = true;
        } else {
          if (!WINDOW_BITS.test(value)) return `invalid "${name}"`;
          out.clientMaxWindowBits = Number(value);
        }
        break;
      default:
        // RFC 7692 §7: an unknown parameter → decline the offer / fail the connection.
        return `unknown parameter "${name}"`;
    }
  }
  return out;
}

function checkBits(name: string, v: number | undefined): void {
  if (v !== undefined && (!Number.isInteger(v) || v < 8 || v > 15)) {
    throw new InvalidOptionError(`Invalid ${name} ${v}: use an integer from 8 to 15`);
  }
}

function validateOptions(o: PerMessageDeflateOptions): void {
  checkBits('serverMaxWindowBits', o.serverMaxWindowBits);
  checkBits('clientMaxWindowBits', o.clientMaxWindowBits);
  if (o.threshold !== undefined && (!Number.isInteger(o.threshold) || o.threshold < 0)) {
    throw new InvalidOptionError(`Invalid threshold ${o.threshold}: use a byte count >= 0`);
  }
  if (o.level !== undefined && (!Number.isInteger(o.level) || o.level < -1 || o.level > 9)) {
    throw new InvalidOptionError(`Invalid level ${o.level}: use -1 (default) or 0–9`);
  }
  if (
    o.memLevel !== undefined &&
    (!Number.isInteger(o.memLevel) || o.memLevel < 1 || o.memLevel > 9)
  ) {
    throw new InvalidOptionError(`Invalid memLevel ${o.memLevel}: use 1–9`);
  }
  if (o.chunkSize !== undefined && (!Number.isInteger(o.chunkSize) || o.chunkSize < 64)) {
    throw new InvalidOptionError(`Invalid chunkSize ${o.chunkSize}: use at least 64 bytes`);
  }
}

/**
 * Server side: picks the first acceptable permessage-deflate offer (RFC 7692 §5: offers are
 * in the client's order of preference) and returns the agreed parameters and the response
 * element, or undefined when every offer is declined. Invalid offers (unknown or duplicate
 * parameters, bad values) are declined, as RFC 7692 §5 requires, not failed.
 */
export function negotiateDeflate(
  offers: readonly ExtensionOffer[],
  options: PerMessageDeflateOptions = {},
): { params: NegotiatedDeflate; response: ExtensionOffer } | undefined {
  validateOptions(options);
  for (const offer of offers) {
    if (offer.name !== PERMESSAGE_DEFLATE) continue;
    const p = parseParams(offer.params, 'offer');
    if (typeof p === 'string') continue;

    const response: Array<readonly [string, string | true]> = [];
    // RFC 7692 §7.1.1.1: accepting server_no_context_takeover means echoing it; a server
    // may also include it unasked.
    const serverNoCtx = p.serverNoContextTakeover || options.serverNoContextTakeover === true;
    if (serverNoCtx) response.push(['server_no_context_takeover', true]);
    // RFC 7692 §7.1.1.2: a server may include client_no_context_takeover in any response;
    // when the client offered it we echo it, which lets us drop our inflate context.
    const clientNoCtx = p.clientNoContextTakeover || options.clientNoContextTakeover === true;
    if (clientNoCtx) response.push(['client_no_context_takeover', true]);

    // RFC 7692 §7.1.2.1: accept with the same or a smaller value. Without it in the offer
    // we answer nothing and still compress with our own (smaller) window, which any
    // inflater with a larger window decodes.
    let serverBits = 15;
    if (p.serverMaxWindowBits !== undefined) {
      serverBits = Math.min(p.serverMaxWindowBits, options.serverMaxWindowBits ?? 15);
      response.push(['server_max_window_bits', String(serverBits)]);
    }

    // RFC 7692 §7.1.2.2: the response MUST NOT include client_max_window_bits unless the
    // offer did; a limit we need but cannot express means declining this offer.
    let clientBits = 15;
    const ourClient = options.clientMaxWindowBits;
    if (p.clientMaxWindowBits === undefined) {
      if (ourClient !== undefined && ourClient < 15) continue;
    } else {
      const offered = p.clientMaxWindowBits === true ? 15 : p.clientMaxWindowBits;
      clientBits = Math.min(offered, ourClient ?? 15);
      if (p.clientMaxWindowBits !== true || ourClient !== undefined) {
        response.push(['client_max_window_bits', String(clientBits)]);
      }
    }
    return {
      params: {
        serverNoContextTakeover: serverNoCtx,
        clientNoContextTakeover: clientNoCtx,
        serverMaxWindowBits: serverBits,
        clientMaxWindowBits: clientBits,
      },
      response: { name: PERMESSAGE_DEFLATE, params: response },
    };
  }
  return undefined;
}

/** Client side: the permessage-deflate offer for `options`. */
export function createDeflateOffer(options: PerMessageDeflateOptions = {}): ExtensionOffer {
  validateOptions(options);
  const params: Array<readonly [string, string | true]> = [];
  if (options.serverNoContextTakeover) params.push(['server_no_context_takeover', true]);
  if (options.clientNoContextTakeover) params.push(['client_no_context_takeover', true]);
  if (options.serverMaxWindowBits !== undefined) {
    params.push(['server_max_window_bits', String(options.serverMaxWindowBits)]);
  }
  // Without a value it tells the server we support the parameter (RFC 7692 §7.1.2.2).
  params.push([
    'client_max_window_bits',
    options.clientMaxWindowBits === undefined ? true : String(options.clientMaxWindowBits),
  ]);
  return { name: PERMESSAGE_DEFLATE, params };
}

/**
 * Client side: checks the server's permessage-deflate response against our offer and
 * returns the agreed parameters. Throws `DeflateError` (NEGOTIATION): RFC 7692 §5 requires
 * the client to fail the connection on an invalid response.
 */
export function acceptDeflateResponse(
  response: ExtensionOffer,
  options: PerMessageDeflateOptions = {},
): NegotiatedDeflate {
  const fail = (why: string): never => {
    throw new DeflateError('NEGOTIATION', `Invalid permessage-deflate response: ${why}`, 'remote');
  };
  const p = parseParams(response.params, 'response');
  if (typeof p === 'string') return fail(p);
  // RFC 7692 §7.1.1.1: a server accepts server_no_context_takeover by echoing it.
  if (options.serverNoContextTakeover && !p.serverNoContextTakeover) {
    return fail('server_no_context_takeover was offered but not accepted');
  }
  let serverBits = p.serverMaxWindowBits ?? 15;
  if (options.serverMaxWindowBits !== undefined) {
    // RFC 7692 §7.1.2.1: accepted by including it with the same or a smaller value.
    if (p.serverMaxWindowBits === undefined) {
      return fail('server_max_window_bits was offered but not accepted');
    }
    if (p.serverMaxWindowBits > options.serverMaxWindowBits) {
      return fail('server_max_window_bits is larger than offered');
    }
    serverBits = p.serverMaxWindowBits;
  }
  let clientBits = options.clientMaxWindowBits ?? 15;
  if (typeof p.clientMaxWindowBits === 'number') {
    // RFC 7692 §7.1.2.2: no larger than a value we offered.
    if (p.clientMaxWindowBits > clientBits)
      return fail('client_max_window_bits is larger than offered');
    clientBits = p.clientMaxWindowBits;
  }
  return {
    serverNoContextTakeover: p.serverNoContextTakeover,
    clientNoContextTakeover: p.clientNoContextTakeover,
    serverMaxWindowBits: serverBits,
    clientMaxWindowBits: clientBits,
  };
}

// ---------------------------------------------------------------------------------------
// Per-message compression (RFC 7692 §7.2)

const TRAILER = Buffer.from([0x00, 0x00, 0xff, 0xff]);
const EMPTY_BLOCK = [0x00];

export interface PerMessageDeflateStats {
  /** Live zlib contexts (0–2). */
  readonly contexts: number;
  readonly messagesCompressed: number;
  readonly messagesDecompressed: number;
  /** Total bytes produced by inflation, including output discarded when over maxSize. */
  readonly bytesInflated: number;
}

/**
 * Compresses and decompresses whole messages for one connection. `role` is our end:
 * a server compresses with the server_* parameters and inflates with the client_* ones.
 * Operations of one direction run in call order; both directions may run at once.
 */
export class PerMessageDeflate {
  readonly params: NegotiatedDeflate;
  readonly role: 'server' | 'client';
  readonly threshold: number;
  #level: number;
  #memLevel: number;
  #chunkSize: number;
  #lazy: boolean;
  #limiter: ZlibLimiter;
  #deflateBits: number;
  #inflateBits: number;
  #deflateNoCtx: boolean;
  #inflateNoCtx: boolean;
  #deflate: zlib.DeflateRaw | undefined;
  #inflate: zlib.InflateRaw | undefined;
  /** The window to seed the next inflater with after a peer ended its stream (BFINAL). */
  #inflateDictionary: Buffer | undefined;
  #deflateTail: Promise<unknown> = Promise.resolve();
  #inflateTail: Promise<unknown> = Promise.resolve();
  #deflateUsed = false;
  #closed = false;
  #destroyed = false;
  #inflateBroken: DeflateError | undefined;
  #compressed = 0;
  #decompressed = 0;
  #inflated = 0;
  #pendingReject = new Set<(err: DeflateError) => void>();
  /** Input bytes written to the current inflater (to see whether it stopped early). */
  #inflateIn = 0;

  constructor(
    role: 'server' | 'client',
    params: NegotiatedDeflate,
    options: PerMessageDeflateOptions = {},
  ) {
    validateOptions(options);
    checkBits('serverMaxWindowBits', params.serverMaxWindowBits);
    checkBits('clientMaxWindowBits', params.clientMaxWindowBits);
    this.role = role;
    this.params = params;
    this.threshold = options.threshold ?? 1024;
    this.#level = options.level ?? zlib.constants.Z_DEFAULT_COMPRESSION;
    this.#memLevel = options.memLevel ?? 8;
    this.#chunkSize = options.chunkSize ?? 16 * 1024;
    this.#lazy = options.lazyContexts ?? true;
    this.#limiter = options.limiter ?? defaultZlibLimiter;
    const server = role === 'server';
    const ownLimit = (server ? options.serverMaxWindowBits : options.clientMaxWindowBits) ?? 15;
    const agreedOwn = server ? params.serverMaxWindowBits : params.clientMaxWindowBits;
    // A smaller window than agreed is always decodable by the peer. 8 → 9: see the top.
    this.#deflateBits = Math.max(9, Math.min(agreedOwn, ownLimit));
    this.#inflateBits = server ? params.clientMaxWindowBits : params.serverMaxWindowBits;
    this.#deflateNoCtx = server ? params.serverNoContextTakeover : params.clientNoContextTakeover;
    this.#inflateNoCtx = server ? params.clientNoContextTakeover : params.serverNoContextTakeover;
    if (!this.#lazy) {
      this.#deflate = this.#createDeflate();
      this.#inflate = this.#createInflate();
    }
  }

  /** True when a message of `size` bytes should be compressed (at or above `threshold`). */
  shouldCompress(size: number): boolean {
    return size >= this.threshold;
  }

  /**
   * Compresses one whole message (RFC 7692 §7.2.1): raw DEFLATE, Z_SYNC_FLUSH, with the
   * trailing 00 00 ff ff removed. Rejects with a DeflateError (1011) on failure.
   */
  compress(data: Uint8Array, fin: true = true): Promise<Uint8Array> {
    if (fin !== true) {
      throw new InvalidOptionError('compress() takes whole messages: pass fin = true');
    }
    if (this.#closed) return Promise.reject(this.#closedError());
    const run = (): Promise<Uint8Array> => this.#limiter.run(() => this.#compressNow(data));
    const p = this.#deflateTail.then(run, run);
    this.#deflateTail = p.catch(() => undefined);
    return p;
  }

  /**
   * Decompresses one message from its frame payloads (RFC 7692 §7.2.2): appends
   * 00 00 ff ff and inflates, failing with MESSAGE_TOO_BIG (1009) as soon as the output
   * exceeds `maxSize` — the rest of the input is never inflated — or INFLATE_FAILED (1007).
   */
  decompress(fragments: readonly Uint8Array[], maxSize: number): Promise<Uint8Array> {
    if (this.#closed) return Promise.reject(this.#closedError());
    if (!(maxSize >= 0)) {
      throw new InvalidOptionError(`Invalid maxSize ${maxSize}: use a finite byte count`);
    }
    const run = (): Promise<Uint8Array> =>
      this.#limiter.run(() => this.#decompressNow(fragments, maxSize));
    const p = this.#inflateTail.then(run, run);
    this.#inflateTail = p.catch(() => undefined);
    return p;
  }

  /**
   * Releases contexts idle since the previous call (lazy mode): the deflater whenever no
   * message was compressed since the last sweep (the next message starts with an empty
   * window, which is always valid). The inflater is kept while the peer may take over
   * context. The binding calls this on a timer (e.g. every 30 s); returns how many contexts
   * were released.
   */
  sweepIdle(): number {
    if (!this.#lazy || this.#closed) return 0;
    let released = 0;
    if (this.#deflate !== undefined && !this.#deflateUsed && this.#deflateIdle) {
      this.#deflate.close();
      this.#deflate = undefined;
      released++;
    }
    this.#deflateUsed = false;
    return released;
  }

  stats(): PerMessageDeflateStats {
    return {
      contexts: (this.#deflate ? 1 : 0) + (this.#inflate ? 1 : 0),
      messagesCompressed: this.#compressed,
      messagesDecompressed: this.#decompressed,
      bytesInflated: this.#inflated,
    };
  }

  /** Waits for queued operations, then releases the zlib contexts. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([this.#deflateTail, this.#inflateTail]);
    this.#release();
  }

  /** Releases the zlib contexts now; pending operations reject with CLOSED. Idempotent. */
  destroy(): void {
    this.#closed = true;
    this.#destroyed = true;
    const err = this.#closedError();
    for (const reject of [...this.#pendingReject]) reject(err);
    this.#pendingReject.clear();
    this.#release();
  }

  // ------------------------------------------------------------------

  #deflateIdle = true;

  #closedError(): DeflateError {
    return new DeflateError('CLOSED', 'permessage-deflate context is closed', 'local');
  }

  #release(): void {
    for (const z of [this.#deflate, this.#inflate]) {
      if (z !== undefined) {
        z.on('error', () => undefined);
        z.close();
      }
    }
    this.#deflate = undefined;
    this.#inflate = undefined;
    this.#inflateDictionary = undefined;
  }

  #createDeflate(): zlib.DeflateRaw {
    // Every write is sync-flushed: one message is one write, one trip through the thread
    // pool (a separate flush() would be a second), and its output ends on a byte boundary.
    return zlib.createDeflateRaw({
      flush: zlib.constants.Z_SYNC_FLUSH,
      level: this.#level,
      memLevel: this.#memLevel,
      windowBits: this.#deflateBits,
      chunkSize: this.#chunkSize,
    });
  }

  #createInflate(): zlib.InflateRaw {
    const dictionary = this.#inflateDictionary;
    this.#inflateDictionary = undefined;
    this.#inflateIn = 0;
    return zlib.createInflateRaw({
      flush: zlib.constants.Z_SYNC_FLUSH,
      windowBits: this.#inflateBits,
      chunkSize: this.#chunkSize,
      ...(dictionary !== undefined ? { dictionary } : {}),
    });
  }

  #compressNow(data: Uint8Array): Promise<Uint8Array> {
    return new Promise<Uint8Array>((resolve, reject) => {
      if (this.#destroyed) {
        reject(this.#closedError());
        return;
      }
      const z = (this.#deflate ??= this.#createDeflate());
      this.#deflateIdle = false;
      const chunks: Buffer[] = [];
      let total = 0;
      const cleanup = (): void => {
        z.off('data', onData);
        z.off('error', onError);
        this.#pendingReject.delete(settleReject);
        this.#deflateIdle = true;
      };
      const settleReject = (err: DeflateError): void => {
        cleanup();
        reject(err);
      };
      const onData = (chunk: Buffer): void => {
        chunks.push(chunk);
        total += chunk.length;
      };
      const onError = (err: Error): void => {
        if (this.#deflate === z) this.#deflate = undefined;
        z.on('error', () => undefined);
        z.close();
        settleReject(
          new DeflateError('DEFLATE_FAILED', `Compression failed: ${err.message}`, 'library', err),
        );
      };
      this.#pendingReject.add(settleReject);
      z.on('data', onData);
      z.on('error', onError);
      z.write(data, () => {
        if (!this.#pendingReject.has(settleReject)) return; // destroyed or failed meanwhile
        cleanup();
        let out = Buffer.concat(chunks, total);
        // RFC 7692 §7.2.1: remove the 4 octets 00 00 ff ff from the tail end.
        if (out.length >= 4 && out.subarray(out.length - 4).equals(TRAILER)) {
          out = out.subarray(0, out.length - 4);
        }
        // zlib skips a sync flush that repeats the previous one with no input in between,
        // so an empty message after another message yields no bytes. The peer must still
        // see an empty block: 0x00 (RFC 7692 §7.2.3.6), which with its 00 00 ff ff is an
        // empty stored block.
        if (out.length === 0) out = Buffer.from(EMPTY_BLOCK);
        // RFC 7692 §7.1.1: without context takeover each message starts a fresh window.
        if (this.#deflateNoCtx) {
          if (this.#lazy) {
            if (this.#deflate === z) this.#deflate = undefined;
            z.close();
          } else {
            z.reset();
          }
        }
        this.#deflateUsed = true;
        this.#compressed++;
        resolve(out);
      });
    });
  }

  #decompressNow(fragments: readonly Uint8Array[], maxSize: number): Promise<Uint8Array> {
    return new Promise<Uint8Array>((resolve, reject) => {
      if (this.#destroyed) {
        reject(this.#closedError());
        return;
      }
      if (this.#inflateBroken !== undefined) {
        // The context was abandoned mid-message: later messages may refer to lost history.
        reject(this.#inflateBroken);
        return;
      }
      const z = (this.#inflate ??= this.#createInflate());
      const chunks: Buffer[] = [];
      let total = 0;
      let ended = false;
      const abandon = (): void => {
        if (this.#inflate === z) this.#inflate = undefined;
        z.on('error', () => undefined);
        z.destroy();
      };
      const cleanup = (): void => {
        z.off('data', onData);
        z.off('error', onError);
        z.off('end', onEnd);
        this.#pendingReject.delete(settleReject);
      };
      const settleReject = (err: DeflateError): void => {
        cleanup();
        reject(err);
      };
      const fail = (err: DeflateError): void => {
        if (!this.#inflateNoCtx) this.#inflateBroken = err;
        abandon();
        settleReject(err);
      };
      const onData = (chunk: Buffer): void => {
        total += chunk.length;
        this.#inflated += chunk.length;
        if (total > maxSize) {
          // Stop now: destroying the stream ends zlib's processing loop after this chunk.
          fail(
            new DeflateError(
              'MESSAGE_TOO_BIG',
              `Decompressed message exceeds the limit of ${maxSize} bytes`,
              'remote',
            ),
          );
          return;
        }
        chunks.push(chunk);
      };
      const onError = (err: Error): void => {
        fail(
          new DeflateError(
            'INFLATE_FAILED',
            `Invalid compressed data: ${err.message}`,
            'remote',
            err,
          ),
        );
      };
      const onEnd = (): void => {
        ended = true;
      };
      this.#pendingReject.add(settleReject);
      z.on('data', onData);
      z.on('error', onError);
      z.on('end', onEnd);
      // RFC 7692 §7.2.2: append 00 00 ff ff to the payload before inflating. One buffer,
      // one write: each write is a trip through the thread pool.
      const input = Buffer.concat([...fragments, TRAILER]);
      this.#inflateIn += input.length;
      z.write(input, () => {
        if (!this.#pendingReject.has(settleReject)) return;
        cleanup();
        const out = Buffer.concat(chunks, total);
        // zlib stops consuming input at the end of a final block; its 'end' event comes a
        // tick later, so unconsumed input is how the end is seen here.
        if (ended || z.bytesWritten < this.#inflateIn) {
          // The peer ended its DEFLATE stream (BFINAL, RFC 7692 §7.2.3.4): the context is
          // finished. With context takeover, seed the next one with this message's tail.
          if (this.#inflate === z) this.#inflate = undefined;
          z.close();
          if (!this.#inflateNoCtx && out.length > 0) {
            const w = 1 << this.#inflateBits;
            this.#inflateDictionary = Buffer.from(out.subarray(Math.max(0, out.length - w)));
          }
        } else if (this.#inflateNoCtx) {
          // RFC 7692 §7.2.2: without context takeover, every message starts afresh.
          if (this.#lazy) {
            if (this.#inflate === z) this.#inflate = undefined;
            z.close();
          } else {
            z.reset();
          }
        }
        this.#decompressed++;
        resolve(out);
      });
    });
  }
}
