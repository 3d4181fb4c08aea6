/**
 * Fault injection at the client's Produce call: one partition of a multi-partition request
 * answers NOT_LEADER_OR_FOLLOWER while the others are written, as a broker does for a
 * partition that is not ready yet. That is what made the at-least-once sink duplicate records.
 */
import { Producer, ResponseError } from '@platformatic/kafka';

type Callback = (error: Error | null, response?: unknown) => void;
type ProduceApi = (
  connection: unknown,
  acks: number,
  timeout: number,
  messages: readonly { readonly partition: number }[],
  options: unknown,
  callback: Callback,
) => void;
type GetApi = (this: unknown, name: string, callback: (error: Error | null, api?: unknown) => void) => void;

const NOT_LEADER_OR_FOLLOWER = 6;
const PRODUCE_API_KEY = 0;

/** The client's private "get API" method, found by its symbol's description (platformatic 2.x). */
function getApiSlot(): { owner: Record<symbol, GetApi>; key: symbol } {
  for (let proto = Producer.prototype; proto !== null; proto = Object.getPrototypeOf(proto)) {
    const key = Object.getOwnPropertySymbols(proto).find((s) => s.description === 'plt.kafka.base.getApi');
    if (key !== undefined) return { owner: proto as unknown as Record<symbol, GetApi>, key };
  }
  throw new Error('platformatic internals changed: no getApi symbol on Producer');
}

/**
 * Until the returned function is called, the first Produce request that carries records of
 * `partition` and of other partitions writes only the others and fails for `partition`.
 * Returns how many requests were cut that way (at most 1).
 */
export function failOnePartitionOnce(partition: number): {
  restore(): void;
  readonly injected: () => number;
} {
  const { owner, key } = getApiSlot();
  const original = owner[key];
  let injected = 0;
  owner[key] = function (this: unknown, name: string, callback) {
    original.call(this, name, (error, api) => {
      if (error !== null || name !== 'Produce' || injected > 0) return callback(error, api);
      const produce = api as ProduceApi;
      const cut: ProduceApi = (connection, acks, timeout, messages, options, done) => {
        const others = messages.filter((m) => m.partition !== partition);
        if (injected > 0 || others.length === 0 || others.length === messages.length) {
          produce(connection, acks, timeout, messages, options, done);
          return;
        }
        injected++;
        produce(connection, acks, timeout, others, options, (err, response) => {
          if (err !== null) return done(err, response);
          const path = `/responses/0/partition_responses/${partition}`;
          done(
            new ResponseError(
              PRODUCE_API_KEY,
              11,
              { [path]: [NOT_LEADER_OR_FOLLOWER, 'injected'] },
              response,
            ),
          );
        });
      };
      callback(null, cut);
    });
  };
  return {
    restore: () => {
      owner[key] = original;
    },
    injected: () => injected,
  };
}
