/** The keyed-state-backend conformance suite against the disk backend, with a roomy cache, a two-slot one, and a two-slot one without the write queue. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { diskStateBackend } from '../../../src/state/backends/disk/index.ts';
import { runKeyedStateBackendConformance } from '../keyed-state-backend-conformance.ts';

const directory = mkdtempSync(join(tmpdir(), 'weir-disk-conformance-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

// Everything stays cached: the store is touched by snapshots, keys() and restores only.
runKeyedStateBackendConformance('disk', diskStateBackend({ directory }));
// Two slots: nearly every access misses, evicts and writes back, so the store path runs everywhere.
runKeyedStateBackendConformance('disk (2-slot cache)', diskStateBackend({ directory, cacheEntriesMax: 2 }));
// No write queue: every write-back goes to lmdb at once, so later reads meet committed entries.
runKeyedStateBackendConformance(
  'disk (2-slot cache, no write queue)',
  diskStateBackend({ directory, cacheEntriesMax: 2, writeQueueEntriesMax: 1 }),
);
