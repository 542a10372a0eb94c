/**
 * The STUN codec against RFC 5769's test vectors (§2.1-§2.4) and RFC 8489 Appendix B.1
 * (as corrected by erratum 6268), the message type encoding (RFC 8489 §5), attribute
 * values, the §14.5 rule for attributes after MESSAGE-INTEGRITY, and a fuzz test: any
 * input decodes or throws a StunError.
 */
import { describe, expect, it } from 'vitest';
import { GhostnetError } from '../../../../src/errors.js';
import {
  Attr,
  decodeStun,
  decodeType,
  encodeType,
  isStun,
  longTermKey,
  PasswordAlgorithm,
  saslprep,
  shortTermKey,
  StunBuilder,
  StunClass,
  StunError,
  StunMethod,
  userhash,
} from '../../../../src/p2p/nat/stun/codec.js';
import { mulberry32 } from '../../../helpers/prng.js';
import { hex } from '../../../helpers/hex.js';

// RFC 5769 §2.1-§2.4 (the RFC's hex dumps; padding bytes as in the RFC).
const REQUEST = hex(`
  000100582112a442b7e7a701bc34d686fa87dfae
  802200105354554e20746573742063 6c69656e74
  002400046e0001ff
  80290008932ff9b151263b36
  000600096576746a3a68367659202020
  000800149aeaa70cbfd8cb56781ef2b5b2d3f249c1b571a2
  80280004e57a3bcf`);
const IPV4_RESPONSE = hex(`
  0101003c2112a442b7e7a701bc34d686fa87dfae
  8022000b7465737420766563746f7220
  002000080001a147e112a643
  000800142b91f599fd9e90c38c7489f92af9ba53f06be7d7
  80280004c07d4c96`);
const IPV6_RESPONSE = hex(`
  010100482112a442b7e7a701bc34d686fa87dfae
  8022000b7465737420766563746f7220
  002000140002a1470113a9faa5d3f179bc25f4b5bed2b9d9
  00080014a382954e4be67bf11784c97c8292c275bfe3ed41
  80280004c8fb0b4c`);
const LONG_TERM_REQUEST = hex(`
  000100602112a44278ad3433c6ad72c029da412e
  00060012e3839ee38388e383aae38383e382afe382b90000
  0015001c662f2f3439396b39353464364f4c33346f4c394653547679363473 41
  0014000b6578616d706c652e6f726700
  00080014f67024656dd64a3e02b8e0712e85c9a28ca89666`);
// RFC 8489 Appendix B.1 with erratum 6268.
const B1_REQUEST = hex(`
  000100902112a44278ad3433c6ad72c029da412e
  001e00204a3cf38fef6992bda952c6780417da0f24819415569e60b205c46e41407f1704
  00150029 6f624d61744a6f73324141414366 2f2f3439396b39353464364f4c33346f4c394653547679363473 41000000
  0014000b6578616d706c652e6f726700
  001d000400020000
  001c0020b5c7bf005b6c52a21c51c5e892f81924136296cb927c43149309278cc6518e65`);
const MATRIX = '\u30de\u30c8\u30ea\u30c3\u30af\u30b9';
/** RFC 5769 §2.4's password before SASLprep: "The<U+00AD>M<U+00AA>tr<U+2168>". */
const MATRIX_PASSWORD = 'The\u00adM\u00aatr\u2168';

