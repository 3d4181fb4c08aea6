/** `weir inspect PATH`: reads a checkpoint or savepoint offline and reports operators, key groups, sizes and a checksum of every file. */
import { join, resolve } from 'node:path';
import type { KeyGroupRange } from '../../state/key-group-range.ts';
import {
  type CheckpointMetadata,
  keyedStateFiles,
  type SnapshotKind,
  type StateFileHandle,
} from '../snapshot-handles.ts';
import { type CheckpointFileSystem, NodeCheckpointFileSystem } from '../storage/checkpoint-file-system.ts';
import type { CheckpointStorage, FileVerification } from '../storage/checkpoint-storage.ts';
import { checkpointDirectoryOf, fileVerificationReason } from '../storage/directory-tree.ts';
import { FileSystemCheckpointStorage, nodePathContext } from '../storage/file-system-checkpoint-storage.ts';
import { METADATA_FILE_NAME } from '../storage/state-file-names.ts';
import { loadMetadataAsValue } from '../storage/verify-checkpoint.ts';

/** One state file as recorded in `_metadata`, with the result of checking it. */
export interface InspectedFile {
  readonly relativePath: string;
  readonly path: string;
  readonly sizeBytes: number;
  readonly crc32c: number;
  /** `undefined` when verification was turned off. */
  readonly verification: FileVerification | undefined;
}

/** One subtask of an operator. */
export interface InspectedSubtask {
  readonly subtaskIndex: number;
  readonly finished: boolean;
  readonly keyGroupRange: KeyGroupRange | undefined;
  /** The keyed state file; for incremental keyed state the chain's base. */
  readonly keyed: InspectedFile | undefined;
  /** Every keyed state file: one for a full snapshot, the chain (base, then deltas in `shared/`) for an incremental one. */
  readonly keyedFiles: readonly InspectedFile[];
  readonly operatorState: InspectedFile | undefined;
  readonly sizeBytes: number;
}

/** One operator and what its subtasks stored. */
export interface InspectedOperator {
  readonly operatorId: string;
  readonly operatorName: string;
  readonly uid: string | undefined;
  readonly parallelism: number;
  readonly subtasks: readonly InspectedSubtask[];
  readonly sizeBytes: number;
}

/** Everything `weir inspect` shows. */
export interface InspectReport {
  readonly pointer: string;
  readonly metadataPath: string;
  readonly metadataSizeBytes: number;
  readonly kind: SnapshotKind;
  readonly jobId: string;
  readonly jobName: string;
  readonly checkpointId: number;
  readonly triggerTimestampMs: number;
  readonly completedTimestampMs: number;
  readonly maxParallelism: number;
  readonly operators: readonly InspectedOperator[];
  readonly fileCount: number;
  /** State files plus `_metadata`. */
  readonly totalSizeBytes: number;
  readonly filesVerified: number;
  readonly filesFailed: number;
  /** False when any file failed verification: the CLI should exit non-zero. */
  readonly ok: boolean;
}

/** The outcome of {@link inspectCheckpoint}: a report, or why there is none (naming the path). */
export type InspectResult =
  | { readonly status: 'inspected'; readonly report: InspectReport }
  | { readonly status: 'not-found' | 'unreadable'; readonly path: string; readonly message: string };

/** Options of {@link inspectCheckpoint}. */
export interface InspectOptions {
  readonly fileSystem?: CheckpointFileSystem;
  /** Read every file and check its size and CRC-32C; default true. */
  readonly verify?: boolean;
}

/**
 * Reads the checkpoint or savepoint at `path` (its directory or its `_metadata`) without a
 * running job. A damaged `_metadata` yields `unreadable` with the reason; damaged state files
 * are reported per file in an otherwise complete report.
 *
 * @example
 * ```ts
 * const result = await inspectCheckpoint('/ck/3f2a/chk-7');
 * if (result.status !== 'inspected') throw new Error(result.message);
 * process.stdout.write(formatInspectReport(result.report));
 * process.exitCode = result.report.ok ? 0 : 1;
 * ```
 */
export async function inspectCheckpoint(path: string, options: InspectOptions = {}): Promise<InspectResult> {
  const fileSystem = options.fileSystem ?? new NodeCheckpointFileSystem();
  const pointer = resolve(checkpointDirectoryOf(nodePathContext(fileSystem), resolve(path)));
  const storage = new FileSystemCheckpointStorage(pointer, { fileSystem });
  const loaded = await loadMetadataAsValue(storage, pointer);
  if (loaded.status === 'not-found') return { status: 'not-found', path: pointer, message: loaded.message };
  if (loaded.status === 'damaged') {
    return {
      status: 'unreadable',
      path: pointer,
      message: `cannot read ${METADATA_FILE_NAME}: ${loaded.problems.join('; ')}`,
    };
  }
  const metadataPath = join(pointer, METADATA_FILE_NAME);
  const metadataSizeBytes = (await fileSystem.stat(metadataPath).catch(() => undefined))?.sizeBytes ?? 0;
  const report = await buildReport(storage, pointer, loaded.metadata, options.verify ?? true);
  return {
    status: 'inspected',
    report: {
      ...report,
      metadataPath,
      metadataSizeBytes,
      totalSizeBytes: report.totalSizeBytes + metadataSizeBytes,
    },
  };
}

