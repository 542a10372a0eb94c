/**
 * memberlist's framing (wire/packet.ts): compound messages (util.go `makeCompoundMessage`,
 * `makeCompoundMessages`, `decodeCompoundMessage` — truncated parts counted and dropped), the
 * label header (label.go `AddLabelHeaderToPacket`, `RemoveLabelHeaderFromPacket`), the CRC
 * wrapper (net.go `ingestPacket`), packets sealed and opened with compression, CRC, label and
 * encryption (net.go `rawSendMsgPacket`, `ingestPacket`, security.go), the nesting and
 * message-count limits, stream framing on every prefix (net.go `readStream`,
 * `readRemoteState`, `readUserMsg`) with label, compression and encryption, the
 * maxStreamBytes bound, and a seeded fuzz where only GhostnetErrors escape.
 */
import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { GhostnetError, InvalidOptionError } from '../../../../src/errors.js';
import { GossipError, GossipErrorCodes } from '../../../../src/p2p/gossip/errors.js';
import { compressPayload } from '../../../../src/p2p/gossip/wire/compress.js';
import {
  encryptedLength,
  GossipCryptoError,
  GossipCryptoErrorCodes,
} from '../../../../src/p2p/gossip/wire/crypto.js';
import type { RandomSource } from '../../../../src/p2p/gossip/wire/crypto.js';
import { Keyring } from '../../../../src/p2p/gossip/wire/keyring.js';
import { LzwError, LzwErrorCodes } from '../../../../src/p2p/gossip/wire/lzw.js';
import {
  decodeAck,
  decodeAlive,
  decodeDead,
  decodeErr,
  decodeIndirectPing,
  decodeNack,
  decodePing,
  decodeSuspect,
  encodeAck,
  encodeAlive,
  encodeDead,
  encodeErr,
  encodeIndirectPing,
  encodeNack,
  encodePing,
  encodePushPull,
  encodeSuspect,
  encodeUserStream,
  MessageType,
  NodeState,
} from '../../../../src/p2p/gossip/wire/messages.js';
import type { PushNodeState } from '../../../../src/p2p/gossip/wire/messages.js';
import { GoWriter } from '../../../../src/p2p/gossip/wire/msgpack.js';
import {
  addCrc,
  addLabelHeader,
  decodeCompound,
  decodePushPull,
  decodeUserStream,
  encodeCompound,
  encodeCompounds,
  LABEL_MAX_SIZE,
  MAX_COMPOUND_PARTS,
  removeLabelHeader,
  WireCodec,
} from '../../../../src/p2p/gossip/wire/packet.js';
import type { WireOptions } from '../../../../src/p2p/gossip/wire/packet.js';
import { mulberry32 } from '../../../helpers/prng.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const cat = (...parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};
const code = (c: string): unknown => expect.objectContaining({ code: c });

function seededRandom(seed: number): RandomSource {
  const rand = mulberry32(seed);
  return (n) => Uint8Array.from({ length: n }, () => Math.floor(rand() * 256));
}
const random = seededRandom(1);
const codec = (opts: Partial<WireOptions> = {}): WireCodec =>
  new WireCodec({ random, compression: false, ...opts });

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

const KEY_A = new Uint8Array(32).fill(0xa1);
const KEY_B = new Uint8Array(16).fill(0xb2);
const ringA = (): Keyring => new Keyring([KEY_A], KEY_A);

const ping = encodePing({ seqNo: 1, node: 'b' });
const nack = encodeNack({ seqNo: 2 });
const alive = encodeAlive({
  incarnation: 3,
  node: 'node-a',
  addr: Uint8Array.of(10, 0, 0, 1),
  port: 7946,
  meta: utf8('role'),
  vsn: Uint8Array.of(1, 5, 2, 0, 0, 0),
});
const bigUser = cat(Uint8Array.of(MessageType.User), new Uint8Array(1000).fill(0x61));

