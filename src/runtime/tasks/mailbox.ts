/** The task's mailbox: actions (timers, control messages) run on the task's one logical thread, in order. */

/** Mail is bounded only by what producers send; timers and control messages are few per batch. */
/** A mail action; a returned promise is awaited before the task takes more input. */
export type Mail = () => void | Promise<void>;

export class Mailbox {
  #queue: Mail[] = [];
  #waiter: (() => void) | undefined;

  put(action: Mail): void {
    this.#queue.push(action);
    const waiter = this.#waiter;
    if (waiter !== undefined) {
      this.#waiter = undefined;
      waiter();
    }
  }

  hasMail(): boolean {
    return this.#queue.length > 0;
  }

  /**
   * Runs every action queued now (and any they queue), in order; an action's exception
   * propagates. An action that returns a promise ends the synchronous run: the returned promise
   * settles after it, and only then do the later actions run, so no mail overtakes asynchronous
   * work the task must finish first (a checkpoint's pre-barrier flush, a commit).
   */
  drain(): undefined | Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#queue;
      this.#queue = [];
      for (let i = 0; i < batch.length; i++) {
        let result: void | Promise<void>;
        try {
          result = batch[i]();
        } catch (error) {
          // Keep the actions not yet run: the failure ends the task, but order is preserved.
          this.#queue = batch.slice(i + 1).concat(this.#queue);
          throw error;
        }
        if (result !== undefined) {
          this.#queue = batch.slice(i + 1).concat(this.#queue);
          return result.then(() => this.drain());
        }
      }
    }
    return undefined;
  }

  /** Resolves when mail arrives (at once if there is some). */
  nextMail(): Promise<void> {
    if (this.#queue.length > 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.#waiter = resolve;
    });
  }
}
