/**
 * memberlist's framing around messages, for packets (UDP) and streams (TCP):
 *
 * - packets: `[label header]? ( encrypted([crc wrapper]? msg) | [crc wrapper]? msg )`, where
 *   msg may be a compound (`[7][n][n × u16 length][parts]`) or compressed
 *   (`[9]{Algo, Buf}`) message wrapping others (net.go `ingestPacket`, `handleCommand`,
 *   util.go `makeCompoundMessage`);
 * - streams: `[label header]? ( [10][u32 length][encrypted] | msg )` where msg may be
 *   compressed, then a push-pull, user, ping, ack or err message (net.go `readStream`,
 *   `rawSendMsgStream`, `encryptLocalState`).
 *
 * {@link WireCodec} holds the options both need (label, keyring, compression) and never
 * throws anything but GossipError / GossipCryptoError / GossipCompressError / LzwError on
 * bad input.
 */
import { crc32 } from 'node:zlib';
import { InvalidOptionError } from '../../../errors.js';
import { GossipError, GossipErrorCodes, malformed } from '../errors.js';
import { compressPayload, decompressPayload } from './compress.js';
import {
  decryptPayload,
  decryptStreamPayload,
  encryptOverhead,
  encryptPayload,
  encryptStreamPayload,
  STREAM_HEADER_SIZE,
} from './crypto.js';
import type { EncryptionVersion, RandomSource } from './crypto.js';
import type { Keyring } from './keyring.js';
import {
  decodePushNodeState,
  decodePushPullHeader,
  decodeUserMsgHeader,
  MessageType,
} from './messages.js';
import type { PushNodeState, PushPullHeader } from './messages.js';
import { NEED_MORE, skipValue } from './msgpack.js';

/** memberlist's `compoundHeaderOverhead` and per-part `compoundOverhead`. */
export const COMPOUND_HEADER_OVERHEAD = 2;
export const COMPOUND_OVERHEAD = 2;
/** Most parts in one compound message (the count is one byte). */
export const MAX_COMPOUND_PARTS = 255;
/** memberlist's `LabelMaxSize`. */
export const LABEL_MAX_SIZE = 255;

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder();

/** Builds one compound message of up to 255 parts. */
export function encodeCompound(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length > MAX_COMPOUND_PARTS) throw new RangeError('more than 255 compound parts');
  let size = 2 + 2 * parts.length;
  for (const p of parts) {
    if (p.length > 0xffff) throw new RangeError('compound part longer than 65535 bytes');
    size += p.length;
  }
  const out = new Uint8Array(size);
  out[0] = MessageType.Compound;
  out[1] = parts.length;
  let at = 2;
  for (const p of parts) {
    out[at++] = p.length >>> 8;
    out[at++] = p.length & 0xff;
  }
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Splits `parts` into compound messages of at most 255 parts (memberlist `makeCompoundMessages`). */
export function encodeCompounds(parts: readonly Uint8Array[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < parts.length; i += MAX_COMPOUND_PARTS) {
    out.push(encodeCompound(parts.slice(i, i + MAX_COMPOUND_PARTS)));
  }
  return out;
}

/**
 * Decodes a compound body (after the type byte). Like memberlist, parts cut off by the end
 * of the packet are dropped and counted in `truncated`.
 */
export function decodeCompound(body: Uint8Array): { parts: Uint8Array[]; truncated: number } {
  if (body.length < 1) throw malformed('compound message without a part count');
  const n = body[0]!;
  if (body.length < 1 + 2 * n) throw malformed('compound message with truncated lengths');
  const parts: Uint8Array[] = [];
  let at = 1 + 2 * n;
  for (let i = 0; i < n; i++) {
    const len = (body[1 + 2 * i]! << 8) | body[2 + 2 * i]!;
    if (at + len > body.length) return { parts, truncated: n - i };
    parts.push(body.subarray(at, at + len));
    at += len;
  }
  return { parts, truncated: 0 };
}

