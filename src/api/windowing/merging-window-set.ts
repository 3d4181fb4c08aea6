/** MergingWindowSet: the session windows of one key and the state window each one keeps its contents under. */

import type { Window, WindowCodec } from './window.ts';
import type { MergingWindowAssigner } from './window-assigner.ts';

/** A namespace as stored: windows are persisted by their codec's namespace. */
export type WindowNamespace = string | number;

/** The persisted form: pairs (window namespace, state window namespace), in insertion order. */
export type PersistedMergingWindows = ReadonlyArray<readonly [WindowNamespace, WindowNamespace]>;

/**
 * Called when windows merged: `mergeResult` replaces `mergedWindows`; the contents of the
 * state windows `mergedStateWindows` must be folded into `stateWindowResult`.
 */
export type MergeFunction<W extends Window> = (
  mergeResult: W,
  mergedWindows: readonly W[],
  stateWindowResult: WindowNamespace,
  mergedStateWindows: readonly WindowNamespace[],
) => void;

interface Entry<W> {
  readonly window: W;
  readonly stateNamespace: WindowNamespace;
}

/**
 * Flink's MergingWindowSet. When windows merge, the result keeps the state of one of them
 * (its "state window") instead of copying contents to a namespace named after the new
 * window, so a growing session moves its state once per merge at most, and timers of the
 * merged windows can be found by the window they were registered for. The set is loaded
 * from keyed state for each record and written back only when it changed, so it is part of
 * every snapshot.
 *
 * Invariant: the windows in the set never intersect each other (every addition merges).
 */
export class MergingWindowSet<W extends Window> {
  readonly #assigner: MergingWindowAssigner<unknown, W>;
  readonly #codec: WindowCodec<W>;
  readonly #mapping = new Map<WindowNamespace, Entry<W>>();
  readonly #initial: PersistedMergingWindows;

  constructor(assigner: MergingWindowAssigner<unknown, W>, persisted: PersistedMergingWindows | undefined) {
    this.#assigner = assigner;
    this.#codec = assigner.windowCodec;
    this.#initial = persisted ?? [];
    for (const [windowNamespace, stateNamespace] of this.#initial) {
      this.#mapping.set(windowNamespace, {
        window: this.#codec.fromNamespace(windowNamespace),
        stateNamespace,
      });
    }
  }

  /** The namespace holding the contents of `window`, or undefined if `window` is not in the set. */
  getStateWindow(window: W): WindowNamespace | undefined {
    return this.#mapping.get(this.#codec.toNamespace(window))?.stateNamespace;
  }

  /** Removes a window whose state was cleared; it must be in the set. */
  retireWindow(window: W): void {
    const namespace = this.#codec.toNamespace(window);
    if (!this.#mapping.delete(namespace)) {
      throw new Error(
        `window ${String(namespace)} is not in the merging window set (a bug in the window operator)`,
      );
    }
  }

  /** The windows currently in the set. */
  windows(): W[] {
    return [...this.#mapping.values()].map((entry) => entry.window);
  }

  /**
   * Adds `newWindow`, merging it with the windows it intersects. Returns the window that now
   * contains it (itself, or the merge result); `mergeFunction` is told about each merge that
   * involved state (not when the new window merely fell inside an existing one).
   */
  addWindow(newWindow: W, mergeFunction: MergeFunction<W>): W {
    const codec = this.#codec;
    const newNamespace = codec.toNamespace(newWindow);
    const candidates = this.windows();
    candidates.push(newWindow);
    const merges: Array<[W, W[]]> = [];
    this.#assigner.mergeWindows(candidates, (toBeMerged, mergeResult) => {
      merges.push([mergeResult, [...toBeMerged]]);
    });

    let resultWindow = newWindow;
    let mergedNewWindow = false;
    for (const [mergeResult, mergedWindows] of merges) {
      const newIndex = mergedWindows.findIndex((w) => codec.toNamespace(w) === newNamespace);
      if (newIndex >= 0) {
        mergedWindows.splice(newIndex, 1);
        mergedNewWindow = true;
        resultWindow = mergeResult;
      }
      // Reuse the state window of any merged window as the result's.
      const targetState = this.#mapping.get(codec.toNamespace(mergedWindows[0]))!.stateNamespace;
      const mergedStates: WindowNamespace[] = [];
      for (const merged of mergedWindows) {
        const mergedNamespace = codec.toNamespace(merged);
        const entry = this.#mapping.get(mergedNamespace);
        if (entry === undefined) continue;
        this.#mapping.delete(mergedNamespace);
        if (entry.stateNamespace !== targetState) mergedStates.push(entry.stateNamespace);
      }
      const resultNamespace = codec.toNamespace(mergeResult);
      this.#mapping.set(resultNamespace, { window: mergeResult, stateNamespace: targetState });
      // The new window fell inside an existing one: nothing grew and no state moved.
      const onlyItself =
        mergedWindows.length === 1 && codec.toNamespace(mergedWindows[0]) === resultNamespace;
      if (!onlyItself) mergeFunction(mergeResult, mergedWindows, targetState, mergedStates);
    }

    if (merges.length === 0 || (resultWindow === newWindow && !mergedNewWindow)) {
      this.#mapping.set(newNamespace, { window: newWindow, stateNamespace: newNamespace });
    }
    return resultWindow;
  }

  /** Whether the set differs from what it was loaded from (so it must be written back). */
  isChanged(): boolean {
    if (this.#mapping.size !== this.#initial.length) return true;
    let i = 0;
    for (const [windowNamespace, entry] of this.#mapping) {
      const [initialWindow, initialState] = this.#initial[i++];
      if (initialWindow !== windowNamespace || initialState !== entry.stateNamespace) return true;
    }
    return false;
  }

  /** The form written to keyed state. */
  toPersisted(): Array<[WindowNamespace, WindowNamespace]> {
    return [...this.#mapping].map(([windowNamespace, entry]) => [windowNamespace, entry.stateNamespace]);
  }
}
