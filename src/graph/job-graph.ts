/** Stream graph → job graph: resolves parallelism, partitioners and operator ids, and fuses chains. */
import { JobDefinitionError } from '../core/errors.ts';
import { murmur3x86_32 } from '../core/murmur3.ts';
import type { PartitionerSpec } from '../runtime/network/partitioner.ts';
import type { StreamEdge, StreamGraph, StreamNode } from './stream-graph.ts';

export interface ResolvedNode {
  readonly node: StreamNode;
  readonly parallelism: number;
  readonly operatorId: string;
}

export interface ResolvedEdge {
  readonly edge: StreamEdge;
  readonly partitioner: PartitionerSpec;
}

/** A chain of operators that runs as one subtask per parallel instance. */
export interface JobVertex {
  readonly id: number;
  /** Names of the chained operators joined by ' -> ', as Flink shows them. */
  readonly name: string;
  readonly parallelism: number;
  /** Head first, in topological order. */
  readonly members: readonly ResolvedNode[];
  readonly chainedEdges: readonly ResolvedEdge[];
  /** Edges from another vertex into this vertex's head. */
  readonly inputs: readonly ResolvedEdge[];
  /** Edges from any member of this vertex to another vertex's head. */
  readonly outputs: readonly ResolvedEdge[];
}

export interface JobGraph {
  readonly vertices: readonly JobVertex[];
  readonly maxParallelism: number;
  vertexOfNode(nodeId: number): JobVertex;
}

export interface JobGraphOptions {
  readonly defaultParallelism: number;
  readonly maxParallelism: number;
  readonly chaining: boolean;
}

export function buildJobGraph(graph: StreamGraph, options: JobGraphOptions): JobGraph {
  if (graph.nodes.size === 0)
    throw new JobDefinitionError('the job defines no operators: add a source and a sink');
  const resolved = resolveNodes(graph, options);
  const edges = graph.edges.map((edge) => resolveEdge(edge, resolved));
  const chainable = (e: ResolvedEdge): boolean => options.chaining && isChainable(e, graph, resolved);

  const headOf = new Map<number, number>();
  const ordered = [...graph.nodes.values()].sort((a, b) => a.id - b.id);
  for (const node of ordered) {
    const inputs = edges.filter((e) => e.edge.targetId === node.id);
    if (inputs.length === 1 && chainable(inputs[0]))
      headOf.set(node.id, headOf.get(inputs[0].edge.sourceId)!);
    else headOf.set(node.id, node.id);
  }

  const vertices: JobVertex[] = [];
  const vertexByHead = new Map<number, JobVertex>();
  for (const node of ordered) {
    if (headOf.get(node.id) !== node.id) continue;
    const members = ordered.filter((n) => headOf.get(n.id) === node.id).map((n) => resolved.get(n.id)!);
    const memberIds = new Set(members.map((m) => m.node.id));
    const vertex: JobVertex = {
      id: vertices.length,
      name: members.map((m) => m.node.name).join(' -> '),
      parallelism: resolved.get(node.id)!.parallelism,
      members,
      chainedEdges: edges.filter((e) => memberIds.has(e.edge.sourceId) && memberIds.has(e.edge.targetId)),
      inputs: edges.filter((e) => e.edge.targetId === node.id && !memberIds.has(e.edge.sourceId)),
      outputs: edges.filter((e) => memberIds.has(e.edge.sourceId) && !memberIds.has(e.edge.targetId)),
    };
    vertices.push(vertex);
    vertexByHead.set(node.id, vertex);
  }
  return {
    vertices,
    maxParallelism: options.maxParallelism,
    vertexOfNode: (nodeId) => vertexByHead.get(headOf.get(nodeId)!)!,
  };
}

function resolveNodes(graph: StreamGraph, options: JobGraphOptions): Map<number, ResolvedNode> {
  const resolved = new Map<number, ResolvedNode>();
  const uids = new Map<string, StreamNode>();
  for (const node of [...graph.nodes.values()].sort((a, b) => a.id - b.id)) {
    let parallelism = node.parallelism ?? options.defaultParallelism;
    if (node.parallelismMax !== undefined) {
      if (node.parallelism !== undefined && node.parallelism > node.parallelismMax) {
        throw new JobDefinitionError(
          `operator '${node.name}' cannot run with parallelism ${node.parallelism}: it supports at most ${node.parallelismMax}`,
        );
      }
      parallelism = Math.min(parallelism, node.parallelismMax);
    }
    if (parallelism > options.maxParallelism) {
      throw new JobDefinitionError(
        `operator '${node.name}' has parallelism ${parallelism}, above the max parallelism ${options.maxParallelism} (the number of key groups); raise maxParallelism or lower the parallelism`,
      );
    }
    if (node.uid !== undefined) {
      const other = uids.get(node.uid);
      if (other !== undefined) {
        throw new JobDefinitionError(
          `uid '${node.uid}' is used by both '${other.name}' and '${node.name}'; uids must be unique`,
        );
      }
      uids.set(node.uid, node);
    }
    const parents = graph
      .inputsOf(node.id)
      .map((e) => `${resolved.get(e.sourceId)!.operatorId}:${e.inputIndex}:${e.sideOutputTag ?? ''}`)
      .join(',');
    const operatorId = node.uid ?? autoOperatorId(`${node.id}|${node.kind}|${parents}`);
    resolved.set(node.id, { node, parallelism, operatorId });
  }
  return resolved;
}

/** A stable id from the node's position in the graph (creation order and inputs). */
function autoOperatorId(position: string): string {
  const bytes = new TextEncoder().encode(position);
  const a = murmur3x86_32(bytes, bytes.length, 0x5745_4952);
  const b = murmur3x86_32(bytes, bytes.length, a);
  return `auto-${a.toString(16).padStart(8, '0')}${b.toString(16).padStart(8, '0')}`;
}

function resolveEdge(edge: StreamEdge, nodes: Map<number, ResolvedNode>): ResolvedEdge {
  const source = nodes.get(edge.sourceId)!;
  const target = nodes.get(edge.targetId)!;
  if (edge.defaultPartitioner) {
    const partitioner: PartitionerSpec =
      source.parallelism === target.parallelism ? { kind: 'forward' } : { kind: 'rebalance' };
    return { edge, partitioner };
  }
  if (edge.partitioner.kind === 'forward' && source.parallelism !== target.parallelism) {
    throw new JobDefinitionError(
      `forward() from '${source.node.name}' (parallelism ${source.parallelism}) to '${target.node.name}' (parallelism ${target.parallelism}) needs equal parallelism; use rebalance() or rescale()`,
    );
  }
  return { edge, partitioner: edge.partitioner };
}

function isChainable(e: ResolvedEdge, graph: StreamGraph, nodes: Map<number, ResolvedNode>): boolean {
  const source = nodes.get(e.edge.sourceId)!;
  const target = nodes.get(e.edge.targetId)!;
  return (
    e.partitioner.kind === 'forward' &&
    source.parallelism === target.parallelism &&
    target.node.kind === 'one-input' &&
    graph.inputsOf(target.node.id).length === 1 &&
    source.node.chaining !== 'never' &&
    target.node.chaining === 'always'
  );
}
