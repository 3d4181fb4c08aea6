/**
 * The end-to-end harness: the known input (per-key sequences in a Kafka topic), `weir run` of
 * fixtures/e2e-job.ts in a child process, and the verifier (read_committed reads of the output
 * topic without a consumer group, the PostgreSQL table, open and prepared transactions).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Producer } from '@platformatic/kafka';
import pg from 'pg';
import { afterAll, beforeAll, expect } from 'vitest';
import { KafkaAdmin, partitionKey } from '../../../src/connectors/kafka/client/kafka-admin.ts';
import { PartitionFetcher } from '../../../src/connectors/kafka/client/partition-fetcher.ts';
import { createTopic } from '../../connectors/kafka/kafka-support.ts';
import { ensureKafka, ensurePostgres, SERVICE_START_TIMEOUT_MS } from '../../services/services.ts';
import type { In, Out } from './fixtures/e2e-job.ts';

export const REPO_ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const WEIR = fileURLToPath(new URL('./fixtures/weir-from-source.ts', import.meta.url));
const JOB = fileURLToPath(new URL('./fixtures/e2e-job.ts', import.meta.url));

/** The input: KEYS keys × SEQS_PER_KEY records, interleaved by seq. */
export const KEYS = 20;
export const SEQS_PER_KEY = 1000;
export const TOTAL_RECORDS = KEYS * SEQS_PER_KEY;
const INPUT_PARTITIONS = 4;
const OUTPUT_PARTITIONS = 2;
export const CHECKPOINT_INTERVAL_MS = 150;
/** Source throttle per record: about 1 s of reading per source subtask at parallelism 2. */
export const THROTTLE_US = 100;
const PARALLELISM = 2;
/** Bound on one `weir run` of the job. */
export const RUN_TIMEOUT_MS = 60_000;

/** The seed of this run of the suite: WEIR_E2E_SEED=<n> replays one. */
export function suiteSeed(): number {
  const fixed = process.env.WEIR_E2E_SEED;
  return fixed === undefined || fixed === '' ? (Math.random() * 2 ** 31) >>> 0 : Number(fixed) >>> 0;
}

export const inputRecord = (key: number, seq: number): In => ({
  key,
  seq,
  value: (key * 7919 + seq * 31) % 1000,
});

/** What a failure-free run writes, computed in plain JS: one output per input, canonical JSON, sorted. */
export function expectedOutputs(): string[] {
  const out: string[] = [];
  for (let key = 0; key < KEYS; key++) {
    let sum = 0;
    for (let seq = 0; seq < SEQS_PER_KEY; seq++) {
      sum += inputRecord(key, seq).value;
      out.push(canonical({ key, seq, count: seq + 1, sum }));
    }
  }
  return out.sort();
}

export const canonical = (o: Out): string =>
  JSON.stringify({ key: Number(o.key), seq: Number(o.seq), count: Number(o.count), sum: Number(o.sum) });

export interface Services {
  readonly bootstrap: string;
  readonly pgUrl: string;
}

export async function services(): Promise<Services> {
  const [{ bootstrap }, { connectionString }] = await Promise.all([ensureKafka(), ensurePostgres()]);
  return { bootstrap, pgUrl: connectionString };
}

let counter = 0;
/** A name no other run of any suite uses (topics, tables, transaction prefixes). */
export function uniqueName(what: string): string {
  counter++;
  return `weir_e2e_${what}_${process.pid}_${Date.now().toString(36)}_${counter}`;
}

/** Creates the input topic and writes the known records: each key in one partition, in seq order. */
export async function produceInput(bootstrap: string): Promise<string> {
  const topic = uniqueName('in');
  await createTopic(bootstrap, topic, INPUT_PARTITIONS);
  const producer = new Producer({ clientId: 'e2e-input', bootstrapBrokers: [bootstrap], idempotent: true });
  try {
    const messages = [];
    for (let seq = 0; seq < SEQS_PER_KEY; seq++) {
      for (let key = 0; key < KEYS; key++) {
        messages.push({
          topic,
          key: Buffer.from(String(key)),
          value: Buffer.from(JSON.stringify(inputRecord(key, seq))),
          partition: key % INPUT_PARTITIONS,
        });
      }
    }
    await producer.send({ acks: -1, messages });
  } finally {
    await producer.close();
  }
  return topic;
}

