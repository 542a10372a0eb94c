/**
 * quiche's sans-I/O API through the prebuilt napi binding shipped by @matrixai/quic
 * (`@matrixai/quic/native/index.js`). Only the native module is used: ghostnet's own
 * driver (connection.ts, ../quic.ts) does the I/O; @matrixai/quic's QUICServer/QUICClient
 * layer is not loaded.
 *
 * The binding is loaded on first use so importing the transport does not load a native
 * module.
 */
import { GhostnetError } from '../../errors.js';
import type * as Native from '@matrixai/quic/native/index.js';

export type Quiche = Native.Quiche;
export type QuicheConfig = Native.Config;
export type QuicheConnection = Native.Connection;
export type QuicheHost = Native.Host;
export type QuicheStats = Native.Stats;
export type QuichePathStats = Native.PathStats;
export type QuicheConnectionError = Native.ConnectionError;

let loading: Promise<Quiche> | undefined;
let loaded: Quiche | undefined;

/** Loads the native binding once. */
export async function loadQuiche(): Promise<Quiche> {
  loading ??= import('@matrixai/quic/native/index.js').then((m) => {
    loaded = m.quiche;
    return m.quiche;
  });
  return loading;
}

/** The binding after `loadQuiche()` resolved (throws before). */
export function quicheSync(): Quiche {
  if (loaded === undefined) {
    throw new GhostnetError(
      'GN_ERR_QUIC_NOT_LOADED',
      'quiche is not loaded yet: await loadQuiche() first',
    );
  }
  return loaded;
}

/**
 * quiche reports errors as exceptions whose message is the Rust error's name: `Done`,
 * `StreamReset(7)`, `StreamStopped(256)`, `InvalidStreamState(4)`, `TlsFail`, … These
 * helpers read them.
 */
export function quicheErrorName(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** True when quiche said "no more work" (`Done`). */
export function isDone(err: unknown): boolean {
  return quicheErrorName(err) === 'Done';
}

/** The application code of `StreamReset(N)` / `StreamStopped(N)`, or undefined. */
export function streamErrorCode(
  err: unknown,
  kind: 'StreamReset' | 'StreamStopped',
): number | undefined {
  const m = /^(\w+)\((\d{1,16})\)$/.exec(quicheErrorName(err));
  if (m === null || m[1] !== kind) return undefined;
  return Number(m[2]);
}