/** Prefixes the label header `[244][len][label]` ('' adds nothing). */
export function addLabelHeader(buf: Uint8Array, label: Uint8Array): Uint8Array {
  if (label.length === 0) return buf;
  const out = new Uint8Array(2 + label.length + buf.length);
  out[0] = MessageType.HasLabel;
  out[1] = label.length;
  out.set(label, 2);
  out.set(buf, 2 + label.length);
  return out;
}

/** Splits a label header off `buf` (memberlist `RemoveLabelHeaderFromPacket`). */
export function removeLabelHeader(buf: Uint8Array): { label: Uint8Array; rest: Uint8Array } {
  if (buf.length === 0 || buf[0] !== MessageType.HasLabel) {
    return { label: new Uint8Array(0), rest: buf };
  }
  if (buf.length < 2) throw malformed('truncated label header');
  const size = buf[1]!;
  if (size < 1) throw malformed('label header cannot be empty when present');
  if (buf.length < 2 + size) throw malformed('truncated label header');
  return { label: buf.subarray(2, 2 + size), rest: buf.subarray(2 + size) };
}

/** Wraps `msg` as `[12][crc32 BE][msg]` (memberlist, to members with protocol ≥ 5). */
export function addCrc(msg: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + msg.length);
  out[0] = MessageType.HasCrc;
  new DataView(out.buffer).setUint32(1, crc32(msg));
  out.set(msg, 5);
  return out;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Options shared by packets and streams. */
export interface WireOptions {
  /** memberlist's `Label`: authenticated, and packets with another label are dropped. */
  readonly label?: string;
  /** Keys for AES-GCM (Serf's `-encrypt`); encryption is on when it holds a key. */
  readonly keyring?: Keyring;
  /** 1 for protocol ≥ 2 (the default), 0 to pad as protocol 1 did. */
  readonly encryptionVersion?: EncryptionVersion;
  /** Drop unencrypted input when encryption is on (memberlist `GossipVerifyIncoming`). Default true. */
  readonly verifyIncoming?: boolean;
  /** Encrypt output when encryption is on (memberlist `GossipVerifyOutgoing`). Default true. */
  readonly verifyOutgoing?: boolean;
  /** Compress messages with LZW as memberlist `EnableCompression` (Serf's default). Default true. */
  readonly compression?: boolean;
  /** Nonces for encryption. */
  readonly random: RandomSource;
  /** Largest decompressed packet. Default 64 KiB. */
  readonly maxPacketBytes?: number;
  /** Largest stream message, before or after decompression. Default 20 MiB (memberlist's). */
  readonly maxStreamBytes?: number;
  /** Most messages one packet may unfold into. Default 1024. */
  readonly maxPacketMessages?: number;
}

/** A push-pull stream message, decoded. */
export interface PushPull {
  header: PushPullHeader;
  nodes: PushNodeState[];
  userState: Uint8Array;
}

/** One message read off a stream: its type and the bytes after the type byte. */
export interface StreamMessage {
  type: number;
  body: Uint8Array;
}

const MAX_NESTING = 4;

/**
 * Our own bounds on unfolding (nesting depth, message count): a packet that hits one is
 * hostile and dropped whole, unlike a merely malformed part of a compound.
 */
class UnfoldLimitError extends GossipError {
  constructor(message: string) {
    super(GossipErrorCodes.TOO_LARGE, message);
  }
}

/** Packet and stream framing with one set of options. */
export class WireCodec {
  readonly label: Uint8Array;
  readonly #keyring: Keyring | undefined;
  readonly #version: EncryptionVersion;
  readonly #verifyIncoming: boolean;
  readonly #verifyOutgoing: boolean;
  readonly compression: boolean;
  readonly #random: RandomSource;
  readonly maxPacketBytes: number;
  readonly maxStreamBytes: number;
  readonly #maxMessages: number;

