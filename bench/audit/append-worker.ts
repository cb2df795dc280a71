/**
 * One writer process of `append.ts`. It connects as the application role, warms up, reports
 * `ready`, appends from the `start` message until its time or entry limit, and reports `done`.
 */
import type { Database, Queryable } from '../../src/data/database/database.js';
import { APPLICATION_ROLE } from '../../src/data/database/open-database.js';
import { openPostgresDatabase } from '../../src/data/database/postgres-database.js';
import type { AuditRecord } from '../../src/monitoring/audit/audit-entry.js';
import {
  sealPersonalFields,
  type SealedPersonalFields,
} from '../../src/monitoring/audit/audit-record-sealing.js';
import {
  appendAuditRecords,
  AUDIT_COLUMNS,
  MAIN_LOG,
  storedTimestamp,
} from '../../src/monitoring/audit/audit.repository.js';
import { PLAIN_TABLE, type WorkerConfig, type WorkerMessage } from './append-protocol.js';
import { buildSampleRecord, SAMPLE_USER_COUNT } from './sample-records.js';

const COLUMNS = AUDIT_COLUMNS;

// Stand-ins of the stored hash formats: 64 lowercase hex characters and 32 bytes.
const HEX_HASH = 'ab'.repeat(32);
const LEAF_HASH = Buffer.alloc(32, 0xab);

function send(message: WorkerMessage): void {
  process.send?.(message);
}

function jsonText(value: unknown): string | null {
  return value === null ? null : JSON.stringify(value);
}

/**
 * Builds the baseline's multi-row INSERT with the values an append stores, reusing one sealed
 * ciphertext per user because the baseline measures storage without sealing or hashing.
 */
function plainInsert(records: AuditRecord[], sealed: SealedPersonalFields[], firstSeq: number) {
  const params: unknown[] = [];
  const rows: string[] = [];
  const timestamp = storedTimestamp(Date.now());
  records.forEach((record, index) => {
    const personal = sealed[(firstSeq + index) % sealed.length] as SealedPersonalFields;
    const values = [
      MAIN_LOG,
      firstSeq + index,
      timestamp,
      record.actorType,
      record.actorId,
      personal.actorEmail,
      personal.actorIp,
      personal.actorUserAgent,
      record.orgId,
      record.projectId,
      record.requestId,
      record.sessionId,
      record.action,
      record.resourceType,
      record.resourceId,
      jsonText(record.oldValues),
      jsonText(record.newValues),
      jsonText(record.metadata),
      record.sensitivity,
      record.complianceRelevant,
      HEX_HASH,
      HEX_HASH,
      LEAF_HASH,
    ];
    rows.push(`(${values.map((value) => `$${params.push(value)}`).join(', ')})`);
  });
  return {
    text: `INSERT INTO ${PLAIN_TABLE} (${COLUMNS.join(', ')}) VALUES ${rows.join(', ')}`,
    params,
  };
}

async function sealSamples(db: Database): Promise<SealedPersonalFields[]> {
  return db.transaction(async (tx: Queryable) => {
    const sealed: SealedPersonalFields[] = [];
    for (let user = 0; user < SAMPLE_USER_COUNT; user++) {
      sealed.push(await sealPersonalFields(tx, buildSampleRecord(user)));
    }
    return sealed;
  });
}

async function run(config: WorkerConfig): Promise<void> {
  const db = await openPostgresDatabase(config.url, { role: APPLICATION_ROLE, poolSize: 1 });
  try {
    let nextIndex = config.seqBase;
    const buildBatch = () =>
      Array.from({ length: config.batchSize }, () => buildSampleRecord(nextIndex++));

    // sealSamples creates every sample user's sealing key. The two warm-up batches load those
    // keys into the sealer's cache, so key setup stays out of the timed loop.
    const sealed = await sealSamples(db);
    const writeBatch =
      config.mode === 'chained'
        ? (records: AuditRecord[]) => db.transaction((tx) => appendAuditRecords(tx, records))
        : (records: AuditRecord[]) => {
            const insert = plainInsert(records, sealed, nextIndex - records.length);
            return db.transaction((tx) => tx.query(insert.text, insert.params));
          };
    for (let round = 0; round < 2; round++) {
      await writeBatch(
        Array.from({ length: SAMPLE_USER_COUNT }, () => buildSampleRecord(nextIndex++)),
      );
    }

    const start = await new Promise<bigint>((resolve) => {
      process.once('message', () => resolve(process.hrtime.bigint()));
      send({ type: 'ready' });
    });
    const deadline = start + BigInt(config.durationMs) * 1_000_000n;
    let entries = 0;
    let transactions = 0;
    while (entries < config.maxEntries && process.hrtime.bigint() < deadline) {
      await writeBatch(buildBatch());
      entries += config.batchSize;
      transactions++;
    }
    const elapsedMs = Number(process.hrtime.bigint() - start) / 1e6;
    send({ type: 'done', entries, transactions, elapsedMs });
  } finally {
    await db.close();
  }
}

const configText = process.argv[2];
if (configText === undefined) {
  console.error('append-worker: missing JSON config argument. Start it through append.ts.');
  process.exit(2);
}
run(JSON.parse(configText) as WorkerConfig).then(
  () => process.disconnect?.(),
  (error: unknown) => {
    send({
      type: 'error',
      message: error instanceof Error ? (error.stack ?? error.message) : String(error),
    });
    process.exitCode = 1;
    process.disconnect?.();
  },
);
