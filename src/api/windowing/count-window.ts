/** Count windows: `countWindow(size[, slide])` as global windows with count trigger (and evictor). */

import { GlobalWindows } from './assigners/global-windows.ts';
import { CountEvictor } from './evictors/count-evictor.ts';
import type { GlobalWindow } from './global-window.ts';
import { CountTrigger } from './triggers/count-trigger.ts';
import { PurgingTrigger } from './triggers/purging-trigger.ts';
import { type StreamTypeLambda, WindowedStream, type WindowTransformTarget } from './windowed-stream.ts';

/**
 * Windows of `size` elements per key, as Flink's `countWindow`. Tumbling (no `slide`): fires
 * and purges every `size` elements. Sliding: fires every `slide` elements over the last
 * `size` elements (an evictor keeps at most `size`; the first firings see fewer while the
 * window fills up). An incomplete last window is not emitted at the end of input.
 *
 * @example
 * countWindow(keyedOrders, 100).reduce((a, b) => ({ ...a, amount: a.amount + b.amount }))
 */
export function countWindow<T, KEY, F extends StreamTypeLambda>(
  input: WindowTransformTarget<T, KEY, F>,
  size: number,
  slide?: number,
): WindowedStream<T, KEY, GlobalWindow, F> {
  const windowed = new WindowedStream<T, KEY, GlobalWindow, F>(input, GlobalWindows.create());
  if (slide === undefined) return windowed.trigger(PurgingTrigger.of(CountTrigger.of(size)));
  return windowed.evictor(CountEvictor.of(size)).trigger(CountTrigger.of(slide));
}