  constructor(options: WireOptions) {
    this.label = utf8.encode(options.label ?? '');
    if (this.label.length > LABEL_MAX_SIZE) {
      throw new InvalidOptionError(`label is longer than ${LABEL_MAX_SIZE} bytes`);
    }
    this.#keyring = options.keyring;
    this.#version = options.encryptionVersion ?? 1;
    this.#verifyIncoming = options.verifyIncoming ?? true;
    this.#verifyOutgoing = options.verifyOutgoing ?? true;
    this.compression = options.compression ?? true;
    this.#random = options.random;
    this.maxPacketBytes = options.maxPacketBytes ?? 64 * 1024;
    this.maxStreamBytes = options.maxStreamBytes ?? 20 * 1024 * 1024;
    this.#maxMessages = options.maxPacketMessages ?? 1024;
  }

  get encrypted(): boolean {
    return this.#keyring?.encryptionEnabled === true;
  }

  /** Bytes a packet's framing adds (label and encryption), for sizing piggybacked gossip. */
  get packetOverhead(): number {
    return (
      (this.label.length > 0 ? 2 + this.label.length : 0) +
      (this.encrypted && this.#verifyOutgoing ? encryptOverhead(this.#version) : 0)
    );
  }

  /**
   * Seals one message (possibly a compound) into a datagram: compressed when that is
   * shorter, CRC-wrapped when `crc`, encrypted, labelled.
   */
  sealPacket(msg: Uint8Array, crc = false): Uint8Array {
    let out = msg;
    if (this.compression) {
      const c = compressPayload(out);
      if (c.length < out.length) out = c;
    }
    if (crc) out = addCrc(out);
    if (this.encrypted && this.#verifyOutgoing) {
      out = encryptPayload(
        this.#version,
        this.#keyring!.primaryKey!,
        out,
        this.label,
        this.#random,
      );
    }
    return addLabelHeader(out, this.label);
  }

  /**
   * Opens a datagram into its messages (each still starting with its type byte), with
   * compound and compressed messages unfolded. Throws when the datagram as a whole is bad
   * (label, decryption, CRC, a malformed outer message, or our nesting and message-count
   * limits). A bad part of a compound (empty, undecompressable, a malformed nested
   * compound) or parts cut off by the end of the packet are dropped alone and reported
   * to `onBadPart`; the other parts are still returned, as memberlist's `handleCompound`
   * (net.go) handles each part on its own.
   */
  openPacket(datagram: Uint8Array, onBadPart?: (err: Error) => void): Uint8Array[] {
    const { label, rest } = removeLabelHeader(datagram);
    if (!equalBytes(label, this.label)) {
      throw new GossipError(
        GossipErrorCodes.LABEL_MISMATCH,
        `packet label "${utf8Decoder.decode(label)}" is not ours`,
      );
    }
    let buf = rest;
    if (this.encrypted) {
      try {
        buf = decryptPayload(this.#keyring!.keys, buf, this.label);
      } catch (err) {
        if (this.#verifyIncoming) throw err;
      }
    }
    if (buf.length >= 5 && buf[0] === MessageType.HasCrc) {
      const expected = new DataView(buf.buffer, buf.byteOffset + 1, 4).getUint32(0);
      const body = buf.subarray(5);
      if (crc32(body) !== expected) {
        throw new GossipError(GossipErrorCodes.BAD_CHECKSUM, 'packet CRC-32 does not match');
      }
      buf = body;
    }
    const out: Uint8Array[] = [];
    this.#unfold(buf, 0, out, onBadPart);
    return out;
  }

  #unfold(
    msg: Uint8Array,
    depth: number,
    out: Uint8Array[],
    onBadPart: ((err: Error) => void) | undefined,
  ): void {
    if (msg.length < 1) throw malformed('missing message type byte');
    if (depth > MAX_NESTING) throw new UnfoldLimitError('compound/compress nesting too deep');
    const type = msg[0]!;
    if (type === MessageType.Compound) {
      const { parts, truncated } = decodeCompound(msg.subarray(1));
      // net.go handleCompound: each part is handled (and may fail) on its own.
      for (const part of parts) {
        try {
          this.#unfold(part, depth + 1, out, onBadPart);
        } catch (err) {
          if (err instanceof UnfoldLimitError) throw err;
          onBadPart?.(err as Error);
        }
      }
      if (truncated > 0) {
        onBadPart?.(malformed(`compound message with ${truncated} truncated parts`));
      }
    } else if (type === MessageType.Compress) {
      this.#unfold(
        decompressPayload(msg.subarray(1), this.maxPacketBytes),
        depth + 1,
        out,
        onBadPart,
      );
    } else {
      if (out.length >= this.#maxMessages) {
        throw new UnfoldLimitError('packet unfolds into too many messages');
      }
      out.push(msg);
    }
  }

  /** Seals one stream message: compressed when enabled, encrypted, labelled. */
  sealStream(msg: Uint8Array): Uint8Array {
    let out = msg;
    if (this.compression) out = compressPayload(out);
    if (this.encrypted && this.#verifyOutgoing) {
      out = encryptStreamPayload(
        this.#version,
        this.#keyring!.primaryKey!,
        out,
        this.label,
        this.#random,
      );
    }
    return addLabelHeader(out, this.label);
  }

  /**
   * How many bytes of `buf` (the start of a stream) make one whole message, or undefined
   * when more are needed. Throws when the message is malformed or exceeds maxStreamBytes.
   */
  frameStream(buf: Uint8Array): number | undefined {
    const end = this.#frame(buf);
    // Bound the message whether it is still arriving or arrived whole in one read.
    if ((end ?? buf.length) > this.maxStreamBytes) {
      throw new GossipError(
        GossipErrorCodes.TOO_LARGE,
        `stream message exceeds ${this.maxStreamBytes} bytes`,
      );
    }
    return end;
  }

  #frame(buf: Uint8Array): number | undefined {
    let at = 0;
    if (buf.length === 0) return undefined;
    if (buf[0] === MessageType.HasLabel) {
      if (buf.length < 2) return undefined;
      if (buf[1] === 0) throw malformed('label header cannot be empty when present');
      at = 2 + buf[1]!;
    }
    if (buf.length <= at) return undefined;
    const type = buf[at]!;
    if (type === MessageType.Encrypt) {
      if (buf.length < at + STREAM_HEADER_SIZE) return undefined;
      const len = new DataView(buf.buffer, buf.byteOffset + at + 1, 4).getUint32(0);
      if (len > this.maxStreamBytes) {
        throw new GossipError(
          GossipErrorCodes.TOO_LARGE,
          `remote state of ${len} bytes is larger than ${this.maxStreamBytes}`,
        );
      }
      const end = at + STREAM_HEADER_SIZE + len;
      return buf.length >= end ? end : undefined;
    }
    if (type === MessageType.Compress) {
      const end = skipValue(buf, at + 1);
      return end === NEED_MORE ? undefined : end;
    }
    const end = innerEnd(buf, at + 1, type);
    return end === NEED_MORE ? undefined : end;
  }

