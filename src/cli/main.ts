/** The `weir` command line. */
import { Command, InvalidArgumentError } from 'commander';
import { ConfigurationError, JobDefinitionError, WeirError } from '../core/errors.ts';
import { runJob } from './run-command.ts';

function positiveInteger(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1)
      throw new InvalidArgumentError(`${name} must be a positive integer, got '${value}'`);
    return n;
  };
}

/** Prints the error chain: our message, then the user's own error with its stack. */
export function formatFailure(error: unknown): string {
  const lines: string[] = [];
  let current: unknown = error;
  let depth = 0;
  while (current !== undefined && depth < 8) {
    if (current instanceof WeirError) {
      lines.push(`${depth === 0 ? '' : 'Caused by: '}${current.name}: ${current.message}`);
    } else if (current instanceof Error) {
      lines.push(
        `${depth === 0 ? '' : 'Caused by: '}${current.stack ?? `${current.name}: ${current.message}`}`,
      );
    } else {
      lines.push(`${depth === 0 ? '' : 'Caused by: '}${String(current)}`);
    }
    current = current instanceof Error ? current.cause : undefined;
    depth++;
  }
  return lines.join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const program = new Command('weir')
    .description('Weir: a stateful stream processor for TypeScript')
    .showHelpAfterError()
    .exitOverride();

  let exitCode = 0;
  program
    .command('run')
    .description('run a job module (its default export builds the dataflow); job arguments follow --')
    .argument('<job>', 'path to the job module (.ts or .js)')
    .argument('[args...]', 'job arguments (after --)')
    .option(
      '-p, --parallelism <n>',
      'default parallelism of every operator',
      positiveInteger('--parallelism'),
    )
    .option('--job-name <name>', 'name of the job (default: the module file name)')
    .action(async (job: string, args: string[], options: { parallelism?: number; jobName?: string }) => {
      try {
        await runJob(job, args, options);
      } catch (error) {
        process.stderr.write(`weir: ${formatFailure(error)}\n`);
        exitCode = error instanceof JobDefinitionError || error instanceof ConfigurationError ? 2 : 1;
      }
    });

  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (error) {
    const code = (error as { exitCode?: number }).exitCode;
    return code === 0 ? 0 : 2;
  }
  return exitCode;
}
