/** The keyed state file (`WEIRKEYD`): canonical, backend-independent, one checksummed section per key group. */
import { BinaryReader, BinaryWriter, crc32c } from '../../core/binary.ts';
import type { StateDescriptor } from '../descriptors.ts';
import type { KeyGroupRange } from '../key-group-range.ts';
import {
  assignToKeyGroup,
  keyGroupRangeContains,
  keyGroupRangeSize,
  MAX_PARALLELISM_LIMIT,
} from '../key-groups.ts';
import { valueSerializer } from '../serializers/value-serializer.ts';
import type { ChunkedInput } from './chunked-input.ts';
import {
  checkHeaderChecksum,
  checkPreamble,
  checkTrailer,
  FILE_PREAMBLE_BYTES,
  FILE_TRAILER_BYTES,
  hex,
  magicBytes,
  readingFile,
  writePreamble,
} from './file-framing.ts';
import {
  readSerializerRef,
  type SerializerRef,
  serializerRef,
  writeSerializerRef,
} from './serializer-ref.ts';
import { CorruptSnapshotError } from './snapshot-errors.ts';
import type { TimerSnapshotEntry } from './timer-snapshot.ts';

/*
 * Layout (all multi-byte fixed-width numbers little-endian; "bytes" = varint length + bytes):
 *
 *   file    := "WEIRKEYD" u16:version header section* u32:crc32c(everything before)
 *   header  := u32:maxParallelism u32:firstKeyGroup u32:keyGroupCount u32:crc32c(file[0, 22))
 *   section := varint:keyGroup (u8:1 state)* u8:0 varint:timerCount timer* u32:crc32c(section so far)
 *   state   := string:name u8:kind u8:flags(bit 0 = TTL) ref:key ref:namespace ref:value
 *              [ref:mapKey, map state only] varint:entryCount bytes:entries
 *   entry   := key namespace payload          (key and namespace with the key/namespace serializer)
 *   payload := [f64:expiresAtMs] value                          value, reducing, aggregating
 *            | varint:n≥1 ([f64:expiresAtMs] element)×n         list
 *            | varint:n≥1 (mapKey [f64:expiresAtMs] value)×n    map
 *   timer   := string:service u8:domain(0 event, 1 processing) key namespace f64:timestampMs
 *   ref     := string:serializerId varint:serializerVersion
 *
 * The header has its own checksum and every section has one, so a rescaled restore can read
 * the header plus a byte range of sections and still verify everything it reads. A state's
 * entries are length-prefixed, so a restore can keep them undecoded until the operator
 * registers the state (only then is the value serializer known), and a snapshot taken
 * before that writes them through unchanged.
 */

const MAGIC = magicBytes('WEIRKEYD');
/** The version this code writes. */
export const KEYED_STATE_FORMAT_VERSION = 1;
const READABLE_VERSIONS: readonly number[] = [1];
const FILE_KIND = 'keyed state';
/** Preamble, header fields and header checksum: what a range read needs besides the sections. */
export const KEYED_STATE_HEADER_BYTES = FILE_PREAMBLE_BYTES + 16;
/** State names are identifiers chosen in code; anything longer is corrupt input. */
export const STATE_NAME_CHARS_MAX = 1_000;
/** Key groups serialized between yields by writeKeyedStateFileInSlices unless told otherwise. */
export const DEFAULT_KEY_GROUPS_PER_SLICE = 8;
/** Timer service names likewise. */
export const TIMER_SERVICE_CHARS_MAX = 1_000;

export type KeyedStateKind = StateDescriptor['kind'];
const KINDS: readonly KeyedStateKind[] = ['value', 'list', 'map', 'reducing', 'aggregating'];
const FLAG_TTL = 1;
const STATE_FOLLOWS = 1;
const STATES_END = 0;

/** What a section records about one state besides its entries. */
export interface KeyedStateMeta {
  readonly name: string;
  readonly kind: KeyedStateKind;
  /** Entries carry expiry timestamps. */
  readonly hasTtl: boolean;
  /** Always the default value serializer today; recorded so it can change. */
  readonly keySerializer: SerializerRef;
  readonly namespaceSerializer: SerializerRef;
  /** Values; list elements; map-state values; accumulators. */
  readonly valueSerializer: SerializerRef;
  /** Map state's user-map keys; undefined for other kinds. */
  readonly mapKeySerializer: SerializerRef | undefined;
}

/** What a restore knows of one state's entries in one key group besides the entries themselves. */
export interface KeyedStateChunkInfo {
  readonly meta: KeyedStateMeta;
  readonly keyGroup: number;
  readonly entryCount: number;
  /** The file it came from, for messages. */
  readonly path: string;
}

