/**
 * The STUN server and client cores: RFC 8489 §6.3 answers (XOR-MAPPED-ADDRESS, 420 with
 * UNKNOWN-ATTRIBUTES, 400, FINGERPRINT echoed, indications and garbage dropped), RFC 5780
 * CHANGE-REQUEST routing, client retransmissions and error responses on a fake clock, the
 * UDP bindings on loopback (127.0.0.1 and 127.0.0.2 as the two IPs), and RFC 5780 behavior
 * discovery through each kind of simulated NAT.
 */
import { describe, expect, it } from 'vitest';
import { TimeoutError } from '../../../../src/errors.js';
import {
  Attr,
  ChangeRequest,
  decodeStun,
  decodeUnknownAttributes,
  StunBuilder,
  StunClass,
  StunMethod,
} from '../../../../src/p2p/nat/stun/codec.js';
import {
  discoverNatBehavior,
  StunClientCore,
  StunResponseError,
} from '../../../../src/p2p/nat/stun/client.js';
import type { BindingResult } from '../../../../src/p2p/nat/stun/client.js';
import { StunClient, StunServer } from '../../../../src/p2p/nat/stun/node.js';
import { StunServerCore } from '../../../../src/p2p/nat/stun/server.js';
import type { StunServerSocket } from '../../../../src/p2p/nat/stun/server.js';
import { constantLatency } from '../../../../src/p2p/sim/latency.js';
import type { SimNatType } from '../../../../src/p2p/sim/nat.js';
import { SimNetwork } from '../../../../src/p2p/sim/network.js';
import type { SimCore, SimDatagram, SimNode } from '../../../../src/p2p/sim/node.js';
import { Rng } from '../../../../src/p2p/sim/rng.js';
import type { PeerAddress, SocketAddress } from '../../../../src/transport/types.js';

const client = { address: '198.51.100.7', port: 40000, family: 'IPv4' as const };
const txid = (n: number): Uint8Array => new Uint8Array(12).fill(n);

function request(
  build?: (b: StunBuilder) => void,
  method: number = StunMethod.Binding,
): Uint8Array {
  const b = new StunBuilder(method, StunClass.Request, txid(1));
  build?.(b);
  return b.build();
}

