import { describe, expect, it } from 'vitest';
import { HttpError } from '../../../src/protocols/http/errors.js';
import {
  decodeExtValue,
  MultipartParser,
  MultipartStateError,
  parseBoundary,
  parseHeaderParams,
  parseMultipart,
  readMultipart,
} from '../../../src/protocols/http/multipart.js';
import type { MultipartEvent, MultipartLimits } from '../../../src/protocols/http/multipart.js';
import { BodyStream } from '../../../src/protocols/http/body.js';
import { HeaderList } from '../../../src/protocols/http/headers.js';
import { ServerRequest } from '../../../src/protocols/http/request.js';
import { createExchange } from '../../helpers/http-exchange.js';
import { mulberry32 } from '../../helpers/prng.js';

const BOUNDARY = 'XyZ';
const CT = `multipart/form-data; boundary=${BOUNDARY}`;
const enc = new TextEncoder();
const BINARY = Uint8Array.from({ length: 256 }, (_, i) => i);

function bytes(...parts: Array<string | Uint8Array>): Uint8Array {
  return Buffer.concat(parts.map((p) => (typeof p === 'string' ? enc.encode(p) : p)));
}

/** A body exercising preamble, padding, near-miss delimiters, binary data and an epilogue. */
const SAMPLE = bytes(
  'This is the preamble.\r\n',
  '--XyZ\r\n',
  'Content-Disposition: form-data; name="title"\r\n',
  '\r\n',
  'Hello\r\nWorld',
  '\r\n--XyZ  \t\r\n',
  'content-disposition: form-data; name="note"\r\n',
  '\r\n',
  'a\r\n--XyY b --XyZ c\r\n-\r\n--',
  '\r\n--XyZ\r\n',
  'Content-Disposition: form-data; name="upload"; filename="dir/report.bin"\r\n',
  'Content-Type: application/octet-stream\r\n',
  '\r\n',
  BINARY,
  '\r\n--XyZ\r\n',
  `Content-Disposition: form-data; name="euro"; filename="EUR rates.txt"; filename*=UTF-8''%E2%82%AC%20rates.txt\r\n`,
  'Content-Type: text/plain; charset=utf-8\r\n',
  '\r\n',
  '',
  '\r\n--XyZ\r\n',
  'Content-Disposition: form-data; name="title"\r\n',
  '\r\n',
  'second',
  '\r\n--XyZ--  \r\n',
  'This is the epilogue. --XyZ\r\n',
);

interface Normalized {
  name: string;
  filename: string | undefined;
  contentType: string;
  data: string;
}

/** Runs the sans-I/O parser over `chunks` and folds data events per part. */
function runParser(chunks: Uint8Array[], limits: MultipartLimits = {}) {
  const parser = new MultipartParser(BOUNDARY, limits);
  const events: MultipartEvent[] = [];
  for (const chunk of chunks) events.push(...parser.receive(chunk));
  parser.finish();
  const parts: Normalized[] = [];
  let ended = 0;
  let current: { meta: Normalized; data: Uint8Array[] } | undefined;
  for (const event of events) {
    if (event.type === 'part') {
      expect(current).toBeUndefined();
      current = {
        meta: {
          name: event.name,
          filename: event.filename,
          contentType: event.contentType,
          data: '',
        },
        data: [],
      };
    } else if (event.type === 'data') {
      expect(event.data.length).toBeGreaterThan(0);
      current!.data.push(event.data);
    } else if (event.type === 'part-end') {
      parts.push({ ...current!.meta, data: Buffer.concat(current!.data).toString('hex') });
      current = undefined;
    } else {
      ended++;
    }
  }
  expect(ended).toBe(1);
  expect(current).toBeUndefined();
  return parts;
}

const EXPECTED: Normalized[] = [
  { name: 'title', filename: undefined, contentType: 'text/plain', data: hex('Hello\r\nWorld') },
  {
    name: 'note',
    filename: undefined,
    contentType: 'text/plain',
    data: hex('a\r\n--XyY b --XyZ c\r\n-\r\n--'),
  },
  {
    name: 'upload',
    filename: 'report.bin',
    contentType: 'application/octet-stream',
    data: Buffer.from(BINARY).toString('hex'),
  },
  {
    name: 'euro',
    filename: '€ rates.txt',
    contentType: 'text/plain; charset=utf-8',
    data: '',
  },
  { name: 'title', filename: undefined, contentType: 'text/plain', data: hex('second') },
];

