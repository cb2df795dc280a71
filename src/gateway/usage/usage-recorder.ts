import type { Logger } from 'pino';

import type { Database } from '../../data/database/database.js';
import { rejectsRows } from '../../data/database/database-errors.js';
import { enterTenant, inTenant } from '../../data/database/tenant-scope.js';
import { buildAuditRecord, type AuditRecord } from '../../monitoring/audit/audit-entry.js';
import { AuditChainWorker } from '../../monitoring/audit/audit-chain-worker.js';
import { appendAuditRecords, MAIN_LOG } from '../../monitoring/audit/audit.repository.js';
import { touchApiKeys } from '../../tenancy/api-keys/api-key.repository.js';
import { insertGatewayCalls } from './gateway-call.repository.js';
import type { GatewayCall } from './gateway-call.js';

/** Records finished gateway calls. */
export interface UsageRecorder {
  record(call: GatewayCall): void;
  /** False while writes fail: the gateway then refuses calls it could not record. */
  healthy(): boolean;
  /** Writes everything queued; resolves when it is stored. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

export interface UsageRecorderOptions {
  /** Maximum time a finished call waits before it is written. */
  flushIntervalMs?: number;
  /** Calls that start a write at once, without waiting for the interval. */
  writeAfterCalls?: number;
  /** Most calls written in one transaction. */
  batchSize?: number;
  /** Calls held in memory while the database is unreachable; beyond it, new calls are dropped and counted. */
  maxQueued?: number;
  /** How long `close()` keeps trying to write calls that wait because the database is down. */
  closeWaitMs?: number;
  /**
   * How long one write may run before the recorder reports itself unhealthy: a write that
   * neither commits nor fails (a held row lock, a host that stopped responding) must stop the
   * gateway as a failed one does.
   */
  writeStallMs?: number;
  /**
   * Whether the audit entries of call records are sealed and hashed in a worker thread, so that
   * work does not delay requests. Defaults to true. False does it in the calling thread.
   */
  chainInWorker?: boolean;
}

function auditRecordOf(call: GatewayCall): AuditRecord {
  return buildAuditRecord(
    { type: 'api_key', id: call.apiKeyId, orgId: call.orgId, projectId: call.projectId },
    call.context,
    {
      action: 'gateway.request',
      resourceType: 'model',
      metadata: {
        provider: call.provider,
        model: call.model,
        key: call.maskedKey,
        streamed: call.streamed,
        status: call.status,
        errorCode: call.errorCode,
        inputTokens: call.inputTokens,
        outputTokens: call.outputTokens,
        latencyMs: call.latencyMs,
      },
    },
  );
}

function callsByOrganization(calls: GatewayCall[]): Map<string, GatewayCall[]> {
  const groups = new Map<string, GatewayCall[]>();
  for (const call of calls) {
    const group = groups.get(call.orgId);
    if (group) group.push(call);
    else groups.set(call.orgId, [call]);
  }
  return groups;
}

/** Times the database may reject one call's row before the call is dropped. */
const MAX_ATTEMPTS = 5;
const MAX_RETRY_DELAY_MS = 1000;

// Writing last_used_at once a minute per key is precise enough and keeps the write rate flat.
const TOUCH_INTERVAL_MS = 60_000;

/**
 * Creates the recorder that stores gateway calls and their audit entries in batches, one
 * transaction per batch, so recording costs the request path nothing but a queue push.
 */
