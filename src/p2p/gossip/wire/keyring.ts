/**
 * The keyring memberlist encrypts with (keyring.go): an ordered set of AES keys whose first
 * entry is the primary key. Messages are encrypted with the primary key only and decrypted
 * by trying every key in order, so a cluster rotates keys by installing a new key everywhere
 * (`addKey`), switching to it (`useKey`), then dropping the old one (`removeKey`) — Serf's
 * `serf keys -install / -use / -remove`.
 */
import { InvalidOptionError } from '../../../errors.js';
import { validateKey } from './crypto.js';

const sameKey = (a: Uint8Array, b: Uint8Array): boolean =>
  a.length === b.length && a.every((byte, i) => byte === b[i]);

/** Standard base64 with padding, as Go's `base64.StdEncoding` (Serf's `-encrypt`). */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Parses a Serf encryption key (`-encrypt`, `encrypt_key`, `serf keygen` output): standard
 * padded base64 of 16, 24 or 32 bytes.
 *
 * @throws InvalidOptionError naming what is wrong with the key.
 */
export function parseSerfKey(text: string): Uint8Array {
  if (!BASE64.test(text)) {
    throw new InvalidOptionError(
      'gossip encryption key must be standard padded base64 (as printed by `serf keygen`)',
    );
  }
  const key = new Uint8Array(Buffer.from(text, 'base64'));
  validateKey(key);
  return key;
}

/** Formats a key the way Serf prints and accepts it. */
export function formatSerfKey(key: Uint8Array): string {
  return Buffer.from(key).toString('base64');
}

export class Keyring {
  /** Index 0 is the primary key. Keys are private copies. */
  #keys: Uint8Array[] = [];

  /**
   * As memberlist's `NewKeyring`: with no keys encryption is off; otherwise `primaryKey` is
   * required, and is installed first whether or not `keys` lists it.
   */
  constructor(keys: readonly Uint8Array[] = [], primaryKey?: Uint8Array) {
    if (keys.length > 0 || (primaryKey !== undefined && primaryKey.length > 0)) {
      if (primaryKey === undefined || primaryKey.length === 0) {
        throw new InvalidOptionError(
          'Keyring: a primaryKey is required when keys are given (pass one of the keys)',
        );
      }
      this.addKey(primaryKey);
      for (const key of keys) this.addKey(key);
    }
  }

  /** A keyring from Serf-style base64 keys, the first being the primary (a Serf keyring file). */
  static fromBase64(keys: readonly string[]): Keyring {
    const parsed = keys.map(parseSerfKey);
    return new Keyring(parsed, parsed[0]);
  }

  /** True when a key is installed, i.e. traffic is encrypted. */
  get encryptionEnabled(): boolean {
    return this.#keys.length > 0;
  }

  /** The key messages are encrypted with, or undefined when the keyring is empty. */
  get primaryKey(): Uint8Array | undefined {
    const key = this.#keys[0];
    return key === undefined ? undefined : key.slice();
  }

  /** All keys, primary first: the order decryption tries them in. Copies. */
  get keys(): Uint8Array[] {
    return this.#keys.map((k) => k.slice());
  }

  /**
   * Installs a key for decryption. Adding an installed key does nothing; the first key
   * added to an empty keyring becomes the primary key.
   */
  addKey(key: Uint8Array): void {
    validateKey(key);
    if (this.#keys.some((k) => sameKey(k, key))) return;
    this.#keys.push(key.slice());
  }

  /** Makes an installed key the primary key (peers should already hold it). */
  useKey(key: Uint8Array): void {
    const i = this.#keys.findIndex((k) => sameKey(k, key));
    if (i < 0) {
      throw new InvalidOptionError('Keyring.useKey: the key is not installed; addKey it first');
    }
    const [primary] = this.#keys.splice(i, 1);
    this.#keys.unshift(primary!);
  }

  /** Drops a secondary key. Removing a key that is not installed does nothing. */
  removeKey(key: Uint8Array): void {
    const primary = this.#keys[0];
    if (primary !== undefined && sameKey(primary, key)) {
      throw new InvalidOptionError(
        'Keyring.removeKey: removing the primary key is not allowed; useKey another key first',
      );
    }
    this.#keys = this.#keys.filter((k) => !sameKey(k, key));
  }
}
