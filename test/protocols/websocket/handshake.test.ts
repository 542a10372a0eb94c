import { describe, expect, it } from 'vitest';
import { HeaderList } from '../../../src/protocols/http/headers.js';
import {
  acceptKey,
  createClientHandshake,
  HandshakeError,
  isValidKey,
  validateUpgradeRequest,
  verifyServerHandshake,
} from '../../../src/protocols/websocket/handshake.js';
import type { UpgradeRequest } from '../../../src/protocols/websocket/handshake.js';

const SAMPLE_KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const SAMPLE_ACCEPT = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=';

/** RFC 6455 §1.3's sample request, with overrides (null removes a header). */
function request(
  overrides: Record<string, string | null> = {},
  method = 'GET',
  httpVersion = '1.1',
): UpgradeRequest {
  const base: Record<string, string | null> = {
    Host: 'server.example.com',
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': SAMPLE_KEY,
    Origin: 'http://example.com',
    'Sec-WebSocket-Protocol': 'chat, superchat',
    'Sec-WebSocket-Version': '13',
    ...overrides,
  };
  const headers = new HeaderList();
  for (const [k, v] of Object.entries(base)) if (v !== null) headers.append(k, v);
  return { method, httpVersion, headers };
}

describe('acceptKey', () => {
  it('matches the RFC 6455 §1.3 / §4.2.2 sample', () => {
    expect(acceptKey(SAMPLE_KEY)).toBe(SAMPLE_ACCEPT);
  });
  it('validates keys strictly', () => {
    expect(isValidKey(SAMPLE_KEY)).toBe(true);
    expect(isValidKey('AAAAAAAAAAAAAAAAAAAAAA==')).toBe(true);
    expect(isValidKey('AAAAAAAAAAAAAAAAAAAAAB==')).toBe(false); // non-zero padding bits
    expect(isValidKey('AAAAAAAAAAAAAAAAAAAAAAA=')).toBe(false); // 17 bytes
    expect(isValidKey('AAAAAAAAAAAAAAAAAAAAAA')).toBe(false); // unpadded
    expect(isValidKey('AAAAAAAAAAAAAAAAAAAA-_==')).toBe(false); // base64url
  });
});

