/** Time for the runtime: wall-clock in production, a manual clock in deterministic tests. */

/** A scheduled callback that can be cancelled before it runs. */
export interface Cancellable {
  cancel(): void;
}

/**
 * The single source of processing time. Everything that reads the time or waits for it
 * (processing-time timers, periodic watermarks, TTL, checkpoint intervals) goes through one.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Runs `callback` once `now() >= atMs`. */
  schedule(atMs: number, callback: () => void): Cancellable;
}

/** The real clock: `Date.now()` and `setTimeout`. */
export class SystemClock implements Clock {
  now(): number {
    return Date.now();
  }

  schedule(atMs: number, callback: () => void): Cancellable {
    const delayMs = Math.max(0, atMs - Date.now());
    const handle = setTimeout(callback, delayMs);
    // Timers must not keep a finished job's process alive.
    handle.unref?.();
    return { cancel: () => clearTimeout(handle) };
  }
}

interface ManualEntry {
  readonly atMs: number;
  readonly sequence: number;
  readonly callback: () => void;
  cancelled: boolean;
}

/** A clock that only moves when a test calls `advance`, firing due callbacks in time order. */
export class ManualClock implements Clock {
  #nowMs: number;
  #sequence = 0;
  #entries: ManualEntry[] = [];

  constructor(startMs = 0) {
    this.#nowMs = startMs;
  }

  now(): number {
    return this.#nowMs;
  }

  schedule(atMs: number, callback: () => void): Cancellable {
    const entry: ManualEntry = { atMs, sequence: this.#sequence++, callback, cancelled: false };
    this.#entries.push(entry);
    return {
      cancel: () => {
        entry.cancelled = true;
      },
    };
  }

  /** Moves time forward by `deltaMs`, running every callback that became due, earliest first. */
  advance(deltaMs: number): void {
    const targetMs = this.#nowMs + deltaMs;
    for (;;) {
      const due = this.#entries
        .filter((e) => !e.cancelled && e.atMs <= targetMs)
        .sort((a, b) => a.atMs - b.atMs || a.sequence - b.sequence)[0];
      if (due === undefined) break;
      this.#entries = this.#entries.filter((e) => e !== due);
      this.#nowMs = Math.max(this.#nowMs, due.atMs);
      due.callback();
    }
    this.#nowMs = targetMs;
  }
}
