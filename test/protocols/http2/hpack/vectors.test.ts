/**
 * hpack-test-case interop vectors: every nghttp2 story decoded by one decoder per story,
 * every raw-data story encoded and decoded by one encoder/decoder pair per story.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { HpackDecoder, HpackEncoder } from '../../../../src/protocols/http2/hpack/index.js';
import { HPACK_VECTOR_DIR, fields, fromHex, loadStories } from './vectors.js';

const nghttp2 = loadStories('nghttp2');
const raw = loadStories('raw-data');
const nghttp2Cases = nghttp2.reduce((n, s) => n + s.cases.length, 0);
const rawCases = raw.reduce((n, s) => n + s.cases.length, 0);

describe('hpack-test-case vectors', () => {
  it('finds the vector directory', () => {
    // ../shared/vectors/hpack next to the checkout, whatever the checkout's location.
    expect(fileURLToPath(HPACK_VECTOR_DIR)).toMatch(/\/shared\/vectors\/hpack\/$/);
    expect(nghttp2.length).toBe(32);
    expect(raw.length).toBe(32);
  });

  it(`decodes all ${nghttp2Cases} nghttp2 cases (${nghttp2.length} stories)`, () => {
    let checked = 0;
    for (const story of nghttp2) {
      const decoder = new HpackDecoder();
      for (const c of story.cases) {
        if (c.header_table_size !== undefined) decoder.setMaxTableSize(c.header_table_size);
        const got = decoder.decode(fromHex(c.wire!));
        const want = fields(c);
        expect(got.names, `${story.file} #${c.seqno}`).toEqual(want.names);
        expect(got.values, `${story.file} #${c.seqno}`).toEqual(want.values);
        expect(got.oversized).toBe(false);
        expect(decoder.tableSize).toBeLessThanOrEqual(4096);
        checked++;
      }
    }
    expect(checked).toBe(nghttp2Cases);
    expect(checked).toBeGreaterThan(1000);
  });

  for (const huffman of ['auto', 'always', 'never'] as const) {
    it(`round-trips all ${rawCases} raw-data cases (${raw.length} stories, huffman ${huffman})`, () => {
      let checked = 0;
      let octets = 0;
      let plain = 0;
      for (const story of raw) {
        const encoder = new HpackEncoder({ huffman });
        const decoder = new HpackDecoder();
        for (const c of story.cases) {
          const want = fields(c);
          const block = encoder.encode(want.names, want.values);
          const got = decoder.decode(block);
          expect(got.names, `${story.file} #${c.seqno}`).toEqual(want.names);
          expect(got.values, `${story.file} #${c.seqno}`).toEqual(want.values);
          expect(decoder.tableSize).toBe(encoder.tableSize);
          octets += block.length;
          for (let i = 0; i < want.names.length; i++) {
            plain += want.names[i]!.length + want.values[i]!.length + 4; // "name: value\r\n"
          }
          checked++;
        }
      }
      expect(checked).toBe(rawCases);
      // Compression must actually happen: well under half the HTTP/1.1 text size.
      expect(octets / plain).toBeLessThan(huffman === 'never' ? 0.5 : 0.4);
    });
  }
});
