import { InvalidArgumentError } from 'commander';
import { z } from 'zod';

/** Exit code of a command-line usage error in the `waf` commands. */
export const EXIT_USAGE = 2;

const UNIT_MS = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;

const DURATION = /^([1-9][0-9]{0,5})([mhdw])$/;

// Maximum duration accepted: 100 years.
const MAX_AGO_MS = 100 * 365 * UNIT_MS.d;

const isoDate = z.iso.date();
const isoDateTime = z.iso.datetime({ offset: true });

/** Raises the commander error for an invalid option value, with exit code 2. */
function invalid(message: string): never {
  const error = new InvalidArgumentError(message);
  error.exitCode = EXIT_USAGE;
  throw error;
}

/**
 * Parses a point in time given as a duration before `now` (`30m`, `24h`, `7d`, `2w`), an
 * ISO 8601 date (`2026-12-01`, midnight UTC) or an ISO 8601 date and time with a UTC offset
 * (`2026-12-01T08:00:00Z`).
 */
export function parseWhen(value: string, now: Date): Date {
  const duration = DURATION.exec(value);
  if (duration) {
    const ms = Number(duration[1]) * UNIT_MS[duration[2] as keyof typeof UNIT_MS];
    if (ms > MAX_AGO_MS) invalid('Use a duration of at most 100 years.');
    return new Date(now.getTime() - ms);
  }
  if (isoDate.safeParse(value).success) return new Date(`${value}T00:00:00Z`);
  if (isoDateTime.safeParse(value).success) return new Date(value);
  return invalid(
    'Use a duration such as 30m, 24h, 7d or 2w, an ISO 8601 date such as 2026-12-01, ' +
      'or a date and time with an offset such as 2026-12-01T08:00:00Z.',
  );
}

/** Parses a whole number from 1 to `max` for an option. */
export function parseCount(value: string, max: number): number {
  if (!/^[1-9][0-9]{0,6}$/.test(value) || Number(value) > max) {
    invalid(`Use a whole number from 1 to ${max}.`);
  }
  return Number(value);
}