/** Everything one test's job writes to: its own output topic, table, prefix and checkpoint directory. */
export interface Target {
  readonly output: string;
  readonly table: string;
  readonly prefix: string;
  readonly checkpointDir: string;
}

export async function freshTarget(s: Services): Promise<Target> {
  const output = uniqueName('out');
  await createTopic(s.bootstrap, output, OUTPUT_PARTITIONS);
  const table = uniqueName('t');
  // No key: a duplicate shows as an extra row.
  await sql(
    s.pgUrl,
    `CREATE TABLE ${table} (key int NOT NULL, seq int NOT NULL, count int NOT NULL, sum bigint NOT NULL)`,
  );
  const checkpointDir = await mkdtemp(join(tmpdir(), 'weir-e2e-'));
  return { output, table, prefix: uniqueName('tx').replaceAll('_', '-'), checkpointDir };
}

export async function dropTarget(target: Target): Promise<void> {
  await rm(target.checkpointDir, { recursive: true, force: true });
}

// ---------------------------------------------------------------------------------------------
// Running the job

export interface JobOptions {
  readonly guarantee?: 'exactly-once' | 'at-least-once';
  readonly seed?: number;
  readonly recordFailures?: number;
  readonly commitFailures?: number;
  readonly freezeAtCheckpoint?: number;
  readonly throttleUs?: number;
  readonly fromLatestCheckpoint?: boolean;
}

/** The `weir run` arguments of one run (printed on failure, so it can be run by hand). */
export function jobArgs(s: Services, input: string, t: Target, o: JobOptions): string[] {
  return [
    'run',
    JOB,
    '-p',
    String(PARALLELISM),
    '--job-name',
    'e2e-job',
    '--checkpoint-dir',
    t.checkpointDir,
    '--checkpoint-interval',
    String(CHECKPOINT_INTERVAL_MS),
    ...(o.fromLatestCheckpoint === true ? ['--from-checkpoint', 'latest'] : []),
    '--',
    ...['--bootstrap', s.bootstrap, '--input', input, '--output', t.output],
    ...['--pg-url', s.pgUrl, '--table', t.table, '--prefix', t.prefix],
    ...['--guarantee', o.guarantee ?? 'exactly-once', '--seed', String(o.seed ?? 0)],
    ...['--total-records', String(TOTAL_RECORDS), '--record-failures', String(o.recordFailures ?? 0)],
    ...['--commit-failures', String(o.commitFailures ?? 0)],
    ...['--freeze-at-checkpoint', String(o.freezeAtCheckpoint ?? 0)],
    ...['--throttle-us', String(o.throttleUs ?? THROTTLE_US)],
  ];
}

/** How a `weir run` ended. */
export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** A `weir run` of the job in the background. */
export class JobRun {
  readonly child: ChildProcess;
  readonly args: readonly string[];
  readonly exit: Promise<Exit>;
  readonly startedMs = performance.now();
  #stderr = '';
  #exited = false;
  readonly #waiters = new Set<() => void>();

