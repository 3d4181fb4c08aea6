/** The broadcast states a broadcast-connected operator declared: writable for one side, read-only for the other. */
import type { MapStateDescriptor } from '../../state/descriptors.ts';
import type {
  BroadcastState,
  OperatorStateStore,
  ReadOnlyBroadcastState,
} from '../../state/operator-state.ts';

/**
 * Opened once; lookups are by descriptor name. Asking for a descriptor that was not given to
 * `broadcast(...)` fails on both sides, as in Flink: silently creating an empty state would
 * hide a typo until the job runs wrong.
 *
 * @example
 * ```ts
 * const states = new DeclaredBroadcastStates(descriptors);
 * states.open(this.context.operatorStateStore, this.context.operatorName);
 * states.readOnly(rules).get('max');
 * ```
 */
export class DeclaredBroadcastStates {
  readonly #descriptors: readonly MapStateDescriptor<unknown, unknown>[];
  #operatorName = '';
  readonly #writable = new Map<string, BroadcastState<unknown, unknown>>();
  readonly #readOnly = new Map<string, ReadOnlyBroadcastState<unknown, unknown>>();

  constructor(descriptors: readonly MapStateDescriptor<unknown, unknown>[]) {
    this.#descriptors = descriptors;
  }

  open(store: OperatorStateStore, operatorName: string): void {
    this.#operatorName = operatorName;
    for (const descriptor of this.#descriptors) {
      const state = store.getBroadcastState(descriptor);
      this.#writable.set(descriptor.name, state);
      // A separate object, so the element side cannot reach put/remove even through a cast.
      this.#readOnly.set(
        descriptor.name,
        Object.freeze({
          get: (key: unknown) => state.get(key),
          contains: (key: unknown) => state.contains(key),
          entries: () => state.entries(),
        }),
      );
    }
  }

  writable<K, V>(descriptor: MapStateDescriptor<K, V>): BroadcastState<K, V> {
    return (this.#writable.get(descriptor.name) ?? this.#undeclared(descriptor)) as BroadcastState<K, V>;
  }

  readOnly<K, V>(descriptor: MapStateDescriptor<K, V>): ReadOnlyBroadcastState<K, V> {
    return (this.#readOnly.get(descriptor.name) ?? this.#undeclared(descriptor)) as ReadOnlyBroadcastState<
      K,
      V
    >;
  }

  #undeclared(descriptor: { readonly name: string }): never {
    const declared = this.#descriptors.map((d) => `'${d.name}'`).join(', ') || 'none';
    throw new Error(
      `broadcast state '${descriptor.name}' was not declared: pass its descriptor to broadcast(...) (declared: ${declared}) — operator '${this.#operatorName}'`,
    );
  }
}