describe('compound messages (util.go makeCompoundMessage, decodeCompoundMessage)', () => {
  it('encodes [7][count][u16 BE lengths][parts]', () => {
    expect(hex(encodeCompound([utf8('a'), utf8('bb')]))).toBe(
      '0702000100026162 62'.replace(' ', ''),
    );
    expect(hex(encodeCompound([]))).toBe('0700');
    const long = new Uint8Array(0x1234);
    expect(hex(encodeCompound([long]).subarray(0, 4))).toBe('07011234');
  });

  it('decodes what it encodes, ignoring bytes after the last part', () => {
    const parts = [utf8('a'), utf8('bb'), new Uint8Array(0), utf8('ccc')];
    const c = encodeCompound(parts);
    expect(decodeCompound(c.subarray(1))).toEqual({ parts, truncated: 0 });
    expect(decodeCompound(cat(c.subarray(1), utf8('junk')))).toEqual({ parts, truncated: 0 });
    expect(decodeCompound(Uint8Array.of(0))).toEqual({ parts: [], truncated: 0 });
  });

  it('counts and drops parts cut off by the end of the packet, at every cut point', () => {
    const parts = [utf8('a'), utf8('bb'), utf8('ccc')];
    const body = encodeCompound(parts).subarray(1);
    const headerEnd = 1 + 2 * parts.length;
    for (let cut = headerEnd; cut <= body.length; cut++) {
      let fit = 0;
      let used = headerEnd;
      while (fit < parts.length && used + parts[fit]!.length <= cut) used += parts[fit++]!.length;
      expect(decodeCompound(body.subarray(0, cut)), `cut at ${cut}`).toEqual({
        parts: parts.slice(0, fit),
        truncated: parts.length - fit,
      });
    }
  });

  it('refuses a missing count byte or a truncated length table', () => {
    expect(thrown(() => decodeCompound(new Uint8Array(0)))).toEqual(
      code(GossipErrorCodes.MALFORMED),
    );
    for (const h of ['01', '0100', '030001000200']) {
      const err = thrown(() => decodeCompound(unhex(h)));
      expect(err, h).toBeInstanceOf(GossipError);
      expect(err, h).toEqual(code(GossipErrorCodes.MALFORMED));
    }
  });

  it('makeCompoundMessages: more than 255 parts split into several compounds, in order', () => {
    expect(MAX_COMPOUND_PARTS).toBe(255);
    const parts = (n: number): Uint8Array[] =>
      Array.from({ length: n }, (_, i) => new GoWriter().uint(i).finish());
    expect(encodeCompounds([])).toEqual([]);
    expect(encodeCompounds(parts(255))).toHaveLength(1);
    for (const [n, sizes] of [
      [256, [255, 1]],
      [600, [255, 255, 90]],
    ] as const) {
      const all = parts(n);
      const compounds = encodeCompounds(all);
      expect(compounds.map((c) => c[1])).toEqual(sizes);
      const back = compounds.flatMap((c) => decodeCompound(c.subarray(1)).parts);
      expect(back).toEqual(all);
    }
    expect(() => encodeCompound(parts(256))).toThrow(RangeError);
    expect(() => encodeCompound([new Uint8Array(65536)])).toThrow(RangeError);
  });

  it('openPacket unfolds a compound, keeping the parts before a truncation', () => {
    const c = encodeCompound([ping, nack, alive]);
    expect(codec().openPacket(c)).toEqual([ping, nack, alive]);
    const bad: Error[] = [];
    expect(codec().openPacket(c.subarray(0, c.length - 1), (e) => bad.push(e))).toEqual([
      ping,
      nack,
    ]);
    expect(bad).toEqual([code(GossipErrorCodes.MALFORMED)]); // the truncation is reported
  });

  it('net.go handleCompound: a bad part is dropped alone, the other parts are kept', () => {
    // memberlist hands each part to handleCommand, which logs and skips a bad one; the
    // other parts of the packet are still handled.
    const empty = new Uint8Array(0); // "missing message type byte"
    const badCompress = Uint8Array.of(MessageType.Compress, 0xc1); // not a compress struct
    const badCompound = Uint8Array.of(MessageType.Compound, 5); // no length table
    const packet = encodeCompound([ping, empty, badCompress, nack, badCompound, alive]);
    const bad: Error[] = [];
    expect(codec().openPacket(packet, (e) => bad.push(e))).toEqual([ping, nack, alive]);
    expect(bad).toHaveLength(3);
    for (const e of bad) expect(e).toBeInstanceOf(GhostnetError);
    // The same inside a nested compound, and without a listener.
    expect(codec().openPacket(encodeCompound([encodeCompound([empty, ping]), nack]))).toEqual([
      ping,
      nack,
    ]);
    // A bad message that is the whole packet still refuses the packet.
    expect(thrown(() => codec().openPacket(badCompound))).toEqual(code(GossipErrorCodes.MALFORMED));
  });
});

