/**
 * Connection states of the WebSocket core after the opening handshake (RFC 6455 §4, §5.5.1,
 * §7). Every transition lives in `TRANSITIONS` (STYLE §3); a pair missing from the table
 * is not allowed in that state.
 *
 * ```
 *                 close() ─ our Close frame queued (§5.5.1)
 *   ┌────────┐ ─────────────────────────────► ┌─────────┐
 *   │  OPEN  │                                │ CLOSING │  data and control frames are
 *   └────────┘                                └─────────┘  still received; nothing but
 *        │   peer Close → our echo queued          │       the Close is ever sent
 *        │   error / fail() / timeout /            │ peer Close (handshake done)
 *        │   transport closed                      │ error / timeout / transport closed
 *        ▼                                         ▼
 *   ┌──────────────────────────────────────────────────┐
 *   │ CLOSED: nothing sent or accepted (§5.5.1).        │
 *   │ Server: closes the TCP connection first (§7.1.1). │
 *   │ Client: waits for the server's TCP close, or      │
 *   │ closes itself after closeTimeoutMs (§7.1.1).      │
 *   └──────────────────────────────────────────────────┘
 * ```
 */

export const WebSocketState = {
  OPEN: 'open',
  CLOSING: 'closing',
  CLOSED: 'closed',
} as const;
export type WebSocketState = (typeof WebSocketState)[keyof typeof WebSocketState];

/** What can happen to a connection. */
export type WebSocketInput =
  | 'send-data'
  | 'send-control'
  | 'receive-frame'
  | 'send-close'
  | 'receive-close'
  | 'error'
  | 'timeout'
  | 'transport-closed';

export const TRANSITIONS: Readonly<
  Record<WebSocketState, Readonly<Partial<Record<WebSocketInput, WebSocketState>>>>
> = Object.freeze({
  open: Object.freeze({
    'send-data': 'open',
    'send-control': 'open',
    'receive-frame': 'open',
    'send-close': 'closing',
    'receive-close': 'closed',
    error: 'closed',
    timeout: 'closed',
    'transport-closed': 'closed',
  }),
  closing: Object.freeze({
    // §5.5.1: after sending a Close frame, no more data frames; we send nothing else.
    'receive-frame': 'closing',
    'receive-close': 'closed',
    error: 'closed',
    timeout: 'closed',
    'transport-closed': 'closed',
  }),
  closed: Object.freeze({
    // The client may still close the transport itself after a clean handshake.
    timeout: 'closed',
    'transport-closed': 'closed',
  }),
});

/** The state after `input` in `state`, or undefined when the input is not allowed there. */
export function nextState(
  state: WebSocketState,
  input: WebSocketInput,
): WebSocketState | undefined {
  return TRANSITIONS[state][input];
}
