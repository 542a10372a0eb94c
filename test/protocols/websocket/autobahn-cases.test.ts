/**
 * Cases equivalent to the Autobahn testsuite's categories 1-7 (framing, pings/pongs,
 * reserved bits, opcodes, fragmentation, UTF-8, close), run against the server core; each
 * input is fed whole, split at every byte, and byte by byte.
 */
import { describe, expect, it } from 'vitest';
import { cf, closeCodeOf, concatBytes, hex, runAllSplits, toHex, utf8 } from './helpers.js';
import { INVALID_UTF8, VALID_UTF8 } from './utf8.test.js';

const bytes = (n: number, seed = 1) =>
  Uint8Array.from({ length: n }, (_, i) => (i * seed + 3) & 0xff);
const msg = (opcode: 'text' | 'binary', data: Uint8Array) => ({
  type: 'message',
  opcode,
  compressed: false,
  data: toHex(data),
});

/** The server fails with `wireCode` and sends exactly that close code. */
function expectFail(input: Uint8Array, wireCode: number, kind?: string) {
  const r = runAllSplits('server', input);
  const err = r.events.find((e) => (e as { type: string }).type === 'error');
  expect(err, 'an error event').toMatchObject({ wireCode, ...(kind ? { kind } : {}) });
  expect(closeCodeOf(r.output)).toBe(wireCode);
  expect(r.state).toBe('closed');
  return r;
}

describe('1.x framing: text and binary at every length encoding', () => {
  for (const n of [0, 125, 126, 127, 128, 65535, 65536]) {
    it(`${n} bytes`, () => {
      const text = utf8('*'.repeat(n));
      expect(runAllSplits('server', cf({ opcode: 1, payload: text })).events).toEqual([
        msg('text', text),
      ]);
      const bin = bytes(n, 7);
      expect(runAllSplits('server', cf({ opcode: 2, payload: bin })).events).toEqual([
        msg('binary', bin),
      ]);
    });
  }
});

describe('2.x pings and pongs', () => {
  it('ping without and with payload, 125-byte ping → pong echoes it', () => {
    for (const p of [new Uint8Array(0), utf8('Hello, world!'), bytes(125)]) {
      const r = runAllSplits('server', cf({ opcode: 9, payload: p }));
      expect(r.events).toEqual([{ type: 'ping', data: toHex(p) }]);
      expect(r.output).toBe(
        toHex(
          concatBytes([
            hex(p.length < 126 ? '8a' + p.length.toString(16).padStart(2, '0') : ''),
            p,
          ]),
        ),
      );
    }
  });
  it('126-byte ping → 1002', () => {
    expectFail(cf({ opcode: 9, payload: bytes(126) }), 1002, 'CONTROL_FRAME_TOO_LONG');
  });
  it('unsolicited pong is reported and ignored', () => {
    const r = runAllSplits(
      'server',
      concatBytes([cf({ opcode: 10, payload: utf8('x') }), cf({ opcode: 1, payload: utf8('ok') })]),
    );
    expect(r.events).toEqual([{ type: 'pong', data: '78' }, msg('text', utf8('ok'))]);
    expect(r.output).toBe('');
  });
  it('fragmented ping → 1002', () => {
    expectFail(
      concatBytes([
        cf({ fin: false, opcode: 9, payload: utf8('a') }),
        cf({ opcode: 0, payload: utf8('b') }),
      ]),
      1002,
      'FRAGMENTED_CONTROL_FRAME',
    );
  });
  it('10 pings in a row: the last one is answered', () => {
    const input = concatBytes(
      Array.from({ length: 10 }, (_, i) => cf({ opcode: 9, payload: utf8(`p${i}`) })),
    );
    const r = runAllSplits('server', concatBytes([input.slice()]));
    expect(r.events).toHaveLength(10);
    expect(r.output).toBe('8a02' + toHex(utf8('p9')));
  });
});

