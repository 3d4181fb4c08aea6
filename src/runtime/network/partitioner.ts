/** Partitioners: which downstream channel(s) of an edge a record goes to. */
import { describeError } from '../../core/errors.ts';
import type { RandomSource } from '../../core/random.ts';
import { assignToKeyGroup, operatorIndexForKeyGroup } from '../../state/key-groups.ts';

export type KeySelector<T = unknown, K = unknown> = (value: T) => K;

/** How an edge distributes records, as written in the job graph. */
export type PartitionerSpec =
  | { readonly kind: 'forward' }
  | { readonly kind: 'rebalance' }
  | { readonly kind: 'rescale' }
  | { readonly kind: 'shuffle' }
  | { readonly kind: 'broadcast' }
  | { readonly kind: 'global' }
  | { readonly kind: 'key-group'; readonly keySelector: KeySelector };

/** Chooses a channel index for a record; `-1` means every channel (broadcast). */
export interface ChannelSelector {
  selectChannel(value: unknown): number;
}

/** Thrown by a key-group partitioner when the key selector fails or returns a bad key. */
export class KeySelectionError extends Error {
  override name = 'KeySelectionError';
}

export function createChannelSelector(
  spec: PartitionerSpec,
  channelCount: number,
  maxParallelism: number,
  subtaskIndex: number,
  random: RandomSource,
  /** The operator the edge feeds: key selection errors name it, since it is what the user keyed. */
  targetName = 'the keyed operator',
): ChannelSelector {
  switch (spec.kind) {
    case 'forward':
    case 'global':
      return { selectChannel: () => 0 };
    case 'broadcast':
      return { selectChannel: () => -1 };
    case 'shuffle':
      return { selectChannel: () => random.nextInt(channelCount) };
    case 'rebalance':
    case 'rescale': {
      // Start at a subtask-dependent channel so that parallel producers do not all hit channel 0 first.
      let next = subtaskIndex % channelCount;
      return {
        selectChannel: () => {
          const channel = next;
          next = next + 1 === channelCount ? 0 : next + 1;
          return channel;
        },
      };
    }
    case 'key-group':
      return new KeyGroupChannelSelector(spec.keySelector, channelCount, maxParallelism, targetName);
  }
}

/**
 * Hash partitioning by key group. Keeps the key group of the record it last routed in
 * `keyGroup`, so the record writer can ship it with the batch and the consuming keyed
 * operator need not hash the key a second time.
 */
export class KeyGroupChannelSelector implements ChannelSelector {
  readonly keySelector: KeySelector;
  /** Key group of the record last passed to `selectChannel`. */
  keyGroup = -1;
  readonly #maxParallelism: number;
  readonly #targetName: string;
  /** Channel of each key group: the float division of operatorIndexForKeyGroup, done once. */
  readonly #channelOfGroup: Int32Array;

  constructor(keySelector: KeySelector, channelCount: number, maxParallelism: number, targetName: string) {
    this.keySelector = keySelector;
    this.#maxParallelism = maxParallelism;
    this.#targetName = targetName;
    this.#channelOfGroup = new Int32Array(maxParallelism);
    for (let g = 0; g < maxParallelism; g++) {
      this.#channelOfGroup[g] = operatorIndexForKeyGroup(maxParallelism, channelCount, g);
    }
  }

  selectChannel(value: unknown): number {
    let keyGroup: number;
    try {
      keyGroup = assignToKeyGroup(selectKey(this.keySelector, value), this.#maxParallelism);
    } catch (error) {
      // This runs in the upstream task, whose name the failure carries; say which keyBy it was.
      const message = `keyBy() into '${this.#targetName}': ${describeError(error)}`;
      throw new KeySelectionError(message, { cause: error });
    }
    this.keyGroup = keyGroup;
    return this.#channelOfGroup[keyGroup];
  }
}

/** Runs a key selector, turning an undefined key into a clear error. */
export function selectKey(selector: KeySelector, value: unknown): unknown {
  const key = selector(value);
  if (key === undefined) {
    throw new KeySelectionError('the key selector returned undefined; every record needs a key');
  }
  return key;
}
