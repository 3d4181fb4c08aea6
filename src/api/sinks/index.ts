/** The built-in sinks: printing, in-memory collection for tests, and rolling part files. */
export { type CollectedRecord, CollectSink } from './collect-sink.ts';
export { FileSink, type FileSinkOptions } from './file-sink.ts';
export { formatValue } from './format-value.ts';
export { PrintSink, type PrintSinkOptions, type TextWritable } from './print-sink.ts';
