/** Factory functions users call to declare keyed state, with validation of names, functions and TTL. */
import { ConfigurationError } from '../core/errors.ts';
import type {
  AggregateFunction,
  AggregatingStateDescriptor,
  ListStateDescriptor,
  MapStateDescriptor,
  ReduceFunction,
  ReducingStateDescriptor,
  StateDescriptor,
  StateTtlConfig,
  ValueStateDescriptor,
} from './descriptors.ts';
import type { TypeSerializer } from './serializers/type-serializer.ts';
import { copyValue } from './serializers/value-serializer.ts';

/** Options every state kind accepts. Without a serializer, snapshots use the default `weir.value` serializer. */
export interface StateOptions<T> {
  readonly serializer?: TypeSerializer<T>;
  readonly ttl?: StateTtlConfig;
}

export interface ValueStateOptions<T> extends StateOptions<T> {
  /** Returned by `value()` while the key has no value (a fresh copy each time when it is an object). */
  readonly defaultValue?: T;
}

export interface MapStateOptions<K, V> {
  readonly keySerializer?: TypeSerializer<K>;
  readonly valueSerializer?: TypeSerializer<V>;
  readonly ttl?: StateTtlConfig;
}

/** For aggregating state the serializer is the accumulator's. */
export type AggregatingStateOptions<ACC> = StateOptions<ACC>;

/**
 * Declares a value state: one value per key (and namespace).
 *
 * @example
 * ```ts
 * const count = valueState<number>('count', { defaultValue: 0, ttl: { ttlMs: 60_000 } });
 * ```
 */
export function valueState<T>(name: string, options: ValueStateOptions<T> = {}): ValueStateDescriptor<T> {
  return checked({ kind: 'value', name, ...pick(options, ['serializer', 'ttl', 'defaultValue']) });
}

/**
 * Declares a list state: an ordered list of elements per key.
 *
 * @example
 * ```ts
 * const recent = listState<string>('recent-logins');
 * ```
 */
export function listState<T>(name: string, options: StateOptions<T> = {}): ListStateDescriptor<T> {
  return checked({ kind: 'list', name, ...pick(options, ['serializer', 'ttl']) });
}

/**
 * Declares a map state: a map per key. Map keys follow the same rules as stream keys
 * (strings, numbers, bigints, booleans, arrays and plain objects of those).
 *
 * @example
 * ```ts
 * const perCurrency = mapState<string, number>('per-currency');
 * ```
 */
export function mapState<K, V>(name: string, options: MapStateOptions<K, V> = {}): MapStateDescriptor<K, V> {
  return checked({ kind: 'map', name, ...pick(options, ['keySerializer', 'valueSerializer', 'ttl']) });
}

/**
 * Declares a reducing state: every added value is folded into one with `reduce`.
 *
 * @example
 * ```ts
 * const max = reducingState<number>('max-amount', (a, b) => Math.max(a, b));
 * ```
 */
export function reducingState<T>(
  name: string,
  reduce: ReduceFunction<T>,
  options: StateOptions<T> = {},
): ReducingStateDescriptor<T> {
  return checked({ kind: 'reducing', name, reduce, ...pick(options, ['serializer', 'ttl']) });
}

/**
 * Declares an aggregating state: added inputs are folded into an accumulator; `get()`
 * returns the aggregate's result.
 *
 * @example
 * ```ts
 * const average = aggregatingState<number, { sum: number; n: number }, number>('avg', {
 *   createAccumulator: () => ({ sum: 0, n: 0 }),
 *   add: (value, acc) => ({ sum: acc.sum + value, n: acc.n + 1 }),
 *   getResult: (acc) => acc.sum / acc.n,
 * });
 * ```
 */
export function aggregatingState<IN, ACC, OUT>(
  name: string,
  aggregate: AggregateFunction<IN, ACC, OUT>,
  options: AggregatingStateOptions<ACC> = {},
): AggregatingStateDescriptor<IN, ACC, OUT> {
  return checked({ kind: 'aggregating', name, aggregate, ...pick(options, ['serializer', 'ttl']) });
}

/** What every descriptor has, whatever its type parameters. */
export interface StateDescriptorLike {
  readonly name: string;
  readonly kind: StateDescriptor['kind'];
  readonly ttl?: StateTtlConfig;
}

