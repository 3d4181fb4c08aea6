/** The OperatorContext a task gives each operator of its chain: state, timers, key context. */
import type { Cancellable, Clock } from '../../core/clock.ts';
import { JobDefinitionError, TaskFailure, type TaskLocation } from '../../core/errors.ts';
import { UnhashableKeyError } from '../../core/key-encoding.ts';
import type { RandomSource } from '../../core/random.ts';
import type { KeyGroupRange } from '../../state/key-group-range.ts';
import { assignToKeyGroup } from '../../state/key-groups.ts';
import type { KeyedStateBackend } from '../../state/keyed-state-backend.ts';
import type { OperatorStateStore } from '../../state/operator-state.ts';
import type { KeySelector } from '../network/partitioner.ts';
import type { CheckpointTiming, OperatorContext } from '../operator.ts';
import type { InternalTimerService, ProcessingTimeService, Triggerable } from '../timer-service.ts';
import { KeyedTimerService } from '../timers/keyed-timer-service.ts';

export interface TaskOperatorContextOptions {
  readonly location: TaskLocation;
  readonly operatorId: string;
  readonly maxParallelism: number;
  readonly keyGroupRange: KeyGroupRange;
  readonly clock: Clock;
  readonly random: RandomSource;
  readonly processingTimeService: ProcessingTimeService;
  readonly operatorStateStore: OperatorStateStore;
  readonly keyedStateBackend: KeyedStateBackend | undefined;
  readonly keySelectors: readonly (KeySelector | undefined)[];
  readonly jobConfiguration: Readonly<Record<string, unknown>>;
  readonly isRestored: boolean;
  /** Default 'Weir Job' (the environment's default job name). */
  readonly jobName?: string;
  readonly checkpointing?: CheckpointTiming | undefined;
}

export class TaskOperatorContext implements OperatorContext {
  readonly jobName: string;
  readonly operatorName: string;
  readonly operatorId: string;
  readonly subtaskIndex: number;
  readonly parallelism: number;
  readonly maxParallelism: number;
  readonly keyGroupRange: KeyGroupRange;
  readonly clock: Clock;
  readonly random: RandomSource;
  readonly processingTimeService: ProcessingTimeService;
  readonly operatorStateStore: OperatorStateStore;
  readonly keyedStateBackend: KeyedStateBackend | undefined;
  readonly jobConfiguration: Readonly<Record<string, unknown>>;
  readonly location: TaskLocation;
  readonly isRestored: boolean;
  readonly checkpointing: CheckpointTiming | undefined;
  readonly #keySelectors: readonly (KeySelector | undefined)[];
  readonly #timerServices = new Map<string, KeyedTimerService>();
  /** Set once the task finished the backend's restore work (see restoreLoaded). */
  #restoreLoaded = false;
  // The batch last given to prefetchKeys, with its keys and key groups: setKeyContextElement
  // takes them from here, in order, instead of running the selector and hash a second time.
  #batchValues: readonly unknown[] = [];
  #batchInput: 0 | 1 = 0;
  #batchCursor = 0;
  #keys: unknown[] = [];
  #keyGroups: number[] = [];
  // Key groups the producer's partitioner computed for the batch about to be prefetched.
  #offeredValues: readonly unknown[] | undefined;
  #offeredInput: 0 | 1 = 0;
  #offeredKeyGroups: readonly number[] = [];

  constructor(options: TaskOperatorContextOptions) {
    this.location = options.location;
    this.operatorName = options.location.operatorName;
    this.operatorId = options.operatorId;
    this.subtaskIndex = options.location.subtaskIndex;
    this.parallelism = options.location.parallelism;
    this.maxParallelism = options.maxParallelism;
    this.keyGroupRange = options.keyGroupRange;
    this.clock = options.clock;
    this.random = options.random;
    this.processingTimeService = options.processingTimeService;
    this.operatorStateStore = options.operatorStateStore;
    this.keyedStateBackend = options.keyedStateBackend;
    this.#keySelectors = options.keySelectors;
    this.jobConfiguration = options.jobConfiguration;
    this.isRestored = options.isRestored;
    this.jobName = options.jobName ?? 'Weir Job';
    this.checkpointing = options.checkpointing;
  }

  /** The timer service named `name`, if the operator created it. */
  existingTimerService(name: string): KeyedTimerService | undefined {
    return this.#timerServices.get(name);
  }

