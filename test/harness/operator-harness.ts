/**
 * Runs ONE operator (one- or two-input) on the real TaskOperatorContext, timer service and
 * state backend, without a task, channels or a job, and records everything it emits.
 *
 * API
 * - `new OperatorHarness(operator, options?)` calls `operator.setup(...)` at once. Options:
 *   `keySelector` (input 0) and `keySelector2` (input 1) make the operator keyed and give it a
 *   keyed state backend owning every key group (default: the heap backend); `maxParallelism`
 *   (default 128); `clock` (a ManualClock, default one starting at 0); `operatorName`
 *   (default the operator's class name; it appears in TaskFailure messages); `seed`;
 *   `jobConfiguration`; `keyedStateBackendFactory` and `operatorStateStore` to swap backends.
 * - Lifecycle: `await open()`, `await finish()`, `await close()` (close also disposes the
 *   context and cancels processing-time callbacks, as a task does).
 * - Input: `processElement(value, timestamp?)`, `processElement1/2(value, timestamp?)`
 *   (an omitted timestamp is NO_TIMESTAMP), `await processBatch(values, timestamps?)` (runs
 *   `prepareBatch` first, like a task), `processWatermark(ts)`, `processWatermark1/2(ts)`,
 *   `processWatermarkStatus(idle)`, `processWatermarkStatus1/2(idle)`, and `finishWatermark()`
 *   to go on with a watermark whose timers paused (a backend that reports `isBackedUp`).
 * - Processing time: `advanceProcessingTime(deltaMs)` moves the ManualClock; each mailbox
 *   action it releases (a processing-time timer) runs at once, at the time it was due, so
 *   timers observe `currentProcessingTime() === their timestamp`. `runMailbox()` runs what
 *   is queued without moving time.
 * - Output: `output` is every emitted element in order: `{ kind: 'record', value, timestamp }`,
 *   `{ kind: 'watermark', timestamp }`, `{ kind: 'side', tag, value, timestamp }` (tag is the
 *   OutputTag's id) and `{ kind: 'status', idle }`. Record timestamps are `undefined` when
 *   the record has none. Helpers: `records()`, `values()`, `sideValues(tag)`, `watermarks()`,
 *   `clearOutput()`.
 * - Errors: like a task, anything the operator throws surfaces as a TaskFailure naming the
 *   operator (the original error is its `cause`).
 * - Inspection: `context` (the TaskOperatorContext), `keyedStateBackend`, `operatorStateStore`,
 *   `clock`.
 *
 * @example
 * ```ts
 * const harness = new OperatorHarness(new KeyedProcessOperator(fn), { keySelector: (e: Event) => e.user });
 * await harness.open();
 * harness.processElement({ user: 'a', n: 1 }, 10);
 * harness.processWatermark(100); // fires event-time timers due at <= 100
 * harness.advanceProcessingTime(1_000); // fires processing-time timers
 * expect(harness.values()).toEqual([...]);
 * await harness.close();
 * ```
 */
import { ManualClock } from '../../src/core/clock.ts';
import type { TaskLocation } from '../../src/core/errors.ts';
import { SeededRandom } from '../../src/core/random.ts';
import { NO_TIMESTAMP } from '../../src/runtime/elements.ts';
import type { KeySelector } from '../../src/runtime/network/partitioner.ts';
import type { OneInputStreamOperator, TwoInputStreamOperator } from '../../src/runtime/operator.ts';
import type { Output, OutputTag } from '../../src/runtime/output.ts';
import { wrapUserError } from '../../src/runtime/tasks/chain-outputs.ts';
import { Mailbox } from '../../src/runtime/tasks/mailbox.ts';
import {
  MailboxProcessingTimeService,
  TaskOperatorContext,
} from '../../src/runtime/tasks/task-operator-context.ts';
import { HeapOperatorStateStore, hashMapStateBackend } from '../../src/state/backends/heap/index.ts';
import { DEFAULT_MAX_PARALLELISM } from '../../src/state/key-groups.ts';
import type { KeyedStateBackend, KeyedStateBackendFactory } from '../../src/state/keyed-state-backend.ts';
import type { OperatorStateStore } from '../../src/state/operator-state.ts';

/** One thing the operator emitted, in emission order. */
export type HarnessOutputElement =
  | { readonly kind: 'record'; readonly value: unknown; readonly timestamp: number | undefined }
  | { readonly kind: 'watermark'; readonly timestamp: number }
  | {
      readonly kind: 'side';
      readonly tag: string;
      readonly value: unknown;
      readonly timestamp: number | undefined;
    }
  | { readonly kind: 'status'; readonly idle: boolean };

