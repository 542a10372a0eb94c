/**
 * memberlist's messages (net.go): the type constants, every message round-tripped, exact
 * bytes derived by hand from go-codec's rules (a struct is a map keyed by field name in
 * declaration order, `omitempty` fields absent when zero, []byte and string in the old raw
 * family, nil for an empty []byte, uints smallest-unsigned and ints smallest-signed), lenient
 * decoding as go-codec decodes, and refusal of bad input with GN_ERR_GOSSIP_MALFORMED.
 */
import { describe, expect, it } from 'vitest';
import { GossipError, GossipErrorCodes } from '../../../../src/p2p/gossip/errors.js';
import {
  decodeAck,
  decodeAlive,
  decodeDead,
  decodeErr,
  decodeIndirectPing,
  decodeNack,
  decodePing,
  decodePushNodeState,
  decodePushPullHeader,
  decodeSuspect,
  decodeUserMsgHeader,
  encodeAck,
  encodeAlive,
  encodeDead,
  encodeErr,
  encodeIndirectPing,
  encodeNack,
  encodePing,
  encodePushNodeState,
  encodePushPull,
  encodePushPullHeader,
  encodeSuspect,
  encodeUserStream,
  MAX_PUSH_STATE_BYTES,
  MAX_PUSH_STATE_NODES,
  META_MAX_SIZE,
  MessageType,
  NodeState,
} from '../../../../src/p2p/gossip/wire/messages.js';
import type {
  Alive,
  IndirectPing,
  Ping,
  PushNodeState,
} from '../../../../src/p2p/gossip/wire/messages.js';
import { GoWriter } from '../../../../src/p2p/gossip/wire/msgpack.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
/** A short string as go-codec writes it: fixstr header (0xa0 | length), then the bytes. */
const s = (text: string): string => {
  const b = utf8(text);
  if (b.length >= 32) throw new Error('fixstr only');
  return (0xa0 | b.length).toString(16) + hex(b);
};
const body = (msg: Uint8Array): Uint8Array => msg.subarray(1);
const MALFORMED = expect.objectContaining({ code: GossipErrorCodes.MALFORMED });

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

const v4 = Uint8Array.of(127, 0, 0, 1);
const v6 = Uint8Array.of(0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1);
const VSN = Uint8Array.of(1, 5, 2, 2, 5, 4);

describe('net.go constants', () => {
  it('messageType values (append-only on the wire) and hasLabelMsg = 244', () => {
    expect(MessageType).toEqual({
      Ping: 0,
      IndirectPing: 1,
      Ack: 2,
      Suspect: 3,
      Alive: 4,
      Dead: 5,
      PushPull: 6,
      Compound: 7,
      User: 8,
      Compress: 9,
      Encrypt: 10,
      Nack: 11,
      HasCrc: 12,
      Err: 13,
      HasLabel: 244,
    });
    expect(NodeState).toEqual({ Alive: 0, Suspect: 1, Dead: 2, Left: 3 });
    expect(META_MAX_SIZE).toBe(512);
    expect(MAX_PUSH_STATE_NODES).toBe(1024 * 1024);
    expect(MAX_PUSH_STATE_BYTES).toBe(20 * 1024 * 1024);
  });
});

