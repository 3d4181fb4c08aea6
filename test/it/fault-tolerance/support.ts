/**
 * Shared pieces of the fault-tolerance suite: a per-key sequence source, a checker that sees
 * every gap and duplicate, a transactional collect sink (publishes only on checkpoint
 * completion or end of input), and a pass-through operator that injects failures.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AbstractStreamOperator,
  type Collector,
  type KeyedContext,
  type KeyedCoProcessFunction,
  type KeyedProcessFunction,
  type ListState,
  type Logger,
  type LogLevel,
  listState,
  type OneInputStreamOperator,
  type OnTimerContext,
  type RuntimeContext,
  SeededRandom,
  type SingleOutputStreamOperator,
  type StreamExecutionEnvironment,
  type ValueState,
  valueState,
} from '../../../src/index.ts';

// ---------------------------------------------------------------------------------------------
// Seeds

/** The suite's base seed: WEIR_FT_SEED replays a run; otherwise a fresh one each time. */
export function baseSeed(): number {
  const fixed = process.env.WEIR_FT_SEED;
  return fixed === undefined || fixed === '' ? (Math.random() * 2 ** 31) >>> 0 : Number(fixed) >>> 0;
}

/** A seed for item `index` of a run with base seed `base` (distinct, reproducible). */
export function derivedSeed(base: number, index: number): number {
  return new SeededRandom((base ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0).nextInt(2 ** 31);
}

// ---------------------------------------------------------------------------------------------
// The per-key sequence source

/** One record of a sequence source: the `seq`-th record of key `key`. */
export interface Rec {
  readonly key: number;
  readonly seq: number;
}

/**
 * A deterministic sequence workload. The generator's bounded splits are contiguous index
 * ranges (one per source subtask at the parallelism the job first ran with: `splits`), so
 * each split owns its own `keysPerSplit` keys, and within a split record `o` is
 * `{ key: split * keysPerSplit + o % keysPerSplit, seq: floor(o / keysPerSplit) }`: every key's
 * records come from one split, in seq order, interleaved with the split's other keys.
 * (With the plain `i % K` layout a key's records would come from every split at once, and
 * no checker could expect `seq === last + 1` downstream of a shuffle.)
 */
export interface SeqSpec {
  readonly splits: number;
  readonly keysPerSplit: number;
  readonly seqsPerKey: number;
  /** Distinguishes two sources of one job (their keys overlap on purpose: connect). */
  readonly name: string;
}

export function seqCount(spec: SeqSpec): number {
  return spec.splits * spec.keysPerSplit * spec.seqsPerKey;
}

export function seqRecord(spec: SeqSpec, index: number): Rec {
  const perSplit = spec.keysPerSplit * spec.seqsPerKey;
  const split = Math.floor(index / perSplit);
  const offset = index - split * perSplit;
  return {
    key: split * spec.keysPerSplit + (offset % spec.keysPerSplit),
    seq: Math.floor(offset / spec.keysPerSplit),
  };
}

/** Event time of a record: its seq (1 ms per step), so tumbling windows of W ms hold W records per key. */
export const eventTime = (r: Rec): number => r.seq;

/**
 * The generator source of `spec`, uid `src-<name>`, at `parallelism` (default `spec.splits`:
 * the splits are created for the first run; restores at other parallelisms redistribute them).
 */
export function sequenceSource(
  env: StreamExecutionEnvironment,
  spec: SeqSpec,
  options: { readonly parallelism?: number; readonly ratePerSecond?: number } = {},
): SingleOutputStreamOperator<Rec> {
  return env
    .fromGenerator<Rec>({
      count: seqCount(spec),
      generate: (i) => seqRecord(spec, i),
      timestamp: (r) => eventTime(r),
      ratePerSecond: options.ratePerSecond,
    })
    .setParallelism(options.parallelism ?? spec.splits)
    .uid(`src-${spec.name}`)
    .name(`Source: ${spec.name}`);
}

// ---------------------------------------------------------------------------------------------
// What the job's functions report to the test (shared objects: the job runs in this process)

export type Mode = 'exactly-once' | 'at-least-once';

export class Probe {
  /** Gaps (both modes) and duplicates (exactly-once), as readable lines; bounded. */
  readonly violations: string[] = [];
  /** Records the at-least-once checker saw again (seq <= last). */
  duplicates = 0;
  /** Highest seq each checker instance saw per `<checker>/<key>`, across attempts. */
  readonly maxSeen = new Map<string, number>();
  records = 0;
  /** Per restored injector subtask: the old subtasks whose union-state entries it received. */
  readonly restoredUnion: { readonly subtask: number; readonly from: readonly number[] }[] = [];

  violation(line: string): void {
    if (this.violations.length < 20) this.violations.push(line);
    else if (this.violations.length === 20) this.violations.push('…');
  }
}

/** Output of the jobs: plain objects with a `kind`, compared as canonical strings. */
export type Out =
  | {
      readonly kind: 'final';
      readonly checker: string;
      readonly key: number;
      readonly last: number;
      readonly count: number;
    }
  | { readonly kind: 'tick'; readonly checker: string; readonly key: number; readonly at: number }
  | { readonly kind: 'window'; readonly key: number; readonly start: number; readonly count: number };

/** Every `TICK_EVERY`-th seq registers an event-time timer `TICK_DELAY_MS` later. */
export const TICK_EVERY = 37;
export const TICK_DELAY_MS = 11;
const END_OF_TIME = Number.POSITIVE_INFINITY;

/**
 * Checks one stream's per-key sequence in keyed state (`last` seq, `count` of accepted
 * records). Exactly-once: every record must be `last + 1`. At-least-once: `seq <= last + 1`
 * (a replayed duplicate is counted and ignored; a gap is a violation). Emits every key's
 * final state from an event-time timer at +∞ (fires on the final watermark at end of input),
 * and a `tick` from a timer registered every TICK_EVERY seqs.
 */
export class SequenceChecker implements KeyedProcessFunction<number, Rec, Out> {
  readonly #probe: Probe;
  readonly #mode: Mode;
  readonly #name: string;
  #last!: ValueState<number>;
  #count!: ValueState<number>;

  constructor(probe: Probe, mode: Mode, name: string) {
    this.#probe = probe;
    this.#mode = mode;
    this.#name = name;
  }

  open(context: RuntimeContext): void {
    this.#last = context.getState(valueState<number>(`last-${this.#name}`, { defaultValue: -1 }));
    this.#count = context.getState(valueState<number>(`count-${this.#name}`, { defaultValue: 0 }));
  }

  processElement(r: Rec, ctx: KeyedContext<number>, out: Collector<Out>): void {
    void out;
    const timers = ctx.timerService();
    if (checkSequence(this.#probe, this.#mode, this.#name, r, this.#last, this.#count)) {
      if (r.seq === 0) timers.registerEventTimeTimer(END_OF_TIME);
      if (r.seq % TICK_EVERY === 0) timers.registerEventTimeTimer(eventTime(r) + TICK_DELAY_MS);
    }
  }

  onTimer(timestampMs: number, ctx: OnTimerContext<number>, out: Collector<Out>): void {
    const key = ctx.getCurrentKey();
    if (timestampMs === END_OF_TIME) {
      out.collect({
        kind: 'final',
        checker: this.#name,
        key,
        last: this.#last.value() ?? -1,
        count: this.#count.value() ?? 0,
      });
    } else {
      out.collect({ kind: 'tick', checker: this.#name, key, at: timestampMs });
    }
  }
}

/** Returns whether the record was accepted (new), after recording any violation or duplicate. */
function checkSequence(
  probe: Probe,
  mode: Mode,
  name: string,
  r: Rec,
  lastState: ValueState<number>,
  countState: ValueState<number>,
): boolean {
  probe.records++;
  const seenKey = `${name}/${r.key}`;
  if ((probe.maxSeen.get(seenKey) ?? -1) < r.seq) probe.maxSeen.set(seenKey, r.seq);
  const last = lastState.value() ?? -1;
  if (r.seq === last + 1) {
    lastState.update(r.seq);
    countState.update((countState.value() ?? 0) + 1);
    return true;
  }
  if (r.seq > last + 1) {
    probe.violation(`${name} key ${r.key}: gap, seq ${r.seq} after ${last}`);
    lastState.update(r.seq);
    countState.update((countState.value() ?? 0) + 1);
    return true;
  }
  if (mode === 'exactly-once') probe.violation(`${name} key ${r.key}: duplicate, seq ${r.seq} after ${last}`);
  else probe.duplicates++;
  return false;
}

/**
 * The two-input checker: `connect` of two keyed sequence streams with overlapping keys; each
 * side's sequence is checked separately in the key's state, and at the end the key's totals
 * of both sides are emitted together.
 */
export class CoSequenceChecker implements KeyedCoProcessFunction<number, Rec, Rec, Out> {
  readonly #probe: Probe;
  readonly #mode: Mode;
  readonly #names: readonly [string, string];
  #last!: [ValueState<number>, ValueState<number>];
  #count!: [ValueState<number>, ValueState<number>];

  constructor(probe: Probe, mode: Mode, names: readonly [string, string]) {
    this.#probe = probe;
    this.#mode = mode;
    this.#names = names;
  }

  open(context: RuntimeContext): void {
    const [a, b] = this.#names;
    this.#last = [
      context.getState(valueState<number>(`last-${a}`, { defaultValue: -1 })),
      context.getState(valueState<number>(`last-${b}`, { defaultValue: -1 })),
    ];
    this.#count = [
      context.getState(valueState<number>(`count-${a}`, { defaultValue: 0 })),
      context.getState(valueState<number>(`count-${b}`, { defaultValue: 0 })),
    ];
  }

  processElement1(r: Rec, ctx: KeyedContext<number>): void {
    this.#on(0, r, ctx);
  }

  processElement2(r: Rec, ctx: KeyedContext<number>): void {
    this.#on(1, r, ctx);
  }

  #on(side: 0 | 1, r: Rec, ctx: KeyedContext<number>): void {
    const accepted = checkSequence(
      this.#probe,
      this.#mode,
      `co-${this.#names[side]}`,
      r,
      this.#last[side],
      this.#count[side],
    );
    if (accepted && r.seq === 0) ctx.timerService().registerEventTimeTimer(END_OF_TIME);
  }

  onTimer(_timestampMs: number, ctx: OnTimerContext<number>, out: Collector<Out>): void {
    const key = ctx.getCurrentKey();
    for (const side of [0, 1] as const) {
      out.collect({
        kind: 'final',
        checker: `co-${this.#names[side]}`,
        key,
        last: this.#last[side].value() ?? -1,
        count: this.#count[side].value() ?? 0,
      });
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The transactional collect sink

interface Txn {
  readonly id: string;
  readonly checkpointId: number;
  readonly values: string[];
}

/**
 * Where a {@link TransactionalCollectSink} publishes. Commits are idempotent by transaction
 * id (`<subtask>:<checkpoint id>`; checkpoint ids never repeat within a job's lineage), as a
 * real transactional sink's are: a transaction may be committed both by the notification
 * and again after a restore from the checkpoint that pre-committed it.
 */
export class TxnStore {
  readonly #committed = new Map<string, Txn>();

  commit(txn: Txn): void {
    if (!this.#committed.has(txn.id)) this.#committed.set(txn.id, { ...txn, values: [...txn.values] });
  }

  /** The transactions that published `value` (debugging). */
  whereIs(value: string): string[] {
    return [...this.#committed.values()].filter((t) => t.values.includes(value)).map((t) => t.id);
  }

  /** Everything published, as a sorted multiset of canonical strings. */
  published(): string[] {
    return [...this.#committed.values()].flatMap((t) => t.values).sort();
  }

  /**
   * A copy: a branch restoring from a savepoint continues from what was published so far.
   * With `upToCheckpointId`, only transactions pre-committed by that checkpoint or earlier:
   * what was published as of that checkpoint (the original job may have gone on after it).
   */
  fork(upToCheckpointId = Number.POSITIVE_INFINITY): TxnStore {
    const copy = new TxnStore();
    for (const [id, txn] of this.#committed) {
      if (txn.checkpointId >= 0 && txn.checkpointId <= upToCheckpointId) copy.#committed.set(id, txn);
      else if (txn.checkpointId < 0 && upToCheckpointId === Number.POSITIVE_INFINITY)
        copy.#committed.set(id, txn);
    }
    return copy;
  }
}

const PENDING_TXNS = listState<Txn>('pending-transactions');

/**
 * A test-only exactly-once sink: records go into the current transaction; `snapshotState(n)`
 * pre-commits it as transaction n (kept in operator state); `notifyCheckpointComplete(n)`
 * commits every pre-committed transaction up to n; a restore commits what the restored
 * checkpoint pre-committed (it completed, so its transactions must be published) and drops
 * the rest (it will be replayed); end of input commits everything.
 */
export class TransactionalCollectSink
  extends AbstractStreamOperator<never>
  implements OneInputStreamOperator<Out, never>
{
  readonly #store: TxnStore;
  #state!: ListState<Txn>;
  #pending: Txn[] = [];
  #current: string[] = [];

  constructor(store: TxnStore) {
    super();
    this.#store = store;
  }

  override open(): void {
    this.#state = this.context.operatorStateStore.getListState(PENDING_TXNS);
    if (this.context.isRestored) {
      for (const txn of this.#state.get()) this.#store.commit(txn);
      this.#state.clear();
    }
  }

  processElement(value: Out): void {
    this.#current.push(canonical(value));
  }

  snapshotState(checkpointId: number): void {
    if (this.#current.length > 0) {
      this.#pending.push({
        id: `${this.context.subtaskIndex}:${checkpointId}`,
        checkpointId,
        values: this.#current,
      });
      this.#current = [];
    }
    this.#state.update(this.#pending);
  }

  notifyCheckpointComplete(checkpointId: number): void {
    const done = this.#pending.filter((t) => t.checkpointId <= checkpointId);
    for (const txn of done) this.#store.commit(txn);
    this.#pending = this.#pending.filter((t) => t.checkpointId > checkpointId);
  }

  override finish(): void {
    for (const txn of this.#pending) this.#store.commit(txn);
    this.#store.commit({ id: `${this.context.subtaskIndex}:end`, checkpointId: -1, values: this.#current });
    this.#pending = [];
    this.#current = [];
  }
}

export function canonical(value: unknown): string {
  return JSON.stringify(value);
}

// ---------------------------------------------------------------------------------------------
// Failure injection

/** Thrown by the injector; tests tell injected failures from real ones by this class. */
export class InjectedFailure extends Error {
  override name = 'InjectedFailure';
}

export type FailureKind = 'record' | 'snapshot' | 'in-flight' | 'restore' | 'async-write';

/**
 * The faults one job run may inject, shared by every subtask and attempt of the run's
 * injectors (and its fault-injecting file system), with the count of what was injected.
 */
export class FailurePlan {
  readonly random: SeededRandom;
  /**
   * Fail when the run-wide count of records through injectors reaches each of these
   * (ascending; at most one per attempt, see takeRecordFailure).
   */
  readonly recordTargets: number[];
  /** snapshotState calls (run-wide) that throw, by ordinal (ascending). */
  readonly snapshotTargets: number[];
  /** How many times an injector fails on its first record after a snapshot (one subtask only). */
  inFlightBudget: number;
  /** How many times an injector throws in open() after a restore. */
  restoreBudget: number;
  /** How many state-file writes fail (ENOSPC or EIO). */
  asyncWriteBudget: number;
  readonly injected: Record<FailureKind, number> = {
    record: 0,
    snapshot: 0,
    'in-flight': 0,
    restore: 0,
    'async-write': 0,
  };
  /** The subtask of the injector whose in-flight failure is armed. */
  readonly inFlightSubtask: number;
  recordsSeen = 0;
  snapshotsSeen = 0;
  #lastFaultedCheckpoint: string | undefined;
  /** Injector instances created so far; each attempt (the first, each restart) creates new ones. */
  #injectorsCreated = 0;
  /** Injectors numbered below this belong to an attempt a record failure already failed. */
  #recordFailuresHeldBelow = 0;

  constructor(
    seed: number,
    options: {
      readonly recordTargets?: readonly number[];
      readonly snapshotTargets?: readonly number[];
      readonly inFlight?: number;
      readonly restore?: number;
      readonly asyncWrites?: number;
      readonly inFlightSubtask?: number;
    } = {},
  ) {
    this.random = new SeededRandom(seed);
    this.recordTargets = [...(options.recordTargets ?? [])].sort((a, b) => a - b);
    this.snapshotTargets = [...(options.snapshotTargets ?? [])].sort((a, b) => a - b);
    this.inFlightBudget = options.inFlight ?? 0;
    this.restoreBudget = options.restore ?? 0;
    this.asyncWriteBudget = options.asyncWrites ?? 0;
    this.inFlightSubtask = options.inFlightSubtask ?? 0;
  }

  /** A plan that injects nothing (the failure-free reference run). */
  static none(): FailurePlan {
    return new FailurePlan(0);
  }

  get total(): number {
    return Object.values(this.injected).reduce((a, b) => a + b, 0);
  }

  /** Numbers a new injector instance (see {@link takeRecordFailure}). */
  registerInjector(): number {
    return this.#injectorsCreated++;
  }

  /**
   * Whether injector instance `injector`, having counted a record, throws a record failure now
   * (and then consumes the target). The injectors' subtasks share this plan: after one throws,
   * a sibling may still process a batch before the job manager cancels it, and a target reached
   * there would fail the same attempt a second time (two injected failures, one restart). Such a
   * target waits for the next attempt's injectors (created after the failure), so every record
   * failure costs exactly one restart and tests may compare the two counts.
   */
  takeRecordFailure(injector: number): boolean {
    const due = this.recordTargets.length > 0 && this.recordsSeen >= this.recordTargets[0];
    if (!due || injector < this.#recordFailuresHeldBelow) return false;
    this.recordTargets.shift();
    this.#recordFailuresHeldBelow = this.#injectorsCreated;
    return true;
  }

  inject(kind: FailureKind, where: string): never {
    this.injected[kind]++;
    throw new InjectedFailure(`injected ${kind} failure #${this.injected[kind]} in ${where}`);
  }

  /** A file-system fault for a write of `path`, or undefined. */
  asyncWriteFault(path: string): Error | undefined {
    if (this.asyncWriteBudget <= 0 || !/\.(keyed|opstate)$/.test(path)) return undefined;
    // At most one fault per checkpoint, so that each fault is one failed checkpoint.
    const checkpoint = /\/chk-(\d+)\//.exec(path)?.[1];
    if (checkpoint !== undefined && checkpoint === this.#lastFaultedCheckpoint) return undefined;
    if (this.random.next() >= 0.25) return undefined;
    this.#lastFaultedCheckpoint = checkpoint;
    this.asyncWriteBudget--;
    this.injected['async-write']++;
    const code = this.random.next() < 0.5 ? 'ENOSPC' : 'EIO';
    return Object.assign(new Error(`${code}: injected fault, write '${path}'`), { code });
  }
}

/** Union list state of the injector: every subtask's record count, given whole to every subtask on restore. */
const COUNTS = listState<{ readonly subtask: number; readonly records: number }>('injector-record-counts');

/**
 * A pass-through operator that fails as its plan says: at chosen run-wide record counts, in
 * chosen snapshotState calls, on the first record after a snapshot (in one subtask: the
 * barrier has passed it but maybe not its siblings), and in open() after a restore. It also
 * keeps its record count in union list state, and checks on restore that the union gave it
 * every old subtask's entry (ids unique, one per old subtask).
 */
export class FailureInjector<T> extends AbstractStreamOperator<T> implements OneInputStreamOperator<T, T> {
  readonly #plan: FailurePlan;
  readonly #probe: Probe;
  readonly #where: string;
  readonly #instance: number;
  #records = 0;
  #armed = false;
  #counts!: ListState<{ readonly subtask: number; readonly records: number }>;

  constructor(plan: FailurePlan, probe: Probe, where: string) {
    super();
    this.#plan = plan;
    this.#probe = probe;
    this.#where = where;
    this.#instance = plan.registerInjector();
  }

  override open(): void {
    this.#counts = this.context.operatorStateStore.getUnionListState(COUNTS);
    if (this.context.isRestored) {
      const entries = this.#counts.get();
      const subtasks = new Set(entries.map((e) => e.subtask));
      if (subtasks.size !== entries.length) {
        this.#probe.violation(`${this.#where}: union state has repeated subtasks ${JSON.stringify(entries)}`);
      }
      this.#probe.restoredUnion.push({
        subtask: this.context.subtaskIndex,
        from: entries.map((e) => e.subtask).sort((x, y) => x - y),
      });
      const own = entries.find((e) => e.subtask === this.context.subtaskIndex);
      this.#records = own?.records ?? 0;
      if (this.#plan.restoreBudget > 0) {
        this.#plan.restoreBudget--;
        this.#plan.inject('restore', `${this.#where} open (${this.context.subtaskIndex})`);
      }
    }
  }

  processElement(value: T, timestamp: number): void {
    const plan = this.#plan;
    plan.recordsSeen++;
    this.#records++;
    if (this.#armed) {
      this.#armed = false;
      plan.inject(
        'in-flight',
        `${this.#where} (${this.context.subtaskIndex}), first record after a snapshot`,
      );
    }
    if (plan.takeRecordFailure(this.#instance)) {
      plan.inject('record', `${this.#where} (${this.context.subtaskIndex}) at record ${plan.recordsSeen}`);
    }
    this.output.collect(value, timestamp);
  }

  snapshotState(checkpointId: number): void {
    const plan = this.#plan;
    if (checkpointId > 0) plan.snapshotsSeen++;
    this.#counts.update([{ subtask: this.context.subtaskIndex, records: this.#records }]);
    if (plan.snapshotTargets.length > 0 && plan.snapshotsSeen >= plan.snapshotTargets[0]) {
      plan.snapshotTargets.shift();
      plan.inject('snapshot', `${this.#where} (${this.context.subtaskIndex}) snapshotState(${checkpointId})`);
    }
    if (plan.inFlightBudget > 0 && this.context.subtaskIndex === plan.inFlightSubtask && checkpointId > 0) {
      plan.inFlightBudget--;
      this.#armed = true;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Logging and files

export interface LogLine {
  readonly level: LogLevel;
  readonly message: string;
}

/** A logger that keeps every line (info and above) for assertions. */
export class CapturingLogger implements Logger {
  readonly lines: LogLine[] = [];

  log(level: LogLevel, message: string): void {
    if (level !== 'debug') this.lines.push({ level, message });
  }

  text(): string {
    return this.lines.map((l) => `${l.level} ${l.message}`).join('\n');
  }
}

/** Runs `body` with a fresh temporary directory, removed afterwards. */
export async function withTempDir<R>(body: (dir: string) => Promise<R>): Promise<R> {
  const dir = await mkdtemp(join(tmpdir(), 'weir-ft-'));
  try {
    return await body(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Run-wide injected-failure tally of a test file, printed at its end. */
export class FailureTally {
  readonly #byKind: Record<FailureKind, number> = {
    record: 0,
    snapshot: 0,
    'in-flight': 0,
    restore: 0,
    'async-write': 0,
  };
  runs = 0;
  restarts = 0;

  add(plan: FailurePlan, restarts: number): void {
    this.runs++;
    this.restarts += restarts;
    for (const [kind, n] of Object.entries(plan.injected)) this.#byKind[kind as FailureKind] += n;
  }

  get total(): number {
    return Object.values(this.#byKind).reduce((a, b) => a + b, 0);
  }

  summary(): string {
    const parts = Object.entries(this.#byKind).map(([k, n]) => `${k} ${n}`);
    return `${this.total} injected failures in ${this.runs} runs (${parts.join(', ')}); ${this.restarts} restarts`;
  }
}
