/** Reduce functions behind KeyedStream's sum/min/max/minBy/maxBy, on numbers or on a numeric field. */

/**
 * The fields of T holding a number or a bigint: what sum/min/max/minBy/maxBy accept. For a
 * tuple type the positions count too (`'1'` in `[string, number]`), as in Flink.
 */
export type NumericField<T> = { [F in keyof T]: T[F] extends number | bigint ? F : never }[keyof T] & string;

/** What an aggregation computes: a reduce function over the records of one key. */
export type Aggregation<T> = (running: T, record: T) => T;

type Numeric = number | bigint;

/**
 * Rolling sum. Without a field the records are numbers (or bigints); with one, the result
 * is the key's FIRST record with that field replaced by the sum (Flink's semantics: other
 * fields are not updated). Records are never mutated: the running value lives in state.
 *
 * @example
 * ```ts
 * keyed.reduce(sumAggregation<{ user: string; n: number }>('n'));
 * ```
 */
export function sumAggregation<T>(field?: NumericField<T>): Aggregation<T> {
  const read = reader<T>('sum', field);
  return (running, record) => {
    const a = read(running);
    const b = read(record);
    if (typeof a !== typeof b) {
      throw new TypeError(
        `sum${describeField(field)} cannot add a ${typeof a} and a ${typeof b}; use one numeric type`,
      );
    }
    return withValue(running, field, ((a as number) + (b as number)) as Numeric);
  };
}

/**
 * Rolling minimum: without a field the smallest number; with one, the key's first record with
 * the field replaced by the smallest value seen (use minBy for the record holding it).
 *
 * @example
 * ```ts
 * keyed.reduce(minAggregation<{ sensor: string; temp: number }>('temp'));
 * ```
 */
export function minAggregation<T>(field?: NumericField<T>): Aggregation<T> {
  const read = reader<T>('min', field);
  return (running, record) => {
    const a = read(running);
    const b = read(record);
    return b < a ? withValue(running, field, b) : running;
  };
}

/**
 * Rolling maximum: like minAggregation, for the largest value.
 *
 * @example
 * ```ts
 * keyed.reduce(maxAggregation<{ sensor: string; temp: number }>('temp'));
 * ```
 */
export function maxAggregation<T>(field?: NumericField<T>): Aggregation<T> {
  const read = reader<T>('max', field);
  return (running, record) => {
    const a = read(running);
    const b = read(record);
    return b > a ? withValue(running, field, b) : running;
  };
}

/**
 * The whole record with the smallest value in the field. On a tie the earlier record stays
 * unless `first` is false, then the later one wins.
 *
 * @example
 * ```ts
 * keyed.reduce(minByAggregation<{ sensor: string; temp: number; at: number }>('temp'));
 * ```
 */
export function minByAggregation<T>(field?: NumericField<T>, first = true): Aggregation<T> {
  const read = reader<T>('minBy', field);
  return (running, record) => {
    const a = read(running);
    const b = read(record);
    return b < a || (!first && b === a) ? record : running;
  };
}

/**
 * The whole record with the largest value in the field; ties as in minByAggregation.
 *
 * @example
 * ```ts
 * keyed.reduce(maxByAggregation<{ sensor: string; temp: number; at: number }>('temp', false));
 * ```
 */
export function maxByAggregation<T>(field?: NumericField<T>, first = true): Aggregation<T> {
  const read = reader<T>('maxBy', field);
  return (running, record) => {
    const a = read(running);
    const b = read(record);
    return b > a || (!first && b === a) ? record : running;
  };
}

function describeField(field: string | undefined): string {
  return field === undefined ? '()' : `('${field}')`;
}

/** Reads the aggregated value of a record, refusing (with the field's name) anything not numeric. */
function reader<T>(name: string, field: string | undefined): (record: T) => Numeric {
  if (field !== undefined && (typeof field !== 'string' || field.length === 0)) {
    throw new TypeError(`${name}() needs a field name (a non-empty string), got ${String(field)}`);
  }
  if (field === undefined) {
    return (record) => {
      if (typeof record === 'number' || typeof record === 'bigint') return record;
      throw new TypeError(
        `${name}() without a field needs a stream of numbers or bigints, got a ${kindOf(record)}; pass the field to aggregate`,
      );
    };
  }
  return (record) => {
    if (typeof record !== 'object' || record === null) {
      throw new TypeError(`${name}('${field}') needs records that are objects, got a ${kindOf(record)}`);
    }
    if (!(field in record)) throw new TypeError(`${name}('${field}'): the record has no field '${field}'`);
    const value = (record as Record<string, unknown>)[field];
    if (typeof value === 'number' || typeof value === 'bigint') return value;
    throw new TypeError(`${name}('${field}'): field '${field}' is not numeric (it is a ${kindOf(value)})`);
  };
}

function kindOf(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
}

/** A copy of `record` with `field` set to `value` (or `value` itself when there is no field). */
function withValue<T>(record: T, field: string | undefined, value: Numeric): T {
  if (field === undefined) return value as T;
  if (Array.isArray(record)) {
    const copy = record.slice();
    (copy as unknown as Record<string, unknown>)[field] = value;
    return copy as T;
  }
  const proto = Object.getPrototypeOf(record) as object | null;
  // Keep a class instance's prototype so its methods still work on the result.
  const copy =
    proto === Object.prototype ? { ...record } : Object.assign(Object.create(proto) as object, record);
  (copy as Record<string, unknown>)[field] = value;
  return copy as T;
}
