/** `DIR/<job-id>/rest-address`: where `weir run --checkpoint-dir DIR` tells the other commands its REST address. */
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** The file name, next to the job's `chk-<n>` directories. */
export const REST_ADDRESS_FILE = 'rest-address';
/** `weir list --checkpoint-dir` looks into at most this many job directories. */
export const JOB_DIRECTORIES_LISTED_MAX = 1_000;

const JOB_ID = /^[0-9a-f]{32}$/;
const ADDRESS = /^https?:\/\/[^\s/]+$/;

/** A job's advertised address. */
export interface AdvertisedJob {
  readonly jobId: string;
  readonly address: string;
  readonly file: string;
}

/**
 * Writes the address atomically (temporary file, then rename), so a reader never sees half of it.
 *
 * @example
 * ```ts
 * await writeRestAddress('/ck', jobId, 'http://127.0.0.1:41234'); // /ck/<job-id>/rest-address
 * ```
 */
export async function writeRestAddress(
  checkpointDir: string,
  jobId: string,
  address: string,
): Promise<string> {
  const directory = join(checkpointDir, requireJobId(jobId));
  await mkdir(directory, { recursive: true });
  const file = join(directory, REST_ADDRESS_FILE);
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, `${address}\n`);
  await rename(temporary, file);
  return file;
}

/** Removes the file (the job ended); a missing file or directory is fine. */
export async function removeRestAddress(checkpointDir: string, jobId: string): Promise<void> {
  await rm(join(checkpointDir, requireJobId(jobId), REST_ADDRESS_FILE), { force: true });
}

/** The address a job advertised, or undefined if there is no (well-formed) file. */
export async function readRestAddress(checkpointDir: string, jobId: string): Promise<string | undefined> {
  const file = join(checkpointDir, requireJobId(jobId), REST_ADDRESS_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return undefined;
  }
  const address = text.trim();
  return ADDRESS.test(address) ? address : undefined;
}

/** Every job in the checkpoint directory that advertises an address (it may have died since). */
export async function listRestAddresses(checkpointDir: string): Promise<AdvertisedJob[]> {
  let names: string[];
  try {
    names = (await readdir(checkpointDir, { withFileTypes: true }))
      .filter((entry) => entry.isDirectory() && JOB_ID.test(entry.name))
      .map((entry) => entry.name)
      .sort()
      .slice(0, JOB_DIRECTORIES_LISTED_MAX);
  } catch {
    return [];
  }
  const found: AdvertisedJob[] = [];
  for (const jobId of names) {
    const address = await readRestAddress(checkpointDir, jobId);
    if (address !== undefined)
      found.push({ jobId, address, file: join(checkpointDir, jobId, REST_ADDRESS_FILE) });
  }
  return found;
}

function requireJobId(jobId: string): string {
  if (!JOB_ID.test(jobId)) throw new RangeError(`job id must be 32 hexadecimal characters, got '${jobId}'`);
  return jobId;
}
