/** A promise a reader without splits hands out as `isAvailable()`, settled when splits or "no more splits" arrive. */

/**
 * Readers whose polls find nothing because they own no split must not report "available"
 * (the task would poll them in a loop). They wait on this instead; `wake()` settles it.
 */
export class SplitWaiter {
  #waiting: { readonly promise: Promise<void>; readonly resolve: () => void } | undefined;

  /** Resolves at the next `wake()`. */
  wait(): Promise<void> {
    if (this.#waiting === undefined) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => {
        resolve = r;
      });
      this.#waiting = { promise, resolve };
    }
    return this.#waiting.promise;
  }

  wake(): void {
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting?.resolve();
  }
}
