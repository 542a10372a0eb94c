// The chat page's client: joins the room from the form (or ?room=&nick=), shows messages
// and notices, and reconnects after a drop. With ?autotest=1&report=URL it runs a scripted
// session (join, send, wait for a reply from someone else) and POSTs a JSON report to URL.
/* global document, location, navigator, URLSearchParams, WebSocket */

const params = new URLSearchParams(location.search);
const joinForm = document.getElementById('join');
const sayForm = document.getElementById('say');
const log = document.getElementById('log');
const status = document.getElementById('status');
if (params.get('room')) joinForm.room.value = params.get('room');
if (params.get('nick')) joinForm.nick.value = params.get('nick');

let ws;
let current = { room: undefined, nick: undefined };
const listeners = new Set();

function line(text, kind) {
  const p = document.createElement('div');
  p.textContent = text;
  if (kind) p.className = kind;
  log.append(p);
  log.scrollTop = log.scrollHeight;
}

function join() {
  const msg = { type: 'join', room: joinForm.room.value.trim() };
  if (joinForm.nick.value.trim()) msg.nick = joinForm.nick.value.trim();
  ws.send(JSON.stringify(msg));
}

function connect(delay = 500) {
  ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`);
  ws.onopen = () => {
    status.textContent = 'connected';
    delay = 500;
    join();
  };
  ws.onmessage = (event) => {
    const msg = JSON.parse(event.data);
    for (const listener of listeners) listener(msg);
    if (msg.type === 'welcome') {
      current = { room: msg.room, nick: msg.nick };
      status.textContent = `in ${msg.room} as ${msg.nick} (${msg.members.join(', ')})`;
    } else if (msg.type === 'joined') line(`${msg.nick} joined ${msg.room}`, 'notice');
    else if (msg.type === 'left') line(`${msg.nick} left ${msg.room}`, 'notice');
    else if (msg.type === 'message') line(`${msg.nick}: ${msg.text}`);
    else if (msg.type === 'error') line(msg.error, 'error');
  };
  ws.onclose = () => {
    status.textContent = `disconnected; retrying in ${delay / 1000} s`;
    if (!params.has('autotest')) setTimeout(() => connect(Math.min(delay * 2, 10_000)), delay);
  };
}

joinForm.addEventListener('submit', (event) => {
  event.preventDefault();
  if (ws.readyState === WebSocket.OPEN) join();
});
sayForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const text = sayForm.text.value;
  if (text.trim() === '' || ws.readyState !== WebSocket.OPEN) return;
  ws.send(JSON.stringify({ type: 'message', text }));
  sayForm.text.value = '';
});

/** Resolves with the first message `match` accepts, or rejects after `ms`. */
function waitFor(match, ms) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      listeners.delete(listener);
      reject(`timed out after ${ms} ms`);
    }, ms);
    const listener = (msg) => {
      if (!match(msg)) return;
      clearTimeout(timer);
      listeners.delete(listener);
      resolve(msg);
    };
    listeners.add(listener);
  });
}

async function autotest() {
  const report = { userAgent: navigator.userAgent, received: [], done: false };
  listeners.add((msg) => report.received.push(msg));
  try {
    const welcome = await waitFor((m) => m.type === 'welcome' || m.type === 'error', 15_000);
    report.welcome = welcome;
    if (welcome.type !== 'welcome') throw welcome.error;
    const text = params.get('text') ?? 'hello from the browser';
    sayForm.text.value = text;
    sayForm.requestSubmit();
    report.own = await waitFor((m) => m.type === 'message' && m.nick === current.nick, 15_000);
    report.reply = await waitFor((m) => m.type === 'message' && m.nick !== current.nick, 15_000);
    report.log = [...log.children].map((p) => p.textContent);
    report.done = true;
  } catch (err) {
    report.error = String(err);
  }
  const target = params.get('report');
  if (target) {
    const body = JSON.stringify(report);
    fetch(target, { method: 'POST', mode: 'no-cors', body }).catch(() => {});
  }
}

connect();
if (params.has('autotest')) void autotest();