describe('label header (label.go)', () => {
  it('AddLabelHeaderToPacket: [244][len][label] before the packet; nothing for no label', () => {
    const msg = utf8('msg');
    expect(addLabelHeader(msg, new Uint8Array(0))).toBe(msg);
    expect(hex(addLabelHeader(msg, utf8('dc1')))).toBe(`f403${hex(utf8('dc1'))}${hex(msg)}`);
  });

  it('RemoveLabelHeaderFromPacket: splits it off, refuses empty and truncated headers', () => {
    const labelled = addLabelHeader(utf8('msg'), utf8('dc1'));
    expect(removeLabelHeader(labelled)).toEqual({ label: utf8('dc1'), rest: utf8('msg') });
    expect(removeLabelHeader(utf8('msg'))).toEqual({ label: new Uint8Array(0), rest: utf8('msg') });
    expect(removeLabelHeader(new Uint8Array(0)).rest).toEqual(new Uint8Array(0));
    const max = new Uint8Array(LABEL_MAX_SIZE).fill(0x6c);
    expect(removeLabelHeader(addLabelHeader(ping, max))).toEqual({ label: max, rest: ping });
    for (const [h, why] of [
      ['f4', /truncated/],
      ['f400', /empty/],
      ['f4050102', /truncated/],
    ] as const) {
      const err = thrown(() => removeLabelHeader(unhex(h)));
      expect(err, h).toEqual(code(GossipErrorCodes.MALFORMED));
      expect((err as Error).message, h).toMatch(why);
    }
  });

  it('labels are at most 255 bytes (LabelMaxSize), counted in UTF-8 bytes', () => {
    expect(codec({ label: 'x'.repeat(255) }).label.length).toBe(255);
    expect(() => codec({ label: 'x'.repeat(256) })).toThrow(InvalidOptionError);
    expect(() => codec({ label: 'é'.repeat(128) })).toThrow(InvalidOptionError);
  });

  it('ingestPacket: a packet whose label is not ours is dropped (GN_ERR_GOSSIP_LABEL)', () => {
    const LABEL = code(GossipErrorCodes.LABEL_MISMATCH);
    const dc1 = codec({ label: 'dc1' });
    const dc2 = codec({ label: 'dc2' });
    const none = codec();
    expect(dc1.openPacket(dc1.sealPacket(ping))).toEqual([ping]);
    expect(thrown(() => dc2.openPacket(dc1.sealPacket(ping)))).toEqual(LABEL);
    expect(thrown(() => none.openPacket(dc1.sealPacket(ping)))).toEqual(LABEL);
    expect(thrown(() => dc1.openPacket(none.sealPacket(ping)))).toEqual(LABEL);
    // Streams likewise (net.go handleConn).
    expect(thrown(() => dc2.openStream(dc1.sealStream(ping)))).toEqual(LABEL);
    expect(thrown(() => none.openStream(dc1.sealStream(ping)))).toEqual(LABEL);
    expect(thrown(() => dc1.openStream(none.sealStream(ping)))).toEqual(LABEL);
  });
});

describe('CRC wrapper (net.go ingestPacket: hasCrcMsg)', () => {
  it('is [12][CRC-32 IEEE, big-endian][msg]', () => {
    // CRC-32 check value: crc32("123456789") = 0xcbf43926.
    expect(hex(addCrc(utf8('123456789')))).toBe(`0ccbf43926${hex(utf8('123456789'))}`);
    expect(new DataView(addCrc(ping).buffer).getUint32(1)).toBe(crc32(ping));
  });

  it('a good CRC is stripped; a bad one drops the packet (GN_ERR_GOSSIP_CHECKSUM)', () => {
    const c = codec();
    const wrapped = addCrc(encodeCompound([ping, nack]));
    expect(c.openPacket(wrapped)).toEqual([ping, nack]);
    for (const at of [1, 4, 5, wrapped.length - 1]) {
      const bad = wrapped.slice();
      bad[at]! ^= 0x40;
      expect(
        thrown(() => c.openPacket(bad)),
        `byte ${at}`,
      ).toEqual(code(GossipErrorCodes.BAD_CHECKSUM));
    }
  });

  it('fewer than 5 bytes starting with 12 are not a CRC wrapper (passed on as a message)', () => {
    expect(codec().openPacket(Uint8Array.of(12, 1, 2))).toEqual([Uint8Array.of(12, 1, 2)]);
  });

  it('sealPacket(msg, true) puts the CRC inside encryption and outside compression', () => {
    const plain = codec({ compression: true });
    const sealed = plain.sealPacket(bigUser, true);
    expect(sealed[0]).toBe(MessageType.HasCrc);
    expect(sealed[5]).toBe(MessageType.Compress);
    expect(plain.openPacket(sealed)).toEqual([bigUser]);
    const enc = codec({ compression: true, keyring: ringA() });
    expect(enc.openPacket(enc.sealPacket(bigUser, true))).toEqual([bigUser]);
  });
});

