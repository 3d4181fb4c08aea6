/** Checkpoint storage: the public surface the coordinator, the job manager and the CLI use. */
export {
  CheckpointIOError,
  CheckpointNotFoundError,
  CheckpointSizeLimitError,
  CorruptCheckpointError,
} from './checkpoint-errors.ts';
export {
  type CheckpointFileSystem,
  type DirectoryEntry,
  type FileStat,
  NodeCheckpointFileSystem,
} from './checkpoint-file-system.ts';
export type { CheckpointLocation, CheckpointStorage, FileVerification } from './checkpoint-storage.ts';
export {
  type AddCheckpointResult,
  type CheckpointRetention,
  type CompletedCheckpoint,
  CompletedCheckpointStore,
  type CompletedCheckpointStoreOptions,
  type DiscardFailure,
  RETAINED_CHECKPOINTS_DEFAULT,
  type ShutdownResult,
  type TerminalJobStatus,
} from './completed-checkpoint-store.ts';
export { describeFileVerification } from './directory-tree.ts';
export {
  FaultInjectingFileSystem,
  type FaultRule,
  type FileSystemOperation,
} from './fault-injecting-file-system.ts';
export {
  FileSystemCheckpointStorage,
  type FileSystemCheckpointStorageOptions,
} from './file-system-checkpoint-storage.ts';
export { InMemoryFileSystem } from './in-memory-file-system.ts';
export {
  JOB_MANAGER_STATE_SIZE_BYTES_DEFAULT,
  JobManagerCheckpointStorage,
  type JobManagerCheckpointStorageOptions,
} from './job-manager-checkpoint-storage.ts';
export {
  type DamagedCheckpoint,
  type RestorePoint,
  type RestorePointResolution,
  type RestoreRequest,
  resolveRestorePoint,
} from './resolve-restore-point.ts';
export { SharedStateRegistry, sharedStateKeys } from './shared-state-registry.ts';
export { METADATA_FILE_NAME, stateFileName, stateFileNameProblem } from './state-file-names.ts';
export { type CheckpointVerification, verifyCheckpoint } from './verify-checkpoint.ts';