export function createUsageRecorder(
  db: Database,
  logger: Logger,
  options: UsageRecorderOptions = {},
): UsageRecorder {
  // A batch costs five database round trips whatever its size, but its work arrives in
  // one burst: the request thread encodes it, the worker thread seals it and PostgreSQL inserts
  // it. On two cores a burst of 50 calls held up the requests that arrived during it, so a
  // write starts as soon as 10 calls wait. Under heavier load, calls queue while a write runs,
  // and the next batch takes them all, up to `batchSize`. At a trickle, the interval gathers
  // them into fewer transactions.
  const flushIntervalMs = options.flushIntervalMs ?? 50;
  const writeAfterCalls = options.writeAfterCalls ?? 10;
  const batchSize = options.batchSize ?? 200;
  const maxQueued = options.maxQueued ?? 100_000;
  const closeWaitMs = options.closeWaitMs ?? 5000;
  const writeStallMs = options.writeStallMs ?? 5000;
  const chainWorker = options.chainInWorker === false ? null : new AuditChainWorker();
  const queue: GatewayCall[] = [];
  let timer: NodeJS.Timeout | undefined;
  let writing: Promise<void> = Promise.resolve();
  // True while a drain started by the call count waits for the previous write. Calls that
  // arrive meanwhile start no further drain, because the waiting one takes them all.
  let drainWaiting = false;
  let dropped = 0;
  const lastTouched = new Map<string, number>();
  const attempts = new WeakMap<GatewayCall, number>();

  const keysToTouch = (calls: GatewayCall[]): string[] => {
    const now = Date.now();
    const due = new Set<string>();
    for (const call of calls) {
      if ((lastTouched.get(call.apiKeyId) ?? 0) + TOUCH_INTERVAL_MS <= now) {
        lastTouched.set(call.apiKeyId, now);
        due.add(call.apiKeyId);
      }
    }
    return [...due];
  };

  // True from a write that the database could not take until a write succeeds. The calls of
  // that write wait at the front of the queue meanwhile, so a retry is always scheduled.
  let failing = false;
  let failedWrites = 0;
  let retryDelayMs = flushIntervalMs;
  let closed = false;
  // The start time and size of the write in progress, if one is.
  let writeStartedAt: number | null = null;
  let writeSize = 0;

  // Row-level security admits one organization's rows at a time, so the transaction switches
  // to each organization of the batch for its call rows and key touches. The first one is set
  // with BEGIN, in the same round trip. The audit append is one insert for the whole batch,
  // because its policy admits entries of any organization.
  const writeBatch = async (calls: GatewayCall[]): Promise<void> => {
    const groups = callsByOrganization(calls);
    const [firstOrg] = groups.keys();
    if (firstOrg === undefined) return;
    await inTenant(db, firstOrg, async (tx) => {
      for (const [orgId, orgCalls] of groups) {
        if (orgId !== firstOrg) await enterTenant(tx, orgId);
        await insertGatewayCalls(tx, orgCalls);
        await touchApiKeys(tx, orgId, keysToTouch(orgCalls));
      }
      await appendAuditRecords(tx, calls.map(auditRecordOf), MAIN_LOG, chainWorker?.chain);
    });
  };

  const written = (): void => {
    if (failing) logger.warn({ failedWrites }, 'gateway call records are being written again');
    failing = false;
    failedWrites = 0;
    retryDelayMs = flushIntervalMs;
  };

  /**
   * Writes `calls` and returns those to try again later, in their order. A write fails in one
   * of two ways:
   * - The database cannot take it: it is unreachable, lacks a grant, is read-only, or fails
   *   for any other reason than the rows. No call is dropped. They all wait and the recorder
   *   reports itself unhealthy until a write succeeds, so the gateway takes no new calls.
   * - PostgreSQL rejects the rows themselves (SQLSTATE class 22 or 23), for example a call of
   *   an organization erased while it ran. The calls are then written one by one, so one such
   *   call does not hold back the others, and a call rejected MAX_ATTEMPTS times is dropped
   *   and logged.
   */
  const write = async (calls: GatewayCall[]): Promise<GatewayCall[]> => {
    try {
      await writeBatch(calls);
      written();
      return [];
    } catch (error) {
      if (!rejectsRows(error)) {
        failing = true;
        failedWrites++;
        // The first failure and then every 100th, so an outage does not flood the log.
        if (failedWrites % 100 === 1) {
          logger.error(
            { err: error, waiting: queue.length + calls.length, failedWrites },
            'cannot record gateway calls; the gateway refuses calls until they are written',
          );
        }
        return calls;
      }
      // The statement reached the database, so it can take other rows.
      written();
      if (calls.length > 1) {
        const again: GatewayCall[] = [];
        for (const [index, call] of calls.entries()) {
          // The database went away during the split: the rest waits for the retry.
          if (failing) return [...again, ...calls.slice(index)];
          again.push(...(await write([call])));
        }
        return again;
      }
      const call = calls[0] as GatewayCall;
      const tries = (attempts.get(call) ?? 0) + 1;
      if (tries >= MAX_ATTEMPTS) {
        attempts.delete(call);
        logger.error(
          { err: error, requestId: call.context.requestId },
          'dropping a gateway call record that the database rejects',
        );
        return [];
      }
      attempts.set(call, tries);
      logger.warn(
        { err: error, requestId: call.context.requestId },
        'the database rejected a gateway call record; retrying',
      );
      return [call];
    }
  };

  // Tracks the batch in progress, including the call-by-call writes of a split batch, for
  // healthy() and for the count that close() logs.
  const writeTracked = async (calls: GatewayCall[]): Promise<GatewayCall[]> => {
    writeStartedAt = Date.now();
    writeSize = calls.length;
    try {
      return await write(calls);
    } finally {
      writeStartedAt = null;
      writeSize = 0;
    }
  };

  // Tries a failed write again after a delay that doubles from the flush interval up to
  // MAX_RETRY_DELAY_MS, so an outage costs the database one attempt a second at most.
  const retryLater = (): void => {
    if (closed) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => void drain(1), retryDelayMs);
    retryDelayMs = Math.min(retryDelayMs * 2, MAX_RETRY_DELAY_MS);
  };

  // Writes batches while at least `minimum` calls wait. Calls below the count wait for the
  // timer, and calls of a failed write for the retry.
  const drain = (minimum: number): Promise<void> => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    drainWaiting = minimum > 1;
    writing = writing.then(async () => {
      drainWaiting = false;
      while (queue.length >= minimum && queue.length > 0) {
        const again = await writeTracked(queue.splice(0, batchSize));
        if (again.length > 0) {
          queue.unshift(...again);
          retryLater();
          return;
        }
        if (timer) break;
      }
      if (queue.length > 0) schedule();
    });
    return writing;
  };

  function schedule(): void {
    if (closed) return;
    timer ??= setTimeout(() => void drain(1), flushIntervalMs);
  }

  return {
    record(call) {
      if (queue.length >= maxQueued) {
        dropped++;
        if (dropped === 1 || dropped % 1000 === 0) {
          logger.error({ dropped }, 'gateway call queue is full; calls are not being recorded');
        }
        return;
      }
      queue.push(call);
      // While writes fail, the timer paces the retries.
      if (queue.length < writeAfterCalls || failing) schedule();
      else if (!drainWaiting) void drain(writeAfterCalls);
    },
    // Unhealthy while writes fail, while one write has run for too long, and while the queue
    // is full: in each case the gateway would otherwise accept calls it cannot record.
    healthy: () =>
      !failing &&
      queue.length < maxQueued &&
      (writeStartedAt === null || Date.now() - writeStartedAt < writeStallMs),
    flush: () => drain(1),
    async close() {
      // Calls whose responses went out are still written if the database comes back within
      // `closeWaitMs`; after that they are counted in the log and lost.
      // A write that hangs cannot hold the stop beyond that wait either.
      const deadline = Date.now() + closeWaitMs;
      const writeAll = async () => {
        await drain(1);
        while (queue.length > 0 && Date.now() < deadline) {
          const wait = Math.min(retryDelayMs, Math.max(0, deadline - Date.now()));
          await new Promise((resolve) => setTimeout(resolve, wait));
          await drain(1);
        }
      };
      let expiry: NodeJS.Timeout | undefined;
      await Promise.race([
        writeAll(),
        new Promise((resolve) => (expiry = setTimeout(resolve, closeWaitMs))),
      ]);
      clearTimeout(expiry);
      closed = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      const unrecorded = queue.length + writeSize;
      if (unrecorded > 0) {
        logger.error(
          { unrecorded },
          'stopping with gateway call records that could not be written',
        );
      }
      await chainWorker?.close();
    },
  };
}
