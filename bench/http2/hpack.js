// HPACK micro-benchmark: ghostnet's HpackEncoder/HpackDecoder against hpack.js, no I/O.
//
// Header sets come from hpack-test-case (../shared/vectors/hpack): requests are raw-data
// story_20 (164 browser requests), responses story_21 (366 responses). One op is one header
// block; each benchmark cycles through the story's blocks with a continuing compression
// context and starts a fresh context (new encoder/decoder, 4,096-octet table) at the start
// of every pass over the story — the same for both implementations.
//  - encode: names/values arrays (ours) or [{name, value}] lists (hpack.js), prepared once;
//  - decode: both decode the same bytes, nghttp2's encoding of the same stories.
// Medians of BENCH_ROUNDS rounds (default 3, order alternating), each benchmark running
// BENCH_HPACK_TIME seconds (default 1) under benchmark.js. Ratios are ours / hpack.js.
// Build first (npx tsc -p tsconfig.build.json); run alone with `node bench/http2/hpack.js`.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import Benchmark from 'benchmark';
import hpack from 'hpack.js';
import { HpackDecoder, HpackEncoder } from '../../dist/protocols/http2/hpack/index.js';
import { median } from '../lib.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const MAX_TIME = Number(process.env.BENCH_HPACK_TIME ?? 1);
const VECTORS = new URL('../../../shared/vectors/hpack/', import.meta.url);

function loadStory(dir, file) {
  const { cases } = JSON.parse(readFileSync(new URL(`${dir}/${file}`, VECTORS), 'utf8'));
  return cases.map((c) => {
    const names = [];
    const values = [];
    for (const h of c.headers) {
      for (const [name, value] of Object.entries(h)) {
        names.push(name);
        values.push(value);
      }
    }
    return {
      names,
      values,
      list: names.map((name, i) => ({ name, value: values[i] })),
      wire: c.wire === undefined ? undefined : Buffer.from(c.wire, 'hex'),
    };
  });
}

const SETS = [
  { label: 'request', file: 'story_20.json' },
  { label: 'response', file: 'story_21.json' },
].map((s) => {
  const raw = loadStory('raw-data', s.file);
  const wire = loadStory('nghttp2', s.file);
  for (let i = 0; i < raw.length; i++) raw[i].wire = wire[i].wire;
  return { label: s.label, blocks: raw };
});

// One op per call: the next block of the story, a fresh context at each pass.
const IMPLS = {
  ghostnet: {
    encoder(blocks) {
      let encoder;
      let i = blocks.length;
      return () => {
        if (i === blocks.length) {
          encoder = new HpackEncoder({ maxTableSize: 4096 });
          i = 0;
        }
        const b = blocks[i++];
        return encoder.encode(b.names, b.values).length;
      };
    },
    decoder(blocks) {
      let decoder;
      let i = blocks.length;
      return () => {
        if (i === blocks.length) {
          decoder = new HpackDecoder({ maxTableSize: 4096 });
          i = 0;
        }
        return decoder.decode(blocks[i++].wire).names.length;
      };
    },
  },
  'hpack.js': {
    encoder(blocks) {
      let compressor;
      let i = blocks.length;
      return () => {
        if (i === blocks.length) {
          compressor = hpack.compressor.create({ table: { size: 4096 } });
          i = 0;
        }
        compressor.write(blocks[i++].list);
        return compressor.read().length;
      };
    },
    decoder(blocks) {
      let decompressor;
      let i = blocks.length;
      return () => {
        if (i === blocks.length) {
          decompressor = hpack.decompressor.create({ table: { size: 4096 } });
          i = 0;
        }
        decompressor.write(blocks[i++].wire);
        decompressor.execute();
        let n = 0;
        while (decompressor.read() !== null) n++;
        return n;
      };
    },
  },
};

/** Checks every implementation against the expected header lists before timing. */
function verify() {
  for (const set of SETS) {
    for (const name of Object.keys(IMPLS)) {
      const decode = IMPLS[name].decoder(set.blocks);
      const encode = IMPLS[name].encoder(set.blocks);
      const check = new HpackDecoder();
      const checkEncoder = new HpackEncoder();
      for (const b of set.blocks) {
        const n = decode();
        if (n !== b.names.length)
          throw new Error(`${name} decoded ${n} fields, want ${b.names.length}`);
        if (encode() <= 0) throw new Error(`${name} encoded nothing`);
        const got = check.decode(checkEncoder.encode(b.names, b.values));
        if (
          got.names.join('\n') !== b.names.join('\n') ||
          got.values.join('\n') !== b.values.join('\n')
        ) {
          throw new Error(`ghostnet round trip mismatch (${set.label})`);
        }
      }
    }
  }
}

function hz(fn) {
  let result = 0;
  new Benchmark('x', fn, { maxTime: MAX_TIME, onComplete: (e) => (result = e.target.hz) }).run();
  return result;
}

export async function run() {
  verify();
  const runs = {};
  const names = Object.keys(IMPLS);
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? names : [...names].reverse();
    for (const set of SETS) {
      for (const op of ['encode', 'decode']) {
        const key = `hpack ${set.label} ${op} blocks/s`;
        runs[key] ??= { ghostnet: [], 'hpack.js': [] };
        for (const impl of order) {
          const fn = IMPLS[impl][op === 'encode' ? 'encoder' : 'decoder'](set.blocks);
          const r = hz(fn);
          runs[key][impl].push(r);
          if (process.env.BENCH_VERBOSE) {
            console.log(`  round ${round + 1} ${key} ${impl.padEnd(8)} ${Math.round(r)} ops/s`);
          }
        }
      }
    }
  }
  return Object.entries(runs).map(([name, r]) => {
    const ours = median(r.ghostnet);
    const theirs = median(r['hpack.js']);
    return {
      name,
      ours,
      theirs,
      peer: 'hpack.js',
      ratio: ours / theirs,
      higherIsBetter: true,
      unit: 'ops/s',
      oursRuns: r.ghostnet,
      theirsRuns: r['hpack.js'],
    };
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const r of await run()) {
    console.log(
      `${r.name.padEnd(34)} ghostnet ${Math.round(r.ours).toString().padStart(9)}  hpack.js ` +
        `${Math.round(r.theirs).toString().padStart(9)}  ratio ${r.ratio.toFixed(2)}`,
    );
  }
}