describe('3.x reserved bits', () => {
  for (let rsv = 1; rsv <= 7; rsv++) {
    it(`RSV=${rsv} → 1002 (text, binary, ping), after a valid message`, () => {
      for (const opcode of [1, 2, 9]) {
        const r = expectFail(
          concatBytes([
            cf({ opcode: 1, payload: utf8('ok') }),
            cf({ opcode, rsv, payload: utf8('x') }),
          ]),
          1002,
          'RESERVED_BITS',
        );
        expect(r.events[0]).toEqual(msg('text', utf8('ok')));
      }
    });
  }
});

describe('4.x opcodes', () => {
  for (const opcode of [3, 4, 5, 6, 7, 11, 12, 13, 14, 15]) {
    it(`opcode ${opcode} → 1002`, () => {
      expectFail(cf({ opcode, payload: utf8('x') }), 1002, 'UNKNOWN_OPCODE');
    });
  }
});

describe('5.x fragmentation', () => {
  it('text in fragments, with pings in between, and in 1-byte fragments', () => {
    const parts = ['fr', 'ag', 'ment', 'ed'];
    const input = concatBytes(
      parts.flatMap((p, i) => [
        cf({ fin: i === parts.length - 1, opcode: i === 0 ? 1 : 0, payload: utf8(p) }),
        ...(i < parts.length - 1 ? [cf({ opcode: 9, payload: utf8(`${i}`) })] : []),
      ]),
    );
    const r = runAllSplits('server', input);
    expect(r.events.at(-1)).toEqual(msg('text', utf8('fragmented')));
    expect(r.events.filter((e) => (e as { type: string }).type === 'ping')).toHaveLength(3);
  });
  it('continuation without a start → 1002 (fin and not fin)', () => {
    expectFail(cf({ opcode: 0, payload: utf8('x') }), 1002, 'UNEXPECTED_CONTINUATION');
    expectFail(cf({ fin: false, opcode: 0, payload: utf8('x') }), 1002, 'UNEXPECTED_CONTINUATION');
  });
  it('a new message during a fragmented one → 1002', () => {
    expectFail(
      concatBytes([
        cf({ fin: false, opcode: 1, payload: utf8('a') }),
        cf({ opcode: 1, payload: utf8('b') }),
      ]),
      1002,
      'EXPECTED_CONTINUATION',
    );
    expectFail(
      concatBytes([cf({ fin: false, opcode: 2 }), cf({ fin: false, opcode: 2 })]),
      1002,
      'EXPECTED_CONTINUATION',
    );
  });
  it('continuation after a complete message → 1002', () => {
    const r = expectFail(
      concatBytes([cf({ opcode: 1, payload: utf8('a') }), cf({ opcode: 0, payload: utf8('b') })]),
      1002,
    );
    expect(r.events[0]).toEqual(msg('text', utf8('a')));
  });
  it('empty fragments', () => {
    const input = concatBytes([
      cf({ fin: false, opcode: 1 }),
      cf({ fin: false, opcode: 0 }),
      cf({ opcode: 0 }),
    ]);
    expect(runAllSplits('server', input).events).toEqual([msg('text', new Uint8Array(0))]);
  });
});

describe('6.x UTF-8', () => {
  it('valid text in one frame and split into fragments at every byte', () => {
    for (const h of VALID_UTF8) {
      const t = hex(h);
      expect(runAllSplits('server', cf({ opcode: 1, payload: t })).events).toEqual([
        msg('text', t),
      ]);
      for (let i = 1; i < t.length; i++) {
        const input = concatBytes([
          cf({ fin: false, opcode: 1, payload: t.subarray(0, i) }),
          cf({ opcode: 0, payload: t.subarray(i) }),
        ]);
        expect(runAllSplits('server', input).events).toEqual([msg('text', t)]);
      }
    }
  });

  it('invalid text → 1007, as soon as the bad byte arrives, at every fragment split', () => {
    for (const [h, at] of INVALID_UTF8) {
      const t = hex(h);
      for (let i = 0; i <= t.length; i++) {
        const first = cf({ fin: false, opcode: 1, payload: t.subarray(0, i) });
        const rest = cf({ opcode: 0, payload: t.subarray(i) });
        expectFail(concatBytes([first, rest]), 1007, 'INVALID_UTF8');
        // Fail fast: when the bad byte is in the first fragment, the error comes before
        // the message could end (the continuation never arrives).
        if (at !== -1 && at < i) expectFail(first, 1007, 'INVALID_UTF8');
      }
    }
  });

  it('fails on the first bad byte of a frame still being received', () => {
    const t = concatBytes([utf8('a'.repeat(50)), hex('eda080'), utf8('b'.repeat(50))]);
    const wire = cf({ opcode: 1, payload: t });
    // header is 6 bytes; the bad byte (0xa0) is payload index 51.
    expectFail(wire.subarray(0, 6 + 52), 1007, 'INVALID_UTF8');
    const ok = runAllSplits('server', wire.subarray(0, 6 + 51));
    expect(ok.events).toEqual([]);
  });
});

