/** How a DataStream refers to the node(s) it reads: a node, maybe a side output, maybe a partitioner. */
import type { PartitionerSpec } from '../runtime/network/partitioner.ts';

export interface StreamInput {
  readonly nodeId: number;
  readonly sideOutputTag: string | undefined;
  /** Undefined: forward when parallelism matches, else rebalance. */
  readonly partitioner: PartitionerSpec | undefined;
}
