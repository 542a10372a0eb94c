/**
 * One HTTP/2 stream as the connection core tracks it: state (state.ts), both flow-control
 * windows, the queue of body bytes waiting for window, and the RFC 9218 priority. The
 * binding hangs its own per-stream object on `context`.
 */
import type { StreamState } from './state.js';
import { DEFAULT_URGENCY } from './priority.js';

export class Http2Stream {
  readonly id: number;
  state: StreamState = 'idle';
  /** What we may still send (peer's SETTINGS_INITIAL_WINDOW_SIZE plus its updates). */
  sendWindow: number;
  /** What the peer may still send before we update the window. */
  recvWindow: number;
  /** Bytes the application consumed and we have not yet returned by WINDOW_UPDATE. */
  recvUnacked = 0;
  /** Body chunks queued by the application, waiting for flow-control window. */
  outQueue: Uint8Array[] = [];
  /** Offset into outQueue[0] already sent. */
  outOffset = 0;
  /** Bytes in outQueue not yet sent. */
  outBytes = 0;
  /** END_STREAM goes out once the queue drains. */
  outEnd = false;
  /** Trailers (lowercase names, values) sent once the queue drains. */
  outTrailers: [names: string[], values: string[]] | undefined = undefined;
  /** `sendData` returned false; fire onStreamWritable once below the high-water mark. */
  needDrain = false;
  /** In the connection's ready list. */
  queued = false;
  /** A final (non-1xx) head was received (client) or sent (server). */
  finalHeadReceived = false;
  finalHeadSent = false;
  /** Declared content-length of what we receive, or -1 (§8.1.1). */
  expectedLength = -1;
  received = 0;
  urgency = DEFAULT_URGENCY;
  incremental = false;
  /**
   * Server: reset with NO_ERROR once our END_STREAM is out if the request is still open
   * (§8.1: the response is complete; the rest of the request body is not wanted).
   */
  resetWhenSent = false;
  /** The binding's per-stream state (the exchange, the request). */
  context: unknown = undefined;

  constructor(id: number, sendWindow: number, recvWindow: number) {
    this.id = id;
    this.sendWindow = sendWindow;
    this.recvWindow = recvWindow;
  }
}