export interface OperatorHarnessOptions<IN1, IN2> {
  /** Key selector of input 0; makes the operator keyed. */
  readonly keySelector?: (value: IN1) => unknown;
  /** Key selector of input 1 (two-input operators whose second input is keyed). */
  readonly keySelector2?: (value: IN2) => unknown;
  readonly maxParallelism?: number;
  readonly clock?: ManualClock;
  readonly operatorName?: string;
  readonly seed?: number;
  readonly jobConfiguration?: Readonly<Record<string, unknown>>;
  readonly keyedStateBackendFactory?: KeyedStateBackendFactory;
  readonly operatorStateStore?: OperatorStateStore;
}

type AnyOperator<IN1, IN2, OUT> = OneInputStreamOperator<IN1, OUT> | TwoInputStreamOperator<IN1, IN2, OUT>;

export class OperatorHarness<IN1, OUT, IN2 = never> {
  readonly operator: AnyOperator<IN1, IN2, OUT>;
  readonly context: TaskOperatorContext;
  readonly clock: ManualClock;
  readonly output: HarnessOutputElement[] = [];
  readonly location: TaskLocation;
  readonly #mailbox = new Mailbox();
  readonly #timeService: MailboxProcessingTimeService;
  #advancing = false;

  constructor(operator: AnyOperator<IN1, IN2, OUT>, options: OperatorHarnessOptions<IN1, IN2> = {}) {
    this.operator = operator;
    this.clock = options.clock ?? new ManualClock(0);
    const maxParallelism = options.maxParallelism ?? DEFAULT_MAX_PARALLELISM;
    const keyGroupRange = { start: 0, end: maxParallelism - 1 };
    this.location = {
      operatorName: options.operatorName ?? operator.constructor.name,
      subtaskIndex: 0,
      parallelism: 1,
    };
    this.#timeService = new MailboxProcessingTimeService(this.clock, (action) => {
      this.#mailbox.put(action);
      // While the test moves time, the "task" is idle: mail runs at the instant it is due.
      if (this.#advancing) this.#mailbox.drain();
    });
    const keySelectors = [options.keySelector, options.keySelector2] as (KeySelector | undefined)[];
    const keyed = keySelectors.some((s) => s !== undefined);
    const operatorId = `harness-${this.location.operatorName}`;
    this.context = new TaskOperatorContext({
      location: this.location,
      operatorId,
      maxParallelism,
      keyGroupRange,
      clock: this.clock,
      random: new SeededRandom(options.seed ?? 0),
      processingTimeService: this.#timeService,
      operatorStateStore: options.operatorStateStore ?? new HeapOperatorStateStore(),
      keyedStateBackend: keyed
        ? (options.keyedStateBackendFactory ?? hashMapStateBackend).create({
            operatorId,
            keyGroupRange,
            maxParallelism,
            clock: this.clock,
          })
        : undefined,
      keySelectors,
      isRestored: false,
      jobConfiguration: options.jobConfiguration ?? {},
    });
    operator.setup(this.context, this.#recordingOutput());
  }

  get keyedStateBackend(): KeyedStateBackend | undefined {
    return this.context.keyedStateBackend;
  }

  get operatorStateStore(): OperatorStateStore {
    return this.context.operatorStateStore;
  }

  async open(): Promise<void> {
    await this.#guardAsync(() => this.operator.open());
  }

  async finish(): Promise<void> {
    await this.#guardAsync(() => this.operator.finish());
    this.runMailbox();
  }

  /** Closes the operator and releases the context, as a task does after finish or a failure. */
  async close(): Promise<void> {
    this.#timeService.shutdown();
    try {
      await this.#guardAsync(() => this.operator.close());
    } finally {
      this.context.dispose();
    }
  }

  processElement(value: IN1, timestamp?: number): void {
    const op = this.#one();
    this.#guard(() => op.processElement(value, timestamp ?? NO_TIMESTAMP));
  }

  processElement1(value: IN1, timestamp?: number): void {
    const op = this.#two();
    this.#guard(() => op.processElement1(value, timestamp ?? NO_TIMESTAMP));
  }

  processElement2(value: IN2, timestamp?: number): void {
    const op = this.#two();
    this.#guard(() => op.processElement2(value, timestamp ?? NO_TIMESTAMP));
  }