describe('RFC 5769 test vectors', () => {
  it('§2.1: the sample request decodes and its MESSAGE-INTEGRITY and FINGERPRINT verify', () => {
    const m = decodeStun(REQUEST);
    expect(m.method).toBe(StunMethod.Binding);
    expect(m.cls).toBe(StunClass.Request);
    expect(m.id).toBe('b7e7a701bc34d686fa87dfae');
    expect(m.text(Attr.Software)).toBe('STUN test client');
    expect(m.text(Attr.Username)).toBe('evtj:h6vY');
    expect(m.uint32(Attr.Priority)).toBe(0x6e0001ff);
    expect(m.uint64(Attr.IceControlled)).toBe(0x932ff9b151263b36n);
    const key = shortTermKey('VOkJxbRl1RmTxUk/WvJxBt');
    expect(m.verifyIntegrity(key)).toBe(true);
    expect(m.verifyIntegrity(shortTermKey('VOkJxbRl1RmTxUk/WvJxB'))).toBe(false);
    expect(m.verifyFingerprint()).toBe(true);
  });

  it('§2.1: the same request built by us is identical up to USERNAME padding and verifies', () => {
    const m = decodeStun(REQUEST);
    const b = new StunBuilder(StunMethod.Binding, StunClass.Request, m.transactionId)
      .text(Attr.Software, 'STUN test client')
      .uint32(Attr.Priority, 0x6e0001ff)
      .uint64(Attr.IceControlled, 0x932ff9b151263b36n)
      .text(Attr.Username, 'evtj:h6vY')
      .integrity(shortTermKey('VOkJxbRl1RmTxUk/WvJxBt'))
      .fingerprint()
      .build();
    // The RFC pads USERNAME with spaces, we pad with zeros (§14 allows any value); the HMAC
    // covers padding, so the bytes differ there but both verify under the same key.
    const ours = decodeStun(b);
    expect(ours.verifyIntegrity(shortTermKey('VOkJxbRl1RmTxUk/WvJxBt'))).toBe(true);
    expect(ours.verifyFingerprint()).toBe(true);
    expect(Buffer.from(b.subarray(0, 72)).equals(Buffer.from(REQUEST.subarray(0, 72)))).toBe(true);
    expect(b.length).toBe(REQUEST.length);
  });

  it('§2.2: the IPv4 response: XOR-MAPPED-ADDRESS 192.0.2.1:32853, integrity, fingerprint', () => {
    const m = decodeStun(IPV4_RESPONSE);
    expect(m.cls).toBe(StunClass.Success);
    expect(m.xorAddress()).toEqual({ address: '192.0.2.1', port: 32853, family: 'IPv4' });
    expect(m.verifyIntegrity(shortTermKey('VOkJxbRl1RmTxUk/WvJxBt'))).toBe(true);
    expect(m.verifyFingerprint()).toBe(true);
    // Our encoding of the same address is the RFC's.
    const b = new StunBuilder(StunMethod.Binding, StunClass.Success, m.transactionId)
      .xorAddress(Attr.XorMappedAddress, { address: '192.0.2.1', port: 32853 })
      .build();
    expect(Buffer.from(b.subarray(20)).toString('hex')).toBe('002000080001a147e112a643');
  });

  it('§2.3: the IPv6 response: [2001:db8:1234:5678:11:2233:4455:6677]:32853', () => {
    const m = decodeStun(IPV6_RESPONSE);
    expect(m.xorAddress()).toEqual({
      address: '2001:db8:1234:5678:11:2233:4455:6677',
      port: 32853,
      family: 'IPv6',
    });
    expect(m.verifyIntegrity(shortTermKey('VOkJxbRl1RmTxUk/WvJxBt'))).toBe(true);
    expect(m.verifyFingerprint()).toBe(true);
  });

  it('§2.4: long-term credentials: MD5(username:realm:SASLprep(password)) verifies; rebuilt byte for byte', () => {
    expect(saslprep(MATRIX_PASSWORD)).toBe('TheMatrIX');
    const m = decodeStun(LONG_TERM_REQUEST);
    expect(m.text(Attr.Username)).toBe(MATRIX);
    expect(m.text(Attr.Realm)).toBe('example.org');
    expect(m.text(Attr.Nonce)).toBe('f//499k954d6OL34oL9FSTvy64sA');
    const key = longTermKey(MATRIX, 'example.org', MATRIX_PASSWORD);
    expect(m.verifyIntegrity(key)).toBe(true);
    expect(m.verifyIntegrity(longTermKey(MATRIX, 'example.org', 'TheMatrix'))).toBe(false);
    const rebuilt = new StunBuilder(StunMethod.Binding, StunClass.Request, m.transactionId)
      .text(Attr.Username, MATRIX)
      .text(Attr.Nonce, 'f//499k954d6OL34oL9FSTvy64sA')
      .text(Attr.Realm, 'example.org')
      .integrity(key)
      .build();
    expect(Buffer.from(rebuilt).equals(Buffer.from(LONG_TERM_REQUEST))).toBe(true);
  });
});

