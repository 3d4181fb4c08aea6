/** An in-process channel: an ordered, bounded queue of stream elements from one producer to one consumer. */
import type { StreamElement } from '../elements.ts';

/**
 * Buffers a producer's elements for one consumer. The bound is soft: a producer may finish
 * the batch it is working on, then waits on `writable()` before it takes more input, so no
 * queue grows beyond `capacityElements` plus one step's output.
 */
export class LocalChannel {
  readonly capacityElements: number;
  /** Which input of the consuming operator this channel feeds (0, or 1 for a second input). */
  readonly inputIndex: number;
  readonly label: string;
  #queue: StreamElement[] = [];
  #head = 0;
  #onData: (() => void) | undefined;
  #writableWaiters: (() => void)[] = [];

  constructor(label: string, inputIndex: number, capacityElements: number) {
    if (!(capacityElements >= 1))
      throw new RangeError(`channel capacity must be at least 1, got ${capacityElements}`);
    this.label = label;
    this.inputIndex = inputIndex;
    this.capacityElements = capacityElements;
  }

  get size(): number {
    return this.#queue.length - this.#head;
  }

  push(element: StreamElement): void {
    this.#queue.push(element);
    const notify = this.#onData;
    if (notify !== undefined) {
      this.#onData = undefined;
      notify();
    }
  }

  poll(): StreamElement | undefined {
    if (this.#head >= this.#queue.length) return undefined;
    const element = this.#queue[this.#head];
    this.#head++;
    if (this.#head > 64 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    if (this.#writableWaiters.length > 0 && this.isWritable()) {
      const waiters = this.#writableWaiters;
      this.#writableWaiters = [];
      for (const w of waiters) w();
    }
    return element;
  }

  peek(): StreamElement | undefined {
    return this.#head < this.#queue.length ? this.#queue[this.#head] : undefined;
  }

  isWritable(): boolean {
    return this.size < this.capacityElements;
  }

  /** Resolves once the queue is below its capacity. */
  writable(): Promise<void> {
    if (this.isWritable()) return Promise.resolve();
    return new Promise((resolve) => this.#writableWaiters.push(resolve));
  }

  /** Registers the one consumer callback run at the next push (the input gate's wake-up). */
  onNextData(callback: () => void): void {
    this.#onData = callback;
  }

  /** Drops everything buffered and releases waiting producers; used when a job is cancelled. */
  release(): void {
    this.#queue = [];
    this.#head = 0;
    const waiters = this.#writableWaiters;
    this.#writableWaiters = [];
    for (const w of waiters) w();
  }
}
