/**
 * HTTP/2 limits and the SETTINGS we advertise (STYLE §4). Every default is finite; where a
 * strict reference implementation has one, we follow it (nghttp2, hyperium/h2) and say so.
 */
import { InvalidOptionError } from '../../errors.js';
import {
  DEFAULT_HEADER_TABLE_SIZE,
  DEFAULT_MAX_FRAME_SIZE,
  MAX_MAX_FRAME_SIZE,
  MAX_WINDOW_SIZE,
} from './codes.js';

export interface Http2Limits {
  /**
   * SETTINGS_MAX_CONCURRENT_STREAMS we advertise. Streams the peer opens beyond it are
   * refused with RST_STREAM(REFUSED_STREAM) (RFC 9113 §5.1.2).
   * @default 100 (the RFC's recommended minimum; nghttpd's default)
   */
  maxConcurrentStreams: number;
  /**
   * SETTINGS_INITIAL_WINDOW_SIZE we advertise: how much request (or response) body one
   * stream may have in flight before the application reads it.
   * @default 262144 (256 KiB; measured: loopback uploads stop improving above it)
   */
  initialWindowSize: number;
  /**
   * The connection-level receive window (raised with WINDOW_UPDATE on stream 0 right after
   * the preface). Bounds body bytes buffered for all streams together.
   * @default 1048576 (1 MiB)
   */
  connectionWindowSize: number;
  /**
   * SETTINGS_MAX_FRAME_SIZE we advertise: larger frames are a FRAME_SIZE_ERROR (§4.2).
   * @default 16384 (the protocol default)
   */
  maxFrameSize: number;
  /**
   * SETTINGS_MAX_HEADER_LIST_SIZE we advertise, and the decoded size (RFC 7541 §4.1
   * accounting) above which a request is answered 431 (a response: the stream is reset).
   * @default 65536 (nghttp2 uses 64 KiB)
   */
  maxHeaderListSize: number;
  /**
   * SETTINGS_HEADER_TABLE_SIZE we advertise: the HPACK dynamic table the peer may make us
   * keep.
   * @default 4096
   */
  headerTableSize: number;
  /** HPACK dynamic table our encoder uses at most (the peer may allow more). @default 4096 */
  encoderTableSize: number;
  /**
   * Encoded header block bytes (HEADERS plus CONTINUATION payloads) buffered before it is
   * decoded. A longer block is a CONTINUATION flood: GOAWAY ENHANCE_YOUR_CALM.
   * @default 131072
   */
  maxHeaderBlockSize: number;
  /**
   * CONTINUATION frames in one header block (hyperium/h2's CONTINUATION backlog guard).
   * Beyond it: GOAWAY ENHANCE_YOUR_CALM.
   * @default 64
   */
  maxContinuationFrames: number;
  /**
   * Milliseconds to wait for the peer's SETTINGS ACK before SETTINGS_TIMEOUT (§6.5.3).
   * @default 10000
   */
  settingsTimeoutMs: number;
  /**
   * Outbound control frames (SETTINGS ACK, PING ACK, RST_STREAM, WINDOW_UPDATE) queued and
   * not yet taken by the transport; a peer that makes us queue more — while not reading
   * our answers — is flooding: GOAWAY ENHANCE_YOUR_CALM.
   * @default 1000 (nghttp2's NGHTTP2_DEFAULT_MAX_OBQ_FLOOD_ITEM)
   */
  maxQueuedControlFrames: number;
  /**
   * Streams the peer may reset (RST_STREAM) as a burst; the allowance refills at
   * `streamResetRate` per second. Beyond it: GOAWAY ENHANCE_YOUR_CALM (CVE-2023-44487,
   * "rapid reset").
   * @default 1000 (nghttp2's stream_reset_burst)
   */
  streamResetBurst: number;
  /** @default 33 (nghttp2's stream_reset_rate) */
  streamResetRate: number;
  /**
   * Frames that cost work but carry none — PING, SETTINGS, empty DATA without END_STREAM,
   * PRIORITY, PRIORITY_UPDATE, WINDOW_UPDATE that does not unblock anything — as a burst;
   * the allowance refills at `controlFrameRate` per second. Beyond it: ENHANCE_YOUR_CALM.
   * @default 10000
   */
  controlFrameBurst: number;
  /** @default 1000 */
  controlFrameRate: number;
  /**
   * Body bytes the application may queue on one stream before `sendData` returns false
   * (the peer's flow-control window may hold them back indefinitely: this is what bounds a
   * zero-window stall).
   * @default 65536
   */
  streamHighWaterMark: number;
  /**
   * Priority signals (RFC 9218 PRIORITY_UPDATE) remembered for streams not yet opened.
   * @default 100
   */
  maxPendingPriorityUpdates: number;
  /** Closed stream ids remembered to tell "closed" from "reset by us" (§5.1). @default 256 */
  closedStreamMemory: number;
  /**
   * Advertise SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441) so clients may open WebSockets
   * with extended CONNECT. Servers only.
   * @default false
   */
  enableConnectProtocol: boolean;
}

