/** Where an operator's results go: the next operator in the chain, or the task's writers. */

/** Names a side output; `id` must be unique within a job. */
export class OutputTag<T> {
  readonly id: string;
  /** Phantom field so that OutputTag<A> and OutputTag<B> are distinct types. */
  declare readonly __type?: T;

  constructor(id: string) {
    if (typeof id !== 'string' || id.length === 0) {
      throw new TypeError('OutputTag needs a non-empty id');
    }
    this.id = id;
  }
}

export interface Output<T> {
  collect(value: T, timestamp: number): void;
  emitWatermark(timestamp: number): void;
  /** Idle status travels downstream so an idle input does not hold back watermarks. */
  emitWatermarkStatus(idle: boolean): void;
  collectSide<X>(tag: OutputTag<X>, value: X, timestamp: number): void;
}
