/**
 * Loader for llhttp's markdown test vectors (../shared/vectors/llhttp).
 *
 * Each case is a heading, an optional `<!-- meta={...} -->` comment, a fenced `http` (or
 * `url`) input block and a fenced `log` block with the expected callback log.
 *
 * Input block conventions (as used by llhttp's own markdown harness):
 * - the lines between the fences are joined with CRLF; no CRLF follows the last line;
 * - a line ending in a single backslash is joined to the next line without a CRLF;
 * - escapes `\r`, `\n`, `\t`, `\f`, `\v`, `\xNN` (hex) and `\NNN` (one to three octal digits)
 *   stand for that character; any other backslash is literal (`\"` and `\\` stay two
 *   characters); the text is then encoded as UTF-8, as llhttp's harness does.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface LlhttpMeta {
  readonly type: string;
  readonly noScan: boolean;
  readonly pause: string | undefined;
  readonly skipBody: boolean;
}

export interface LlhttpCase {
  /** `request/sample.md#Simple request` style identifier, unique per file. */
  readonly id: string;
  readonly file: string;
  readonly heading: string;
  readonly kind: 'http' | 'url';
  readonly meta: LlhttpMeta;
  readonly input: Uint8Array;
  readonly expected: readonly string[];
}

export const LLHTTP_VECTOR_DIR = new URL('../../../shared/vectors/llhttp/', import.meta.url);

/**
 * Decode the escapes of one input line. Like llhttp's harness, escapes yield characters
 * and the whole input is then encoded as UTF-8 (so `\xff` becomes the two bytes C3 BF).
 */
function decodeLine(line: string): string {
  let out = '';
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === '\\' && i + 1 < line.length) {
      const n = line[i + 1]!;
      const simple = SIMPLE_ESCAPES[n];
      if (simple !== undefined) {
        out += simple;
        i++;
        continue;
      }
      const hex = /^x([0-9a-fA-F]{2})/.exec(line.slice(i + 1, i + 4));
      if (hex !== null) {
        out += String.fromCharCode(parseInt(hex[1]!, 16));
        i += 3;
        continue;
      }
      const oct = /^[0-7]{1,3}/.exec(line.slice(i + 1, i + 4));
      if (oct !== null) {
        out += String.fromCharCode(parseInt(oct[0], 8) & 0xff);
        i += oct[0].length;
        continue;
      }
    }
    out += c;
  }
  return out;
}

const SIMPLE_ESCAPES: Record<string, string> = { r: '\r', n: '\n', t: '\t', f: '\f', v: '\v' };

export function decodeInput(lines: readonly string[]): Uint8Array {
  let text = '';
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!;
    const continued = line.endsWith('\\') && !line.endsWith('\\\\');
    if (continued) line = line.slice(0, -1);
    text += decodeLine(line);
    if (!continued && i < lines.length - 1) text += '\r\n';
  }
  return new Uint8Array(Buffer.from(text, 'utf8'));
}

function parseMeta(text: string | undefined): LlhttpMeta {
  const raw = text === undefined ? {} : (JSON.parse(text) as Record<string, unknown>);
  return {
    type: typeof raw['type'] === 'string' ? raw['type'] : 'none',
    noScan: raw['noScan'] === true,
    pause: typeof raw['pause'] === 'string' ? raw['pause'] : undefined,
    skipBody: raw['skipBody'] === true,
  };
}

export function parseMarkdown(file: string, text: string): LlhttpCase[] {
  const lines = text.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  const cases: LlhttpCase[] = [];
  const seen = new Map<string, number>();
  let heading = '';
  let meta: string | undefined;
  let input: { kind: 'http' | 'url'; bytes: Uint8Array } | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const h = /^#{1,6}\s+(.*)$/.exec(line);
    if (h !== null) {
      heading = h[1]!.trim();
      meta = undefined;
      input = undefined;
      continue;
    }
    const m = /^<!--\s*meta=(\{.*\})\s*-->\s*$/.exec(line);
    if (m !== null) {
      meta = m[1];
      continue;
    }
    const fence = /^```(\w+)?\s*$/.exec(line);
    if (fence === null || fence[1] === undefined) continue;
    const lang = fence[1];
    const body: string[] = [];
    i++;
    while (i < lines.length && !/^```\s*$/.test(lines[i]!)) body.push(lines[i++]!);
    if (lang === 'http' || lang === 'url') {
      input = { kind: lang, bytes: decodeInput(body) };
    } else if (lang === 'log' && input !== undefined) {
      const n = (seen.get(heading) ?? 0) + 1;
      seen.set(heading, n);
      cases.push({
        id: `${file}#${heading}${n > 1 ? ` (${n})` : ''}`,
        file,
        heading,
        kind: input.kind,
        meta: parseMeta(meta),
        input: input.bytes,
        expected: body.filter((l) => l.length > 0),
      });
      input = undefined;
    }
  }
  return cases;
}

/** Every case of `request/*.md` and `response/*.md` (and `url.md` when asked). */
export function loadLlhttpVectors(options: { includeUrl?: boolean } = {}): LlhttpCase[] {
  const dir = LLHTTP_VECTOR_DIR.pathname;
  const out: LlhttpCase[] = [];
  for (const sub of ['request', 'response']) {
    for (const name of readdirSync(join(dir, sub)).sort()) {
      if (!name.endsWith('.md')) continue;
      const file = `${sub}/${name}`;
      out.push(...parseMarkdown(file, readFileSync(join(dir, file), 'utf8')));
    }
  }
  if (options.includeUrl === true) {
    out.push(...parseMarkdown('url.md', readFileSync(join(dir, 'url.md'), 'utf8')));
  }
  return out;
}
