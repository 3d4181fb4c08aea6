/**
 * A running job holds its process: with a rate-limited source the event loop is often empty
 * but for unref'd clock timers, and a script awaiting `env.execute()` used to end silently
 * mid-job (exit code 0, nothing after the await ran).
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const FIXTURE = join(import.meta.dirname, 'fixtures', 'rate-limited-embedded-job.ts');

it('runs an embedded job on the real clock to the end before execute() returns', async () => {
  const { stdout } = await promisify(execFile)(process.execPath, [FIXTURE], { timeout: 30_000 });
  expect(stdout).toContain('records: 10');
});
