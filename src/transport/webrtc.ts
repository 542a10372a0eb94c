/**
 * WebRTC data channels (DESIGN §3) through node-datachannel (libdatachannel): a
 * {@link WebRtcPeer} wraps one RTCPeerConnection and hands out each reliable, ordered data
 * channel as a `StreamConnection` ({@link WebRtcConnection}, kind 'webrtc') whose `data`
 * events are whole messages — one `write` is one message on the wire.
 *
 * Signaling is the application's: the peer emits `signal` objects (the session description
 * and ICE candidates) to carry to the other side, which passes them to `signal()`.
 * `p2p/webrtc` carries them over ghostnet's WebSocket.
 *
 * node-datachannel is loaded on first use (`WebRtcPeer.create`), so importing the
 * transport does not load the native module.
 *
 * Backpressure follows the stream contract: `write` returns false once the channel's
 * buffered amount passes `highWaterMark`; `drain` follows when libdatachannel reports it
 * low again. Messages over the negotiated maximum size (`maxMessageSize`, 256 KiB by
 * default here and in libdatachannel) are refused with an error.
 */
import { EventEmitter } from 'node:events';
import { GhostnetError, InvalidOptionError, TimeoutError } from '../errors.js';
import { WriteAfterEndError } from './errors.js';
import { nextConnectionId } from './id.js';
import type { SocketAddress, StreamConnection, StreamConnectionEvents } from './types.js';
import type * as NdcModule from 'node-datachannel';

type Ndc = typeof NdcModule;
type NdcPeerConnection = InstanceType<Ndc['PeerConnection']>;
type NdcDataChannel = ReturnType<NdcPeerConnection['createDataChannel']>;

let ndc: Promise<Ndc> | undefined;
async function loadNdc(): Promise<Ndc> {
  ndc ??= import('node-datachannel').then((m) => (m.default ?? m) as Ndc);
  return ndc;
}

/** What one peer sends the other through signaling. */
export type WebRtcSignal =
  | { readonly type: 'description'; readonly sdp: string; readonly sdpType: 'offer' | 'answer' }
  | { readonly type: 'candidate'; readonly candidate: string; readonly mid: string };

/** A TURN or STUN server for ICE. */
export interface WebRtcIceServer {
  readonly hostname: string;
  readonly port: number;
  readonly username?: string;
  readonly password?: string;
  readonly relayType?: 'TurnUdp' | 'TurnTcp' | 'TurnTls';
}

export interface WebRtcPeerOptions {
  /** 'offerer' creates channels and the offer; 'answerer' waits for them. */
  readonly role: 'offerer' | 'answerer';
  /** STUN/TURN servers ('stun:host:port' strings or objects). @default [] */
  readonly iceServers?: readonly (string | WebRtcIceServer)[];
  /** Gather host candidates on this local address only (e.g. '127.0.0.1' in tests). */
  readonly bindAddress?: string;
  /** Local UDP port range for ICE. */
  readonly portRange?: { readonly begin: number; readonly end: number };
  /** Use only relayed candidates. @default false */
  readonly relayOnly?: boolean;
  /** Largest message either side may send. @default 262144 */
  readonly maxMessageSize?: number;
  /** Buffered bytes above which `write` returns false. @default 1048576 */
  readonly highWaterMark?: number;
  /** Name shown in libdatachannel's logs. @default 'ghostnet' */
  readonly name?: string;
}

export interface WebRtcPeerEvents {
  /** Carry this to the other peer's `signal()`. */
  signal: [signal: WebRtcSignal];
  /** The other peer opened a data channel (answerer side), already open. */
  connection: [conn: WebRtcConnection];
  /** The peer connection state changed ('connected', 'failed', 'closed', …). */
  state: [state: string];
  error: [err: Error];
  close: [];
}

/** A data channel or peer failed; `code` says which way. */
export class WebRtcError extends GhostnetError {}

const SIGNAL_MAX = 64 * 1024;

/** Validates a signal that came from the network. */
export function parseWebRtcSignal(value: unknown): WebRtcSignal {
  const bad = (why: string): WebRtcError => new WebRtcError('GN_ERR_WEBRTC_SIGNAL', why);
  if (value === null || typeof value !== 'object') throw bad('a signal is an object');
  const v = value as Record<string, unknown>;
  if (v.type === 'description') {
    if (typeof v.sdp !== 'string' || v.sdp.length > SIGNAL_MAX) throw bad('bad sdp');
    if (v.sdpType !== 'offer' && v.sdpType !== 'answer') throw bad('sdpType is offer or answer');
    return { type: 'description', sdp: v.sdp, sdpType: v.sdpType };
  }
  if (v.type === 'candidate') {
    if (typeof v.candidate !== 'string' || v.candidate.length > 1024) throw bad('bad candidate');
    if (typeof v.mid !== 'string' || v.mid.length > 64) throw bad('bad mid');
    return { type: 'candidate', candidate: v.candidate, mid: v.mid };
  }
  throw bad('signal type is description or candidate');
}