/**
 * Checks a descriptor however it was built (by these factories or by hand), so a backend can
 * refuse a bad one when the state is registered rather than fail on first use.
 * Throws ConfigurationError naming the state and the problem.
 */
export function validateStateDescriptor(declared: StateDescriptorLike): void {
  // Function-typed fields make a ReducingStateDescriptor<T> no StateDescriptor (parameters
  // are contravariant), so descriptors of any type parameters arrive here as the shared shape.
  const descriptor = declared as StateDescriptor;
  const { name } = descriptor;
  if (typeof name !== 'string' || name.trim() === '') {
    throw new ConfigurationError(`a state name must be a non-empty string, got ${JSON.stringify(name)}`);
  }
  switch (descriptor.kind) {
    case 'value':
      if (descriptor.defaultValue !== undefined) checkDefaultValue(name, descriptor.defaultValue);
      break;
    case 'reducing':
      if (typeof descriptor.reduce !== 'function') {
        throw new ConfigurationError(`reducing state '${name}' needs a reduce function`);
      }
      break;
    case 'aggregating': {
      const { aggregate } = descriptor;
      for (const method of ['createAccumulator', 'add', 'getResult'] as const) {
        if (typeof aggregate?.[method] !== 'function') {
          throw new ConfigurationError(
            `aggregating state '${name}' needs an aggregate function with ${method}()`,
          );
        }
      }
      break;
    }
    case 'list':
    case 'map':
      break;
    default:
      throw new ConfigurationError(
        `state '${name}' has unknown kind ${JSON.stringify((descriptor as { kind: unknown }).kind)}`,
      );
  }
  if (descriptor.ttl !== undefined) validateTtlConfig(name, descriptor.ttl);
}

const UPDATE_TYPES = ['OnCreateAndWrite', 'OnReadAndWrite'];
const VISIBILITIES = ['NeverReturnExpired', 'ReturnExpiredIfNotCleanedUp'];

/** Throws ConfigurationError unless `ttl` has a positive finite `ttlMs` and known modes. */
export function validateTtlConfig(stateName: string, ttl: StateTtlConfig): void {
  if (typeof ttl !== 'object' || ttl === null) {
    throw new ConfigurationError(`ttl of state '${stateName}' must be an object like { ttlMs: 60000 }`);
  }
  if (typeof ttl.ttlMs !== 'number' || !Number.isFinite(ttl.ttlMs) || ttl.ttlMs <= 0) {
    throw new ConfigurationError(
      `ttl.ttlMs of state '${stateName}' must be a positive finite number of milliseconds, got ${String(ttl.ttlMs)}`,
    );
  }
  if (ttl.updateType !== undefined && !UPDATE_TYPES.includes(ttl.updateType)) {
    throw new ConfigurationError(
      `ttl.updateType of state '${stateName}' must be one of ${UPDATE_TYPES.join(', ')}, got ${JSON.stringify(ttl.updateType)}`,
    );
  }
  if (ttl.visibility !== undefined && !VISIBILITIES.includes(ttl.visibility)) {
    throw new ConfigurationError(
      `ttl.visibility of state '${stateName}' must be one of ${VISIBILITIES.join(', ')}, got ${JSON.stringify(ttl.visibility)}`,
    );
  }
}

/** A default value is handed out as a copy on every read, so it must be copyable. */
function checkDefaultValue(name: string, defaultValue: unknown): void {
  try {
    copyValue(defaultValue);
  } catch (error) {
    throw new ConfigurationError(`defaultValue of state '${name}' cannot be copied: ${String(error)}`, {
      cause: error,
    });
  }
}

function checked<D extends StateDescriptorLike>(descriptor: D): D {
  validateStateDescriptor(descriptor);
  return Object.freeze(descriptor);
}

/** Copies only the named, defined options, so a stray option does not leak into the descriptor. */
function pick<O extends object, K extends keyof O>(options: O, keys: readonly K[]): Pick<O, K> {
  const result = {} as Pick<O, K>;
  for (const key of keys) {
    if (options[key] !== undefined) result[key] = options[key];
  }
  return result;
}
