/** The public surface of windowing: windows, assigners, triggers, evictors, window functions and WindowedStream. */
export { GlobalWindows } from './assigners/global-windows.ts';
export { EventTimeSessionWindows, ProcessingTimeSessionWindows } from './assigners/session-windows.ts';
export { SlidingEventTimeWindows, SlidingProcessingTimeWindows } from './assigners/sliding-windows.ts';
export { TumblingEventTimeWindows, TumblingProcessingTimeWindows } from './assigners/tumbling-windows.ts';
export { countWindow } from './count-window.ts';
export type { Evictor, EvictorContext, TimestampedValue } from './evictor.ts';
export { CountEvictor } from './evictors/count-evictor.ts';
export { GlobalWindow } from './global-window.ts';
export type {
  ProcessWindowContext,
  ProcessWindowFn,
  ProcessWindowFunction,
  ProcessWindowFunctionLike,
} from './process-window-function.ts';
export { TimeWindow } from './time-window.ts';
export type { OnMergeContext, Trigger, TriggerContext, TriggerResult } from './trigger.ts';
export { CountTrigger } from './triggers/count-trigger.ts';
export { EventTimeTrigger } from './triggers/event-time-trigger.ts';
export { NeverTrigger } from './triggers/never-trigger.ts';
export { ProcessingTimeTrigger } from './triggers/processing-time-trigger.ts';
export { PurgingTrigger } from './triggers/purging-trigger.ts';
export type { Window, WindowCodec } from './window.ts';
export type { MergingWindowAssigner, WindowAssigner, WindowAssignerContext } from './window-assigner.ts';
export { createWindowOperator, WindowOperator } from './window-operator.ts';
export type { WindowFunctionSpec, WindowOperatorSpec } from './window-operator-spec.ts';
export {
  type StreamOf,
  type StreamTypeLambda,
  WindowedStream,
  type WindowTransformTarget,
} from './windowed-stream.ts';
