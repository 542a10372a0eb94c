/**
 * Event listeners shared by every instance of a class that listens to one emitter per
 * connection (a transport wrapper on its socket, a protocol session on its transport).
 *
 * An arrow function per event per connection costs a closure, and the context it closes
 * over, on every connection for its whole life — ~60 bytes each, which adds up over tens of
 * thousands of idle connections. Instead the owner stores itself in a symbol-keyed slot on
 * the emitter, and one function per event, made once per class, finds it there: node's
 * EventEmitter calls a listener with the emitter as `this`.
 *
 * The calls are arrow functions written in the owner's class body (a static block), so
 * they may reach its private members. Listeners take at most two arguments (no rest array
 * per event on the data path).
 */

/** A listener made by `slotListeners`: `this` is the emitter holding the slot. */
export type SlotListener = (this: object, a?: unknown, b?: unknown) => void;

/**
 * One listener per key of `calls`: each reads the owner from `this[slot]` and runs its
 * call with the owner and the event's (up to two) arguments.
 */
export function slotListeners<Owner, K extends string>(
  slot: symbol,
  calls: Record<K, (owner: Owner, a: never, b: never) => void>,
): Readonly<Record<K, SlotListener>> {
  const out = {} as Record<K, SlotListener>;
  for (const key of Object.keys(calls) as K[]) {
    const call = calls[key] as (owner: Owner, a: unknown, b: unknown) => void;
    out[key] = function (this: object, a?: unknown, b?: unknown): void {
      call((this as Record<symbol, Owner>)[slot]!, a, b);
    };
  }
  return Object.freeze(out);
}

/** What `attachSlotListeners` needs of an emitter (node's EventEmitter and net.Socket). */
interface Listenable {
  on(event: string, listener: SlotListener): unknown;
}

/**
 * Stores `owner` in `emitter[slot]` and adds every listener of `listeners` for the event of
 * its key, in key order.
 */
export function attachSlotListeners<K extends string>(
  emitter: object,
  slot: symbol,
  owner: unknown,
  listeners: Readonly<Record<K, SlotListener>>,
): void {
  (emitter as Record<symbol, unknown>)[slot] = owner;
  for (const key of Object.keys(listeners) as K[]) {
    (emitter as Listenable).on(key, listeners[key]);
  }
}