describe('sealPacket / openPacket (net.go rawSendMsgPacket, ingestPacket, handleCommand)', () => {
  it('without compression, label or encryption the packet is the message', () => {
    expect(codec().sealPacket(ping)).toEqual(ping);
    expect(codec().openPacket(ping)).toEqual([ping]);
  });

  it('compresses only when that is shorter (memberlist compresses packets only then)', () => {
    const c = codec({ compression: true });
    expect(c.sealPacket(ping)).toEqual(ping);
    const sealed = c.sealPacket(bigUser);
    expect(sealed[0]).toBe(MessageType.Compress);
    expect(sealed.length).toBeLessThan(bigUser.length);
    expect(c.openPacket(sealed)).toEqual([bigUser]);
    // Any codec opens a compressed packet, whether or not it compresses itself.
    expect(codec().openPacket(sealed)).toEqual([bigUser]);
    const compound = encodeCompound([ping, bigUser, alive]);
    expect(c.openPacket(c.sealPacket(compound))).toEqual([ping, bigUser, alive]);
  });

  it('encrypts with the primary key, the label as additional data (security.go)', () => {
    const c = codec({ keyring: ringA() });
    const sealed = c.sealPacket(ping);
    expect(sealed[0]).toBe(1); // encryption version 1
    expect(sealed.length).toBe(encryptedLength(1, ping.length));
    expect(c.openPacket(sealed)).toEqual([ping]);

    const labelled = codec({ keyring: ringA(), label: 'dc1', compression: true });
    const both = labelled.sealPacket(encodeCompound([ping, bigUser]), true);
    expect(hex(both.subarray(0, 6))).toBe(`f403${hex(utf8('dc1'))}01`);
    expect(labelled.openPacket(both)).toEqual([ping, bigUser]);

    // The label is authenticated: the same key under another label does not decrypt.
    const relabelled = both.slice();
    relabelled.set(utf8('dc2'), 2);
    const dc2 = codec({ keyring: ringA(), label: 'dc2' });
    expect(thrown(() => dc2.openPacket(relabelled))).toEqual(
      code(GossipCryptoErrorCodes.DECRYPT_FAILED),
    );
  });

  it('another key, a tampered byte, or a plaintext packet (GossipVerifyIncoming) are refused', () => {
    const c = codec({ keyring: ringA() });
    const sealed = c.sealPacket(ping);
    const other = codec({ keyring: new Keyring([KEY_B], KEY_B) });
    const err = thrown(() => other.openPacket(sealed));
    expect(err).toBeInstanceOf(GossipCryptoError);
    expect(err).toEqual(code(GossipCryptoErrorCodes.DECRYPT_FAILED));
    const tampered = sealed.slice();
    tampered[20]! ^= 1;
    expect(thrown(() => c.openPacket(tampered))).toEqual(
      code(GossipCryptoErrorCodes.DECRYPT_FAILED),
    );
    expect(thrown(() => c.openPacket(ping))).toBeInstanceOf(GossipCryptoError);
    // verifyIncoming: false reads a plaintext packet when decryption fails.
    expect(codec({ keyring: ringA(), verifyIncoming: false }).openPacket(ping)).toEqual([ping]);
  });

  it('verifyOutgoing: false sends plaintext; rotated keys still open old packets', () => {
    const lax = codec({ keyring: ringA(), verifyOutgoing: false });
    expect(lax.sealPacket(ping)).toEqual(ping);
    expect(lax.packetOverhead).toBe(0);
    const old = codec({ keyring: ringA() }).sealPacket(ping);
    const rotated = new Keyring([KEY_A, KEY_B], KEY_B);
    expect(codec({ keyring: rotated }).openPacket(old)).toEqual([ping]);
  });

  it('encryption version 0 (protocol 1) pads with PKCS7; packetOverhead counts it', () => {
    const v0 = codec({ keyring: ringA(), encryptionVersion: 0, label: 'dc1' });
    const sealed = v0.sealPacket(alive);
    expect(sealed[5]).toBe(0);
    expect(sealed.length).toBe(5 + encryptedLength(0, alive.length));
    expect(v0.openPacket(sealed)).toEqual([alive]);
    expect(v0.packetOverhead).toBe(5 + 45);
    expect(codec().packetOverhead).toBe(0);
    expect(codec({ label: 'dc1' }).packetOverhead).toBe(5);
    expect(codec({ keyring: ringA() }).packetOverhead).toBe(29);
    expect(codec({ keyring: ringA(), label: 'dc1' }).packetOverhead).toBe(34);
    expect(codec({ keyring: new Keyring() }).encrypted).toBe(false);
  });

  it('an empty datagram or an empty part is refused', () => {
    expect(thrown(() => codec().openPacket(new Uint8Array(0)))).toEqual(
      code(GossipErrorCodes.MALFORMED),
    );
    expect(thrown(() => codec({ label: 'dc1' }).openPacket(unhex('f403646331')))).toEqual(
      code(GossipErrorCodes.MALFORMED),
    );
  });
});

