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
   * Runs every action queued now (and any they queue); an action's exception propagates.
   * Returns a promise when an action started asynchronous work the task must wait for.
   */
  drain(): undefined | Promise<void> {
    let pending: Promise<void>[] | undefined;
    while (this.#queue.length > 0) {
      const batch = this.#queue;
      this.#queue = [];
      for (let i = 0; i < batch.length; i++) {
        try {
          const result = batch[i]();
          if (result !== undefined) (pending ??= []).push(result);
        } catch (error) {
          // Keep the actions not yet run: the failure ends the task, but order is preserved.
          this.#queue = batch.slice(i + 1).concat(this.#queue);
          throw error;
        }
      }
    }
    return pending === undefined ? undefined : Promise.all(pending).then(() => undefined);
  }

  /** Resolves when mail arrives (at once if there is some). */
  nextMail(): Promise<void> {
    if (this.#queue.length > 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.#waiter = resolve;
    });
  }
}
