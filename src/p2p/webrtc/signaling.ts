/**
 * WebRTC signaling over ghostnet's WebSocket: a tiny rendezvous server where two peers meet
 * in a named room and their session descriptions and ICE candidates are relayed, and a
 * client that joins a room and resolves with an open data channel.
 *
 * The protocol is JSON text messages:
 *
 *   client → server  {"type":"join","room":R}                  (first message; once)
 *   server → client  {"type":"joined","room":R,"role":"answerer"|"offerer"}
 *   client → server  {"type":"signal","signal":S}               (relayed to the other peer)
 *   server → client  {"type":"signal","signal":S} | {"type":"peer-left"} | {"type":"error",…}
 *
 * The first peer in a room answers, the second offers (it knows the first is there). A room
 * holds two peers; a third is refused (close 4009). Rooms, message sizes and the number of
 * relayed messages per peer are bounded.
 */
import { GhostnetError, InvalidOptionError, TimeoutError } from '../../errors.js';
import { connectWebSocket } from '../../protocols/websocket/client.js';
import type { WebSocketClientOptions } from '../../protocols/websocket/client.js';
import { WebSocketServer } from '../../protocols/websocket/server.js';
import type { WebSocket } from '../../protocols/websocket/socket.js';
import { parseWebRtcSignal, WebRtcPeer } from '../../transport/webrtc.js';
import type { WebRtcConnection, WebRtcPeerOptions } from '../../transport/webrtc.js';

/** Close codes the signaling server uses (private range, RFC 6455 §7.4.2). */
export const SignalingCloseCode = {
  BAD_MESSAGE: 4000,
  ROOM_FULL: 4009,
  TOO_MANY_ROOMS: 4013,
  TOO_MANY_MESSAGES: 4029,
} as const;

export interface SignalingServerOptions {
  /** Request path served. @default '/signal' */
  readonly path?: string;
  /** Rooms open at once. @default 1000 */
  readonly maxRooms?: number;
  /** Largest message. @default 65536 */
  readonly maxMessageBytes?: number;
  /** Messages a peer may send in all. @default 1000 */
  readonly maxMessagesPerPeer?: number;
}

interface Member {
  ws: WebSocket;
  room: string | undefined;
  messages: number;
}

/** The rendezvous server. Mount `upgrade` as an HTTP/1.1 server's `onUpgrade`. */
export class SignalingServer {
  readonly wss: WebSocketServer;
  readonly #rooms = new Map<string, Member[]>();
  readonly #maxRooms: number;
  readonly #maxMessages: number;

  constructor(options: SignalingServerOptions = {}) {
    const path = options.path ?? '/signal';
    this.#maxRooms = options.maxRooms ?? 1000;
    this.#maxMessages = options.maxMessagesPerPeer ?? 1000;
    const maxBytes = options.maxMessageBytes ?? 65_536;
    this.wss = new WebSocketServer(
      {
        shouldHandle: (req) => req.path === path,
        limits: { maxPayload: maxBytes, maxFrameSize: maxBytes },
      },
      (ws) => this.#accept(ws),
    );
  }

  /** The HTTP/1.1 upgrade hook. */
  get upgrade(): WebSocketServer['upgrade'] {
    return this.wss.upgrade;
  }

  /** Rooms with at least one peer. */
  get rooms(): number {
    return this.#rooms.size;
  }

  #accept(ws: WebSocket): void {
    const me: Member = { ws, room: undefined, messages: 0 };
    ws.on('message', (data, isBinary) => this.#onMessage(me, data, isBinary));
    ws.on('close', () => this.#leave(me));
  }

  #onMessage(me: Member, data: string | Uint8Array, isBinary: boolean): void {
    if (++me.messages > this.#maxMessages) {
      me.ws.close(SignalingCloseCode.TOO_MANY_MESSAGES, 'too many messages');
      return;
    }
    let msg: Record<string, unknown>;
    try {
      if (isBinary) throw new InvalidOptionError('binary');
      const parsed: unknown = JSON.parse(data as string);
      if (parsed === null || typeof parsed !== 'object')
        throw new InvalidOptionError('not an object');
      msg = parsed as Record<string, unknown>;
    } catch {
      me.ws.close(SignalingCloseCode.BAD_MESSAGE, 'send JSON objects');
      return;
    }
    if (msg.type === 'join' && me.room === undefined) {
      const room = msg.room;
      if (typeof room !== 'string' || room.length === 0 || room.length > 128) {
        me.ws.close(SignalingCloseCode.BAD_MESSAGE, 'room is a 1-128 character string');
        return;
      }
      const members = this.#rooms.get(room) ?? [];
      if (members.length >= 2) {
        me.ws.close(SignalingCloseCode.ROOM_FULL, 'room is full');
        return;
      }
      if (members.length === 0 && this.#rooms.size >= this.#maxRooms) {
        me.ws.close(SignalingCloseCode.TOO_MANY_ROOMS, 'too many rooms');
        return;
      }
      members.push(me);
      this.#rooms.set(room, members);
      me.room = room;
      const role = members.length === 1 ? 'answerer' : 'offerer';
      me.ws.send(JSON.stringify({ type: 'joined', room, role }));
      return;
    }
    if (msg.type === 'signal' && me.room !== undefined) {
      try {
        parseWebRtcSignal(msg.signal);
      } catch {
        me.ws.close(SignalingCloseCode.BAD_MESSAGE, 'bad signal');
        return;
      }
      const other = this.#rooms.get(me.room)?.find((m) => m !== me);
      if (other === undefined) {
        me.ws.send(JSON.stringify({ type: 'error', error: 'no peer in the room yet' }));
        return;
      }
      other.ws.send(JSON.stringify({ type: 'signal', signal: msg.signal }));
      return;
    }
    me.ws.close(SignalingCloseCode.BAD_MESSAGE, 'unexpected message');
  }

