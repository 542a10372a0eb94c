/**
 * memberlist's wire format: go-codec's msgpack bytes (old-spec raw strings, structs as maps
 * keyed by field name, omitempty), every message round-tripped, compound messages (net.go
 * handleCompound: truncated parts dropped), the label header (label.go), the CRC wrapper
 * (net.go ingestPacket), packets and streams sealed and opened with compression and
 * encryption, stream framing on every prefix, and a fuzz where only GhostnetErrors escape.
 */
import { describe, expect, it } from 'vitest';
import { GhostnetError } from '../../../../src/errors.js';
import { GossipError } from '../../../../src/p2p/gossip/errors.js';
import { Keyring } from '../../../../src/p2p/gossip/wire/keyring.js';
import {
  decodeAck,
  decodeAlive,
  decodeDead,
  decodeIndirectPing,
  decodeNack,
  decodePing,
  decodeSuspect,
  encodeAck,
  encodeAlive,
  encodeDead,
  encodeIndirectPing,
  encodeNack,
  encodePing,
  encodePushPull,
  encodeSuspect,
  encodeUserStream,
  MessageType,
} from '../../../../src/p2p/gossip/wire/messages.js';
import {
  decodeValue,
  GoWriter,
  NEED_MORE,
  skipValue,
} from '../../../../src/p2p/gossip/wire/msgpack.js';
import {
  addCrc,
  addLabelHeader,
  decodeCompound,
  decodePushPull,
  decodeUserStream,
  encodeCompound,
  encodeCompounds,
  removeLabelHeader,
  WireCodec,
} from '../../../../src/p2p/gossip/wire/packet.js';
import { mulberry32 } from '../../../helpers/prng.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const random = (n: number): Uint8Array => new Uint8Array(n).fill(7);

describe('go-codec msgpack (util.go encode/decode)', () => {
  it('writes strings and []byte in the old raw family, never str8 or bin', () => {
    expect(hex(new GoWriter().str('abc').finish())).toBe('a3616263');
    expect(hex(new GoWriter().raw(new Uint8Array(31)).finish()).slice(0, 2)).toBe('bf');
    expect(hex(new GoWriter().raw(new Uint8Array(32)).finish()).slice(0, 6)).toBe('da0020');
    expect(hex(new GoWriter().raw(new Uint8Array(70000)).finish()).slice(0, 10)).toBe('db00011170');
    expect(hex(new GoWriter().slice(new Uint8Array(0)).finish())).toBe('c0'); // a nil slice
  });

  it('writes unsigned integers in their smallest encoding', () => {
    const enc = (n: number): string => hex(new GoWriter().uint(n).finish());
    expect(enc(0)).toBe('00');
    expect(enc(127)).toBe('7f');
    expect(enc(128)).toBe('cc80');
    expect(enc(256)).toBe('cd0100');
    expect(enc(65536)).toBe('ce00010000');
    expect(enc(2 ** 32)).toBe('cf0000000100000000');
    expect(() => new GoWriter().uint(-1)).toThrow(RangeError);
  });

  it('skipValue finds the end of every format and reports NEED_MORE at every truncation', () => {
    const w = new GoWriter()
      .map(3)
      .str('a')
      .array(2)
      .uint(300)
      .bool(true)
      .str('b')
      .raw(new Uint8Array(40))
      .str('c')
      .nil();
    const buf = w.finish();
    expect(skipValue(buf, 0)).toBe(buf.length);
    for (let i = 0; i < buf.length; i++) expect(skipValue(buf.subarray(0, i), 0)).toBe(NEED_MORE);
    // Deep nesting is walked without recursion.
    const deep = new Uint8Array(100_001).fill(0x91);
    deep[100_000] = 0xc0;
    expect(skipValue(deep, 0)).toBe(deep.length);
    expect(() => skipValue(Uint8Array.of(0xc1), 0)).toThrow(GossipError);
  });

  it('decodeValue bounds sizes and wraps every failure in a GossipError', () => {
    expect(() =>
      decodeValue(Uint8Array.of(0xdb, 0xff, 0xff, 0xff, 0xff), { maxBytes: 10 }),
    ).toThrow(GossipError);
    expect(() => decodeValue(Uint8Array.of(0xc1))).toThrow(GossipError);
  });
});

