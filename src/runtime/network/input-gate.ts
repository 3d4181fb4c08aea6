/** Merges the channels a subtask reads into one ordered sequence of (channel, element) pairs. */
import type { StreamElement } from '../elements.ts';
import type { LocalChannel } from './local-channel.ts';

export interface PolledElement {
  readonly channelIndex: number;
  readonly element: StreamElement;
}

/**
 * Polls its channels round-robin so that no channel starves another. A channel that has
 * delivered end-of-partition is finished and is not polled again. This is where barrier
 * alignment blocks channels (see `setBlocked`).
 */
export class InputGate {
  readonly channels: readonly LocalChannel[];
  #finished: boolean[];
  #blocked: boolean[];
  #finishedCount = 0;
  #next = 0;

  constructor(channels: readonly LocalChannel[]) {
    this.channels = channels;
    this.#finished = channels.map(() => false);
    this.#blocked = channels.map(() => false);
  }

  get finishedChannelCount(): number {
    return this.#finishedCount;
  }

  /** All channels delivered end-of-partition. */
  isFinished(): boolean {
    return this.#finishedCount === this.channels.length;
  }

  isChannelFinished(channelIndex: number): boolean {
    return this.#finished[channelIndex];
  }

  /** A blocked channel is not polled (exactly-once barrier alignment) until unblocked. */
  setBlocked(channelIndex: number, blocked: boolean): void {
    this.#blocked[channelIndex] = blocked;
  }

  isBlocked(channelIndex: number): boolean {
    return this.#blocked[channelIndex];
  }

  /** The next element of some channel, or undefined when none is ready now. */
  poll(): PolledElement | undefined {
    const n = this.channels.length;
    for (let i = 0; i < n; i++) {
      const index = (this.#next + i) % n;
      if (this.#finished[index] || this.#blocked[index]) continue;
      const element = this.channels[index].poll();
      if (element === undefined) continue;
      this.#next = (index + 1) % n;
      if (element.kind === 'end-of-partition') {
        this.#finished[index] = true;
        this.#finishedCount++;
      }
      return { channelIndex: index, element };
    }
    return undefined;
  }

  /** Resolves when a pollable channel may have data; resolves at once if one has. */
  available(): Promise<void> {
    return new Promise((resolve) => {
      let done = false;
      const wake = (): void => {
        if (done) return;
        done = true;
        resolve();
      };
      for (let i = 0; i < this.channels.length; i++) {
        if (this.#finished[i] || this.#blocked[i]) continue;
        const channel = this.channels[i];
        if (channel.size > 0) {
          wake();
          return;
        }
        channel.onNextData(wake);
      }
    });
  }
}