  #leave(me: Member): void {
    if (me.room === undefined) return;
    const members = (this.#rooms.get(me.room) ?? []).filter((m) => m !== me);
    if (members.length === 0) this.#rooms.delete(me.room);
    else {
      this.#rooms.set(me.room, members);
      for (const m of members) m.ws.send(JSON.stringify({ type: 'peer-left' }));
    }
    me.room = undefined;
  }

  /** Closes every signaling connection. */
  async close(): Promise<void> {
    await this.wss.close();
  }
}

export interface ConnectDataChannelOptions
  extends Omit<WebRtcPeerOptions, 'role'>, Pick<WebSocketClientOptions, 'headers' | 'tls'> {
  /** Give up after this long. @default 30000 */
  readonly timeoutMs?: number;
  /** The channel's label (the offerer names it). @default 'ghostnet' */
  readonly label?: string;
}

/** An open data channel and the peer connection it belongs to. */
export interface DataChannelSession {
  readonly peer: WebRtcPeer;
  readonly connection: WebRtcConnection;
  readonly role: 'offerer' | 'answerer';
}

/**
 * Joins `room` on the signaling server at `url` (ws:// or wss://), negotiates with the
 * other peer and resolves with the open data channel. The signaling WebSocket is closed
 * once the channel is open.
 */
export async function connectDataChannel(
  url: string | URL,
  room: string,
  options: ConnectDataChannelOptions = {},
): Promise<DataChannelSession> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const ws = await connectWebSocket(url, {
    ...(options.headers !== undefined && { headers: options.headers }),
    ...(options.tls !== undefined && { tls: options.tls }),
  });
  let peer: WebRtcPeer | undefined;
  try {
    return await new Promise<DataChannelSession>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new TimeoutError(`no data channel in room ${room} within ${timeoutMs} ms`)),
        timeoutMs,
      );
      const fail = (err: Error): void => {
        clearTimeout(timer);
        reject(err);
      };
      ws.on('close', (code, reason) => {
        if (peer === undefined || peer.state === 'new') {
          fail(new GhostnetError('GN_ERR_SIGNALING', `signaling closed (${code} ${reason})`));
        }
      });
      ws.on('message', (data) => {
        let msg: Record<string, unknown>;
        try {
          msg = JSON.parse(String(data)) as Record<string, unknown>;
        } catch {
          fail(new GhostnetError('GN_ERR_SIGNALING', 'the signaling server sent bad JSON'));
          return;
        }
        if (msg.type === 'joined' && peer === undefined) {
          const role = msg.role === 'offerer' ? 'offerer' : 'answerer';
          WebRtcPeer.create({ ...options, role }).then((p) => {
            peer = p;
            p.on('signal', (signal) => {
              if (ws.readyState === 'open') ws.send(JSON.stringify({ type: 'signal', signal }));
            });
            p.on('error', fail);
            const opened = (connection: WebRtcConnection): void => {
              clearTimeout(timer);
              resolve({ peer: p, connection, role });
            };
            if (role === 'offerer') {
              p.openChannel(options.label ?? 'ghostnet', timeoutMs).then(opened, fail);
            } else {
              p.once('connection', opened);
            }
          }, fail);
        } else if (msg.type === 'signal' && peer !== undefined) {
          try {
            peer.signal(msg.signal);
          } catch (err) {
            fail(err as Error);
          }
        } else if (msg.type === 'peer-left' && (peer === undefined || peer.state === 'new')) {
          // Once negotiation is under way the other side may leave signaling (it has its
          // channel); ICE goes on without the server, bounded by the timeout.
          fail(new GhostnetError('GN_ERR_SIGNALING', 'the other peer left before connecting'));
        }
      });
      ws.send(JSON.stringify({ type: 'join', room }));
    });
  } catch (err) {
    peer?.close();
    throw err;
  } finally {
    ws.close(1000, 'connected');
  }
}