describe('exact bytes, derived by hand from go-codec rules (net.go structs)', () => {
  it('ping: SeqNo, Node; SourceAddr/SourcePort/SourceNode omitempty', () => {
    // type 0, fixmap(2), "SeqNo" 5, "Node" "b"
    expect(hex(encodePing({ seqNo: 5, node: 'b' }))).toBe(
      `00 82 ${s('SeqNo')} 05 ${s('Node')} ${s('b')}`.replace(/ /g, ''),
    );
    // type 0, fixmap(5), …, SourceAddr raw(4), SourcePort uint16 7946 = cd 1f0a, SourceNode
    const full: Ping = { seqNo: 5, node: 'b', sourceAddr: v4, sourcePort: 7946, sourceNode: 'a' };
    expect(hex(encodePing(full))).toBe(
      [
        '00 85',
        s('SeqNo'),
        '05',
        s('Node'),
        s('b'),
        s('SourceAddr'),
        'a4 7f000001',
        s('SourcePort'),
        'cd 1f0a',
        s('SourceNode'),
        s('a'),
      ]
        .join('')
        .replace(/ /g, ''),
    );
    // Only the non-empty source fields are written, and the map count follows.
    expect(hex(encodePing({ seqNo: 300, node: '', sourcePort: 1 }))).toBe(
      `00 83 ${s('SeqNo')} cd012c ${s('Node')} a0 ${s('SourcePort')} 01`.replace(/ /g, ''),
    );
    expect(hex(encodePing({ seqNo: 1, node: 'b', sourceAddr: new Uint8Array(0) }))).toBe(
      hex(encodePing({ seqNo: 1, node: 'b' })),
    );
  });

  it('alive: Incarnation, Node, Addr, Port, Meta (nil when empty), Vsn', () => {
    const a: Alive = {
      incarnation: 300,
      node: 'node-1',
      addr: Uint8Array.of(10, 0, 0, 2),
      port: 7946,
      meta: new Uint8Array(0),
      vsn: VSN,
    };
    expect(hex(encodeAlive(a))).toBe(
      [
        '04 86',
        s('Incarnation'),
        'cd 012c',
        s('Node'),
        s('node-1'),
        s('Addr'),
        'a4 0a000002',
        s('Port'),
        'cd 1f0a',
        s('Meta'),
        'c0',
        s('Vsn'),
        'a6 010502020504',
      ]
        .join('')
        .replace(/ /g, ''),
    );
    // A 16-byte address is fixstr(16) = b0; 40 bytes of metadata are str16 da 0028.
    const big = encodeAlive({ ...a, incarnation: 70000, addr: v6, meta: new Uint8Array(40) });
    expect(hex(big)).toBe(
      [
        '04 86',
        s('Incarnation'),
        'ce 00011170',
        s('Node'),
        s('node-1'),
        s('Addr'),
        'b0',
        hex(v6),
        s('Port'),
        'cd 1f0a',
        s('Meta'),
        'da 0028',
        '00'.repeat(40),
        s('Vsn'),
        'a6 010502020504',
      ]
        .join('')
        .replace(/ /g, ''),
    );
  });

  it('indirectPingReq, ackResp, nackResp, errResp, suspect, dead', () => {
    const ind: IndirectPing = { seqNo: 9, target: v4, port: 7946, node: 'x', nack: true };
    expect(hex(encodeIndirectPing(ind))).toBe(
      [
        '01 85',
        s('SeqNo'),
        '09',
        s('Target'),
        'a4 7f000001',
        s('Port'),
        'cd 1f0a',
        s('Node'),
        s('x'),
        s('Nack'),
        'c3',
      ]
        .join('')
        .replace(/ /g, ''),
    );
    expect(hex(encodeIndirectPing({ ...ind, nack: false, sourceNode: 'me' }))).toMatch(
      new RegExp(`^0186.*${s('Nack')}c2${s('SourceNode')}${s('me')}$`),
    );
    expect(hex(encodeAck({ seqNo: 1, payload: new Uint8Array(0) }))).toBe(
      `02 82 ${s('SeqNo')} 01 ${s('Payload')} c0`.replace(/ /g, ''),
    );
    expect(hex(encodeAck({ seqNo: 1, payload: Uint8Array.of(7) }))).toBe(
      `02 82 ${s('SeqNo')} 01 ${s('Payload')} a1 07`.replace(/ /g, ''),
    );
    expect(hex(encodeNack({ seqNo: 256 }))).toBe(`0b 81 ${s('SeqNo')} cd 0100`.replace(/ /g, ''));
    expect(hex(encodeErr({ error: 'oops' }))).toBe(
      `0d 81 ${s('Error')} ${s('oops')}`.replace(/ /g, ''),
    );
    const sus = { incarnation: 0xffffffff, node: 'a', from: 'b' };
    const susHex = `83 ${s('Incarnation')} ce ffffffff ${s('Node')} ${s('a')} ${s('From')} ${s('b')}`;
    expect(hex(encodeSuspect(sus))).toBe(`03 ${susHex}`.replace(/ /g, ''));
    expect(hex(encodeDead(sus))).toBe(`05 ${susHex}`.replace(/ /g, ''));
  });

  it('pushPullHeader, userMsgHeader: their lengths are Go ints, written signed past 127', () => {
    expect(hex(encodePushPull([], new Uint8Array(0), true))).toBe(
      `06 83 ${s('Nodes')} 00 ${s('UserStateLen')} 00 ${s('Join')} c3`.replace(/ /g, ''),
    );
    const state = new Uint8Array(200).fill(1);
    expect(hex(encodePushPull([], state, false))).toBe(
      `06 83 ${s('Nodes')} 00 ${s('UserStateLen')} d1 00c8 ${s('Join')} c2 ${hex(state)}`.replace(
        / /g,
        '',
      ),
    );
    const w = new GoWriter();
    encodePushPullHeader(w, { nodes: 40000, userStateLen: 128, join: false });
    expect(hex(w.finish())).toBe(
      `83 ${s('Nodes')} d2 00009c40 ${s('UserStateLen')} d1 0080 ${s('Join')} c2`.replace(/ /g, ''),
    );
    const msg = new Uint8Array(300).fill(9);
    expect(hex(encodeUserStream(msg))).toBe(
      `08 81 ${s('UserMsgLen')} d1 012c ${hex(msg)}`.replace(/ /g, ''),
    );
    expect(hex(encodeUserStream(utf8('hi')))).toBe(
      `08 81 ${s('UserMsgLen')} 02 6869`.replace(/ /g, ''),
    );
  });

  it('pushNodeState: Name, Addr, Port, Meta, Incarnation, State, Vsn', () => {
    const w = new GoWriter();
    encodePushNodeState(w, {
      name: 'n',
      addr: v4,
      port: 1,
      meta: utf8('m'),
      incarnation: 2,
      state: NodeState.Left,
      vsn: VSN,
    });
    expect(hex(w.finish())).toBe(
      [
        '87',
        s('Name'),
        s('n'),
        s('Addr'),
        'a4 7f000001',
        s('Port'),
        '01',
        s('Meta'),
        s('m'),
        s('Incarnation'),
        '02',
        s('State'),
        '03',
        s('Vsn'),
        'a6 010502020504',
      ]
        .join('')
        .replace(/ /g, ''),
    );
  });
});

