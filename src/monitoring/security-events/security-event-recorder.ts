import { isIP } from 'node:net';

import type { Logger } from 'pino';

import type { Database } from '../../data/database/database.js';
import { maskLocation, maskSample } from './sample-masking.js';
import type { SecurityEventInput, SecurityEventSink } from './security-event.js';
import { insertSecurityEvents, type SecurityEventRow } from './security-event.repository.js';

/** Buffers security events and writes them in batches, off the request path. */
export interface SecurityEventRecorder extends SecurityEventSink {
  /** Events dropped because the queue was full or their batch kept failing. */
  readonly dropped: number;
  /** Writes every queued event; resolves once they are stored or given up. */
  flush(): Promise<void>;
  /** Stops the timer and writes what is queued. */
  close(): Promise<void>;
}

export interface SecurityEventRecorderOptions {
  /** Maximum time an event waits in the queue before it is written; default 250 ms. */
  flushIntervalMs?: number;
  /** Events written by one INSERT; default 500. */
  batchSize?: number;
  /** Events held in memory; beyond it new events are dropped and counted. Default 10,000. */
  maxQueued?: number;
}

// A batch that fails is retried this many times in all before its events are dropped.
const MAX_ATTEMPTS = 3;

// A full queue is logged at the first dropped event and then once per this many.
const DROP_LOG_EVERY = 1000;

// PostgreSQL text cannot store U+0000; ids and sources come from this process, but are
// checked anyway because a bad row would fail its whole batch.
const SOURCE_PATTERN = /^[a-z][a-z0-9_]{0,31}$/;
const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MAX_RULE_IDS = 64;
const MAX_RULE_ID_LENGTH = 100;
const MAX_REQUEST_ID_LENGTH = 100;

function cleanRuleId(ruleId: string): string {
  return ruleId.replace(/[^\x21-\x7e]/g, '?').slice(0, MAX_RULE_ID_LENGTH);
}

/** Builds the row to insert: masks the sample and location and fits every field to its column. */
export function rowOf(event: SecurityEventInput): SecurityEventRow {
  const ip = event.clientIp?.split('%')[0] ?? null;
  const requestId = event.requestId?.replace(/[^\x21-\x7e]/g, '') ?? null;
  return {
    occurredAt: event.occurredAt ?? new Date(),
    kind: event.kind,
    severity: event.severity,
    source: SOURCE_PATTERN.test(event.source) ? event.source : 'unknown',
    clientIp: ip !== null && isIP(ip) !== 0 ? ip : null,
    ruleIds: [...new Set((event.ruleIds ?? []).map(cleanRuleId))].slice(0, MAX_RULE_IDS),
    location: event.location ? maskLocation(event.location) : null,
    sample: event.sample ? maskSample(event.sample) : null,
    requestId: requestId ? requestId.slice(0, MAX_REQUEST_ID_LENGTH) : null,
    orgId: event.orgId && UUID_PATTERN.test(event.orgId) ? event.orgId : null,
    details: event.details ?? {},
  };
}

interface Pending {
  event: SecurityEventInput;
  attempts: number;
}

/**
 * Creates the recorder. `record` only pushes onto a bounded queue, and a timer writes the
 * queue in batches, so a flood of blocked requests costs each request a push and nothing
 * more. The writer masks the samples, so raw samples stay in memory only until their batch
 * runs.
 */
export function createSecurityEventRecorder(
  db: Database,
  logger: Logger,
  options: SecurityEventRecorderOptions = {},
): SecurityEventRecorder {
  const flushIntervalMs = options.flushIntervalMs ?? 250;
  const batchSize = options.batchSize ?? 500;
  const maxQueued = options.maxQueued ?? 10_000;
  const queue: Pending[] = [];
  let timer: NodeJS.Timeout | undefined;
  let writing: Promise<void> = Promise.resolve();
  let dropped = 0;
  let closed = false;

  const drop = (count: number, reason: string) => {
    const before = dropped;
    dropped += count;
    if (
      before === 0 ||
      Math.floor(before / DROP_LOG_EVERY) !== Math.floor(dropped / DROP_LOG_EVERY)
    ) {
      logger.warn({ dropped, reason }, 'security events dropped');
    }
  };

  const writeBatch = async (batch: Pending[]): Promise<void> => {
    try {
      await insertSecurityEvents(
        db,
        batch.map((pending) => rowOf(pending.event)),
      );
    } catch (error) {
      const retry = batch.filter((pending) => ++pending.attempts < MAX_ATTEMPTS);
      logger.error(
        { err: error, events: batch.length, retrying: retry.length },
        'failed to write security events',
      );
      drop(batch.length - retry.length, 'write_failed');
      // A failed batch goes back as single events, so one bad row cannot hold back the others.
      const room = Math.max(0, maxQueued - queue.length);
      queue.unshift(...retry.slice(0, room));
      drop(Math.max(0, retry.length - room), 'queue_full');
      if (!closed) schedule();
    }
  };

  const drain = (): Promise<void> => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    writing = writing.then(async () => {
      while (queue.length > 0) {
        const first = queue[0] as Pending;
        // Events that failed before are written one at a time.
        const size = first.attempts > 0 ? 1 : batchSize;
        const batch = queue.splice(0, size);
        await writeBatch(batch);
        if (timer) break;
      }
    });
    return writing;
  };

  function schedule(): void {
    timer ??= setTimeout(() => void drain(), flushIntervalMs);
    timer.unref();
  }

  return {
    get dropped() {
      return dropped;
    },
    record(event) {
      if (queue.length >= maxQueued) {
        drop(1, 'queue_full');
        return;
      }
      queue.push({ event, attempts: 0 });
      if (queue.length >= batchSize) void drain();
      else if (!closed) schedule();
    },
    flush: drain,
    async close() {
      // Once closed, failed events are retried at once instead of on a timer, so this drain
      // ends with every event written or dropped.
      closed = true;
      await drain();
    },
  };
}
