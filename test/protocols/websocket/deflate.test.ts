import { randomBytes } from 'node:crypto';
import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  acceptDeflateResponse,
  createDeflateOffer,
  DeflateError,
  negotiateDeflate,
  PerMessageDeflate,
} from '../../../src/protocols/websocket/deflate.js';
import type { NegotiatedDeflate } from '../../../src/protocols/websocket/deflate.js';
import { parseExtensions } from '../../../src/protocols/websocket/extensions.js';
import { ZlibLimiter, ZlibQueueFullError } from '../../../src/protocols/websocket/zlib-limiter.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const unhex = (s: string): Uint8Array => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const DEFAULT: NegotiatedDeflate = {
  serverNoContextTakeover: false,
  clientNoContextTakeover: false,
  serverMaxWindowBits: 15,
  clientMaxWindowBits: 15,
};
const offers = (header: string) => parseExtensions(header);

describe('RFC 7692 §7.2.3 examples', () => {
  it('compresses "Hello" to f2 48 cd c9 c9 07 00 (§7.2.3.1)', async () => {
    const pmd = new PerMessageDeflate('client', DEFAULT, { limiter: new ZlibLimiter() });
    expect(hex(await pmd.compress(Buffer.from('Hello')))).toBe('f248cdc9c90700');
    await pmd.close();
  });

  it('decompresses "Hello" and the shared-window second message f2 00 11 00 00 (§7.2.3.2)', async () => {
    const pmd = new PerMessageDeflate('server', DEFAULT, { limiter: new ZlibLimiter() });
    const first = await pmd.decompress([unhex('f248cdc9c90700')], 1000);
    expect(Buffer.from(first).toString()).toBe('Hello');
    const second = await pmd.decompress([unhex('f200110000')], 1000);
    expect(Buffer.from(second).toString()).toBe('Hello');
    await pmd.close();
  });

  it('compresses a second "Hello" with context takeover to f2 00 11 00 00', async () => {
    const pmd = new PerMessageDeflate('client', DEFAULT, { limiter: new ZlibLimiter() });
    await pmd.compress(Buffer.from('Hello'));
    expect(hex(await pmd.compress(Buffer.from('Hello')))).toBe('f200110000');
    await pmd.close();
  });

  it('without context takeover the second message is compressed afresh', async () => {
    for (const lazyContexts of [true, false]) {
      const pmd = new PerMessageDeflate(
        'client',
        { ...DEFAULT, clientNoContextTakeover: true },
        { limiter: new ZlibLimiter(), lazyContexts },
      );
      expect(hex(await pmd.compress(Buffer.from('Hello')))).toBe('f248cdc9c90700');
      expect(hex(await pmd.compress(Buffer.from('Hello')))).toBe('f248cdc9c90700');
      await pmd.close();
    }
  });

  it('decompresses the fragmented message (§7.2.3.1: split payload)', async () => {
    const pmd = new PerMessageDeflate('server', DEFAULT, { limiter: new ZlibLimiter() });
    const out = await pmd.decompress([unhex('f248cd'), unhex('c9c90700')], 1000);
    expect(Buffer.from(out).toString()).toBe('Hello');
    await pmd.close();
  });

  it('decompresses a stored (uncompressed) DEFLATE block (§7.2.3.3)', async () => {
    const pmd = new PerMessageDeflate('server', DEFAULT, { limiter: new ZlibLimiter() });
    const out = await pmd.decompress([unhex('00 05 00 fa ff 48 65 6c 6c 6f 00')], 1000);
    expect(Buffer.from(out).toString()).toBe('Hello');
    await pmd.close();
  });

  it('decompresses a block with BFINAL set (§7.2.3.4) and keeps working afterwards', async () => {
    const pmd = new PerMessageDeflate('server', DEFAULT, { limiter: new ZlibLimiter() });
    const out = await pmd.decompress([unhex('f3 48 cd c9 c9 07 00 00')], 1000);
    expect(Buffer.from(out).toString()).toBe('Hello');
    // The next message refers back to "Hello" (distance 5): the window was carried over.
    const again = await pmd.decompress([unhex('f200110000')], 1000);
    expect(Buffer.from(again).toString()).toBe('Hello');
    await pmd.close();
  });

  it('decompresses two DEFLATE blocks in one message (§7.2.3.5)', async () => {
    const pmd = new PerMessageDeflate('server', DEFAULT, { limiter: new ZlibLimiter() });
    const out = await pmd.decompress([unhex('f2 48 05 00 00 00 ff ff ca c9 c9 07 00')], 1000);
    expect(Buffer.from(out).toString()).toBe('Hello');
    await pmd.close();
  });

  it('compresses an empty message to 00 (§7.2.3.6) and decompresses it', async () => {
    const pmd = new PerMessageDeflate('client', DEFAULT, { limiter: new ZlibLimiter() });
    const empty = await pmd.compress(new Uint8Array(0));
    expect(hex(empty)).toBe('00');
    const other = new PerMessageDeflate('server', DEFAULT, { limiter: new ZlibLimiter() });
    expect((await other.decompress([empty], 10)).length).toBe(0);
    // Again, right after another sync flush (zlib emits nothing for a repeated flush with
    // no input; the peer must still get an empty block), then data on the same contexts.
    expect(hex(await pmd.compress(new Uint8Array(0)))).toBe('00');
    expect(hex(await pmd.compress(new Uint8Array(0)))).toBe('00');
    expect((await other.decompress([unhex('00')], 10)).length).toBe(0);
    expect((await other.decompress([unhex('00')], 10)).length).toBe(0);
    const hello = await pmd.compress(Buffer.from('Hello'));
    expect(Buffer.from(await other.decompress([hello], 10)).toString()).toBe('Hello');
    await pmd.close();
    await other.close();
  });

  it('level 0 produces the "no compression" example of §7.2.3.3', async () => {
    const pmd = new PerMessageDeflate('client', DEFAULT, { limiter: new ZlibLimiter(), level: 0 });
    const out = await pmd.compress(Buffer.from('Hello'));
    // BFINAL 0, BTYPE 00, LEN 5, NLEN ~5, the literal bytes, then what is left of the
    // empty stored block Z_SYNC_FLUSH appends once 00 00 ff ff is removed.
    expect(hex(out)).toBe('000500faff48656c6c6f00');
    await pmd.close();
  });
});

