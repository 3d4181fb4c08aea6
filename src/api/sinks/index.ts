/** The built-in sinks: printing, in-memory collection for tests, part files, and idempotent upserts. */
export { type CollectedRecord, CollectSink } from './collect-sink.ts';
export {
  type BucketAssigner,
  type BucketContext,
  basePathBucketAssigner,
  type DateTimeBucketAssignerOptions,
  dateTimeBucketAssigner,
} from './file/bucket-assigners.ts';
export { jsonLines, type LineFormat, textLines } from './file/line-formats.ts';
export { type FileCommittable, FileCommitter } from './file/part-files.ts';
export { FileSink, type FileSinkOptions } from './file-sink.ts';
export { formatValue } from './format-value.ts';
export { IdempotentSink, type IdempotentSinkOptions } from './idempotent-sink.ts';
export { PrintSink, type PrintSinkOptions, type TextWritable } from './print-sink.ts';
