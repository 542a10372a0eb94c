import { describe, expect, it } from 'vitest';
import { GhostnetError } from '../../../src/errors.js';
import { idFromHex, idToHex } from '../../../src/p2p/kademlia/id.js';
import type { RandomBytes } from '../../../src/p2p/kademlia/id.js';
import {
  RoutingStateError,
  isIPv4,
  isIPv6,
  parseRoutingState,
  serializeRoutingState,
} from '../../../src/p2p/kademlia/routing-state.js';
import type { RoutingStateLimits } from '../../../src/p2p/kademlia/routing-state.js';
import { RoutingTable } from '../../../src/p2p/kademlia/routing-table.js';
import type { Contact } from '../../../src/p2p/kademlia/routing-table.js';
import { mulberry32 } from '../../helpers/prng.js';

function seededBytes(seed: number): RandomBytes {
  const next = mulberry32(seed);
  return (n) => Uint8Array.from({ length: n }, () => Math.floor(next() * 256));
}

const SELF = '0123456789abcdef0123456789abcdef01234567';
const A = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
const B = 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb';

const enc = (x: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(x));

function doc(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    version: 1,
    id: SELF,
    savedAt: 1_700_000_000_000,
    nodes: [
      { id: A, address: '203.0.113.7', port: 6881 },
      { id: B, address: '2001:db8::7', port: 51413 },
    ],
    ...overrides,
  };
}

function node(overrides: Record<string, unknown>): Record<string, unknown> {
  return doc({ nodes: [{ id: A, address: '203.0.113.7', port: 6881, ...overrides }] });
}

function reasonOf(bytes: Uint8Array, limits?: RoutingStateLimits): string | undefined {
  try {
    parseRoutingState(bytes, limits);
  } catch (err) {
    if (err instanceof RoutingStateError && err.code === 'GN_ERR_DHT_ROUTING_STATE') {
      return err.reason;
    }
    return `not a RoutingStateError: ${String(err)}`;
  }
  return undefined;
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof GhostnetError ? err.code : `not coded: ${String(err)}`;
  }
  return undefined;
}

describe('routing state round trip', () => {
  it('parses the documented format', () => {
    const state = parseRoutingState(enc(doc()));
    expect(idToHex(state.id)).toBe(SELF);
    expect(state.savedAt).toBe(1_700_000_000_000);
    expect(state.contacts.map((c) => ({ ...c, id: idToHex(c.id) }))).toEqual([
      { id: A, address: '203.0.113.7', port: 6881, family: 'IPv4' },
      { id: B, address: '2001:db8::7', port: 51413, family: 'IPv6' },
    ]);
  });

  it('round-trips a routing table through bytes', () => {
    const random = seededBytes(7);
    const self = random(20);
    const table = new RoutingTable(self);
    for (let i = 0; i < 2000; i++) {
      const v6 = i % 3 === 0;
      table.heard(
        {
          id: random(20),
          address: v6 ? `2001:db8::${(i % 0xffff).toString(16)}` : `10.0.${i >> 8}.${i & 255}`,
          port: 1 + i,
          family: v6 ? 'IPv6' : 'IPv4',
        },
        i,
        'response',
      );
    }
    const contacts = [...table.contacts()];
    const bytes = serializeRoutingState({ id: self, contacts, savedAt: 12345 });
    const json = JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
    expect(json.version).toBe(1);
    expect(json.id).toBe(idToHex(self));
    expect(Object.keys(json).sort()).toEqual(['id', 'nodes', 'savedAt', 'version']);

    const back = parseRoutingState(bytes);
    expect(back.id).toEqual(self);
    expect(back.savedAt).toBe(12345);
    expect(back.contacts).toEqual(contacts.map((c) => ({ ...c, id: Uint8Array.from(c.id) })));

    // Restored nodes go back in as unverified: same table shape, all questionable.
    const restored = new RoutingTable(back.id);
    for (const c of back.contacts) restored.heard(c, 0, 'query');
    expect(restored.size).toBe(table.size);
    expect(restored.state(contacts[0]!.id, 0)).toBe('questionable');
  });

  it('round-trips an empty state', () => {
    const id = idFromHex(SELF);
    const back = parseRoutingState(serializeRoutingState({ id, contacts: [], savedAt: 0 }));
    expect(back).toEqual({ id, contacts: [], savedAt: 0 });
  });
});