describe('round trips of every message', () => {
  it('ping, with and without the source fields, at the field limits', () => {
    for (const p of [
      { seqNo: 0, node: '' },
      { seqNo: 0xffffffff, node: 'n'.repeat(512) },
      { seqNo: 7, node: 'n', sourceAddr: v4, sourcePort: 7946, sourceNode: 'me' },
      { seqNo: 7, node: 'n', sourceAddr: v6, sourcePort: 65535, sourceNode: 'ü' },
      { seqNo: 7, node: 'n', sourceNode: 'only' },
    ] satisfies Ping[]) {
      const m = encodePing(p);
      expect(m[0]).toBe(MessageType.Ping);
      expect(decodePing(body(m))).toStrictEqual(p);
    }
  });

  it('indirectPingReq', () => {
    for (const ind of [
      { seqNo: 9, target: v4, port: 7946, node: 'x', nack: true },
      { seqNo: 9, target: v6, port: 1, node: '', nack: false },
      {
        seqNo: 0xffffffff,
        target: v4,
        port: 65535,
        node: 'x',
        nack: true,
        sourceAddr: v6,
        sourcePort: 2,
        sourceNode: 'y',
      },
    ] satisfies IndirectPing[]) {
      const m = encodeIndirectPing(ind);
      expect(m[0]).toBe(MessageType.IndirectPing);
      expect(decodeIndirectPing(body(m))).toStrictEqual(ind);
    }
  });

  it('ackResp, nackResp, errResp', () => {
    for (const payload of [new Uint8Array(0), Uint8Array.of(1, 2), new Uint8Array(60_000)]) {
      const m = encodeAck({ seqNo: 3, payload });
      expect(m[0]).toBe(MessageType.Ack);
      expect(decodeAck(body(m))).toStrictEqual({ seqNo: 3, payload });
    }
    expect(decodeNack(body(encodeNack({ seqNo: 0xffffffff })))).toStrictEqual({
      seqNo: 0xffffffff,
    });
    expect(encodeNack({ seqNo: 1 })[0]).toBe(MessageType.Nack);
    const e = encodeErr({ error: 'Encryption is configured but remote state is not encrypted' });
    expect(e[0]).toBe(MessageType.Err);
    expect(decodeErr(body(e))).toStrictEqual({
      error: 'Encryption is configured but remote state is not encrypted',
    });
  });

  it('suspect and dead', () => {
    for (const m of [
      { incarnation: 0, node: '', from: '' },
      { incarnation: 5, node: 'a', from: 'b' },
      { incarnation: 0xffffffff, node: 'a'.repeat(512), from: 'b'.repeat(512) },
    ]) {
      expect(encodeSuspect(m)[0]).toBe(MessageType.Suspect);
      expect(encodeDead(m)[0]).toBe(MessageType.Dead);
      expect(decodeSuspect(body(encodeSuspect(m)))).toStrictEqual(m);
      expect(decodeDead(body(encodeDead(m)))).toStrictEqual(m);
    }
  });

  it('alive, with IPv4 and IPv6 addresses and 512 bytes of metadata', () => {
    for (const a of [
      { incarnation: 1, node: 'a', addr: v4, port: 7946, meta: new Uint8Array(0), vsn: VSN },
      {
        incarnation: 0xffffffff,
        node: 'b',
        addr: v6,
        port: 65535,
        meta: new Uint8Array(META_MAX_SIZE).fill(0xff),
        vsn: new Uint8Array(16).fill(5),
      },
      { incarnation: 0, node: '', addr: new Uint8Array(0), port: 0, meta: utf8('m'), vsn: VSN },
    ] satisfies Alive[]) {
      const m = encodeAlive(a);
      expect(m[0]).toBe(MessageType.Alive);
      expect(decodeAlive(body(m))).toStrictEqual(a);
    }
  });

  it('pushPullHeader, pushNodeState and userMsgHeader', () => {
    for (const h of [
      { nodes: 0, userStateLen: 0, join: false },
      { nodes: 128, userStateLen: 40000, join: true },
      { nodes: MAX_PUSH_STATE_NODES, userStateLen: MAX_PUSH_STATE_BYTES, join: true },
    ]) {
      const w = new GoWriter();
      encodePushPullHeader(w, h);
      expect(decodePushPullHeader(w.finish())).toStrictEqual(h);
    }
    const n: PushNodeState = {
      name: 'node',
      addr: v6,
      port: 7946,
      meta: utf8('meta'),
      incarnation: 77,
      state: NodeState.Suspect,
      vsn: VSN,
    };
    const w = new GoWriter();
    encodePushNodeState(w, n);
    expect(decodePushNodeState(w.finish())).toStrictEqual(n);
    for (const len of [0, 5, 127, 128, 70000]) {
      const m = encodeUserStream(new Uint8Array(len));
      const headerEnd = m.length - len;
      expect(decodeUserMsgHeader(m.subarray(1, headerEnd))).toStrictEqual({ userMsgLen: len });
    }
  });
});

