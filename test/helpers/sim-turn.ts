/**
 * A minimal TURN server for the simulator (RFC 8656 subset, test support only): Allocate
 * with long-term credentials (401 with REALM and NONCE, then MESSAGE-INTEGRITY checked),
 * Refresh, CreatePermission, Send indications out and Data indications in. Each allocation
 * gets its own relay node on the SimNetwork (a public address), so relayed traffic crosses
 * the simulated NATs like real traffic. No channels (ChannelBind is answered 400, so
 * clients keep to indications) and no expiry: runs are short.
 */
import {
  Attr,
  decodeStun,
  longTermKey,
  StunBuilder,
  StunClass,
  StunMethod,
} from '../../src/p2p/nat/stun/codec.js';
import type { StunMessage } from '../../src/p2p/nat/stun/codec.js';
import type { SimNetwork } from '../../src/p2p/sim/network.js';
import type { SimCore, SimDatagram, SimNode } from '../../src/p2p/sim/node.js';
import type { PeerAddress, SocketAddress } from '../../src/transport/types.js';

const REALM = 'sim.test';
const NONCE = 'sim-nonce-1';

class RelayCore implements SimCore {
  out: SimDatagram[] = [];
  constructor(readonly onPeer: (data: Uint8Array, from: SocketAddress) => void) {}
  receive(data: Uint8Array, from: SocketAddress): void {
    this.onPeer(data, from);
  }
  takeOutput(): SimDatagram[] {
    const o = this.out;
    this.out = [];
    return o;
  }
  nextDeadline(): undefined {
    return undefined;
  }
  handleTimeout(): void {}
}

interface Allocation {
  client: PeerAddress;
  relay: SimNode<RelayCore>;
  permissions: Set<string>;
}

export class SimTurnServer implements SimCore {
  node: SimNode | undefined;
  readonly #net: SimNetwork;
  readonly #key: Uint8Array;
  readonly #allocations = new Map<string, Allocation>();
  #out: SimDatagram[] = [];
  #nextRelayPort = 49152;
  /** Datagrams relayed (both directions). */
  relayed = 0;

  constructor(
    net: SimNetwork,
    readonly username: string,
    password: string,
  ) {
    this.#net = net;
    this.#key = longTermKey(username, REALM, password);
  }

  takeOutput(): SimDatagram[] {
    const o = this.#out;
    this.#out = [];
    return o;
  }
  nextDeadline(): undefined {
    return undefined;
  }
  handleTimeout(): void {}

  receive(data: Uint8Array, from: SocketAddress): void {
    let m: StunMessage;
    try {
      m = decodeStun(data);
    } catch {
      return;
    }
    const key = `${from.address}|${from.port}`;
    const alloc = this.#allocations.get(key);
    if (m.cls === StunClass.Indication && m.method === StunMethod.Send) {
      const peer = m.xorAddress(Attr.XorPeerAddress);
      const payload = m.get(Attr.Data);
      if (alloc === undefined || peer === undefined || payload === undefined) return;
      if (!alloc.permissions.has(peer.address)) return;
      this.relayed++;
      alloc.relay.core.out.push({
        data: payload.slice(),
        to: { address: peer.address, port: peer.port },
      });
      alloc.relay.poke();
      return;
    }
    if (m.cls !== StunClass.Request) return;
    const reply = (cls: number, build: (b: StunBuilder) => void, sign = true): void => {
      const b = new StunBuilder(m.method, cls, m.transactionId);
      build(b);
      if (sign) b.integrity(this.#key);
      b.fingerprint();
      this.#out.push({ data: b.build(), to: { address: from.address, port: from.port } });
    };
    if (m.method === StunMethod.Binding) {
      reply(StunClass.Success, (b) => b.xorAddress(Attr.XorMappedAddress, from), false);
      return;
    }
    // Long-term credentials: challenge, then check.
    if (
      !m.has(Attr.MessageIntegrity) ||
      !m.verifyIntegrity(this.#key) ||
      m.text(Attr.Username) !== this.username
    ) {
      reply(
        StunClass.Error,
        (b) => b.errorCode(401, 'Unauthorized').text(Attr.Realm, REALM).text(Attr.Nonce, NONCE),
        false,
      );
      return;
    }
    switch (m.method) {
      case StunMethod.Allocate: {
        if (alloc !== undefined) {
          reply(StunClass.Error, (b) => b.errorCode(437, 'Allocation Mismatch'));
          return;
        }
        const port = this.#nextRelayPort++;
        const serverAddr = this.node!.address.address;
        const relay = this.#net.addNode(
          new RelayCore((payload, peer) => {
            const a = this.#allocations.get(key);
            if (a === undefined || !a.permissions.has(peer.address)) return;
            this.relayed++;
            const ind = new StunBuilder(
              StunMethod.Data,
              StunClass.Indication,
              new Uint8Array(12).fill(port & 0xff),
            )
              .xorAddress(Attr.XorPeerAddress, peer)
              .add(Attr.Data, payload)
              .build();
            this.#out.push({ data: ind, to: { address: from.address, port: from.port } });
            this.node!.poke();
          }),
          { address: serverAddr, port },
        );
        this.#allocations.set(key, { client: from, relay, permissions: new Set() });
        reply(StunClass.Success, (b) => {
          b.xorAddress(Attr.XorRelayedAddress, { address: serverAddr, port });
          b.xorAddress(Attr.XorMappedAddress, from);
          b.uint32(Attr.Lifetime, 600);
        });
        return;
      }
      case StunMethod.Refresh:
        reply(StunClass.Success, (b) => b.uint32(Attr.Lifetime, m.uint32(Attr.Lifetime) ?? 600));
        return;
      case StunMethod.CreatePermission:
        if (alloc === undefined) {
          reply(StunClass.Error, (b) => b.errorCode(437, 'Allocation Mismatch'));
          return;
        }
        // Every XOR-PEER-ADDRESS, not just the first.
        for (const a of m.attributes) {
          if (a.type !== Attr.XorPeerAddress) continue;
          const sub = decodeStun(
            new StunBuilder(StunMethod.CreatePermission, StunClass.Request, m.transactionId)
              .add(a.type, a.value)
              .build(),
          ).xorAddress(Attr.XorPeerAddress);
          if (sub !== undefined) alloc.permissions.add(sub.address);
        }
        reply(StunClass.Success, () => {});
        return;
      default:
        reply(StunClass.Error, (b) => b.errorCode(400, 'Bad Request'));
    }
  }
}