  constructor(args: readonly string[]) {
    this.args = args;
    this.child = spawn(process.execPath, [WEIR, ...args], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    this.child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      this.#stderr += chunk;
      this.#notify();
    });
    this.exit = new Promise((resolve) =>
      this.child.on('close', (code, signal) => {
        this.#exited = true;
        this.#notify();
        resolve({ code, signal });
      }),
    );
  }

  get stderr(): string {
    return this.#stderr;
  }

  /** The run for an assertion message: how to repeat it, and what it logged. */
  show(): string {
    return `weir ${this.args.join(' ')}\n--- stderr (last 6000 characters)\n${this.#stderr.slice(-6000)}`;
  }

  count(pattern: RegExp): number {
    return [...this.#stderr.matchAll(pattern)].length;
  }

  /** Resolves once stderr has `count` matches of the global `pattern`; rejects if the run ends first. */
  waitFor(pattern: RegExp, count = 1): Promise<RegExpMatchArray[]> {
    return new Promise((resolve, reject) => {
      const waiter = (): void => {
        const matches = [...this.#stderr.matchAll(pattern)];
        if (matches.length >= count) {
          this.#waiters.delete(waiter);
          resolve(matches);
        } else if (this.#exited) {
          this.#waiters.delete(waiter);
          reject(new Error(`the job ended before logging ${pattern} ${count} times\n${this.show()}`));
        }
      };
      this.#waiters.add(waiter);
      waiter();
    });
  }

  /** Waits for the end, killing the run after `timeoutMs`. */
  async finish(timeoutMs = RUN_TIMEOUT_MS): Promise<Exit & { readonly durationMs: number }> {
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    try {
      const exit = await this.exit;
      return { ...exit, durationMs: Math.round(performance.now() - this.startedMs) };
    } finally {
      clearTimeout(timer);
    }
  }

  #notify(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }
}

export const COMPLETED_CHECKPOINT = /completed checkpoint (\d+) /g;
export const RESTARTING = /job failed, restarting/g;

/** Completed checkpoint ids on disk (those with `_metadata`). */
export async function completedOnDisk(checkpointDir: string): Promise<number[]> {
  const ids: number[] = [];
  for (const job of await readdir(checkpointDir).catch(() => [] as string[])) {
    for (const name of await readdir(join(checkpointDir, job)).catch(() => [] as string[])) {
      const match = /^chk-(\d+)$/.exec(name);
      if (match === null) continue;
      const files = await readdir(join(checkpointDir, job, name)).catch(() => [] as string[]);
      if (files.includes('_metadata')) ids.push(Number(match[1]));
    }
  }
  return ids.sort((a, b) => a - b);
}

// ---------------------------------------------------------------------------------------------
// The verifier

/** Fetch rounds per read, at most (a round returns up to 1 MiB per partition). */
const READ_ROUNDS_MAX = 1000;

/**
 * Every record of `topic` a reader with the given isolation sees now, as canonical strings,
 * by raw fetches without a consumer group. read_committed stops at the last stable offset: an
 * open transaction hides it and everything after it; aborted records are dropped.
 */
export async function readTopic(bootstrap: string, topic: string, readCommitted: boolean): Promise<string[]> {
  const admin = new KafkaAdmin({ bootstrapServers: bootstrap }, 'e2e-verifier');
  try {
    const partitions = await admin.partitionsOf([topic]);
    const end = await admin.latestOffsets(partitions, readCommitted);
    const fetcher = new PartitionFetcher(admin, readCommitted);
    const values: string[] = [];
    let positions = partitions
      .map((partition) => ({ partition, offset: 0n }))
      .filter((p) => (end.get(partitionKey(p.partition)) ?? 0n) > 0n);
    for (let round = 0; round < READ_ROUNDS_MAX && positions.length > 0; round++) {
      const fetched = new Map((await fetcher.fetch(positions)).map((f) => [partitionKey(f.partition), f]));
      positions = positions
        .map((p) => {
          const f = fetched.get(partitionKey(p.partition));
          if (f === undefined) return p;
          const stop = end.get(partitionKey(p.partition)) ?? 0n;
          for (const r of f.records) {
            if (r.offset < stop)
              values.push(canonical(JSON.parse(r.value?.toString('utf8') ?? 'null') as Out));
          }
          return { partition: p.partition, offset: f.nextOffset };
        })
        .filter((p) => p.offset < (end.get(partitionKey(p.partition)) ?? 0n));
    }
    if (positions.length > 0)
      throw new Error(`reading ${topic}: not at the end after ${READ_ROUNDS_MAX} fetches`);
    return values.sort();
  } finally {
    await admin.close();
  }
}

/** Whether some transaction is open on `topic` (a partition's last stable offset is below its high watermark). */
export async function hasOpenTransaction(bootstrap: string, topic: string): Promise<boolean> {
  const admin = new KafkaAdmin({ bootstrapServers: bootstrap }, 'e2e-lso');
  try {
    const partitions = await admin.partitionsOf([topic]);
    const stable = await admin.latestOffsets(partitions, true);
    const high = await admin.latestOffsets(partitions, false);
    return [...high].some(([key, offset]) => stable.get(key) !== offset);
  } finally {
    await admin.close();
  }
}

export async function sql<R extends pg.QueryResultRow = pg.QueryResultRow>(
  url: string,
  text: string,
  values: unknown[] = [],
): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<R>(text, values)).rows;
  } finally {
    await client.end();
  }
}

/** Every row of the table, as canonical strings, sorted. */
export async function readTable(url: string, table: string): Promise<string[]> {
  const rows = await sql<Out>(url, `SELECT key, seq, count, sum FROM ${table}`);
  return rows.map(canonical).sort();
}

