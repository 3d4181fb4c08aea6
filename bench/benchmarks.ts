/** The list of benchmarks, shared by the driver (run.ts) and the version comparison (compare.ts). */

import { checkpointOverhead, checkpointSize } from './checkpoint-overhead.ts';
import { diskCheckpointParts } from './disk-checkpoint-parts.ts';
import { diskIncrementalCheckpoint } from './disk-incremental-checkpoint.ts';
import { diskKeyedCountHot, diskKeyedCountManyKeys } from './disk-keyed-count.ts';
import { diskRestore } from './disk-restore.ts';
import { diskRestoreStreamed } from './disk-restore-streamed.ts';
import { diskWindowTimers } from './disk-window-timers.ts';
import type { Benchmark } from './harness.ts';
import { kafkaExactlyOnce } from './kafka-exactly-once.ts';
import { keyedCount } from './keyed-count.ts';
import { postgresSinkBench } from './postgres-sink.ts';
import { statelessChain } from './stateless-chain.ts';

export const BENCHMARKS: readonly Benchmark[] = [
  statelessChain,
  keyedCount,
  checkpointOverhead,
  checkpointSize,
  diskKeyedCountHot,
  diskKeyedCountManyKeys,
  diskIncrementalCheckpoint,
  diskRestore,
  diskRestoreStreamed,
  diskCheckpointParts,
  diskWindowTimers,
  postgresSinkBench,
  kafkaExactlyOnce,
];
