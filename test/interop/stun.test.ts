/**
 * STUN interop on loopback with two independent implementations:
 *
 * - the `stun` npm package as a server (our client asks it) and as a client (it asks our
 *   server), and its encoder/decoder checking our MESSAGE-INTEGRITY and FINGERPRINT and we
 *   checking its;
 * - coturn (Debian package coturn) as a STUN server, including RFC 5780 behavior discovery
 *   against its two listening IPs (127.0.0.1 and 127.0.0.2) and alternate port.
 *
 * A missing turnserver fails the coturn tests (never skipped): run scripts/install-peers.sh.
 */
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Attr,
  decodeStun,
  shortTermKey,
  StunBuilder,
  StunClass,
  StunMethod,
} from '../../src/p2p/nat/stun/codec.js';
import { StunClient, StunServer } from '../../src/p2p/nat/stun/node.js';
import { startCoturn } from '../helpers/coturn.js';
import type { Coturn } from '../helpers/coturn.js';

interface StunPkg {
  createServer(o: { type: string }): {
    on(e: string, f: (req: unknown, rinfo: { address: string; port: number }) => void): void;
    send(m: unknown, port: number, address: string): void;
    listen(port: number, address: string, cb: () => void): void;
    close(): void;
  };
  createMessage(
    type: number,
    transaction?: Buffer,
  ): {
    addXorAddress(a: string, p: number): void;
    addSoftware(s: string): void;
    addUsername(u: string): void;
    addMessageIntegrity(key: string): void;
    addFingerprint(): void;
    transactionId: Buffer;
  };
  request(
    url: string,
    o: { timeout?: number; retries?: number },
  ): Promise<{
    getXorAddress(): { address: string; port: number };
    getAttribute(t: number): { value: unknown } | undefined;
  }>;
  encode(m: unknown): Buffer;
  decode(b: Buffer): unknown;
  validateFingerprint(m: unknown): boolean;
  validateMessageIntegrity(m: unknown, key: string): boolean;
  constants: Record<string, number>;
}

const stun = createRequire(import.meta.url)('stun') as StunPkg;
const HOST = '127.0.0.1';

describe('STUN ⇄ the stun npm package', () => {
  it('our client gets its mapped address from a stun-package server', async () => {
    const server = stun.createServer({ type: 'udp4' });
    server.on('bindingRequest', (_req, rinfo) => {
      const m = stun.createMessage(
        stun.constants.STUN_BINDING_RESPONSE!,
        (_req as { transactionId: Buffer }).transactionId,
      );
      m.addXorAddress(rinfo.address, rinfo.port);
      m.addSoftware('stun-package');
      server.send(m, rinfo.port, rinfo.address);
    });
    const port = await new Promise<number>((resolve) => {
      const p = 30000 + Math.floor(Math.random() * 20000);
      server.listen(p, HOST, () => resolve(p));
    });
    const client = await StunClient.create();
    try {
      const r = await client.binding({ address: HOST, port });
      expect(r.mapped).toEqual({ address: HOST, port: client.address.port, family: 'IPv4' });
      expect(r.software).toBe('stun-package');
    } finally {
      await client.close();
      server.close();
    }
  });

  it('a stun-package client gets its mapped address from our server', async () => {
    const server = await StunServer.listen({ host: HOST, port: 0 });
    try {
      const res = await stun.request(`${HOST}:${server.address.port}`, {
        timeout: 200,
        retries: 3,
      });
      const xor = res.getXorAddress();
      expect(xor.address).toBe(HOST);
      expect(xor.port).toBeGreaterThan(0);
      expect(server.stats().responses).toBe(1);
    } finally {
      await server.close();
    }
  });

  it('each side verifies the MESSAGE-INTEGRITY and FINGERPRINT the other computed', () => {
    const key = 'VOkJxbRl1RmTxUk/WvJxBt';
    const theirs = stun.createMessage(stun.constants.STUN_BINDING_REQUEST!);
    theirs.addUsername('evtj:h6vY');
    theirs.addMessageIntegrity(key);
    theirs.addFingerprint();
    const m = decodeStun(new Uint8Array(stun.encode(theirs)));
    expect(m.text(Attr.Username)).toBe('evtj:h6vY');
    expect(m.verifyIntegrity(shortTermKey(key))).toBe(true);
    expect(m.verifyFingerprint()).toBe(true);

    const ours = new StunBuilder(StunMethod.Binding, StunClass.Request, new Uint8Array(12).fill(7))
      .text(Attr.Username, 'evtj:h6vY')
      .integrity(shortTermKey(key))
      .fingerprint()
      .build();
    const decoded = stun.decode(Buffer.from(ours));
    expect(stun.validateFingerprint(decoded)).toBe(true);
    expect(stun.validateMessageIntegrity(decoded, key)).toBe(true);
    expect(stun.validateMessageIntegrity(decoded, 'wrong')).toBe(false);
  });
});

describe('STUN ⇄ coturn', () => {
  let coturn: Coturn;
  let port = 0;

  beforeAll(async () => {
    coturn = await startCoturn();
    port = coturn.port;
  }, 60_000);

  afterAll(() => coturn?.stop());

  it('answers our Binding request; SOFTWARE says coturn', async () => {
    const client = await StunClient.create();
    try {
      const r = await client.binding({ address: HOST, port });
      expect(r.mapped).toEqual({ address: HOST, port: client.address.port, family: 'IPv4' });
      expect(r.software).toMatch(/Coturn/i);
      expect(r.otherAddress).toEqual({ address: '127.0.0.2', port: port + 1, family: 'IPv4' });
    } finally {
      await client.close();
    }
  });

  it('RFC 5780 discovery against coturn: no NAT on loopback', async () => {
    const client = await StunClient.create({ rc: 3 });
    try {
      const b = await client.behavior({ address: HOST, port });
      expect(b).toMatchObject({
        mapping: 'no-nat',
        filtering: 'endpoint-independent',
        kind: 'open',
      });
    } finally {
      await client.close();
    }
  }, 30_000);
});
