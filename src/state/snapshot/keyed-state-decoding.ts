/** Decoding restored keyed state chunks once the operator registers the state, with compatibility checks. */
import { BinaryReader } from '../../core/binary.ts';
import { assignToKeyGroup } from '../key-groups.ts';
import type { TypeSerializer } from '../serializers/type-serializer.ts';
import { valueSerializer } from '../serializers/value-serializer.ts';
import type { KeyedStateChunkInfo, KeyedStateKind, RawKeyedStateChunk } from './keyed-state-format.ts';
import { checkSerializerCompatible } from './serializer-ref.ts';
import { CorruptSnapshotError, IncompatibleStateError } from './snapshot-errors.ts';

/** How the operator registered a state: what restored chunks must fit. */
export interface RegisteredStateInfo {
  readonly name: string;
  readonly kind: KeyedStateKind;
  readonly hasTtl: boolean;
  /** The descriptor's serializer for values (elements, map values, accumulators), or the default. */
  readonly valueSerializer: TypeSerializer<unknown>;
  /** Map state: the descriptor's key serializer, or the default. */
  readonly mapKeySerializer: TypeSerializer<unknown> | undefined;
}

/** A value or element with its expiry (undefined without TTL). */
export interface TimedValue {
  readonly value: unknown;
  readonly expiresAtMs: number | undefined;
}

/** One user-map entry of map state. */
export interface TimedMapEntry extends TimedValue {
  readonly key: unknown;
}

/** What an entry holds: a TimedValue (value, reducing, aggregating), TimedValue[] (list) or TimedMapEntry[] (map). */
export type DecodedPayload = TimedValue | readonly TimedValue[] | readonly TimedMapEntry[];

/**
 * Throws IncompatibleStateError unless a restored chunk fits the registered state: the same
 * kind, TTL on in both or off in both (as in Flink), serializers that can read what was written.
 */
export function checkChunkCompatible(chunk: KeyedStateChunkInfo, registered: RegisteredStateInfo): void {
  const { meta, path } = chunk;
  if (meta.kind !== registered.kind) {
    throw new IncompatibleStateError(
      registered.name,
      path,
      `is ${meta.kind} state in the snapshot but is registered as ${registered.kind} state; a state's kind cannot change (rename the state to start it empty)`,
    );
  }
  if (meta.hasTtl !== registered.hasTtl) {
    throw new IncompatibleStateError(
      registered.name,
      path,
      meta.hasTtl
        ? 'has TTL in the snapshot but is registered without TTL; switching TTL off is not supported'
        : 'has no TTL in the snapshot but is registered with TTL; switching TTL on is not supported',
    );
  }
  checkSerializerCompatible(registered.name, path, 'keys', meta.keySerializer, valueSerializer);
  checkSerializerCompatible(registered.name, path, 'namespaces', meta.namespaceSerializer, valueSerializer);
  checkSerializerCompatible(
    registered.name,
    path,
    'values',
    meta.valueSerializer,
    registered.valueSerializer,
  );
  if (meta.kind === 'map') {
    checkSerializerCompatible(
      registered.name,
      path,
      'map keys',
      meta.mapKeySerializer!,
      registered.mapKeySerializer!,
    );
  }
}

/** One decoded entry of a chunk. */
export interface DecodedEntry {
  readonly key: unknown;
  readonly namespace: string | number;
  readonly payload: DecodedPayload;
}

/**
 * Decodes the entries of a (compatible) chunk one at a time, so a restore can pause between
 * them. Checks the pair of the writer's invariants: each key hashes to the chunk's key group
 * under `maxParallelism`, and the entries fill the chunk exactly. Any failure is a
 * CorruptSnapshotError naming the file, state and serializer.
 */
export function* decodeStateChunk(
  chunk: RawKeyedStateChunk,
  registered: RegisteredStateInfo,
  maxParallelism: number,
): Generator<DecodedEntry, void, undefined> {
  const input = new BinaryReader(chunk.bytes);
  const { kind, hasTtl } = chunk.meta;
  const values = registered.valueSerializer;
  const readTimed = (): TimedValue => {
    const expiresAtMs = hasTtl ? input.readFloat64('expiry') : undefined;
    return { value: values.deserialize(input), expiresAtMs };
  };
  for (let i = 0; i < chunk.entryCount; i++) {
    // Only the decoding is guarded: an error the consumer throws while paused at `yield` is its own.
    let entry: DecodedEntry;
    try {
      const key = valueSerializer.deserialize(input);
      const namespace = valueSerializer.deserialize(input);
      if (typeof namespace !== 'string' && typeof namespace !== 'number') {
        throw new RangeError(`entry ${i} has a namespace of type ${typeof namespace}`);
      }
      const keyGroup = assignToKeyGroup(key, maxParallelism);
      if (keyGroup !== chunk.keyGroup) {
        throw new RangeError(
          `entry ${i}'s key hashes to key group ${keyGroup} (max parallelism ${maxParallelism})`,
        );
      }
      entry = { key, namespace, payload: readPayload(input, kind, readTimed, registered.mapKeySerializer) };
    } catch (error) {
      throw undecodable(chunk, registered, error);
    }
    yield entry;
  }
  if (!input.isAtEnd()) {
    throw undecodable(
      chunk,
      registered,
      new RangeError(`${input.remaining} bytes left after ${chunk.entryCount} entries`),
    );
  }
}

function undecodable(chunk: RawKeyedStateChunk, registered: RegisteredStateInfo, error: unknown): Error {
  if (error instanceof CorruptSnapshotError || error instanceof IncompatibleStateError) return error;
  const values = registered.valueSerializer;
  return new CorruptSnapshotError(
    chunk.path,
    `state '${registered.name}' in key group ${chunk.keyGroup} could not be read with serializer ${values.id} v${values.version}: ${error instanceof Error ? error.message : String(error)}`,
    { cause: error },
  );
}

function readPayload(
  input: BinaryReader,
  kind: KeyedStateKind,
  readTimed: () => TimedValue,
  mapKeys: TypeSerializer<unknown> | undefined,
): DecodedPayload {
  if (kind !== 'list' && kind !== 'map') return readTimed();
  const count = input.readVarint('element count');
  if (count === 0 || count > input.remaining) throw new RangeError(`a ${kind} entry of ${count} elements`);
  if (kind === 'list') {
    const elements: TimedValue[] = [];
    for (let j = 0; j < count; j++) elements.push(readTimed());
    return elements;
  }
  const entries: TimedMapEntry[] = [];
  for (let j = 0; j < count; j++) {
    const key = mapKeys!.deserialize(input);
    const { value, expiresAtMs } = readTimed();
    entries.push({ key, value, expiresAtMs });
  }
  return entries;
}