describe('parseRoutingState validation', () => {
  it('rejects oversized input, bad UTF-8 and bad JSON', () => {
    expect(reasonOf(enc(doc()), { maxBytes: 50 })).toBe('too-large');
    expect(reasonOf(Uint8Array.from([0x7b, 0xff, 0x7d]))).toBe('encoding');
    for (const text of ['', '{', '{"version":1,}', 'version: 1', '[1,2']) {
      expect(reasonOf(new TextEncoder().encode(text))).toBe('json');
    }
  });

  it('rejects a document of the wrong shape', () => {
    for (const x of [null, 1, 'x', [], [doc()]]) expect(reasonOf(enc(x))).toBe('shape');
    expect(reasonOf(enc(doc({ extra: true })))).toBe('shape');
    expect(reasonOf(enc(doc({ nodes: {} })))).toBe('shape');
    expect(reasonOf(enc(doc({ nodes: undefined })))).toBe('shape');
  });

  it('rejects other versions', () => {
    for (const version of [0, 2, '1', 1.5, null, undefined]) {
      expect(reasonOf(enc(doc({ version })))).toBe('version');
    }
  });

  it('rejects a bad own id', () => {
    for (const id of [undefined, 42, '', SELF.slice(1), `${SELF}00`, `${SELF.slice(1)}g`]) {
      expect(reasonOf(enc(doc({ id })))).toBe('id');
    }
  });

  it('rejects a bad savedAt', () => {
    for (const savedAt of [undefined, -1, 1.5, '1', 2 ** 60, null]) {
      expect(reasonOf(enc(doc({ savedAt })))).toBe('saved-at');
    }
  });

  it('caps the node count', () => {
    expect(reasonOf(enc(doc()), { maxNodes: 1 })).toBe('too-many-nodes');
    expect(reasonOf(enc(doc()), { maxNodes: 2 })).toBeUndefined();
    const many = Array.from({ length: 10_001 }, (_, i) => ({
      id: i.toString(16).padStart(40, '0'),
      address: '10.0.0.1',
      port: 1,
    }));
    expect(reasonOf(enc(doc({ nodes: many })))).toBe('too-many-nodes');
    expect(parseRoutingState(enc(doc({ nodes: many.slice(1) }))).contacts).toHaveLength(10_000);
  });

  it('rejects bad nodes', () => {
    const bad: Record<string, unknown>[] = [
      doc({ nodes: [null] }),
      doc({ nodes: [[A, '1.2.3.4', 1]] }),
      doc({ nodes: ['x'] }),
      doc({ nodes: [{ id: A, address: '1.2.3.4' }] }),
      node({ family: 'IPv4' }),
      node({ id: undefined }),
      node({ id: 'zz' }),
      node({ id: A.slice(2) }),
      node({ address: undefined }),
      node({ address: 7 }),
      node({ address: '' }),
      node({ address: 'example.com' }),
      node({ address: '256.1.1.1' }),
      node({ address: '01.2.3.4' }),
      node({ address: '1.2.3' }),
      node({ address: '1.2.3.4.5' }),
      node({ address: ' 1.2.3.4' }),
      node({ address: 'fe80::1%eth0' }),
      node({ address: '[::1]' }),
      node({ address: ':::' }),
      node({ address: '1::2::3' }),
      node({ port: undefined }),
      node({ port: 0 }),
      node({ port: -1 }),
      node({ port: 65536 }),
      node({ port: 1.5 }),
      node({ port: '6881' }),
      // Our own id, and a repeated id.
      node({ id: SELF }),
      doc({
        nodes: [
          { id: A, address: '1.2.3.4', port: 1 },
          { id: A.toUpperCase(), address: '1.2.3.5', port: 2 },
        ],
      }),
    ];
    for (const d of bad) expect(reasonOf(enc(d)), JSON.stringify(d)).toBe('node');
  });

  it('never throws anything but a RoutingStateError on mutated input', () => {
    const random = seededBytes(99);
    const good = enc(doc());
    for (let i = 0; i < 3000; i++) {
      const bytes = good.slice();
      const edits = 1 + (random(1)[0]! % 4);
      for (let e = 0; e < edits; e++) {
        const [at, value] = random(2);
        bytes[at! % bytes.length] = value!;
      }
      const cut = random(1)[0]! % 8 === 0 ? bytes.subarray(0, random(1)[0]! % bytes.length) : bytes;
      const reason = reasonOf(cut);
      if (reason !== undefined) expect(reason).not.toMatch(/^not a RoutingStateError/);
    }
  });
});

