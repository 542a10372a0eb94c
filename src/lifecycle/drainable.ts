/**
 * What a server or node registers with the shutdown manager (lifecycle/shutdown.ts).
 *
 * Shutdown runs in three phases, in this order, across every registered component:
 * 1. `stopAccepting()` — refuse new connections or work; resolves once the listener is unbound.
 * 2. `drain()` — close idle connections at once and resolve when in-flight work is done
 *    (each busy connection is closed as soon as it becomes idle).
 * 3. `destroy()` — called when the drain deadline passes: tear down whatever is left.
 */
export interface Drainable {
  /** Used in logs and in the shutdown report. */
  readonly name: string;
  stopAccepting(): Promise<void> | void;
  drain(): Promise<void>;
  destroy(): Promise<void> | void;
}
