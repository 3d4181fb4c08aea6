/** GlobalWindow: the single window holding every element of a key. */
import type { Window, WindowCodec } from './window.ts';

/**
 * The one window of `GlobalWindows`. It never ends on its own; a trigger (such as a count
 * trigger) decides when it fires. Its `maxTimestamp()` is `Number.MAX_SAFE_INTEGER` (Flink:
 * `Long.MAX_VALUE`), finite so that results carry a usable timestamp downstream.
 */
export class GlobalWindow implements Window {
  static readonly INSTANCE: GlobalWindow = new GlobalWindow();

  private constructor() {}

  static get(): GlobalWindow {
    return GlobalWindow.INSTANCE;
  }

  maxTimestamp(): number {
    return Number.MAX_SAFE_INTEGER;
  }

  equals(other: unknown): boolean {
    return other instanceof GlobalWindow;
  }

  toString(): string {
    return 'GlobalWindow';
  }

  static readonly codec: WindowCodec<GlobalWindow> = {
    toNamespace: () => 'global',
    fromNamespace: (namespace) => {
      if (namespace !== 'global')
        throw new RangeError(`not a GlobalWindow namespace: '${String(namespace)}'`);
      return GlobalWindow.INSTANCE;
    },
  };
}
