/** The task's mailbox: actions (timers, control messages) run on the task's one logical thread, in order. */

/** Mail is bounded only by what producers send; timers and control messages are few per batch. */
export class Mailbox {
  #queue: (() => void)[] = [];
  #waiter: (() => void) | undefined;

  put(action: () => void): void {
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

  /** Runs every action queued now (and any they queue); an action's exception propagates. */
  drain(): void {
    while (this.#queue.length > 0) {
      const batch = this.#queue;
      this.#queue = [];
      for (let i = 0; i < batch.length; i++) {
        try {
          batch[i]();
        } catch (error) {
          // Keep the actions not yet run: the failure ends the task, but order is preserved.
          this.#queue = batch.slice(i + 1).concat(this.#queue);
          throw error;
        }
      }
    }
  }

  /** Resolves when mail arrives (at once if there is some). */
  nextMail(): Promise<void> {
    if (this.#queue.length > 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.#waiter = resolve;
    });
  }
}