async function buildReport(
  storage: CheckpointStorage,
  pointer: string,
  metadata: CheckpointMetadata,
  verify: boolean,
): Promise<Omit<InspectReport, 'metadataPath' | 'metadataSizeBytes'>> {
  const inspectFile = async (handle: StateFileHandle | undefined): Promise<InspectedFile | undefined> => {
    if (handle === undefined) return undefined;
    const verification = verify ? await storage.verifyFile(pointer, handle) : undefined;
    return {
      relativePath: handle.relativePath,
      path: verification?.path ?? join(pointer, handle.relativePath),
      sizeBytes: handle.sizeBytes,
      crc32c: handle.crc32c,
      verification,
    };
  };
  const operators: InspectedOperator[] = [];
  let fileCount = 0;
  let filesFailed = 0;
  let totalSizeBytes = 0;
  for (const operator of metadata.operators) {
    const subtasks: InspectedSubtask[] = [];
    for (const subtask of [...operator.subtasks].sort((a, b) => a.subtaskIndex - b.subtaskIndex)) {
      const keyedFiles: InspectedFile[] = [];
      for (const handle of subtask.keyed === undefined ? [] : keyedStateFiles(subtask.keyed)) {
        keyedFiles.push((await inspectFile(handle))!);
      }
      const keyed = keyedFiles[0];
      const operatorState = await inspectFile(subtask.operatorState);
      let sizeBytes = 0;
      for (const file of [...keyedFiles, operatorState]) {
        if (file === undefined) continue;
        fileCount++;
        sizeBytes += file.sizeBytes;
        if (file.verification !== undefined && file.verification.status !== 'ok') filesFailed++;
      }
      subtasks.push({
        subtaskIndex: subtask.subtaskIndex,
        finished: subtask.finished,
        keyGroupRange: subtask.keyed?.keyGroupRange,
        keyed,
        keyedFiles,
        operatorState,
        sizeBytes,
      });
    }
    const sizeBytes = subtasks.reduce((sum, subtask) => sum + subtask.sizeBytes, 0);
    totalSizeBytes += sizeBytes;
    const { operatorId, operatorName, uid, parallelism } = operator;
    operators.push({ operatorId, operatorName, uid, parallelism, subtasks, sizeBytes });
  }
  return {
    pointer,
    kind: metadata.kind,
    jobId: metadata.jobId,
    jobName: metadata.jobName,
    checkpointId: metadata.checkpointId,
    triggerTimestampMs: metadata.triggerTimestampMs,
    completedTimestampMs: metadata.completedTimestampMs,
    maxParallelism: metadata.maxParallelism,
    operators,
    fileCount,
    totalSizeBytes,
    filesVerified: verify ? fileCount : 0,
    filesFailed,
    ok: filesFailed === 0,
  };
}

/**
 * The report as text for the terminal: a header, then one table per operator with a row per
 * file (subtask, key groups, file, size, OK or FAILED with the reason).
 *
 * @example
 * ```ts
 * console.log(formatInspectReport(report));
 * // savepoint 12 of job 'fraud-detection' (3f2a…)
 * //   path             /tmp/sp
 * //   …
 * ```
 */
export function formatInspectReport(report: InspectReport): string {
  const lines: string[] = [];
  lines.push(`${report.kind} ${report.checkpointId} of job '${report.jobName}' (${report.jobId})`);
  const durationMs = report.completedTimestampMs - report.triggerTimestampMs;
  const header: [string, string][] = [
    ['path', report.pointer],
    ['triggered', `${isoTime(report.triggerTimestampMs)}, completed after ${durationMs} ms`],
    ['max parallelism', String(report.maxParallelism)],
    [
      'size',
      `${formatBytes(report.totalSizeBytes)} in ${report.fileCount + 1} files (${report.operators.length} operators; ${METADATA_FILE_NAME} ${formatBytes(report.metadataSizeBytes)})`,
    ],
    [
      'verification',
      report.filesVerified === 0 && report.fileCount > 0
        ? 'skipped'
        : `${report.filesVerified - report.filesFailed} OK, ${report.filesFailed} FAILED`,
    ],
  ];
  for (const [label, value] of header) lines.push(`  ${label.padEnd(16)} ${value}`);
  for (const operator of report.operators) {
    lines.push('');
    const identity = operator.uid !== undefined ? `uid '${operator.uid}'` : `id ${operator.operatorId}`;
    lines.push(
      `operator '${operator.operatorName}'  ${identity}  parallelism ${operator.parallelism}  ${formatBytes(operator.sizeBytes)}`,
    );
    lines.push(...formatTable(operatorRows(operator)).map((line) => `  ${line}`));
  }
  return `${lines.join('\n')}\n`;
}

function operatorRows(operator: InspectedOperator): string[][] {
  const rows: string[][] = [['subtask', 'key groups', 'file', 'size', 'check']];
  for (const subtask of operator.subtasks) {
    const range = subtask.keyGroupRange;
    const groups =
      range === undefined ? '-' : range.end < range.start ? 'none' : `${range.start}-${range.end}`;
    const files = [...(subtask.keyedFiles ?? []), subtask.operatorState].filter((file) => file !== undefined);
    const index = `${subtask.subtaskIndex}${subtask.finished ? ' (finished)' : ''}`;
    if (files.length === 0) rows.push([index, groups, '(no state)', '', '']);
    files.forEach((file, i) => {
      rows.push([
        i === 0 ? index : '',
        i === 0 ? groups : '',
        file.relativePath,
        formatBytes(file.sizeBytes),
        check(file),
      ]);
    });
  }
  return rows;
}

function check(file: InspectedFile): string {
  if (file.verification === undefined) return 'not checked';
  return file.verification.status === 'ok' ? 'OK' : `FAILED: ${fileVerificationReason(file.verification)}`;
}

function formatTable(rows: readonly string[][]): string[] {
  const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => row[column].length)));
  return rows.map((row) =>
    row
      .map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column])))
      .join('  ')
      .trimEnd(),
  );
}

function isoTime(ms: number): string {
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? String(ms) : date.toISOString();
}

/** Bytes for people: `512 B`, `1.5 KiB`, `3.2 MiB`, `1.1 GiB`. */
export function formatBytes(sizeBytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = sizeBytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}
