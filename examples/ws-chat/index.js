// A WebSocket chat: a browser page (public/) and /ws with rooms, nicknames, join/leave
// notices and broadcast within a room that skips slow consumers. Run:
// node examples/ws-chat/index.js (PORT=0 picks a port; MAX_ROOM_MEMBERS caps each room),
// then open http://127.0.0.1:8083/?room=lobby&nick=alice in two browser tabs.
//
// Protocol (JSON text messages):
//   client → server  { "type": "join", "room": "lobby", "nick": "alice" }   (or /ws?room=…&nick=…)
//                    { "type": "message", "text": "hi" }
//   server → client  { "type": "welcome", "room", "nick", "members": [...] }
//                    { "type": "joined" | "left", "room", "nick" }
//                    { "type": "message", "room", "nick", "text", "at" }
//                    { "type": "error", "error" }
import { fileURLToPath } from 'node:url';
import { createApp, serveStatic } from 'ghostnet/http';
import { listenHttp1 } from 'ghostnet/http1';
import { ShutdownManager } from 'ghostnet/lifecycle';
import { WebSocketServer, broadcast } from 'ghostnet/websocket';

/** Largest WebSocket message accepted (larger → close 1009 Message Too Big). */
const MAX_MESSAGE_BYTES = 4096;
/** Longest chat line, in characters. */
const MAX_TEXT = 1000;
const MAX_ROOM_MEMBERS = Number(process.env.MAX_ROOM_MEMBERS ?? 50);
const MAX_ROOMS = 1000;
/** A member with more than this many bytes waiting to be sent misses broadcasts. */
const SLOW_CONSUMER_BYTES = 256 * 1024;
const NAME = /^[\p{L}\p{N}_.-]{1,24}$/u;

/** room name → (socket → nickname) */
const rooms = new Map();
let guests = 0;

function send(ws, msg) {
  ws.send(JSON.stringify(msg));
}

function toRoom(room, msg) {
  const members = rooms.get(room);
  if (members === undefined) return 0;
  return broadcast(members.keys(), JSON.stringify(msg), { maxBufferedAmount: SLOW_CONSUMER_BYTES });
}

function leave(ws, session) {
  if (session.room === undefined) return;
  const { room, nick } = session;
  const members = rooms.get(room);
  session.room = undefined;
  if (members === undefined) return;
  members.delete(ws);
  if (members.size === 0) rooms.delete(room);
  else toRoom(room, { type: 'left', room, nick });
}

function join(ws, session, room, nick) {
  if (typeof room !== 'string' || !NAME.test(room)) {
    return send(ws, { type: 'error', error: 'room names are 1-24 letters, digits, _ . -' });
  }
  if (nick !== undefined && (typeof nick !== 'string' || !NAME.test(nick))) {
    return send(ws, { type: 'error', error: 'nicknames are 1-24 letters, digits, _ . -' });
  }
  if (room === session.room) return;
  const members = rooms.get(room) ?? new Map();
  if (members.size >= MAX_ROOM_MEMBERS) {
    return send(ws, { type: 'error', error: `room ${room} is full` });
  }
  if (!rooms.has(room) && rooms.size >= MAX_ROOMS) {
    return send(ws, { type: 'error', error: 'too many rooms' });
  }
  leave(ws, session);
  // Nicknames are unique within a room: a taken one gets a numeric suffix.
  const wanted = nick ?? session.nick;
  const taken = new Set(members.values());
  let unique = wanted;
  for (let n = 2; taken.has(unique); n++) unique = `${wanted}-${n}`;
  session.nick = unique;
  session.room = room;
  toRoom(room, { type: 'joined', room, nick: unique });
  members.set(ws, unique);
  rooms.set(room, members);
  send(ws, { type: 'welcome', room, nick: unique, members: [...members.values()] });
}

function onMessage(ws, session, data, isBinary) {
  let msg;
  try {
    msg = isBinary ? undefined : JSON.parse(data);
  } catch {
    msg = undefined;
  }
  if (msg === undefined) return send(ws, { type: 'error', error: 'send JSON text messages' });
  if (msg?.type === 'join') return join(ws, session, msg.room, msg.nick);
  if (msg?.type === 'message') {
    if (session.room === undefined) return send(ws, { type: 'error', error: 'join a room first' });
    if (typeof msg.text !== 'string' || msg.text.trim() === '' || msg.text.length > MAX_TEXT) {
      return send(ws, { type: 'error', error: `text must be 1-${MAX_TEXT} characters` });
    }
    const { room, nick } = session;
    return toRoom(room, { type: 'message', room, nick, text: msg.text, at: Date.now() });
  }
  send(ws, { type: 'error', error: 'unknown message type' });
}

const wss = new WebSocketServer(
  {
    shouldHandle: (req) => req.path === '/ws',
    limits: { maxPayload: MAX_MESSAGE_BYTES, maxFrameSize: MAX_MESSAGE_BYTES },
    // Dead peers (no pong within 30 s) are dropped, and leave their room.
    pingIntervalMs: 30_000,
    closeTimeoutMs: 5000,
    maxConnections: 5000,
  },
  (ws, req) => {
    const session = { nick: `guest-${++guests}`, room: undefined };
    ws.on('message', (data, isBinary) => onMessage(ws, session, data, isBinary));
    ws.on('close', () => leave(ws, session));
    const room = req.query.get('room');
    const nick = req.query.get('nick');
    if (room !== null) join(ws, session, room, nick ?? undefined);
  },
);

const app = createApp();
app.use(serveStatic(fileURLToPath(new URL('./public', import.meta.url))));

const server = await listenHttp1(
  { host: '127.0.0.1', port: Number(process.env.PORT ?? 8083), onUpgrade: wss.upgrade },
  app.handler(),
);
const shutdown = new ShutdownManager();
// WebSockets first: each gets a 1001 Close frame before the HTTP server stops.
shutdown.register(wss.drainable);
shutdown.register(server.drainable);
shutdown.listen();
console.log(`listening on http://127.0.0.1:${server.address.port}`);
