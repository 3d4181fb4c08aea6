/** The source coordinators of one job attempt: created (or restored) before the tasks, snapshotted with every trigger. */
import type { Source, SourceSplit } from '../api/source.ts';
import type { CoordinatorStateHandle } from '../checkpoint/snapshot-handles.ts';
import type { Clock } from '../core/clock.ts';
import type { JobGraph } from '../graph/job-graph.ts';
import type { RestoreSource } from './restore-assignment.ts';
import { type EnumeratorOrigin, SourceCoordinator } from './source-coordinator.ts';

/** What the job manager needs to know of a source node: the source, to create its enumerator. */
export interface SourceAttachment {
  readonly source: Source<unknown, SourceSplit, unknown>;
}

export interface SourceCoordinators {
  /** By source node id, for the execution plan (each source operator registers its reader there). */
  readonly byNodeId: ReadonlyMap<number, SourceCoordinator>;
  /** Every enumerator's state for checkpoint `checkpointId`; synchronous, taken with the trigger. */
  snapshot(checkpointId: number): CoordinatorStateHandle[];
  notifyCheckpointComplete(checkpointId: number): void;
  close(): Promise<void>;
}

/**
 * Creates one coordinator per source vertex and starts its enumerator: fresh, restored from the
 * restore point's coordinator state, or (a checkpoint from before enumerators, with reader state
 * for this source) through `restoreEnumeratorWithoutState`. A failure closes those started.
 */
export async function startSourceCoordinators(
  jobGraph: JobGraph,
  restore: RestoreSource | undefined,
  clock: Clock,
  failJob: (error: Error) => void,
): Promise<SourceCoordinators> {
  const byNodeId = new Map<number, SourceCoordinator>();
  const all: SourceCoordinator[] = [];
  const close = async (): Promise<void> => {
    await Promise.all(all.map((c) => c.close()));
  };
  try {
    for (const vertex of jobGraph.vertices) {
      const head = vertex.members[0];
      const attachment = head.node.attachment as SourceAttachment | undefined;
      if (head.node.kind !== 'source' || attachment === undefined) continue;
      const coordinator = new SourceCoordinator({
        source: attachment.source,
        operatorId: head.operatorId,
        operatorName: head.node.name,
        parallelism: vertex.parallelism,
        clock,
        origin: originOf(head.operatorId, restore),
        failJob,
      });
      all.push(coordinator);
      byNodeId.set(head.node.id, coordinator);
      await coordinator.start();
    }
  } catch (error) {
    await close();
    throw error;
  }
  return {
    byNodeId,
    snapshot: (checkpointId) => all.map((c) => c.snapshot(checkpointId)),
    notifyCheckpointComplete: (checkpointId) => {
      for (const c of all) c.notifyCheckpointComplete(checkpointId);
    },
    close,
  };
}

function originOf(operatorId: string, restore: RestoreSource | undefined): EnumeratorOrigin {
  if (restore === undefined) return { kind: 'fresh' };
  const { metadata, pointer } = restore;
  const state = metadata.coordinators?.find((c) => c.operatorId === operatorId);
  if (state !== undefined) return { kind: 'restored', state, pointer };
  const readers = metadata.operators.find((op) => op.operatorId === operatorId);
  // No state at all: a source added since the snapshot starts fresh. Reader state without
  // enumerator state: a snapshot from before enumerators (every split was then in a reader).
  const hasReaderState = readers?.subtasks.some((s) => s.operatorState !== undefined) ?? false;
  return hasReaderState ? { kind: 'without-state', pointer } : { kind: 'fresh' };
}