describe('STUN server core (RFC 8489 §6.3)', () => {
  it('answers a Binding request with XOR-MAPPED-ADDRESS, RESPONSE-ORIGIN and SOFTWARE', () => {
    const s = new StunServerCore({ primary: { address: '192.0.2.1', port: 3478 } });
    const out = s.receive(request(), client)!;
    const m = decodeStun(out.data);
    expect(m.cls).toBe(StunClass.Success);
    expect(m.id).toBe(Buffer.from(txid(1)).toString('hex'));
    expect(m.xorAddress()).toEqual({ address: '198.51.100.7', port: 40000, family: 'IPv4' });
    expect(m.address(Attr.ResponseOrigin)?.port).toBe(3478);
    expect(m.text(Attr.Software)).toBe('ghostnet');
    expect(m.has(Attr.Fingerprint)).toBe(false);
    expect(out.to).toEqual({ address: client.address, port: client.port });
    expect(out.via).toBe('primary');
  });

  it('answers a bare Binding request byte for byte as the general codec builds the answer', () => {
    // The server answers attribute-less IPv4 Binding requests without decoding them; the
    // answer must be the message StunBuilder produces for the same request and socket.
    const configs = [
      {},
      { software: false as const },
      { primary: { address: '192.0.2.1', port: 3478 } },
      {
        primary: { address: '192.0.2.1', port: 3478 },
        alternate: { address: '192.0.2.2', port: 3479 },
        software: 'a longer SOFTWARE value, padded',
      },
    ];
    const froms = [
      client,
      { address: '0.0.0.0', port: 1 },
      { address: '255.255.255.255', port: 65535 },
      { address: '10.0.0.1', port: 0x2112 },
    ];
    const sockets: StunServerSocket[] = ['primary', 'alt-port', 'alt-ip', 'alt-both'];
    for (const options of configs) {
      const s = new StunServerCore(options);
      for (const from of froms) {
        for (const on of sockets) {
          for (const n of [1, 2, 255]) {
            const out = s.receive(request(undefined).fill(n, 8), from, on)!;
            const b = new StunBuilder(StunMethod.Binding, StunClass.Success, txid(n));
            b.xorAddress(Attr.XorMappedAddress, from);
            const p = options.primary;
            const a = options.alternate;
            const at = (x: StunServerSocket) =>
              p === undefined
                ? undefined
                : x === 'primary'
                  ? p
                  : a === undefined
                    ? undefined
                    : {
                        address: x === 'alt-ip' || x === 'alt-both' ? a.address : p.address,
                        port: x === 'alt-port' || x === 'alt-both' ? a.port : p.port,
                      };
            const origin = at(on);
            if (origin !== undefined) b.address(Attr.ResponseOrigin, origin);
            const flipped: Record<StunServerSocket, StunServerSocket> = {
              primary: 'alt-both',
              'alt-port': 'alt-ip',
              'alt-ip': 'alt-port',
              'alt-both': 'primary',
            };
            const other = a !== undefined ? at(flipped[on]) : undefined;
            if (other !== undefined) b.address(Attr.OtherAddress, other);
            const sw = options.software ?? 'ghostnet';
            if (sw !== false) b.text(Attr.Software, sw);
            const label = `${JSON.stringify(options)} ${from.address}:${from.port} on ${on}`;
            expect(Buffer.from(out.data).toString('hex'), label).toBe(
              Buffer.from(b.build()).toString('hex'),
            );
            expect(out.via).toBe(on);
          }
        }
      }
      expect(s.stats().responses).toBe(froms.length * sockets.length * 3);
    }
    // IPv6 sources and requests with attributes take the general path and still get answers.
    const s = new StunServerCore();
    const v6 = s.receive(request(), { address: '2001:db8::7', port: 5, family: 'IPv6' })!;
    expect(decodeStun(v6.data).xorAddress()).toEqual({
      address: '2001:db8::7',
      port: 5,
      family: 'IPv6',
    });
    // A bare request whose header is off (wrong cookie, a length) is not answered by the fast
    // path: the general decoder drops it.
    const bad = request();
    bad[7] = bad[7]! ^ 1;
    expect(s.receive(bad, client)).toBeUndefined();
    const long = request();
    long[3] = 4;
    expect(s.receive(long, client)).toBeUndefined();
  });

  it('§7.3: echoes FINGERPRINT use, and drops a request whose FINGERPRINT is wrong', () => {
    const s = new StunServerCore();
    const ok = s.receive(
      request((b) => b.fingerprint()),
      client,
    )!;
    expect(decodeStun(ok.data).verifyFingerprint()).toBe(true);
    const bad = request((b) => b.fingerprint());
    bad[bad.length - 1]! ^= 1;
    expect(s.receive(bad, client)).toBeUndefined();
    expect(s.stats().dropped).toBe(1);
  });

  it('§6.3.1.1: unknown comprehension-required attributes get 420 with UNKNOWN-ATTRIBUTES', () => {
    const s = new StunServerCore();
    const out = s.receive(
      request((b) => b.add(0x7001, Uint8Array.of(1)).add(0xc001, Uint8Array.of(1))),
      client,
    )!;
    const m = decodeStun(out.data);
    expect(m.cls).toBe(StunClass.Error);
    expect(m.errorCode()?.code).toBe(420);
    expect(decodeUnknownAttributes(m.get(Attr.UnknownAttributes)!)).toEqual([0x7001]);
  });

  it('RFC 5780 §6.1: without an alternate address CHANGE-REQUEST is an unknown attribute (420)', () => {
    const s = new StunServerCore();
    const out = s.receive(
      request((b) => b.uint32(Attr.ChangeRequest, ChangeRequest.ChangePort)),
      client,
    )!;
    const m = decodeStun(out.data);
    expect(m.errorCode()?.code).toBe(420);
    expect(decodeUnknownAttributes(m.get(Attr.UnknownAttributes)!)).toEqual([Attr.ChangeRequest]);
  });

  it('RFC 5780 §6.1: CHANGE-REQUEST answers from the alternate IP/port; OTHER-ADDRESS is sent', () => {
    const s = new StunServerCore({
      primary: { address: '192.0.2.1', port: 3478 },
      alternate: { address: '192.0.2.2', port: 3479 },
    });
    const cases: [number, StunServerSocket, string][] = [
      [0, 'primary', '192.0.2.1:3478'],
      [ChangeRequest.ChangePort, 'alt-port', '192.0.2.1:3479'],
      [ChangeRequest.ChangeIp, 'alt-ip', '192.0.2.2:3478'],
      [ChangeRequest.ChangeIp | ChangeRequest.ChangePort, 'alt-both', '192.0.2.2:3479'],
    ];
    for (const [flags, via, origin] of cases) {
      const out = s.receive(
        request((b) => b.uint32(Attr.ChangeRequest, flags)),
        client,
      )!;
      expect(out.via).toBe(via);
      const m = decodeStun(out.data);
      const o = m.address(Attr.ResponseOrigin)!;
      expect(`${o.address}:${o.port}`).toBe(origin);
      const other = m.address(Attr.OtherAddress)!;
      expect(`${other.address}:${other.port}`).toBe('192.0.2.2:3479');
    }
  });

  it('§6.3.1: other methods get 400; indications, responses and garbage are dropped', () => {
    const s = new StunServerCore();
    const out = s.receive(request(undefined, StunMethod.Allocate), client)!;
    expect(decodeStun(out.data).errorCode()?.code).toBe(400);
    const ind = new StunBuilder(StunMethod.Binding, StunClass.Indication, txid(2)).build();
    expect(s.receive(ind, client)).toBeUndefined();
    expect(s.receive(Uint8Array.of(1, 2, 3), client)).toBeUndefined();
    expect(s.stats()).toMatchObject({ requests: 1, errors: 1, dropped: 2 });
  });
});

