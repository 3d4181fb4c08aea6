/** Checks that parsed `_metadata` JSON has the shape of CheckpointMetadata, naming the path of every problem. */
import type {
  ChangelogFileHandle,
  CheckpointMetadata,
  CoordinatorStateHandle,
  IncrementalKeyedStateHandle,
  KeyedStateHandle,
  OperatorSnapshot,
  OperatorSubtaskSnapshot,
  StateFileHandle,
} from '../snapshot-handles.ts';
import { relativePathProblem } from '../storage/state-file-names.ts';

/** Files one incremental keyed handle may reference (a base and its deltas); far above any chain the backend writes. */
export const INCREMENTAL_CHAIN_FILES_MAX = 10_000;
/** Flink's upper bound for max parallelism (2^15): key groups are numbered below it. */
export const MAX_PARALLELISM_LIMIT = 32_768;
/** A report lists at most this many problems; the rest are counted. */
const PROBLEMS_REPORTED_MAX = 20;
const UINT32_MAX = 0xffff_ffff;

/** The outcome of {@link parseCheckpointMetadata}. */
export type MetadataParseResult =
  | { readonly ok: true; readonly metadata: CheckpointMetadata }
  | { readonly ok: false; readonly problems: readonly string[] };

type Json = Record<string, unknown>;

/** Collects problems as `path: what is wrong`, so a message points at the exact field. */
class Checker {
  readonly problems: string[] = [];
  #dropped = 0;

  fail(path: string, problem: string): undefined {
    if (this.problems.length < PROBLEMS_REPORTED_MAX) this.problems.push(`${path}: ${problem}`);
    else this.#dropped++;
    return undefined;
  }

  finish(): string[] {
    if (this.#dropped > 0) this.problems.push(`… and ${this.#dropped} more problem(s)`);
    return this.problems;
  }

  object(value: unknown, path: string): Json | undefined {
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Json;
    return this.fail(path, value === undefined ? 'missing' : `expected an object, got ${typeOf(value)}`);
  }

  array(value: unknown, path: string): unknown[] | undefined {
    if (Array.isArray(value)) return value;
    return this.fail(path, value === undefined ? 'missing' : `expected an array, got ${typeOf(value)}`);
  }

  string(json: Json, key: string, path: string, nonEmpty = false): string | undefined {
    const value = json[key];
    if (typeof value !== 'string') {
      return this.fail(
        `${path}.${key}`,
        value === undefined ? 'missing' : `expected a string, got ${typeOf(value)}`,
      );
    }
    if (nonEmpty && value.length === 0) return this.fail(`${path}.${key}`, 'must not be empty');
    return value;
  }

  integer(json: Json, key: string, path: string, min: number, max: number): number | undefined {
    const value = json[key];
    if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
      return this.fail(
        `${path}.${key}`,
        value === undefined ? 'missing' : `expected an integer, got ${typeOf(value)}`,
      );
    }
    if (value < min || value > max)
      return this.fail(`${path}.${key}`, `${value} is outside [${min}, ${max}]`);
    return value;
  }

  timestamp(json: Json, key: string, path: string): number | undefined {
    const value = json[key];
    if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return value;
    return this.fail(`${path}.${key}`, value === undefined ? 'missing' : 'expected a non-negative number');
  }

  boolean(json: Json, key: string, path: string): boolean | undefined {
    const value = json[key];
    if (typeof value === 'boolean') return value;
    return this.fail(
      `${path}.${key}`,
      value === undefined ? 'missing' : `expected a boolean, got ${typeOf(value)}`,
    );
  }
}

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  return Array.isArray(value) ? 'array' : typeof value;
}

/**
 * Validates parsed JSON as {@link CheckpointMetadata} and rebuilds it with exactly the known
 * fields. Beyond types it checks the invariants restore relies on: unique operator ids,
 * subtask indexes inside the parallelism, disjoint key-group ranges inside max parallelism,
 * one offset per key group plus the end, and relative paths that stay inside the checkpoint.
 *
 * @example
 * ```ts
 * const result = parseCheckpointMetadata(JSON.parse(text));
 * if (!result.ok) throw new Error(result.problems.join('; '));
 * ```
 */
