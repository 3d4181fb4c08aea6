/** The `_metadata` format: round trips, every truncation and byte flip detected, structure errors named by field path. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeCheckpointMetadata,
  encodeCheckpointMetadata,
  METADATA_FORMAT_VERSION,
} from '../../../src/checkpoint/metadata/checkpoint-metadata-format.ts';
import { parseCheckpointMetadata } from '../../../src/checkpoint/metadata/checkpoint-metadata-validation.ts';
import type {
  CheckpointMetadata,
  OperatorSnapshot,
  OperatorSubtaskSnapshot,
  StateFileHandle,
} from '../../../src/checkpoint/snapshot-handles.ts';
import { CorruptCheckpointError } from '../../../src/checkpoint/storage/checkpoint-errors.ts';
import { crc32c } from '../../../src/core/binary.ts';
import { WeirError } from '../../../src/core/errors.ts';

const PATH = '/ck/job/chk-1/_metadata';
const HEADER_BYTES = 14;

const fileArbitrary = (prefix: string): fc.Arbitrary<StateFileHandle> =>
  fc.record({
    relativePath: fc.integer({ min: 0, max: 999 }).map((n) => `${prefix}-${n}.keyed`),
    sizeBytes: fc.integer({ min: 0, max: 1_000_000 }),
    crc32c: fc.integer({ min: 0, max: 0xffff_ffff }),
  });

/** An operator whose subtasks split the key groups [0, maxParallelism) evenly, as the runtime does. */
const operatorArbitrary = (maxParallelism: number, index: number): fc.Arbitrary<OperatorSnapshot> =>
  fc
    .record({
      parallelism: fc.integer({ min: 1, max: Math.min(4, maxParallelism) }),
      keyed: fc.boolean(),
      name: fc.string({ maxLength: 20 }),
      uid: fc.option(fc.string({ minLength: 1, maxLength: 10 }), { nil: undefined }),
      file: fileArbitrary(`op${index}`),
      finished: fc.boolean(),
    })
    .map(({ parallelism, keyed, name, uid, file, finished }) => {
      const subtasks: OperatorSubtaskSnapshot[] = [];
      for (let subtask = 0; subtask < parallelism; subtask++) {
        const start = Math.floor((subtask * maxParallelism) / parallelism);
        const end = Math.floor(((subtask + 1) * maxParallelism) / parallelism) - 1;
        const groups = end - start + 1;
        const sized = { ...file, relativePath: `${subtask}-${file.relativePath}` };
        subtasks.push({
          subtaskIndex: subtask,
          keyed: keyed
            ? {
                file: sized,
                keyGroupRange: { start, end },
                keyGroupOffsets: Array.from({ length: groups + 1 }, (_, i) =>
                  Math.floor((i * sized.sizeBytes) / groups),
                ),
              }
            : undefined,
          operatorState: keyed ? undefined : { ...sized, relativePath: `${sized.relativePath}.op` },
          finished,
        });
      }
      const operatorId = uid ?? `hash-${index}`;
      const base = { operatorId, operatorName: name, parallelism, subtasks };
      return uid === undefined ? base : { ...base, uid };
    });

const metadataArbitrary: fc.Arbitrary<CheckpointMetadata> = fc
  .record({
    jobId: fc.string({ minLength: 1, maxLength: 32 }),
    jobName: fc.string({ maxLength: 30 }),
    checkpointId: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
    kind: fc.constantFrom('checkpoint' as const, 'savepoint' as const),
    triggerTimestampMs: fc.integer({ min: 0, max: 2 ** 45 }),
    durationMs: fc.integer({ min: 0, max: 100_000 }),
    maxParallelism: fc.integer({ min: 1, max: 256 }),
    operatorCount: fc.integer({ min: 0, max: 4 }),
  })
  .chain((base) =>
    fc
      .tuple(
        ...Array.from({ length: base.operatorCount }, (_, i) => operatorArbitrary(base.maxParallelism, i)),
      )
      .map((operators) => ({
        formatVersion: 1 as const,
        jobId: base.jobId,
        jobName: base.jobName,
        checkpointId: base.checkpointId,
        kind: base.kind,
        triggerTimestampMs: base.triggerTimestampMs,
        completedTimestampMs: base.triggerTimestampMs + base.durationMs,
        maxParallelism: base.maxParallelism,
        // Operator ids must be unique; a generated uid may repeat, so dedupe by id.
        operators: operators.filter(
          (op, i) => operators.findIndex((other) => other.operatorId === op.operatorId) === i,
        ),
      })),
  );

function sample(): CheckpointMetadata {
  return fc.sample(
    metadataArbitrary.filter((m) => m.operators.length >= 2),
    { numRuns: 1, seed: 7 },
  )[0];
}

