/** Restart strategies: whether and when a failed job restarts from its latest checkpoint. */
import { ConfigurationError } from '../core/errors.ts';

export type RestartStrategyConfig =
  | { readonly kind: 'none' }
  | { readonly kind: 'fixed-delay'; readonly attempts: number; readonly delayMs: number }
  | {
      readonly kind: 'exponential-delay';
      readonly initialDelayMs: number;
      readonly maxDelayMs: number;
      readonly multiplier: number;
      /** Failures further apart than this reset the delay to its initial value. */
      readonly resetAfterMs: number;
      readonly attempts: number;
    }
  | {
      readonly kind: 'failure-rate';
      readonly maxFailuresPerInterval: number;
      readonly intervalMs: number;
      readonly delayMs: number;
    };

/**
 * With checkpointing, Flink restarts indefinitely with exponential delay. We bound the
 * attempts so that a deterministic bug ends `weir run` with an error instead of looping.
 */
export const DEFAULT_RESTART_WITH_CHECKPOINTING: RestartStrategyConfig = {
  kind: 'exponential-delay',
  initialDelayMs: 1_000,
  maxDelayMs: 60_000,
  multiplier: 1.5,
  resetAfterMs: 3_600_000,
  attempts: 10,
};

/** The decision after one failure. */
export type RestartDecision =
  | { readonly restart: true; readonly delayMs: number }
  | { readonly restart: false; readonly reason: string };

export interface RestartBackoff {
  onFailure(nowMs: number): RestartDecision;
}

export function createRestartBackoff(config: RestartStrategyConfig): RestartBackoff {
  validate(config);
  switch (config.kind) {
    case 'none':
      return { onFailure: () => ({ restart: false, reason: 'the restart strategy is none' }) };
    case 'fixed-delay': {
      let failures = 0;
      return {
        onFailure: () => {
          failures++;
          return failures <= config.attempts
            ? { restart: true, delayMs: config.delayMs }
            : {
                restart: false,
                reason: `fixed-delay restart strategy exhausted its ${config.attempts} attempts`,
              };
        },
      };
    }
    case 'exponential-delay': {
      let failures = 0;
      let delayMs = config.initialDelayMs;
      let lastFailureMs = Number.NEGATIVE_INFINITY;
      return {
        onFailure: (nowMs) => {
          if (nowMs - lastFailureMs > config.resetAfterMs) delayMs = config.initialDelayMs;
          lastFailureMs = nowMs;
          failures++;
          if (failures > config.attempts) {
            return {
              restart: false,
              reason: `exponential-delay restart strategy exhausted its ${config.attempts} attempts`,
            };
          }
          const current = delayMs;
          delayMs = Math.min(config.maxDelayMs, delayMs * config.multiplier);
          return { restart: true, delayMs: current };
        },
      };
    }
    case 'failure-rate': {
      const failureTimesMs: number[] = [];
      return {
        onFailure: (nowMs) => {
          failureTimesMs.push(nowMs);
          while (failureTimesMs.length > 0 && failureTimesMs[0] <= nowMs - config.intervalMs)
            failureTimesMs.shift();
          return failureTimesMs.length <= config.maxFailuresPerInterval
            ? { restart: true, delayMs: config.delayMs }
            : {
                restart: false,
                reason: `failure-rate restart strategy: more than ${config.maxFailuresPerInterval} failures within ${config.intervalMs} ms`,
              };
        },
      };
    }
  }
}

function validate(config: RestartStrategyConfig): void {
  const check = (what: string, value: number, min: number, integer = false): void => {
    if (
      typeof value !== 'number' ||
      !Number.isFinite(value) ||
      value < min ||
      (integer && !Number.isInteger(value))
    ) {
      throw new ConfigurationError(
        `restart strategy ${config.kind}: ${what} must be ${integer ? 'an integer' : 'a number'} >= ${min}, got ${String(value)}`,
      );
    }
  };
  switch (config.kind) {
    case 'none':
      return;
    case 'fixed-delay':
      check('attempts', config.attempts, 0, true);
      check('delayMs', config.delayMs, 0);
      return;
    case 'exponential-delay':
      check('initialDelayMs', config.initialDelayMs, 0);
      check('maxDelayMs', config.maxDelayMs, config.initialDelayMs);
      check('multiplier', config.multiplier, 1);
      check('resetAfterMs', config.resetAfterMs, 1);
      check('attempts', config.attempts, 0, true);
      return;
    case 'failure-rate':
      check('maxFailuresPerInterval', config.maxFailuresPerInterval, 1, true);
      check('intervalMs', config.intervalMs, 1);
      check('delayMs', config.delayMs, 0);
      return;
    default:
      throw new ConfigurationError(
        `unknown restart strategy '${(config as { kind: string }).kind}'; use none, fixed-delay, exponential-delay or failure-rate`,
      );
  }
}