export function parseCheckpointMetadata(json: unknown): MetadataParseResult {
  const check = new Checker();
  const root = check.object(json, 'metadata');
  if (root === undefined) return { ok: false, problems: check.finish() };
  const path = 'metadata';
  const formatVersion = root.formatVersion;
  if (formatVersion !== 1 && formatVersion !== 2)
    check.fail(`${path}.formatVersion`, `expected 1 or 2, got ${String(formatVersion)}`);
  const jobId = check.string(root, 'jobId', path, true);
  const jobName = check.string(root, 'jobName', path);
  const checkpointId = check.integer(root, 'checkpointId', path, 0, Number.MAX_SAFE_INTEGER);
  const kind = root.kind;
  if (kind !== 'checkpoint' && kind !== 'savepoint') {
    check.fail(
      `${path}.kind`,
      `expected 'checkpoint' or 'savepoint', got ${JSON.stringify(kind) ?? 'nothing'}`,
    );
  }
  const triggerTimestampMs = check.timestamp(root, 'triggerTimestampMs', path);
  const completedTimestampMs = check.timestamp(root, 'completedTimestampMs', path);
  const maxParallelism = check.integer(root, 'maxParallelism', path, 1, MAX_PARALLELISM_LIMIT);
  const operatorsJson = check.array(root.operators, `${path}.operators`) ?? [];
  const operators: OperatorSnapshot[] = [];
  const seenIds = new Set<string>();
  operatorsJson.forEach((value, index) => {
    const operatorPath = `${path}.operators[${index}]`;
    const operator = parseOperator(
      check,
      value,
      operatorPath,
      maxParallelism ?? MAX_PARALLELISM_LIMIT,
      kind,
      formatVersion === 2,
    );
    if (operator === undefined) return;
    if (seenIds.has(operator.operatorId))
      check.fail(`${operatorPath}.operatorId`, `duplicate '${operator.operatorId}'`);
    seenIds.add(operator.operatorId);
    operators.push(operator);
  });
  const coordinators =
    formatVersion === 2 && root.coordinators !== undefined
      ? parseCoordinators(check, root.coordinators, `${path}.coordinators`)
      : [];
  if (formatVersion === 1 && root.coordinators !== undefined) {
    check.fail(`${path}.coordinators`, 'coordinator state needs metadata format version 2');
  }
  if (check.problems.length > 0) return { ok: false, problems: check.finish() };
  const metadata: CheckpointMetadata = {
    formatVersion: formatVersion as 1 | 2,
    jobId: jobId!,
    jobName: jobName!,
    checkpointId: checkpointId!,
    kind: kind as CheckpointMetadata['kind'],
    triggerTimestampMs: triggerTimestampMs!,
    completedTimestampMs: completedTimestampMs!,
    maxParallelism: maxParallelism!,
    operators,
    ...(coordinators.length === 0 ? {} : { coordinators }),
  };
  return { ok: true, metadata };
}

