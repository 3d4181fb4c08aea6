/** Parsers of command-line values: each refuses a bad value with a message naming the option and what it expects. */
import { InvalidArgumentError } from 'commander';

/** `--parallelism 4`, `--checkpoint-interval 100`. */
export function positiveInteger(name: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isInteger(n) || n < 1) {
      throw new InvalidArgumentError(`${name} must be a positive integer, got '${value}'`);
    }
    return n;
  };
}

/** `--rest-port 0` (any free port) to 65535. */
export function portNumber(name: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isInteger(n) || n < 0 || n > 65535) {
      throw new InvalidArgumentError(
        `${name} must be an integer from 0 (any free port) to 65535, got '${value}'`,
      );
    }
    return n;
  };
}

/** A job id as Flink writes it: 32 hexadecimal characters (normalized to lower case). */
export function jobIdArgument(name: string): (value: string) => string {
  return (value) => {
    if (!/^[0-9a-fA-F]{32}$/.test(value)) {
      throw new InvalidArgumentError(`${name} must be 32 hexadecimal characters, got '${value}'`);
    }
    return value.toLowerCase();
  };
}

/** `--address http://127.0.0.1:8081`: an http(s) URL without a path. */
export function restAddress(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidArgumentError(`--address must be a URL such as http://127.0.0.1:8081, got '${value}'`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InvalidArgumentError(`--address must be an http:// or https:// URL, got '${value}'`);
  }
  return url.origin;
}