describe('serializeRoutingState validation', () => {
  const id = idFromHex(SELF);
  const c = (over: Partial<Contact>): Contact => ({
    id: idFromHex(A),
    address: '1.2.3.4',
    port: 1,
    family: 'IPv4',
    ...over,
  });

  it('refuses states it could not parse back', () => {
    const cases: [Parameters<typeof serializeRoutingState>[0], RoutingStateLimits?][] = [
      [{ id: new Uint8Array(19), contacts: [], savedAt: 0 }],
      [{ id, contacts: [], savedAt: -1 }],
      [{ id, contacts: [], savedAt: 0.5 }],
      [{ id, contacts: [c({ id: new Uint8Array(3) })], savedAt: 0 }],
      [{ id, contacts: [c({ address: 'localhost' })], savedAt: 0 }],
      [{ id, contacts: [c({ port: 0 })], savedAt: 0 }],
      [{ id, contacts: [c({ id })], savedAt: 0 }],
      [{ id, contacts: [c({}), c({ port: 2 })], savedAt: 0 }],
      [{ id, contacts: [c({})], savedAt: 0 }, { maxNodes: 0 }],
      [{ id, contacts: [], savedAt: 0 }, { maxNodes: -1 }],
      [{ id, contacts: [], savedAt: 0 }, { maxBytes: 1.5 }],
    ];
    for (const [state, limits] of cases) {
      expect(codeOf(() => serializeRoutingState(state, limits))).toBe('GN_ERR_INVALID_OPTION');
    }
  });
});

describe('address syntax', () => {
  it('accepts IPv4 dotted quads only', () => {
    for (const s of ['0.0.0.0', '1.2.3.4', '255.255.255.255', '10.0.0.1']) {
      expect(isIPv4(s)).toBe(true);
    }
    for (const s of ['256.0.0.0', '1.2.3', '1.2.3.4.5', '01.2.3.4', '1.2.3.-1', 'a.b.c.d', '']) {
      expect(isIPv4(s)).toBe(false);
    }
  });

  it('accepts RFC 4291 IPv6 text forms', () => {
    for (const s of [
      '::',
      '::1',
      '1::',
      '2001:db8::7',
      'FE80::1',
      '1:2:3:4:5:6:7:8',
      '1:2:3:4:5:6:7::',
      '::2:3:4:5:6:7:8',
      '::ffff:192.0.2.1',
      '1:2:3:4:5:6:192.0.2.1',
      '64:ff9b::192.0.2.33',
    ]) {
      expect(isIPv6(s), s).toBe(true);
    }
    for (const s of [
      '',
      ':',
      '1.2.3.4',
      ':::',
      '1::2::3',
      '1:2:3:4:5:6:7',
      '1:2:3:4:5:6:7:8:9',
      '1:2:3:4:5:6:7:8::',
      '12345::',
      '::g',
      ':1::2',
      '1::2:',
      '1:2:3:4:5:6:7:1.2.3.4',
      '::1.2.3',
      '::256.1.1.1',
      'fe80::1%eth0',
    ]) {
      expect(isIPv6(s), s).toBe(false);
    }
  });
});
