/**
 * The TURN client core against a scripted server on a fake clock (RFC 8656): the 401
 * challenge and signed retry (§7.2, RFC 8489 §9.2), 438 Stale Nonce, SHA-256 keys when the
 * server offers them (RFC 8489 §9.2.4), refreshes before expiry (§8) and the loss of the
 * allocation on 437, permission (§9) and channel (§12) refresh timers, ChannelData and
 * Data indications in, and junk ignored.
 */
import { describe, expect, it } from 'vitest';
import {
  Attr,
  decodeStun,
  encodePasswordAlgorithms,
  longTermKey,
  PasswordAlgorithm,
  StunBuilder,
  StunClass,
  StunMethod,
} from '../../../../src/p2p/nat/stun/codec.js';
import type { StunMessage } from '../../../../src/p2p/nat/stun/codec.js';
import {
  CHANNEL_REFRESH_MS,
  isChannelData,
  PERMISSION_REFRESH_MS,
  TurnClientCore,
} from '../../../../src/p2p/nat/turn/client.js';
import type { Allocation } from '../../../../src/p2p/nat/turn/client.js';
import { Rng } from '../../../../src/p2p/sim/rng.js';

const server = { address: '192.0.2.10', port: 3478 };
const creds = { username: 'alice', password: 'secret' };
const REALM = 'example.org';

function setup(lifetime?: number) {
  const c = new TurnClientCore(new Rng(1).randomBytes, {
    server,
    credentials: creds,
    ...(lifetime !== undefined && { lifetime }),
  });
  const sent = (): StunMessage[] =>
    c
      .takeOutput()
      .filter((d) => !isChannelData(d.data))
      .map((d) => decodeStun(d.data));
  const reply = (req: StunMessage, cls: number, build: (b: StunBuilder) => void, now = 0) => {
    const b = new StunBuilder(req.method, cls, req.transactionId);
    build(b);
    c.receive(b.build(), server, now);
  };
  return { c, sent, reply };
}

function challenge(b: StunBuilder, nonce = 'n1', algorithms?: number[]): void {
  b.errorCode(401, 'Unauthorized').text(Attr.Realm, REALM).text(Attr.Nonce, nonce);
  if (algorithms !== undefined)
    b.add(Attr.PasswordAlgorithms, encodePasswordAlgorithms(algorithms));
}

function allocateOk(t: ReturnType<typeof setup>, key: Uint8Array, lifetime = 600): Allocation {
  let a: Allocation | undefined;
  t.c.allocate(0, (_e, v) => (a = v));
  const [first] = t.sent();
  t.reply(first!, StunClass.Error, (b) => challenge(b));
  const [signed] = t.sent();
  expect(signed!.verifyIntegrity(key)).toBe(true);
  t.reply(signed!, StunClass.Success, (b) => {
    b.xorAddress(Attr.XorRelayedAddress, { address: '192.0.2.10', port: 50000 });
    b.xorAddress(Attr.XorMappedAddress, { address: '198.51.100.1', port: 40000 });
    b.uint32(Attr.Lifetime, lifetime);
    b.integrity(key);
  });
  return a!;
}

