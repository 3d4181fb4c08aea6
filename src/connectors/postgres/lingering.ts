/** Which prepared transactions a restarted subtask must roll back (docs/design/connectors.md, "Transaction names"). */

/** What a subtask knows at start about the run it continues. */
export interface LingeringScope {
  /** `<prefix>` of `<prefix>-<subtask>-<k>`. */
  readonly prefix: string;
  readonly subtaskIndex: number;
  readonly parallelism: number;
  /** The checkpoint restored from; undefined on a fresh start (then every `k` lingers). */
  readonly restoredCheckpointId: number | undefined;
}

/** `<subtask>` and `<k>` of a name `<prefix>-<subtask>-<k>`, or undefined for a name of another shape. */
export function parseTransactionName(
  prefix: string,
  gid: string,
): { subtask: number; k: number } | undefined {
  if (!gid.startsWith(`${prefix}-`)) return undefined;
  const match = /^(\d+)-(\d+)$/.exec(gid.slice(prefix.length + 1));
  return match === null ? undefined : { subtask: Number(match[1]), k: Number(match[2]) };
}

/**
 * The names among `prepared` this subtask rolls back: those of old subtasks `j` with
 * `j % parallelism == subtaskIndex` (after a rescale every old index has exactly one owner)
 * whose `k` exceeds the restored checkpoint id (no completed checkpoint covers them; the
 * restored checkpoint's own transactions have `k ≤ r` and are committed instead).
 */
export function lingeringTransactions(prepared: readonly string[], scope: LingeringScope): string[] {
  const { prefix, subtaskIndex, parallelism, restoredCheckpointId } = scope;
  return prepared.filter((gid) => {
    const name = parseTransactionName(prefix, gid);
    if (name === undefined || name.subtask % parallelism !== subtaskIndex) return false;
    return restoredCheckpointId === undefined || name.k > restoredCheckpointId;
  });
}
