/** State snapshots: the keyed and operator state file formats, restore helpers, redistribution and errors. */
export {
  checkChunkCompatible,
  type DecodedEntry,
  type DecodedPayload,
  decodeStateChunk,
  type RegisteredStateInfo,
  type TimedMapEntry,
  type TimedValue,
} from './keyed-state-decoding.ts';
export {
  DEFAULT_KEY_SERIALIZER_REF,
  decodeAllTimers,
  decodeSectionTimers,
  KEYED_STATE_FORMAT_VERSION,
  KEYED_STATE_HEADER_BYTES,
  type KeyedStateFile,
  type KeyedStateFileContents,
  KeyedStateFileWriter,
  type KeyedStateKind,
  type KeyedStateMeta,
  type KeyedStateSnapshot,
  type KeyGroupSection,
  KeyGroupSectionWriter,
  type RawKeyedStateChunk,
  type RawSectionTimers,
  readKeyedStateFile,
  readKeyedStateRange,
  type SliceOptions,
  STATE_FILE_PART_BYTES,
  type StateFilePartSink,
  streamKeyedStateSections,
  writeEntryKey,
  writeExpiry,
  writeKeyedStateFile,
  writeKeyedStateFileInParts,
  writeKeyedStateFileInSlices,
} from './keyed-state-format.ts';
export { type KeyedStatePart, keyedStatePartOf, readKeyedStatePart } from './keyed-state-part.ts';
export {
  type BroadcastStateContents,
  OPERATOR_STATE_FORMAT_VERSION,
  type OperatorListStateContents,
  type OperatorStateContents,
  readOperatorStateFile,
  writeOperatorStateFile,
} from './operator-state-format.ts';
export { evenChunk, redistributeOperatorState } from './operator-state-redistribution.ts';
export { canReadRef, type SerializerRef } from './serializer-ref.ts';
export { CorruptSnapshotError, IncompatibleStateError, SnapshotWriteError } from './snapshot-errors.ts';
export {
  collectTimers,
  registerRestoredTimers,
  type SnapshotTimer,
  type TimerRegistrar,
  type TimerSnapshotEntry,
  type TimerSource,
} from './timer-snapshot.ts';
