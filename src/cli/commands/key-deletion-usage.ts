import { MIN_DELETION_WAITING_DAYS } from '../../data/crypto/key-lifecycle.js';
import { UsageError } from '../cli-context.js';

/** Maximum waiting period accepted, in days (10 years), the same as for the setting. */
const MAX_WAITING_DAYS = 3650;

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