describe('7.x close', () => {
  it('close without payload, with code, with code and reason; 125-byte payload', () => {
    expect(runAllSplits('server', cf({ opcode: 8 })).output).toBe('8800');
    const reason = 'r'.repeat(123);
    const r = runAllSplits(
      'server',
      cf({ opcode: 8, payload: concatBytes([hex('03e8'), utf8(reason)]) }),
    );
    expect(r.events[0]).toEqual({ type: 'close-received', code: 1000, reason });
    expect(r.output).toBe('880203e8');
  });
  it('1-byte payload → 1002', () => {
    expectFail(cf({ opcode: 8, payload: hex('03') }), 1002, 'INVALID_CLOSE_PAYLOAD');
  });
  it('reason with invalid UTF-8 → 1007; valid multibyte reason accepted', () => {
    expectFail(
      cf({ opcode: 8, payload: hex('03e8 cebae1bdb9cf83cebcceb5eda080') }),
      1007,
      'INVALID_UTF8',
    );
    const r = runAllSplits(
      'server',
      cf({ opcode: 8, payload: hex('03e8 cebae1bdb9cf83cebcceb5') }),
    );
    expect(r.events[0]).toEqual({
      type: 'close-received',
      code: 1000,
      reason: Buffer.from('cebae1bdb9cf83cebcceb5', 'hex').toString('utf8'),
    });
  });
  it('every code 0-5000: valid ones echoed, others → 1002', () => {
    const valid = (c: number) =>
      (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014) || (c >= 3000 && c <= 4999);
    const codes = [...Array(5001).keys()].filter(
      (c) =>
        c % 97 === 0 || (c >= 995 && c <= 1020) || [2999, 3000, 3999, 4000, 4999, 5000].includes(c),
    );
    for (const code of codes) {
      const payload = Uint8Array.of(code >> 8, code & 0xff);
      const r = runAllSplits('server', cf({ opcode: 8, payload }));
      if (valid(code)) {
        expect(r.events[0], `${code}`).toEqual({ type: 'close-received', code, reason: '' });
        expect(closeCodeOf(r.output)).toBe(code);
      } else {
        expect(r.events[0], `${code}`).toMatchObject({
          type: 'error',
          kind: 'INVALID_CLOSE_CODE',
          wireCode: 1002,
        });
        expect(closeCodeOf(r.output)).toBe(1002);
      }
    }
  });
  it('codes above 5000 up to 65535 → 1002', () => {
    for (const code of [5001, 6000, 65535]) {
      expectFail(cf({ opcode: 8, payload: Uint8Array.of(code >> 8, code & 0xff) }), 1002);
    }
  });
  it('nothing is accepted after close: data, ping, second close', () => {
    const input = concatBytes([
      cf({ opcode: 8, payload: hex('03e8') }),
      cf({ opcode: 1, payload: utf8('x') }),
      cf({ opcode: 9 }),
      cf({ opcode: 8 }),
    ]);
    const r = runAllSplits('server', input);
    expect(r.events.map((e) => (e as { type: string }).type)).toEqual(['close-received', 'closed']);
    expect(r.output).toBe('880203e8');
  });
});