describe('TURN client core', () => {
  const md5 = longTermKey('alice', REALM, 'secret');

  it('§7.2: Allocate is challenged with 401, retried with USERNAME/REALM/NONCE/MESSAGE-INTEGRITY', () => {
    const t = setup();
    let a: Allocation | undefined;
    t.c.allocate(0, (_e, v) => (a = v));
    const [first] = t.sent();
    expect(first!.method).toBe(StunMethod.Allocate);
    expect(first!.uint32(Attr.RequestedTransport)).toBe(17 << 24);
    expect(first!.has(Attr.MessageIntegrity)).toBe(false);
    t.reply(first!, StunClass.Error, (b) => challenge(b));
    const [signed] = t.sent();
    expect(signed!.text(Attr.Username)).toBe('alice');
    expect(signed!.text(Attr.Realm)).toBe(REALM);
    expect(signed!.text(Attr.Nonce)).toBe('n1');
    expect(signed!.verifyIntegrity(md5)).toBe(true);
    expect(signed!.verifyFingerprint()).toBe(true);
    t.reply(signed!, StunClass.Success, (b) => {
      b.xorAddress(Attr.XorRelayedAddress, { address: '192.0.2.10', port: 50000 });
      b.uint32(Attr.Lifetime, 600);
      b.integrity(md5);
    });
    expect(a?.relayed).toEqual({ address: '192.0.2.10', port: 50000, family: 'IPv4' });
  });

  it('§7.2: a second 401 (wrong password) fails; 438 Stale Nonce is retried once with the new nonce', () => {
    const t = setup();
    let err: Error | undefined;
    t.c.allocate(0, (e) => (err = e));
    const [first] = t.sent();
    t.reply(first!, StunClass.Error, (b) => challenge(b));
    const [signed] = t.sent();
    t.reply(signed!, StunClass.Error, (b) => challenge(b));
    expect(err?.message).toMatch(/401/);

    const t2 = setup();
    allocateOk(t2, md5);
    let granted: number | undefined;
    t2.c.refresh(600, 1000, (_e, v) => (granted = v));
    const [refresh] = t2.sent();
    t2.reply(refresh!, StunClass.Error, (b) =>
      b.errorCode(438, 'Stale Nonce').text(Attr.Realm, REALM).text(Attr.Nonce, 'n2'),
    );
    const [again] = t2.sent();
    expect(again!.text(Attr.Nonce)).toBe('n2');
    expect(again!.verifyIntegrity(md5)).toBe(true);
    t2.reply(again!, StunClass.Success, (b) => b.uint32(Attr.Lifetime, 600).integrity(md5));
    expect(granted).toBe(600);
  });

  it('RFC 8489 §9.2.4: when the server offers SHA-256 the client signs with MESSAGE-INTEGRITY-SHA256', () => {
    const t = setup();
    t.c.allocate(0, () => {});
    const [first] = t.sent();
    t.reply(first!, StunClass.Error, (b) =>
      challenge(b, 'n1', [PasswordAlgorithm.Md5, PasswordAlgorithm.Sha256]),
    );
    const [signed] = t.sent();
    const sha = longTermKey('alice', REALM, 'secret', PasswordAlgorithm.Sha256);
    expect(signed!.verifyIntegritySha256(sha)).toBe(true);
    expect(signed!.has(Attr.MessageIntegrity)).toBe(false);
    expect(signed!.get(Attr.PasswordAlgorithm)).toEqual(Uint8Array.of(0, 2, 0, 0));
  });

  it('§8: refreshes a minute before expiry; a 437 on refresh loses the allocation', () => {
    const t = setup();
    allocateOk(t, md5, 600);
    expect(t.c.nextDeadline()).toBe(540_000);
    t.c.handleTimeout(540_000);
    const [refresh] = t.sent();
    expect(refresh!.method).toBe(StunMethod.Refresh);
    expect(refresh!.uint32(Attr.Lifetime)).toBe(600);
    t.reply(refresh!, StunClass.Error, (b) => b.errorCode(437, 'Allocation Mismatch'), 540_010);
    expect(t.c.allocation).toBeUndefined();
    expect(t.c.takeEvents().map((e) => e.type)).toEqual(['allocation-lost']);
  });

  it('§9, §12: permissions refresh at 4 minutes, channels at 9; sends use the channel once bound', () => {
    const t = setup();
    allocateOk(t, md5);
    const peer = { address: '203.0.113.5', port: 7000 };
    t.c.createPermission([peer.address], 0, () => {});
    const [perm] = t.sent();
    expect(perm!.xorAddress(Attr.XorPeerAddress)?.address).toBe(peer.address);
    t.reply(perm!, StunClass.Success, (b) => b.integrity(md5));
    // Before a channel: a Send indication with XOR-PEER-ADDRESS and DATA.
    t.c.send(peer, Uint8Array.of(1, 2, 3));
    const [ind] = t.sent();
    expect(ind!.cls).toBe(StunClass.Indication);
    expect(ind!.method).toBe(StunMethod.Send);
    expect(ind!.get(Attr.Data)).toEqual(Uint8Array.of(1, 2, 3));
    let channel: number | undefined;
    t.c.channelBind(peer, 0, (_e, n) => (channel = n));
    const [bind] = t.sent();
    expect(bind!.uint32(Attr.ChannelNumber)).toBe(0x4000 << 16);
    t.reply(bind!, StunClass.Success, (b) => b.integrity(md5));
    expect(channel).toBe(0x4000);
    t.c.send(peer, Uint8Array.of(9));
    const [cd] = t.c.takeOutput();
    expect(Array.from(cd!.data)).toEqual([0x40, 0x00, 0x00, 0x01, 9]);
    // Timers: the permission at 240 s, the channel at 540 s.
    t.c.handleTimeout(PERMISSION_REFRESH_MS);
    expect(t.sent().map((m) => m.method)).toContain(StunMethod.CreatePermission);
    t.c.handleTimeout(CHANNEL_REFRESH_MS);
    expect(t.sent().map((m) => m.method)).toContain(StunMethod.ChannelBind);
  });

  it('§11.4, §12.5: Data indications and ChannelData become data events; junk and strangers are ignored', () => {
    const t = setup();
    allocateOk(t, md5);
    const peer = { address: '203.0.113.5', port: 7000 };
    t.c.channelBind(peer, 0, () => {});
    const [bind] = t.sent();
    t.reply(bind!, StunClass.Success, (b) => b.integrity(md5));
    const data = new StunBuilder(StunMethod.Data, StunClass.Indication, new Uint8Array(12))
      .xorAddress(Attr.XorPeerAddress, peer)
      .add(Attr.Data, Uint8Array.of(5, 6))
      .build();
    expect(t.c.receive(data, server, 1)).toBe(true);
    expect(t.c.receive(Uint8Array.of(0x40, 0x00, 0x00, 0x02, 7, 8, 0, 0), server, 2)).toBe(true);
    expect(t.c.receive(Uint8Array.of(0x40, 0x00, 0x00, 0x09, 7), server, 3)).toBe(true); // truncated
    expect(t.c.receive(Uint8Array.of(0x41, 0x00, 0x00, 0x01, 7), server, 3)).toBe(true); // unknown channel
    expect(t.c.receive(data, { address: '192.0.2.99', port: 3478 }, 4)).toBe(false); // not our server
    expect(t.c.receive(Uint8Array.of(1, 2, 3), server, 5)).toBe(false);
    const events = t.c.takeEvents();
    expect(events).toEqual([
      { type: 'data', peer: { ...peer, family: 'IPv4' }, data: Uint8Array.of(5, 6) },
      { type: 'data', peer: { ...peer, family: 'IPv4' }, data: Uint8Array.of(7, 8) },
    ]);
  });

  it('ignores a success response whose MESSAGE-INTEGRITY does not verify', () => {
    const t = setup();
    let a: Allocation | undefined;
    t.c.allocate(0, (_e, v) => (a = v));
    const [first] = t.sent();
    t.reply(first!, StunClass.Error, (b) => challenge(b));
    const [signed] = t.sent();
    t.reply(signed!, StunClass.Success, (b) => {
      b.xorAddress(Attr.XorRelayedAddress, { address: '192.0.2.66', port: 1 });
      b.integrity(longTermKey('alice', REALM, 'forged'));
    });
    expect(a).toBeUndefined();
  });
});