describe('STUN client core (RFC 8489 §6.2, §7.3)', () => {
  it('retransmits to a silent server and fails with a TimeoutError at 39.5 s', () => {
    const rng = new Rng(5);
    const c = new StunClientCore(rng.randomBytes);
    let err: Error | undefined;
    c.binding({ address: '192.0.2.1', port: 3478 }, 0, (e) => (err = e));
    const sends: number[] = [];
    let now = 0;
    for (;;) {
      sends.push(...c.takeOutput().map(() => now));
      const at = c.nextDeadline();
      if (at === undefined) break;
      now = at;
      c.handleTimeout(now);
    }
    expect(sends).toEqual([0, 500, 1500, 3500, 7500, 15500, 31500]);
    expect(err).toBeInstanceOf(TimeoutError);
    expect(now).toBe(39500);
  });

  it('matches responses by transaction id, ignores strays, surfaces error codes', () => {
    const rng = new Rng(6);
    const c = new StunClientCore(rng.randomBytes);
    const server = new StunServerCore();
    let result: BindingResult | undefined;
    c.binding({ address: '192.0.2.1', port: 3478 }, 0, (_e, r) => (result = r));
    const [req] = c.takeOutput();
    const stray = new StunBuilder(StunMethod.Binding, StunClass.Success, txid(9)).build();
    expect(c.receive(stray, client, 5)).toBe(false);
    const resp = server.receive(req!.data, client)!;
    expect(c.receive(resp.data, client, 20)).toBe(true);
    expect(result?.mapped.port).toBe(40000);
    expect(result?.rttMs).toBe(20);
    expect(c.receive(resp.data, client, 21)).toBe(false); // already answered

    let err: Error | undefined;
    c.binding({ address: '192.0.2.1', port: 3478 }, 30, (e) => (err = e));
    const [req2] = c.takeOutput();
    const m = decodeStun(req2!.data);
    const error = new StunBuilder(StunMethod.Binding, StunClass.Error, m.transactionId)
      .errorCode(420, 'Unknown Attribute')
      .build();
    c.receive(error, client, 40);
    expect(err).toBeInstanceOf(StunResponseError);
    expect((err as StunResponseError).status).toBe(420);
  });
});

