/**
 * Conformance against llhttp's markdown vectors (../shared/vectors/llhttp): every request
 * and response case is fed whole, split in two at every byte, and one byte at a time, and
 * the callback log must equal llhttp's.
 *
 * What is compared: every line of llhttp's log, offsets included — spans (adjacent pieces
 * merged, then split at CR/LF as llhttp's harness prints them), "complete" events,
 * headers-complete (method number, version, flags in hex, content length), chunk headers,
 * message begin/complete and "reset" (a message begins after a completed one). Error lines
 * compare the offset and the llhttp code through LLHTTP_ERROR_MAP; reason texts are
 * llhttp's wording and are not compared. llhttp's `error code=22` (paused for
 * CONNECT/Upgrade) corresponds to our ExecuteStatus.UPGRADE at `consumed`. With split
 * feeding, span pieces directly before an error line are not compared (see
 * dropSpansBeforeError); everything else is.
 * `*-finish` cases compare the finish outcome (0 safe, 1 safe with a message-complete
 * callback, 2 error) and that llhttp's lines appear in order in our log, because llhttp's
 * finish harness logs only some callbacks.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { loadLlhttpVectors } from '../../helpers/llhttp-vectors.js';
import type { LlhttpCase } from '../../helpers/llhttp-vectors.js';
import { alignErrors, expectedLog, runLogged } from './llhttp-log.js';
import type { RunOptions } from './llhttp-log.js';

const RTSP_ICE =
  'RTSP/ICE: ghostnet parses HTTP/1.x only; llhttp also accepts RTSP/1.0 and ICE/1.0 start lines';
const METHODS =
  'method list: llhttp accepts only its fixed method table (and RTSP methods only with RTSP/); ghostnet accepts any token method (RFC 9110 §9.1) and leaves 501 to the application';
const HTTP09 =
  'HTTP/0.9: llhttp accepts HTTP/0.9 messages; ghostnet supports HTTP/1.0 and 1.1 only (505)';

/** Cases that do not apply to ghostnet's parser, with the reason. Keyed by case id. */
const NOT_APPLICABLE: Record<string, string> = {
  'request/invalid.md#ICE protocol and GET method': RTSP_ICE,
  'request/invalid.md#ICE protocol, but not really': RTSP_ICE,
  'request/invalid.md#RTSP protocol and PUT method': RTSP_ICE,
  'request/method.md#SOURCE request with ICE': RTSP_ICE,
  'request/method.md#OPTIONS request with RTSP': RTSP_ICE,
  'request/method.md#ANNOUNCE request with RTSP': RTSP_ICE,
  'response/sample.md#RTSP response': RTSP_ICE,
  'response/sample.md#ICE response': RTSP_ICE,
  'request/invalid.md#HTTP protocol and ANNOUNCE method': METHODS,
  'request/invalid.md#Invalid method': METHODS,
  'request/sample.md#No HTTP version': HTTP09,
  'response/sample.md#HTTP version 0.9': HTTP09,
  'request/method.md#PRI request HTTP2':
    "HTTP/2 preface: llhttp pauses on `PRI * HTTP/2.0`; ghostnet answers 505 (prior-knowledge h2c is the HTTP/2 engine's job)",
  ...Object.fromEntries(
    [
      'request/connection.md#Invalid whitespace token with `Connection` header field (lenient)',
      'request/content-length.md#Invalid whitespace token with `Content-Length` header field (lenient)',
      'request/lenient-headers.md#Header value (lenient)',
      'request/lenient-headers.md#Second request header value (lenient)',
      'request/lenient-headers.md#Empty headers separated by CR (lenient)',
    ].map((id) => [
      id,
      'lenient flag headers beyond obs-fold (whitespace before the colon, control bytes in values, bare CR): ghostnet has no equivalent; only obs-fold has a lenient option',
    ]),
  ),
  'request/content-length.md#Error on `Content-Length` overflow':
    'Content-Length overflow: the same error (400) is raised above 2^53-1 (JS safe integer) instead of 2^64-1, so at an earlier offset',
};

/** Reasons for whole groups (by meta). */
function groupReason(c: LlhttpCase): string | undefined {
  if (c.meta.pause !== undefined) {
    return 'pausing: llhttp_pause() from a callback; the parser has no pause (a handler returns values instead, and BLOCKED/UPGRADE stop execute())';
  }
  const lenient = /^(request|response)-lenient-(.*)$/.exec(c.meta.type);
  if (lenient !== null && LENIENT_MAP[lenient[2]!] === undefined) {
    return `lenient flag ${lenient[2]!}: ghostnet has no equivalent (strict only)`;
  }
  return undefined;
}