/** One RTCPeerConnection. */
export class WebRtcPeer extends EventEmitter<WebRtcPeerEvents> {
  readonly role: 'offerer' | 'answerer';
  readonly #pc: NdcPeerConnection;
  readonly #options: WebRtcPeerOptions;
  readonly #channels = new Set<WebRtcConnection>();
  #closed = false;
  #remoteDescription = false;
  readonly #pendingCandidates: { candidate: string; mid: string }[] = [];

  private constructor(pc: NdcPeerConnection, options: WebRtcPeerOptions) {
    super();
    this.role = options.role;
    this.#pc = pc;
    this.#options = options;
    pc.onLocalDescription((sdp, type) => {
      if (type === 'offer' || type === 'answer') {
        this.emit('signal', { type: 'description', sdp, sdpType: type });
      }
    });
    pc.onLocalCandidate((candidate, mid) =>
      this.emit('signal', { type: 'candidate', candidate, mid }),
    );
    pc.onStateChange((state) => {
      this.emit('state', state);
      if (state === 'failed')
        this.emit('error', new WebRtcError('GN_ERR_WEBRTC_FAILED', 'ICE failed'));
    });
    pc.onDataChannel((dc) => {
      const conn = this.#wrap(dc);
      this.emit('connection', conn);
    });
  }

  /** Creates a peer (loads node-datachannel on first use). */
  static async create(options: WebRtcPeerOptions): Promise<WebRtcPeer> {
    if (options.role !== 'offerer' && options.role !== 'answerer') {
      throw new InvalidOptionError("role must be 'offerer' or 'answerer'");
    }
    const max = options.maxMessageSize ?? 262_144;
    if (!Number.isInteger(max) || max < 1 || max > 16 * 1024 * 1024) {
      throw new InvalidOptionError('maxMessageSize must be 1..16777216');
    }
    const lib = await loadNdc();
    const pc = new lib.PeerConnection(options.name ?? 'ghostnet', {
      iceServers: (options.iceServers ?? []).map((s) => (typeof s === 'string' ? s : { ...s })),
      ...(options.bindAddress !== undefined && { bindAddress: options.bindAddress }),
      ...(options.portRange !== undefined && {
        portRangeBegin: options.portRange.begin,
        portRangeEnd: options.portRange.end,
      }),
      ...(options.relayOnly === true && { iceTransportPolicy: 'relay' as const }),
      maxMessageSize: max,
    });
    return new WebRtcPeer(pc, options);
  }

  /** The connection state as libdatachannel reports it. */
  get state(): string {
    return this.#pc.state();
  }

  /** The selected candidate pair once connected, e.g. to tell a relayed path from a direct one. */
  selectedPair(): { local: string; remote: string } | undefined {
    const pair = this.#pc.getSelectedCandidatePair();
    if (pair === null || pair === undefined) return undefined;
    return { local: pair.local.candidate, remote: pair.remote.candidate };
  }

