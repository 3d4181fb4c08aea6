/** What every keyed state backend checks when it is built, when a state registers, when a key arrives and when it restores: shared by the heap and disk backends, so both word their errors alike. */
import { ConfigurationError } from '../core/errors.ts';
import type { StateTtlConfig } from './descriptors.ts';
import type { KeyGroupRange } from './key-group-range.ts';
import { keyGroupRangeSize, MAX_PARALLELISM_LIMIT } from './key-groups.ts';
import type { TypeSerializer } from './serializers/type-serializer.ts';
import type {
  KeyedStateChunkInfo,
  KeyedStateFileContents,
  RawKeyedStateChunk,
  RawSectionTimers,
} from './snapshot/keyed-state-format.ts';
import type { StateDescriptorLike } from './state-descriptors-factory.ts';

/** The options every backend is built from that this module checks. */
export interface KeyedBackendShape {
  readonly operatorId: string;
  readonly keyGroupRange: KeyGroupRange;
  readonly maxParallelism: number;
}

/**
 * Throws ConfigurationError unless max parallelism is in range and the key-group range lies
 * within it.
 *
 * @example
 * ```ts
 * checkKeyedBackendOptions({ operatorId: 'op', keyGroupRange: { start: 0, end: 127 }, maxParallelism: 128 });
 * ```
 */
export function checkKeyedBackendOptions(options: KeyedBackendShape): void {
  const { keyGroupRange: range, maxParallelism } = options;
  if (!Number.isInteger(maxParallelism) || maxParallelism < 1 || maxParallelism > MAX_PARALLELISM_LIMIT) {
    throw new ConfigurationError(
      `maxParallelism must be an integer in [1, ${MAX_PARALLELISM_LIMIT}], got ${maxParallelism}`,
    );
  }
  if (
    !Number.isInteger(range.start) ||
    !Number.isInteger(range.end) ||
    range.start < 0 ||
    range.end >= maxParallelism
  ) {
    throw new ConfigurationError(
      `key-group range [${range.start}, ${range.end}] of operator '${options.operatorId}' must lie within [0, ${maxParallelism - 1}]`,
    );
  }
}

/** A registered state as far as a repeated registration is checked against it. */
export interface RegisteredState {
  readonly kind: StateDescriptorLike['kind'];
  readonly ttl: StateTtlConfig | undefined;
}

/**
 * Throws ConfigurationError when `descriptor` asks again for a state already registered with
 * another kind or TTL.
 *
 * @example
 * ```ts
 * checkSameRegistration({ kind: 'value', ttl: undefined }, valueState('count'), 'op');
 * ```
 */
export function checkSameRegistration(
  existing: RegisteredState,
  descriptor: StateDescriptorLike,
  operatorId: string,
): void {
  if (existing.kind !== descriptor.kind) {
    throw new ConfigurationError(
      `state '${descriptor.name}' of operator '${operatorId}' is already registered as ${existing.kind} state, not ${descriptor.kind} state`,
    );
  }
  if (!sameTtl(existing.ttl, descriptor.ttl)) {
    throw new ConfigurationError(
      `state '${descriptor.name}' of operator '${operatorId}' is already registered with TTL ${describeTtl(existing.ttl)}, not ${describeTtl(descriptor.ttl)}`,
    );
  }
}

/** A TTL as error messages show it: "none", or "60000 ms (OnCreateAndWrite, NeverReturnExpired)". */
function describeTtl(ttl: StateTtlConfig | undefined): string {
  if (ttl === undefined) return 'none';
  return `${ttl.ttlMs} ms (${ttl.updateType ?? 'OnCreateAndWrite'}, ${ttl.visibility ?? 'NeverReturnExpired'})`;
}

/**
 * The error for a key whose key group lies outside the backend's range: the partitioner sent
 * it to the wrong subtask (an invariant violation), or the backend was disposed meanwhile.
 */
export function wrongKeyGroupError(
  key: unknown,
  keyGroup: number,
  range: KeyGroupRange,
  operatorId: string,
  disposed: boolean,
): Error {
  if (disposed) return new Error(`setCurrentKey after the backend of operator '${operatorId}' was disposed`);
  return new RangeError(
    `key group ${keyGroup} of key ${describeKey(key)} lies outside the key-group range [${range.start}, ${range.end}] of operator '${operatorId}'; the key was routed to the wrong subtask (a bug)`,
  );
}

/** A key as error messages show it: JSON where it has one, at most 80 characters. */
function describeKey(key: unknown): string {
  try {
    const text = typeof key === 'bigint' ? `${key}n` : JSON.stringify(key);
    return text === undefined ? String(key) : text.length > 80 ? `${text.slice(0, 80)}…` : text;
  } catch {
    return String(key);
  }
}

/**
 * The serializers a descriptor names; unset ones are left to the backend's default.
 *
 * @example
 * ```ts
 * const { valueSerializer } = serializersOf(valueState<number>('count'));
 * ```
 */
