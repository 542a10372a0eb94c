/**
 * Starts coturn (Debian's turnserver) on loopback for interop tests: two listening IPs
 * (127.0.0.1, 127.0.0.2) and an alternate port for RFC 5780, long-term credentials
 * alice:secret in realm ghostnet.test, loopback peers allowed. Fails (never skips) when
 * turnserver is missing.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { StunClient } from '../../src/p2p/nat/stun/node.js';
import { listenTcp } from '../../src/transport/tcp.js';

export interface Coturn {
  readonly port: number;
  readonly user: { readonly username: string; readonly password: string };
  readonly realm: string;
  log(): string;
  stop(): void;
}

async function freePort(): Promise<number> {
  const s = await listenTcp({ host: '127.0.0.1', port: 0 });
  const port = s.address.port;
  await s.destroy();
  return port;
}

export async function startCoturn(): Promise<Coturn> {
  if (spawnSync('turnserver', ['--version']).status !== 0) {
    throw new Error('turnserver (coturn) is missing: run scripts/install-peers.sh');
  }
  const port = await freePort();
  let log = '';
  const proc: ChildProcess = spawn(
    'turnserver',
    [
      '-n',
      '--listening-ip=127.0.0.1',
      '--listening-ip=127.0.0.2',
      `--listening-port=${port}`,
      `--alt-listening-port=${port + 1}`,
      '--no-tls',
      '--no-dtls',
      '--no-cli',
      '--lt-cred-mech',
      '--user=alice:secret',
      '--realm=ghostnet.test',
      '--allow-loopback-peers',
      '--log-file=stdout',
      '--simple-log',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  proc.stdout!.on('data', (d: Buffer) => (log += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const probe = await StunClient.create({ rc: 2, rto: 200 });
  try {
    for (let i = 0; ; i++) {
      try {
        await probe.binding({ address: '127.0.0.1', port });
        break;
      } catch (err) {
        if (i > 20) {
          proc.kill('SIGKILL');
          throw new Error(`coturn did not start: ${String(err)}\n${log}`);
        }
      }
    }
  } finally {
    await probe.close();
  }
  return {
    port,
    user: { username: 'alice', password: 'secret' },
    realm: 'ghostnet.test',
    log: () => log,
    stop: () => proc.kill('SIGKILL'),
  };
}
