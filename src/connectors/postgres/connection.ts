/** One PostgreSQL connection (node-postgres) behind a narrow interface: queries, COPY, errors as data. */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';

/** A bind parameter: text, NULL, or a one-dimensional array of those (sent as `text[]`). */
export type SqlParameter = string | null | readonly (string | null)[];

/** The fields of a server error the sink reads (SQLSTATE, context, detail). */
export interface SqlErrorFields {
  readonly code: string | undefined;
  /** Where it happened, such as `COPY t, line 3`. */
  readonly where: string | undefined;
  readonly detail: string | undefined;
  readonly constraint: string | undefined;
}

/** SQLSTATE codes the sink acts on. */
export const SqlState = {
  undefinedObject: '42704',
  objectNotInPrerequisiteState: '55000',
} as const;

/** The server error fields of `error`, if it came from the server. */
export function sqlErrorFields(error: unknown): SqlErrorFields | undefined {
  if (!(error instanceof pg.DatabaseError)) return undefined;
  return { code: error.code, where: error.where, detail: error.detail, constraint: error.constraint };
}

/** What a connection needs: a `postgres://` URL (libpq style), and an optional connect timeout. */
export interface PostgresConnectionOptions {
  readonly connectionString: string;
  /** Give up connecting after this long; default 10 s. */
  readonly connectTimeoutMs?: number;
}

const CONNECT_TIMEOUT_MS_DEFAULT = 10_000;

/** A connected session. Calls are serialized by the caller (one in flight at a time). */
export class SqlConnection {
  readonly #client: pg.Client;
  /** An error the connection reported while idle (server shutdown, network); fails the next call. */
  #broken: Error | undefined;

  private constructor(client: pg.Client) {
    this.#client = client;
    client.on('error', (error) => {
      this.#broken = error;
    });
  }

  /** Connects; a refused or failed connection throws an error naming the server (never the password). */
  static async open(options: PostgresConnectionOptions, purpose: string): Promise<SqlConnection> {
    const client = new pg.Client({
      connectionString: options.connectionString,
      connectionTimeoutMillis: options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS_DEFAULT,
      application_name: purpose.slice(0, 63),
    });
    // Attached before connect: an 'error' event without a listener would crash the process.
    const connection = new SqlConnection(client);
    try {
      await client.connect();
    } catch (error) {
      client.end().catch(() => {});
      throw new Error(
        `PostgreSQL sink: cannot connect to ${describeServer(client)} (${purpose}): ${reason(error)}`,
        {
          cause: error,
        },
      );
    }
    return connection;
  }

  async query(sql: string, parameters: readonly SqlParameter[] = []): Promise<Record<string, unknown>[]> {
    this.#throwIfBroken();
    const result = await this.#client.query<Record<string, unknown>>(sql, parameters as unknown[]);
    return result.rows;
  }

  /** Runs `COPY … FROM STDIN` with `data` (COPY text format) as its input. */
  async copyIn(sql: string, data: string): Promise<void> {
    this.#throwIfBroken();
    await pipeline(Readable.from([Buffer.from(data)]), this.#client.query(copyFrom(sql)));
  }

  /** A string literal for statements that cannot take a bind parameter. */
  literal(value: string): string {
    return this.#client.escapeLiteral(value);
  }

  async close(): Promise<void> {
    await this.#client.end().catch(() => {});
  }

  #throwIfBroken(): void {
    if (this.#broken !== undefined) {
      throw new Error(
        `PostgreSQL sink: the connection to ${describeServer(this.#client)} broke: ${this.#broken.message}`,
        {
          cause: this.#broken,
        },
      );
    }
  }
}

function describeServer(client: pg.Client): string {
  return `${client.host}:${client.port}/${client.database ?? ''}`;
}

/** A connection failure in words: `connection refused` rather than an AggregateError of two addresses. */
function reason(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  if (code === 'ECONNREFUSED') return 'connection refused (is the server running and listening there?)';
  if (error instanceof AggregateError && error.errors.length > 0) return reason(error.errors[0]);
  return error instanceof Error ? error.message : String(error);
}