/** Strict base64 (what Buffer writes): nothing a lenient decoder would silently skip. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function parseCoordinators(check: Checker, value: unknown, path: string): CoordinatorStateHandle[] {
  const coordinators: CoordinatorStateHandle[] = [];
  const seen = new Set<string>();
  (check.array(value, path) ?? []).forEach((entry, index) => {
    const entryPath = `${path}[${index}]`;
    const json = check.object(entry, entryPath);
    if (json === undefined) return;
    const operatorId = check.string(json, 'operatorId', entryPath, true);
    const operatorName = check.string(json, 'operatorName', entryPath);
    const serializerId = check.string(json, 'serializerId', entryPath, true);
    const serializerVersion = check.integer(json, 'serializerVersion', entryPath, 0, UINT32_MAX);
    const state = check.string(json, 'state', entryPath);
    if (state !== undefined && !BASE64.test(state)) check.fail(`${entryPath}.state`, 'is not base64');
    if (operatorId !== undefined && seen.has(operatorId)) {
      check.fail(`${entryPath}.operatorId`, `duplicate '${operatorId}'`);
    }
    if (
      operatorId === undefined ||
      operatorName === undefined ||
      serializerId === undefined ||
      serializerVersion === undefined ||
      state === undefined
    ) {
      return;
    }
    seen.add(operatorId);
    const bytes = new Uint8Array(Buffer.from(state, 'base64'));
    coordinators.push({ operatorId, operatorName, serializerId, serializerVersion, bytes });
  });
  return coordinators;
}

function parseOperator(
  check: Checker,
  value: unknown,
  path: string,
  maxParallelism: number,
  kind: unknown,
  incrementalAllowed: boolean,
): OperatorSnapshot | undefined {
  const json = check.object(value, path);
  if (json === undefined) return undefined;
  const operatorId = check.string(json, 'operatorId', path, true);
  const operatorName = check.string(json, 'operatorName', path);
  const uid = json.uid === undefined || json.uid === null ? undefined : check.string(json, 'uid', path);
  const parallelism = check.integer(json, 'parallelism', path, 1, maxParallelism);
  const subtasksJson = check.array(json.subtasks, `${path}.subtasks`) ?? [];
  const subtasks: OperatorSubtaskSnapshot[] = [];
  const seenIndexes = new Set<number>();
  subtasksJson.forEach((subtaskJson, index) => {
    const subtaskPath = `${path}.subtasks[${index}]`;
    const subtask = parseSubtask(
      check,
      subtaskJson,
      subtaskPath,
      parallelism ?? 1,
      maxParallelism,
      kind,
      incrementalAllowed,
    );
    if (subtask === undefined) return;
    if (seenIndexes.has(subtask.subtaskIndex)) {
      check.fail(`${subtaskPath}.subtaskIndex`, `duplicate ${subtask.subtaskIndex}`);
    }
    seenIndexes.add(subtask.subtaskIndex);
    subtasks.push(subtask);
  });
  checkDisjointRanges(check, subtasks, path);
  if (operatorId === undefined || operatorName === undefined || parallelism === undefined) return undefined;
  const operator: OperatorSnapshot = { operatorId, operatorName, parallelism, subtasks };
  return uid === undefined ? operator : { operatorId, operatorName, uid, parallelism, subtasks };
}

function parseSubtask(
  check: Checker,
  value: unknown,
  path: string,
  parallelism: number,
  maxParallelism: number,
  kind: unknown,
  incrementalAllowed: boolean,
): OperatorSubtaskSnapshot | undefined {
  const json = check.object(value, path);
  if (json === undefined) return undefined;
  const subtaskIndex = check.integer(json, 'subtaskIndex', path, 0, parallelism - 1);
  const finished = check.boolean(json, 'finished', path);
  const allowShared = kind === 'checkpoint';
  const isIncremental = (json.keyed as { kind?: unknown } | null | undefined)?.kind === 'incremental';
  if (isIncremental && !(incrementalAllowed && allowShared)) {
    check.fail(
      `${path}.keyed.kind`,
      kind === 'checkpoint'
        ? 'incremental keyed state needs metadata format version 2'
        : 'a savepoint must not hold incremental keyed state (it has to be self-contained)',
    );
  }
  const keyed =
    json.keyed === undefined || json.keyed === null
      ? undefined
      : isIncremental
        ? parseIncrementalKeyed(check, json.keyed, `${path}.keyed`, maxParallelism)
        : parseKeyed(check, json.keyed, `${path}.keyed`, maxParallelism, allowShared);
  const operatorState =
    json.operatorState === undefined || json.operatorState === null
      ? undefined
      : parseFile(check, json.operatorState, `${path}.operatorState`, allowShared);
  if (subtaskIndex === undefined || finished === undefined) return undefined;
  return { subtaskIndex, keyed, operatorState, finished };
}

function parseKeyed(
  check: Checker,
  value: unknown,
  path: string,
  maxParallelism: number,
  allowShared: boolean,
): KeyedStateHandle | undefined {
  const json = check.object(value, path);
  if (json === undefined) return undefined;
  const file = parseFile(check, json.file, `${path}.file`, allowShared);
  const rangePath = `${path}.keyGroupRange`;
  const rangeJson = check.object(json.keyGroupRange, rangePath);
  if (rangeJson === undefined) return undefined;
  const start = check.integer(rangeJson, 'start', rangePath, 0, maxParallelism - 1);
  const end = check.integer(rangeJson, 'end', rangePath, -1, maxParallelism - 1);
  if (file === undefined || start === undefined || end === undefined) return undefined;
  const offsets = parseOffsets(check, json.keyGroupOffsets, `${path}.keyGroupOffsets`, end - start + 1, file);
  if (offsets === undefined) return undefined;
  return { file, keyGroupRange: { start, end }, keyGroupOffsets: offsets };
}

/** Section offsets of a file of `groups` key groups: one per group and the end, ascending, inside the file. */
function parseOffsets(
  check: Checker,
  value: unknown,
  path: string,
  groups: number,
  file: StateFileHandle,
): number[] | undefined {
  const offsetsJson = check.array(value, path);
  if (offsetsJson === undefined) return undefined;
  const expected = Math.max(0, groups) + 1;
  if (offsetsJson.length !== expected) {
    check.fail(
      path,
      `expected ${expected} offsets (one per key group and the end), got ${offsetsJson.length}`,
    );
    return undefined;
  }
  const offsets: number[] = [];
  for (let i = 0; i < offsetsJson.length; i++) {
    const offset = offsetsJson[i];
    const previous = i === 0 ? 0 : offsets[i - 1];
    if (
      typeof offset !== 'number' ||
      !Number.isSafeInteger(offset) ||
      offset < previous ||
      offset > file.sizeBytes
    ) {
      check.fail(
        `${path}[${i}]`,
        `expected an integer in [${previous}, ${file.sizeBytes}], got ${String(offset)}`,
      );
      return undefined;
    }
    offsets.push(offset);
  }
  return offsets;
}

