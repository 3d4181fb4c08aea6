/**
 * Keyed state read as a stream (what a restore does): whatever the chunk sizes, streaming a
 * keyed state file or folding an incremental chain yields exactly the sections reading the
 * whole bytes does, and damage is reported by path.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.ts';
import { HeapKeyedStateBackend } from '../../src/state/backends/heap/index.ts';
import { assignToKeyGroup } from '../../src/state/key-groups.ts';
import { ChunkedInput } from '../../src/state/snapshot/chunked-input.ts';
import {
  foldKeyedChangelogStreams,
  KEYED_CHANGELOG_HEADER_BYTES,
  type KeyedChangelogSource,
  materializeKeyedChangelog,
  openKeyedChangelog,
  readKeyedChangelog,
  writeKeyedChangelogInParts,
} from '../../src/state/snapshot/keyed-changelog-format.ts';
import {
  KEYED_STATE_HEADER_BYTES,
  type KeyedStateFile,
  type KeyGroupSection,
  readKeyedStateFile,
  streamKeyedStateSections,
  writeKeyedStateFile,
} from '../../src/state/snapshot/keyed-state-format.ts';
import { CorruptSnapshotError } from '../../src/state/snapshot/snapshot-errors.ts';
import type { TimerSnapshotEntry } from '../../src/state/snapshot/timer-snapshot.ts';
import { listState, valueState } from '../../src/state/state-descriptors-factory.ts';

const MAX_PARALLELISM = 16;
const RANGE = { start: 0, end: MAX_PARALLELISM - 1 };

/** `bytes` in chunks of the given sizes, cycled; each chunk reuses one buffer, as files are read. */
async function* chunksOf(bytes: Uint8Array, sizes: readonly number[]): AsyncGenerator<Uint8Array> {
  const buffer = new Uint8Array(Math.max(...sizes));
  for (let offset = 0, i = 0; offset < bytes.length; i++) {
    const size = Math.min(sizes[i % sizes.length], bytes.length - offset);
    buffer.set(bytes.subarray(offset, offset + size));
    yield buffer.subarray(0, size);
    offset += size;
  }
}

async function collect(sections: AsyncIterable<KeyGroupSection>): Promise<KeyGroupSection[]> {
  const all: KeyGroupSection[] = [];
  for await (const section of sections) all.push(section);
  return all;
}

/** Sections as comparable values: bytes copied out of whatever buffer they view. */
function plain(sections: readonly KeyGroupSection[]): unknown[] {
  return sections.map(({ keyGroup, states, timers }) => ({
    keyGroup,
    states: states.map(({ meta, entryCount, bytes }) => ({ meta, entryCount, bytes: [...bytes] })),
    timers: timers === undefined ? undefined : { count: timers.count, bytes: [...timers.bytes] },
  }));
}

function sampleFile(keys: number): Uint8Array {
  return sampleFileWithOffsets(keys).bytes;
}

function sampleFileWithOffsets(keys: number): KeyedStateFile {
  const backend = new HeapKeyedStateBackend({
    operatorId: 'stream-test',
    keyGroupRange: RANGE,
    maxParallelism: MAX_PARALLELISM,
    clock: new ManualClock(0),
  });
  const value = backend.getValueState(valueState<number>('value'));
  const list = backend.getListState(listState<string>('list'));
  const timers: TimerSnapshotEntry[] = [];
  for (let i = 0; i < keys; i++) {
    const key = `key-${i}`;
    const keyGroup = assignToKeyGroup(key, MAX_PARALLELISM);
    backend.setCurrentKey(key, keyGroup);
    value.update(i);
    list.add('x'.repeat(i % 50));
    if (i % 3 === 0)
      timers.push({ service: 't', domain: 'event', key, keyGroup, namespace: 0, timestampMs: i });
  }
  const snapshot = backend.snapshot();
  const file = writeKeyedStateFile(snapshot, timers);
  snapshot.release();
  return file;
}

const chunkSizes = fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 4 });
const wantedRange = fc
  .tuple(fc.integer({ min: 0, max: MAX_PARALLELISM - 1 }), fc.integer({ min: 0, max: MAX_PARALLELISM - 1 }))
  .map(([a, b]) => ({ start: Math.min(a, b), end: Math.max(a, b) }));

