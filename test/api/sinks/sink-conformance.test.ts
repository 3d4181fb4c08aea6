/** The sink conformance suite, run against the in-memory reference sink and the exactly-once FileSink. */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileSink } from '../../../src/api/sinks/file-sink.ts';
import { runSinkConformance } from '../sink-conformance.ts';
import { InMemoryTransactionalSink } from './in-memory-transactional-sink.ts';

runSinkConformance({
  name: 'in-memory transactional sink',
  setup: async () => {
    const sink = new InMemoryTransactionalSink();
    return { sink, readVisible: async () => sink.store.visible(), teardown: async () => {} };
  },
});

/** Committed lines below `dir`: every file whose name does not start with a dot. */
async function committedLines(dir: string): Promise<string[]> {
  const lines: string[] = [];
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    if (!entry.isFile() || entry.name.startsWith('.')) continue;
    const text = await readFile(join(entry.parentPath, entry.name), 'utf8');
    for (const line of text.split('\n')) if (line !== '') lines.push(line);
  }
  return lines;
}

runSinkConformance({
  name: 'FileSink (exactly-once, small parts, buckets)',
  setup: async () => {
    const dir = await mkdtemp(join(tmpdir(), 'weir-file-conformance-'));
    const sink = new FileSink<string>(dir, {
      rollSizeBytes: 8,
      bucketAssigner: (value) => (value.length % 2 === 0 ? 'even' : 'odd/nested'),
    });
    return {
      sink,
      readVisible: () => committedLines(dir),
      teardown: () => rm(dir, { recursive: true, force: true }),
    };
  },
});
