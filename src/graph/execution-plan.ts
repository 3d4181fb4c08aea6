/** Job graph → execution plan: one task deployment per subtask, wired by local channels. */
import type { RandomSource } from '../core/random.ts';
import { InputGate } from '../runtime/network/input-gate.ts';
import { LocalChannel } from '../runtime/network/local-channel.ts';
import { createChannelSelector } from '../runtime/network/partitioner.ts';
import { RecordWriter } from '../runtime/network/record-writer.ts';
import type {
  ChainedOperatorDeployment,
  OperatorOutputDeployment,
  TaskDeployment,
} from '../runtime/tasks/task-deployment.ts';
import { computeKeyGroupRange } from '../state/key-groups.ts';
import type { JobGraph, JobVertex, ResolvedEdge } from './job-graph.ts';

/** Batches buffered per channel before the producer waits: the backpressure bound. */
export const CHANNEL_CAPACITY_BATCHES = 8;

export interface ExecutionPlanOptions {
  readonly jobId: string;
  readonly random: RandomSource;
  /** Restored state per vertex id and subtask; absent when starting from scratch. */
  readonly restore?: ReadonlyMap<
    number,
    readonly ReadonlyMap<string, import('../runtime/tasks/task-checkpointing.ts').OperatorRestore>[]
  >;
  /** The coordinator (split enumerator) of each source node, by node id. */
  readonly sourceCoordinators: ReadonlyMap<number, unknown>;
}

export interface ExecutionVertex {
  readonly vertex: JobVertex;
  readonly deployments: readonly TaskDeployment[];
}

/** Which consumer subtasks producer subtask `i` of an edge sends to. */
export function targetSubtasks(kind: string, producers: number, consumers: number, i: number): number[] {
  if (kind === 'forward') return [i];
  if (kind === 'rescale') {
    if (producers >= consumers) return [Math.floor((i * consumers) / producers)];
    const from = Math.floor((i * consumers) / producers);
    const to = Math.floor(((i + 1) * consumers) / producers);
    return Array.from({ length: to - from }, (_, k) => from + k);
  }
  if (kind === 'global') return [0];
  return Array.from({ length: consumers }, (_, k) => k);
}

export function buildExecutionPlan(graph: JobGraph, options: ExecutionPlanOptions): ExecutionVertex[] {
  // channels[edgeKey][producer][k] and, per consumer subtask, the channels into it.
  const writerChannels = new Map<ResolvedEdge, LocalChannel[][]>();
  const gateChannels = new Map<JobVertex, LocalChannel[][]>();
  for (const vertex of graph.vertices)
    gateChannels.set(
      vertex,
      Array.from({ length: vertex.parallelism }, () => []),
    );

  for (const vertex of graph.vertices) {
    for (const out of vertex.outputs) {
      const consumer = graph.vertexOfNode(out.edge.targetId);
      const perProducer: LocalChannel[][] = [];
      for (let i = 0; i < vertex.parallelism; i++) {
        const targets = targetSubtasks(out.partitioner.kind, vertex.parallelism, consumer.parallelism, i);
        perProducer.push(
          targets.map((j) => {
            const channel = new LocalChannel(
              `${vertex.name}#${i} -> ${consumer.name}#${j}`,
              out.edge.inputIndex,
              CHANNEL_CAPACITY_BATCHES,
            );
            gateChannels.get(consumer)![j].push(channel);
            return channel;
          }),
        );
      }
      writerChannels.set(out, perProducer);
    }
  }

  return graph.vertices.map((vertex) => ({
    vertex,
    deployments: Array.from({ length: vertex.parallelism }, (_, subtaskIndex) =>
      deploy(vertex, subtaskIndex, graph, options, writerChannels, gateChannels.get(vertex)![subtaskIndex]),
    ),
  }));
}

function deploy(
  vertex: JobVertex,
  subtaskIndex: number,
  graph: JobGraph,
  options: ExecutionPlanOptions,
  writerChannels: Map<ResolvedEdge, LocalChannel[][]>,
  inputChannels: LocalChannel[],
): TaskDeployment {
  // No closure below may use `options`: one that did would keep it, and with it every
  // subtask's restored state, alive as long as the task's operator factories.
  const { random, sourceCoordinators } = options;
  const writers = vertex.outputs.map((out) => {
    const channels = writerChannels.get(out)![subtaskIndex];
    const consumer = graph.vertexOfNode(out.edge.targetId);
    const selector = createChannelSelector(
      out.partitioner,
      channels.length,
      graph.maxParallelism,
      subtaskIndex,
      random,
      consumer.members[0].node.name,
    );
    // Key-group routing picks a consumer index, which equals the channel index only for all-to-all edges.
    if (out.partitioner.kind === 'key-group' && channels.length !== consumer.parallelism) {
      throw new Error(`key-group edge into '${consumer.name}' is not all-to-all`);
    }
    return new RecordWriter(channels, selector);
  });
  const memberIndex = new Map(vertex.members.map((m, i) => [m.node.id, i]));
  const operators: ChainedOperatorDeployment[] = vertex.members.map((member) => {
    const outputs: OperatorOutputDeployment[] = [];
    for (const e of vertex.chainedEdges) {
      if (e.edge.sourceId !== member.node.id) continue;
      outputs.push({
        kind: 'chained',
        target: memberIndex.get(e.edge.targetId)!,
        sideOutputTag: e.edge.sideOutputTag,
      });
    }
    vertex.outputs.forEach((e, writer) => {
      if (e.edge.sourceId === member.node.id)
        outputs.push({ kind: 'writer', writer, sideOutputTag: e.edge.sideOutputTag });
    });
    const sourceCoordinator = sourceCoordinators.get(member.node.id);
    return {
      name: member.node.name,
      operatorId: member.operatorId,
      uid: member.node.uid,
      createOperator: () => member.node.createOperator({ subtaskIndex, sourceCoordinator }),
      keySelectors: member.node.keySelectors,
      outputs,
    };
  });
  return {
    jobId: options.jobId,
    vertexId: vertex.id,
    restore: options.restore?.get(vertex.id)?.[subtaskIndex],
    taskName: vertex.name,
    subtaskIndex,
    parallelism: vertex.parallelism,
    maxParallelism: graph.maxParallelism,
    keyGroupRange: computeKeyGroupRange(graph.maxParallelism, vertex.parallelism, subtaskIndex),
    operators,
    // Sources have no input gate; other vertices always do, even with no channels (global() feeds
    // only subtask 0, so the other subtasks read an empty gate and finish at once).
    inputGate: vertex.inputs.length > 0 ? new InputGate(inputChannels) : undefined,
    writers,
  };
}
