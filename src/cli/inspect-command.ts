/** `weir inspect PATH`: reads a checkpoint or savepoint offline and describes it; exit 1 when a file fails its checksum. */
import { formatInspectReport, inspectCheckpoint } from '../checkpoint/inspect/inspect-checkpoint.ts';
import type { Output } from './control-commands.ts';

/** Options of `weir inspect`. */
export interface InspectCommandOptions {
  /** `--no-verify` sets it false: skip reading every state file. */
  readonly verify?: boolean;
  readonly json?: boolean;
}

/**
 * Prints the report; 0 when every file verified, 1 when any failed or nothing readable was found.
 *
 * @example
 * ```ts
 * const code = await inspect('/ck/3f2a/chk-7', {}, { out: console.log, err: console.error });
 * ```
 */
export async function inspect(path: string, options: InspectCommandOptions, io: Output): Promise<number> {
  const result = await inspectCheckpoint(path, { verify: options.verify ?? true });
  if (result.status !== 'inspected') {
    io.err(`weir: ${result.message}\n`);
    return 1;
  }
  const { report } = result;
  io.out(options.json === true ? `${JSON.stringify(report, null, 2)}\n` : formatInspectReport(report));
  if (!report.ok)
    io.err(`weir: ${report.filesFailed} of ${report.fileCount} state files failed verification\n`);
  return report.ok ? 0 : 1;
}
