/** The `weir` command line: run a job, control a running one over its REST API, inspect checkpoints offline. */
import { Command, Option } from 'commander';
import { ConfigurationError, JobDefinitionError, WeirError } from '../core/errors.ts';
import type { AddressOptions, Output } from './control-commands.ts';
import { jobIdArgument, portNumber, positiveInteger, restAddress } from './options.ts';
import type { RunOptions } from './run-command.ts';

// Commands load their implementation when they run: `weir list` need not load the runtime.
const runCommand = () => import('./run-command.ts');
const controlCommands = () => import('./control-commands.ts');
const inspectCommand = () => import('./inspect-command.ts');

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

/** 2 for what the user can fix in the command or the job definition, 1 for everything else. */
function exitCodeOf(error: unknown): number {
  return error instanceof JobDefinitionError || error instanceof ConfigurationError ? 2 : 1;
}

const STANDARD_OUTPUT: Output = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

function addressOptions(command: Command): Command {
  return command
    .addOption(
      new Option('--address <url>', 'REST address of the job, as weir run prints it')
        .env('WEIR_REST_ADDRESS')
        .argParser(restAddress),
    )
    .option(
      '--checkpoint-dir <dir>',
      'find the job by the rest-address file it writes into its checkpoint directory',
    );
}

/** Runs the command line; resolves with the process exit code. */
export async function main(argv: string[], io: Output = STANDARD_OUTPUT): Promise<number> {
  let exitCode = 0;
  const act =
    <A extends unknown[]>(action: (...args: A) => Promise<number>) =>
    async (...args: A): Promise<void> => {
      try {
        exitCode = await action(...args);
      } catch (error) {
        io.err(`weir: ${formatFailure(error)}\n`);
        exitCode = exitCodeOf(error);
      }
    };
  const program = new Command('weir')
    .description('Weir: a stateful stream processor for TypeScript')
    .showHelpAfterError()
    .exitOverride();

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
    .option('--job-id <id>', 'job id, 32 hexadecimal characters (default: random)', jobIdArgument('--job-id'))
    .option('--checkpoint-dir <dir>', 'write checkpoints to DIR/<job-id>/chk-<n> (default: in memory)')
    .option(
      '--checkpoint-interval <ms>',
      'take a checkpoint every MS milliseconds (default: no periodic checkpoints)',
      positiveInteger('--checkpoint-interval'),
    )
    .addOption(
      new Option('--mode <mode>', 'checkpointing guarantee (default: exactly-once)').choices([
        'exactly-once',
        'at-least-once',
      ]),
    )
    .option('--state-backend <name>', "where working state lives: 'hashmap' (JS heap, default) or 'disk'")
    .option(
      '--local-recovery',
      'keep a local copy of the latest completed checkpoint and restore from it first (default: off)',
    )
    .option(
      '--local-recovery-dir <dir>',
      'where local recovery keeps its copies (implies --local-recovery; default: <os tmpdir>/weir-local-recovery)',
    )
    .option('--from-savepoint <path>', 'start from this savepoint (its directory or _metadata)')
    .option('--from-checkpoint <path|latest>', "start from this checkpoint, or 'latest' in --checkpoint-dir")
    .option('--allow-non-restored-state', 'skip state of operators that no longer exist in the job')
    .option('--savepoint-dir <dir>', 'default target directory of savepoints')
    .option('--savepoint-root <dir>', 'savepoints requested over REST must lie below DIR')
    .option(
      '--rest-port <port>',
      'REST API port on 127.0.0.1; 0 picks a free one (default 0)',
      portNumber('--rest-port'),
    )
    .addOption(
      new Option('--log-level <level>', 'log level on standard error (default: info)').choices([
        'debug',
        'info',
        'warn',
        'error',
      ]),
    )
    .action(
      act(async (job: string, args: string[], options: RunOptions) =>
        (await runCommand()).runJob(job, args, options),
      ),
    );

  addressOptions(
    program.command('list').description('list the jobs behind a REST address or a checkpoint directory'),
  )
    .option('--json', 'print the REST response')
    .action(
      act(async (options: AddressOptions & { json?: boolean }) =>
        (await controlCommands()).listJobs(options, io),
      ),
    );

  addressOptions(
    program
      .command('savepoint')
      .description('trigger a savepoint of a running job and wait for its path')
      .argument('<jobid>', 'the job id', jobIdArgument('job id'))
      .argument('[targetdir]', 'directory to create the savepoint in (default: --savepoint-dir of weir run)'),
  )
    .option('--timeout <ms>', 'give up waiting after MS milliseconds', positiveInteger('--timeout'))
    .action(
      act(async (jobId: string, target: string | undefined, options: AddressOptions & { timeout?: number }) =>
        (await controlCommands()).savepoint(jobId, target, options, io),
      ),
    );

  addressOptions(
    program
      .command('cancel')
      .description('cancel a running job, optionally after a savepoint')
      .argument('<jobid>', 'the job id', jobIdArgument('job id')),
  )
    .option('--with-savepoint [dir]', 'take a savepoint first (in DIR, or the default savepoint directory)')
    .option(
      '--timeout <ms>',
      'give up waiting for the savepoint after MS milliseconds',
      positiveInteger('--timeout'),
    )
    .action(
      act(
        async (
          jobId: string,
          options: AddressOptions & { withSavepoint?: string | boolean; timeout?: number },
        ) => (await controlCommands()).cancel(jobId, options, io),
      ),
    );

  addressOptions(
    program
      .command('stop')
      .description('stop a running job with a final savepoint')
      .argument('<jobid>', 'the job id', jobIdArgument('job id')),
  )
    .option(
      '--savepoint-path <dir>',
      'directory to create the savepoint in (default: --savepoint-dir of weir run)',
    )
    .option('--timeout <ms>', 'give up waiting after MS milliseconds', positiveInteger('--timeout'))
    .action(
      act(async (jobId: string, options: AddressOptions & { savepointPath?: string; timeout?: number }) =>
        (await controlCommands()).stop(jobId, options, io),
      ),
    );

  addressOptions(
    program
      .command('checkpoints')
      .description("show a running job's checkpoint counts and history")
      .argument('<jobid>', 'the job id', jobIdArgument('job id')),
  )
    .option('--json', 'print the REST response')
    .action(
      act(async (jobId: string, options: AddressOptions & { json?: boolean }) =>
        (await controlCommands()).checkpoints(jobId, options, io),
      ),
    );

  program
    .command('inspect')
    .description('describe a checkpoint or savepoint offline and verify the checksum of every file')
    .argument('<path>', 'checkpoint or savepoint directory, or its _metadata file')
    .option('--no-verify', 'do not read the state files')
    .option('--json', 'print the report as JSON')
    .action(
      act(async (path: string, options: { verify?: boolean; json?: boolean }) =>
        (await inspectCommand()).inspect(path, options, io),
      ),
    );

  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (error) {
    const code = (error as { exitCode?: number }).exitCode;
    return code === 0 ? 0 : 2;
  }
  return exitCode;
}
