/**
 * Loader for the hpack-test-case stories (../shared/vectors/hpack, see its README.md):
 * story_NN.json files whose cases share one compression context.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { mulberry32 } from '../../../helpers/prng.js';

export const HPACK_VECTOR_DIR = new URL('../../../../../shared/vectors/hpack/', import.meta.url);

export interface HpackCase {
  readonly seqno: number;
  readonly header_table_size?: number;
  readonly wire?: string;
  readonly headers: readonly Record<string, string>[];
}

export interface HpackStory {
  readonly file: string;
  readonly cases: readonly HpackCase[];
}

/** Every story of one implementation directory (`nghttp2`, `raw-data`), in name order. */
export function loadStories(dir: string): HpackStory[] {
  const url = new URL(`${dir}/`, HPACK_VECTOR_DIR);
  return readdirSync(fileURLToPath(url))
    .filter((f) => /^story_\d+\.json$/.test(f))
    .sort()
    .map((file) => {
      const json = JSON.parse(readFileSync(new URL(file, url), 'utf8')) as { cases: HpackCase[] };
      return { file: `${dir}/${file}`, cases: json.cases };
    });
}

/** A case's headers as parallel name and value arrays. */
export function fields(c: HpackCase): { names: string[]; values: string[] } {
  const names: string[] = [];
  const values: string[] = [];
  for (const h of c.headers) {
    for (const [name, value] of Object.entries(h)) {
      names.push(name);
      values.push(value);
    }
  }
  return { names, values };
}

export function fromHex(hex: string): Uint8Array {
  return new Uint8Array(Buffer.from(hex.replace(/\s+/g, ''), 'hex'));
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

export const prng = mulberry32;