describe('negotiation (RFC 7692 §7.1)', () => {
  const neg = (header: string, opts = {}) => negotiateDeflate(offers(header), opts);

  it('accepts a bare offer with defaults', () => {
    const r = neg('permessage-deflate')!;
    expect(r.params).toEqual(DEFAULT);
    expect(r.response.params).toEqual([]);
  });

  it.each([
    [
      'permessage-deflate; server_no_context_takeover',
      {},
      'server_no_context_takeover',
      { serverNoContextTakeover: true },
    ],
    [
      'permessage-deflate; client_no_context_takeover',
      {},
      'client_no_context_takeover',
      { clientNoContextTakeover: true },
    ],
    [
      'permessage-deflate; server_max_window_bits=10',
      {},
      'server_max_window_bits=10',
      { serverMaxWindowBits: 10 },
    ],
    [
      'permessage-deflate; server_max_window_bits=12',
      { serverMaxWindowBits: 9 },
      'server_max_window_bits=9',
      { serverMaxWindowBits: 9 },
    ],
    [
      'permessage-deflate; server_max_window_bits=8',
      {},
      'server_max_window_bits=8',
      { serverMaxWindowBits: 8 },
    ],
    ['permessage-deflate; client_max_window_bits', {}, '', {}],
    [
      'permessage-deflate; client_max_window_bits',
      { clientMaxWindowBits: 11 },
      'client_max_window_bits=11',
      { clientMaxWindowBits: 11 },
    ],
    [
      'permessage-deflate; client_max_window_bits=9',
      {},
      'client_max_window_bits=9',
      { clientMaxWindowBits: 9 },
    ],
    [
      'permessage-deflate; client_max_window_bits=9',
      { clientMaxWindowBits: 12 },
      'client_max_window_bits=9',
      { clientMaxWindowBits: 9 },
    ],
    [
      'permessage-deflate; client_max_window_bits="10"',
      {},
      'client_max_window_bits=10',
      { clientMaxWindowBits: 10 },
    ],
    [
      'permessage-deflate',
      { serverNoContextTakeover: true },
      'server_no_context_takeover',
      { serverNoContextTakeover: true },
    ],
    [
      'permessage-deflate',
      { clientNoContextTakeover: true },
      'client_no_context_takeover',
      { clientNoContextTakeover: true },
    ],
  ])('%s with %j → %s', (header, opts, response, params) => {
    const r = neg(header, opts)!;
    expect(r).toBeDefined();
    expect(r.params).toEqual({ ...DEFAULT, ...params });
    const text = r.response.params.map(([n, v]) => (v === true ? n : `${n}=${v}`)).join('; ');
    expect(text).toBe(response);
  });

  it.each([
    'permessage-deflate; foo',
    'permessage-deflate; server_no_context_takeover; server_no_context_takeover',
    'permessage-deflate; server_no_context_takeover=1',
    'permessage-deflate; server_max_window_bits',
    'permessage-deflate; server_max_window_bits=7',
    'permessage-deflate; server_max_window_bits=16',
    'permessage-deflate; server_max_window_bits=010',
    'permessage-deflate; client_max_window_bits=abc',
    'permessage-deflate; client_max_window_bits=9; client_max_window_bits=10',
    'x-webkit-deflate-frame',
  ])('declines %s (RFC 7692 §5)', (header) => {
    expect(neg(header)).toBeUndefined();
  });

  it('declines an offer that cannot limit the client window, then takes the next one', () => {
    const r = neg('permessage-deflate, permessage-deflate; client_max_window_bits', {
      clientMaxWindowBits: 10,
    })!;
    expect(r.params.clientMaxWindowBits).toBe(10);
    expect(neg('permessage-deflate', { clientMaxWindowBits: 10 })).toBeUndefined();
  });

  it('accepts the first acceptable offer among several', () => {
    const r = neg(
      'permessage-deflate; bogus, permessage-deflate; server_max_window_bits=11, permessage-deflate',
    )!;
    expect(r.params.serverMaxWindowBits).toBe(11);
  });

  it('client offer and response round trip', () => {
    const opts = {
      serverMaxWindowBits: 12,
      clientMaxWindowBits: 13,
      clientNoContextTakeover: true,
    };
    const offer = createDeflateOffer(opts);
    expect(offer.params).toEqual([
      ['client_no_context_takeover', true],
      ['server_max_window_bits', '12'],
      ['client_max_window_bits', '13'],
    ]);
    const server = negotiateDeflate([offer])!;
    expect(acceptDeflateResponse(server.response, opts)).toEqual(server.params);
    expect(createDeflateOffer().params).toEqual([['client_max_window_bits', true]]);
  });

  it.each([
    ['permessage-deflate; foo', {}],
    ['permessage-deflate; client_max_window_bits', {}],
    ['permessage-deflate; client_max_window_bits=12', { clientMaxWindowBits: 10 }],
    ['permessage-deflate; server_max_window_bits=12', { serverMaxWindowBits: 10 }],
    ['permessage-deflate', { serverMaxWindowBits: 10 }],
    ['permessage-deflate', { serverNoContextTakeover: true }],
    ['permessage-deflate; server_max_window_bits=9; server_max_window_bits=9', {}],
  ])('client fails on response %s for offer %j', (header, opts) => {
    const [ext] = offers(header);
    expect(() => acceptDeflateResponse(ext!, opts)).toThrow(DeflateError);
  });

  it('client accepts responses the server may send unasked', () => {
    const [ext] = offers(
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9; client_max_window_bits=8',
    );
    expect(acceptDeflateResponse(ext!, {})).toEqual({
      serverNoContextTakeover: true,
      clientNoContextTakeover: true,
      serverMaxWindowBits: 9,
      clientMaxWindowBits: 8,
    });
  });
});