/**
 * llhttp lenient flags that map to one of our options. `headers` maps to lenientObsFold
 * (RFC 9112 §5.2); its cases that need more than obs-fold are in NOT_APPLICABLE.
 */
const LENIENT_MAP: Record<string, RunOptions['parserOptions']> = {
  headers: { lenientObsFold: true },
};

function optionsFor(c: LlhttpCase): RunOptions {
  const kind = c.meta.type.startsWith('request') ? 'request' : 'response';
  const lenient = /^(?:request|response)-lenient-(.*)$/.exec(c.meta.type);
  return {
    kind,
    skipBody: c.meta.skipBody,
    finish: c.meta.type.endsWith('-finish'),
    parserOptions: lenient === null ? {} : LENIENT_MAP[lenient[1]!],
  };
}

function isSubsequence(needle: readonly string[], hay: readonly string[]): boolean {
  let j = 0;
  for (const line of hay) if (j < needle.length && line === needle[j]) j++;
  return j === needle.length;
}

const cases = loadLlhttpVectors().filter((c) => c.kind === 'http');
/**
 * url.md holds llhttp's URL-splitter cases (schema/host/path/query/fragment spans from
 * llhttp's separate `llhttp_url` parser). ghostnet's parser hands the request-target over
 * whole (RFC 9112 §3.2); splitting it belongs to the router, so these do not apply.
 */
const urlCases = loadLlhttpVectors({ includeUrl: true }).filter((c) => c.kind === 'url');
const results = { passed: 0, notApplicable: new Map<string, string>(), failed: [] as string[] };

/**
 * Before an error, llhttp reports the open span up to the error or withholds it depending
 * on the rule and on where the input was split (a split flushes the partial span). For
 * split feeding, span lines directly before a final error line are therefore not compared.
 */
function dropSpansBeforeError(log: string[]): string[] {
  const last = log[log.length - 1];
  if (last === undefined || !/ error (code|kind)=/.test(last)) return log;
  let k = log.length - 1;
  while (k > 0 && / span\[/.test(log[k - 1]!)) k--;
  return [...log.slice(0, k), last];
}

function check(c: LlhttpCase, splits: readonly number[], opts: RunOptions, whole: string[]) {
  const split = splits.length > 0;
  const expected = split ? dropSpansBeforeError(whole) : whole;
  let actual = runLogged(c.input, splits, opts);
  if (split) actual = dropSpansBeforeError(actual);
  actual = alignErrors(actual, expected);
  if (opts.finish) {
    const fin = expected[expected.length - 1];
    expect(actual[actual.length - 1]).toBe(fin);
    expect(isSubsequence(expected, actual), actual.join('\n')).toBe(true);
  } else {
    expect(actual).toEqual(expected);
  }
}

describe('llhttp vectors', () => {
  it('found the vectors', () => {
    expect(cases.length).toBeGreaterThan(200);
    expect(urlCases.length).toBeGreaterThan(0);
  });

  for (const c of cases) {
    const reason = NOT_APPLICABLE[c.id] ?? groupReason(c);
    if (reason !== undefined) {
      results.notApplicable.set(c.id, reason);
      continue;
    }
    it(c.id, () => {
      const opts = optionsFor(c);
      const expected = expectedLog(c.expected);
      try {
        check(c, [], opts, expected);
        for (let k = 1; k < c.input.length; k++) check(c, [k], opts, expected);
        const bytes = Array.from({ length: Math.max(0, c.input.length - 1) }, (_, k) => k + 1);
        check(c, bytes, opts, expected);
      } catch (err) {
        results.failed.push(c.id);
        throw err;
      }
      results.passed++;
    });
  }

  afterAll(() => {
    const applicable = cases.length - results.notApplicable.size;
    const byReason = new Map<string, number>();
    for (const r of results.notApplicable.values()) {
      const key = r.split(':')[0]!;
      byReason.set(key, (byReason.get(key) ?? 0) + 1);
    }
    const reasons = [...byReason].map(([r, n]) => `${n} ${r}`).join(', ');
    console.log(
      `llhttp vectors: ${results.passed}/${applicable} applicable request/response cases passed (whole, every 2-way split, byte by byte); ${results.notApplicable.size} not applicable (${reasons}); url.md: ${urlCases.length} URL-splitter cases not applicable (target is passed through whole)`,
    );
    if (results.failed.length > 0) console.log(`failed: ${results.failed.join('; ')}`);
    expect(results.passed).toBe(applicable);
  });
});