describe('validateUpgradeRequest', () => {
  it('accepts the RFC 6455 §1.3 sample and selects a subprotocol', () => {
    const r = validateUpgradeRequest(request(), {
      protocols: (offered) => (offered.includes('chat') ? 'chat' : undefined),
    });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.accept).toBe(SAMPLE_ACCEPT);
    expect(r.protocol).toBe('chat');
    expect([...r.responseHeaders]).toEqual([
      ['Upgrade', 'websocket'],
      ['Connection', 'Upgrade'],
      ['Sec-WebSocket-Accept', SAMPLE_ACCEPT],
      ['Sec-WebSocket-Protocol', 'chat'],
    ]);
    expect(r.extensions).toBeUndefined();
  });

  it('accepts token lists and any case, and HTTP versions above 1.1', () => {
    const r = validateUpgradeRequest(
      request({ Upgrade: 'foo/2, WebSocket', Connection: 'keep-alive, upGRADE' }),
    );
    expect(r.ok).toBe(true);
    expect(validateUpgradeRequest(request({}, 'GET', '2')).ok).toBe(true);
  });

  it('selects no subprotocol without a callback or when the callback declines', () => {
    const a = validateUpgradeRequest(request());
    const b = validateUpgradeRequest(request(), { protocols: () => undefined });
    for (const r of [a, b]) {
      expect(r.ok && r.protocol).toBe(undefined);
      expect(r.ok && r.responseHeaders.has('sec-websocket-protocol')).toBe(false);
    }
  });

  it.each<[string, UpgradeRequest, number, string]>([
    ['POST', request({}, 'POST'), 405, 'GN_ERR_WS_HANDSHAKE_METHOD'],
    ['HTTP/1.0', request({}, 'GET', '1.0'), 400, 'GN_ERR_WS_HANDSHAKE_HTTP_VERSION'],
    ['no Host', request({ Host: null }), 400, 'GN_ERR_WS_HANDSHAKE_HOST'],
    ['no Upgrade', request({ Upgrade: null }), 400, 'GN_ERR_WS_HANDSHAKE_UPGRADE'],
    ['Upgrade: h2c', request({ Upgrade: 'h2c' }), 400, 'GN_ERR_WS_HANDSHAKE_UPGRADE'],
    ['Upgrade: websockets', request({ Upgrade: 'websockets' }), 400, 'GN_ERR_WS_HANDSHAKE_UPGRADE'],
    ['no Connection', request({ Connection: null }), 400, 'GN_ERR_WS_HANDSHAKE_CONNECTION'],
    [
      'Connection: keep-alive',
      request({ Connection: 'keep-alive' }),
      400,
      'GN_ERR_WS_HANDSHAKE_CONNECTION',
    ],
    [
      'Connection: upgrades',
      request({ Connection: 'upgrades' }),
      400,
      'GN_ERR_WS_HANDSHAKE_CONNECTION',
    ],
    ['no version', request({ 'Sec-WebSocket-Version': null }), 426, 'GN_ERR_WS_HANDSHAKE_VERSION'],
    ['version 8', request({ 'Sec-WebSocket-Version': '8' }), 426, 'GN_ERR_WS_HANDSHAKE_VERSION'],
    ['no key', request({ 'Sec-WebSocket-Key': null }), 400, 'GN_ERR_WS_HANDSHAKE_KEY'],
    ['short key', request({ 'Sec-WebSocket-Key': 'c2hvcnQ=' }), 400, 'GN_ERR_WS_HANDSHAKE_KEY'],
    [
      'key not base64',
      request({ 'Sec-WebSocket-Key': '!!!!!!!!!!!!!!!!!!!!!!==' }),
      400,
      'GN_ERR_WS_HANDSHAKE_KEY',
    ],
    [
      'bad protocol list',
      request({ 'Sec-WebSocket-Protocol': 'chat, ' }),
      400,
      'GN_ERR_WS_HANDSHAKE_PROTOCOL',
    ],
    [
      'protocol not a token',
      request({ 'Sec-WebSocket-Protocol': 'a b' }),
      400,
      'GN_ERR_WS_HANDSHAKE_PROTOCOL',
    ],
    [
      'duplicate protocol',
      request({ 'Sec-WebSocket-Protocol': 'chat, chat' }),
      400,
      'GN_ERR_WS_HANDSHAKE_PROTOCOL',
    ],
  ])('refuses %s', (_name, req, status, code) => {
    const r = validateUpgradeRequest(req);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.status).toBe(status);
    expect(r.error).toBeInstanceOf(HandshakeError);
    expect(r.error.code).toBe(code);
    expect(r.error.wireCode).toBe(status);
    expect(r.message.length).toBeGreaterThan(0);
  });

  it('refuses two keys and two Host fields', () => {
    const req = request();
    req.headers.append('Sec-WebSocket-Key', SAMPLE_KEY);
    expect(validateUpgradeRequest(req)).toMatchObject({ ok: false, status: 400 });
    const req2 = request();
    req2.headers.append('Host', 'other.example');
    expect(validateUpgradeRequest(req2)).toMatchObject({ ok: false, status: 400 });
  });

  it('answers 426 with Sec-WebSocket-Version: 13 and 405 with Allow: GET', () => {
    const r = validateUpgradeRequest(request({ 'Sec-WebSocket-Version': '7' }));
    expect(!r.ok && r.headers.get('sec-websocket-version')).toBe('13');
    const m = validateUpgradeRequest(request({}, 'PUT'));
    expect(!m.ok && m.headers.get('allow')).toBe('GET');
  });

  it('refuses an Origin with 403 through checkOrigin', () => {
    const seen: Array<string | undefined> = [];
    const checkOrigin = (o: string | undefined) => {
      seen.push(o);
      return o === 'http://example.com';
    };
    expect(validateUpgradeRequest(request(), { checkOrigin }).ok).toBe(true);
    const r = validateUpgradeRequest(request({ Origin: 'http://evil.test' }), { checkOrigin });
    expect(r).toMatchObject({ ok: false, status: 403 });
    const none = validateUpgradeRequest(request({ Origin: null }), { checkOrigin });
    expect(none).toMatchObject({ ok: false, status: 403 });
    expect(seen).toEqual(['http://example.com', 'http://evil.test', undefined]);
  });

  it('passes the offered subprotocols in order; choosing one not offered is a local error', () => {
    let got: string[] = [];
    validateUpgradeRequest(request({ 'Sec-WebSocket-Protocol': 'b, a' }), {
      protocols: (o) => ((got = o), 'a'),
    });
    expect(got).toEqual(['b', 'a']);
    const r = validateUpgradeRequest(request(), { protocols: () => 'mqtt' });
    expect(r).toMatchObject({ ok: false, status: 500 });
    expect(!r.ok && r.error.initiator).toBe('local');
  });

  it('negotiates permessage-deflate when enabled, ignores it when disabled', () => {
    const ext = 'permessage-deflate; client_max_window_bits; server_max_window_bits=10';
    const on = validateUpgradeRequest(request({ 'Sec-WebSocket-Extensions': ext }), {
      extensions: {},
    });
    expect(on.ok).toBe(true);
    if (!on.ok) return;
    expect(on.extensions).toBe('permessage-deflate; server_max_window_bits=10');
    expect(on.responseHeaders.get('sec-websocket-extensions')).toBe(on.extensions);
    expect(on.deflateParams).toEqual({
      serverNoContextTakeover: false,
      clientNoContextTakeover: false,
      serverMaxWindowBits: 10,
      clientMaxWindowBits: 15,
    });
    for (const extensions of [false, undefined] as const) {
      const off = validateUpgradeRequest(request({ 'Sec-WebSocket-Extensions': ext }), {
        extensions,
      });
      expect(off.ok && off.responseHeaders.has('sec-websocket-extensions')).toBe(false);
    }
    // Only unknown extensions, or only declined offers: accepted without extensions.
    const other = validateUpgradeRequest(
      request({ 'Sec-WebSocket-Extensions': 'x-foo, permessage-deflate; bogus' }),
      { extensions: {} },
    );
    expect(other.ok && other.extensions).toBe(undefined);
  });

  it('refuses a malformed extension header with 400', () => {
    const r = validateUpgradeRequest(
      request({ 'Sec-WebSocket-Extensions': 'permessage-deflate;;' }),
      {
        extensions: {},
      },
    );
    expect(r).toMatchObject({ ok: false, status: 400 });
    expect(!r.ok && r.error.code).toBe('GN_ERR_WS_HANDSHAKE_EXTENSIONS');
  });
});

