/** What a window operator is built from: assigner, trigger, evictor, lateness and window function, validated. */
import { JobDefinitionError } from '../../core/errors.ts';
import type { OutputTag } from '../../runtime/output.ts';
import type { AggregateFunction } from '../../state/descriptors.ts';
import type { ReduceFunctionLike } from '../functions.ts';
import type { Evictor } from './evictor.ts';
import type { ProcessWindowFunction } from './process-window-function.ts';
import type { Trigger } from './trigger.ts';
import type { Window } from './window.ts';
import { isMergingAssigner, type WindowAssigner } from './window-assigner.ts';

/**
 * The window function: `reduce` and `aggregate` pre-aggregate incrementally (one value per
 * window in state) and may hand the result to a process function; `process` buffers every
 * element. Without a process function, `reduce` emits IN and `aggregate` its result type, so
 * OUT must be that type; `WindowedStream` enforces it.
 */
export type WindowFunctionSpec<IN, OUT, KEY, W extends Window> =
  | {
      readonly kind: 'reduce';
      readonly reduce: ReduceFunctionLike<IN>;
      readonly process?: ProcessWindowFunction<IN, OUT, KEY, W>;
    }
  | {
      readonly kind: 'aggregate';
      readonly aggregate: AggregateFunction<IN, unknown, unknown>;
      readonly process?: ProcessWindowFunction<unknown, OUT, KEY, W>;
    }
  | { readonly kind: 'process'; readonly process: ProcessWindowFunction<IN, OUT, KEY, W> };

/** Everything `createWindowOperator` needs; only `assigner` and `function` are required. */
export interface WindowOperatorSpec<IN, KEY, W extends Window, OUT> {
  readonly assigner: WindowAssigner<IN, W>;
  /** Defaults to `assigner.defaultTrigger()`. */
  readonly trigger?: Trigger<IN, W>;
  readonly evictor?: Evictor<IN, W>;
  /** Event time only: how long after a window's end late elements still update it. Default 0. */
  readonly allowedLatenessMs?: number;
  /** Elements too late for every window of theirs go here instead of being dropped. */
  readonly lateDataTag?: OutputTag<IN>;
  readonly function: WindowFunctionSpec<IN, OUT, KEY, W>;
}

/** Upper bound of allowed lateness (about 285 years): keeps `maxTimestamp + lateness` exact. */
export const ALLOWED_LATENESS_MS_MAX = 2 ** 52;

/**
 * Checks a spec when the job is built, so that a bad combination fails at `env.execute()`
 * time with the reason, not on the first record of a running task.
 */
export function validateWindowOperatorSpec<IN, KEY, W extends Window, OUT>(
  spec: WindowOperatorSpec<IN, KEY, W, OUT>,
): void {
  const { assigner } = spec;
  if (assigner === null || typeof assigner !== 'object' || typeof assigner.assignWindows !== 'function') {
    throw new JobDefinitionError(
      'a window operator needs a window assigner (e.g. TumblingEventTimeWindows.of(ms))',
    );
  }
  const lateness = spec.allowedLatenessMs ?? 0;
  if (!Number.isSafeInteger(lateness) || lateness < 0 || lateness > ALLOWED_LATENESS_MS_MAX) {
    throw new JobDefinitionError(
      `allowedLateness must be an integer number of milliseconds in [0, 2^52], got ${String(spec.allowedLatenessMs)}`,
    );
  }
  const trigger = spec.trigger ?? assigner.defaultTrigger();
  const merging = isMergingAssigner(assigner);
  if (merging && !trigger.canMerge()) {
    throw new JobDefinitionError(
      `${assigner.toString()} merges windows, but trigger ${trigger.toString()} cannot merge (canMerge() is false)`,
    );
  }
  if (merging && trigger.canMerge() && trigger.onMerge === undefined) {
    throw new JobDefinitionError(`trigger ${trigger.toString()} says it can merge but has no onMerge()`);
  }
  validateFunction(spec.function, merging && spec.evictor === undefined, assigner.toString());
}

function validateFunction<IN, OUT, KEY, W extends Window>(
  fn: WindowFunctionSpec<IN, OUT, KEY, W>,
  mergesAccumulators: boolean,
  assignerName: string,
): void {
  switch (fn?.kind) {
    case 'reduce': {
      const reduce = fn.reduce;
      const ok = typeof reduce === 'function' || typeof reduce?.reduce === 'function';
      if (!ok)
        throw new JobDefinitionError('window reduce needs a function (a, b) => c or an object with reduce()');
      break;
    }
    case 'aggregate': {
      const aggregate = fn.aggregate;
      for (const method of ['createAccumulator', 'add', 'getResult'] as const) {
        if (typeof aggregate?.[method] !== 'function') {
          throw new JobDefinitionError(`window aggregate needs an aggregate function with ${method}()`);
        }
      }
      if (mergesAccumulators && typeof aggregate.merge !== 'function') {
        throw new JobDefinitionError(
          `${assignerName} merges windows, so the aggregate function needs merge(a, b) to combine accumulators`,
        );
      }
      break;
    }
    case 'process':
      break;
    default:
      throw new JobDefinitionError(
        `unknown window function kind ${JSON.stringify((fn as { kind?: unknown } | undefined)?.kind)}`,
      );
  }
  if (fn.process !== undefined && typeof fn.process?.process !== 'function') {
    throw new JobDefinitionError(
      'a process window function needs a process(key, context, elements, out) method',
    );
  }
}
