import type { Database } from '../../data/database/database.js';
import { SYSTEM_ACTOR, SYSTEM_CONTEXT } from '../../http/request-context.js';
import { buildAuditRecord } from './audit-entry.js';
import { readStoredEntries } from './audit-entry.reader.js';
import { appendAuditRecords } from './audit.repository.js';
import { ChainVerifier } from './chain-verifier.js';
import { formatCheckpoint, signCheckpoint } from './checkpoint.js';
import { insertCheckpoint } from './checkpoint.repository.js';
import { verifyAuditLog } from './audit-verify.service.js';
import { MerkleFrontier } from './merkle.js';
import { insertSeal, listSeals, sealFrontier } from './retention-seal.repository.js';
import type { AuditSigningKey } from './signing-key.js';

/** Seven years, the default time audit entries are kept. */
export const DEFAULT_RETENTION_DAYS = 2557;

const PARTITION_PATTERN = /^audit_logs_(\d{4})_(\d{2})$/;

export interface RetentionResult {
  partition: string;
  firstSeq: number;
  lastSeq: number;
  entries: number;
}

/** Monthly partitions whose whole month ended before `cutoff`, oldest first. */
async function expiredPartitions(db: Database, cutoff: Date): Promise<string[]> {
  const { rows } = await db.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_inherits i
       JOIN pg_class c ON c.oid = i.inhrelid
       JOIN pg_class p ON p.oid = i.inhparent
      WHERE p.relname = 'audit_logs'`,
  );
  return rows
    .map((row) => row.name)
    .filter((name) => {
      const match = PARTITION_PATTERN.exec(name);
      if (!match) return false;
      const end = Date.UTC(Number(match[1]), Number(match[2]), 1);
      return end <= cutoff.getTime();
    })
    .sort();
}

/**
 * Drops monthly audit partitions older than the retention period, oldest first. This is the
 * one path that removes audit entries, and it needs the database owner's rights. Before a
 * partition goes, its entries are verified from the previous seal and a checkpoint of the log
 * up to its last entry is signed. A seal row keeps that entry's hash and the Merkle frontier,
 * so `audit verify` continues across the gap. The drop itself is recorded as an
 * `audit.partition_dropped` entry in the same transaction.
 */
export async function retainAuditLog(
  db: Database,
  key: AuditSigningKey,
  options: { logId: string; retentionDays: number; now?: Date; dryRun?: boolean },
): Promise<RetentionResult[]> {
  const now = options.now ?? new Date();
  const cutoff = new Date(now.getTime() - options.retentionDays * 86_400_000);
  const results: RetentionResult[] = [];
  const partitions = await expiredPartitions(db, cutoff);
  if (partitions.length === 0) return results;

  // The whole log must verify first. A check of the expiring entries alone misses a re-hashed
  // last entry of a partition, because its broken link is in the next partition, and the drop
  // would destroy the evidence.
  const report = await verifyAuditLog(db, { logId: options.logId, verifierKey: key });
  if (!report.ok) {
    throw new Error(
      `audit log fails verification at seq ${report.fault?.seq} (${report.fault?.kind}); ` +
        'retention stopped, run audit verify for details',
    );
  }

  const last = (await listSeals(db, options.logId)).at(-1);
  let firstSeq = last ? last.lastSeq + 1 : 1;
  let resumeFrom = last
    ? { previousHash: last.lastEntryHash, frontier: sealFrontier(last) }
    : undefined;
  for (const partition of partitions) {
    const range = await db.query<{ min: number | null; max: number | null; count: number }>(
      `SELECT min(seq)::int8 AS min, max(seq)::int8 AS max, count(*)::int8 AS count FROM ${partition}`,
    );
    const { min, max, count } = range.rows[0] ?? { min: null, max: null, count: 0 };
    if (min === null || max === null) {
      if (!options.dryRun) await db.query(`DROP TABLE ${partition}`);
      results.push({ partition, firstSeq, lastSeq: firstSeq - 1, entries: 0 });
      continue;
    }
    if (min !== firstSeq || count !== max - min + 1) {
      throw new Error(
        `partition ${partition} holds seq ${min}..${max} (${count} entries) but the log continues ` +
          `at seq ${firstSeq}; run audit verify before retention`,
      );
    }

    const verifier = new ChainVerifier({
      logId: options.logId,
      firstSeq: BigInt(firstSeq),
      resumeFrom,
    });
    for await (const entry of readStoredEntries(db, options.logId, { afterSeq: firstSeq - 1 })) {
      if (Number(entry.seq) > max) break;
      const fault = verifier.push(entry);
      if (fault)
        throw new Error(
          `audit entry ${fault.seq} fails verification (${fault.kind}); retention stopped`,
        );
    }
    const verified = verifier.finish();
    if (!verified.ok || verified.treeSize !== max || !verified.lastEntryHash) {
      throw new Error(`audit entries ${firstSeq}..${max} do not verify; retention stopped`);
    }
    results.push({ partition, firstSeq, lastSeq: max, entries: count });
    const frontier = verifier.frontierState();
    // A dry run drops nothing, so the next partition continues from this one's state here.
    const sealedFirstSeq = firstSeq;
    firstSeq = max + 1;
    resumeFrom = {
      previousHash: verified.lastEntryHash,
      frontier: MerkleFrontier.fromState(
        max,
        frontier.map((hex) => Buffer.from(hex, 'hex')),
      ),
    };
    if (options.dryRun) continue;

    await sealAndDrop(db, key, options.logId, partition, {
      firstSeq: sealedFirstSeq,
      lastSeq: max,
      lastEntryHash: verified.lastEntryHash,
      rootHash: verified.rootHash,
      frontier,
    });
  }
  return results;
}

async function sealAndDrop(
  db: Database,
  key: AuditSigningKey,
  logId: string,
  partition: string,
  sealed: {
    firstSeq: number;
    lastSeq: number;
    lastEntryHash: string;
    rootHash: Uint8Array;
    frontier: string[];
  },
): Promise<void> {
  const body = formatCheckpoint({
    origin: key.name,
    treeSize: sealed.lastSeq,
    rootHash: sealed.rootHash,
    time: new Date().toISOString(),
    extensions: [],
  });
  const checkpointNote = signCheckpoint(body, key);
  await db.transaction(async (tx) => {
    await insertCheckpoint(tx, logId, {
      treeSize: sealed.lastSeq,
      rootHash: sealed.rootHash,
      signedNote: checkpointNote,
      frontier: sealed.frontier,
    });
    await insertSeal(tx, logId, {
      partitionName: partition,
      firstSeq: sealed.firstSeq,
      lastSeq: sealed.lastSeq,
      lastEntryHash: sealed.lastEntryHash,
      frontier: sealed.frontier,
      checkpointNote,
    });
    await appendAuditRecords(tx, [
      buildAuditRecord(SYSTEM_ACTOR, SYSTEM_CONTEXT, {
        action: 'audit.partition_dropped',
        resourceType: 'audit_partition',
        metadata: {
          partition,
          firstSeq: sealed.firstSeq,
          lastSeq: sealed.lastSeq,
          lastEntryHash: sealed.lastEntryHash,
          rootHash: Buffer.from(sealed.rootHash).toString('hex'),
        },
        sensitivity: 'critical',
        complianceRelevant: true,
      }),
    ]);
    await tx.query(`ALTER TABLE audit_logs DETACH PARTITION ${partition}`);
    await tx.query(`DROP TABLE ${partition}`);
  });
}
