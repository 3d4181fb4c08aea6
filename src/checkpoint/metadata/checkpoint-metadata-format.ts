/** The `_metadata` file format: magic `WEIRMETA`, u16 version, u32 body length, JSON body, u32 CRC-32C. */
import { crc32c } from '../../core/binary.ts';
import { WeirError } from '../../core/errors.ts';
import type {
  CheckpointMetadata,
  CoordinatorStateHandle,
  KeyedStateHandle,
  StateFileHandle,
} from '../snapshot-handles.ts';
import { CorruptCheckpointError } from '../storage/checkpoint-errors.ts';
import { parseCheckpointMetadata } from './checkpoint-metadata-validation.ts';

/** The first 8 bytes of every `_metadata` file. */
export const METADATA_MAGIC = 'WEIRMETA';
/**
 * The newest layout version. Version 2 added coordinator (split enumerator) state and
 * incremental keyed handles; version 1 files (neither) are still read, and metadata is written
 * in the version its `formatVersion` says.
 */
export const METADATA_FORMAT_VERSION = 2;
/** Every version this code reads. */
const READABLE_VERSIONS: readonly number[] = [1, 2];
/** A body larger than this is refused on write and reported as corrupt on read (64 MiB). */
export const METADATA_BODY_BYTES_MAX = 64 * 1024 * 1024;

const MAGIC_BYTES = new TextEncoder().encode(METADATA_MAGIC);
/** magic (8) + version (u16) + body length (u32). */
const HEADER_BYTES = MAGIC_BYTES.length + 2 + 4;
const TRAILER_BYTES = 4;
const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Encodes metadata as a `_metadata` file. All numbers are little-endian; the CRC-32C trailer
 * covers every byte before it. The JSON body holds exactly the known fields, absent handles
 * as `null`, so `weir inspect` and a human with `tail -c +15` can read it.
 * Throws (a bug in the caller) when the metadata is malformed, so nothing unreadable is ever
 * committed.
 *
 * @example
 * ```ts
 * const bytes = encodeCheckpointMetadata(metadata);
 * decodeCheckpointMetadata(bytes, '/ck/job/chk-1/_metadata'); // deep-equals metadata
 * ```
 */
export function encodeCheckpointMetadata(metadata: CheckpointMetadata): Uint8Array {
  const parsed = parseCheckpointMetadata(toJson(metadata));
  if (!parsed.ok) {
    throw new WeirError(
      `refusing to write malformed checkpoint metadata (checkpoint ${metadata.checkpointId} of job ${metadata.jobId}): ${parsed.problems.join('; ')}`,
    );
  }
  const body = utf8Encoder.encode(JSON.stringify(toJson(parsed.metadata)));
  if (body.length > METADATA_BODY_BYTES_MAX) {
    throw new WeirError(
      `checkpoint metadata of checkpoint ${metadata.checkpointId} is ${body.length} bytes, above the limit of ${METADATA_BODY_BYTES_MAX}`,
    );
  }
  const bytes = new Uint8Array(HEADER_BYTES + body.length + TRAILER_BYTES);
  const view = new DataView(bytes.buffer);
  bytes.set(MAGIC_BYTES, 0);
  view.setUint16(MAGIC_BYTES.length, parsed.metadata.formatVersion, true);
  view.setUint32(MAGIC_BYTES.length + 2, body.length, true);
  bytes.set(body, HEADER_BYTES);
  const trailerOffset = HEADER_BYTES + body.length;
  view.setUint32(trailerOffset, crc32c(bytes, 0, trailerOffset), true);
  return bytes;
}

/**
 * Decodes a `_metadata` file, checking magic, length, checksum, version and the JSON
 * structure, in that order. Any failure throws {@link CorruptCheckpointError} naming `path`.
 *
 * @example
 * ```ts
 * const metadata = decodeCheckpointMetadata(await readFile(path), path);
 * ```
 */
