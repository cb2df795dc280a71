import type { Redis } from 'ioredis';
import type { Logger } from 'pino';

import type { Config } from '../../config/config.schema.js';
import type { Database } from '../../data/database/database.js';
import { MemoryBurstCounter, RedisBurstCounter } from './burst-counter.js';
import { BurstDetector } from './burst-detector.js';
import { perimeterEventListeners, type PerimeterEventListeners } from './perimeter-events.js';
import type { SecurityEventInput, SecurityEventSink } from './security-event.js';
import {
  createSecurityEventRecorder,
  type SecurityEventRecorder,
  type SecurityEventRecorderOptions,
} from './security-event-recorder.js';
import { purgeSecurityEvents } from './security-event.repository.js';

/** Retention runs at start and then once per this interval. */
const RETENTION_INTERVAL_MS = 60 * 60 * 1000;

// Memory burst counters kept per process; the least recently counted client is forgotten first.
const MAX_MEMORY_BURST_KEYS = 100_000;

/** The security-events store of one server: recorder, perimeter listeners and retention. */
export interface SecurityEvents extends SecurityEventSink {
  readonly recorder: SecurityEventRecorder;
  readonly perimeter: PerimeterEventListeners;
  /** Deletes events past SECURITY_EVENTS_RETENTION_DAYS; returns how many it deleted. */
  purgeExpired(): Promise<number>;
  /** Stops retention and writes the queued events. */
  close(): Promise<void>;
}

export interface SecurityEventsOptions {
  config: Pick<
    Config,
    | 'SECURITY_EVENTS_RETENTION_DAYS'
    | 'SECURITY_EVENTS_BURST_THRESHOLD'
    | 'SECURITY_EVENTS_BURST_WINDOW_SECONDS'
    | 'SECURITY_EVENTS_REDIS_PREFIX'
    | 'WAF_MODE'
  >;
  db: Database;
  logger: Logger;
  /** Shares burst counts between server processes; counts stay in this process without it. */
  redis?: Redis | null;
  recorder?: SecurityEventRecorderOptions;
  /** Purge expired events at start and every hour; default true. */
  retention?: boolean;
}

function createBurstDetector(options: SecurityEventsOptions, sink: SecurityEventSink) {
  const { config, logger } = options;
  if (config.SECURITY_EVENTS_BURST_THRESHOLD === 0) return null;
  const memory = new MemoryBurstCounter(MAX_MEMORY_BURST_KEYS);
  const shared = options.redis
    ? new RedisBurstCounter(options.redis, config.SECURITY_EVENTS_REDIS_PREFIX)
    : null;
  const rule = {
    threshold: config.SECURITY_EVENTS_BURST_THRESHOLD,
    windowMs: config.SECURITY_EVENTS_BURST_WINDOW_SECONDS * 1000,
  };
  return new BurstDetector(rule, shared ?? memory, shared ? memory : null, sink, logger);
}

/**
 * Creates the security-events store. Events are queued and written in batches; with
 * `retention`, events older than SECURITY_EVENTS_RETENTION_DAYS are purged at start and hourly.
 */
export function createSecurityEvents(options: SecurityEventsOptions): SecurityEvents {
  const { config, db, logger } = options;
  const recorder = createSecurityEventRecorder(db, logger, options.recorder);
  const sink: SecurityEventSink = { record: (event: SecurityEventInput) => recorder.record(event) };
  const perimeter = perimeterEventListeners(
    sink,
    createBurstDetector(options, sink),
    config.WAF_MODE,
  );

  const purgeExpired = async () => {
    const removed = await purgeSecurityEvents(db, config.SECURITY_EVENTS_RETENTION_DAYS);
    if (removed > 0) {
      logger.info(
        { removed, retentionDays: config.SECURITY_EVENTS_RETENTION_DAYS },
        'purged expired security events',
      );
    }
    return removed;
  };
  let purging: Promise<unknown> = Promise.resolve();
  const purgeInBackground = () => {
    purging = purgeExpired().catch((error: unknown) =>
      logger.error({ err: error }, 'failed to purge expired security events'),
    );
  };

  let retentionTimer: NodeJS.Timeout | undefined;
  if (options.retention ?? true) {
    purgeInBackground();
    retentionTimer = setInterval(purgeInBackground, RETENTION_INTERVAL_MS);
    retentionTimer.unref();
  }

  return {
    recorder,
    perimeter,
    record: (event) => recorder.record(event),
    purgeExpired,
    async close() {
      clearInterval(retentionTimer);
      await purging;
      await recorder.close();
    },
  };
}
