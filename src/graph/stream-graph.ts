/** The stream graph: one node per operator the user declared, edges with their partitioners. */
import type { KeySelector, PartitionerSpec } from '../runtime/network/partitioner.ts';
import type { StreamOperator } from '../runtime/operator.ts';

/** What the planner knows when it instantiates an operator for one subtask. */
export interface OperatorInit {
  readonly subtaskIndex: number;
  /**
   * For source nodes: the job manager's coordinator of this source (its split enumerator), which
   * the source operator registers its reader with. Opaque here: the graph knows no source API.
   */
  readonly sourceCoordinator: unknown;
}

export type ChainingStrategy = 'always' | 'head' | 'never';

export interface StreamNode {
  readonly id: number;
  name: string;
  uid: string | undefined;
  /** Undefined until set by the user; the environment's default applies at planning. */
  parallelism: number | undefined;
  /** A source that cannot run in parallel (a fixed collection) pins this to 1. */
  readonly parallelismMax: number | undefined;
  readonly kind: 'source' | 'one-input' | 'two-input';
  readonly createOperator: (init: OperatorInit) => StreamOperator<unknown>;
  /** Per input (0, 1): the key selector of a keyed input. */
  readonly keySelectors: (KeySelector | undefined)[];
  chaining: ChainingStrategy;
  /** Opaque data the planner hands to the job manager for this node (e.g. a source to split). */
  readonly attachment?: unknown;
}

export interface StreamEdge {
  readonly sourceId: number;
  readonly targetId: number;
  readonly partitioner: PartitionerSpec;
  /** Which input of the target this edge feeds. */
  readonly inputIndex: 0 | 1;
  readonly sideOutputTag: string | undefined;
  /** True when the user asked for no particular partitioner (forward or rebalance by parallelism). */
  readonly defaultPartitioner: boolean;
}

export class StreamGraph {
  readonly nodes = new Map<number, StreamNode>();
  readonly edges: StreamEdge[] = [];
  #nextId = 1;

  addNode(spec: Omit<StreamNode, 'id'>): StreamNode {
    const node: StreamNode = { ...spec, id: this.#nextId++ };
    this.nodes.set(node.id, node);
    return node;
  }

  addEdge(edge: StreamEdge): void {
    this.edges.push(edge);
  }

  inputsOf(nodeId: number): StreamEdge[] {
    return this.edges.filter((e) => e.targetId === nodeId);
  }

  outputsOf(nodeId: number): StreamEdge[] {
    return this.edges.filter((e) => e.sourceId === nodeId);
  }
}