/** One state's entries in one key group, undecoded: decoded when the operator registers the state. */
export interface RawKeyedStateChunk extends KeyedStateChunkInfo {
  /** The encoded entries; a view into the bytes the file was read from (not copied). */
  readonly bytes: Uint8Array;
}

/**
 * A section's timers as read: checked (each decodes, and its key belongs to the section's key
 * group), but kept as the encoded bytes until a backend loads them, so a restore of millions
 * of timers holds bytes, not objects (see `decodeSectionTimers`).
 */
export interface RawSectionTimers {
  readonly keyGroup: number;
  readonly count: number;
  /** The encoded timers; a view into the bytes the file was read from (not copied). */
  readonly bytes: Uint8Array;
  readonly maxParallelism: number;
  /** The file it came from, for messages. */
  readonly path: string;
}

/** One key group of a keyed state file as read back. */
export interface KeyGroupSection {
  readonly keyGroup: number;
  readonly states: readonly RawKeyedStateChunk[];
  /** Undefined when the section has no timers. */
  readonly timers: RawSectionTimers | undefined;
}

/** What a reader returns, and what `KeyedStateBackend.restore` takes (one per old subtask file). */
export interface KeyedStateFileContents {
  readonly path: string;
  readonly maxParallelism: number;
  /** The key groups the file covers (its writer's range), not only those read. */
  readonly fileKeyGroupRange: KeyGroupRange;
  /** The sections read, in ascending key-group order. */
  readonly sections: readonly KeyGroupSection[];
}

/** A written keyed state file. */
export interface KeyedStateFile {
  readonly bytes: Uint8Array;
  /** Byte offset of each key group's section, by `keyGroup - range.start`; the last entry is where the trailer starts. */
  readonly keyGroupOffsets: readonly number[];
}

/**
 * A point-in-time view of a keyed backend's state that can be serialized while processing
 * continues: taken by `KeyedStateBackend.snapshot()` (the synchronous part), written by
 * `writeKeyedStateFile`/`KeyedStateFileWriter` (the asynchronous part), then released.
 */
export interface KeyedStateSnapshot {
  readonly keyGroupRange: KeyGroupRange;
  readonly maxParallelism: number;
  /** Writes every state's entries of `keyGroup` (in the range) through `out`. */
  writeKeyGroup(keyGroup: number, out: KeyGroupSectionWriter): void;
  /** Optional: the timers of `keyGroup` the backend keeps itself (see KeyedStateBackend.createTimerQueue), as of the view. */
  timersOf?(keyGroup: number): readonly TimerSnapshotEntry[];
  /**
   * Lets the backend stop protecting this view (copy-on-write ends when no snapshot is
   * pending). Call it once the file is written or the checkpoint is abandoned; afterwards
   * `writeKeyGroup` throws. Idempotent.
   */
  release(): void;
}

/**
 * Writes the states of one section. A backend calls `beginState`, writes `entryCount`
 * entries into the returned writer (with `writeEntryKey`, `writeExpiry` and the state's
 * serializers), then `endState(entryCount)`; or passes a restored chunk through with
 * `writeRawState`. A state with no entries is left out.
 */
export class KeyGroupSectionWriter {
  readonly #out: BinaryWriter;
  readonly #entries = new BinaryWriter(4096);
  #meta: KeyedStateMeta | undefined;
  #names = new Set<string>();

  constructor(out: BinaryWriter) {
    this.#out = out;
  }

