/**
 * The stream state machine of RFC 9113 §5.1, as a table (STYLE §3). Push is never enabled
 * (we refuse PUSH_PROMISE and never send it), so the reserved states do not occur.
 *
 * ```
 *                          +--------+
 *                  send H  |        |  recv H
 *                 ,--------+  idle  +--------.
 *                /         |        |         \
 *               v          +--------+          v
 *        +----------+          |           +----------+
 *        |          |          | send H /  |          |
 * ,------+   open   |          | recv H    |   open   +------.
 * |      |          |          v           |          |      |
 * |      +--+-------+     +--------+       +-------+--+      |
 * |         |  send ES    |        |    recv ES    |         |
 * |         v             |  open  |               v         |
 * |  +----------+ <-------+        +-------> +----------+    |
 * |  |  half-   |  send ES+--------+ recv ES |  half-   |    |
 * |  |  closed  |             |              |  closed  |    |
 * |  | (remote) |             | send R /     | (local)  |    |
 * |  +----+-----+             | recv R       +-----+----+    |
 * |       | send ES /         v       recv ES /    |         |
 * |       | send R /     +--------+   send R /     |         |
 * |       | recv R       |        |   recv R       |         |
 * | send R|  `---------->| closed |<-------------' |   recv R|
 * `-------+------------->|        |<---------------+---------'
 *                        +--------+
 * ```
 * H: HEADERS (with its CONTINUATIONs); ES: END_STREAM flag; R: RST_STREAM.
 */

export type StreamState = 'idle' | 'open' | 'half-closed-local' | 'half-closed-remote' | 'closed';

export type StreamInput =
  | 'send-headers'
  | 'recv-headers'
  | 'send-end-stream'
  | 'recv-end-stream'
  | 'send-reset'
  | 'recv-reset';

/** Every allowed transition; a pair missing here is a protocol violation. */
export const STREAM_TRANSITIONS: Readonly<
  Record<StreamState, Readonly<Partial<Record<StreamInput, StreamState>>>>
> = {
  idle: {
    'send-headers': 'open',
    'recv-headers': 'open',
  },
  open: {
    'send-headers': 'open',
    'recv-headers': 'open',
    'send-end-stream': 'half-closed-local',
    'recv-end-stream': 'half-closed-remote',
    'send-reset': 'closed',
    'recv-reset': 'closed',
  },
  'half-closed-local': {
    'recv-headers': 'half-closed-local',
    'recv-end-stream': 'closed',
    'send-reset': 'closed',
    'recv-reset': 'closed',
  },
  'half-closed-remote': {
    'send-headers': 'half-closed-remote',
    'send-end-stream': 'closed',
    'send-reset': 'closed',
    'recv-reset': 'closed',
  },
  closed: {},
};

/** The next state, or undefined when the input is not allowed in `state`. */
export function transition(state: StreamState, input: StreamInput): StreamState | undefined {
  return STREAM_TRANSITIONS[state][input];
}

/** True when the peer may still send HEADERS or DATA on a stream in this state. */
export function remoteOpen(state: StreamState): boolean {
  return state === 'open' || state === 'half-closed-local';
}

/** True when we may still send HEADERS or DATA on a stream in this state. */
export function localOpen(state: StreamState): boolean {
  return state === 'open' || state === 'half-closed-remote';
}
