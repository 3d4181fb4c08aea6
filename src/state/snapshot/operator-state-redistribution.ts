/** Redistribution of operator state when a job is restored with another parallelism (split, union, broadcast). */
import { MAX_PARALLELISM_LIMIT } from '../key-groups.ts';
import type {
  BroadcastStateContents,
  OperatorListStateContents,
  OperatorStateContents,
} from './operator-state-format.ts';
import { sameSerializerRef } from './serializer-ref.ts';
import { IncompatibleStateError } from './snapshot-errors.ts';

/** Paths named in a redistributed state's `path` before the rest is counted. */
const PATHS_NAMED_MAX = 3;

/**
 * What each of `newParallelism` new subtasks restores, from the old subtasks' operator state
 * (index = old subtask index), as docs/design/checkpointing.md specifies:
 * - split list state: every old subtask's elements concatenated in subtask order, then dealt
 *   in contiguous chunks whose sizes differ by at most one (the first subtasks get the larger);
 * - union list state: every new subtask gets all elements, in that order;
 * - broadcast state: old subtask 0's copy (all copies are equal), else the first that has it.
 * Every new subtask gets every state name, empty if need be, so each registration is checked.
 * Elements stay serialized. Throws IncompatibleStateError if old subtasks disagree on a
 * state's mode, kind or serializer. Pure: the inputs are not changed.
 *
 * @example
 * ```ts
 * const perSubtask = redistributeOperatorState(oldFiles.map((f) => readOperatorStateFile(f.bytes, f.path)), 3);
 * newStores[i].restore(perSubtask[i]);
 * ```
 */
export function redistributeOperatorState(
  oldSubtasks: readonly OperatorStateContents[],
  newParallelism: number,
): OperatorStateContents[] {
  if (!Number.isInteger(newParallelism) || newParallelism < 1 || newParallelism > MAX_PARALLELISM_LIMIT) {
    throw new RangeError(
      `new parallelism must be an integer in [1, ${MAX_PARALLELISM_LIMIT}], got ${newParallelism}`,
    );
  }
  const lists = groupByName(oldSubtasks.map((subtask) => subtask.lists));
  const broadcasts = groupByName(oldSubtasks.map((subtask) => subtask.broadcasts));
  for (const name of lists.keys()) {
    if (broadcasts.has(name)) {
      throw new IncompatibleStateError(
        name,
        describePaths([...lists.get(name)!, ...broadcasts.get(name)!]),
        'is a list state in some old subtasks and a broadcast state in others',
      );
    }
  }
  const result = Array.from({ length: newParallelism }, () => ({
    lists: [] as OperatorListStateContents[],
    broadcasts: [] as BroadcastStateContents[],
  }));
  for (const [name, parts] of lists) {
    const first = parts[0];
    const path = describePaths(parts);
    for (const part of parts) {
      if (part.mode !== first.mode || !sameSerializerRef(part.serializer, first.serializer)) {
        throw new IncompatibleStateError(
          name,
          path,
          `differs between old subtasks: ${first.mode} list with ${first.serializer.id} v${first.serializer.version} in ${first.path}, ${part.mode} list with ${part.serializer.id} v${part.serializer.version} in ${part.path}`,
        );
      }
    }
    const all = parts.flatMap((part) => part.elements);
    for (let i = 0; i < newParallelism; i++) {
      const elements =
        first.mode === 'union' ? all.slice() : all.slice(...evenChunk(all.length, newParallelism, i));
      result[i].lists.push({ name, mode: first.mode, serializer: first.serializer, elements, path });
    }
  }
  for (const [, parts] of broadcasts) {
    // groupByName keeps old-subtask order, so parts[0] is subtask 0's copy when it has one.
    const chosen = parts[0];
    for (const subtask of result) subtask.broadcasts.push({ ...chosen, entries: chosen.entries.slice() });
  }
  return result;
}

/** `[start, end)` of subtask `index`'s chunk of `count` items dealt over `parallelism`. */
export function evenChunk(count: number, parallelism: number, index: number): [number, number] {
  const base = Math.floor(count / parallelism);
  const larger = count % parallelism;
  const start = index * base + Math.min(index, larger);
  return [start, start + base + (index < larger ? 1 : 0)];
}

/** Per name (in first-seen order), the old subtasks' states of that name, in subtask order. */
function groupByName<S extends { readonly name: string }>(
  perSubtask: readonly (readonly S[])[],
): Map<string, S[]> {
  const byName = new Map<string, S[]>();
  for (const states of perSubtask) {
    for (const state of states) {
      let parts = byName.get(state.name);
      if (parts === undefined) byName.set(state.name, (parts = []));
      parts.push(state);
    }
  }
  return byName;
}

function describePaths(parts: readonly { readonly path: string }[]): string {
  const paths = [...new Set(parts.map((part) => part.path))];
  if (paths.length <= PATHS_NAMED_MAX) return paths.join(', ');
  return `${paths.slice(0, PATHS_NAMED_MAX).join(', ')} and ${paths.length - PATHS_NAMED_MAX} more`;
}