async function pair(params: NegotiatedDeflate, lazyContexts = true) {
  const limiter = new ZlibLimiter({ concurrency: 3 });
  const client = new PerMessageDeflate('client', params, { limiter, lazyContexts });
  const server = new PerMessageDeflate('server', params, { limiter, lazyContexts });
  return { client, server };
}

/** Pseudo-random but compressible data (random words), deterministic from a seed. */
function sample(size: number, seed: number): Uint8Array {
  const words = ['alpha', 'beta', 'gamma', 'delta', '{"id":', '}', ' ', '\n', 'websocket'];
  const out = Buffer.alloc(size);
  let x = seed >>> 0 || 1;
  let i = 0;
  while (i < size) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    if (x % 7 === 0) {
      out[i++] = x & 0xff;
    } else {
      const w = words[x % words.length]!;
      i += out.write(w, i);
    }
  }
  return out;
}

describe('round trips', () => {
  const sizes = [0, 1, 5, 100, 1023, 4096, 65_535, 65_536, 300_000, 1024 * 1024];
  const configs: Array<[string, NegotiatedDeflate, boolean]> = [
    ['context takeover, lazy', DEFAULT, true],
    ['context takeover, eager', DEFAULT, false],
    [
      'no context takeover, lazy',
      { ...DEFAULT, serverNoContextTakeover: true, clientNoContextTakeover: true },
      true,
    ],
    [
      'no context takeover, eager',
      { ...DEFAULT, serverNoContextTakeover: true, clientNoContextTakeover: true },
      false,
    ],
    ['small windows (8/9)', { ...DEFAULT, serverMaxWindowBits: 8, clientMaxWindowBits: 9 }, true],
  ];
  it.each(configs)(
    '%s: random and compressible data 0 B – 1 MiB both ways',
    async (_name, params, lazy) => {
      const { client, server } = await pair(params, lazy);
      for (const [k, size] of sizes.entries()) {
        for (const data of [randomBytes(size), sample(size, k + 1)]) {
          const c = await client.compress(data);
          expect(
            Buffer.compare(Buffer.from(await server.decompress([c], 2 * 1024 * 1024)), data),
          ).toBe(0);
          const s = await server.compress(data);
          // Split the payload into frames at arbitrary points.
          const frames = [s.subarray(0, s.length >> 1), s.subarray(s.length >> 1)];
          expect(
            Buffer.compare(Buffer.from(await client.decompress(frames, 2 * 1024 * 1024)), data),
          ).toBe(0);
        }
      }
      expect(client.stats().messagesCompressed).toBe(sizes.length * 2);
      await client.close();
      await server.close();
      expect(client.stats().contexts).toBe(0);
    },
  );

  it('a message compressed with window 8 inflates with an 8-bit window (zlib.inflateRawSync)', async () => {
    const pmd = new PerMessageDeflate(
      'server',
      { ...DEFAULT, serverMaxWindowBits: 8 },
      { limiter: new ZlibLimiter() },
    );
    const data = sample(100_000, 7);
    const c = await pmd.compress(data);
    const out = zlib.inflateRawSync(Buffer.concat([c, Buffer.from([0, 0, 0xff, 0xff])]), {
      windowBits: 8,
      finishFlush: zlib.constants.Z_SYNC_FLUSH,
    });
    expect(Buffer.compare(out, data)).toBe(0);
    await pmd.close();
  });

  it('queued operations keep their order', async () => {
    const { client, server } = await pair(DEFAULT);
    const msgs = Array.from({ length: 20 }, (_, i) => sample(2000 + i * 100, i + 1));
    const compressed = await Promise.all(msgs.map((m) => client.compress(m)));
    const back = await Promise.all(compressed.map((c) => server.decompress([c], 1e6)));
    back.forEach((b, i) => expect(Buffer.compare(Buffer.from(b), msgs[i]!)).toBe(0));
    await client.close();
    await server.close();
  });
});