function parseIncrementalKeyed(
  check: Checker,
  value: unknown,
  path: string,
  maxParallelism: number,
): IncrementalKeyedStateHandle | undefined {
  const json = check.object(value, path);
  if (json === undefined) return undefined;
  const rangePath = `${path}.keyGroupRange`;
  const rangeJson = check.object(json.keyGroupRange, rangePath);
  const filesJson = check.array(json.files, `${path}.files`);
  if (rangeJson === undefined || filesJson === undefined) return undefined;
  const start = check.integer(rangeJson, 'start', rangePath, 0, maxParallelism - 1);
  const end = check.integer(rangeJson, 'end', rangePath, -1, maxParallelism - 1);
  if (filesJson.length === 0 || filesJson.length > INCREMENTAL_CHAIN_FILES_MAX) {
    check.fail(
      `${path}.files`,
      `expected 1 to ${INCREMENTAL_CHAIN_FILES_MAX} files, got ${filesJson.length}`,
    );
    return undefined;
  }
  const files: ChangelogFileHandle[] = [];
  filesJson.forEach((fileJson, i) => {
    const filePath = `${path}.files[${i}]`;
    const file = parseFile(check, fileJson, filePath, true);
    if (file === undefined) return;
    // The chain lives in shared/: later checkpoints reference the same files.
    if (!file.relativePath.startsWith('../shared/')) {
      check.fail(`${filePath}.relativePath`, `'${file.relativePath}' is not in the job's shared/ directory`);
      return;
    }
    const offsetsJson = (fileJson as { keyGroupOffsets?: unknown }).keyGroupOffsets;
    if (offsetsJson === undefined || start === undefined || end === undefined) {
      files.push(file);
      return;
    }
    const keyGroupOffsets = parseOffsets(
      check,
      offsetsJson,
      `${filePath}.keyGroupOffsets`,
      end - start + 1,
      file,
    );
    if (keyGroupOffsets !== undefined) files.push({ ...file, keyGroupOffsets });
  });
  if (start === undefined || end === undefined || files.length !== filesJson.length) return undefined;
  return { kind: 'incremental', keyGroupRange: { start, end }, files };
}

function parseFile(
  check: Checker,
  value: unknown,
  path: string,
  allowShared: boolean,
): StateFileHandle | undefined {
  const json = check.object(value, path);
  if (json === undefined) return undefined;
  const relativePath = check.string(json, 'relativePath', path);
  const sizeBytes = check.integer(json, 'sizeBytes', path, 0, Number.MAX_SAFE_INTEGER);
  const crc = check.integer(json, 'crc32c', path, 0, UINT32_MAX);
  if (relativePath === undefined || sizeBytes === undefined || crc === undefined) return undefined;
  const problem = relativePathProblem(relativePath, allowShared);
  if (problem !== undefined) return check.fail(`${path}.relativePath`, `'${relativePath}' ${problem}`);
  return { relativePath, sizeBytes, crc32c: crc };
}

function checkDisjointRanges(
  check: Checker,
  subtasks: readonly OperatorSubtaskSnapshot[],
  path: string,
): void {
  const ranges = subtasks
    .filter(
      (subtask) =>
        subtask.keyed !== undefined && subtask.keyed.keyGroupRange.end >= subtask.keyed.keyGroupRange.start,
    )
    .map((subtask) => ({ index: subtask.subtaskIndex, range: subtask.keyed!.keyGroupRange }))
    .sort((a, b) => a.range.start - b.range.start);
  for (let i = 1; i < ranges.length; i++) {
    if (ranges[i].range.start <= ranges[i - 1].range.end) {
      check.fail(
        `${path}.subtasks`,
        `key-group ranges of subtasks ${ranges[i - 1].index} and ${ranges[i].index} overlap`,
      );
    }
  }
}
