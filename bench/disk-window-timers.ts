/** Benchmark: a tumbling event-time window count on the disk backend with its timers in the store vs on the heap (`timers` option), and a plain-JS loop. */
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StreamExecutionEnvironment, TumblingEventTimeWindows, WatermarkStrategy } from '../src/index.ts';
import { diskStateBackend } from '../src/state/backends/disk/index.ts';
import { type BenchCase, type Benchmark, type Checksum, CountingSink } from './harness.ts';

const KEYS = 20_000;
const WINDOW_MS = 1_000;
/** Records per event-time millisecond: KEYS × this / WINDOW_MS records per key and window (here 1). */
const RECORDS_PER_MS = KEYS / WINDOW_MS;

interface Click {
  readonly user: string;
  readonly ts: number;
}

const clickAt = (index: number): Click => ({
  user: `u${(index * 7_919) % KEYS}`,
  ts: Math.floor(index / RECORDS_PER_MS),
});

/** The same windows in plain JS: counts per (user, window), emitted when the watermark passes the window's end. */
function plainLoop(records: number): Checksum {
  let open = new Map<string, number>();
  let windowEnd = WINDOW_MS;
  let count = 0;
  let sum = 0;
  const emit = (): void => {
    for (const n of open.values()) {
      count++;
      sum += n;
    }
    open = new Map();
  };
  for (let i = 0; i < records; i++) {
    const click = clickAt(i);
    // Monotonous timestamps: the watermark is the timestamp minus one, so a window fires once a later window begins.
    while (click.ts >= windowEnd) {
      emit();
      windowEnd += WINDOW_MS;
    }
    open.set(click.user, (open.get(click.user) ?? 0) + 1);
  }
  emit();
  return { count, sum };
}

async function runEngine(records: number, timers: 'store' | 'heap'): Promise<Checksum> {
  const directory = join(tmpdir(), `weir-bench-window-timers-${process.pid}`);
  const env = StreamExecutionEnvironment.create({
    parallelism: 1,
    autoWatermarkIntervalMs: 0,
    stateBackend: diskStateBackend({ directory, timers }),
  });
  const sink = new CountingSink<number>();
  env
    .fromGenerator({ count: records, generate: clickAt })
    .assignTimestampsAndWatermarks(
      WatermarkStrategy.forMonotonousTimestamps<Click>().withTimestampAssigner((c) => c.ts),
    )
    .keyBy((c) => c.user)
    .window(TumblingEventTimeWindows.of(WINDOW_MS))
    .aggregate({
      createAccumulator: () => 0,
      add: (_click: Click, n: number) => n + 1,
      getResult: (n: number) => n,
      merge: (a: number, b: number) => a + b,
    })
    .sinkTo(sink);
  try {
    await env.execute(`window timers (${timers})`);
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
  return sink.take();
}

function setup(records: number): readonly BenchCase[] {
  const expected = plainLoop(records);
  return [
    { name: 'plain-JS loop (Map per window)', reference: true, expected, run: () => plainLoop(records) },
    { name: 'engine: disk, timers on the heap', expected, run: () => runEngine(records, 'heap') },
    { name: 'engine: disk, timers in the store', expected, run: () => runEngine(records, 'store') },
  ];
}

export const diskWindowTimers: Benchmark = {
  name: 'disk-window-timers',
  title: `disk backend: tumbling ${WINDOW_MS} ms event-time window count over ${KEYS} keys (one record per key and window), timers in the store vs on the heap`,
  recordsDefault: 400_000,
  warmupsDefault: 1,
  repetitionsDefault: 3,
  caseRatios: [
    {
      label: 'store/heap timers',
      numerator: 'engine: disk, timers in the store',
      denominator: 'engine: disk, timers on the heap',
    },
  ],
  setup,
};
