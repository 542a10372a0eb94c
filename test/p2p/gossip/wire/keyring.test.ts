import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from '../../../../src/errors.js';
import {
  GossipCryptoError,
  decryptPayload,
  encryptPayload,
} from '../../../../src/p2p/gossip/wire/crypto.js';
import type { RandomSource } from '../../../../src/p2p/gossip/wire/crypto.js';
import { Keyring, formatSerfKey, parseSerfKey } from '../../../../src/p2p/gossip/wire/keyring.js';

const key = (len: number, fill: number) => new Uint8Array(len).fill(fill);
const zeros: RandomSource = (n) => new Uint8Array(n);

describe('parseSerfKey', () => {
  it('accepts base64 keys of 16, 24 and 32 bytes (serf keygen prints 32)', () => {
    expect(parseSerfKey('laQ+2ZJsIruNist7Yg6z185B2ZAPEUTjWo2ZezKPRIw=').length).toBe(32);
    for (const len of [16, 24, 32]) {
      const k = key(len, 0xab);
      expect(parseSerfKey(formatSerfKey(k))).toEqual(k);
    }
  });

  it('rejects other sizes and anything but padded standard base64', () => {
    for (const bad of [
      '',
      formatSerfKey(key(15, 1)),
      formatSerfKey(key(33, 1)),
      'laQ-2ZJsIruNist7Yg6z185B2ZAPEUTjWo2ZezKPRIw=', // URL alphabet
      'laQ+2ZJsIruNist7Yg6z185B2ZAPEUTjWo2ZezKPRIw', // missing padding
      ' laQ+2ZJsIruNist7Yg6z185B2ZAPEUTjWo2ZezKPRIw=',
      'laQ+2ZJsIruNist7Yg6z185B2ZAPEUTjWo2ZezKPRIw=\n',
    ]) {
      expect(() => parseSerfKey(bad), JSON.stringify(bad)).toThrow(InvalidOptionError);
    }
  });
});

describe('Keyring', () => {
  it('is empty (encryption off) without keys', () => {
    const ring = new Keyring();
    expect(ring.encryptionEnabled).toBe(false);
    expect(ring.primaryKey).toBeUndefined();
    expect(ring.keys).toEqual([]);
  });

  it('installs the primary key first, deduplicates, and validates sizes', () => {
    const a = key(16, 1);
    const b = key(32, 2);
    const ring = new Keyring([b, a, b], a);
    expect(ring.keys).toEqual([a, b]);
    expect(ring.primaryKey).toEqual(a);
    expect(new Keyring([], b).keys).toEqual([b]);
    expect(() => new Keyring([a])).toThrow(InvalidOptionError);
    expect(() => new Keyring([key(10, 1)], a)).toThrow(InvalidOptionError);
    expect(() => ring.addKey(key(31, 1))).toThrow(InvalidOptionError);
  });

  it('keeps private copies of keys', () => {
    const a = key(16, 1);
    const ring = new Keyring([], a);
    a.fill(9);
    ring.keys[0]!.fill(9);
    ring.primaryKey!.fill(9);
    expect(ring.primaryKey).toEqual(key(16, 1));
  });

  it('rotates keys as `serf keys -install/-use/-remove` do', () => {
    const oldKey = key(32, 1);
    const newKey = key(32, 2);
    const ring = Keyring.fromBase64([formatSerfKey(oldKey)]);
    const fromOld = encryptPayload(1, ring.primaryKey!, Uint8Array.of(4), '', zeros);

    ring.addKey(newKey); // install: decrypts with both, still encrypts with the old key
    expect(ring.primaryKey).toEqual(oldKey);
    expect(ring.keys).toEqual([oldKey, newKey]);
    const stillOld = encryptPayload(1, ring.primaryKey!, Uint8Array.of(5), '', zeros);
    expect(decryptPayload([oldKey], stillOld, '')).toEqual(Uint8Array.of(5));

    ring.useKey(newKey); // use: encrypt with the new key, old one is a secondary
    expect(ring.keys).toEqual([newKey, oldKey]);
    expect(decryptPayload(ring.keys, fromOld, '')).toEqual(Uint8Array.of(4)); // via secondary
    const fromNew = encryptPayload(1, ring.primaryKey!, Uint8Array.of(6), '', zeros);
    expect(() => decryptPayload([oldKey], fromNew, '')).toThrow(GossipCryptoError);

    expect(() => ring.removeKey(newKey)).toThrow(InvalidOptionError); // the primary
    ring.removeKey(oldKey);
    ring.removeKey(key(16, 7)); // not installed: no-op
    expect(ring.keys).toEqual([newKey]);
    expect(() => decryptPayload(ring.keys, fromOld, '')).toThrow(GossipCryptoError);
    expect(decryptPayload(ring.keys, fromNew, '')).toEqual(Uint8Array.of(6));
  });

  it('refuses to use a key that is not installed', () => {
    const ring = new Keyring([], key(16, 1));
    expect(() => ring.useKey(key(16, 2))).toThrow(InvalidOptionError);
  });

  it('fromBase64 reads a Serf keyring file (primary first)', () => {
    const keys = [key(32, 3), key(16, 4), key(24, 5)];
    const ring = Keyring.fromBase64(keys.map(formatSerfKey));
    expect(ring.keys).toEqual(keys);
    expect(() => Keyring.fromBase64(['nope'])).toThrow(InvalidOptionError);
  });
});