describe('keyed state read as a stream', () => {
  const file = sampleFile(300);

  it('yields the sections reading the whole file does, for any chunk sizes and wanted key groups', async () => {
    await fc.assert(
      fc.asyncProperty(chunkSizes, wantedRange, async (sizes, wanted) => {
        const input = new ChunkedInput(chunksOf(file, sizes), 'chk-1/op.keyed', file.length);
        const streamed = await collect(
          streamKeyedStateSections(input, wanted, { maxParallelism: MAX_PARALLELISM, range: RANGE }),
        );
        expect(plain(streamed)).toEqual(plain(readKeyedStateFile(file, 'whole', wanted).sections));
      }),
      { numRuns: 100 },
    );
  });

  it('from a ranged read (the header, then the wanted sections by their offsets) yields the same sections', async () => {
    const snapshotFile = sampleFileWithOffsets(300);
    const { bytes, keyGroupOffsets } = snapshotFile;
    await fc.assert(
      fc.asyncProperty(chunkSizes, wantedRange, async (sizes, wanted) => {
        const start = keyGroupOffsets[wanted.start];
        const end = keyGroupOffsets[wanted.end + 1];
        const header = new ChunkedInput(
          chunksOf(bytes.subarray(0, KEYED_STATE_HEADER_BYTES), sizes),
          'f',
          KEYED_STATE_HEADER_BYTES,
        );
        const sections = new ChunkedInput(chunksOf(bytes.subarray(start, end), sizes), 'f', end - start);
        const streamed = await collect(
          streamKeyedStateSections(
            header,
            wanted,
            { maxParallelism: MAX_PARALLELISM, range: RANGE },
            sections,
          ),
        );
        expect(plain(streamed)).toEqual(plain(readKeyedStateFile(bytes, 'whole', wanted).sections));
      }),
      { numRuns: 100 },
    );
  });

  it('reads ahead of the section it yields by at most the least it pulls (64 KiB) plus a chunk', async () => {
    const large = sampleFile(6_000);
    let pulled = 0;
    async function* counted(): AsyncGenerator<Uint8Array> {
      for await (const chunk of chunksOf(large, [1_000])) {
        pulled += chunk.length;
        yield chunk;
      }
    }
    const input = new ChunkedInput(counted(), 'big.keyed', large.length);
    let aheadMax = 0;
    let sections = 0;
    for await (const _ of streamKeyedStateSections(input, RANGE, {
      maxParallelism: MAX_PARALLELISM,
      range: RANGE,
    })) {
      aheadMax = Math.max(aheadMax, pulled - input.position);
      sections++;
    }
    expect(sections).toBe(MAX_PARALLELISM);
    expect(large.length).toBeGreaterThan(4 * 65_536);
    expect(aheadMax).toBeLessThanOrEqual(65_536 + 1_000);
  });

  it('reports a damaged section, a truncated file and a header unlike the metadata by path', async () => {
    const stream = (bytes: Uint8Array, range = RANGE) =>
      collect(
        streamKeyedStateSections(
          new ChunkedInput(chunksOf(bytes, [100]), 'chk-1/op.keyed', file.length),
          RANGE,
          {
            maxParallelism: MAX_PARALLELISM,
            range,
          },
        ),
      );
    const damaged = file.slice();
    damaged[Math.floor(file.length / 2)] ^= 0x20;
    await expect(stream(damaged)).rejects.toThrow(CorruptSnapshotError);
    await expect(stream(damaged)).rejects.toThrow(/chk-1\/op\.keyed/);
    await expect(stream(file.subarray(0, file.length - 300))).rejects.toThrow(/chk-1\/op\.keyed/);
    await expect(stream(file, { start: 0, end: 7 })).rejects.toThrow(
      /chk-1\/op\.keyed: header says key groups \[0, 15\]/,
    );
  });

  it('folds an incremental chain read as streams, whole or ranged, into what folding the whole files gives', async () => {
    // A chain written by hand: a base of every key, then deltas that put and delete.
    const source = (isBase: boolean, round: number): KeyedChangelogSource => ({
      keyGroupRange: RANGE,
      maxParallelism: MAX_PARALLELISM,
      isBase,
      writeKeyGroup(keyGroup, out) {
        out.beginState({
          name: 'count',
          kind: 'value',
          hasTtl: false,
          keySerializer: { id: 'weir.value', version: 1 },
          namespaceSerializer: { id: 'weir.value', version: 1 },
          valueSerializer: { id: 'weir.value', version: 1 },
          mapKeySerializer: undefined,
        });
        for (let k = 0; k < (isBase ? 40 : 10); k++) {
          const key = Uint8Array.of(keyGroup, (k * (round + 1)) % 40);
          if (!isBase && k % 3 === 0) out.remove(key);
          else out.put(key, Uint8Array.of(round, k));
        }
        out.endState();
      },
    });
    const paths = ['base', 'd1', 'd2', 'd3'];
    const written = await Promise.all(
      paths.map(async (_, i) => {
        const parts: Uint8Array[] = [];
        const { keyGroupOffsets } = await writeKeyedChangelogInParts(
          { write: async (part) => void parts.push(part.slice()) },
          source(i === 0, i),
          [],
          { yieldToLoop: () => Promise.resolve() },
        );
        return { bytes: new Uint8Array(Buffer.concat(parts)), keyGroupOffsets };
      }),
    );
    const files = written.map(({ bytes }) => bytes);
    await fc.assert(
      fc.asyncProperty(chunkSizes, wantedRange, fc.boolean(), async (sizes, wanted, ranged) => {
        // Whole files, or (as a rescaled restore reads them) each file's header and the byte
        // range of the wanted sections by its offsets.
        const chain = await Promise.all(
          written.map(({ bytes, keyGroupOffsets }, i) => {
            if (!ranged)
              return openKeyedChangelog(new ChunkedInput(chunksOf(bytes, sizes), paths[i], bytes.length));
            const header = bytes.subarray(0, KEYED_CHANGELOG_HEADER_BYTES);
            const sections = bytes.subarray(keyGroupOffsets[wanted.start], keyGroupOffsets[wanted.end + 1]);
            return openKeyedChangelog(new ChunkedInput(chunksOf(header, sizes), paths[i], header.length), {
              sections: new ChunkedInput(chunksOf(sections, sizes), paths[i], sections.length),
              keyGroup: wanted.start,
            });
          }),
        );
        const streamed = await collect(foldKeyedChangelogStreams(chain, wanted));
        const whole = materializeKeyedChangelog(
          files.map((bytes, i) => readKeyedChangelog(bytes, paths[i])),
          wanted,
        );
        expect(plain(streamed)).toEqual(plain(whole.sections));
      }),
      { numRuns: 100 },
    );
  });
});
