/** The entries of one keyed state on the heap, one map per key group, ready for copy-on-write snapshots. */
import type { StateDescriptor, StateTtlConfig } from '../../descriptors.ts';
import { VOID_NAMESPACE } from '../../keyed-state.ts';
import { fromBytes, toBytes } from '../../serializers/serialize-to-bytes.ts';
import type { TypeSerializer } from '../../serializers/type-serializer.ts';
import { copyValue, valueSerializer } from '../../serializers/value-serializer.ts';
import type { CurrentKey } from './current-key.ts';
import { fromMapKey, type MapKey } from './map-key.ts';
import { TTL_CLEANUP_ENTRIES_PER_ACCESS, TtlCell, type TtlCellOps } from './ttl.ts';

/** Window operators scope state to a window; everything else uses VOID_NAMESPACE. */
export type Namespace = string | number;

/** The cells of one key group: void-namespace cells by key, and other namespaces' by key then namespace. */
export interface KeyGroupMaps {
  readonly voidMap: ReadonlyMap<MapKey, unknown> | undefined;
  readonly namespaceMap: ReadonlyMap<MapKey, ReadonlyMap<Namespace, unknown>> | undefined;
}

/** Work copy-on-write has done since the table was created: counts, for tests and metrics. */
export interface CopyOnWriteStats {
  /** Groups whose maps were copied because they were shared with a snapshot. */
  readonly groupsCopied: number;
  /** Entries (keys of the void and namespace maps) those copies took over. */
  readonly cellsCopied: number;
  /** Values (or elements) deep-copied because user code might mutate them in place. */
  readonly valuesCopied: number;
}

/**
 * A cell is what one (key, namespace) holds: the value (value, reducing, aggregating
 * state), a non-empty array (list state) or a non-empty Map (map state); with TTL, TtlCells
 * in place of values or elements. `undefined` means no entry.
 *
 * Layout: arrays indexed by `keyGroup - range.start`, so a snapshot can take every group's
 * maps in O(key groups) and a rescale can move whole groups. The void namespace has its own
 * flat map per group (one lookup, no per-key allocation); other namespaces nest a map per key.
 *
 * Copy-on-write: `shareGroups()` hands out the current maps and marks every group shared.
 * Every write goes through `#ownVoidMap`/`#ownNamespaceMap`, which first copy a shared
 * group (its maps, and the list arrays and Maps inside, which handles mutate in place), so
 * what was handed out never changes.
 *
 * User values are shared too, and user code may mutate them in place (an aggregate
 * function's accumulator, an object read from value state and updated with itself). So
 * while a snapshot is pending, handles read values that user code gets to see through
 * `getMutable`, which deep-copies each object value once per snapshot (on its first such
 * read) and stores the copy in the live table: O(values read), not O(state). Once
 * `releaseShares()` says no snapshot is pending, nothing is copied at all.
 */
export class StateTable {
  readonly name: string;
  readonly kind: StateDescriptor['kind'];
  readonly ttl: StateTtlConfig | undefined;
  /** Values, list elements, map values, accumulators: the descriptor's serializer or the default. */
  readonly valueSerializer: TypeSerializer<unknown>;
  /** Map state's user-map keys. */
  readonly mapKeySerializer: TypeSerializer<unknown>;
  readonly #current: CurrentKey;
  readonly #ttlOps: TtlCellOps | undefined;
  #voidMaps: (Map<MapKey, unknown> | undefined)[];
  #namespaceMaps: (Map<MapKey, Map<Namespace, unknown>> | undefined)[];
  #shared: Uint8Array;
  /** 1 while a pending snapshot may reference the group's values (group maps copied or not). */
  #valuesShared: Uint8Array;
  /** Values deep-copied since the last snapshot: no pending snapshot references them. */
  #owned = new WeakSet<object>();
  #groupsCopied = 0;
  #cellsCopied = 0;
  #valuesCopied = 0;
  // Incremental TTL cleanup: a cursor over (group, void map then namespace map, key).
  #cursorGroup = 0;
  #cursorNamespaced = false;
  #cursorMap: Map<MapKey, unknown> | undefined;
  #cursorKeys: Iterator<MapKey> | undefined;