/** Prepared transactions left behind with the run's prefix. */
export async function preparedTransactions(url: string, prefix: string): Promise<string[]> {
  const rows = await sql<{ gid: string }>(
    url,
    'SELECT gid FROM pg_prepared_xacts WHERE starts_with(gid, $1) ORDER BY gid',
    [prefix],
  );
  return rows.map((r) => r.gid);
}

/** How a multiset of outputs compares with the expectation. */
export interface Comparison {
  readonly total: number;
  /** Expected records absent. */
  readonly missing: string[];
  /** Records present that no failure-free run writes. */
  readonly unexpected: string[];
  /** Extra copies of expected records. */
  readonly duplicates: number;
}

export function compare(actual: readonly string[], expected: readonly string[]): Comparison {
  const counts = new Map<string, number>();
  for (const line of actual) counts.set(line, (counts.get(line) ?? 0) + 1);
  const expectedSet = new Set(expected);
  const missing = expected.filter((line) => !counts.has(line));
  const unexpected = [...counts.keys()].filter((line) => !expectedSet.has(line));
  let duplicates = 0;
  for (const [line, n] of counts) if (expectedSet.has(line)) duplicates += n - 1;
  return { total: actual.length, missing, unexpected, duplicates };
}

/** A comparison for an assertion message, with a few examples. */
export function describe(c: Comparison): string {
  return (
    `${c.total} records: ${c.missing.length} missing ${JSON.stringify(c.missing.slice(0, 5))}, ` +
    `${c.unexpected.length} unexpected ${JSON.stringify(c.unexpected.slice(0, 5))}, ${c.duplicates} duplicates`
  );
}

/**
 * Checks that `lines` is what a read_committed reader may see mid-run: per key, outputs for a
 * prefix of the seqs, each once and with the failure-free values.
 */
export function isCommittedPrefix(lines: readonly string[], expected: readonly string[]): string | undefined {
  const c = compare(lines, expected);
  if (c.unexpected.length > 0 || c.duplicates > 0) return describe(c);
  const seqs = new Map<number, number[]>();
  for (const line of lines) {
    const o = JSON.parse(line) as Out;
    seqs.set(o.key, [...(seqs.get(o.key) ?? []), o.seq]);
  }
  for (const [key, list] of seqs) {
    list.sort((a, b) => a - b);
    if (list.some((seq, i) => seq !== i))
      return `key ${key}: committed seqs are not a prefix: ${list.join(',')}`;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Suites

/** What a suite's tests share; `s` and `input` are set once its beforeAll ran. */
export interface E2eSuite {
  s: Services;
  /** The input topic, produced once per suite. */
  input: string;
  /** A fresh output topic, table and checkpoint folder, whose folder is removed after the suite. */
  newTarget(): Promise<Target>;
}

/**
 * Registers the calling file's beforeAll (services, input topic) and afterAll (remove the
 * targets' checkpoint folders, print the seed to replay the suite).
 */
export function e2eSuite(name: string, seed: number): E2eSuite {
  const targets: Target[] = [];
  const suite: E2eSuite = {
    s: { bootstrap: '', pgUrl: '' },
    input: '',
    async newTarget() {
      const target = await freshTarget(suite.s);
      targets.push(target);
      return target;
    },
  };
  beforeAll(async () => {
    suite.s = await services();
    suite.input = await produceInput(suite.s.bootstrap);
  }, SERVICE_START_TIMEOUT_MS);
  afterAll(async () => {
    for (const t of targets.splice(0)) await dropTarget(t);
    console.log(`end-to-end ${name} suite: WEIR_E2E_SEED=${seed}`);
  });
  return suite;
}

/** Both outputs equal the failure-free expectation; nothing left open or prepared. */
export async function expectExactlyOnce(
  s: Services,
  target: Target,
  run: JobRun,
  expected: readonly string[],
): Promise<void> {
  const noDifference = describe(compare(expected, expected));
  const topic = compare(await readTopic(s.bootstrap, target.output, true), expected);
  expect(describe(topic), `Kafka topic\n${run.show()}`).toBe(noDifference);
  const table = compare(await readTable(s.pgUrl, target.table), expected);
  expect(describe(table), `PostgreSQL table\n${run.show()}`).toBe(noDifference);
  expect(await hasOpenTransaction(s.bootstrap, target.output), 'an open Kafka transaction').toBe(false);
  expect(await preparedTransactions(s.pgUrl, target.prefix), 'prepared PostgreSQL transactions').toEqual([]);
}