describe('STUN over UDP on loopback', () => {
  it('a client learns its address; RFC 5780 discovery says there is no NAT', async () => {
    const server = await StunServer.listen({
      host: '127.0.0.1',
      port: 0,
      alternate: { host: '127.0.0.2', port: 0 },
    });
    const c = await StunClient.create();
    try {
      const r = await c.binding({ address: '127.0.0.1', port: server.address.port });
      expect(r.mapped).toEqual({ address: '127.0.0.1', port: c.address.port, family: 'IPv4' });
      expect(r.otherAddress?.address).toBe('127.0.0.2');
      const b = await c.behavior({ address: '127.0.0.1', port: server.address.port });
      expect(b).toMatchObject({
        mapping: 'no-nat',
        filtering: 'endpoint-independent',
        kind: 'open',
      });
    } finally {
      await c.close();
      await server.close();
    }
  });
});

// ---- RFC 5780 discovery through simulated NATs -------------------------------------------

class ServerSocketCore implements SimCore {
  out: SimDatagram[] = [];
  constructor(
    readonly server: StunServerCore,
    readonly via: StunServerSocket,
    readonly peers: Map<StunServerSocket, { core: ServerSocketCore; node?: SimNode }>,
  ) {}
  receive(data: Uint8Array, from: SocketAddress): void {
    const out = this.server.receive(data, from, this.via);
    this.server.takeOutput();
    if (out === undefined) return;
    const target = this.peers.get(out.via)!;
    target.core.out.push({ data: out.data, to: out.to });
    if (target.core !== this) target.node?.poke();
  }
  takeOutput(): SimDatagram[] {
    const o = this.out;
    this.out = [];
    return o;
  }
  nextDeadline(): number | undefined {
    return undefined;
  }
  handleTimeout(): void {}
}

async function discoverThrough(type: SimNatType) {
  const net = new SimNetwork({ latency: constantLatency(10) });
  const primary = { address: '203.0.113.1', port: 3478 };
  const alternate = { address: '203.0.113.2', port: 3479 };
  const server = new StunServerCore({ primary, alternate });
  const peers = new Map<StunServerSocket, { core: ServerSocketCore; node?: SimNode }>();
  const layout: [StunServerSocket, string, number][] = [
    ['primary', primary.address, primary.port],
    ['alt-port', primary.address, alternate.port],
    ['alt-ip', alternate.address, primary.port],
    ['alt-both', alternate.address, alternate.port],
  ];
  for (const [via] of layout) peers.set(via, { core: new ServerSocketCore(server, via, peers) });
  for (const [via, address, port] of layout) {
    const p = peers.get(via)!;
    p.node = net.addNode(p.core, { address, port });
  }
  const nat = net.addNat({ type });
  const rng = new Rng(type.length);
  const clientCore = new StunClientCore(rng.randomBytes);
  const node = net.addNode(clientCore, { nat, port: 5000 });
  const binding = (s: PeerAddress, o?: Parameters<StunClientCore['binding']>[3]) =>
    new Promise<BindingResult>((resolve, reject) => {
      clientCore.binding(s, net.now, (e, r) => (e === undefined ? resolve(r!) : reject(e)), o);
      node.poke();
    });
  let done = false;
  const p = discoverNatBehavior(binding, primary, node.address).finally(() => (done = true));
  while (!done) {
    net.runFor(100);
    await new Promise((r) => setImmediate(r));
  }
  return p;
}

describe('RFC 5780 behavior discovery through simulated NATs', () => {
  it.each([
    ['full-cone', 'endpoint-independent', 'endpoint-independent'],
    ['restricted', 'endpoint-independent', 'address-dependent'],
    ['port-restricted', 'endpoint-independent', 'address-and-port-dependent'],
    ['symmetric', 'address-and-port-dependent', 'address-and-port-dependent'],
  ] as const)('§4.3/§4.4: a %s NAT is found out', async (type, mapping, filtering) => {
    const b = await discoverThrough(type);
    expect(b.mapping).toBe(mapping);
    expect(b.filtering).toBe(filtering);
    expect(b.kind).toBe(type);
  });
});
