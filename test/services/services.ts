// Real external services for tests: a single-node Kafka broker and a PostgreSQL server on
// 127.0.0.1, started by scripts/services/*.sh (idempotent, serialized with flock, cached under
// .cache/services). Each helper runs its script at most once per test process; a service that
// cannot start makes the caller fail with the script's output, never a silent skip.
//
// The first Kafka start downloads the broker's jars from Maven Central: give suites that call
// these helpers a generous hookTimeout (SERVICE_START_TIMEOUT_MS).

import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** A hook timeout for suites that start services (the first start downloads jars). */
export const SERVICE_START_TIMEOUT_MS = 300_000;

const scriptsDir = fileURLToPath(new URL('../../scripts/services/', import.meta.url));

function runScript(script: string, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'bash',
      [scriptsDir + script, command],
      { timeout: SERVICE_START_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const output = `${stdout}${stderr}`.trim();
        if (error) {
          reject(
            new Error(
              `scripts/services/${script} ${command} failed (${error.message.split('\n')[0]}):\n${output}`,
            ),
          );
        } else {
          resolve(stdout);
        }
      },
    );
  });
}

function parseEnv(output: string): Map<string, string> {
  const env = new Map<string, string>();
  for (const line of output.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) env.set(line.slice(0, eq).trim(), line.slice(eq + 1).trim());
  }
  return env;
}

async function startService(script: string, variable: string): Promise<string> {
  await runScript(script, 'start');
  const value = parseEnv(await runScript(script, 'env')).get(variable);
  if (!value) throw new Error(`scripts/services/${script} env printed no ${variable}`);
  return value;
}

let kafka: Promise<{ bootstrap: string }> | undefined;
let postgres: Promise<{ connectionString: string }> | undefined;

/** Starts (or finds running) the test Kafka broker; resolves to its bootstrap address host:port. */
export function ensureKafka(): Promise<{ bootstrap: string }> {
  kafka ??= startService('kafka.sh', 'WEIR_KAFKA_BOOTSTRAP').then((bootstrap) => ({ bootstrap }));
  // A failed start is retried by the next caller rather than cached.
  kafka.catch(() => {
    kafka = undefined;
  });
  return kafka;
}

/** Starts (or finds running) the test PostgreSQL server; resolves to a connection string for role/db weir. */
export function ensurePostgres(): Promise<{ connectionString: string }> {
  postgres ??= startService('postgres.sh', 'WEIR_PG_URL').then((connectionString) => ({ connectionString }));
  postgres.catch(() => {
    postgres = undefined;
  });
  return postgres;
}
