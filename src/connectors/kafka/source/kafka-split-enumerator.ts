/** The Kafka source's enumerator: discovers partitions (periodically when unbounded) and assigns each to its owner reader. */
import type { SplitEnumerator, SplitEnumeratorContext } from '../../../api/source.ts';
import { KafkaAdmin } from '../client/kafka-admin.ts';
import { type KafkaSourceOptions, PARTITION_DISCOVERY_INTERVAL_MS_DEFAULT } from './kafka-source-options.ts';
import { type KafkaPartitionSplit, splitOwner } from './kafka-split.ts';
import { SplitDiscovery } from './split-discovery.ts';

/** Checkpointed: every split ever discovered (so none is assigned twice) and those not yet assigned. */
export interface KafkaEnumeratorState {
  readonly known: readonly string[];
  readonly pending: readonly KafkaPartitionSplit[];
}

export class KafkaSplitEnumerator<T> implements SplitEnumerator<KafkaPartitionSplit, KafkaEnumeratorState> {
  readonly #context: SplitEnumeratorContext<KafkaPartitionSplit>;
  readonly #options: KafkaSourceOptions<T>;
  readonly #admin: KafkaAdmin;
  readonly #discovery: SplitDiscovery<T>;
  readonly #restored: boolean;
  #pending: KafkaPartitionSplit[];
  readonly #signalled = new Set<number>();

  constructor(
    context: SplitEnumeratorContext<KafkaPartitionSplit>,
    options: KafkaSourceOptions<T>,
    state: KafkaEnumeratorState | undefined,
  ) {
    this.#context = context;
    this.#options = options;
    this.#admin = new KafkaAdmin(options, 'source-enumerator');
    this.#discovery = new SplitDiscovery(this.#admin, options, state?.known ?? []);
    this.#pending = [...(state?.pending ?? [])];
    this.#restored = state !== undefined;
  }

  /** The first discovery runs before the tasks start, so a broker that is down fails the job start. */
  async start(): Promise<void> {
    if (!this.#restored || !this.#options.bounded) {
      this.#pending.push(...(await this.#discovery.discover(!this.#restored)));
    }
    const intervalMs = this.#options.partitionDiscoveryIntervalMs ?? PARTITION_DISCOVERY_INTERVAL_MS_DEFAULT;
    if (this.#options.bounded || intervalMs === 0) return;
    this.#context.callAsync(
      () => this.#discovery.discover(false),
      (splits, error) => {
        if (error !== undefined && error !== null) throw error;
        if (splits === undefined || splits.length === 0) return;
        this.#pending.push(...splits);
        this.#assignPending();
      },
      intervalMs,
    );
  }

  handleSplitRequest(): void {}

  addReader(): void {
    this.#assignPending();
  }

  addSplitsBack(splits: readonly KafkaPartitionSplit[]): void {
    this.#pending.push(...splits);
    this.#assignPending();
  }

  snapshotState(): KafkaEnumeratorState {
    return { known: this.#discovery.knownSplitIds, pending: [...this.#pending] };
  }

  async close(): Promise<void> {
    await this.#admin.close();
  }

  #assignPending(): void {
    const registered = this.#context.registeredReaders();
    const assignment = new Map<number, KafkaPartitionSplit[]>();
    const left: KafkaPartitionSplit[] = [];
    for (const split of this.#pending) {
      const owner = splitOwner(split, this.#context.parallelism);
      if (!registered.has(owner)) {
        left.push(split);
        continue;
      }
      assignment.set(owner, [...(assignment.get(owner) ?? []), split]);
    }
    this.#pending = left;
    if (assignment.size > 0) this.#context.assignSplits(assignment);
    if (!this.#options.bounded) return;
    // Bounded: every split was discovered at start; a reader with nothing pending is complete.
    for (const reader of registered) {
      if (
        !this.#signalled.has(reader) &&
        !left.some((s) => splitOwner(s, this.#context.parallelism) === reader)
      ) {
        this.#signalled.add(reader);
        this.#context.signalNoMoreSplits(reader);
      }
    }
  }
}