  getTimerService(name: string, target: Triggerable): InternalTimerService {
    const backend = this.#requireKeyed('timers');
    let service = this.#timerServices.get(name);
    if (service === undefined) {
      service = new KeyedTimerService(name, backend, target, this.processingTimeService);
      this.#timerServices.set(name, service);
      if (this.#restoreLoaded) service.reschedule();
    }
    return service;
  }

  /** The keyed backend has loaded what it restored: timer services schedule the timers it holds. */
  restoreLoaded(): void {
    this.#restoreLoaded = true;
    for (const service of this.#timerServices.values()) service.reschedule();
  }

  timerServices(): IterableIterator<KeyedTimerService> {
    return this.#timerServices.values();
  }

  advanceWatermark(watermarkMs: number): boolean {
    for (const service of this.#timerServices.values()) {
      if (!service.advanceWatermark(watermarkMs)) return false;
    }
    return true;
  }

  setKeyContextElement(value: unknown, input: 0 | 1): void {
    const backend = this.keyedStateBackend!;
    const cursor = this.#batchCursor;
    // The record at the cursor of the prefetched batch: same value, so (selectors being
    // deterministic) same key. Anything else, e.g. a harness feeding records one by one,
    // takes the full path.
    if (
      input === this.#batchInput &&
      cursor < this.#batchValues.length &&
      this.#batchValues[cursor] === value
    ) {
      this.#batchCursor = cursor + 1;
      backend.setCurrentKey(this.#keys[cursor], this.#keyGroups[cursor]);
      return;
    }
    const key = this.#selectKey(value, input);
    const keyGroup = this.#keyGroupOf(key);
    backend.setCurrentKey(key, keyGroup);
  }

  /**
   * The task hands over the key groups that came with an input batch (see RecordBatch): if
   * they were computed with this input's own key selector, the next `prefetchKeys` of exactly
   * these `values` takes them instead of hashing every key again. Only checks the range.
   */
  offerKeyGroups(
    values: readonly unknown[],
    input: 0 | 1,
    keyGroups: readonly number[] | undefined,
    keySelector: KeySelector | undefined,
  ): void {
    const usable =
      keyGroups !== undefined &&
      keySelector !== undefined &&
      keySelector === this.#keySelectors[input] &&
      keyGroups.length === values.length;
    this.#offeredValues = usable ? values : undefined;
    this.#offeredInput = input;
    this.#offeredKeyGroups = usable ? keyGroups : [];
  }

  prefetchKeys(values: readonly unknown[], input: 0 | 1): undefined | Promise<void> {
    const backend = this.keyedStateBackend!;
    const n = values.length;
    const keys = this.#keys;
    const groups = this.#keyGroups;
    const offered =
      this.#offeredValues === values && this.#offeredInput === input ? this.#offeredKeyGroups : undefined;
    this.#offeredValues = undefined;
    this.#offeredKeyGroups = [];
    // Forget the previous batch first: if a selector throws below, nothing stale is used.
    this.#batchValues = [];
    this.#batchCursor = 0;
    keys.length = n;
    groups.length = n;
    if (offered === undefined) {
      for (let i = 0; i < n; i++) {
        const key = this.#selectKey(values[i], input);
        keys[i] = key;
        groups[i] = this.#keyGroupOf(key);
      }
    } else {
      const { start, end } = this.keyGroupRange;
      for (let i = 0; i < n; i++) {
        const key = this.#selectKey(values[i], input);
        const keyGroup = offered[i];
        keys[i] = key;
        // Out of range: hash here, which fails with the same message as when nothing was shipped.
        groups[i] = keyGroup >= start && keyGroup <= end ? keyGroup : this.#keyGroupOf(key);
      }
    }
    this.#batchValues = values;
    this.#batchInput = input;
    return backend.prefetch(keys, groups);
  }

  dispose(): void {
    this.#batchValues = [];
    for (const service of this.#timerServices.values()) service.dispose();
    this.keyedStateBackend?.dispose();
  }

  #selectKey(value: unknown, input: 0 | 1): unknown {
    const selector = this.#keySelectors[input];
    if (selector === undefined)
      throw new JobDefinitionError(`input ${input} of '${this.operatorName}' is not keyed`);
    const key = selector(value);
    if (key === undefined) {
      throw new TaskFailure(
        this.location,
        `the key selector returned undefined for record ${describeRecord(value)}; every record needs a key`,
      );
    }
    return key;
  }

  #keyGroupOf(key: unknown): number {
    let keyGroup: number;
    try {
      keyGroup = assignToKeyGroup(key, this.maxParallelism);
    } catch (error) {
      if (error instanceof UnhashableKeyError) {
        throw new TaskFailure(this.location, `the key selector returned an unusable key: ${error.message}`, {
          cause: error,
        });
      }
      throw error;
    }
    const range = this.keyGroupRange;
    if (keyGroup < range.start || keyGroup > range.end) {
      throw new TaskFailure(
        this.location,
        `key ${describeRecord(key)} is in key group ${keyGroup}, outside this subtask's range ${range.start}-${range.end}: the key selector must return the same key for the same record every time`,
      );
    }
    return keyGroup;
  }

  #requireKeyed(what: string): KeyedStateBackend {
    if (this.keyedStateBackend === undefined) {
      throw new JobDefinitionError(
        `'${this.operatorName}' uses ${what}, which need a keyed stream (call keyBy first)`,
      );
    }
    return this.keyedStateBackend;
  }
}

/** A short, safe rendering of a record for error messages. */
export function describeRecord(value: unknown): string {
  let text: string;
  try {
    text =
      typeof value === 'string'
        ? JSON.stringify(value)
        : (JSON.stringify(value, bigintReplacer) ?? String(value));
  } catch {
    text = String(value);
  }
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

function bigintReplacer(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? `${value}n` : value;
}

/** Runs processing-time callbacks through the task's mailbox. */
export class MailboxProcessingTimeService implements ProcessingTimeService {
  readonly #clock: Clock;
  readonly #enqueue: (action: () => void) => void;
  #pending = new Set<Cancellable>();

  constructor(clock: Clock, enqueue: (action: () => void) => void) {
    this.#clock = clock;
    this.#enqueue = enqueue;
  }

  currentProcessingTime(): number {
    return this.#clock.now();
  }

  registerTimer(atMs: number, callback: (timestampMs: number) => void): Cancellable {
    let cancelled = false;
    const scheduled = this.#clock.schedule(atMs, () => {
      this.#pending.delete(handle);
      if (!cancelled) this.#enqueue(() => !cancelled && callback(this.#clock.now()));
    });
    const handle: Cancellable = {
      cancel: () => {
        cancelled = true;
        scheduled.cancel();
        this.#pending.delete(handle);
      },
    };
    this.#pending.add(handle);
    return handle;
  }

  /** Cancels every scheduled callback; the task has ended. */
  shutdown(): void {
    for (const handle of [...this.#pending]) handle.cancel();
  }
}