const fixedRandom = (n: number) => Uint8Array.from({ length: n }, (_, i) => i + 1);

function clientPair(opts: Partial<Parameters<typeof createClientHandshake>[0]> = {}) {
  return createClientHandshake({
    url: new URL('ws://example.com:8080/chat?x=1'),
    randomBytes: fixedRandom,
    ...opts,
  });
}

function response(
  state: ReturnType<typeof clientPair>,
  overrides: Record<string, string | null> = {},
  status = 101,
) {
  const base: Record<string, string | null> = {
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Accept': state.expectedAccept,
    ...overrides,
  };
  const headers = new HeaderList();
  for (const [k, v] of Object.entries(base)) if (v !== null) headers.append(k, v);
  return { status, headers };
}

describe('createClientHandshake', () => {
  it('builds the request headers from the injected randomness', () => {
    const s = clientPair({
      protocols: ['chat', 'superchat'],
      extensions: {},
      headers: { Origin: 'http://example.com' },
    });
    expect(s.key).toBe(Buffer.from(fixedRandom(16)).toString('base64'));
    expect(s.expectedAccept).toBe(acceptKey(s.key));
    expect(s.path).toBe('/chat?x=1');
    expect([...s.requestHeaders]).toEqual([
      ['Host', 'example.com:8080'],
      ['Upgrade', 'websocket'],
      ['Connection', 'Upgrade'],
      ['Sec-WebSocket-Key', s.key],
      ['Sec-WebSocket-Version', '13'],
      ['Sec-WebSocket-Protocol', 'chat, superchat'],
      ['Sec-WebSocket-Extensions', 'permessage-deflate; client_max_window_bits'],
      ['Origin', 'http://example.com'],
    ]);
    // The server accepts what the client builds.
    const r = validateUpgradeRequest(
      { method: 'GET', httpVersion: '1.1', headers: s.requestHeaders },
      { protocols: (o) => o[1], extensions: {} },
    );
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const v = verifyServerHandshake({ status: 101, headers: r.responseHeaders }, s);
    expect(v).toMatchObject({ ok: true, protocol: 'superchat' });
    expect(v.ok && v.deflateParams).toEqual(r.deflateParams);
  });

  it('omits the default port and offers nothing by default', () => {
    const s = createClientHandshake({
      url: new URL('wss://example.com:443/'),
      randomBytes: fixedRandom,
    });
    expect(s.requestHeaders.get('host')).toBe('example.com');
    expect(s.requestHeaders.has('sec-websocket-protocol')).toBe(false);
    expect(s.requestHeaders.has('sec-websocket-extensions')).toBe(false);
  });

  it.each([
    [{ headers: { 'sec-websocket-key': 'x' } }, /cannot be overridden/],
    [{ headers: { Host: 'evil' } }, /cannot be overridden/],
    [{ headers: [['Connection', 'close']] as Array<[string, string]> }, /cannot be overridden/],
    [{ protocols: ['a', 'a'] }, /duplicate/],
    [{ protocols: ['a b'] }, /Invalid/],
    [{ url: new URL('ftp://example.com/') }, /scheme/],
    [{ url: new URL('ws://example.com/#frag') }, /fragment/],
    [{ randomBytes: (n: number) => new Uint8Array(n - 1) }, /16 bytes/],
  ])('refuses bad options %#', (opts, message) => {
    expect(() => clientPair(opts)).toThrow(message);
  });
});

