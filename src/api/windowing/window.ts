/** The window contract: a finite or unbounded slice of a keyed stream that state and timers are scoped to. */

/**
 * A window groups elements for one key. The operator keeps each window's contents in keyed
 * state under the window's namespace, registers timers under it, and emits a window's
 * results with timestamp `maxTimestamp()`.
 */
export interface Window {
  /** The largest timestamp that still belongs to this window. */
  maxTimestamp(): number;
}

/**
 * Turns a window into the namespace its state and timers live under, and back. A fired
 * timer carries only the namespace, so the round trip must be exact; the namespace is also
 * written into snapshots, so its format is part of the savepoint format.
 */
export interface WindowCodec<W extends Window> {
  toNamespace(window: W): string | number;
  fromNamespace(namespace: string | number): W;
}
