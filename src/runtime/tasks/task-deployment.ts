/** Everything one subtask needs to run: its chain of operators, input gate and record writers. */

import type { Clock } from '../../core/clock.ts';
import type { Logger } from '../../core/logger.ts';
import type { RandomSource } from '../../core/random.ts';
import type { HeapOperatorStateStore } from '../../state/backends/heap/heap-operator-state-store.ts';
import type { KeyGroupRange } from '../../state/key-group-range.ts';
import type { KeyedStateBackendFactory } from '../../state/keyed-state-backend.ts';
import type { InputGate } from '../network/input-gate.ts';
import type { KeySelector } from '../network/partitioner.ts';
import type { RecordWriter } from '../network/record-writer.ts';
import type { StreamOperator } from '../operator.ts';
import type { OperatorRestore, TaskCheckpointServices } from './task-checkpointing.ts';

/** Where an operator's output goes: a later operator of the same chain, or a record writer. */
export type OperatorOutputDeployment =
  | { readonly kind: 'chained'; readonly target: number; readonly sideOutputTag?: string }
  | { readonly kind: 'writer'; readonly writer: number; readonly sideOutputTag?: string };

export interface ChainedOperatorDeployment {
  readonly name: string;
  readonly operatorId: string;
  readonly uid: string | undefined;
  readonly createOperator: () => StreamOperator<unknown>;
  /** One entry per input; an operator with a key selector is keyed and gets a state backend. */
  readonly keySelectors: readonly (KeySelector | undefined)[];
  readonly outputs: readonly OperatorOutputDeployment[];
}

export interface TaskDeployment {
  readonly jobId: string;
  readonly vertexId: number;
  readonly taskName: string;
  readonly subtaskIndex: number;
  readonly parallelism: number;
  readonly maxParallelism: number;
  readonly keyGroupRange: KeyGroupRange;
  /** Head first; every non-head operator has exactly one chained input. */
  readonly operators: readonly ChainedOperatorDeployment[];
  /** Absent for source tasks. */
  readonly inputGate: InputGate | undefined;
  readonly writers: readonly RecordWriter[];
  /**
   * Restored state by operator id; absent when the job starts from scratch. The task takes
   * it (and clears it) when it builds its chain: held here, the restored files' bytes would
   * stay in memory as long as the task runs, after the backends are done with them.
   */
  restore?: ReadonlyMap<string, OperatorRestore>;
}

/** Services shared by all tasks of a job; real ones in production, simulated ones in tests. */
export interface TaskServices {
  readonly clock: Clock;
  readonly random: RandomSource;
  readonly keyedStateBackendFactory: KeyedStateBackendFactory;
  readonly createOperatorStateStore: () => HeapOperatorStateStore;
  readonly jobConfiguration: Readonly<Record<string, unknown>>;
  /** The job's name, for operators that name external resources after it (sink transactions). */
  readonly jobName?: string;
  /** Absent when checkpointing is off: barriers are then never created. */
  readonly checkpointing?: TaskCheckpointServices;
  /** Where a task reports long work (loading restored state); the job manager's, with the job id. */
  readonly logger?: Logger;
}