describe('verifyServerHandshake (RFC 6455 §4.1)', () => {
  it('accepts a minimal valid response', () => {
    const s = clientPair();
    expect(verifyServerHandshake(response(s), s)).toEqual({ ok: true, extensions: [] });
    expect(
      verifyServerHandshake(
        response(s, { Upgrade: 'WebSocket', Connection: 'keep-alive, upgrade' }),
        s,
      ).ok,
    ).toBe(true);
  });

  it.each<[string, Record<string, string | null>, number, string]>([
    ['status 200', {}, 200, 'GN_ERR_WS_HANDSHAKE_STATUS'],
    ['status 426', {}, 426, 'GN_ERR_WS_HANDSHAKE_STATUS'],
    ['no Upgrade', { Upgrade: null }, 101, 'GN_ERR_WS_HANDSHAKE_UPGRADE'],
    ['Upgrade: h2c', { Upgrade: 'h2c' }, 101, 'GN_ERR_WS_HANDSHAKE_UPGRADE'],
    ['no Connection', { Connection: null }, 101, 'GN_ERR_WS_HANDSHAKE_CONNECTION'],
    ['Connection: close', { Connection: 'close' }, 101, 'GN_ERR_WS_HANDSHAKE_CONNECTION'],
    ['no accept', { 'Sec-WebSocket-Accept': null }, 101, 'GN_ERR_WS_HANDSHAKE_ACCEPT'],
    ['wrong accept', { 'Sec-WebSocket-Accept': SAMPLE_ACCEPT }, 101, 'GN_ERR_WS_HANDSHAKE_ACCEPT'],
    [
      'protocol not offered',
      { 'Sec-WebSocket-Protocol': 'chat' },
      101,
      'GN_ERR_WS_HANDSHAKE_PROTOCOL',
    ],
    [
      'extension not offered',
      { 'Sec-WebSocket-Extensions': 'permessage-deflate' },
      101,
      'GN_ERR_WS_HANDSHAKE_EXTENSIONS',
    ],
    [
      'malformed extensions',
      { 'Sec-WebSocket-Extensions': ';' },
      101,
      'GN_ERR_WS_HANDSHAKE_EXTENSIONS',
    ],
  ])('fails on %s', (_name, overrides, status, code) => {
    const s = clientPair();
    const r = verifyServerHandshake(response(s, overrides, status), s);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error).toBeInstanceOf(HandshakeError);
    expect(r.error.code).toBe(code);
    expect(r.error.wireCode).toBe(status === 101 ? 1002 : status);
  });

  it('checks the subprotocol against the offer', () => {
    const s = clientPair({ protocols: ['chat', 'superchat'] });
    expect(
      verifyServerHandshake(response(s, { 'Sec-WebSocket-Protocol': 'superchat' }), s),
    ).toMatchObject({
      ok: true,
      protocol: 'superchat',
    });
    expect(verifyServerHandshake(response(s), s)).toMatchObject({ ok: true });
    expect(verifyServerHandshake(response(s, { 'Sec-WebSocket-Protocol': 'mqtt' }), s).ok).toBe(
      false,
    );
    expect(
      verifyServerHandshake(response(s, { 'Sec-WebSocket-Protocol': 'chat, superchat' }), s).ok,
    ).toBe(false);
  });

  it('checks the extensions against the offer', () => {
    const s = clientPair({ extensions: { clientMaxWindowBits: 10 } });
    const ok = verifyServerHandshake(
      response(s, { 'Sec-WebSocket-Extensions': 'permessage-deflate; client_max_window_bits=9' }),
      s,
    );
    expect(ok.ok && ok.deflateParams).toEqual({
      serverNoContextTakeover: false,
      clientNoContextTakeover: false,
      serverMaxWindowBits: 15,
      clientMaxWindowBits: 9,
    });
    for (const bad of [
      'permessage-deflate; client_max_window_bits=11',
      'permessage-deflate; unknown',
      'permessage-deflate, permessage-deflate',
      'x-webkit-deflate-frame',
    ]) {
      const r = verifyServerHandshake(response(s, { 'Sec-WebSocket-Extensions': bad }), s);
      expect(r.ok ? 'accepted' : r.error.code).toBe('GN_ERR_WS_HANDSHAKE_EXTENSIONS');
    }
  });
});