export function decodeCheckpointMetadata(bytes: Uint8Array, path: string): CheckpointMetadata {
  if (bytes.length < MAGIC_BYTES.length || !hasMagic(bytes)) {
    const found =
      bytes.length === 0 ? 'an empty file' : JSON.stringify(latin1(bytes.subarray(0, MAGIC_BYTES.length)));
    throw new CorruptCheckpointError(path, 'not a Weir metadata file (bad magic number)', {
      expected: JSON.stringify(METADATA_MAGIC),
      actual: found,
    });
  }
  if (bytes.length < HEADER_BYTES + TRAILER_BYTES) {
    throw new CorruptCheckpointError(path, 'truncated: shorter than the metadata header and trailer', {
      expected: `at least ${HEADER_BYTES + TRAILER_BYTES} bytes`,
      actual: `${bytes.length} bytes`,
    });
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint16(MAGIC_BYTES.length, true);
  const bodyLength = view.getUint32(MAGIC_BYTES.length + 2, true);
  const expectedLength = HEADER_BYTES + bodyLength + TRAILER_BYTES;
  if (!READABLE_VERSIONS.includes(version) && expectedLength !== bytes.length)
    throw unsupportedVersion(path, version);
  if (bodyLength > METADATA_BODY_BYTES_MAX) {
    throw new CorruptCheckpointError(path, 'body length field is implausibly large', {
      expected: `at most ${METADATA_BODY_BYTES_MAX} bytes`,
      actual: `${bodyLength} bytes`,
    });
  }
  if (expectedLength !== bytes.length) {
    const reason = bytes.length < expectedLength ? 'truncated' : 'unexpected bytes after the trailer';
    throw new CorruptCheckpointError(path, reason, {
      expected: `${expectedLength} bytes`,
      actual: `${bytes.length} bytes`,
    });
  }
  const trailerOffset = HEADER_BYTES + bodyLength;
  const storedCrc = view.getUint32(trailerOffset, true);
  const actualCrc = crc32c(bytes, 0, trailerOffset);
  if (storedCrc !== actualCrc) {
    throw new CorruptCheckpointError(path, 'checksum mismatch', {
      expected: hex32(storedCrc),
      actual: hex32(actualCrc),
    });
  }
  if (!READABLE_VERSIONS.includes(version)) throw unsupportedVersion(path, version);
  const metadata = parseBody(bytes.subarray(HEADER_BYTES, trailerOffset), path);
  if (metadata.formatVersion !== version) {
    throw new CorruptCheckpointError(path, "the body's format version differs from the header's", {
      expected: version,
      actual: metadata.formatVersion,
    });
  }
  return metadata;
}

/** An unsigned 32-bit checksum as `0x` and 8 hex digits, the way every message shows one. */
export function hex32(value: number): string {
  return `0x${(value >>> 0).toString(16).padStart(8, '0')}`;
}

function parseBody(body: Uint8Array, path: string): CheckpointMetadata {
  let json: unknown;
  try {
    json = JSON.parse(utf8Decoder.decode(body));
  } catch (error) {
    throw new CorruptCheckpointError(path, 'body is not valid UTF-8 JSON', { cause: error });
  }
  const parsed = parseCheckpointMetadata(json);
  if (!parsed.ok) throw new CorruptCheckpointError(path, `invalid metadata: ${parsed.problems.join('; ')}`);
  return parsed.metadata;
}

function unsupportedVersion(path: string, version: number): CorruptCheckpointError {
  return new CorruptCheckpointError(
    path,
    'unsupported metadata format version (written by a newer Weir, or damaged)',
    { expected: READABLE_VERSIONS.join(' or '), actual: version },
  );
}

function hasMagic(bytes: Uint8Array): boolean {
  for (let i = 0; i < MAGIC_BYTES.length; i++) if (bytes[i] !== MAGIC_BYTES[i]) return false;
  return true;
}

function latin1(bytes: Uint8Array): string {
  return String.fromCharCode(...bytes);
}

/** A plain JSON value with the fields in a fixed order; `undefined` handles become `null`. */
function toJson(metadata: CheckpointMetadata): unknown {
  return {
    formatVersion: metadata.formatVersion,
    jobId: metadata.jobId,
    jobName: metadata.jobName,
    checkpointId: metadata.checkpointId,
    kind: metadata.kind,
    triggerTimestampMs: metadata.triggerTimestampMs,
    completedTimestampMs: metadata.completedTimestampMs,
    maxParallelism: metadata.maxParallelism,
    operators: (metadata.operators ?? []).map((operator) => ({
      operatorId: operator.operatorId,
      operatorName: operator.operatorName,
      ...(operator.uid === undefined ? {} : { uid: operator.uid }),
      parallelism: operator.parallelism,
      subtasks: (operator.subtasks ?? []).map((subtask) => ({
        subtaskIndex: subtask.subtaskIndex,
        finished: subtask.finished,
        keyed: subtask.keyed == null ? null : keyedToJson(subtask.keyed),
        operatorState: subtask.operatorState == null ? null : fileToJson(subtask.operatorState),
      })),
    })),
    // Version 1 has no such field (validation refuses coordinator state in a version 1 body).
    ...(metadata.formatVersion === 1
      ? {}
      : { coordinators: (metadata.coordinators ?? []).map(coordinatorToJson) }),
  };
}

function coordinatorToJson(coordinator: CoordinatorStateHandle): unknown {
  return {
    operatorId: coordinator.operatorId,
    operatorName: coordinator.operatorName,
    serializerId: coordinator.serializerId,
    serializerVersion: coordinator.serializerVersion,
    state: Buffer.from(
      coordinator.bytes.buffer,
      coordinator.bytes.byteOffset,
      coordinator.bytes.length,
    ).toString('base64'),
  };
}

function keyedToJson(keyed: KeyedStateHandle): unknown {
  if (keyed.kind === 'incremental') {
    return {
      kind: 'incremental',
      keyGroupRange: { start: keyed.keyGroupRange?.start, end: keyed.keyGroupRange?.end },
      files: (keyed.files ?? []).map((file) =>
        file.keyGroupOffsets === undefined
          ? fileToJson(file)
          : { ...(fileToJson(file) as object), keyGroupOffsets: file.keyGroupOffsets },
      ),
    };
  }
  return {
    file: fileToJson(keyed.file),
    keyGroupRange: { start: keyed.keyGroupRange?.start, end: keyed.keyGroupRange?.end },
    keyGroupOffsets: keyed.keyGroupOffsets,
  };
}

function fileToJson(file: StateFileHandle): unknown {
  return { relativePath: file.relativePath, sizeBytes: file.sizeBytes, crc32c: file.crc32c };
}