function hex(text: string): string {
  return Buffer.from(text).toString('hex');
}

function exchange(body: Uint8Array | Uint8Array[], contentType = CT) {
  return createExchange({
    method: 'POST',
    target: '/upload',
    headers: { 'content-type': contentType },
    body: Array.isArray(body) ? body : [body],
  });
}

async function statusOf(promise: Promise<unknown>): Promise<number | undefined> {
  try {
    await promise;
    return undefined;
  } catch (err) {
    expect(err).toBeInstanceOf(HttpError);
    return (err as HttpError).status;
  }
}

describe('multipart: header parameters and boundary', () => {
  it('parses quoted strings with quoted-pairs and separators inside quotes', () => {
    const parsed = parseHeaderParams('form-data; name="a;b"; filename="q\\"x\\\\y"; x=tok');
    expect(parsed?.value).toBe('form-data');
    expect(parsed?.params.get('name')).toBe('a;b');
    expect(parsed?.params.get('filename')).toBe('q"x\\y');
    expect(parsed?.params.get('x')).toBe('tok');
  });

  it('matches parameter names case-insensitively and tolerates empty elements', () => {
    const parsed = parseHeaderParams('form-data ;  NAME="v" ; ;');
    expect(parsed?.params.get('name')).toBe('v');
  });

  it.each([
    'form-data; name="unterminated',
    'form-data; name="a"; name="b"',
    'form-data; name=has space',
    'form-data; =x',
    'form-data; name="a" junk',
  ])('rejects %s', (value) => {
    expect(parseHeaderParams(value)).toBeUndefined();
  });

  it('decodes RFC 8187 ext-values', () => {
    expect(decodeExtValue("UTF-8''%E2%82%AC%20rates")).toBe('€ rates');
    expect(decodeExtValue("iso-8859-1'en'%A3%20rates")).toBe('£ rates');
    expect(decodeExtValue("UTF-8''%FF")).toBeUndefined();
    expect(decodeExtValue("KOI8-R''abc")).toBeUndefined();
    expect(decodeExtValue('no-quotes')).toBeUndefined();
  });

  it('reads the boundary from Content-Type (RFC 2046 §5.1.1)', () => {
    expect(parseBoundary('multipart/form-data; boundary=abc')).toBe('abc');
    expect(parseBoundary('Multipart/Form-Data; boundary="a b:c?"')).toBe('a b:c?');
    expect(parseBoundary(`multipart/form-data; boundary=${'x'.repeat(70)}`)).toHaveLength(70);
  });

  it.each([
    ['multipart/form-data', 400],
    ['multipart/form-data; boundary=""', 400],
    [`multipart/form-data; boundary=${'x'.repeat(71)}`, 400],
    ['multipart/form-data; boundary="ends with space "', 400],
    ['multipart/form-data; boundary="bad\\\\char"', 400],
    ['application/json', 415],
    ['multipart/mixed; boundary=abc', 415],
    [undefined, 415],
  ])('Content-Type %s → %i', (value, status) => {
    let caught: unknown;
    try {
      parseBoundary(value);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(HttpError);
    expect((caught as HttpError).status).toBe(status);
  });
});

describe('multipart: parsing', () => {
  it('parses the sample whole', () => {
    expect(runParser([SAMPLE])).toEqual(EXPECTED);
  });

  it('gives the same parts for every split of the sample into two chunks', () => {
    for (let i = 0; i <= SAMPLE.length; i++) {
      const parts = runParser([SAMPLE.subarray(0, i), SAMPLE.subarray(i)]);
      expect(parts, `split at ${i}`).toEqual(EXPECTED);
    }
  });

  it('gives the same parts fed one byte at a time', () => {
    const chunks = Array.from(SAMPLE, (_, i) => SAMPLE.subarray(i, i + 1));
    expect(runParser(chunks)).toEqual(EXPECTED);
  });

  it('every split through the request driver (readMultipart)', async () => {
    for (let i = 0; i <= SAMPLE.length; i += 7) {
      const { req } = exchange([SAMPLE.subarray(0, i), SAMPLE.subarray(i)]);
      const form = await readMultipart(req);
      expect(form.fields.get('title')).toEqual(['Hello\r\nWorld', 'second']);
      expect(form.fields.get('note')).toEqual(['a\r\n--XyY b --XyZ c\r\n-\r\n--']);
      expect(form.files.map((f) => [f.name, f.filename, f.contentType, f.data.length])).toEqual([
        ['upload', 'report.bin', 'application/octet-stream', 256],
        ['euro', '€ rates.txt', 'text/plain; charset=utf-8', 0],
      ]);
      expect(Buffer.compare(form.files[0]!.data, BINARY)).toBe(0);
    }
  });

  it('streams parts through parseMultipart, skipping unread bodies', async () => {
    const { req } = exchange(SAMPLE);
    const seen: string[] = [];
    for await (const part of parseMultipart(req)) {
      seen.push(part.name);
      if (part.name === 'note') expect(await part.text()).toContain('--XyY');
      if (part.name === 'upload') {
        let total = 0;
        for await (const chunk of part.body) total += chunk.length;
        expect(total).toBe(256);
      }
      // 'title' and 'euro' are left unread: the iterator skips them
    }
    expect(seen).toEqual(['title', 'note', 'upload', 'euro', 'title']);
  });

  it('yields parts and their bytes before the body has fully arrived', async () => {
    const body = new BodyStream();
    const req = new ServerRequest({
      method: 'POST',
      target: '/',
      headers: new HeaderList({ 'content-type': CT }).freeze(),
      protocol: 'http/1.1',
      scheme: 'http',
      authority: 'localhost',
      remoteAddress: undefined,
      localAddress: undefined,
      body,
      signal: new AbortController().signal,
    });
    const head = enc.encode(
      '--XyZ\r\nContent-Disposition: form-data; name="big"; filename="b"\r\n\r\n',
    );
    body.push(head);
    body.push(new Uint8Array(1000).fill(7));
    const iterator = parseMultipart(req);
    const part = (await iterator.next()).value!;
    expect(part.filename).toBe('b');
    const reader = part.body[Symbol.asyncIterator]();
    const first = await reader.next();
    // all but a delimiter's length of held-back bytes are already delivered
    expect(first.value!.length).toBeGreaterThan(1000 - 10);
    expect(body.complete).toBe(false);
    body.push(enc.encode('\r\n--XyZ--'));
    body.end();
    let rest = 0;
    for (let r = await reader.next(); !r.done; r = await reader.next()) rest += r.value.length;
    expect(first.value!.length + rest).toBe(1000);
    expect((await iterator.next()).done).toBe(true);
  });

  it('reading a part after moving on throws a coded state error', async () => {
    const { req } = exchange(SAMPLE);
    const iterator = parseMultipart(req);
    const first = (await iterator.next()).value!;
    await iterator.next();
    await expect(first.bytes()).rejects.toBeInstanceOf(MultipartStateError);
    await iterator.return(undefined);
  });

  it('accepts a body with only the close delimiter (an empty form)', async () => {
    const form = await readMultipart(exchange(bytes('--XyZ--\r\n')).req);
    expect(form.fields.size).toBe(0);
    expect(form.files).toHaveLength(0);
  });

  it('keeps only the last path segment of a filename', async () => {
    const body = bytes(
      '--XyZ\r\nContent-Disposition: form-data; name="f"; filename="C:\\\\Users\\\\me\\\\a.txt"\r\n\r\nx\r\n--XyZ--',
    );
    const form = await readMultipart(exchange(body).req);
    expect(form.files[0]!.filename).toBe('a.txt');
  });
});

describe('multipart: malformed bodies → 400', () => {
  const part = (headers: string, data = 'v') => `--XyZ\r\n${headers}\r\n\r\n${data}\r\n`;
  it.each([
    ['no closing delimiter', `${part('Content-Disposition: form-data; name="a"')}`],
    ['truncated in the body', '--XyZ\r\nContent-Disposition: form-data; name="a"\r\n\r\nabc'],
    ['truncated in headers', '--XyZ\r\nContent-Disposition: form-da'],
    ['no delimiter at all', 'just some text'],
    ['missing Content-Disposition', `${part('Content-Type: text/plain')}--XyZ--`],
    ['not form-data', `${part('Content-Disposition: attachment; name="a"')}--XyZ--`],
    ['no name', `${part('Content-Disposition: form-data; filename="a"')}--XyZ--`],
    ['header without colon', `${part('Content-Disposition: form-data; name="a"\r\nbogus')}--XyZ--`],
    ['space before colon', `${part('Content-Disposition : form-data; name="a"')}--XyZ--`],
    ['folded header', `${part('Content-Disposition: form-data;\r\n name="a"')}--XyZ--`],
    ['garbage after delimiter', `--XyZ junk\r\n`],
    ['single dash after delimiter', `--XyZ-x`],
    ['broken parameters', `${part('Content-Disposition: form-data; name="a')}--XyZ--`],
    [
      'invalid UTF-8 in a field',
      `${part('Content-Disposition: form-data; name="a"', '\xff')}--XyZ--`,
    ],
  ])('%s', async (_label, text) => {
    const body = text.includes('\xff')
      ? bytes(
          text.slice(0, text.indexOf('\xff')),
          Uint8Array.of(0xff),
          text.slice(text.indexOf('\xff') + 1),
        )
      : bytes(text);
    expect(await statusOf(readMultipart(exchange(body).req))).toBe(400);
  });

  it('415 for a request that is not multipart/form-data', async () => {
    expect(await statusOf(readMultipart(exchange(SAMPLE, 'text/plain').req))).toBe(415);
  });
});

describe('multipart: limits → 413', () => {
  const field = (name: string, value: string) =>
    `--XyZ\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
  const file = (value: string) =>
    `--XyZ\r\nContent-Disposition: form-data; name="f"; filename="f.bin"\r\n\r\n${value}\r\n`;

  it('maxParts', async () => {
    const body = bytes(field('a', '1'), field('b', '2'), field('c', '3'), '--XyZ--');
    expect(await statusOf(readMultipart(exchange(body).req, { maxParts: 3 }))).toBeUndefined();
    expect(await statusOf(readMultipart(exchange(body).req, { maxParts: 2 }))).toBe(413);
  });

  it('maxFieldBytes applies to fields, maxFileBytes to files', async () => {
    const body = bytes(field('a', 'x'.repeat(10)), file('y'.repeat(20)), '--XyZ--');
    const ok = { maxFieldBytes: 10, maxFileBytes: 20 };
    expect(await statusOf(readMultipart(exchange(body).req, ok))).toBeUndefined();
    const smallField = { maxFieldBytes: 9, maxFileBytes: 20 };
    expect(await statusOf(readMultipart(exchange(body).req, smallField))).toBe(413);
    const smallFile = { maxFieldBytes: 10, maxFileBytes: 19 };
    expect(await statusOf(readMultipart(exchange(body).req, smallFile))).toBe(413);
  });

  it('maxFieldBytes holds for every split (the delimiter tail is not counted)', () => {
    const body = bytes(field('a', 'x'.repeat(10)), '--XyZ--');
    for (let i = 0; i <= body.length; i++) {
      expect(() =>
        runParser([body.subarray(0, i), body.subarray(i)], { maxFieldBytes: 10 }),
      ).not.toThrow();
      expect(() =>
        runParser([body.subarray(0, i), body.subarray(i)], { maxFieldBytes: 9 }),
      ).toThrow(HttpError);
    }
  });

  it('maxHeaderBytes, with the same verdict for every split', () => {
    const headers = 'Content-Disposition: form-data; name="a"\r\nX-Pad: ' + 'p'.repeat(50);
    const body = bytes(`--XyZ\r\n${headers}\r\n\r\nv\r\n--XyZ--`);
    const size = headers.length;
    for (let i = 0; i <= body.length; i++) {
      const chunks = [body.subarray(0, i), body.subarray(i)];
      expect(() => runParser(chunks, { maxHeaderBytes: size })).not.toThrow();
      let status: number | undefined;
      try {
        runParser(chunks, { maxHeaderBytes: size - 1 });
      } catch (err) {
        status = (err as HttpError).status;
      }
      expect(status, `split at ${i}`).toBe(413);
    }
  });

  it('maxTotalBytes, counted as bytes arrive and from Content-Length', async () => {
    expect(await statusOf(readMultipart(exchange(SAMPLE).req, { maxTotalBytes: 100 }))).toBe(413);
    // without a Content-Length the count while parsing catches it
    const parser = new MultipartParser(BOUNDARY, { maxTotalBytes: 100 });
    expect(() => parser.receive(SAMPLE)).toThrow(HttpError);
    expect(() => parser.receive(SAMPLE)).toThrow(/exceeds 100 bytes/);
  });

  it('an endless header block fails at the limit instead of buffering', () => {
    const parser = new MultipartParser(BOUNDARY, { maxHeaderBytes: 1024 });
    parser.receive(bytes('--XyZ\r\nX: '));
    let status: number | undefined;
    for (let i = 0; i < 100 && status === undefined; i++) {
      try {
        parser.receive(bytes('a'.repeat(100)));
      } catch (err) {
        status = (err as HttpError).status;
      }
    }
    expect(status).toBe(413);
  });

  it('validates limit options', () => {
    expect(() => new MultipartParser(BOUNDARY, { maxParts: 0 })).toThrow(/maxParts/);
    expect(() => new MultipartParser(BOUNDARY, { maxFileBytes: Infinity })).toThrow(/maxFileBytes/);
  });
});

describe('multipart: fuzz (seeded, bounded)', () => {
  const rng = mulberry32;
  const FRAGMENTS = [
    '\r\n',
    '\r',
    '\n',
    '-',
    '--',
    '--XyZ',
    '\r\n--XyZ',
    '"',
    ';',
    ':',
    '\\',
    '=',
    ' ',
  ].map((s) => enc.encode(s));

  function mutate(input: Uint8Array, random: () => number): Uint8Array {
    let out = Buffer.from(input);
    const edits = 1 + Math.floor(random() * 4);
    for (let e = 0; e < edits; e++) {
      const at = Math.floor(random() * (out.length + 1));
      const kind = Math.floor(random() * 4);
      if (kind === 0 && out.length > 0) {
        out[Math.min(at, out.length - 1)] = Math.floor(random() * 256);
      } else if (kind === 1) {
        const frag = FRAGMENTS[Math.floor(random() * FRAGMENTS.length)]!;
        out = Buffer.concat([out.subarray(0, at), frag, out.subarray(at)]);
      } else if (kind === 2) {
        const len = Math.floor(random() * 20);
        out = Buffer.concat([out.subarray(0, at), out.subarray(at + len)]);
      } else {
        out = out.subarray(0, at);
      }
    }
    return out;
  }

  function split(input: Uint8Array, random: () => number): Uint8Array[] {
    const chunks: Uint8Array[] = [];
    let pos = 0;
    while (pos < input.length) {
      const len = 1 + Math.floor(random() * 64);
      chunks.push(input.subarray(pos, pos + len));
      pos += len;
    }
    return chunks;
  }

  it('mutated samples only ever fail with HttpError, and always finish', async () => {
    const random = rng(0xc0ffee);
    const outcomes = new Map<string, number>();
    for (let i = 0; i < 400; i++) {
      const body = mutate(SAMPLE, random);
      const { req } = exchange(split(body, random));
      let outcome = 'ok';
      try {
        await readMultipart(req, { maxParts: 8, maxHeaderBytes: 256, maxTotalBytes: 4096 });
      } catch (err) {
        if (!(err instanceof HttpError)) throw err;
        expect([400, 413]).toContain(err.status);
        outcome = String(err.status);
      }
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
    }
    // the mutations hit both the success path and the error paths
    expect(outcomes.get('ok') ?? 0).toBeGreaterThan(0);
    expect(outcomes.get('400') ?? 0).toBeGreaterThan(0);
  });

  it('random bytes never throw anything but HttpError from the parser', () => {
    const random = rng(42);
    for (let i = 0; i < 300; i++) {
      const parser = new MultipartParser(BOUNDARY, { maxTotalBytes: 1 << 20 });
      const length = Math.floor(random() * 300);
      const body = Uint8Array.from({ length }, () =>
        random() < 0.3 ? FRAGMENTS[0]![0]! : Math.floor(random() * 256),
      );
      try {
        for (const chunk of split(bytes('--XyZ\r\n', body), random)) parser.receive(chunk);
        parser.finish();
      } catch (err) {
        expect(err).toBeInstanceOf(HttpError);
      }
    }
  });
});
