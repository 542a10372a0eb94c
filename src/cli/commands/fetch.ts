/**
 * `ghostnet fetch URL`: a small curl over the HTTP/1.1 client, or the HTTP/2 client with
 * `--http2` (as curl: https negotiates h2 by ALPN, http asks for h2c with an HTTP/1.1
 * Upgrade; either falls back to HTTP/1.1 when the server declines) or
 * `--http2-prior-knowledge` (h2, or h2c from the first byte, without fallback). The body goes to stdout as
 * raw bytes, streamed with backpressure; `-i` prints the status line and headers first.
 * Like curl without `-f`, any HTTP status exits 0; network and protocol errors exit 1 with
 * a message and the error code; usage errors exit 2. As in curl, redirects are followed
 * only with `-L` (at most `--max-redirs`, default 20), and bodies are decoded only with
 * `--compressed`.
 */
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { GhostnetError } from '../../errors.js';
import { deadlineSignal } from '../../lifecycle/deadline.js';
import { HeaderList } from '../../protocols/http/headers.js';
import { Http1Client } from '../../protocols/http1/client.js';
import { H2NotNegotiatedError, Http2Client } from '../../protocols/http2/client.js';
import { Http3Client } from '../../protocols/http3/client.js';
import { ConnectError } from '../../transport/errors.js';
import { UsageError } from '../command.js';
import type { Command, CommandContext } from '../command.js';
import { packageVersion } from '../main.js';
import { parseMs } from '../parse.js';

/** Largest file `-d @FILE` reads into memory. */
const MAX_DATA_FILE_BYTES = 64 * 1024 * 1024;

function parseHeader(line: string): [string, string] {
  const colon = line.indexOf(':');
  if (colon <= 0) throw new UsageError(`-H expects 'Name: value', got '${line}'`);
  return [line.slice(0, colon).trim(), line.slice(colon + 1).trim()];
}

