/** The keyed changelog file (`WEIRKCHG`): a base or a delta of puts and deletes per key group, folded into canonical sections on restore. */
import { BinaryReader, BinaryWriter, crc32c } from '../../core/binary.ts';
import type { KeyGroupRange } from '../key-group-range.ts';
import { keyGroupRangeContains, keyGroupRangeSize, MAX_PARALLELISM_LIMIT } from '../key-groups.ts';
import type { ChunkedInput } from './chunked-input.ts';
import {
  checkHeaderChecksum,
  checkPreamble,
  checkTrailer,
  FILE_PREAMBLE_BYTES,
  FILE_TRAILER_BYTES,
  magicBytes,
  readingFile,
  writePreamble,
} from './file-framing.ts';
import {
  groupTimersByKeyGroup,
  type KeyedStateFileContents,
  type KeyedStateMeta,
  type KeyGroupSection,
  type RawKeyedStateChunk,
  type RawSectionTimers,
  readSectionEnd,
  readSectionStates,
  readTimerList,
  type SliceOptions,
  STATE_FILE_PART_BYTES,
  type StateFilePartSink,
  sectionTimerEncodings,
  sectionTimers,
  writeSectionEnd,
  writeStateMeta,
} from './keyed-state-format.ts';
import { CorruptSnapshotError } from './snapshot-errors.ts';
import type { TimerSnapshotEntry } from './timer-snapshot.ts';

/*
 * Layout (fixed-width numbers little-endian; "bytes" = varint length + bytes):
 *
 *   file    := "WEIRKCHG" u16:version header section* u32:crc32c(everything before)
 *   header  := u32:maxParallelism u32:firstKeyGroup u32:keyGroupCount
 *              u8:flags(bit 0 = base, bit 1 = timer deltas; version 2) u32:crc32c(file[0, 23))
 *   section := varint:keyGroup (u8:1 state)* u8:0 timers u32:crc32c(section)
 *   timers  := varint:timerCount timer*                             every timer of the key group
 *            | varint:removedCount timer* varint:addedCount timer*  with the timer-deltas flag
 *   state   := string:name u8:kind u8:flags(bit 0 = TTL) ref:key ref:namespace ref:value
 *              [ref:mapKey] varint:recordCount record*
 *   record  := u8:0 bytes:keyAndNamespace                           delete
 *            | u8:1 bytes:keyAndNamespace bytes:payload             put
 *            | u8:2 varint:entryCount bytes:entries                 raw canonical chunk
 *   timer   := as in WEIRKEYD
 *
 * Unlike WEIRKEYD, entries are length-delimited, so a chain (a base, then deltas) can be
 * folded into the canonical entries without knowing the state's serializers. A raw chunk is
 * a restored state the operator had not registered yet; it replaces the state's entries in
 * its key group, and no later record of the same state may follow it in a chain (the disk
 * backend writes a new base once such a state is registered).
 *
 * Timers: a file without the timer-deltas flag holds every timer (a base always; a delta of
 * a backend whose timers live on the heap, which knows no changes); one with it holds the
 * timers removed and added since the previous file (a delta of a backend that keeps timers
 * in its store, whose changed keys it tracks like the state's). A timer is its encoded
 * bytes, so a restore folds them like entries: the newest full list, then every later delta.
 * Version 1 files never have the flag.
 */

const MAGIC = magicBytes('WEIRKCHG');
/** The version this code writes. */
export const KEYED_CHANGELOG_FORMAT_VERSION = 2;
const READABLE_VERSIONS: readonly number[] = [1, 2];
const FILE_KIND = 'keyed changelog';
const HEADER_BYTES = FILE_PREAMBLE_BYTES + 17;
/** Preamble, header fields and header checksum: what a ranged read needs besides its sections. */
export const KEYED_CHANGELOG_HEADER_BYTES = HEADER_BYTES;
const FLAG_BASE = 1;
const FLAG_TIMER_DELTAS = 2;
const OP_DELETE = 0;
const OP_PUT = 1;
const OP_RAW = 2;

