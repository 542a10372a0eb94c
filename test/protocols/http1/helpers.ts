/** Small drivers for the HTTP/1.1 parser tests. */
import { ExecuteStatus } from '../../../src/protocols/http1/constants.js';
import type {
  HeadersCompleteAction,
  Http1MessageKind,
} from '../../../src/protocols/http1/constants.js';
import type { Http1ParseError } from '../../../src/protocols/http1/errors.js';
import type { Http1Limits } from '../../../src/protocols/http1/limits.js';
import { Http1Parser } from '../../../src/protocols/http1/parser.js';
import type { Http1HeadersInfo, Http1ParserOptions } from '../../../src/protocols/http1/parser.js';

export const enc = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'latin1'));

export interface Collected {
  heads: Http1HeadersInfo[];
  bodies: string[];
  complete: number;
  error: Http1ParseError | null;
  status: ExecuteStatus;
  consumed: number;
  parser: Http1Parser;
}

export interface CollectOptions {
  limits?: Partial<Http1Limits>;
  options?: Http1ParserOptions;
  onHead?: (info: Http1HeadersInfo) => HeadersCompleteAction | void;
  requestMethods?: string[];
  finish?: boolean;
  /** Feed one byte at a time. */
  bytewise?: boolean;
}

/** Parse `input`, collecting heads, body text per message, and the final status. */
export function collect(kind: Http1MessageKind, input: string, o: CollectOptions = {}): Collected {
  const out: Collected = {
    heads: [],
    bodies: [],
    complete: 0,
    error: null,
    status: ExecuteStatus.OK,
    consumed: 0,
    parser: undefined as unknown as Http1Parser,
  };
  let body = '';
  const parser = new Http1Parser(
    kind,
    {
      onMessageBegin: () => {
        body = '';
      },
      onHeadersComplete: (info) => {
        out.heads.push(info);
        return o.onHead?.(info);
      },
      onBody: (b, s, e) => {
        body += Buffer.from(b.subarray(s, e)).toString('latin1');
      },
      onMessageComplete: () => {
        out.bodies.push(body);
        out.complete++;
        if (kind === 'request') parser.releaseMessage();
      },
      onError: (err) => {
        out.error = err;
      },
    },
    o.limits,
    o.options,
  );
  out.parser = parser;
  for (const m of o.requestMethods ?? []) parser.pushRequestMethod(m);
  const bytes = enc(input);
  const pieces =
    o.bytewise === true ? Array.from(bytes, (_, i) => bytes.subarray(i, i + 1)) : [bytes];
  let offset = 0;
  for (const p of pieces) {
    out.status = parser.execute(p);
    if (out.status !== ExecuteStatus.OK) {
      out.consumed = offset + parser.consumed;
      break;
    }
    offset += p.length;
    out.consumed = offset;
  }
  if (o.finish === true && out.status === ExecuteStatus.OK) out.status = parser.finish();
  return out;
}

/** Parse and return the error (throws if there was none). */
export function errorOf(
  kind: Http1MessageKind,
  input: string,
  o: CollectOptions = {},
): Http1ParseError {
  const r = collect(kind, input, o);
  if (r.error === null) throw new Error(`expected an error for ${JSON.stringify(input)}`);
  return r.error;
}
