/**
 * quiche's sans-I/O API through the prebuilt napi binding shipped by @matrixai/quic
 * (`@matrixai/quic/dist/native`). Only the native module is used: ghostnet's own
 * driver (connection.ts, ../quic.ts) does the I/O; @matrixai/quic's QUICServer/QUICClient
 * layer is not loaded.
 *
 * The binding is loaded on first use so importing the transport does not load a native
 * module.
 */
import { GhostnetError } from '../../errors.js';
import type * as Native from '@matrixai/quic/dist/native/index.js';

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
  // 1.2.12 is pinned: it is the newest release whose prebuilt binaries exist for every
  // platform it lists (2.0.9 names packages that were never published, so `npm ci` fails).
  // The package is CommonJS, so the binding may sit on the default export.
  loading ??= import('@matrixai/quic/dist/native/index.js').then((m) => {
    const mod = m as unknown as { quiche?: Quiche; default?: { quiche: Quiche } };
    const q = mod.quiche ?? mod.default?.quiche;
    if (q === undefined)
      throw new GhostnetError('GN_ERR_QUIC_NOT_LOADED', 'the quiche binding did not load');
    loaded = q;
    return q;
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