/** Writes one state's records in one section (see {@link KeyedChangelogSource}). */
export class ChangelogSectionWriter {
  readonly #out: BinaryWriter;
  readonly #records = new BinaryWriter(4096);
  #meta: KeyedStateMeta | undefined;
  #count = 0;
  #names = new Set<string>();

  constructor(out: BinaryWriter) {
    this.#out = out;
  }

  beginState(meta: KeyedStateMeta): void {
    if (this.#meta !== undefined) throw new Error(`state '${this.#meta.name}' was begun and not ended`);
    if (this.#names.has(meta.name)) throw new Error(`state '${meta.name}' written twice in one key group`);
    this.#names.add(meta.name);
    this.#meta = meta;
    this.#count = 0;
    this.#records.reset();
  }

  /** `keyAndNamespace` as the canonical entry key; `payload` as a WEIRKEYD entry's payload. */
  put(keyAndNamespace: Uint8Array, payload: Uint8Array): void {
    this.#records.writeU8(OP_PUT);
    this.#records.writeBytes(keyAndNamespace);
    this.#records.writeBytes(payload);
    this.#count++;
  }

  remove(keyAndNamespace: Uint8Array): void {
    this.#records.writeU8(OP_DELETE);
    this.#records.writeBytes(keyAndNamespace);
    this.#count++;
  }

  /** A restored, still undecoded canonical chunk of this state (bases only). */
  raw(chunk: RawKeyedStateChunk): void {
    this.#records.writeU8(OP_RAW);
    this.#records.writeVarint(chunk.entryCount);
    this.#records.writeBytes(chunk.bytes);
    this.#count++;
  }

  endState(): void {
    const meta = this.#meta;
    if (meta === undefined) throw new Error('endState without beginState');
    this.#meta = undefined;
    if (this.#count === 0) return;
    const out = this.#out;
    writeStateMeta(out, meta);
    out.writeVarint(this.#count);
    out.writeRawBytes(this.#records.view());
  }

  /** Called between sections. */
  reset(): void {
    this.#meta = undefined;
    this.#names = new Set();
  }
}

/** What a backend hands the changelog writer: one key group at a time, read from its snapshot view. */
export interface KeyedChangelogSource {
  readonly keyGroupRange: KeyGroupRange;
  readonly maxParallelism: number;
  /** A base holds every entry; a delta only what changed since the previous file of its chain. */
  readonly isBase: boolean;
  writeKeyGroup(keyGroup: number, out: ChangelogSectionWriter): void;
  /**
   * Optional: the timers of `keyGroup` the backend keeps itself, as of the view: all of them,
   * or with `timerDeltas` those added since the previous file of the chain.
   */
  timersOf?(keyGroup: number): readonly TimerSnapshotEntry[];
  /**
   * A delta whose timers are changes too: `timersOf` gives the added ones and
   * `removedTimersOf` the removed ones, and no timers may be handed in besides.
   */
  readonly timerDeltas?: boolean;
  removedTimersOf?(keyGroup: number): readonly TimerSnapshotEntry[];
}

/**
 * Serializes a changelog file a few key groups at a time, awaiting `yieldToLoop` between
 * slices so processing continues meanwhile. Timers must lie in the source's range.
 *
 * @example
 * ```ts
 * const bytes = await writeKeyedChangelogInSlices(source, timers);
 * const handle = await location.writeSharedFile(name, bytes);
 * ```
 */
export async function writeKeyedChangelogInSlices(
  source: KeyedChangelogSource,
  timers: readonly TimerSnapshotEntry[] = [],
  options: SliceOptions = {},
): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  await writeChangelog(source, timers, options, Number.POSITIVE_INFINITY, (part) => {
    parts.push(part.slice());
  });
  if (parts.length !== 1) throw new Error(`a changelog written whole came in ${parts.length} parts`);
  return parts[0];
}

/**
 * `writeKeyedChangelogInSlices` into `sink`, in parts of about `partBytes` (whole sections),
 * so a base of a large state is never whole in memory. Returns the file's size and the
 * offset of each key group's section (the last: where the trailer starts).
 *
 * @example
 * ```ts
 * const file = await location.openSharedFile(name);
 * await writeKeyedChangelogInParts(file, source, timers);
 * const handle = await file.close();
 * ```
 */
export async function writeKeyedChangelogInParts(
  sink: StateFilePartSink,
  source: KeyedChangelogSource,
  timers: readonly TimerSnapshotEntry[] = [],
  options: SliceOptions & { readonly partBytes?: number } = {},
): Promise<{ readonly sizeBytes: number; readonly keyGroupOffsets: readonly number[] }> {
  return writeChangelog(source, timers, options, options.partBytes ?? STATE_FILE_PART_BYTES, (part) =>
    sink.write(part),
  );
}

/** Writes the file section by section, handing `emit` a part whenever `partBytes` are buffered, and the rest at the end; returns the size and section offsets. */
async function writeChangelog(
  source: KeyedChangelogSource,
  timers: readonly TimerSnapshotEntry[],
  options: SliceOptions,
  partBytes: number,
  emit: (part: Uint8Array) => void | Promise<void>,
): Promise<{ readonly sizeBytes: number; readonly keyGroupOffsets: readonly number[] }> {
  const yieldToLoop = options.yieldToLoop ?? (() => new Promise<void>((resolve) => setImmediate(resolve)));
  const perSlice = Math.max(1, options.keyGroupsPerSlice ?? 8);
  const { keyGroupRange: range, maxParallelism } = source;
  const timerDeltas = source.timerDeltas === true;
  if (timerDeltas && (source.isBase || timers.length > 0)) {
    throw new Error('timer deltas are for a delta whose backend keeps every timer itself (a bug)');
  }
  const timersByGroup = groupTimersByKeyGroup(timers, range, maxParallelism);
  const out = new BinaryWriter(64 * 1024);
  let taken = 0;
  let takenCrc = 0;
  // Each part is a view of `out`'s buffer, reused once `emit` has settled.
  const take = async (): Promise<void> => {
    const part = out.view();
    takenCrc = crc32c(part, 0, part.length, takenCrc);
    taken += part.length;
    await emit(part);
    out.reset();
  };
  writePreamble(out, MAGIC, KEYED_CHANGELOG_FORMAT_VERSION);
  out.writeU32(maxParallelism);
  out.writeU32(range.start);
  out.writeU32(keyGroupRangeSize(range));
  out.writeU8((source.isBase ? FLAG_BASE : 0) | (timerDeltas ? FLAG_TIMER_DELTAS : 0));
  out.writeU32(crc32c(out.view()));
  const sections = new ChangelogSectionWriter(out);
  const keyGroupOffsets: number[] = [];
  for (let keyGroup = range.start; keyGroup <= range.end; keyGroup++) {
    const start = out.length;
    keyGroupOffsets.push(taken + start);
    out.writeVarint(keyGroup);
    sections.reset();
    source.writeKeyGroup(keyGroup, sections);
    writeSectionEnd(
      out,
      start,
      sectionTimers(timersByGroup.get(keyGroup), source.timersOf?.(keyGroup)),
      timerDeltas ? (source.removedTimersOf?.(keyGroup) ?? []) : undefined,
    );
    if (out.length >= partBytes) await take();
    else if ((keyGroup - range.start + 1) % perSlice === 0 && keyGroup < range.end) await yieldToLoop();
  }
  keyGroupOffsets.push(taken + out.length);
  out.writeU32(crc32c(out.view(), 0, out.length, takenCrc));
  await take();
  return { sizeBytes: taken, keyGroupOffsets };
}

/**
 * One state's records in one section, as read: checked for structure, but kept as bytes and
 * parsed only when its section is folded, so reading a file allocates per state and key
 * group, not per entry (a chain of a million-entry base would otherwise need several times
 * its size in heap objects at once).
 */
interface ChangelogStateRecords {
  readonly meta: KeyedStateMeta;
  readonly count: number;
  readonly records: Uint8Array;
}

interface ChangelogSection {
  readonly keyGroup: number;
  readonly states: readonly ChangelogStateRecords[];
  /** Every timer, or with the file's timer deltas the added ones. */
  readonly timers: RawSectionTimers | undefined;
  /** With the file's timer deltas: the removed timers. */
  readonly removedTimers: RawSectionTimers | undefined;
}

/** A changelog file's header fields. */
export interface KeyedChangelogHeader {
  readonly path: string;
  readonly maxParallelism: number;
  readonly keyGroupRange: KeyGroupRange;
  readonly isBase: boolean;
  /** Sections hold timer changes, not every timer. */
  readonly timerDeltas: boolean;
}

/** A changelog file as read: header fields and its sections (all of them, in key-group order). */
export interface KeyedChangelogFile extends KeyedChangelogHeader {
  readonly sections: readonly ChangelogSection[];
}

/** A changelog file read as a stream: header fields, then its sections one at a time. */
export interface KeyedChangelogStream extends KeyedChangelogHeader {
  /** Where the sections come from, starting with `firstKeyGroup`'s. */
  readonly input: ChunkedInput;
  readonly firstKeyGroup: number;
  /** The offset in `input` where the sections end. */
  readonly limit: number;
}

/**
 * Reads and verifies a whole changelog file (magic, version, header, section and trailer
 * checksums). Damage throws CorruptSnapshotError naming `path`.
 */
export function readKeyedChangelog(bytes: Uint8Array, path: string): KeyedChangelogFile {
  checkTrailer(bytes, path, FILE_KIND);
  const header = readChangelogHeader(bytes, path);
  return readingFile(path, () => {
    const input = new BinaryReader(bytes, HEADER_BYTES, bytes.length - FILE_TRAILER_BYTES);
    const { maxParallelism, keyGroupRange, timerDeltas } = header;
    const sections: ChangelogSection[] = [];
    for (let keyGroup = keyGroupRange.start; keyGroup <= keyGroupRange.end; keyGroup++) {
      sections.push(readSection(bytes, input, keyGroup, maxParallelism, path, timerDeltas));
    }
    if (!input.isAtEnd())
      throw new CorruptSnapshotError(path, `${input.remaining} bytes after the last section`);
    return { ...header, sections };
  });
}

/**
 * Opens a changelog file read as a stream: checks magic, version and header now; its
 * sections come from `nextChangelogSection`, each checked as it is read. The whole-file
 * checksum is the storage's to check (`CheckpointStorage.readFileChunks`). With `from`,
 * `input` is the header only (KEYED_CHANGELOG_HEADER_BYTES) and `from.sections` the file's
 * bytes from the section of `from.keyGroup` on (a ranged read at its `keyGroupOffsets`).
 */
export async function openKeyedChangelog(
  input: ChunkedInput,
  from?: { readonly sections: ChunkedInput; readonly keyGroup: number },
): Promise<KeyedChangelogStream> {
  try {
    const header = readChangelogHeader(await input.take(HEADER_BYTES), input.path);
    if (from === undefined) {
      const limit = input.sizeBytes - FILE_TRAILER_BYTES;
      return { ...header, input, firstKeyGroup: header.keyGroupRange.start, limit };
    }
    await input.close();
    if (!keyGroupRangeContains(header.keyGroupRange, from.keyGroup)) {
      const { start, end } = header.keyGroupRange;
      throw new CorruptSnapshotError(
        input.path,
        `key group ${from.keyGroup} is outside the file's [${start}, ${end}]`,
      );
    }
    return { ...header, input: from.sections, firstKeyGroup: from.keyGroup, limit: from.sections.sizeBytes };
  } catch (error) {
    await Promise.all([input.close(), from?.sections.close()]);
    throw error;
  }
}

/** The next section of `file`, which must be of `keyGroup`. */
export async function nextChangelogSection(
  file: KeyedChangelogStream,
  keyGroup: number,
): Promise<ChangelogSection> {
  const { input, path, maxParallelism, timerDeltas, limit } = file;
  if (input.position >= limit)
    throw new CorruptSnapshotError(path, `sections end before key group ${keyGroup}`);
  return input.parse(limit, (bytes, offset) =>
    readingFile(path, () => {
      const reader = new BinaryReader(bytes, offset);
      const value = readSection(bytes, reader, keyGroup, maxParallelism, path, timerDeltas);
      return { value, end: reader.position };
    }),
  );
}

/** Magic, version and header (the first HEADER_BYTES of `bytes`), checked. */
function readChangelogHeader(bytes: Uint8Array, path: string): KeyedChangelogHeader {
  const version = checkPreamble(bytes, path, FILE_KIND, MAGIC, READABLE_VERSIONS);
  if (bytes.length < HEADER_BYTES) {
    throw new CorruptSnapshotError(path, `truncated: ${bytes.length} bytes cannot hold the header`);
  }
  return readingFile(path, () => {
    const input = new BinaryReader(bytes, FILE_PREAMBLE_BYTES, HEADER_BYTES);
    const maxParallelism = input.readU32();
    const start = input.readU32();
    const count = input.readU32();
    const flags = input.readU8();
    checkHeaderChecksum(bytes, HEADER_BYTES, input.readU32(), path);
    const knownFlags = version === 1 ? FLAG_BASE : FLAG_BASE | FLAG_TIMER_DELTAS;
    if ((flags & ~knownFlags) !== 0) {
      throw new CorruptSnapshotError(path, `unknown header flags ${flags} in a version ${version} file`);
    }
    const isBase = (flags & FLAG_BASE) !== 0;
    const timerDeltas = (flags & FLAG_TIMER_DELTAS) !== 0;
    if (isBase && timerDeltas) throw new CorruptSnapshotError(path, 'a base that holds timer deltas');
    if (maxParallelism < 1 || maxParallelism > MAX_PARALLELISM_LIMIT || start + count > maxParallelism) {
      throw new CorruptSnapshotError(path, `header describes impossible key groups [${start}, +${count})`);
    }
    return { path, maxParallelism, keyGroupRange: { start, end: start + count - 1 }, isBase, timerDeltas };
  });
}

function readSection(
  bytes: Uint8Array,
  input: BinaryReader,
  expectedKeyGroup: number,
  maxParallelism: number,
  path: string,
  timerDeltas: boolean,
): ChangelogSection {
  const start = input.position;
  const keyGroup = input.readVarint('key group');
  if (keyGroup !== expectedKeyGroup) {
    throw new CorruptSnapshotError(
      path,
      `section of key group ${keyGroup} where ${expectedKeyGroup} belongs`,
    );
  }
  const states = readSectionStates(input, (meta) => readRecords(bytes, input, meta));
  const removedTimers = timerDeltas ? readTimerList(bytes, input, keyGroup, maxParallelism, path) : undefined;
  const timers = readSectionEnd(bytes, input, start, keyGroup, maxParallelism, path);
  return { keyGroup, states, timers, removedTimers };
}

function readRecords(bytes: Uint8Array, input: BinaryReader, meta: KeyedStateMeta): ChangelogStateRecords {
  const { name } = meta;
  const count = input.readVarint('record count');
  if (count > input.remaining / 2) throw new RangeError(`state '${name}' claims ${count} records`);
  const start = input.position;
  for (let i = 0; i < count; i++) {
    const op = input.readU8('record op');
    if (op === OP_PUT) {
      input.skip(input.readVarint('key length'), 'key');
      input.skip(input.readVarint('payload length'), 'payload');
    } else if (op === OP_DELETE) {
      input.skip(input.readVarint('key length'), 'key');
    } else if (op === OP_RAW) {
      input.readVarint('entry count');
      input.skip(input.readVarint('entries length'), 'entries');
    } else {
      throw new RangeError(`state '${name}' has a record with unknown op ${op}`);
    }
  }
  return { meta, count, records: bytes.subarray(start, input.position) };
}

/** The folded entries of one state in one key group. */
interface FoldedState {
  meta: KeyedStateMeta;
  /** By the key-and-namespace bytes as a latin1 string (whose order is the bytes' order). */
  entries: Map<string, { readonly key: Uint8Array; readonly payload: Uint8Array } | null> | undefined;
  raw: { readonly entryCount: number; readonly entries: Uint8Array } | undefined;
}

/**
 * Folds a chain (a base, then deltas in checkpoint order) into the canonical key-group
 * sections of the key groups in `wanted`, exactly what `readKeyedStateFile` returns for a
 * full snapshot of the same state, so every backend restores it unchanged. Checks the
 * chain: it starts with a base, every file has the same range and max parallelism, and only
 * the first is a base.
 *
 * @example
 * ```ts
 * const files = await Promise.all(handle.files.map(async (f) => readKeyedChangelog(await read(f), f.relativePath)));
 * backend.restore([materializeKeyedChangelog(files, backend.keyGroupRange)]);
 * ```
 */
export function materializeKeyedChangelog(
  chain: readonly KeyedChangelogFile[],
  wanted: KeyGroupRange,
): KeyedStateFileContents {
  checkChain(chain);
  const [first] = chain;
  const sections: KeyGroupSection[] = [];
  for (let s = 0; s < first.sections.length; s++) {
    if (!keyGroupRangeContains(wanted, first.sections[s].keyGroup)) continue;
    sections.push(
      foldSections(
        chain,
        chain.map((file) => file.sections[s]),
      ),
    );
  }
  return {
    path: chain[chain.length - 1].path,
    maxParallelism: first.maxParallelism,
    fileKeyGroupRange: first.keyGroupRange,
    sections,
  };
}

/**
 * `materializeKeyedChangelog` over files read as streams, one key group at a time: holds a
 * section of each file of the chain, not the files. Closes the streams when done, early or
 * not.
 */
export async function* foldKeyedChangelogStreams(
  chain: readonly KeyedChangelogStream[],
  wanted: KeyGroupRange,
): AsyncGenerator<KeyGroupSection, void, undefined> {
  try {
    checkChain(chain);
    const range = chain[0].keyGroupRange;
    const first = chain[0].firstKeyGroup;
    const skipped = chain.find((file) => file.firstKeyGroup !== first);
    if (skipped !== undefined) {
      throw new Error(
        `the chain's streams start at key groups ${first} and ${skipped.firstKeyGroup} (a bug)`,
      );
    }
    const last = Math.min(range.end, wanted.end);
    for (let keyGroup = first; keyGroup <= last; keyGroup++) {
      const sections: ChangelogSection[] = [];
      for (const file of chain) sections.push(await nextChangelogSection(file, keyGroup));
      if (keyGroupRangeContains(wanted, keyGroup)) yield foldSections(chain, sections);
    }
  } finally {
    await Promise.all(chain.map((file) => file.input.close()));
  }
}

/** Checks a chain: it starts with a base, every file has the same range and max parallelism, and only the first is a base. */
function checkChain(chain: readonly KeyedChangelogHeader[]): void {
  if (chain.length === 0) throw new Error('an incremental keyed state chain needs at least its base');
  const [first] = chain;
  chain.forEach((file, i) => {
    if (file.isBase !== (i === 0)) {
      throw new CorruptSnapshotError(
        file.path,
        i === 0 ? 'the chain does not start with a base' : 'a base in the middle of a chain',
      );
    }
    const { start, end } = file.keyGroupRange;
    if (
      file.maxParallelism !== first.maxParallelism ||
      start !== first.keyGroupRange.start ||
      end !== first.keyGroupRange.end
    ) {
      throw new CorruptSnapshotError(
        file.path,
        `key groups [${start}, ${end}] do not match the chain's base ${first.path}`,
      );
    }
  });
}

/** One key group of a chain, folded: `sections[i]` is file i's section of it. */
function foldSections(
  chain: readonly KeyedChangelogHeader[],
  sections: readonly ChangelogSection[],
): KeyGroupSection {
  const last = chain[chain.length - 1];
  const { keyGroup } = sections[0];
  const folded = new Map<string, FoldedState>();
  sections.forEach((section, i) => {
    foldSection(folded, section.states, chain[i].path);
  });
  const states: RawKeyedStateChunk[] = [];
  for (const state of folded.values()) {
    const chunk = toChunk(state, keyGroup, last.path);
    if (chunk !== undefined) states.push(chunk);
  }
  return { keyGroup, states, timers: foldTimers(chain, sections) };
}

/** A key group's timers after the chain: the newest full list, changed by every later delta. */
function foldTimers(
  chain: readonly KeyedChangelogHeader[],
  sections: readonly ChangelogSection[],
): RawSectionTimers | undefined {
  let full = chain.length - 1;
  while (chain[full].timerDeltas) full--;
  const base = sections[full].timers;
  if (full === chain.length - 1) return base;
  // By the encoded timer as a latin1 string: a timer is its bytes (key and namespace through the default serializer).
  const timers = new Map<string, Uint8Array>();
  const idOf = (timer: Uint8Array): string =>
    Buffer.from(timer.buffer, timer.byteOffset, timer.byteLength).toString('latin1');
  if (base !== undefined) for (const timer of sectionTimerEncodings(base)) timers.set(idOf(timer), timer);
  for (let i = full + 1; i < chain.length; i++) {
    const { timers: added, removedTimers: removed } = sections[i];
    if (removed !== undefined) for (const timer of sectionTimerEncodings(removed)) timers.delete(idOf(timer));
    if (added !== undefined) for (const timer of sectionTimerEncodings(added)) timers.set(idOf(timer), timer);
  }
  if (timers.size === 0) return undefined;
  const out = new BinaryWriter(4096);
  for (const timer of timers.values()) out.writeRawBytes(timer);
  const last = chain[chain.length - 1];
  return {
    keyGroup: sections[0].keyGroup,
    count: timers.size,
    bytes: out.finish(),
    maxParallelism: last.maxParallelism,
    path: last.path,
  };
}

function foldSection(
  folded: Map<string, FoldedState>,
  states: readonly ChangelogStateRecords[],
  path: string,
): void {
  for (const { meta, count, records } of states) {
    let state = folded.get(meta.name);
    if (state === undefined) folded.set(meta.name, (state = { meta, entries: undefined, raw: undefined }));
    state.meta = meta;
    // Checked when the file was read: every record is whole and its op known.
    const input = new BinaryReader(records);
    for (let i = 0; i < count; i++) {
      const op = input.readU8();
      if (op === OP_RAW) {
        const entryCount = input.readVarint();
        state.raw = { entryCount, entries: input.readRawBytes(input.readVarint()) };
        state.entries = undefined;
        continue;
      }
      if (state.raw !== undefined) {
        throw new CorruptSnapshotError(path, `state '${meta.name}' has changes after a raw restored chunk`);
      }
      state.entries ??= new Map();
      const key = input.readRawBytes(input.readVarint());
      const id = Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1');
      state.entries.set(id, op === OP_PUT ? { key, payload: input.readRawBytes(input.readVarint()) } : null);
    }
  }
}

function toChunk(state: FoldedState, keyGroup: number, path: string): RawKeyedStateChunk | undefined {
  if (state.raw !== undefined) {
    return { meta: state.meta, keyGroup, entryCount: state.raw.entryCount, bytes: state.raw.entries, path };
  }
  if (state.entries === undefined) return undefined;
  const ids = [...state.entries.keys()].filter((id) => state.entries!.get(id) !== null).sort();
  if (ids.length === 0) return undefined;
  const out = new BinaryWriter(4096);
  for (const id of ids) {
    const entry = state.entries.get(id)!;
    out.writeRawBytes(entry.key);
    out.writeRawBytes(entry.payload);
  }
  return { meta: state.meta, keyGroup, entryCount: ids.length, bytes: out.finish(), path };
}

/** A file in checkpoint storage as the state layer sees it (structurally a checkpoint `StateFileHandle`). */
export interface SharedFileRef {
  readonly relativePath: string;
  readonly sizeBytes: number;
  readonly crc32c: number;
  /** Offset of each key group's section, the last where the trailer starts (see `writeKeyedChangelogInParts`). */
  readonly keyGroupOffsets?: readonly number[];
}

/**
 * The synchronous part of an incremental checkpoint of a keyed backend
 * (`KeyedStateBackend.snapshotIncremental`): a changelog source to serialize (a base, or a
 * delta against `reusedFiles`), then `written` with the new file once it is durable, then
 * `release`. The checkpoint's handle is `reusedFiles` followed by the new file.
 */
export interface IncrementalKeyedStateSnapshot extends KeyedChangelogSource {
  readonly checkpointId: number;
  /** The chain this checkpoint extends: empty for a base. */
  readonly reusedFiles: readonly SharedFileRef[];
  /** The new file is durable; the backend may build on this chain once the checkpoint completes. */
  written(file: SharedFileRef): void;
  /** Ends the view; idempotent. */
  release(): void;
}