describe('limits and resources', () => {
  it('stops a deflate bomb early with 1009 (1 MB of zeros, maxSize 64 KiB)', async () => {
    const bomb = zlib.deflateRawSync(Buffer.alloc(1_000_000), {
      finishFlush: zlib.constants.Z_SYNC_FLUSH,
    });
    const payload = bomb.subarray(0, bomb.length - 4);
    expect(payload.length).toBeLessThan(2000);
    const pmd = new PerMessageDeflate('server', DEFAULT, { limiter: new ZlibLimiter() });
    const err = await pmd.decompress([payload], 64 * 1024).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeflateError);
    expect((err as DeflateError).wireCode).toBe(1009);
    expect((err as DeflateError).code).toBe('GN_ERR_WS_MESSAGE_TOO_BIG');
    // Stopped within one output chunk (16 KiB) of the limit, not after inflating 1 MB.
    expect(pmd.stats().bytesInflated).toBeLessThanOrEqual(64 * 1024 + 16 * 1024);
    // The context is gone mid-message: later messages fail too (context takeover).
    await expect(pmd.decompress([unhex('f248cdc9c90700')], 1000)).rejects.toBeInstanceOf(
      DeflateError,
    );
    pmd.destroy();
  });

  it('a message exactly at maxSize passes; one byte over fails', async () => {
    const data = sample(5000, 3);
    const c = zlib.deflateRawSync(data, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
    const payload = c.subarray(0, c.length - 4);
    const ok = new PerMessageDeflate('server', DEFAULT, { limiter: new ZlibLimiter() });
    expect((await ok.decompress([payload], 5000)).length).toBe(5000);
    const tight = new PerMessageDeflate('server', DEFAULT, { limiter: new ZlibLimiter() });
    await expect(tight.decompress([payload], 4999)).rejects.toMatchObject({ wireCode: 1009 });
    ok.destroy();
    tight.destroy();
  });

  it('invalid compressed data fails with 1007', async () => {
    const pmd = new PerMessageDeflate('server', DEFAULT, { limiter: new ZlibLimiter() });
    await expect(pmd.decompress([unhex('ffffffffffff')], 1000)).rejects.toMatchObject({
      wireCode: 1007,
      code: 'GN_ERR_WS_INFLATE_FAILED',
    });
    pmd.destroy();
  });

  it('threshold decides shouldCompress', () => {
    const pmd = new PerMessageDeflate('server', DEFAULT, { threshold: 100 });
    expect(pmd.shouldCompress(99)).toBe(false);
    expect(pmd.shouldCompress(100)).toBe(true);
    expect(new PerMessageDeflate('server', DEFAULT).shouldCompress(1023)).toBe(false);
    expect(new PerMessageDeflate('server', DEFAULT).shouldCompress(1024)).toBe(true);
  });

  it('lazy contexts are created on use, released without takeover and by sweepIdle', async () => {
    const lazy = new PerMessageDeflate('client', DEFAULT, { limiter: new ZlibLimiter() });
    expect(lazy.stats().contexts).toBe(0);
    await lazy.compress(sample(3000, 1));
    expect(lazy.stats().contexts).toBe(1);
    expect(lazy.sweepIdle()).toBe(0); // used since the last sweep
    expect(lazy.sweepIdle()).toBe(1); // idle for a whole sweep period
    expect(lazy.stats().contexts).toBe(0);
    // Still works after the release (starts from an empty window).
    expect((await lazy.compress(sample(3000, 1))).length).toBeGreaterThan(0);
    await lazy.close();

    const noCtx = new PerMessageDeflate(
      'server',
      { ...DEFAULT, serverNoContextTakeover: true, clientNoContextTakeover: true },
      { limiter: new ZlibLimiter() },
    );
    await noCtx.compress(sample(3000, 2));
    await noCtx.decompress(
      [await new PerMessageDeflate('client', DEFAULT).compress(sample(3000, 2))],
      1e5,
    );
    expect(noCtx.stats().contexts).toBe(0);
    const eager = new PerMessageDeflate('server', DEFAULT, { lazyContexts: false });
    expect(eager.stats().contexts).toBe(2);
    eager.destroy();
    expect(eager.stats().contexts).toBe(0);
  });

  it('destroy rejects pending operations and later calls; close is idempotent', async () => {
    const limiter = new ZlibLimiter({ concurrency: 1 });
    const pmd = new PerMessageDeflate('client', DEFAULT, { limiter });
    const a = pmd.compress(sample(200_000, 1));
    const b = pmd.compress(sample(200_000, 2));
    pmd.destroy();
    await expect(a).rejects.toMatchObject({ code: 'GN_ERR_WS_DEFLATE_CLOSED' });
    await expect(b).rejects.toMatchObject({ code: 'GN_ERR_WS_DEFLATE_CLOSED' });
    await expect(pmd.compress(new Uint8Array(1))).rejects.toMatchObject({
      code: 'GN_ERR_WS_DEFLATE_CLOSED',
    });
    pmd.destroy();
    await pmd.close();
    expect(limiter.active).toBe(0);
  });

  it('rejects invalid options naming the fix', () => {
    expect(() => new PerMessageDeflate('server', DEFAULT, { level: 12 })).toThrow(/level/);
    expect(() => negotiateDeflate([], { serverMaxWindowBits: 7 })).toThrow(/8 to 15/);
    expect(
      () => new PerMessageDeflate('server', { ...DEFAULT, clientMaxWindowBits: 16 }),
    ).toThrow();
  });
});