async function loadData(data: string): Promise<Uint8Array> {
  if (!data.startsWith('@')) return Buffer.from(data, 'utf8');
  const path = data.slice(1);
  if (path === '') throw new UsageError("-d @FILE needs a file name after '@'");
  try {
    const bytes = await readFile(path);
    if (bytes.length > MAX_DATA_FILE_BYTES) {
      throw new GhostnetError(
        'GN_ERR_FILE',
        `${path} is larger than ${MAX_DATA_FILE_BYTES} bytes; -d reads files into memory`,
      );
    }
    return bytes;
  } catch (err) {
    if (err instanceof GhostnetError) throw err;
    throw new GhostnetError('GN_ERR_FILE', `cannot read ${path}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

function parseCount(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d{1,4}$/.test(value) || Number(value) > 1000) {
    throw new UsageError(`--${name} must be an integer from 0 to 1000, got '${value}'`);
  }
  return Number(value);
}

async function write(out: Writable, chunk: Uint8Array | string): Promise<void> {
  if (!out.write(chunk)) await once(out, 'drain');
}

/** What `-i` prints and the body loop reads, from either client. */
interface FetchResponse extends AsyncIterable<Uint8Array> {
  readonly httpVersion: string;
  readonly status: number;
  readonly statusText?: string;
  readonly headers: HeaderList;
}

function headBlock(res: FetchResponse): string {
  let text = `HTTP/${res.httpVersion} ${res.status}${res.statusText ? ` ${res.statusText}` : ''}\r\n`;
  for (const [name, value] of res.headers) text += `${name}: ${value}\r\n`;
  return `${text}\r\n`;
}

/** The node error's own words for connect failures: `connect ECONNREFUSED 127.0.0.1:1`. */
function clarify(err: unknown): unknown {
  if (err instanceof ConnectError && err.cause instanceof Error && 'syscall' in err.cause) {
    return new ConnectError(err.cause.message, { cause: err });
  }
  return err;
}

async function run(ctx: CommandContext): Promise<number> {
  const { values, positionals, io } = ctx;
  if (positionals.length !== 1) {
    throw new UsageError(positionals.length === 0 ? 'a URL is required' : 'give exactly one URL');
  }
  let url: URL;
  try {
    url = new URL(positionals[0]!);
  } catch {
    throw new UsageError(`not a valid URL: '${positionals[0]}'`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`only http:// and https:// URLs are supported, got '${url.protocol}'`);
  }
  const headers = new HeaderList();
  for (const line of (values.header as string[] | undefined) ?? []) {
    const [name, value] = parseHeader(line);
    try {
      headers.append(name, value);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  }
  const data = values.data as string | undefined;
  const body = data === undefined ? undefined : await loadData(data);
  const method = (values.request as string | undefined) ?? (body ? 'POST' : 'GET');
  if (body !== undefined && !headers.has('content-type')) {
    headers.set('Content-Type', 'application/x-www-form-urlencoded');
  }
  const redirectLimit = parseCount('max-redirs', values['max-redirs'] as string | undefined, 20);
  const maxRedirects = values.location === true ? redirectLimit : 0;
  const timeoutMs = parseMs('timeout', values.timeout as string | undefined, 0);
  const timeouts =
    timeoutMs > 0 ? { connectMs: timeoutMs, headersMs: timeoutMs, bodyMs: timeoutMs } : {};
  const deadline = timeoutMs > 0 ? deadlineSignal(timeoutMs) : undefined;
  const priorKnowledge = values['http2-prior-knowledge'] === true;
  const http2 = priorKnowledge || values.http2 === true;
  if (http2 && (values.location === true || values.compressed === true)) {
    throw new UsageError('-L and --compressed are not supported with HTTP/2 yet');
  }
  const http3 = values.http3 === true;
  if (http3 && (http2 || url.protocol !== 'https:')) {
    throw new UsageError('--http3 needs an https:// URL and excludes --http2');
  }
  if (http3 && (values.location === true || values.compressed === true)) {
    throw new UsageError('-L and --compressed are not supported with HTTP/3 yet');
  }
  const h3client = http3
    ? new Http3Client({
        quic: { verifyPeer: values.insecure !== true },
        maxBodyBytes: 2 ** 40,
        ...(timeoutMs > 0 ? { connectTimeoutMs: timeoutMs, headersTimeoutMs: timeoutMs } : {}),
      })
    : undefined;
  if (http3) {
    if (!headers.has('user-agent')) headers.set('user-agent', `ghostnet/${packageVersion()}`);
    if (!headers.has('accept')) headers.set('accept', '*/*');
  }
  const h2client = http2
    ? new Http2Client(
        {},
        {
          headers: { 'user-agent': `ghostnet/${packageVersion()}`, accept: '*/*' },
          tls: { rejectUnauthorized: values.insecure !== true },
          maxBodyBytes: 2 ** 40,
          ...(timeoutMs > 0 ? { connectTimeoutMs: timeoutMs, headersTimeoutMs: timeoutMs } : {}),
          pingIntervalMs: 0,
          h2cUpgrade: !priorKnowledge,
        },
      )
    : undefined;

  const client = new Http1Client(
    {},
    {
      headers: { 'User-Agent': `ghostnet/${packageVersion()}`, Accept: '*/*' },
      tls: { rejectUnauthorized: values.insecure !== true },
      decompress: values.compressed === true,
      maxRedirects,
      maxBodyBytes: 2 ** 40,
      limits: { maxBodySize: Number.MAX_SAFE_INTEGER },
    },
  );
  const outFile = values.output as string | undefined;
  let out: Writable = io.stdout;
  try {
    let res: FetchResponse | undefined;
    const common = {
      url,
      method,
      headers,
      ...(body !== undefined ? { body } : {}),
      ...(deadline ? { signal: deadline.signal } : {}),
    };
    try {
      if (h3client !== undefined) res = await h3client.request(common);
      if (h2client !== undefined) {
        try {
          res = await h2client.request(common);
        } catch (err) {
          // As curl --http2: a server that declines HTTP/2 is spoken to in HTTP/1.1.
          if (!(err instanceof H2NotNegotiatedError) || priorKnowledge) throw err;
        }
      }
      res ??= await client.request({ ...common, timeouts });
    } catch (err) {
      throw clarify(err);
    }
    if (values.include === true) await write(io.stdout, headBlock(res));
    if (outFile !== undefined) {
      out = createWriteStream(outFile);
      await once(out, 'open');
    }
    for await (const chunk of res) await write(out, chunk);
    return 0;
  } finally {
    deadline?.clear();
    client.destroy();
    h2client?.destroy();
    await h3client?.close();
    if (out !== io.stdout) {
      out.end();
      await once(out, 'close');
    }
  }
}

export const fetchCommand: Command = {
  name: 'fetch',
  summary: 'Send an HTTP/1.1, HTTP/2 or HTTP/3 request and print the response body (a small curl)',
  usage:
    "fetch URL [-X METHOD] [-H 'Name: value']... [-d DATA|@FILE] [-i] [-o FILE] " +
    '[-L] [--max-redirs N] [--compressed] [--insecure] [--timeout MS] ' +
    '[--http2 | --http2-prior-knowledge | --http3]',
  description:
    'Prints the response body to stdout as raw bytes (or to a file with -o); -i prints the ' +
    'status line and headers first. Exits 0 for any HTTP status, 1 on network or protocol ' +
    'errors, 2 on usage errors. -d sends a body (POST unless -X says otherwise). With -L, ' +
    'redirects are followed (at most --max-redirs). --http2 asks for HTTP/2 (https: ALPN ' +
    'h2; http: an h2c Upgrade) and falls back to HTTP/1.1; --http2-prior-knowledge never ' +
    'falls back. --http3 speaks HTTP/3 over QUIC (UDP) to an https:// URL, without fallback.',
  allowPositionals: true,
  options: {
    request: { type: 'string', short: 'X', valueName: 'METHOD', description: 'Request method' },
    header: {
      type: 'string',
      short: 'H',
      multiple: true,
      valueName: "'NAME: VALUE'",
      description: 'Add a request header',
    },
    data: {
      type: 'string',
      short: 'd',
      valueName: 'DATA|@FILE',
      description: 'Request body, or @FILE to send a file (implies POST)',
    },
    include: {
      type: 'boolean',
      short: 'i',
      description: 'Print the status line and headers before the body',
    },
    output: {
      type: 'string',
      short: 'o',
      valueName: 'FILE',
      description: 'Write the body to FILE',
    },
    location: {
      type: 'boolean',
      short: 'L',
      description: 'Follow redirects (at most --max-redirs)',
    },
    'max-redirs': {
      type: 'string',
      valueName: 'N',
      description: 'Redirects -L follows (default 20)',
    },
    compressed: {
      type: 'boolean',
      description: 'Ask for gzip/deflate/br and decode the response',
    },
    insecure: {
      type: 'boolean',
      short: 'k',
      description: 'Do not verify the server certificate (https)',
    },
    timeout: {
      type: 'string',
      valueName: 'MS',
      description: 'Give up after MS milliseconds (default: no limit)',
    },
    http2: {
      type: 'boolean',
      description: 'Ask for HTTP/2 (ALPN h2, or an h2c Upgrade), else HTTP/1.1',
    },
    'http2-prior-knowledge': {
      type: 'boolean',
      description: 'Use HTTP/2 without negotiation or fallback',
    },
    http3: {
      type: 'boolean',
      description: 'Use HTTP/3 over QUIC (https only, no fallback)',
    },
  },
  run,
};
