import type { FastifyBaseLogger } from 'fastify';

import { isDatabaseUnavailable } from '../data/database/database-errors.js';

/** At most one log line per this interval while the database cannot be reached. */
const OUTAGE_LOG_INTERVAL_MS = 10_000;

/**
 * Returns a function that logs a failed request's error. While the database cannot be reached,
 * every request that needs it fails the same way, so those errors are logged once per
 * interval with the count of the ones left out, not once per request.
 */
export function requestFailureLogger(): (
  log: FastifyBaseLogger,
  error: unknown,
  msg: string,
) => void {
  let lastOutageLog = 0;
  let suppressed = 0;
  return (log, error, msg) => {
    if (!isDatabaseUnavailable(error)) {
      log.error({ err: error }, msg);
      return;
    }
    const now = Date.now();
    if (now - lastOutageLog < OUTAGE_LOG_INTERVAL_MS) {
      suppressed++;
      return;
    }
    log.error({ err: error, suppressed }, `${msg}: the database cannot be reached`);
    lastOutageLog = now;
    suppressed = 0;
  };
}
