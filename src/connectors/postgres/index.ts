/** The PostgreSQL connector (`weir/postgres`): a sink with exactly-once, upsert and plain insert modes. */
export type { PostgresConnectionOptions } from './connection.ts';
export type { TableName } from './identifiers.ts';
export { PostgresCommitter } from './postgres-committer.ts';
export {
  PostgresSink,
  type PostgresSinkOptions,
  type PostgresUpsert,
  postgresSink,
} from './postgres-sink.ts';
export type { PostgresTable } from './table-mapping.ts';
export type { ColumnValue } from './text-values.ts';
export { PostgresWriteError } from './write-error.ts';