describe('lenient decoding, as go-codec decodes', () => {
  it('a struct given as an array of its fields in declaration order', () => {
    const arr = (fill: (w: GoWriter) => void, n: number): Uint8Array => {
      const w = new GoWriter().array(n);
      fill(w);
      return w.finish();
    };
    expect(decodePing(arr((w) => w.uint(11).str('n'), 2))).toStrictEqual({ seqNo: 11, node: 'n' });
    expect(decodePing(arr((w) => w.uint(11).str('n').raw(v4).uint(9).str('src'), 5))).toStrictEqual(
      { seqNo: 11, node: 'n', sourceAddr: v4, sourcePort: 9, sourceNode: 'src' },
    );
    expect(
      decodeIndirectPing(arr((w) => w.uint(1).raw(v4).uint(2).str('t').bool(true), 5)),
    ).toStrictEqual({ seqNo: 1, target: v4, port: 2, node: 't', nack: true });
    expect(
      decodeAlive(arr((w) => w.uint(3).str('a').raw(v4).uint(4).nil().raw(VSN), 6)),
    ).toStrictEqual({
      incarnation: 3,
      node: 'a',
      addr: v4,
      port: 4,
      meta: new Uint8Array(0),
      vsn: VSN,
    });
    // Fewer items than fields: the rest are zero values.
    expect(decodeSuspect(arr((w) => w.uint(5), 1))).toStrictEqual({
      incarnation: 5,
      node: '',
      from: '',
    });
    expect(decodeAck(arr(() => undefined, 0))).toStrictEqual({
      seqNo: 0,
      payload: new Uint8Array(0),
    });
  });

  it('missing fields are zero values (an empty map decodes to the zero struct)', () => {
    const empty = Uint8Array.of(0x80);
    expect(decodePing(empty)).toStrictEqual({ seqNo: 0, node: '' });
    expect(decodeIndirectPing(empty)).toStrictEqual({
      seqNo: 0,
      target: new Uint8Array(0),
      port: 0,
      node: '',
      nack: false,
    });
    expect(decodeAck(empty)).toStrictEqual({ seqNo: 0, payload: new Uint8Array(0) });
    expect(decodeNack(empty)).toStrictEqual({ seqNo: 0 });
    expect(decodeErr(empty)).toStrictEqual({ error: '' });
    expect(decodeSuspect(empty)).toStrictEqual({ incarnation: 0, node: '', from: '' });
    expect(decodeDead(empty)).toStrictEqual({ incarnation: 0, node: '', from: '' });
    expect(decodeAlive(empty)).toStrictEqual({
      incarnation: 0,
      node: '',
      addr: new Uint8Array(0),
      port: 0,
      meta: new Uint8Array(0),
      vsn: new Uint8Array(0),
    });
    expect(decodePushPullHeader(empty)).toStrictEqual({ nodes: 0, userStateLen: 0, join: false });
    expect(decodeUserMsgHeader(empty)).toStrictEqual({ userMsgLen: 0 });
  });

  it('bin8/16/32 and str8 where go-codec wrote raw; nil for any field; any integer form', () => {
    // Ack with Payload as bin8, bin16 and bin32.
    for (const payload of ['c4 02 0909', 'c5 0002 0909', 'c6 00000002 0909']) {
      const b = unhex(`82 ${s('SeqNo')} 01 ${s('Payload')} ${payload}`);
      expect(decodeAck(b), payload).toStrictEqual({ seqNo: 1, payload: Uint8Array.of(9, 9) });
    }
    // Node as str8 (what a newer msgpack writes), Addr as bin8.
    const alive = unhex(
      `83 ${s('Node')} d9 01 61 ${s('Addr')} c4 04 0a000001 ${s('Port')} cd 1f0a`,
    );
    expect(decodeAlive(alive)).toMatchObject({
      node: 'a',
      addr: Uint8Array.of(10, 0, 0, 1),
      port: 7946,
    });
    // SeqNo as int8, int64 and uint64; nil fields are zero.
    for (const seq of ['d0 05', 'd3 0000000000000005', 'cf 0000000000000005', '05']) {
      const b = unhex(`82 ${s('SeqNo')} ${seq} ${s('Node')} c0`);
      expect(decodePing(b), seq).toStrictEqual({ seqNo: 5, node: '' });
    }
    // Vsn as an array of small integers ([]uint8 from an array).
    const vsnArr = unhex(`81 ${s('Vsn')} 96 01 05 02 00 00 00`);
    expect(decodeAlive(vsnArr).vsn).toEqual(Uint8Array.of(1, 5, 2, 0, 0, 0));
  });

  it('unknown fields are skipped and keys may come in any order', () => {
    const b = unhex(
      `84 ${s('From')} ${s('z')} ${s('Extra')} 92 01 02 ${s('Node')} ${s('y')} ${s('Incarnation')} 07`,
    );
    expect(decodeSuspect(b)).toStrictEqual({ incarnation: 7, node: 'y', from: 'z' });
    expect(decodeDead(b)).toStrictEqual({ incarnation: 7, node: 'y', from: 'z' });
  });
});