  /** Opens a framed stream message (see {@link frameStream}). */
  openStream(frame: Uint8Array): StreamMessage {
    const { label, rest } = removeLabelHeader(frame);
    if (!equalBytes(label, this.label)) {
      throw new GossipError(
        GossipErrorCodes.LABEL_MISMATCH,
        `stream label "${utf8Decoder.decode(label)}" is not ours`,
      );
    }
    let buf = rest;
    if (buf.length < 1) throw malformed('empty stream message');
    if (buf[0] === MessageType.Encrypt) {
      if (!this.encrypted) {
        throw new GossipError(
          GossipErrorCodes.ENCRYPTION_MISMATCH,
          'remote state is encrypted and encryption is not configured',
        );
      }
      buf = decryptStreamPayload(this.#keyring!.keys, buf, this.label);
      if (buf.length < 1) throw malformed('empty decrypted stream message');
    } else if (this.encrypted && this.#verifyIncoming) {
      throw new GossipError(
        GossipErrorCodes.ENCRYPTION_MISMATCH,
        'encryption is configured but remote state is not encrypted',
      );
    }
    if (buf[0] === MessageType.Compress) {
      const end = skipValue(buf, 1);
      if (end === NEED_MORE) throw malformed('truncated compress message');
      buf = decompressPayload(buf.subarray(1, end), this.maxStreamBytes);
      if (buf.length < 1) throw malformed('decompressed message is empty');
    }
    const type = buf[0]!;
    const end = innerEnd(buf, 1, type);
    if (end === NEED_MORE) throw malformed(`truncated stream message of type ${type}`);
    return { type, body: buf.subarray(1, end) };
  }
}

/** Where a stream message of `type` whose body starts at `at` ends, or NEED_MORE. */
function innerEnd(buf: Uint8Array, at: number, type: number): number {
  switch (type) {
    case MessageType.PushPull: {
      const headerEnd = skipValue(buf, at);
      if (headerEnd === NEED_MORE) return NEED_MORE;
      const header = decodePushPullHeader(buf.subarray(at, headerEnd));
      let end = headerEnd;
      for (let i = 0; i < header.nodes; i++) {
        end = skipValue(buf, end);
        if (end === NEED_MORE) return NEED_MORE;
      }
      end += header.userStateLen;
      return end <= buf.length ? end : NEED_MORE;
    }
    case MessageType.User: {
      const headerEnd = skipValue(buf, at);
      if (headerEnd === NEED_MORE) return NEED_MORE;
      const end = headerEnd + decodeUserMsgHeader(buf.subarray(at, headerEnd)).userMsgLen;
      return end <= buf.length ? end : NEED_MORE;
    }
    case MessageType.Ping:
    case MessageType.Ack:
    case MessageType.Err:
    case MessageType.Nack:
      return skipValue(buf, at);
    default:
      throw new GossipError(GossipErrorCodes.UNKNOWN_TYPE, `invalid stream message type ${type}`);
  }
}

/** Decodes a push-pull body (after the type byte), bounded by `maxNodes`. */
export function decodePushPull(body: Uint8Array, maxNodes: number): PushPull {
  const headerEnd = skipValue(body, 0);
  if (headerEnd === NEED_MORE) throw malformed('truncated push-pull header');
  const header = decodePushPullHeader(body.subarray(0, headerEnd));
  if (header.nodes > maxNodes) {
    throw new GossipError(
      GossipErrorCodes.TOO_LARGE,
      `push-pull carries ${header.nodes} nodes; the limit is ${maxNodes}`,
    );
  }
  const nodes: PushNodeState[] = [];
  let at = headerEnd;
  for (let i = 0; i < header.nodes; i++) {
    const end = skipValue(body, at);
    if (end === NEED_MORE) throw malformed('truncated push-pull node state');
    nodes.push(decodePushNodeState(body.subarray(at, end)));
    at = end;
  }
  if (at + header.userStateLen > body.length) throw malformed('truncated push-pull user state');
  return { header, nodes, userState: body.subarray(at, at + header.userStateLen) };
}

/** Decodes a user stream body (after the type byte) into the user message. */
export function decodeUserStream(body: Uint8Array): Uint8Array {
  const headerEnd = skipValue(body, 0);
  if (headerEnd === NEED_MORE) throw malformed('truncated user message header');
  const { userMsgLen } = decodeUserMsgHeader(body.subarray(0, headerEnd));
  if (headerEnd + userMsgLen > body.length) throw malformed('truncated user message');
  return body.subarray(headerEnd, headerEnd + userMsgLen);
}