describe('limits on unfolding packets', () => {
  const wrap = (msg: Uint8Array, levels: number, how: 'compound' | 'compress'): Uint8Array => {
    let out = msg;
    for (let i = 0; i < levels; i++) {
      out = how === 'compound' ? encodeCompound([out]) : compressPayload(out);
    }
    return out;
  };

  it('nesting: four levels of compound/compress wrapping open, a fifth is TOO_LARGE', () => {
    for (const how of ['compound', 'compress'] as const) {
      expect(codec().openPacket(wrap(ping, 4, how)), how).toEqual([ping]);
      const err = thrown(() => codec().openPacket(wrap(ping, 5, how)));
      expect(err, how).toBeInstanceOf(GossipError);
      expect(err, how).toEqual(code(GossipErrorCodes.TOO_LARGE));
    }
    const mixed = encodeCompound([compressPayload(encodeCompound([compressPayload(ping)]))]);
    expect(codec().openPacket(mixed)).toEqual([ping]);
    expect(thrown(() => codec().openPacket(encodeCompound([mixed])))).toEqual(
      code(GossipErrorCodes.TOO_LARGE),
    );
  });

  it('maxPacketMessages (default 1024) bounds what one packet unfolds into', () => {
    const inner = encodeCompound(Array.from({ length: 255 }, () => Uint8Array.of(8, 1)));
    const four = encodeCompound([inner, inner, inner, inner]); // 1020 messages
    expect(codec().openPacket(four)).toHaveLength(1020);
    const five = encodeCompound([inner, inner, inner, inner, inner]); // 1275
    expect(thrown(() => codec().openPacket(five))).toEqual(code(GossipErrorCodes.TOO_LARGE));
    const small = codec({ maxPacketMessages: 3 });
    expect(small.openPacket(encodeCompound([ping, ping, ping]))).toHaveLength(3);
    expect(thrown(() => small.openPacket(encodeCompound([ping, ping, ping, ping])))).toEqual(
      code(GossipErrorCodes.TOO_LARGE),
    );
  });

  it('maxPacketBytes (default 64 KiB) bounds decompression', () => {
    const bomb = compressPayload(cat(Uint8Array.of(MessageType.User), new Uint8Array(70_000)));
    expect(bomb.length).toBeLessThan(2000);
    const err = thrown(() => codec().openPacket(bomb));
    expect(err).toBeInstanceOf(LzwError);
    expect(err).toEqual(code(LzwErrorCodes.OUTPUT_TOO_LARGE));
    expect(codec({ maxPacketBytes: 100_000 }).openPacket(bomb)[0]!.length).toBe(70_001);
  });
});

const NODE: PushNodeState = {
  name: 'node-a',
  addr: Uint8Array.of(10, 0, 0, 1),
  port: 7946,
  meta: utf8('meta'),
  incarnation: 4,
  state: NodeState.Alive,
  vsn: Uint8Array.of(1, 5, 2, 0, 0, 0),
};

/** Stream messages of every kind that can open a stream or answer one. */
const STREAM_MESSAGES: readonly [string, Uint8Array][] = [
  ['push-pull', encodePushPull([NODE, { ...NODE, name: 'b' }, NODE], utf8('user-state'), true)],
  ['empty push-pull', encodePushPull([], new Uint8Array(0), false)],
  ['push-pull, large user state', encodePushPull([NODE], new Uint8Array(300).fill(3), false)],
  ['user', encodeUserStream(utf8('hello'))],
  ['empty user', encodeUserStream(new Uint8Array(0))],
  ['ping', encodePing({ seqNo: 9, node: 'b', sourceAddr: NODE.addr, sourcePort: 1 })],
  ['ack', encodeAck({ seqNo: 9, payload: utf8('coords') })],
  ['nack', encodeNack({ seqNo: 9 })],
  ['err', encodeErr({ error: 'no' })],
];