describe('memberlist messages (net.go)', () => {
  const addr = Uint8Array.of(127, 0, 0, 1);

  it('ping is a map of SeqNo, Node and the omitempty Source fields, byte for byte', () => {
    const bytes = encodePing({ seqNo: 1, node: 'b' });
    // [0] fixmap(2) "SeqNo" 1 "Node" "b"
    expect(hex(bytes)).toBe(
      `00 82 a5${hex(utf8('SeqNo'))}01 a4${hex(utf8('Node'))}a162`.replace(/ /g, ''),
    );
    const full = { seqNo: 7, node: 'n', sourceAddr: addr, sourcePort: 7946, sourceNode: 'me' };
    expect(decodePing(encodePing(full).subarray(1))).toEqual(full);
  });

  it('round-trips indirect ping, ack, nack, suspect, alive and dead', () => {
    const ind = {
      seqNo: 9,
      target: addr,
      port: 7946,
      node: 'x',
      nack: true,
      sourceAddr: addr,
      sourcePort: 1,
      sourceNode: 'y',
    };
    expect(decodeIndirectPing(encodeIndirectPing(ind).subarray(1))).toEqual(ind);
    expect(decodeAck(encodeAck({ seqNo: 3, payload: Uint8Array.of(1, 2) }).subarray(1))).toEqual({
      seqNo: 3,
      payload: Uint8Array.of(1, 2),
    });
    expect(decodeNack(encodeNack({ seqNo: 4 }).subarray(1))).toEqual({ seqNo: 4 });
    const sus = { incarnation: 5, node: 'a', from: 'b' };
    expect(decodeSuspect(encodeSuspect(sus).subarray(1))).toEqual(sus);
    expect(decodeDead(encodeDead(sus).subarray(1))).toEqual(sus);
    const alive = {
      incarnation: 2,
      node: 'a',
      addr,
      port: 7946,
      meta: utf8('m'),
      vsn: Uint8Array.of(1, 5, 2, 2, 5, 4),
    };
    expect(decodeAlive(encodeAlive(alive).subarray(1))).toEqual(alive);
  });

  it('decodes leniently as go-codec does: struct as array, missing fields zero, bin for raw', () => {
    const arr = new GoWriter().array(2).uint(11).str('n').finish();
    expect(decodePing(arr)).toEqual({ seqNo: 11, node: 'n' });
    const missing = new GoWriter().map(1).str('SeqNo').uint(5).finish();
    expect(decodePing(missing)).toEqual({ seqNo: 5, node: '' });
    const bin = Uint8Array.of(
      0x82,
      0xa5,
      ...utf8('SeqNo'),
      1,
      0xa7,
      ...utf8('Payload'),
      0xc4,
      2,
      9,
      9,
    );
    expect(decodeAck(bin).payload).toEqual(Uint8Array.of(9, 9));
  });

  it('refuses wrong types, bad addresses and oversized metadata with GN_ERR_GOSSIP_MALFORMED', () => {
    const bad = new GoWriter().map(1).str('SeqNo').str('x').finish();
    expect(() => decodePing(bad)).toThrow(
      expect.objectContaining({ code: 'GN_ERR_GOSSIP_MALFORMED' }),
    );
    const badAddr = new GoWriter()
      .map(1)
      .str('Addr')
      .raw(Uint8Array.of(1, 2, 3))
      .finish();
    expect(() => decodeAlive(badAddr)).toThrow(/IPv4 or IPv6/);
    const bigMeta = new GoWriter().map(1).str('Meta').raw(new Uint8Array(513)).finish();
    expect(() => decodeAlive(bigMeta)).toThrow(/512/);
    expect(() => decodePing(Uint8Array.of(0x01))).toThrow(/not a msgpack map/);
  });
});