  constructor(options: {
    readonly name: string;
    readonly kind: StateDescriptor['kind'];
    readonly ttl: StateTtlConfig | undefined;
    readonly ttlOps: TtlCellOps | undefined;
    readonly current: CurrentKey;
    readonly groupCount: number;
    readonly valueSerializer?: TypeSerializer<unknown>;
    readonly mapKeySerializer?: TypeSerializer<unknown>;
  }) {
    this.name = options.name;
    this.kind = options.kind;
    this.ttl = options.ttl;
    this.valueSerializer = options.valueSerializer ?? valueSerializer;
    this.mapKeySerializer = options.mapKeySerializer ?? valueSerializer;
    this.#ttlOps = options.ttlOps;
    this.#current = options.current;
    this.#voidMaps = new Array(options.groupCount).fill(undefined);
    this.#namespaceMaps = new Array(options.groupCount).fill(undefined);
    this.#shared = new Uint8Array(options.groupCount);
    this.#valuesShared = new Uint8Array(options.groupCount);
  }

  /** How expired parts of this TTL state's cells are found; undefined without TTL. */
  get ttlOps(): TtlCellOps | undefined {
    return this.#ttlOps;
  }

  /** Number of key groups (the backend's range size). */
  get groupCount(): number {
    return this.#voidMaps.length;
  }

  /** The current key's cell in `namespace`. Handles must not mutate it: see `getForUpdate`. */
  get(namespace: Namespace): unknown {
    const current = this.#current;
    if (namespace === VOID_NAMESPACE) {
      const map = this.#voidMaps[current.groupIndex];
      return map === undefined ? undefined : map.get(current.mapKey);
    }
    return this.#namespaceMaps[current.groupIndex]?.get(current.mapKey)?.get(namespace);
  }