const STREAM_CODECS: readonly [string, () => WireCodec][] = [
  ['plain', () => codec()],
  ['compressed', () => codec({ compression: true })],
  ['labelled', () => codec({ label: 'dc1' })],
  ['labelled, compressed', () => codec({ label: 'dc1', compression: true })],
  ['encrypted', () => codec({ keyring: ringA() })],
  [
    'encrypted, labelled, compressed',
    () => codec({ keyring: ringA(), label: 'a-longer-label', compression: true }),
  ],
  ['encrypted v0, labelled', () => codec({ keyring: ringA(), label: 'x', encryptionVersion: 0 })],
];

describe('stream framing (net.go readStream) on every prefix', () => {
  it('frameStream is undefined until a message is whole, then its exact length', () => {
    for (const [cname, make] of STREAM_CODECS) {
      const c = make();
      for (const [mname, msg] of STREAM_MESSAGES) {
        const what = `${mname} / ${cname}`;
        const sealed = c.sealStream(msg);
        for (let i = 0; i < sealed.length; i++) {
          expect(c.frameStream(sealed.subarray(0, i)), `${what}: ${i} bytes`).toBeUndefined();
        }
        expect(c.frameStream(sealed), what).toBe(sealed.length);
        // Bytes after the message (a pipelined next one) are not part of it.
        const next = c.sealStream(encodeNack({ seqNo: 1 }));
        expect(c.frameStream(cat(sealed, next)), what).toBe(sealed.length);
        expect(c.frameStream(cat(sealed, next).subarray(sealed.length)), what).toBe(next.length);
        // And the frame opens to the message.
        const opened = c.openStream(sealed);
        expect(opened.type, what).toBe(msg[0]);
        expect(opened.body, what).toEqual(msg.subarray(1));
      }
    }
  });

  it('an encrypted frame is [10][u32 length][ciphertext] after the label', () => {
    const c = codec({ keyring: ringA(), label: 'dc1' });
    const msg = encodeUserStream(utf8('hi'));
    const sealed = c.sealStream(msg);
    expect(hex(sealed.subarray(0, 6))).toBe(`f403${hex(utf8('dc1'))}0a`);
    const len = new DataView(sealed.buffer, sealed.byteOffset + 6, 4).getUint32(0);
    expect(len).toBe(encryptedLength(1, msg.length));
    expect(sealed.length).toBe(5 + 5 + len);
  });

  it('decodePushPull / decodeUserStream read what was framed', () => {
    for (const [cname, make] of STREAM_CODECS) {
      const c = make();
      const pp = c.openStream(c.sealStream(STREAM_MESSAGES[0]![1]));
      expect(pp.type, cname).toBe(MessageType.PushPull);
      const decoded = decodePushPull(pp.body, 10);
      expect(decoded.header, cname).toEqual({ nodes: 3, userStateLen: 10, join: true });
      expect(decoded.nodes, cname).toEqual([NODE, { ...NODE, name: 'b' }, NODE]);
      expect(decoded.userState, cname).toEqual(utf8('user-state'));
      const user = c.openStream(c.sealStream(encodeUserStream(utf8('hello'))));
      expect(decodeUserStream(user.body), cname).toEqual(utf8('hello'));
    }
  });

  it('decodePushPull bounds the node count and refuses truncation', () => {
    const body = STREAM_MESSAGES[0]![1].subarray(1);
    expect(decodePushPull(body, 3).nodes).toHaveLength(3);
    expect(thrown(() => decodePushPull(body, 2))).toEqual(code(GossipErrorCodes.TOO_LARGE));
    for (let cut = 0; cut < body.length; cut++) {
      const err = thrown(() => decodePushPull(body.subarray(0, cut), 10));
      expect(err, `cut at ${cut}`).toEqual(code(GossipErrorCodes.MALFORMED));
    }
    const user = encodeUserStream(utf8('hello')).subarray(1);
    for (let cut = 0; cut < user.length; cut++) {
      expect(
        thrown(() => decodeUserStream(user.subarray(0, cut))),
        `cut ${cut}`,
      ).toEqual(code(GossipErrorCodes.MALFORMED));
    }
  });

  it('refuses bad stream starts: empty label, unknown type, malformed header', () => {
    const c = codec();
    expect(thrown(() => c.frameStream(unhex('f400')))).toEqual(code(GossipErrorCodes.MALFORMED));
    for (const t of [MessageType.Alive, MessageType.Compound, MessageType.User + 100, 42]) {
      expect(
        thrown(() => c.frameStream(Uint8Array.of(t, 0x80))),
        `type ${t}`,
      ).toEqual(code(GossipErrorCodes.UNKNOWN_TYPE));
    }
    const badHeader = cat(
      Uint8Array.of(MessageType.PushPull),
      new GoWriter().map(1).key('Nodes').str('x').finish(),
    );
    expect(thrown(() => c.frameStream(badHeader))).toEqual(code(GossipErrorCodes.MALFORMED));
    expect(thrown(() => c.frameStream(Uint8Array.of(MessageType.Ping, 0xc1)))).toEqual(
      code(GossipErrorCodes.MALFORMED),
    );
  });

  it('openStream: encryption mismatches, tampering, truncation and empty decompression', () => {
    const plain = codec();
    const enc = codec({ keyring: ringA() });
    expect(thrown(() => plain.openStream(enc.sealStream(ping)))).toEqual(
      code(GossipErrorCodes.ENCRYPTION_MISMATCH),
    );
    expect(thrown(() => enc.openStream(plain.sealStream(ping)))).toEqual(
      code(GossipErrorCodes.ENCRYPTION_MISMATCH),
    );
    expect(codec({ keyring: ringA(), verifyIncoming: false }).openStream(ping).type).toBe(0);
    const sealed = enc.sealStream(ping);
    const tampered = sealed.slice();
    tampered[tampered.length - 1]! ^= 1;
    expect(thrown(() => enc.openStream(tampered))).toEqual(
      code(GossipCryptoErrorCodes.DECRYPT_FAILED),
    );
    expect(thrown(() => enc.openStream(sealed.subarray(0, sealed.length - 1)))).toEqual(
      code(GossipCryptoErrorCodes.BAD_STREAM_FRAME),
    );
    expect(thrown(() => plain.openStream(new Uint8Array(0)))).toEqual(
      code(GossipErrorCodes.MALFORMED),
    );
    expect(thrown(() => plain.openStream(ping.subarray(0, ping.length - 1)))).toEqual(
      code(GossipErrorCodes.MALFORMED),
    );
    const compressed = codec({ compression: true }).sealStream(ping);
    expect(thrown(() => plain.openStream(compressed.subarray(0, 5)))).toEqual(
      code(GossipErrorCodes.MALFORMED),
    );
    expect(thrown(() => plain.openStream(compressPayload(new Uint8Array(0))))).toEqual(
      code(GossipErrorCodes.MALFORMED),
    );
  });

  it('maxStreamBytes bounds a message still arriving, one that arrived whole, and decompression', () => {
    const TOO_LARGE = code(GossipErrorCodes.TOO_LARGE);
    const small = codec({ maxStreamBytes: 100 });
    const big = encodeUserStream(new Uint8Array(150));
    // Still arriving: fine up to the bound, refused past it.
    expect(small.frameStream(big.subarray(0, 100))).toBeUndefined();
    expect(thrown(() => small.frameStream(big.subarray(0, 101)))).toEqual(TOO_LARGE);
    // Arrived whole in one read.
    expect(thrown(() => small.frameStream(big))).toEqual(TOO_LARGE);
    const exact = encodeUserStream(new Uint8Array(100 - 14));
    expect(exact.length).toBe(100);
    expect(small.frameStream(exact)).toBe(100);
    // An encrypted header announcing more is refused from its first 5 bytes.
    expect(thrown(() => small.frameStream(unhex('0a00000065')))).toEqual(TOO_LARGE);
    expect(small.frameStream(unhex('0a00000010'))).toBeUndefined();
    // A push-pull whose header promises more than the bound.
    const pp = encodePushPull([], new Uint8Array(200), false);
    expect(small.frameStream(pp.subarray(0, 50))).toBeUndefined();
    expect(thrown(() => small.frameStream(pp))).toEqual(TOO_LARGE);
    // Decompression is bounded by maxStreamBytes too.
    const zeros = codec({ compression: true }).sealStream(encodeUserStream(new Uint8Array(5000)));
    const mid = codec({ maxStreamBytes: 1000 });
    expect(mid.frameStream(zeros)).toBe(zeros.length);
    expect(thrown(() => mid.openStream(zeros))).toEqual(code(LzwErrorCodes.OUTPUT_TOO_LARGE));
    expect(codec().openStream(zeros).type).toBe(MessageType.User);
  });
});