describe('framing (util.go, label.go, net.go)', () => {
  it('compound messages: encode, decode, split past 255 parts, truncated parts dropped', () => {
    const parts = [utf8('a'), utf8('bb'), utf8('ccc')];
    const c = encodeCompound(parts);
    expect(c[0]).toBe(MessageType.Compound);
    expect(decodeCompound(c.subarray(1))).toEqual({ parts, truncated: 0 });
    expect(decodeCompound(c.subarray(1, c.length - 2))).toEqual({
      parts: parts.slice(0, 2),
      truncated: 1,
    });
    expect(encodeCompounds(Array.from({ length: 600 }, () => utf8('x')))).toHaveLength(3);
    expect(() => decodeCompound(Uint8Array.of(3, 0))).toThrow(GossipError);
  });

  it('label header: [244][len][label], empty labels refused', () => {
    const l = addLabelHeader(utf8('msg'), utf8('dc1'));
    expect(Array.from(l.subarray(0, 2))).toEqual([244, 3]);
    expect(removeLabelHeader(l)).toEqual({ label: utf8('dc1'), rest: utf8('msg') });
    expect(() => removeLabelHeader(Uint8Array.of(244, 0))).toThrow(/empty/);
    expect(() => removeLabelHeader(Uint8Array.of(244, 5, 1))).toThrow(/truncated/);
  });

  it('packets: sealed and opened with compression, CRC, label and encryption; mismatches refused', () => {
    const keyring = new Keyring([new Uint8Array(32).fill(1)], new Uint8Array(32).fill(1));
    const a = new WireCodec({ random, label: 'dc1', keyring });
    const msgs = [encodePing({ seqNo: 1, node: 'b' }), encodeNack({ seqNo: 2 })];
    const packet = a.sealPacket(encodeCompound(msgs), true);
    expect(a.openPacket(packet)).toEqual(msgs);
    expect(() => new WireCodec({ random, label: 'dc2', keyring }).openPacket(packet)).toThrow(
      /label/,
    );
    // Without the key the ciphertext is read as plaintext (memberlist does the same) and is
    // not the messages that were sent; the core then fails to decode and drops them.
    let unreadable: unknown;
    try {
      unreadable = new WireCodec({ random, label: 'dc1' }).openPacket(packet);
    } catch (err) {
      unreadable = err;
    }
    expect(unreadable).not.toEqual(msgs);
    const other = new Keyring([new Uint8Array(32).fill(2)], new Uint8Array(32).fill(2));
    expect(() =>
      new WireCodec({ random, label: 'dc1', keyring: other }).openPacket(packet),
    ).toThrow(GhostnetError);
    const plain = new WireCodec({ random });
    const crc = addCrc(encodeNack({ seqNo: 3 }));
    expect(plain.openPacket(crc)).toEqual([encodeNack({ seqNo: 3 })]);
    crc[crc.length - 1]! ^= 1;
    expect(() => plain.openPacket(crc)).toThrow(/CRC/);
  });

  it('streams: push-pull and user messages framed on every prefix, then opened', () => {
    const node = {
      name: 'a',
      addr: Uint8Array.of(10, 0, 0, 1),
      port: 7946,
      meta: new Uint8Array(0),
      incarnation: 1,
      state: 0,
      vsn: Uint8Array.of(1, 5, 2, 0, 0, 0),
    };
    for (const codec of [
      new WireCodec({ random }),
      new WireCodec({ random, compression: true, label: 'x' }),
      new WireCodec({
        random,
        keyring: new Keyring([new Uint8Array(16).fill(3)], new Uint8Array(16).fill(3)),
      }),
    ]) {
      for (const msg of [
        encodePushPull([node, node], utf8('user-state'), true),
        encodeUserStream(utf8('hello')),
      ]) {
        const sealed = codec.sealStream(msg);
        for (let i = 0; i < sealed.length; i++)
          expect(codec.frameStream(sealed.subarray(0, i))).toBeUndefined();
        const withTail = new Uint8Array(sealed.length + 3);
        withTail.set(sealed);
        expect(codec.frameStream(withTail)).toBe(sealed.length);
        const opened = codec.openStream(sealed);
        if (opened.type === MessageType.PushPull) {
          const pp = decodePushPull(opened.body, 10);
          expect(pp.header).toEqual({ nodes: 2, userStateLen: 10, join: true });
          expect(pp.nodes[1]).toEqual(node);
          expect(pp.userState).toEqual(utf8('user-state'));
          expect(() => decodePushPull(opened.body, 1)).toThrow(/limit/);
        } else {
          expect(decodeUserStream(opened.body)).toEqual(utf8('hello'));
        }
      }
    }
    const small = new WireCodec({ random, maxStreamBytes: 100 });
    expect(() => small.frameStream(Uint8Array.of(10, 0, 0, 1, 0))).toThrow(/larger/);
    expect(() => small.frameStream(Uint8Array.of(42, 1))).toThrow(GossipError);
  });

  it('fuzz: random and mutated packets and streams only ever raise GhostnetErrors', () => {
    const rand = mulberry32(2026);
    const codec = new WireCodec({ random });
    const seeds = [
      codec.sealPacket(
        encodeCompound([
          encodePing({ seqNo: 1, node: 'b' }),
          encodeAck({ seqNo: 1, payload: utf8('p') }),
        ]),
      ),
      codec.sealPacket(
        encodeAlive({
          incarnation: 1,
          node: 'n',
          addr: Uint8Array.of(1, 2, 3, 4),
          port: 1,
          meta: new Uint8Array(0),
          vsn: Uint8Array.of(1, 5, 2, 0, 0, 0),
        }),
      ),
      codec.sealStream(encodePushPull([], utf8('s'), false)),
    ];
    for (let i = 0; i < 10_000; i++) {
      const base = seeds[i % seeds.length]!;
      const buf = base.slice(0, Math.floor(rand() * (base.length + 8)));
      for (let f = Math.floor(rand() * 4); f > 0 && buf.length > 0; f--)
        buf[Math.floor(rand() * buf.length)] = Math.floor(rand() * 256);
      for (const op of [
        () => codec.openPacket(buf),
        () => codec.frameStream(buf),
        () => codec.openStream(buf),
      ]) {
        try {
          op();
        } catch (err) {
          expect(err).toBeInstanceOf(GhostnetError);
        }
      }
    }
  });
});