  /** Like `get`, but the returned array or Map belongs to the live table alone and may be mutated in place. */
  getForUpdate(namespace: Namespace): unknown {
    const current = this.#current;
    if (this.#shared[current.groupIndex] === 1) this.#unshare(current.groupIndex);
    return this.get(namespace);
  }

  /**
   * Like `get`, for reads that hand values to user code, which may mutate them in place:
   * while a snapshot may reference the cell's object values, they are deep-copied first
   * (once per snapshot) and the copy replaces them in the live table.
   */
  getMutable(namespace: Namespace): unknown {
    const cell = this.get(namespace);
    if (cell === undefined || this.#valuesShared[this.#current.groupIndex] === 0) return cell;
    const owned = this.#ownValues(cell);
    if (owned !== cell) this.set(namespace, owned);
    return owned;
  }

  set(namespace: Namespace, cell: unknown): void {
    const current = this.#current;
    const groupIndex = current.groupIndex;
    if (namespace === VOID_NAMESPACE) {
      let map = this.#voidMaps[groupIndex];
      if (map === undefined || this.#shared[groupIndex] !== 0) map = this.#ownVoidMap(groupIndex);
      map.set(current.mapKey, cell);
      return;
    }
    this.#setNamespaced(groupIndex, current.mapKey, namespace, cell);
  }

  delete(namespace: Namespace): void {
    this.#deleteAt(this.#current.groupIndex, this.#current.mapKey, namespace);
  }

  /**
   * Every key with a live entry in `namespace` (in any namespace when undefined), once each.
   * `nowMs` decides liveness for TTL states. Tolerates removals during iteration.
   */
  *keys(namespace: Namespace | undefined, nowMs: number): Generator<unknown> {
    const ops = this.#ttlOps;
    const live = (cell: unknown): boolean => ops === undefined || ops.hasLive(cell, nowMs);
    for (let groupIndex = 0; groupIndex < this.#voidMaps.length; groupIndex++) {
      const voidMap = this.#voidMaps[groupIndex];
      if (voidMap !== undefined && (namespace === undefined || namespace === VOID_NAMESPACE)) {
        for (const [mapKey, cell] of voidMap) if (live(cell)) yield fromMapKey(mapKey);
      }
      const namespaceMap = this.#namespaceMaps[groupIndex];
      if (namespaceMap === undefined || namespace === VOID_NAMESPACE) continue;
      for (const [mapKey, cells] of namespaceMap) {
        if (namespace !== undefined) {
          const cell = cells.get(namespace);
          if (cell !== undefined && live(cell)) yield fromMapKey(mapKey);
          continue;
        }
        const voidCell = voidMap?.get(mapKey);
        if (voidCell !== undefined && live(voidCell)) continue; // yielded above
        for (const cell of cells.values()) {
          if (live(cell)) {
            yield fromMapKey(mapKey);
            break;
          }
        }
      }
    }
  }

  /**
   * Incremental TTL cleanup: inspects up to TTL_CLEANUP_ENTRIES_PER_ACCESS further entries
   * (a key's namespaces count as one; an empty group counts as one step) from a rolling
   * cursor and removes what has expired.
   */
  cleanupStep(nowMs: number): void {
    const ops = this.#ttlOps;
    if (ops === undefined) return;
    const groupCount = this.#voidMaps.length;
    for (let step = 0; step < TTL_CLEANUP_ENTRIES_PER_ACCESS && groupCount > 0; step++) {
      const map = this.#cursorNamespaced
        ? this.#namespaceMaps[this.#cursorGroup]
        : this.#voidMaps[this.#cursorGroup];
      if (map === undefined) {
        this.#advanceCursor(groupCount);
        continue;
      }
      if (this.#cursorMap !== map) {
        // First visit, or the group was copied on write since: restart on the live map.
        this.#cursorMap = map as Map<MapKey, unknown>;
        this.#cursorKeys = map.keys();
      }
      const next = this.#cursorKeys!.next();
      if (next.done === true) {
        this.#advanceCursor(groupCount);
        continue;
      }
      if (this.#cursorNamespaced) this.#purgeNamespaced(this.#cursorGroup, next.value, nowMs, ops);
      else this.#purgeVoid(this.#cursorGroup, next.value, nowMs, ops);
    }
  }

  /**
   * Hands out every group's current maps and marks all groups shared, in O(key groups):
   * later writes copy a group first, so the returned maps stay as they are. For snapshots.
   */
  shareGroups(): KeyGroupMaps[] {
    const groups: KeyGroupMaps[] = [];
    for (let groupIndex = 0; groupIndex < this.#voidMaps.length; groupIndex++) {
      groups.push({ voidMap: this.#voidMaps[groupIndex], namespaceMap: this.#namespaceMaps[groupIndex] });
    }
    this.#shared.fill(1);
    this.#valuesShared.fill(1);
    // Copies made for an earlier snapshot are in this one: they need copying again.
    this.#owned = new WeakSet();
    return groups;
  }

  /** No snapshot is pending any more: the live table may mutate everything in place again. O(key groups). */
  releaseShares(): void {
    this.#shared.fill(0);
    this.#valuesShared.fill(0);
  }

  copyStats(): CopyOnWriteStats {
    return {
      groupsCopied: this.#groupsCopied,
      cellsCopied: this.#cellsCopied,
      valuesCopied: this.#valuesCopied,
    };
  }

  /**
   * Puts a restored cell at (group, key, namespace), with no current key involved. Throws a
   * RangeError if the cell is already there (a key restored twice: corrupt input).
   */
  restoreCell(groupIndex: number, mapKey: MapKey, namespace: Namespace, cell: unknown): void {
    if (namespace === VOID_NAMESPACE) {
      const map = this.#ownVoidMap(groupIndex);
      if (map.has(mapKey)) throw new RangeError(`a key appears twice in state '${this.name}'`);
      map.set(mapKey, cell);
      return;
    }
    if (this.#namespaceMaps[groupIndex]?.get(mapKey)?.has(namespace) === true) {
      throw new RangeError(`a key and namespace appear twice in state '${this.name}'`);
    }
    this.#setNamespaced(groupIndex, mapKey, namespace, cell);
  }

  /** Drops every entry; afterwards reads find nothing and writes throw. */
  dispose(): void {
    this.#voidMaps = [];
    this.#namespaceMaps = [];
    this.#shared = new Uint8Array(0);
    this.#valuesShared = new Uint8Array(0);
    this.#cursorMap = undefined;
    this.#cursorKeys = undefined;
  }

  #advanceCursor(groupCount: number): void {
    this.#cursorMap = undefined;
    this.#cursorKeys = undefined;
    if (this.#cursorNamespaced) {
      this.#cursorNamespaced = false;
      this.#cursorGroup = (this.#cursorGroup + 1) % groupCount;
    } else {
      this.#cursorNamespaced = true;
    }
  }

  #purgeVoid(groupIndex: number, mapKey: MapKey, nowMs: number, ops: TtlCellOps): void {
    const cell = this.#voidMaps[groupIndex]?.get(mapKey);
    if (cell === undefined) return;
    const kept = ops.purge(cell, nowMs);
    if (kept === cell) return;
    if (kept === undefined) this.#deleteAt(groupIndex, mapKey, VOID_NAMESPACE);
    else this.#ownVoidMap(groupIndex).set(mapKey, kept);
  }

  #purgeNamespaced(groupIndex: number, mapKey: MapKey, nowMs: number, ops: TtlCellOps): void {
    const cells = this.#namespaceMaps[groupIndex]?.get(mapKey);
    if (cells === undefined) return;
    for (const [namespace, cell] of [...cells]) {
      const kept = ops.purge(cell, nowMs);
      if (kept === cell) continue;
      if (kept === undefined) this.#deleteAt(groupIndex, mapKey, namespace);
      else this.#setNamespaced(groupIndex, mapKey, namespace, kept);
    }
  }

  #setNamespaced(groupIndex: number, mapKey: MapKey, namespace: Namespace, cell: unknown): void {
    const namespaceMap = this.#ownNamespaceMap(groupIndex);
    let cells = namespaceMap.get(mapKey);
    if (cells === undefined) {
      cells = new Map();
      namespaceMap.set(mapKey, cells);
    }
    cells.set(namespace, cell);
  }

  #deleteAt(groupIndex: number, mapKey: MapKey, namespace: Namespace): void {
    if (namespace === VOID_NAMESPACE) {
      if (this.#voidMaps[groupIndex]?.has(mapKey) !== true) return;
      this.#ownVoidMap(groupIndex).delete(mapKey);
      return;
    }
    if (this.#namespaceMaps[groupIndex]?.get(mapKey)?.has(namespace) !== true) return;
    const namespaceMap = this.#ownNamespaceMap(groupIndex);
    const cells = namespaceMap.get(mapKey)!;
    cells.delete(namespace);
    if (cells.size === 0) namespaceMap.delete(mapKey);
  }

  #ownVoidMap(groupIndex: number): Map<MapKey, unknown> {
    this.#checkWritable(groupIndex);
    if (this.#shared[groupIndex] !== 0) this.#unshare(groupIndex);
    let map = this.#voidMaps[groupIndex];
    if (map === undefined) {
      map = new Map();
      this.#voidMaps[groupIndex] = map;
    }
    return map;
  }

  #ownNamespaceMap(groupIndex: number): Map<MapKey, Map<Namespace, unknown>> {
    this.#checkWritable(groupIndex);
    if (this.#shared[groupIndex] !== 0) this.#unshare(groupIndex);
    let map = this.#namespaceMaps[groupIndex];
    if (map === undefined) {
      map = new Map();
      this.#namespaceMaps[groupIndex] = map;
    }
    return map;
  }

  #checkWritable(groupIndex: number): void {
    if (groupIndex >= 0 && groupIndex < this.#voidMaps.length) return;
    throw new Error(
      this.#voidMaps.length === 0
        ? `state '${this.name}' was written after its backend was disposed`
        : `state '${this.name}' was written with no current key set`,
    );
  }

  /** Copies a shared group: its maps and the mutable containers (list arrays, user Maps) in them. */
  #unshare(groupIndex: number): void {
    const copyCell = this.#copyCell;
    const voidMap = this.#voidMaps[groupIndex];
    if (voidMap !== undefined) {
      const copy = new Map<MapKey, unknown>();
      for (const [mapKey, cell] of voidMap) copy.set(mapKey, copyCell(cell));
      this.#voidMaps[groupIndex] = copy;
    }
    const namespaceMap = this.#namespaceMaps[groupIndex];
    if (namespaceMap !== undefined) {
      const copy = new Map<MapKey, Map<Namespace, unknown>>();
      for (const [mapKey, cells] of namespaceMap) {
        const cellsCopy = new Map<Namespace, unknown>();
        for (const [namespace, cell] of cells) cellsCopy.set(namespace, copyCell(cell));
        copy.set(mapKey, cellsCopy);
      }
      this.#namespaceMaps[groupIndex] = copy;
    }
    this.#shared[groupIndex] = 0;
    this.#groupsCopied++;
    this.#cellsCopied += (voidMap?.size ?? 0) + (namespaceMap?.size ?? 0);
  }

  /** The cell with every object value it holds owned by the live table (the cell itself if it already is). */
  #ownValues(cell: unknown): unknown {
    const ttl = this.ttl !== undefined;
    switch (this.kind) {
      case 'list': {
        const list = cell as unknown[];
        let copy: unknown[] | undefined;
        for (let i = 0; i < list.length; i++) {
          const element = this.#ownValue(list[i], ttl);
          if (element !== list[i]) (copy ??= list.slice())[i] = element;
        }
        return copy ?? cell;
      }
      case 'map': {
        const map = cell as Map<MapKey, unknown>;
        let copy: Map<MapKey, unknown> | undefined;
        for (const [mapKey, value] of map) {
          const owned = this.#ownValue(value, ttl);
          if (owned !== value) (copy ??= new Map(map)).set(mapKey, owned);
        }
        return copy ?? cell;
      }
      default:
        return this.#ownValue(cell, ttl);
    }
  }

  /** A value (or TtlCell of one) whose object value no pending snapshot references. */
  #ownValue(stored: unknown, ttl: boolean): unknown {
    const value = ttl ? (stored as TtlCell<unknown>).value : stored;
    if (typeof value !== 'object' || value === null || this.#owned.has(value)) return stored;
    const copy = this.#deepCopy(value);
    if (copy === value) return stored;
    this.#owned.add(copy as object);
    this.#valuesCopied++;
    return ttl ? new TtlCell(copy, (stored as TtlCell<unknown>).expiresAtMs) : copy;
  }

  /**
   * `copyValue` for what the default serializer supports; a round trip through the state's
   * own serializer for values only it understands (class instances). If neither works the
   * value stays shared: the snapshot's serialization will fail and report it, rather than a
   * user's read failing here.
   */
  #deepCopy(value: object): unknown {
    try {
      return copyValue(value);
    } catch {
      const serializer = this.valueSerializer;
      if (serializer === valueSerializer) return value;
      try {
        return fromBytes(serializer, toBytes(serializer, value));
      } catch {
        return value;
      }
    }
  }

  /** Containers handles mutate in place are copied; values (and immutable TtlCells) are shared. */
  get #copyCell(): (cell: unknown) => unknown {
    switch (this.kind) {
      case 'list':
        return (cell) => (cell as unknown[]).slice();
      case 'map':
        return (cell) => new Map(cell as Map<unknown, unknown>);
      default:
        return (cell) => cell;
    }
  }
}