describe('ZlibLimiter', () => {
  it('never runs more than N operations at once, and runs them all', async () => {
    const limiter = new ZlibLimiter({ concurrency: 3 });
    let running = 0;
    let peak = 0;
    const jobs = Array.from({ length: 25 }, (_, i) =>
      limiter.run(async () => {
        running++;
        peak = Math.max(peak, running);
        expect(limiter.active).toBeLessThanOrEqual(3);
        for (let k = 0; k < (i % 4) + 1; k++) await new Promise((r) => setImmediate(r));
        running--;
        return i;
      }),
    );
    expect(limiter.pending).toBe(22);
    expect(await Promise.all(jobs)).toEqual(Array.from({ length: 25 }, (_, i) => i));
    expect(peak).toBe(3);
    expect(limiter.active).toBe(0);
  });

  it('bounds real zlib work across many PerMessageDeflate instances', async () => {
    const limiter = new ZlibLimiter({ concurrency: 2 });
    let peak = 0;
    const run = limiter.run.bind(limiter);
    limiter.run = (job) =>
      run(async () => {
        peak = Math.max(peak, limiter.active);
        return job();
      });
    const instances = Array.from(
      { length: 12 },
      () => new PerMessageDeflate('client', DEFAULT, { limiter }),
    );
    await Promise.all(instances.map((p, i) => p.compress(sample(50_000, i + 1))));
    expect(peak).toBe(2);
    await Promise.all(instances.map((p) => p.close()));
  });

  it('releases the slot when a job throws or rejects', async () => {
    const limiter = new ZlibLimiter({ concurrency: 1 });
    await expect(limiter.run(() => Promise.reject(new Error('x')))).rejects.toThrow('x');
    await expect(
      limiter.run(() => {
        throw new Error('y');
      }),
    ).rejects.toThrow('y');
    expect(await limiter.run(async () => 5)).toBe(5);
    expect(limiter.active).toBe(0);
  });

  it('refuses to queue beyond maxPending with 1013', async () => {
    const limiter = new ZlibLimiter({ concurrency: 1, maxPending: 1 });
    let release!: () => void;
    const first = limiter.run(() => new Promise<void>((r) => (release = r)));
    const second = limiter.run(async () => undefined);
    const third = limiter.run(async () => undefined);
    await expect(third).rejects.toBeInstanceOf(ZlibQueueFullError);
    await expect(third).rejects.toMatchObject({ wireCode: 1013 });
    release();
    await first;
    await second;
  });

  it('validates its options', () => {
    expect(() => new ZlibLimiter({ concurrency: 0 })).toThrow(/positive integer/);
  });
});