describe('RFC 8489', () => {
  it('Appendix B.1 (erratum 6268): USERHASH, SHA-256 key and MESSAGE-INTEGRITY-SHA256, rebuilt byte for byte', () => {
    const m = decodeStun(B1_REQUEST);
    expect(Buffer.from(m.get(Attr.Userhash)!)).toEqual(
      Buffer.from(userhash(MATRIX, 'example.org')),
    );
    const key = longTermKey(MATRIX, 'example.org', MATRIX_PASSWORD, PasswordAlgorithm.Sha256);
    expect(key.length).toBe(32);
    expect(m.verifyIntegritySha256(key)).toBe(true);
    expect(m.verifyIntegrity(key)).toBe(false);
    const rebuilt = new StunBuilder(StunMethod.Binding, StunClass.Request, m.transactionId)
      .add(Attr.Userhash, userhash(MATRIX, 'example.org'))
      .text(Attr.Nonce, 'obMatJos2AAACf//499k954d6OL34oL9FSTvy64sA')
      .text(Attr.Realm, 'example.org')
      .add(Attr.PasswordAlgorithm, Uint8Array.of(0, 2, 0, 0))
      .integritySha256(key)
      .build();
    expect(Buffer.from(rebuilt).equals(Buffer.from(B1_REQUEST))).toBe(true);
  });

  it('§5: method and class bits are interleaved in the message type', () => {
    expect(encodeType(StunMethod.Binding, StunClass.Request)).toBe(0x0001);
    expect(encodeType(StunMethod.Binding, StunClass.Indication)).toBe(0x0011);
    expect(encodeType(StunMethod.Binding, StunClass.Success)).toBe(0x0101);
    expect(encodeType(StunMethod.Binding, StunClass.Error)).toBe(0x0111);
    expect(encodeType(StunMethod.Allocate, StunClass.Error)).toBe(0x0113);
    expect(encodeType(StunMethod.ChannelBind, StunClass.Success)).toBe(0x0109);
    for (let m = 0; m <= 0xfff; m += 7) {
      for (let c = 0; c < 4; c++)
        expect(decodeType(encodeType(m, c))).toEqual({ method: m, cls: c });
    }
  });

  it('§14.5: attributes after MESSAGE-INTEGRITY (other than -SHA256 and FINGERPRINT) are ignored', () => {
    const key = shortTermKey('pw');
    const b = new StunBuilder(StunMethod.Binding, StunClass.Request, new Uint8Array(12))
      .text(Attr.Username, 'u')
      .integrity(key)
      .text(Attr.Software, 'after')
      .fingerprint()
      .build();
    const m = decodeStun(b);
    expect(m.text(Attr.Software)).toBeUndefined();
    expect(m.verifyIntegrity(key)).toBe(true);
    expect(m.verifyFingerprint()).toBe(true);
  });

  it('§14: comprehension-required attributes we do not know are reported (for a 420)', () => {
    const b = new StunBuilder(StunMethod.Binding, StunClass.Request, new Uint8Array(12))
      .add(0x7777, Uint8Array.of(1))
      .add(0xc777, Uint8Array.of(1))
      .build();
    expect(decodeStun(b).unknownRequired()).toEqual([0x7777]);
  });

  it('§6: refuses what is not STUN, truncated or inconsistent input, with StunError codes', () => {
    expect(() => decodeStun(new Uint8Array(10))).toThrow(StunError);
    const bad = REQUEST.slice();
    bad[4] = 0;
    expect(() => decodeStun(bad)).toThrow(/not a STUN message/);
    expect(isStun(bad)).toBe(false);
    expect(() => decodeStun(REQUEST.subarray(0, 60))).toThrow(/announces/);
    const overrun = hex('000100082112a442000000000000000000000000 00200040 00010000');
    expect(() => decodeStun(overrun)).toThrow(/runs past/);
    const channelData = hex('4000000401020304');
    expect(isStun(channelData)).toBe(false);
  });

  it('decodes or refuses any input without another kind of error (seeded fuzz)', () => {
    const rand = mulberry32(8489);
    const seeds = [REQUEST, IPV4_RESPONSE, IPV6_RESPONSE, LONG_TERM_REQUEST, B1_REQUEST];
    for (let i = 0; i < 20_000; i++) {
      const base = seeds[i % seeds.length]!;
      const buf = base.slice(0, Math.floor(rand() * (base.length + 1)));
      const flips = Math.floor(rand() * 4);
      for (let f = 0; f < flips && buf.length > 0; f++) {
        buf[Math.floor(rand() * buf.length)] = Math.floor(rand() * 256);
      }
      try {
        const m = decodeStun(buf);
        m.visible();
        m.unknownRequired();
        m.verifyFingerprint();
        m.verifyIntegrity(new Uint8Array(16));
        for (const t of [Attr.XorMappedAddress, Attr.ErrorCode, Attr.Priority]) {
          try {
            if (t === Attr.XorMappedAddress) m.xorAddress();
            else if (t === Attr.ErrorCode) m.errorCode();
            else m.uint32(t);
          } catch (err) {
            expect(err).toBeInstanceOf(StunError);
          }
        }
      } catch (err) {
        expect(err).toBeInstanceOf(GhostnetError);
      }
    }
  });
});
