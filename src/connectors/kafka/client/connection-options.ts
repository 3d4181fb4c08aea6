/** How Weir's Kafka clients reach the cluster, and the bounded retries before a job start fails. */
import type { BaseOptions } from '@platformatic/kafka';

/** Connection settings shared by the Kafka source and sink. */
export interface KafkaConnectionOptions {
  /** `host:port` of one or more brokers, as a list or a comma-separated string. */
  readonly bootstrapServers: string | readonly string[];
  /** Prefix of the client ids this connector registers with the brokers. Default `weir`. */
  readonly clientId?: string;
  /**
   * Attempts per request before it fails (the restart strategy then applies). Bounded, so a
   * broker that is down at start gives an error instead of a hang. Default 3.
   */
  readonly retries?: number;
  /** Pause between attempts. Default 250 ms. */
  readonly retryDelayMs?: number;
  /** Time to open a TCP connection to a broker. Default 3000 ms. */
  readonly connectTimeoutMs?: number;
  /** Time for one request (metadata, fetch, produce, …). Default 30000 ms. */
  readonly requestTimeoutMs?: number;
}

const RETRIES_DEFAULT = 3;
const RETRY_DELAY_MS_DEFAULT = 250;
const CONNECT_TIMEOUT_MS_DEFAULT = 3000;
const REQUEST_TIMEOUT_MS_DEFAULT = 30_000;

export function bootstrapList(options: KafkaConnectionOptions): string[] {
  const raw =
    typeof options.bootstrapServers === 'string'
      ? options.bootstrapServers.split(',')
      : options.bootstrapServers;
  const servers = raw.map((s) => s.trim()).filter((s) => s.length > 0);
  if (servers.length === 0) throw new Error('Kafka: bootstrapServers is empty; give at least one host:port');
  return servers;
}

/** The platformatic client options for one client of this connector. */
export function baseOptions(options: KafkaConnectionOptions, role: string): BaseOptions {
  return {
    clientId: `${options.clientId ?? 'weir'}-${role}`,
    bootstrapBrokers: bootstrapList(options),
    retries: options.retries ?? RETRIES_DEFAULT,
    retryDelay: options.retryDelayMs ?? RETRY_DELAY_MS_DEFAULT,
    connectTimeout: options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS_DEFAULT,
    requestTimeout: options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS_DEFAULT,
  };
}

/**
 * platformatic turns `retries` of 0 or 1 into unlimited retries for idempotent producers; keep
 * the bound the user asked for (at least 2, the smallest value it leaves alone).
 */
export function idempotentRetries(base: BaseOptions): { retries: number } {
  const retries = typeof base.retries === 'number' ? base.retries : 3;
  return { retries: Math.max(2, retries) };
}

/**
 * Wraps a client failure with what the user needs: which brokers, what Weir was doing, and
 * the client's own error as `cause`.
 */
export function kafkaError(options: KafkaConnectionOptions, doing: string, cause: unknown): Error {
  const detail = cause instanceof Error ? cause.message : String(cause);
  return new Error(`Kafka (${bootstrapList(options).join(',')}): ${doing} failed: ${detail}`, { cause });
}
