import { describe, expect, it } from 'vitest';
import {
  FrameWriter,
  paddedEnd,
  readFrameHeader,
  readUint31,
  readUint32,
  writeHeader,
} from '../../../src/protocols/http2/frame.js';
import type { FrameHeader } from '../../../src/protocols/http2/frame.js';
import { ErrorCode, FrameType, SettingId } from '../../../src/protocols/http2/codes.js';

const hex = (chunks: Uint8Array[]): string => Buffer.concat(chunks).toString('hex');
const h = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

function write(fn: (w: FrameWriter, out: Uint8Array[]) => void): string {
  const w = new FrameWriter();
  const out: Uint8Array[] = [];
  fn(w, out);
  w.take(out);
  return hex(out);
}

describe('FrameWriter (RFC 9113 §4.1, §6)', () => {
  it('writes SETTINGS as (id, value) pairs of 6 octets (§6.5.1)', () => {
    expect(
      write((w, o) =>
        w.settings(o, [
          [SettingId.MAX_CONCURRENT_STREAMS, 100],
          [SettingId.INITIAL_WINDOW_SIZE, 65535],
          [SettingId.MAX_FRAME_SIZE, 16777215],
        ]),
      ),
    ).toBe('000012' + '04' + '00' + '00000000' + '000300000064' + '00040000ffff' + '000500ffffff');
    expect(write((w, o) => w.settings(o, []))).toBe('000000040000000000');
  });

  it('writes a SETTINGS ACK with no payload (§6.5)', () => {
    expect(write((w, o) => w.settingsAck(o))).toBe('000000040100000000');
  });

  it('writes PING and PING ACK with the 8-octet payload (§6.7)', () => {
    const p = h('0102030405060708');
    expect(write((w, o) => w.ping(o, p, false))).toBe('000008060000000000' + '0102030405060708');
    expect(write((w, o) => w.ping(o, p, true))).toBe('000008060100000000' + '0102030405060708');
  });

  it('writes RST_STREAM with a 32-bit error code (§6.4)', () => {
    expect(write((w, o) => w.rstStream(o, 1, ErrorCode.CANCEL))).toBe(
      '000004030000000001' + '00000008',
    );
    expect(write((w, o) => w.rstStream(o, 0x7fffffff, 0xdeadbeef))).toBe(
      '00000403007fffffff' + 'deadbeef',
    );
  });

  it('writes WINDOW_UPDATE with the reserved bit cleared (§6.9)', () => {
    expect(write((w, o) => w.windowUpdate(o, 0, 983041))).toBe('000004080000000000' + '000f0001');
    expect(write((w, o) => w.windowUpdate(o, 3, 0xffffffff))).toBe(
      '000004080000000003' + '7fffffff',
    );
  });

  it('writes GOAWAY with last stream id, code and debug data (§6.8)', () => {
    expect(write((w, o) => w.goaway(o, 5, ErrorCode.INTERNAL_ERROR, Buffer.from('hi')))).toBe(
      '00000a070000000000' + '00000005' + '00000002' + '6869',
    );
    expect(write((w, o) => w.goaway(o, 0x7fffffff, 0, new Uint8Array(0)))).toBe(
      '000008070000000000' + '7fffffff' + '00000000',
    );
  });

  it('writes PRIORITY_UPDATE on stream 0 (RFC 9218 §7.1)', () => {
    expect(write((w, o) => w.priorityUpdate(o, 1, Buffer.from('u=0')))).toBe(
      '000007100000000000' + '00000001' + '753d30',
    );
  });

  it('clears the reserved bit of the stream id it writes (§4.1)', () => {
    const b = new Uint8Array(9);
    writeHeader(b, 0, 0x123456, FrameType.DATA, 1, 0x80000001);
    expect(Buffer.from(b).toString('hex')).toBe('123456' + '00' + '01' + '00000001');
  });

  it('hands out everything written since the last take as one chunk', () => {
    const w = new FrameWriter();
    const out: Uint8Array[] = [];
    w.settingsAck(out);
    w.ping(out, new Uint8Array(8), true);
    expect(w.pending).toBe(9 + 17);
    w.take(out);
    expect(out).toHaveLength(1);
    expect(w.pending).toBe(0);
    w.take(out);
    expect(out).toHaveLength(1);
  });

  it('moves to a new slab without overwriting bytes already handed out', () => {
    const w = new FrameWriter();
    const out: Uint8Array[] = [];
    const a = Buffer.alloc(10000, 0xaa);
    const b = Buffer.alloc(10000, 0xbb);
    w.frame(out, FrameType.DATA, 0, 1, a);
    w.take(out);
    const firstCopy = Buffer.from(out[0]!);
    w.frame(out, FrameType.DATA, 0, 1, b); // does not fit the 16 KiB slab
    w.frame(out, FrameType.DATA, 0, 1, Buffer.alloc(20000, 0xcc)); // larger than a slab
    w.take(out);
    expect(Buffer.from(out[0]!).equals(firstCopy)).toBe(true);
    const all = Buffer.concat(out);
    expect(all.length).toBe(3 * 9 + 40000);
    expect(all.subarray(9, 10009).equals(a)).toBe(true);
    expect(all.subarray(10018, 20018).equals(b)).toBe(true);
    expect(all.subarray(20027).every((x) => x === 0xcc)).toBe(true);
  });
});

describe('readFrameHeader (§4.1)', () => {
  it('reads length, type, flags and the stream id with the reserved bit masked', () => {
    const fh: FrameHeader = { length: 0, type: 0, flags: 0, streamId: 0 };
    readFrameHeader(h('ffffff 01 25 80000003'), 0, fh);
    expect(fh).toEqual({ length: 16777215, type: 1, flags: 0x25, streamId: 3 });
    readFrameHeader(h('00 000010 09 04 ffffffff'), 1, fh);
    expect(fh).toEqual({ length: 16, type: 9, flags: 4, streamId: 0x7fffffff });
  });

  it('reads 31- and 32-bit values without going negative', () => {
    expect(readUint31(h('ffffffff'), 0)).toBe(0x7fffffff);
    expect(readUint32(h('ffffffff'), 0)).toBe(0xffffffff);
    expect(readUint32(h('80000000'), 0)).toBe(0x80000000);
  });
});

describe('paddedEnd (§6.1, §6.2)', () => {
  it('returns -1 when the Pad Length field is missing', () => {
    expect(paddedEnd(new Uint8Array(0), 0)).toBe(-1);
    expect(paddedEnd(h('0000'), 2)).toBe(-1);
  });

  it('accepts zero padding and padding that leaves no content', () => {
    expect(paddedEnd(h('00'), 0)).toBe(1);
    expect(paddedEnd(h('00 6162'), 0)).toBe(3);
    expect(paddedEnd(h('03 000000'), 0)).toBe(1);
    expect(paddedEnd(h('02 61 0000'), 0)).toBe(2);
  });

  it('rejects padding as long as the payload or longer (PROTOCOL_ERROR)', () => {
    expect(paddedEnd(h('01'), 0)).toBe(-1);
    expect(paddedEnd(h('04 000000'), 0)).toBe(-1);
    expect(paddedEnd(h('ff 00'), 0)).toBe(-1);
  });

  it('honours a start offset (the Pad Length after other fields)', () => {
    expect(paddedEnd(h('aaaa 01 62 00'), 2)).toBe(4);
    expect(paddedEnd(h('aaaa 02 00'), 2)).toBe(-1);
  });
});