export const DEFAULT_HTTP2_LIMITS: Readonly<Http2Limits> = Object.freeze({
  maxConcurrentStreams: 100,
  initialWindowSize: 262144,
  connectionWindowSize: 1048576,
  maxFrameSize: DEFAULT_MAX_FRAME_SIZE,
  maxHeaderListSize: 65536,
  headerTableSize: DEFAULT_HEADER_TABLE_SIZE,
  encoderTableSize: DEFAULT_HEADER_TABLE_SIZE,
  maxHeaderBlockSize: 131072,
  maxContinuationFrames: 64,
  settingsTimeoutMs: 10000,
  maxQueuedControlFrames: 1000,
  streamResetBurst: 1000,
  streamResetRate: 33,
  controlFrameBurst: 10000,
  controlFrameRate: 1000,
  streamHighWaterMark: 65536,
  maxPendingPriorityUpdates: 100,
  closedStreamMemory: 256,
  enableConnectProtocol: false,
});

/** Merges user limits over the defaults and checks each is in its protocol range. */
export function resolveHttp2Limits(user: Partial<Http2Limits> = {}): Http2Limits {
  const l: Http2Limits = { ...DEFAULT_HTTP2_LIMITS, ...user };
  const check = (name: keyof Http2Limits, min: number, max: number): void => {
    const v = l[name];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      throw new InvalidOptionError(
        `http2 limit ${name} must be an integer in [${min}, ${max}], got ${String(v)}`,
      );
    }
  };
  check('maxConcurrentStreams', 1, 2 ** 31 - 1);
  check('initialWindowSize', 1, MAX_WINDOW_SIZE);
  check('connectionWindowSize', 65535, MAX_WINDOW_SIZE);
  check('maxFrameSize', DEFAULT_MAX_FRAME_SIZE, MAX_MAX_FRAME_SIZE);
  check('maxHeaderListSize', 1024, 2 ** 31 - 1);
  check('headerTableSize', 0, 2 ** 31 - 1);
  check('encoderTableSize', 0, 2 ** 31 - 1);
  check('maxHeaderBlockSize', 1024, 2 ** 31 - 1);
  check('maxContinuationFrames', 1, 1e6);
  check('settingsTimeoutMs', 1, 2 ** 31 - 1);
  check('maxQueuedControlFrames', 1, 1e9);
  check('streamResetBurst', 1, 1e9);
  check('streamResetRate', 0, 1e9);
  check('controlFrameBurst', 1, 1e9);
  check('controlFrameRate', 0, 1e9);
  check('streamHighWaterMark', 1, 2 ** 31 - 1);
  check('maxPendingPriorityUpdates', 0, 1e6);
  check('closedStreamMemory', 0, 1e6);
  return l;
}
