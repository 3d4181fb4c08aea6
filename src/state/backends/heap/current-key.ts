/** The current key of a heap backend, shared (read-only) with every state table and handle it created. */
import type { MapKey } from './map-key.ts';

/**
 * One mutable record instead of getters on the backend, so a state access reads two plain
 * fields. `groupIndex` is `keyGroup - range.start`, or -1 while no key is set (and after dispose).
 */
export class CurrentKey {
  key: unknown = undefined;
  keyGroup = -1;
  groupIndex = -1;
  mapKey: MapKey = '';
}
