/**
 * Key groups: `keyGroup = murmur3(canonical bytes of key) mod maxParallelism`, and the
 * contiguous ranges of key groups each subtask owns (the same split Flink uses, so a
 * rescale moves whole key groups).
 */
import { keyHashInt32 } from '../core/key-hash.ts';
import type { KeyGroupRange } from './key-group-range.ts';

/** Default number of key groups: the upper bound of parallelism for keyed operators. */
export const DEFAULT_MAX_PARALLELISM = 128;
/** Key groups are counted in 15 bits in Flink's formats; we keep the same bound. */
export const MAX_PARALLELISM_LIMIT = 32_768;

/** The key group of `key`; throws UnhashableKeyError for values that cannot be keys. */
export function assignToKeyGroup(key: unknown, maxParallelism: number): number {
  // Both operands unsigned 32-bit, so the remainder is an integer operation.
  return (keyHashInt32(key) >>> 0) % (maxParallelism >>> 0);
}

/** The key groups owned by subtask `operatorIndex` of `parallelism`. */
export function computeKeyGroupRange(
  maxParallelism: number,
  parallelism: number,
  operatorIndex: number,
): KeyGroupRange {
  const start = Math.floor((operatorIndex * maxParallelism + parallelism - 1) / parallelism);
  const end = Math.floor(((operatorIndex + 1) * maxParallelism - 1) / parallelism);
  return { start, end };
}

/** The subtask that owns `keyGroup`; the inverse of computeKeyGroupRange. */
export function operatorIndexForKeyGroup(
  maxParallelism: number,
  parallelism: number,
  keyGroup: number,
): number {
  return Math.floor((keyGroup * parallelism) / maxParallelism);
}

export function keyGroupRangeContains(range: KeyGroupRange, keyGroup: number): boolean {
  return keyGroup >= range.start && keyGroup <= range.end;
}

export function keyGroupRangeSize(range: KeyGroupRange): number {
  return Math.max(0, range.end - range.start + 1);
}