describe('_metadata format', () => {
  it('round-trips any valid metadata exactly', () => {
    fc.assert(
      fc.property(metadataArbitrary, (metadata) => {
        const bytes = encodeCheckpointMetadata(metadata);
        expect(decodeCheckpointMetadata(bytes, PATH)).toEqual(metadata);
        // Encoding is deterministic, so equal metadata gives equal bytes.
        expect(encodeCheckpointMetadata(decodeCheckpointMetadata(bytes, PATH))).toEqual(bytes);
      }),
    );
  });

  it('round-trips coordinator (split enumerator) state in version 2, and reads version 1 without it', () => {
    const v1 = sample();
    const coordinators = [
      {
        operatorId: 'src-a',
        operatorName: 'Source: A',
        serializerId: 'weir.value',
        serializerVersion: 1,
        bytes: new Uint8Array([0, 1, 2, 250, 255]),
      },
      {
        operatorId: 'src-b',
        operatorName: 'Source: B',
        serializerId: 'my.state',
        serializerVersion: 3,
        bytes: new Uint8Array(),
      },
    ];
    const v2: CheckpointMetadata = { ...v1, formatVersion: 2, coordinators };
    const bytes = encodeCheckpointMetadata(v2);
    expect(new DataView(bytes.buffer).getUint16(8, true)).toBe(2);
    expect(decodeCheckpointMetadata(bytes, PATH)).toEqual(v2);
    const old = decodeCheckpointMetadata(encodeCheckpointMetadata(v1), PATH);
    expect(old.formatVersion).toBe(1);
    expect(old.coordinators).toBeUndefined();
  });

  it('has the documented layout: magic, u16 version, u32 body length, JSON body, u32 CRC-32C of all before it', () => {
    const bytes = encodeCheckpointMetadata(sample());
    const view = new DataView(bytes.buffer);
    expect(new TextDecoder().decode(bytes.subarray(0, 8))).toBe('WEIRMETA');
    // Written in the version the metadata says (1 here: no coordinator or incremental state).
    expect(view.getUint16(8, true)).toBe(1);
    const bodyLength = view.getUint32(10, true);
    expect(bytes.length).toBe(HEADER_BYTES + bodyLength + 4);
    expect(
      JSON.parse(new TextDecoder().decode(bytes.subarray(HEADER_BYTES, HEADER_BYTES + bodyLength))),
    ).toMatchObject({
      formatVersion: 1,
    });
    expect(view.getUint32(HEADER_BYTES + bodyLength, true)).toBe(crc32c(bytes, 0, HEADER_BYTES + bodyLength));
  });

  it('detects every truncation, naming the file', () => {
    const bytes = encodeCheckpointMetadata(sample());
    for (let length = 0; length < bytes.length; length++) {
      const error = catchError(() => decodeCheckpointMetadata(bytes.subarray(0, length), PATH));
      expect(error, `length ${length}`).toBeInstanceOf(CorruptCheckpointError);
      expect((error as CorruptCheckpointError).path).toBe(PATH);
      expect((error as Error).message).toContain(PATH);
    }
  });

  it('detects a flip of any single byte', () => {
    const bytes = encodeCheckpointMetadata(sample());
    for (let offset = 0; offset < bytes.length; offset++) {
      for (const mask of [0x01, 0x80, 0xff]) {
        const damaged = bytes.slice();
        damaged[offset] ^= mask;
        const error = catchError(() => decodeCheckpointMetadata(damaged, PATH));
        expect(error, `offset ${offset} mask ${mask}`).toBeInstanceOf(CorruptCheckpointError);
      }
    }
  });

  it('explains what is wrong: magic, trailing bytes, checksum, version', () => {
    const bytes = encodeCheckpointMetadata(sample());
    const wrongMagic = bytes.slice();
    wrongMagic.set(new TextEncoder().encode('WEIRKEYD'), 0);
    expect(() => decodeCheckpointMetadata(wrongMagic, PATH)).toThrow(/not a Weir metadata file.*"WEIRKEYD"/);
    const longer = new Uint8Array(bytes.length + 3);
    longer.set(bytes);
    expect(() => decodeCheckpointMetadata(longer, PATH)).toThrow(/unexpected bytes after the trailer/);
    const flipped = bytes.slice();
    flipped[HEADER_BYTES + 3] ^= 1;
    expect(() => decodeCheckpointMetadata(flipped, PATH)).toThrow(
      /checksum mismatch \(expected 0x[0-9a-f]{8}, found/,
    );
    // A newer version with a valid checksum is reported as a version problem, not as damage.
    const newer = bytes.slice();
    new DataView(newer.buffer).setUint16(8, METADATA_FORMAT_VERSION + 1, true);
    const end = newer.length - 4;
    new DataView(newer.buffer).setUint32(end, crc32c(newer, 0, end), true);
    expect(() => decodeCheckpointMetadata(newer, PATH)).toThrow(
      new RegExp(
        `unsupported metadata format version \\(.*\\) \\(expected 1 or 2, found ${METADATA_FORMAT_VERSION + 1}\\)`,
      ),
    );
    // A header that disagrees with the body's formatVersion is damage.
    const mixed = bytes.slice();
    new DataView(mixed.buffer).setUint16(8, 2, true);
    new DataView(mixed.buffer).setUint32(end, crc32c(mixed, 0, end), true);
    expect(() => decodeCheckpointMetadata(mixed, PATH)).toThrow(/body's format version differs/);
  });

  it('refuses to encode malformed metadata, so nothing unreadable is ever committed', () => {
    const metadata = sample();
    expect(() => encodeCheckpointMetadata({ ...metadata, checkpointId: -1 })).toThrow(WeirError);
    expect(() => encodeCheckpointMetadata({ ...metadata, jobId: '' })).toThrow(
      /metadata\.jobId: must not be empty/,
    );
  });
});

describe('parseCheckpointMetadata', () => {
  const valid = (): Record<string, unknown> => JSON.parse(new TextDecoder().decode(bodyOf(sample())));

  it('names the path of a missing or mistyped field', () => {
    const json = valid();
    delete json.jobName;
    (json.operators as Record<string, unknown>[])[1].parallelism = 'two';
    const subtask = (
      (json.operators as Record<string, unknown>[])[0].subtasks as Record<string, unknown>[]
    )[0];
    delete subtask.finished;
    const result = parseCheckpointMetadata(json);
    expect(result.ok).toBe(false);
    const problems = result.ok ? [] : result.problems;
    expect(problems).toContain('metadata.jobName: missing');
    expect(problems).toContain('metadata.operators[1].parallelism: expected an integer, got string');
    expect(problems).toContain('metadata.operators[0].subtasks[0].finished: missing');
  });

  it('checks the invariants restore relies on', () => {
    const cases: [string, (json: Record<string, unknown>) => void, RegExp][] = [
      [
        'duplicate operator ids',
        (j) => (j.operators as unknown[]).push((j.operators as unknown[])[0]),
        /duplicate/,
      ],
      ['unknown kind', (j) => (j.kind = 'snapshot'), /metadata\.kind: expected 'checkpoint' or 'savepoint'/],
      ['format version', (j) => (j.formatVersion = 3), /metadata\.formatVersion: expected 1 or 2, got 3/],
      [
        'coordinator state in version 1',
        (j) => (j.coordinators = []),
        /metadata\.coordinators: coordinator state needs metadata format version 2/,
      ],
      [
        'coordinator state not base64',
        (j) => {
          j.formatVersion = 2;
          j.coordinators = [
            {
              operatorId: 'src',
              operatorName: 'S',
              serializerId: 'weir.value',
              serializerVersion: 1,
              state: '@@',
            },
          ];
        },
        /metadata\.coordinators\[0\]\.state: is not base64/,
      ],
      ['not an object', (j) => (j.operators = {}), /metadata\.operators: expected an array, got object/],
      [
        'path traversal',
        (j) => (subtaskOf(j).operatorState = { relativePath: '../../etc/passwd', sizeBytes: 1, crc32c: 1 }),
        /relativePath: '..\/..\/etc\/passwd' must not contain a path separator/,
      ],
      [
        'subtask index beyond parallelism',
        (j) => (subtaskOf(j).subtaskIndex = 99),
        /subtaskIndex: 99 is outside/,
      ],
      [
        'crc out of range',
        (j) => (subtaskOf(j).operatorState = { relativePath: 'a', sizeBytes: 1, crc32c: 2 ** 32 }),
        /crc32c: 4294967296 is outside/,
      ],
    ];
    for (const [label, mutate, pattern] of cases) {
      const json = valid();
      mutate(json);
      const result = parseCheckpointMetadata(json);
      expect(result.ok, label).toBe(false);
      expect(result.ok ? '' : result.problems.join('\n'), label).toMatch(pattern);
    }
  });

  it('checks key-group ranges and offsets', () => {
    const keyed = {
      file: { relativePath: 'k', sizeBytes: 100, crc32c: 5 },
      keyGroupRange: { start: 0, end: 3 },
      keyGroupOffsets: [0, 10, 20, 30, 100],
    };
    const metadata = (subtasks: unknown[]): unknown => ({
      ...JSON.parse(new TextDecoder().decode(bodyOf({ ...sample(), operators: [] }))),
      maxParallelism: 8,
      operators: [{ operatorId: 'k', operatorName: 'k', parallelism: 2, subtasks }],
    });
    const sub = (index: number, k: unknown) => ({
      subtaskIndex: index,
      finished: false,
      keyed: k,
      operatorState: null,
    });
    expect(parseCheckpointMetadata(metadata([sub(0, keyed)])).ok).toBe(true);
    const problemsOf = (json: unknown) => {
      const result = parseCheckpointMetadata(json);
      return result.ok ? '' : result.problems.join('\n');
    };
    expect(problemsOf(metadata([sub(0, { ...keyed, keyGroupOffsets: [0, 10, 20, 30] })]))).toMatch(
      /expected 5 offsets/,
    );
    expect(problemsOf(metadata([sub(0, { ...keyed, keyGroupOffsets: [0, 10, 5, 30, 100] })]))).toMatch(
      /keyGroupOffsets\[2\]: expected an integer in \[10, 100\], got 5/,
    );
    expect(problemsOf(metadata([sub(0, { ...keyed, keyGroupOffsets: [0, 10, 20, 30, 101] })]))).toMatch(
      /got 101/,
    );
    expect(problemsOf(metadata([sub(0, { ...keyed, keyGroupRange: { start: 0, end: 8 } })]))).toMatch(
      /end: 8 is outside/,
    );
    const other = { ...keyed, keyGroupRange: { start: 3, end: 5 }, keyGroupOffsets: [0, 1, 2, 3] };
    expect(problemsOf(metadata([sub(0, keyed), sub(1, other)]))).toMatch(
      /ranges of subtasks 0 and 1 overlap/,
    );
  });

  it('reads section offsets of incremental chain files where written, and checks them', () => {
    const file = (name: string, keyGroupOffsets?: unknown) => ({
      relativePath: `../shared/${name}`,
      sizeBytes: 100,
      crc32c: 5,
      ...(keyGroupOffsets === undefined ? {} : { keyGroupOffsets }),
    });
    const metadata = (files: unknown[]): unknown => ({
      ...JSON.parse(new TextDecoder().decode(bodyOf({ ...sample(), operators: [] }))),
      formatVersion: 2,
      kind: 'checkpoint',
      maxParallelism: 4,
      operators: [
        {
          operatorId: 'k',
          operatorName: 'k',
          parallelism: 1,
          subtasks: [
            {
              subtaskIndex: 0,
              finished: false,
              operatorState: null,
              keyed: { kind: 'incremental', keyGroupRange: { start: 0, end: 3 }, files },
            },
          ],
        },
      ],
    });
    const parsed = parseCheckpointMetadata(metadata([file('base', [26, 40, 50, 60, 96]), file('delta')]));
    expect(parsed.ok).toBe(true);
    const keyed = parsed.ok ? parsed.metadata.operators[0].subtasks[0].keyed : undefined;
    expect(keyed?.kind === 'incremental' && keyed.files.map((f) => f.keyGroupOffsets)).toEqual([
      [26, 40, 50, 60, 96],
      undefined,
    ]);
    const problems = parseCheckpointMetadata(metadata([file('base', [26, 40, 30, 60, 96])]));
    expect(problems.ok ? '' : problems.problems.join('\n')).toMatch(
      /files\[0\]\.keyGroupOffsets\[2\]: expected an integer in \[40, 100\], got 30/,
    );
    const short = parseCheckpointMetadata(metadata([file('base', [26, 40])]));
    expect(short.ok ? '' : short.problems.join('\n')).toMatch(/expected 5 offsets/);
  });

  it('reports at most 20 problems and counts the rest', () => {
    const json = valid();
    json.operators = Array.from({ length: 30 }, () => ({}));
    const result = parseCheckpointMetadata(json);
    expect(result.ok ? [] : result.problems).toHaveLength(21);
    expect(result.ok ? '' : result.problems.at(-1)).toMatch(/and \d+ more problem/);
  });
});

function subtaskOf(json: Record<string, unknown>): Record<string, unknown> {
  return ((json.operators as Record<string, unknown>[])[0].subtasks as Record<string, unknown>[])[0];
}

function bodyOf(metadata: CheckpointMetadata): Uint8Array {
  const bytes = encodeCheckpointMetadata(metadata);
  return bytes.subarray(HEADER_BYTES, bytes.length - 4);
}

function catchError(call: () => unknown): unknown {
  try {
    call();
  } catch (error) {
    return error;
  }
  return undefined;
}