  /** Applies a signal from the other peer (validated; bad ones throw WebRtcError). */
  signal(input: unknown): void {
    if (this.#closed) return;
    const s = parseWebRtcSignal(input);
    if (s.type === 'description') {
      if (this.role === 'offerer' && s.sdpType !== 'answer') {
        throw new WebRtcError('GN_ERR_WEBRTC_SIGNAL', 'the offerer expects an answer');
      }
      if (this.role === 'answerer' && s.sdpType !== 'offer') {
        throw new WebRtcError('GN_ERR_WEBRTC_SIGNAL', 'the answerer expects an offer');
      }
      this.#pc.setRemoteDescription(s.sdp, s.sdpType);
      this.#remoteDescription = true;
      for (const c of this.#pendingCandidates.splice(0))
        this.#pc.addRemoteCandidate(c.candidate, c.mid);
    } else if (!this.#remoteDescription) {
      if (this.#pendingCandidates.length >= 256) {
        throw new WebRtcError('GN_ERR_WEBRTC_SIGNAL', 'too many candidates before the description');
      }
      this.#pendingCandidates.push({ candidate: s.candidate, mid: s.mid });
    } else {
      this.#pc.addRemoteCandidate(s.candidate, s.mid);
    }
  }

  /**
   * Opens a reliable, ordered data channel (offerer side; this also starts negotiation) and
   * resolves once it is open, or rejects after `timeoutMs`.
   */
  openChannel(label = 'ghostnet', timeoutMs = 30_000): Promise<WebRtcConnection> {
    if (this.#closed) return Promise.reject(new WriteAfterEndError());
    const dc = this.#pc.createDataChannel(label, { unordered: false });
    return new Promise<WebRtcConnection>((resolve, reject) => {
      const timer = setTimeout(() => {
        dc.close();
        reject(new TimeoutError(`data channel '${label}' did not open within ${timeoutMs} ms`));
      }, timeoutMs);
      dc.onOpen(() => {
        clearTimeout(timer);
        resolve(this.#wrap(dc));
      });
      dc.onError((err) => {
        clearTimeout(timer);
        reject(new WebRtcError('GN_ERR_WEBRTC_CHANNEL', `data channel error: ${err}`));
      });
    });
  }

  #wrap(dc: NdcDataChannel): WebRtcConnection {
    const conn = new WebRtcConnection(dc, this.#options.highWaterMark ?? 1024 * 1024);
    this.#channels.add(conn);
    conn.once('close', () => this.#channels.delete(conn));
    return conn;
  }

  /** Closes every channel and the peer connection. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const c of this.#channels) c.destroy();
    this.#pc.close();
    this.emit('close');
  }
}

/** A data channel as a message-preserving StreamConnection. */
export class WebRtcConnection
  extends EventEmitter<StreamConnectionEvents>
  implements StreamConnection
{
  readonly id = nextConnectionId('webrtc');
  readonly kind = 'webrtc';
  readonly localAddress: SocketAddress | undefined = undefined;
  readonly remoteAddress: SocketAddress | undefined = undefined;
  readonly alpnProtocol: string | undefined = undefined;
  readonly servername: string | undefined = undefined;
  readonly label: string;
  readonly #dc: NdcDataChannel;
  readonly #highWaterMark: number;
  #bytesRead = 0;
  #bytesWritten = 0;
  #closed = false;
  #ended = false;
  #needDrain = false;
  #paused = false;
  readonly #held: Uint8Array[] = [];
  #idleMs = 0;
  #idleTimer: NodeJS.Timeout | undefined;

  /** @internal Use WebRtcPeer. */
  constructor(dc: NdcDataChannel, highWaterMark: number) {
    super();
    this.#dc = dc;
    this.#highWaterMark = highWaterMark;
    this.label = dc.getLabel();
    dc.setBufferedAmountLowThreshold(Math.floor(highWaterMark / 2));
    dc.onBufferedAmountLow(() => {
      if (!this.#needDrain || this.#closed) return;
      this.#needDrain = false;
      this.emit('drain');
    });
    dc.onMessage((msg) => {
      const chunk = typeof msg === 'string' ? new TextEncoder().encode(msg) : new Uint8Array(msg);
      this.#bytesRead += chunk.length;
      this.#touch();
      if (this.#paused) this.#held.push(chunk);
      else this.emit('data', chunk);
    });
    dc.onError((err) => {
      if (this.#closed) return;
      this.emit('error', new WebRtcError('GN_ERR_WEBRTC_CHANNEL', `data channel error: ${err}`));
    });
    dc.onClosed(() => this.#finish(false));
  }

  get bufferedAmount(): number {
    return this.#closed ? 0 : this.#dc.bufferedAmount();
  }

  get writable(): boolean {
    return !this.#closed && !this.#ended && this.#dc.isOpen();
  }

  get closed(): boolean {
    return this.#closed;
  }

  get bytesRead(): number {
    return this.#bytesRead;
  }

  get bytesWritten(): number {
    return this.#bytesWritten;
  }

  /** The largest message the other side accepts. */
  get maxMessageSize(): number {
    return this.#dc.maxMessageSize();
  }

  /** Sends one message. */
  write(chunk: Uint8Array): boolean {
    if (this.#ended || this.#closed) throw new WriteAfterEndError();
    if (chunk.length > this.#dc.maxMessageSize()) {
      throw new InvalidOptionError(
        `message of ${chunk.length} bytes exceeds the channel's maximum of ${this.#dc.maxMessageSize()}`,
      );
    }
    if (!this.#dc.isOpen()) return false;
    this.#dc.sendMessageBinary(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    this.#bytesWritten += chunk.length;
    this.#touch();
    if (this.#dc.bufferedAmount() >= this.#highWaterMark) {
      this.#needDrain = true;
      return false;
    }
    return true;
  }

  /** Sends each chunk as its own message. */
  writev(chunks: readonly Uint8Array[]): boolean {
    let ok = true;
    for (const c of chunks) ok = this.write(c) && ok;
    return ok;
  }

  /** Data channels have no half-close: `end` closes the channel once sent. */
  end(): void {
    if (this.#ended || this.#closed) return;
    this.#ended = true;
    this.#dc.close();
  }

  close(): void {
    this.end();
  }

  destroy(err?: Error): void {
    if (this.#closed) return;
    if (err !== undefined) this.emit('error', err);
    this.#ended = true;
    try {
      this.#dc.close();
    } finally {
      this.#finish(err !== undefined);
    }
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    this.#paused = false;
    while (!this.#paused && this.#held.length > 0) this.emit('data', this.#held.shift()!);
  }

  setIdleTimeout(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw new InvalidOptionError('idle timeout must be ≥ 0');
    this.#idleMs = ms;
    this.#touch();
  }

  #touch(): void {
    if (this.#idleTimer !== undefined) clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
    if (this.#idleMs === 0 || this.#closed) return;
    this.#idleTimer = setTimeout(() => {
      this.emit('timeout');
      this.destroy();
    }, this.#idleMs);
    this.#idleTimer.unref?.();
  }

  #finish(hadError: boolean): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#idleTimer !== undefined) clearTimeout(this.#idleTimer);
    if (!this.#ended) this.emit('end');
    this.emit('close', hadError);
  }
}

/** Releases node-datachannel's threads so the process can exit (call once at the end). */
export async function webRtcCleanup(): Promise<void> {
  if (ndc === undefined) return;
  (await ndc).cleanup();
}
