// P2P chat between two peers that may sit behind NATs: they meet in a room on a signaling
// server (ghostnet's WebSocket), exchange ICE credentials and candidates there, connect
// with ghostnet's ICE agent (host, server-reflexive and TURN-relayed candidates — direct
// when the NATs allow it, through the relay when they do not) and then chat over the ICE
// session: each stdin line is sent, each received line printed.
//
//   node examples/p2p-chat/index.js serve [--host H] [--port P]     the signaling server
//   node examples/p2p-chat/index.js join ws://H:P/signal ROOM \
//        [--stun H:P] [--turn H:P --user U:PW] [--bind IP]           a chat peer
//
// The first peer in a room answers, the second offers. Output is JSON lines:
// {"event":"connected","path":"direct"|"relay"}, {"event":"message","text":…}.
import { createInterface } from 'node:readline';
import { GhostnetError } from 'ghostnet';
import { listenHttp1 } from 'ghostnet/http1';
import { IceAgent, parseCandidate } from 'ghostnet/nat';
import { connectWebSocket } from 'ghostnet/websocket';
import { SignalingServer } from 'ghostnet/webrtc';

const out = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);

function option(name) {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? undefined : process.argv[i + 1];
}

function hostPort(text) {
  const [address, port] = text.split(':');
  return { address, port: Number(port ?? 3478) };
}

async function serve() {
  const signaling = new SignalingServer();
  const server = await listenHttp1(
    {
      host: option('host') ?? '127.0.0.1',
      port: Number(option('port') ?? 0),
      onUpgrade: signaling.upgrade,
    },
    (_req, res) => res.text('p2p-chat signaling: ws://…/signal\n'),
  );
  out({
    event: 'listening',
    port: server.address.port,
    url: `ws://${server.address.address}:${server.address.port}/signal`,
  });
}

const description = (agent, sdpType) => ({
  type: 'description',
  sdp: `ice-ufrag:${agent.ufrag} ice-pwd:${agent.pwd}`,
  sdpType,
});

async function join(url, room) {
  const stun = option('stun');
  const turn = option('turn');
  const user = option('user');
  if (turn !== undefined && user === undefined)
    throw new GhostnetError('GN_ERR_EXAMPLE', '--turn needs --user U:PW');
  const ws = await connectWebSocket(url);
  let agent;
  const pending = [];
  const signal = (s) => ws.send(JSON.stringify({ type: 'signal', signal: s }));
  ws.on('message', async (data) => {
    const msg = JSON.parse(String(data));
    if (msg.type === 'joined') {
      const controlling = msg.role === 'offerer';
      agent = await IceAgent.create({
        controlling,
        host: option('bind') ?? '127.0.0.1',
        ...(stun !== undefined && { stunServers: [hostPort(stun)] }),
        ...(turn !== undefined && {
          turn: {
            server: hostPort(turn),
            credentials: {
              username: user.split(':')[0],
              password: user.split(':').slice(1).join(':'),
            },
          },
        }),
        rtoMs: 250,
        rc: 6,
      });
      agent.on('candidate', (_c, sdp) => signal({ type: 'candidate', candidate: sdp, mid: '0' }));
      agent.on('state', (s) => {
        if (s === 'failed') {
          out({ event: 'failed' });
          process.exit(1);
        }
      });
      agent.on('selected', (local, remote) => {
        const path = local.type === 'relay' || remote.type === 'relay' ? 'relay' : 'direct';
        out({ event: 'connected', path, local: local.type, remote: remote.type });
        ws.close(1000, 'connected');
      });
      agent.on('data', (d) => out({ event: 'message', text: new TextDecoder().decode(d) }));
      // Our ICE credentials travel as the "description": the offerer sends its own at once;
      // the answerer (alone in the room until now) answers the offer with its own.
      if (controlling) signal(description(agent, 'offer'));
      for (const p of pending.splice(0)) p();
    } else if (msg.type === 'signal') {
      const apply = () => {
        const s = msg.signal;
        if (s.type === 'description') {
          const m = /^ice-ufrag:(\S+) ice-pwd:(\S+)$/.exec(s.sdp);
          if (m === null) return;
          agent.setRemoteCredentials(m[1], m[2]);
          if (s.sdpType === 'offer') signal(description(agent, 'answer'));
          agent.gather();
        } else if (s.type === 'candidate') {
          agent.addRemoteCandidate(parseCandidate(s.candidate));
        }
      };
      if (agent === undefined) pending.push(apply);
      else apply();
    }
  });
  ws.send(JSON.stringify({ type: 'join', room }));
  createInterface({ input: process.stdin }).on('line', (line) => {
    if (agent !== undefined && agent.state === 'connected')
      agent.send(new TextEncoder().encode(line));
  });
}

const [mode, url, room] = process.argv.slice(2);
try {
  if (mode === 'serve') await serve();
  else if (mode === 'join' && url !== undefined && room !== undefined) await join(url, room);
  else {
    console.error(
      'usage: node examples/p2p-chat/index.js serve | join ws://H:P/signal ROOM [--stun H:P] [--turn H:P --user U:PW] [--bind IP]',
    );
    process.exitCode = 2;
  }
} catch (err) {
  console.error(err);
  process.exitCode = 1;
}