describe('refusals: GossipError GN_ERR_GOSSIP_MALFORMED', () => {
  const map = (key: string, value: string): Uint8Array => unhex(`81 ${s(key)} ${value}`);

  it('bodies that are not one msgpack map (or array)', () => {
    for (const h of ['', '01', 'a3616263', 'c0', 'c3', 'c1', '82', '80 00']) {
      for (const decode of [decodePing, decodeAck, decodeAlive, decodeSuspect, decodeNack]) {
        const err = thrown(() => decode(unhex(h)));
        expect(err, `${decode.name}(${h})`).toBeInstanceOf(GossipError);
        expect(err, `${decode.name}(${h})`).toEqual(MALFORMED);
      }
    }
  });

  it('wrong field types', () => {
    const cases: [string, () => unknown][] = [
      ['SeqNo as a string', () => decodePing(map('SeqNo', s('x')))],
      ['SeqNo negative', () => decodePing(map('SeqNo', 'ff'))],
      ['SeqNo a float', () => decodePing(map('SeqNo', 'cb 3ff8000000000000'))],
      ['SeqNo a bool', () => decodeNack(map('SeqNo', 'c3'))],
      ['Node an integer', () => decodePing(map('Node', '05'))],
      ['Node a map', () => decodeSuspect(map('Node', '80'))],
      ['Nack an integer', () => decodeIndirectPing(map('Nack', '01'))],
      ['Payload an integer', () => decodeAck(map('Payload', '05'))],
      ['Payload a map', () => decodeAck(map('Payload', '81 a1 61 01'))],
      ['Meta an array of big numbers', () => decodeAlive(map('Meta', '91 cd 0100'))],
      ['Join a string', () => decodePushPullHeader(map('Join', s('yes')))],
      ['Error an integer', () => decodeErr(map('Error', '07'))],
    ];
    for (const [what, fn] of cases) {
      const err = thrown(fn);
      expect(err, what).toBeInstanceOf(GossipError);
      expect(err, what).toEqual(MALFORMED);
    }
  });

  it('integers out of range for their Go types', () => {
    const cases: [string, () => unknown][] = [
      ['SeqNo > uint32', () => decodePing(map('SeqNo', 'cf 0000000100000000'))],
      ['Incarnation > uint32', () => decodeAlive(map('Incarnation', 'cf 0000000100000000'))],
      ['Port > uint16', () => decodeAlive(map('Port', 'ce 00010000'))],
      ['SourcePort > uint16', () => decodePing(map('SourcePort', 'ce 00010000'))],
      ['State > uint8', () => decodePushNodeState(map('State', 'cd 0100'))],
      ['Nodes > maxPushStateNodes', () => decodePushPullHeader(map('Nodes', 'ce 00100001'))],
      ['Nodes negative', () => decodePushPullHeader(map('Nodes', 'ff'))],
      [
        'UserStateLen > maxPushStateBytes',
        () => decodePushPullHeader(map('UserStateLen', 'ce 01400001')),
      ],
      ['UserMsgLen > maxUserMsgBytes', () => decodeUserMsgHeader(map('UserMsgLen', 'ce 01400001'))],
    ];
    for (const [what, fn] of cases) expect(thrown(fn), what).toEqual(MALFORMED);
  });

  it('addresses that are neither 4 nor 16 bytes', () => {
    for (const len of [1, 3, 5, 15, 17]) {
      const raw = hex(new GoWriter().raw(new Uint8Array(len)).finish());
      expect(
        thrown(() => decodeAlive(map('Addr', raw))),
        `Addr ${len}`,
      ).toEqual(MALFORMED);
      expect(
        thrown(() => decodeIndirectPing(map('Target', raw))),
        `Target ${len}`,
      ).toEqual(MALFORMED);
      expect(
        thrown(() => decodePing(map('SourceAddr', raw))),
        `SourceAddr ${len}`,
      ).toEqual(MALFORMED);
      expect(
        thrown(() => decodePushNodeState(map('Addr', raw))),
        `Addr ${len}`,
      ).toEqual(MALFORMED);
    }
  });

  it('oversized fields: Meta > 512 (MetaMaxSize), Vsn > 16, names > 512, raw > 64 KiB', () => {
    const raw = (n: number): string =>
      hex(new GoWriter().raw(new Uint8Array(n).fill(0x61)).finish());
    expect(thrown(() => decodeAlive(map('Meta', raw(META_MAX_SIZE + 1))))).toEqual(MALFORMED);
    expect(thrown(() => decodePushNodeState(map('Meta', raw(META_MAX_SIZE + 1))))).toEqual(
      MALFORMED,
    );
    expect(decodeAlive(map('Meta', raw(META_MAX_SIZE))).meta.length).toBe(META_MAX_SIZE);
    expect(thrown(() => decodeAlive(map('Vsn', raw(17))))).toEqual(MALFORMED);
    expect(thrown(() => decodePing(map('Node', raw(513))))).toEqual(MALFORMED);
    expect(thrown(() => decodeSuspect(map('From', raw(513))))).toEqual(MALFORMED);
    expect(thrown(() => decodeDead(map('Node', raw(513))))).toEqual(MALFORMED);
    expect(thrown(() => decodePushNodeState(map('Name', raw(513))))).toEqual(MALFORMED);
    expect(thrown(() => decodePing(map('SourceNode', raw(513))))).toEqual(MALFORMED);
    expect(decodePing(map('Node', raw(512))).node.length).toBe(512);
    // Any raw field beyond the 64 KiB decode bound, and maps of more than 64 entries.
    expect(thrown(() => decodeAck(map('Payload', raw(65537))))).toEqual(MALFORMED);
    const many = new GoWriter().map(65);
    for (let i = 0; i < 65; i++) many.key(`k${i}`).uint(i);
    expect(thrown(() => decodePing(many.finish()))).toEqual(MALFORMED);
  });

  it('trailing bytes after the struct', () => {
    expect(thrown(() => decodePing(unhex(`80 00`)))).toEqual(MALFORMED);
    expect(
      thrown(() => decodeNack(new Uint8Array([...body(encodeNack({ seqNo: 1 })), 0]))),
    ).toEqual(MALFORMED);
  });
});