  /** Runs a batch as a task does: `prepareBatch` (awaiting its promise, if any), then each record. */
  async processBatch(values: readonly IN1[], timestamps?: readonly (number | undefined)[]): Promise<void> {
    const op = this.#one();
    await this.#guardAsync(() => op.prepareBatch?.(values));
    for (let i = 0; i < values.length; i++) this.processElement(values[i], timestamps?.[i]);
  }

  processWatermark(timestamp: number): void {
    const op = this.#one();
    this.#guard(() => op.processWatermark(timestamp));
  }

  /**
   * Goes on with a watermark whose timers stopped firing because the backend reported its
   * writes backed up (`KeyedStateBackend.isBackedUp`); true once it was forwarded. A task
   * calls it after every watermark, awaiting the backend in between.
   */
  finishWatermark(): boolean {
    return this.#guard(() => this.operator.finishWatermark?.() ?? true);
  }

  processWatermark1(timestamp: number): void {
    const op = this.#two();
    this.#guard(() => op.processWatermark1(timestamp));
  }

  processWatermark2(timestamp: number): void {
    const op = this.#two();
    this.#guard(() => op.processWatermark2(timestamp));
  }

  processWatermarkStatus(idle: boolean): void {
    const op = this.#one();
    this.#guard(() => op.processWatermarkStatus(idle));
  }

  processWatermarkStatus1(idle: boolean): void {
    const op = this.#two();
    this.#guard(() => op.processWatermarkStatus1(idle));
  }

  processWatermarkStatus2(idle: boolean): void {
    const op = this.#two();
    this.#guard(() => op.processWatermarkStatus2(idle));
  }

  /** Moves processing time forward; due processing-time timers fire, earliest first. */
  advanceProcessingTime(deltaMs: number): void {
    if (!(deltaMs >= 0)) throw new RangeError(`advanceProcessingTime needs deltaMs >= 0, got ${deltaMs}`);
    this.runMailbox();
    this.#advancing = true;
    try {
      // ManualClock re-scans its queue per step, so timers registered by a firing timer at or
      // before the target time fire within this same call.
      this.#guard(() => this.clock.advance(deltaMs));
    } finally {
      this.#advancing = false;
    }
  }

  /** Runs the queued mailbox actions without moving time. */
  runMailbox(): void {
    this.#guard(() => this.#mailbox.drain());
  }

  records(): { value: OUT; timestamp: number | undefined }[] {
    const out: { value: OUT; timestamp: number | undefined }[] = [];
    for (const e of this.output)
      if (e.kind === 'record') out.push({ value: e.value as OUT, timestamp: e.timestamp });
    return out;
  }

  values(): OUT[] {
    return this.records().map((r) => r.value);
  }

  sideValues<X>(tag: OutputTag<X> | string): X[] {
    const id = typeof tag === 'string' ? tag : tag.id;
    const out: X[] = [];
    for (const e of this.output) if (e.kind === 'side' && e.tag === id) out.push(e.value as X);
    return out;
  }

  watermarks(): number[] {
    const out: number[] = [];
    for (const e of this.output) if (e.kind === 'watermark') out.push(e.timestamp);
    return out;
  }

  clearOutput(): void {
    this.output.length = 0;
  }

  #recordingOutput(): Output<OUT> {
    const output = this.output;
    return {
      collect: (value, timestamp) => {
        output.push({ kind: 'record', value, timestamp: timestamp === NO_TIMESTAMP ? undefined : timestamp });
      },
      emitWatermark: (timestamp) => {
        output.push({ kind: 'watermark', timestamp });
      },
      emitWatermarkStatus: (idle) => {
        output.push({ kind: 'status', idle });
      },
      collectSide: (tag, value, timestamp) => {
        output.push({
          kind: 'side',
          tag: tag.id,
          value,
          timestamp: timestamp === NO_TIMESTAMP ? undefined : timestamp,
        });
      },
    };
  }

  #one(): OneInputStreamOperator<IN1, OUT> {
    if (!('processElement' in this.operator)) {
      throw new TypeError(`${this.location.operatorName} is a two-input operator: use processElement1/2`);
    }
    return this.operator;
  }

  #two(): TwoInputStreamOperator<IN1, IN2, OUT> {
    if (!('processElement1' in this.operator)) {
      throw new TypeError(`${this.location.operatorName} is a one-input operator: use processElement`);
    }
    return this.operator;
  }

  #guard<R>(action: () => R): R {
    try {
      return action();
    } catch (error) {
      throw wrapUserError(error, this.location);
    }
  }

  async #guardAsync(action: () => unknown): Promise<void> {
    try {
      await action();
    } catch (error) {
      throw wrapUserError(error, this.location);
    }
  }
}