describe('fuzz: random and mutated input only raises GhostnetErrors', () => {
  const decoders: Record<number, (b: Uint8Array) => unknown> = {
    [MessageType.Ping]: decodePing,
    [MessageType.IndirectPing]: decodeIndirectPing,
    [MessageType.Ack]: decodeAck,
    [MessageType.Suspect]: decodeSuspect,
    [MessageType.Alive]: decodeAlive,
    [MessageType.Dead]: decodeDead,
    [MessageType.Nack]: decodeNack,
    [MessageType.Err]: decodeErr,
  };

  it('openPacket, frameStream, openStream and the decoders behind them (seeded)', () => {
    const rand = mulberry32(0x5eed);
    const int = (n: number): number => Math.floor(rand() * n);
    const configs: WireCodec[] = [
      codec(),
      codec({ compression: true, label: 'dc1' }),
      codec({ keyring: ringA(), compression: true }),
      codec({ keyring: ringA(), label: 'dc1', verifyIncoming: false }),
      codec({ maxStreamBytes: 64, maxPacketMessages: 4 }),
    ];
    const messages = [
      ping,
      nack,
      alive,
      bigUser,
      encodeIndirectPing({
        seqNo: 3,
        target: NODE.addr,
        port: 1,
        node: 'x',
        nack: true,
        sourceNode: 'y',
      }),
      encodeAck({ seqNo: 4, payload: utf8('p') }),
      encodeSuspect({ incarnation: 1, node: 'a', from: 'b' }),
      encodeDead({ incarnation: 1, node: 'a', from: 'a' }),
      encodeCompound([ping, alive, encodeCompound([nack, ping])]),
      compressPayload(encodeCompound([ping, alive])),
    ];
    const seeds: Uint8Array[] = [];
    for (const c of configs) {
      for (const m of messages) seeds.push(c.sealPacket(m), c.sealPacket(m, true));
      for (const [, m] of STREAM_MESSAGES) seeds.push(c.sealStream(m));
    }
    const mutate = (base: Uint8Array): Uint8Array => {
      switch (int(5)) {
        case 0: // truncate
          return base.slice(0, int(base.length + 1));
        case 1: {
          // flip a few bytes
          const b = base.slice();
          for (let f = 1 + int(4); f > 0 && b.length > 0; f--) b[int(b.length)] = int(256);
          return b;
        }
        case 2: {
          // insert random bytes
          const at = int(base.length + 1);
          const junk = Uint8Array.from({ length: 1 + int(8) }, () => int(256));
          return cat(base.subarray(0, at), junk, base.subarray(at));
        }
        case 3: // random bytes behind a plausible first byte
          return cat(
            Uint8Array.of([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 244][int(15)]!),
            Uint8Array.from({ length: int(64) }, () => int(256)),
          );
        default: // pure noise
          return Uint8Array.from({ length: int(200) }, () => int(256));
      }
    };
    let opened = 0;
    let refused = 0;
    const attempt = (fn: () => unknown): unknown => {
      try {
        const v = fn();
        opened++;
        return v;
      } catch (err) {
        refused++;
        if (!(err instanceof GhostnetError)) {
          throw new Error(`non-GhostnetError escaped: ${String(err)}`, { cause: err });
        }
        return undefined;
      }
    };
    for (let i = 0; i < 6000; i++) {
      const buf = mutate(seeds[int(seeds.length)]!);
      for (const c of configs) {
        const msgs = attempt(() => c.openPacket(buf)) as Uint8Array[] | undefined;
        for (const m of msgs ?? []) {
          const decode = decoders[m[0]!];
          if (decode !== undefined) attempt(() => decode(m.subarray(1)));
        }
        const n = attempt(() => c.frameStream(buf)) as number | undefined;
        attempt(() => c.openStream(buf));
        if (n !== undefined) {
          const s = attempt(() => c.openStream(buf.subarray(0, n))) as
            { type: number; body: Uint8Array } | undefined;
          if (s?.type === MessageType.PushPull) attempt(() => decodePushPull(s.body, 100));
          if (s?.type === MessageType.User) attempt(() => decodeUserStream(s.body));
        }
      }
    }
    // Both outcomes were exercised.
    expect(opened).toBeGreaterThan(1000);
    expect(refused).toBeGreaterThan(1000);
  });
});