  /** Starts a state; the returned writer (reused, valid until `endState`) takes its entries. */
  beginState(meta: KeyedStateMeta): BinaryWriter {
    if (this.#meta !== undefined) throw new Error(`state '${this.#meta.name}' was begun and not ended`);
    this.#meta = meta;
    this.#entries.reset();
    return this.#entries;
  }

  endState(entryCount: number): void {
    const meta = this.#meta;
    if (meta === undefined) throw new Error('endState without beginState');
    this.#meta = undefined;
    if (entryCount === 0) {
      if (this.#entries.length !== 0) throw new Error(`state '${meta.name}': bytes written for no entries`);
      return;
    }
    this.#writeState(meta, entryCount, this.#entries.view());
  }

  /** Writes a restored, still undecoded chunk as it was read. */
  writeRawState(chunk: RawKeyedStateChunk): void {
    if (chunk.entryCount > 0) this.#writeState(chunk.meta, chunk.entryCount, chunk.bytes);
  }

  /** Called by the file writer: clears what the previous section recorded. */
  reset(): void {
    this.#meta = undefined;
    this.#names = new Set();
  }

  #writeState(meta: KeyedStateMeta, entryCount: number, entries: Uint8Array): void {
    // A state twice in one section would be restored twice: a bug in the backend's snapshot.
    if (this.#names.has(meta.name)) throw new Error(`state '${meta.name}' written twice in one key group`);
    this.#names.add(meta.name);
    const out = this.#out;
    writeStateMeta(out, meta);
    out.writeVarint(entryCount);
    out.writeBytes(entries);
  }
}

/**
 * Writes the marker and metadata that open a state in a section, up to its entry or record
 * count (the part WEIRKEYD and WEIRKCHG share).
 */
export function writeStateMeta(out: BinaryWriter, meta: KeyedStateMeta): void {
  out.writeU8(STATE_FOLLOWS);
  out.writeString(meta.name);
  out.writeU8(KINDS.indexOf(meta.kind));
  out.writeU8(meta.hasTtl ? FLAG_TTL : 0);
  writeSerializerRef(meta.keySerializer, out);
  writeSerializerRef(meta.namespaceSerializer, out);
  writeSerializerRef(meta.valueSerializer, out);
  if (meta.kind === 'map') writeSerializerRef(meta.mapKeySerializer!, out);
}

/** The ref every key and namespace is written with. */
export const DEFAULT_KEY_SERIALIZER_REF: SerializerRef = serializerRef(valueSerializer);

/** Writes an entry's key and namespace with the default serializer (a backend calls it first for every entry). */
export function writeEntryKey(out: BinaryWriter, key: unknown, namespace: string | number): void {
  valueSerializer.serialize(key, out);
  valueSerializer.serialize(namespace, out);
}

/** Writes an expiry timestamp (states with TTL, before each value or element). */
export function writeExpiry(out: BinaryWriter, expiresAtMs: number): void {
  out.writeFloat64(expiresAtMs);
}

/**
 * Serializes a snapshot into a keyed state file a few key groups at a time, so a task can
 * interleave the work with processing (`step` between mailbox actions). Timers are grouped
 * into their key groups' sections; each must lie in the snapshot's range. The file can be
 * taken whole (`finish`) or in parts as it grows (`takePart` between steps, then
 * `finishPart`), so a large one is never whole in memory; sections are never split.
 *
 * @example
 * ```ts
 * const writer = new KeyedStateFileWriter(snapshot, timers);
 * while (!writer.step(8)) await new Promise((resolve) => setImmediate(resolve));
 * const { bytes, keyGroupOffsets } = writer.finish();
 * snapshot.release();
 * ```
 */
export class KeyedStateFileWriter {
  readonly #snapshot: KeyedStateSnapshot;
  readonly #timers: ReadonlyMap<number, readonly TimerSnapshotEntry[]>;
  readonly #out: BinaryWriter;
  readonly #sections: KeyGroupSectionWriter;
  readonly #offsets: number[] = [];
  readonly #groupCount: number;
  #next = 0;
  #file: KeyedStateFile | undefined;
  /** Bytes handed out by `takePart`, and their running CRC-32C (the trailer covers them too). */
  #taken = 0;
  #takenCrc = 0;

  constructor(
    snapshot: KeyedStateSnapshot,
    timers: readonly TimerSnapshotEntry[] = [],
    initialCapacityBytes = 64 * 1024,
  ) {
    const { keyGroupRange: range, maxParallelism } = snapshot;
    this.#snapshot = snapshot;
    this.#groupCount = keyGroupRangeSize(range);
    this.#timers = groupTimersByKeyGroup(timers, range, maxParallelism);
    this.#out = new BinaryWriter(initialCapacityBytes);
    this.#sections = new KeyGroupSectionWriter(this.#out);
    writePreamble(this.#out, MAGIC, KEYED_STATE_FORMAT_VERSION);
    this.#out.writeU32(maxParallelism);
    this.#out.writeU32(range.start);
    this.#out.writeU32(this.#groupCount);
    this.#out.writeU32(crc32c(this.#out.view()));
  }

  /** Bytes written and not taken yet. */
  get bufferedBytes(): number {
    return this.#out.length;
  }

  /** Writes up to `keyGroupsMax` more sections; true when every section is written. */
  step(keyGroupsMax = 1): boolean {
    const stop = Math.min(this.#groupCount, this.#next + Math.max(1, keyGroupsMax));
    while (this.#next < stop) this.#writeSection(this.#snapshot.keyGroupRange.start + this.#next++);
    return this.#next === this.#groupCount;
  }

  /**
   * The bytes written since the last part, which then leave the writer's buffer: a view of
   * it, valid until the next call on this writer (hand it on before going on; no copy).
   */
  takePart(): Uint8Array {
    const part = this.#out.view();
    this.#takenCrc = crc32c(part, 0, part.length, this.#takenCrc);
    this.#taken += part.length;
    this.#out.reset();
    return part;
  }

  /** Writes what is left, adds the trailer, and returns the whole file (no part may have been taken). */
  finish(): KeyedStateFile {
    if (this.#file !== undefined) return this.#file;
    if (this.#taken > 0) throw new Error('finish() after takePart(): use finishPart()');
    const last = this.finishPart();
    this.#file = { bytes: last.slice(), keyGroupOffsets: this.#offsets };
    return this.#file;
  }

  /** Writes what is left and the trailer; returns the last part (a view, as `takePart`). `keyGroupOffsets` is then complete. */
  finishPart(): Uint8Array {
    if (this.#offsets.length > this.#groupCount) throw new Error('the keyed state file was finished already');
    this.step(Number.MAX_SAFE_INTEGER);
    const out = this.#out;
    this.#offsets.push(this.#taken + out.length);
    out.writeU32(crc32c(out.view(), 0, out.length, this.#takenCrc));
    const last = this.takePart();
    checkWrittenOffsets(this.#offsets, this.#groupCount, this.#taken);
    return last;
  }

  /** Byte offset of each section in the whole file, then of the trailer (complete after `finishPart`). */
  get keyGroupOffsets(): readonly number[] {
    return this.#offsets;
  }

  #writeSection(keyGroup: number): void {
    const out = this.#out;
    const start = out.length;
    this.#offsets.push(this.#taken + start);
    out.writeVarint(keyGroup);
    this.#sections.reset();
    this.#snapshot.writeKeyGroup(keyGroup, this.#sections);
    writeSectionEnd(
      out,
      start,
      sectionTimers(this.#timers.get(keyGroup), this.#snapshot.timersOf?.(keyGroup)),
    );
  }
}

/** A section's timers: those handed in with the snapshot and those its backend keeps, both already in the section's key group. */
export function sectionTimers(
  handedIn: readonly TimerSnapshotEntry[] | undefined,
  kept: readonly TimerSnapshotEntry[] | undefined,
): readonly TimerSnapshotEntry[] {
  if (kept === undefined || kept.length === 0) return handedIn ?? [];
  return handedIn === undefined || handedIn.length === 0 ? kept : [...handedIn, ...kept];
}

/**
 * Serializes a snapshot into a keyed state file in one go (see KeyedStateFileWriter to do it
 * in slices). Does not release the snapshot.
 *
 * @example
 * ```ts
 * const snapshot = backend.snapshot();           // synchronous part, in the mailbox
 * const file = writeKeyedStateFile(snapshot, timers); // asynchronous part, later
 * snapshot.release();
 * ```
 */
export function writeKeyedStateFile(
  snapshot: KeyedStateSnapshot,
  timers: readonly TimerSnapshotEntry[] = [],
): KeyedStateFile {
  return new KeyedStateFileWriter(snapshot, timers).finish();
}

/** How a writer in slices runs: key groups per slice, and how it yields between slices. */
export interface SliceOptions {
  readonly keyGroupsPerSlice?: number;
  readonly yieldToLoop?: () => Promise<void>;
}

/** Parts handed to a `StateFilePartSink` are about this size (whole sections, so sometimes more). */
export const STATE_FILE_PART_BYTES = 1024 * 1024;

/** Where a writer in parts hands its parts, in order (a checkpoint location's open file). */
export interface StateFilePartSink {
  /** `part` is a view of the writer's buffer, valid until the returned promise settles. */
  write(part: Uint8Array): Promise<void>;
}

function sliceYield(options: SliceOptions): () => Promise<void> {
  return options.yieldToLoop ?? (() => new Promise<void>((resolve) => setImmediate(resolve)));
}

/**
 * `writeKeyedStateFile` in slices of `keyGroupsPerSlice` key groups, awaiting `yieldToLoop`
 * between slices (by default a macrotask turn), so the mailbox keeps processing while a
 * large snapshot is serialized. Does not release the snapshot.
 *
 * @example
 * ```ts
 * const file = await writeKeyedStateFileInSlices(snapshot, timers);
 * snapshot.release();
 * ```
 */
export async function writeKeyedStateFileInSlices(
  snapshot: KeyedStateSnapshot,
  timers: readonly TimerSnapshotEntry[] = [],
  options: SliceOptions = {},
): Promise<KeyedStateFile> {
  const yieldToLoop = sliceYield(options);
  const writer = new KeyedStateFileWriter(snapshot, timers);
  while (!writer.step(options.keyGroupsPerSlice ?? DEFAULT_KEY_GROUPS_PER_SLICE)) await yieldToLoop();
  return writer.finish();
}

/**
 * `writeKeyedStateFileInSlices` into `sink`, in parts of about `partBytes` (whole sections),
 * so the file is never whole in memory: memory is one buffer of about a part plus the largest
 * section, reused from part to part.
 * Returns the section offsets and the file's size. Does not release the snapshot.
 *
 * @example
 * ```ts
 * const file = await location.openFile(name);
 * const { keyGroupOffsets } = await writeKeyedStateFileInParts(file, snapshot, timers);
 * const handle = await file.close();
 * ```
 */
export async function writeKeyedStateFileInParts(
  sink: StateFilePartSink,
  snapshot: KeyedStateSnapshot,
  timers: readonly TimerSnapshotEntry[] = [],
  options: SliceOptions & { readonly partBytes?: number } = {},
): Promise<{ readonly keyGroupOffsets: readonly number[]; readonly sizeBytes: number }> {
  const yieldToLoop = sliceYield(options);
  const partBytes = options.partBytes ?? STATE_FILE_PART_BYTES;
  const perSlice = options.keyGroupsPerSlice ?? DEFAULT_KEY_GROUPS_PER_SLICE;
  const writer = new KeyedStateFileWriter(snapshot, timers);
  // One section at a time, so a part never holds more than `partBytes` and one section.
  for (let sinceYield = 0; !writer.step(1); ) {
    if (writer.bufferedBytes >= partBytes) {
      await sink.write(writer.takePart());
      sinceYield = 0;
    } else if (++sinceYield >= perSlice) {
      await yieldToLoop();
      sinceYield = 0;
    }
  }
  await sink.write(writer.finishPart());
  const offsets = writer.keyGroupOffsets;
  return { keyGroupOffsets: offsets, sizeBytes: offsets[offsets.length - 1] + FILE_TRAILER_BYTES };
}

/** The writer's half of the pair of checks: offsets cover the body exactly, in order. */
function checkWrittenOffsets(offsets: readonly number[], groupCount: number, fileBytes: number): void {
  const ok =
    offsets.length === groupCount + 1 &&
    offsets[0] === KEYED_STATE_HEADER_BYTES &&
    offsets[groupCount] === fileBytes - FILE_TRAILER_BYTES &&
    offsets.every((offset, i) => i === 0 || offset > offsets[i - 1]);
  if (!ok) throw new Error(`keyed state file written with inconsistent section offsets ${offsets.join(',')}`);
}

/**
 * Groups timers by key group for the section writers; each must lie in `range` and its key
 * in its key group (a timer that does not is a bug in the operator's snapshot).
 */
export function groupTimersByKeyGroup(
  timers: readonly TimerSnapshotEntry[],
  range: KeyGroupRange,
  maxParallelism: number,
): Map<number, TimerSnapshotEntry[]> {
  const byGroup = new Map<number, TimerSnapshotEntry[]>();
  for (const timer of timers) {
    if (!keyGroupRangeContains(range, timer.keyGroup)) {
      throw new RangeError(
        `timer of service '${timer.service}' in key group ${timer.keyGroup} lies outside the snapshot's key-group range [${range.start}, ${range.end}] (a bug)`,
      );
    }
    if (assignToKeyGroup(timer.key, maxParallelism) !== timer.keyGroup) {
      throw new RangeError(
        `timer of service '${timer.service}' says key group ${timer.keyGroup}, but its key belongs to key group ${assignToKeyGroup(timer.key, maxParallelism)} (a bug)`,
      );
    }
    let list = byGroup.get(timer.keyGroup);
    if (list === undefined) byGroup.set(timer.keyGroup, (list = []));
    list.push(timer);
  }
  return byGroup;
}

/**
 * Ends a section begun at `start` once its states are written: end marker, timers, section
 * checksum. `removedTimers` (changelog deltas only) go before `timers` as a list of their own.
 */
export function writeSectionEnd(
  out: BinaryWriter,
  start: number,
  timers: readonly TimerSnapshotEntry[],
  removedTimers?: readonly TimerSnapshotEntry[],
): void {
  out.writeU8(STATES_END);
  if (removedTimers !== undefined) writeTimerList(out, removedTimers);
  writeTimerList(out, timers);
  out.writeU32(crc32c(out.view(), start, out.length));
}

function writeTimerList(out: BinaryWriter, timers: readonly TimerSnapshotEntry[]): void {
  out.writeVarint(timers.length);
  for (const timer of timers) writeTimer(out, timer);
}

function writeTimer(out: BinaryWriter, timer: TimerSnapshotEntry): void {
  out.writeString(timer.service);
  out.writeU8(timer.domain === 'event' ? 0 : 1);
  writeEntryKey(out, timer.key, timer.namespace);
  out.writeFloat64(timer.timestampMs);
}

// --- Reading ---------------------------------------------------------------------------------

interface FileHeader {
  readonly maxParallelism: number;
  readonly range: KeyGroupRange;
}

/**
 * Reads a whole keyed state file: checks magic, version, header, every section's checksum
 * and the file's trailer, and returns the sections of the key groups in `wanted` (all when
 * omitted). Throws CorruptSnapshotError naming `path` and the problem.
 *
 * @example
 * ```ts
 * const part = readKeyedStateFile(bytes, 'chk-7/op-a-0.keyed', backend.keyGroupRange);
 * const timers = backend.restore([part]);
 * ```
 */
export function readKeyedStateFile(
  bytes: Uint8Array,
  path: string,
  wanted?: KeyGroupRange,
): KeyedStateFileContents {
  checkPreamble(bytes, path, FILE_KIND, MAGIC, READABLE_VERSIONS);
  checkTrailer(bytes, path, FILE_KIND);
  const header = readHeader(bytes, path);
  const sections = readSections(
    bytes.subarray(KEYED_STATE_HEADER_BYTES, bytes.length - FILE_TRAILER_BYTES),
    path,
    header,
    wanted ?? header.range,
    true,
  );
  return { path, maxParallelism: header.maxParallelism, fileKeyGroupRange: header.range, sections };
}

/**
 * Reads part of a keyed state file, for rescaled restores: `header` is the file's first
 * KEYED_STATE_HEADER_BYTES bytes, `sections` the bytes from `keyGroupOffsets[i]` to
 * `keyGroupOffsets[j]` (whole sections). Checks the header and each section's checksum (the
 * whole-file checksum needs the whole file) and returns the sections in `wanted`.
 *
 * @example
 * ```ts
 * const { keyGroupOffsets: o, keyGroupRange: r } = handle;
 * const part = readKeyedStateRange(await read(0, KEYED_STATE_HEADER_BYTES),
 *   await read(o[from - r.start], o[to - r.start + 1]), handle.file.relativePath, backend.keyGroupRange);
 * ```
 */
export function readKeyedStateRange(
  header: Uint8Array,
  sections: Uint8Array,
  path: string,
  wanted: KeyGroupRange,
): KeyedStateFileContents {
  checkPreamble(header, path, FILE_KIND, MAGIC, READABLE_VERSIONS);
  const parsed = readHeader(header, path);
  const read = readSections(sections, path, parsed, wanted, false);
  return { path, maxParallelism: parsed.maxParallelism, fileKeyGroupRange: parsed.range, sections: read };
}

/**
 * The sections of the key groups in `wanted` of a keyed state file read as a stream, one at
 * a time: checks magic, version, the header (against `expected`, what the checkpoint's
 * metadata says) and every section's checksum; stops reading after the last wanted group.
 * The whole-file checksum is the storage's to check (`CheckpointStorage.readFileChunks`).
 * With `fromWanted`, `input` is the file's header only (KEYED_STATE_HEADER_BYTES) and
 * `fromWanted` its bytes from the section of `wanted.start` on (a ranged read at the
 * handle's `keyGroupOffsets`), so a rescaled restore reads only what it keeps.
 */
export async function* streamKeyedStateSections(
  input: ChunkedInput,
  wanted: KeyGroupRange,
  expected: { readonly maxParallelism: number; readonly range: KeyGroupRange },
  fromWanted?: ChunkedInput,
): AsyncGenerator<KeyGroupSection, void, undefined> {
  const { path } = input;
  try {
    const headerBytes = await input.take(KEYED_STATE_HEADER_BYTES);
    checkPreamble(headerBytes, path, FILE_KIND, MAGIC, READABLE_VERSIONS);
    const header = readHeader(headerBytes, path);
    const { range } = header;
    if (
      header.maxParallelism !== expected.maxParallelism ||
      range.start !== expected.range.start ||
      range.end !== expected.range.end
    ) {
      throw new CorruptSnapshotError(
        path,
        `header says key groups [${range.start}, ${range.end}] of max parallelism ${header.maxParallelism}, the checkpoint's metadata [${expected.range.start}, ${expected.range.end}] of ${expected.maxParallelism}`,
      );
    }
    const body = fromWanted ?? input;
    const limit = fromWanted === undefined ? input.sizeBytes - FILE_TRAILER_BYTES : fromWanted.sizeBytes;
    const first = fromWanted === undefined ? range.start : wanted.start;
    const last = Math.min(range.end, wanted.end);
    if (fromWanted !== undefined) await input.close();
    for (let keyGroup = first; keyGroup <= last; keyGroup++) {
      if (body.position >= limit) {
        throw new CorruptSnapshotError(
          path,
          `sections end before key group ${keyGroup} of [${range.start}, ${range.end}]`,
        );
      }
      const section = await body.parse(limit, (bytes, offset) => {
        const { section, end } = readSection(bytes, offset, path, header);
        return { value: section, end };
      });
      if (section.keyGroup !== keyGroup) {
        throw new CorruptSnapshotError(
          path,
          `section of key group ${section.keyGroup} where ${keyGroup} belongs`,
        );
      }
      if (keyGroupRangeContains(wanted, keyGroup)) yield section;
    }
  } finally {
    await Promise.all([input.close(), fromWanted?.close()]);
  }
}

function readHeader(bytes: Uint8Array, path: string): FileHeader {
  if (bytes.length < KEYED_STATE_HEADER_BYTES) {
    throw new CorruptSnapshotError(
      path,
      `truncated: ${bytes.length} bytes cannot hold the ${KEYED_STATE_HEADER_BYTES}-byte header`,
    );
  }
  const input = new BinaryReader(bytes, FILE_PREAMBLE_BYTES, KEYED_STATE_HEADER_BYTES);
  const maxParallelism = input.readU32();
  const start = input.readU32();
  const count = input.readU32();
  checkHeaderChecksum(bytes, KEYED_STATE_HEADER_BYTES, input.readU32(), path);
  if (maxParallelism < 1 || maxParallelism > MAX_PARALLELISM_LIMIT || start + count > maxParallelism) {
    throw new CorruptSnapshotError(
      path,
      `header describes key groups [${start}, ${start + count - 1}] of max parallelism ${maxParallelism}, which is impossible`,
    );
  }
  return { maxParallelism, range: { start, end: start + count - 1 } };
}

/**
 * Parses consecutive sections. `whole`: the bytes are all sections of the file, so they must
 * cover its range exactly; otherwise any run of consecutive sections inside it.
 */
function readSections(
  bytes: Uint8Array,
  path: string,
  header: FileHeader,
  wanted: KeyGroupRange,
  whole: boolean,
): KeyGroupSection[] {
  const sections: KeyGroupSection[] = [];
  let first = -1;
  let previous = -1;
  let parsed = 0;
  let offset = 0;
  while (offset < bytes.length) {
    const { section, end } = readSection(bytes, offset, path, header);
    const keyGroup = section.keyGroup;
    if (parsed > 0 && keyGroup !== previous + 1) {
      throw new CorruptSnapshotError(path, `section of key group ${keyGroup} follows key group ${previous}`);
    }
    if (parsed === 0) first = keyGroup;
    previous = keyGroup;
    parsed++;
    if (keyGroupRangeContains(wanted, keyGroup)) sections.push(section);
    offset = end;
  }
  const expected = keyGroupRangeSize(header.range);
  if (whole && (parsed !== expected || (parsed > 0 && first !== header.range.start))) {
    throw new CorruptSnapshotError(
      path,
      `${parsed} sections from key group ${first} where the header says [${header.range.start}, ${header.range.end}]`,
    );
  }
  return sections;
}

function readSection(
  bytes: Uint8Array,
  start: number,
  path: string,
  header: FileHeader,
): { section: KeyGroupSection; end: number } {
  return readingFile(path, () => {
    const input = new BinaryReader(bytes, start);
    const keyGroup = input.readVarint('key group');
    if (!keyGroupRangeContains(header.range, keyGroup)) {
      throw new CorruptSnapshotError(
        path,
        `section at offset ${start} is for key group ${keyGroup}, outside the file's range [${header.range.start}, ${header.range.end}]`,
      );
    }
    const states = readSectionStates(input, (meta) => readEntries(input, meta, keyGroup, path));
    const timers = readSectionEnd(bytes, input, start, keyGroup, header.maxParallelism, path);
    return { section: { keyGroup, states, timers }, end: input.position };
  });
}

/**
 * Reads a section's states up to the end marker: each state's marker and metadata here, the
 * rest with `readRest` (the part WEIRKEYD and WEIRKCHG share).
 */
export function readSectionStates<T>(input: BinaryReader, readRest: (meta: KeyedStateMeta) => T): T[] {
  const states: T[] = [];
  for (;;) {
    const marker = input.readU8('state marker');
    if (marker === STATES_END) return states;
    if (marker !== STATE_FOLLOWS)
      throw new RangeError(`bad state marker ${marker} at offset ${input.position - 1}`);
    states.push(readRest(readStateMeta(input)));
  }
}

/**
 * Reads what follows a section's states (timers, then the checksum of the section begun at
 * `start`) and checks it. Every timer is decoded once to check it; what is returned is their
 * bytes.
 */
export function readSectionEnd(
  bytes: Uint8Array,
  input: BinaryReader,
  start: number,
  keyGroup: number,
  maxParallelism: number,
  path: string,
): RawSectionTimers | undefined {
  const timers = readTimerList(bytes, input, keyGroup, maxParallelism, path);
  const stored = input.readU32('section checksum');
  const actual = crc32c(bytes, start, input.position - 4);
  if (stored !== actual) {
    throw new CorruptSnapshotError(
      path,
      `checksum mismatch in the section of key group ${keyGroup}: stored ${hex(stored)}, computed ${hex(actual)}`,
    );
  }
  return timers;
}

/** Reads a count and that many timers (each decoded once to check it); returns their bytes. */
export function readTimerList(
  bytes: Uint8Array,
  input: BinaryReader,
  keyGroup: number,
  maxParallelism: number,
  path: string,
): RawSectionTimers | undefined {
  const count = readCount(input, 'timer count', 10);
  const timersStart = input.position;
  for (let i = 0; i < count; i++) readTimer(input, keyGroup, maxParallelism);
  if (count === 0) return undefined;
  return { keyGroup, count, bytes: bytes.subarray(timersStart, input.position), maxParallelism, path };
}

/** Each timer of a section as its own encoded bytes (views, not copies): what identifies a timer when a changelog's timer deltas are folded. */
export function* sectionTimerEncodings(timers: RawSectionTimers): Generator<Uint8Array, void, undefined> {
  const input = new BinaryReader(timers.bytes);
  for (let i = 0; i < timers.count; i++) {
    const start = input.position;
    readingFile(timers.path, () => readTimer(input, timers.keyGroup, timers.maxParallelism));
    yield timers.bytes.subarray(start, input.position);
  }
}

/**
 * The timers of a section, decoded one at a time (they were checked when the file was read;
 * a failure here would be a bug, and is reported as corruption of the file all the same).
 */
export function* decodeSectionTimers(
  timers: RawSectionTimers,
): Generator<TimerSnapshotEntry, void, undefined> {
  const input = new BinaryReader(timers.bytes);
  for (let i = 0; i < timers.count; i++) {
    yield readingFile(timers.path, () => readTimer(input, timers.keyGroup, timers.maxParallelism));
  }
}

/** Every timer of `sections`, decoded, in section order. */
export function decodeAllTimers(sections: readonly (RawSectionTimers | undefined)[]): TimerSnapshotEntry[] {
  const timers: TimerSnapshotEntry[] = [];
  for (const section of sections) {
    if (section !== undefined) for (const timer of decodeSectionTimers(section)) timers.push(timer);
  }
  return timers;
}

function readStateMeta(input: BinaryReader): KeyedStateMeta {
  const name = input.readString('state name');
  if (name.length === 0 || name.length > STATE_NAME_CHARS_MAX)
    throw new RangeError(`state name of ${name.length} characters`);
  const kindCode = input.readU8('state kind');
  const kind = KINDS[kindCode];
  if (kind === undefined) throw new RangeError(`state '${name}' has unknown kind code ${kindCode}`);
  const flags = input.readU8('state flags');
  if ((flags & ~FLAG_TTL) !== 0) throw new RangeError(`state '${name}' has unknown flags ${flags}`);
  return {
    name,
    kind,
    hasTtl: (flags & FLAG_TTL) !== 0,
    keySerializer: readSerializerRef(input, 'key'),
    namespaceSerializer: readSerializerRef(input, 'namespace'),
    valueSerializer: readSerializerRef(input, 'value'),
    mapKeySerializer: kind === 'map' ? readSerializerRef(input, 'map key') : undefined,
  };
}

function readEntries(
  input: BinaryReader,
  meta: KeyedStateMeta,
  keyGroup: number,
  path: string,
): RawKeyedStateChunk {
  const { name } = meta;
  // Every entry takes at least two bytes (key and namespace), which bounds the count.
  const entryCount = readCount(input, 'entry count', 0);
  const length = input.readVarint('entries length');
  if (entryCount === 0 || entryCount > length / 2) {
    throw new RangeError(`state '${name}' claims ${entryCount} entries in ${length} bytes`);
  }
  const entries = input.readRawBytes(length, `entries of state '${name}'`);
  return { meta, keyGroup, entryCount, bytes: entries, path };
}

function readTimer(input: BinaryReader, keyGroup: number, maxParallelism: number): TimerSnapshotEntry {
  const service = input.readString('timer service');
  if (service.length > TIMER_SERVICE_CHARS_MAX)
    throw new RangeError(`timer service name of ${service.length} characters`);
  const domainCode = input.readU8('timer domain');
  if (domainCode > 1) throw new RangeError(`unknown timer domain ${domainCode}`);
  const key = valueSerializer.deserialize(input);
  const namespace = valueSerializer.deserialize(input);
  if (typeof namespace !== 'string' && typeof namespace !== 'number') {
    throw new RangeError(`timer namespace is a ${typeof namespace}`);
  }
  const timestampMs = input.readFloat64('timer timestamp');
  if (assignToKeyGroup(key, maxParallelism) !== keyGroup) {
    throw new RangeError(`a timer's key does not belong to key group ${keyGroup}`);
  }
  return {
    service,
    domain: domainCode === 0 ? 'event' : 'processing',
    key,
    keyGroup,
    namespace,
    timestampMs,
  };
}

/** A count read from the input; each counted item takes at least `bytesEachMin` bytes (0: no bound here). */
function readCount(input: BinaryReader, what: string, bytesEachMin: number): number {
  const count = input.readVarint(what);
  if (bytesEachMin > 0 && count > input.remaining / bytesEachMin) {
    throw new RangeError(`${what} ${count} cannot fit in the ${input.remaining} bytes left`);
  }
  return count;
}
