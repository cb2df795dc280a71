import { CommanderError, type Command } from 'commander';

import { MIN_DELETION_WAITING_DAYS } from '../../data/crypto/key-lifecycle.js';
import { UsageError } from '../cli-context.js';

/** Exit code of a command-line usage error in the key deletion and erasure commands. */
export const EXIT_USAGE = 2;

/** Maximum waiting period accepted, in days (10 years), the same as for the setting. */
const MAX_WAITING_DAYS = 3650;

/** Makes every commander usage error of `command` (unknown option, missing value) exit with 2. */
export function exitTwoOnUsageError(command: Command): Command {
  return command.exitOverride((error) => {
    if (error.exitCode === 0) throw error;
    throw new CommanderError(EXIT_USAGE, error.code, error.message);
  });
}

/**
 * Wraps a command action so that a {@link UsageError} it raises is printed as one line and ends
 * the process with exit code 2, without a stack trace.
 */
export function usageErrorsExitTwo<A extends unknown[]>(
  action: (...args: A) => Promise<void>,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await action(...args);
    } catch (error) {
      if (!(error instanceof UsageError)) throw error;
      process.stderr.write(`mindweave: ${error.message}\n`);
      throw new CommanderError(EXIT_USAGE, 'mindweave.usage', error.message);
    }
  };
}

/**
 * Parses `--waiting-days`: a whole number of days from 7 to 3650, or `defaultDays` when the
 * option is absent.
 *
 * @throws UsageError when the value is not such a number.
 */
export function parseWaitingDays(value: string | undefined, defaultDays: number): number {
  if (value === undefined) return defaultDays;
  const days = /^[0-9]{1,5}$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isInteger(days) || days < MIN_DELETION_WAITING_DAYS || days > MAX_WAITING_DAYS) {
    throw new UsageError(
      `invalid --waiting-days ${JSON.stringify(value)}: expected a whole number of days from ` +
        `${MIN_DELETION_WAITING_DAYS} to ${MAX_WAITING_DAYS}`,
    );
  }
  return days;
}