export function serializersOf(descriptor: StateDescriptorLike): {
  valueSerializer?: TypeSerializer<unknown>;
  mapKeySerializer?: TypeSerializer<unknown>;
} {
  const declared = descriptor as {
    serializer?: TypeSerializer<unknown>;
    keySerializer?: TypeSerializer<unknown>;
    valueSerializer?: TypeSerializer<unknown>;
  };
  return descriptor.kind === 'map'
    ? { valueSerializer: declared.valueSerializer, mapKeySerializer: declared.keySerializer }
    : { valueSerializer: declared.serializer };
}

function sameTtl(a: StateTtlConfig | undefined, b: StateTtlConfig | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return (
    a.ttlMs === b.ttlMs &&
    (a.updateType ?? 'OnCreateAndWrite') === (b.updateType ?? 'OnCreateAndWrite') &&
    (a.visibility ?? 'NeverReturnExpired') === (b.visibility ?? 'NeverReturnExpired')
  );
}

/**
 * Restored keyed state not registered yet: per state, its undecoded chunks by group index,
 * plus the key groups claimed so far (each may be restored once). A backend hands a chunk
 * list to its table when the state registers, then drops it with `delete`. `C` is what a
 * backend keeps of a chunk: the heap backend the chunk itself, the disk backend where in its
 * store it put the chunk's bytes.
 *
 * @example
 * ```ts
 * const restored = new RestoredChunks({ operatorId: 'op', keyGroupRange: { start: 0, end: 127 }, maxParallelism: 128 });
 * const timers = restored.add(parts, new Map());
 * ```
 */
export class RestoredChunks<C extends KeyedStateChunkInfo = RawKeyedStateChunk> {
  readonly #backend: KeyedBackendShape;
  readonly #byState = new Map<string, (C | undefined)[]>();
  readonly #claimedGroups = new Set<number>();

  constructor(backend: KeyedBackendShape) {
    this.#backend = backend;
  }

  /**
   * Stages every chunk of `parts` by state and group; returns their sections' timers, still
   * encoded (`decodeSectionTimers`). Throws as `checkPart` and `addSection` do.
   */
  add(
    this: RestoredChunks<RawKeyedStateChunk>,
    parts: readonly KeyedStateFileContents[],
    registered: ReadonlyMap<string, unknown>,
  ): RawSectionTimers[] {
    const timers: RawSectionTimers[] = [];
    for (const part of parts) {
      this.checkPart(part, registered);
      for (const section of part.sections) {
        this.addSection(section.keyGroup, part.path, section.states);
        if (section.timers !== undefined) timers.push(section.timers);
      }
    }
    return timers;
  }

  /** Throws if a state is registered already (`registered` non-empty) or max parallelism changed. */
  checkPart(
    part: { readonly path: string; readonly maxParallelism: number },
    registered: ReadonlyMap<string, unknown>,
  ): void {
    const { operatorId, maxParallelism } = this.#backend;
    if (registered.size > 0) {
      throw new Error(
        `restore into the backend of operator '${operatorId}' after states were registered (${[...registered.keys()].join(', ')}); restore first`,
      );
    }
    if (part.maxParallelism !== maxParallelism) {
      throw new ConfigurationError(
        `keyed state in ${part.path} was written with max parallelism ${part.maxParallelism}, but operator '${operatorId}' runs with ${maxParallelism}; max parallelism cannot change across a restore`,
      );
    }
  }

  /** Stages the chunks of one key group; throws if the group lies outside the range or comes twice. */
  addSection(keyGroup: number, path: string, chunks: readonly C[]): void {
    const { keyGroupRange } = this.#backend;
    this.#claimKeyGroup(keyGroup, path);
    const groupIndex = keyGroup - keyGroupRange.start;
    for (const chunk of chunks) {
      let staged = this.#byState.get(chunk.meta.name);
      if (staged === undefined) {
        staged = new Array(keyGroupRangeSize(keyGroupRange)).fill(undefined);
        this.#byState.set(chunk.meta.name, staged);
      }
      staged[groupIndex] = chunk;
    }
  }

  /** The staged chunks of state `name` by group index, if any. */
  get(name: string): readonly (C | undefined)[] | undefined {
    return this.#byState.get(name);
  }

  /** Drops the chunks of state `name` once its table holds them. */
  delete(name: string): void {
    this.#byState.delete(name);
  }

  /** A copy of every staged state's chunks by group index, for a snapshot to write through. */
  pendingCopies(): (C | undefined)[][] {
    return [...this.#byState.values()].map((chunks) => chunks.slice());
  }

  clear(): void {
    this.#byState.clear();
  }

  #claimKeyGroup(keyGroup: number, path: string): void {
    const { operatorId, keyGroupRange } = this.#backend;
    const { start, end } = keyGroupRange;
    // Invariants: the job manager assigns each key group of the range exactly once.
    if (!(keyGroup >= start && keyGroup <= end)) {
      throw new RangeError(
        `restored key group ${keyGroup} from ${path} lies outside the key-group range [${start}, ${end}] of operator '${operatorId}' (a bug in state assignment)`,
      );
    }
    if (this.#claimedGroups.has(keyGroup)) {
      throw new RangeError(
        `key group ${keyGroup} of operator '${operatorId}' was restored twice (again from ${path}; a bug in state assignment)`,
      );
    }
    this.#claimedGroups.add(keyGroup);
  }
}
