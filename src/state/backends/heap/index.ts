/** The heap state backend: keyed state in JS Maps and operator state in plain arrays and Maps. */
export {
  HeapKeyedStateBackend,
  type HeapKeyedStateBackendOptions,
  hashMapStateBackend,
} from './heap-keyed-state-backend.ts';
export { HeapKeyedStateSnapshot } from './heap-keyed-state-snapshot.ts';
export {
  HeapOperatorStateStore,
  type ListDistributionMode,
  type OperatorListStateData,
} from './heap-operator-state-store.ts';
export { type CopyOnWriteStats, type KeyGroupMaps, type Namespace, StateTable } from './state-table.ts';
export { TTL_CLEANUP_ENTRIES_PER_ACCESS } from './ttl.ts';
