/** The disk state backend: keyed state in an embedded lmdb store per operator subtask, behind a bounded write-back cache. */
export {
  DEFAULT_CACHE_ENTRIES_MAX,
  DEFAULT_STATE_DIRECTORY,
  DiskKeyedStateBackend,
  type DiskKeyedStateBackendOptions,
  type DiskStateBackendOptions,
  diskStateBackend,
  IN_FLIGHT_BYTES_MAX,
} from './disk-keyed-state-backend.ts';
export { DiskKeyedStateSnapshot } from './disk-keyed-state-snapshot.ts';
