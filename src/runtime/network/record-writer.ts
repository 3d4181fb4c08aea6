/** Writes one producer subtask's output for one edge into that edge's channels, in batches. */
import type { StreamElement } from '../elements.ts';
import type { LocalChannel } from './local-channel.ts';
import { type ChannelSelector, KeyGroupChannelSelector } from './partitioner.ts';

/** A batch is shipped once it holds this many records, or when the task flushes. */
export const BATCH_RECORDS_MAX = 512;

export class RecordWriter {
  readonly channels: readonly LocalChannel[];
  readonly #selector: ChannelSelector;
  /** The selector again when it partitions by key group: its key groups travel with the batches. */
  readonly #keyed: KeyGroupChannelSelector | undefined;
  #values: unknown[][];
  #timestamps: number[][];
  #keyGroups: number[][];

  constructor(channels: readonly LocalChannel[], selector: ChannelSelector) {
    this.channels = channels;
    this.#selector = selector;
    this.#keyed = selector instanceof KeyGroupChannelSelector ? selector : undefined;
    this.#values = channels.map(() => []);
    this.#timestamps = channels.map(() => []);
    this.#keyGroups = channels.map(() => []);
  }

  emit(value: unknown, timestampMs: number): void {
    const keyed = this.#keyed;
    if (keyed !== undefined) {
      const channel = keyed.selectChannel(value);
      this.#keyGroups[channel].push(keyed.keyGroup);
      this.#append(channel, value, timestampMs);
      return;
    }
    const channel = this.#selector.selectChannel(value);
    if (channel >= 0) {
      this.#append(channel, value, timestampMs);
    } else {
      for (let c = 0; c < this.channels.length; c++) this.#append(c, value, timestampMs);
    }
  }

  #append(channel: number, value: unknown, timestampMs: number): void {
    const values = this.#values[channel];
    values.push(value);
    this.#timestamps[channel].push(timestampMs);
    if (values.length >= BATCH_RECORDS_MAX) this.#ship(channel);
  }

  #ship(channel: number): void {
    const values = this.#values[channel];
    if (values.length === 0) return;
    const timestamps = this.#timestamps[channel];
    const keyed = this.#keyed;
    if (keyed === undefined) {
      this.channels[channel].push({ kind: 'records', values, timestamps });
    } else {
      const keyGroups = this.#keyGroups[channel];
      this.channels[channel].push({
        kind: 'records',
        values,
        timestamps,
        keyGroups,
        keySelector: keyed.keySelector,
      });
      this.#keyGroups[channel] = [];
    }
    this.#values[channel] = [];
    this.#timestamps[channel] = [];
  }

  /** Ships every partly filled batch. */
  flush(): void {
    for (let c = 0; c < this.channels.length; c++) this.#ship(c);
  }

  /** Ships buffered records, then `element` to every channel (watermarks, status, end, barriers). */
  broadcastElement(element: StreamElement): void {
    this.flush();
    for (const channel of this.channels) channel.push(element);
  }

  isWritable(): boolean {
    for (const channel of this.channels) if (!channel.isWritable()) return false;
    return true;
  }

  async writable(): Promise<void> {
    for (const channel of this.channels) await channel.writable();
  }
}
