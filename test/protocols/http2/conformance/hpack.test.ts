/**
 * h2spec-style conformance for the server's HPACK decoder (RFC 7541), over loopback with the
 * raw-frame client (test/helpers/h2-raw.ts). A decoding error is a connection error of type
 * COMPRESSION_ERROR (RFC 9113 §4.3).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Http2Server } from '../../../../src/protocols/http2/server.js';
import { listenHttp2 } from '../../../../src/protocols/http2/server.js';
import {
  E,
  clientPool,
  conformanceHandler,
  hpackHuffmanString,
  hpackIndexed,
  hpackInt,
  hpackLiteral,
  hpackLiteralIndexedName,
  hpackSizeUpdate,
  hpackString,
} from '../../../helpers/h2-raw.js';

let server: Http2Server;
const clients = clientPool(() => server.address.port);

beforeAll(async () => {
  server = await listenHttp2({ host: '127.0.0.1', port: 0 }, conformanceHandler);
});
afterEach(() => clients.closeAll());
afterAll(async () => {
  await server.destroy();
});

/**
 * GET `path` with static-table references (RFC 7541 Appendix A): 2 = `:method: GET`,
 * 6 = `:scheme: http`, and 1 = `:authority` as an indexed name.
 */
function getBlock(path: string, ...rest: Buffer[]): Buffer {
  return Buffer.concat([
    hpackIndexed(2),
    hpackIndexed(6),
    path === '/' ? hpackIndexed(4) : hpackLiteralIndexedName(4, path),
    hpackLiteralIndexedName(1, 'example.test'),
    ...rest,
  ]);
}

/** Sends `block` as a complete request on stream 1; expects COMPRESSION_ERROR. */
async function compressionError(block: Buffer): Promise<void> {
  const c = await clients.connect();
  c.headers(1, block, { endStream: true });
  await c.expectConnectionError(E.COMPRESSION_ERROR);
}

/** Sends `block` as a complete request on stream 1; returns the response body. */
async function accepted(block: Buffer): Promise<string> {
  const c = await clients.connect();
  c.headers(1, block, { endStream: true });
  const res = await c.expectResponse(1);
  expect(res.status).toBe(200);
  return res.body.toString();
}

describe('RFC 7541 HPACK (decoder of the server)', () => {
  it('§2.3 static-table references and indexed names are decoded', async () => {
    expect(await accepted(getBlock('/'))).toBe('hello');
  });

  it('§2.3.2 a field added with incremental indexing can be referenced as index 62', async () => {
    const c = await clients.connect();
    const add = Buffer.concat([Buffer.from([0x40]), hpackString('x-dyn'), hpackString('v1')]);
    c.headers(1, getBlock('/header?name=x-dyn', add), { endStream: true });
    expect((await c.expectResponse(1)).body.toString()).toBe('v1');
    c.headers(3, getBlock('/header?name=x-dyn', hpackIndexed(62)), { endStream: true });
    expect((await c.expectResponse(3)).body.toString()).toBe('v1');
  });

  it('§2.3.3 an index beyond the static and dynamic tables → COMPRESSION_ERROR', async () => {
    await compressionError(getBlock('/', hpackIndexed(70)));
  });

  it('§2.3.3 a literal whose name index is beyond both tables → COMPRESSION_ERROR', async () => {
    await compressionError(getBlock('/', hpackLiteralIndexedName(70, 'x')));
  });

  it('§4.2 a dynamic table size update at the start of a block is accepted', async () => {
    const block = Buffer.concat([hpackSizeUpdate(0), hpackSizeUpdate(4096), getBlock('/')]);
    expect(await accepted(block)).toBe('hello');
  });

  it('§4.2 a dynamic table size update after a field → COMPRESSION_ERROR', async () => {
    const block = Buffer.concat([hpackIndexed(2), hpackSizeUpdate(0), getBlock('/').subarray(1)]);
    await compressionError(block);
  });

  it('§4.2 a dynamic table size update at the end of a block → COMPRESSION_ERROR', async () => {
    await compressionError(getBlock('/', hpackSizeUpdate(0)));
  });

  it('§6.3 a dynamic table size update above SETTINGS_HEADER_TABLE_SIZE → COMPRESSION_ERROR', async () => {
    await compressionError(Buffer.concat([hpackSizeUpdate(4097), getBlock('/')]));
  });

  it('§5.1 an integer that overflows → COMPRESSION_ERROR', async () => {
    // Indexed field, 7-bit prefix all ones, then eleven continuation octets.
    const huge = Buffer.from([0xff, ...new Array<number>(10).fill(0xff), 0x7f]);
    await compressionError(getBlock('/', huge));
  });

  it('§5.2 a Huffman-coded string literal is decoded', async () => {
    // "abd": a = 00011, b = 100011, d = 100100, then 7 bits of EOS-prefix padding.
    const value = hpackHuffmanString(Buffer.from([0x1c, 0x72, 0x7f]));
    const field = Buffer.concat([Buffer.from([0x00]), hpackString('x-h'), value]);
    expect(await accepted(getBlock('/header?name=x-h', field))).toBe('abd');
  });

  it('§5.2 a Huffman string containing the EOS symbol → COMPRESSION_ERROR', async () => {
    // EOS (30 ones), then "a" (00011), then 5 bits of padding: ff ff ff fc 7f.
    const value = hpackHuffmanString(Buffer.from([0xff, 0xff, 0xff, 0xfc, 0x7f]));
    const field = Buffer.concat([Buffer.from([0x00]), hpackString('x-h'), value]);
    await compressionError(getBlock('/', field));
  });

  it('§5.2 Huffman padding longer than 7 bits → COMPRESSION_ERROR', async () => {
    // "a" (00011) + 3 padding bits, then a whole octet of ones: 11 bits of padding.
    const value = hpackHuffmanString(Buffer.from([0x1f, 0xff]));
    const field = Buffer.concat([Buffer.from([0x00]), hpackString('x-h'), value]);
    await compressionError(getBlock('/', field));
  });

  it('§5.2 Huffman padding that is not the EOS prefix (zeros) → COMPRESSION_ERROR', async () => {
    // "a" (00011) padded with 000 instead of 111.
    const value = hpackHuffmanString(Buffer.from([0x18]));
    const field = Buffer.concat([Buffer.from([0x00]), hpackString('x-h'), value]);
    await compressionError(getBlock('/', field));
  });

  it('§6.1 an indexed field with index 0 → COMPRESSION_ERROR', async () => {
    await compressionError(getBlock('/', hpackIndexed(0)));
  });

  it('§6.2.3 a never-indexed literal is decoded', async () => {
    const field = Buffer.concat([Buffer.from([0x10]), hpackString('x-secret'), hpackString('s')]);
    expect(await accepted(getBlock('/header?name=x-secret', field))).toBe('s');
  });

  it('§5.2 a string literal longer than the block → COMPRESSION_ERROR', async () => {
    const field = Buffer.concat([Buffer.from([0x00]), hpackInt(100, 7), Buffer.from('short')]);
    await compressionError(getBlock('/', field));
  });

  it('§6.2.2 a literal field without indexing (new name) is decoded', async () => {
    expect(await accepted(getBlock('/header?name=x-lit', hpackLiteral('x-lit', 'v')))).toBe('v');
  });
});
