import type { Queryable } from '../../data/database/database.js';
import { asStoredCiphertext, type AuditEntryFields } from './canonical-encoding.js';
import { digestEntry } from './entry-hash.js';
import { MerkleFrontier } from './merkle.js';
import type { AuditRecord } from './audit-entry.js';
import {
  sealPersonalFields,
  storableText,
  type SealedPersonalFields,
} from './audit-record-sealing.js';
import { auditAppended } from './audit-events.js';

/** The log every entry goes to; the schema allows more logs later. */
export const MAIN_LOG = 'main';

/** The `audit_logs` columns an append writes, in the order of its VALUES rows. */
export const AUDIT_COLUMNS = [
  'log_id',
  'seq',
  'timestamp',
  'actor_type',
  'actor_id',
  'actor_email',
  'actor_ip',
  'actor_user_agent',
  'org_id',
  'project_id',
  'request_id',
  'session_id',
  'action',
  'resource_type',
  'resource_id',
  'old_values',
  'new_values',
  'metadata',
  'sensitivity',
  'compliance_relevant',
  'previous_hash',
  'entry_hash',
  'leaf_hash',
] as const;

/** Entries hashed between two turns of the event loop. */
const YIELD_EVERY = 32;

/** The head of a log, read under its row lock. */
interface LockedHead {
  nextSeq: number;
  lastHash: string | null;
  lastTimestamp: string | null;
  frontier: string[];
}

/** Formats a time as stored: UTC with microseconds, `YYYY-MM-DDTHH:MM:SS.ffffffZ`. */
export function storedTimestamp(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '000Z');
}

async function lockHead(tx: Queryable, logId: string): Promise<LockedHead> {
  const result = await tx.query<LockedHead>(
    `SELECT next_seq AS "nextSeq", last_hash AS "lastHash", frontier,
            to_char(last_timestamp AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
              AS "lastTimestamp"
       FROM audit_log_heads WHERE log_id = $1 FOR UPDATE`,
    [logId],
  );
  const head = result.rows[0];
  if (!head) throw new Error(`audit log ${logId} has no head row`);
  return head;
}

function toFields(
  record: AuditRecord,
  sealed: SealedPersonalFields,
  position: { logId: string; seq: number; timestamp: string; previousHash: string | null },
): AuditEntryFields {
  const text = (value: string | null) => (value === null ? null : storableText(value));
  const sealedText = (value: string | null) => (value === null ? null : asStoredCiphertext(value));
  return {
    seq: String(position.seq),
    logId: position.logId,
    timestamp: position.timestamp,
    actorType: record.actorType,
    actorId: record.actorId,
    actorEmail: sealedText(sealed.actorEmail),
    actorIp: sealedText(sealed.actorIp),
    actorUserAgent: sealedText(sealed.actorUserAgent),
    orgId: record.orgId,
    projectId: record.projectId,
    requestId: record.requestId,
    sessionId: record.sessionId,
    action: storableText(record.action),
    resourceType: text(record.resourceType),
    resourceId: record.resourceId,
    oldValues: sealed.oldValues,
    newValues: sealed.newValues,
    metadata: sealed.metadata,
    sensitivity: record.sensitivity,
    complianceRelevant: record.complianceRelevant,
    previousHash: position.previousHash,
  };
}

/**
 * Appends records to the audit log inside the caller's transaction, so that the change and
 * its audit entries commit or fail together. The log head's row lock is held until that
 * transaction ends: concurrent writers, in this process or others, queue on it and each gets
 * the next gap-free sequence numbers and the hash of the entry before. Time never runs
 * backwards along the chain, even when server clocks disagree.
 */
export async function appendAuditRecords(
  tx: Queryable,
  records: AuditRecord[],
  logId = MAIN_LOG,
): Promise<void> {
  if (records.length === 0) return;
  const sealed: SealedPersonalFields[] = [];
  for (const record of records) sealed.push(await sealPersonalFields(tx, record));

  const head = await lockHead(tx, logId);
  const frontier = MerkleFrontier.fromState(
    head.nextSeq - 1,
    head.frontier.map((hex) => Buffer.from(hex, 'hex')),
  );
  const lastMs = head.lastTimestamp ? Date.parse(head.lastTimestamp) : 0;
  const timestamp = storedTimestamp(Math.max(Date.now(), lastMs));

  const params: unknown[] = [];
  const rows: string[] = [];
  let previousHash = head.lastHash;
  for (const [index, record] of records.entries()) {
    // Large batches give the event loop a turn now and then, so requests are not held up.
    if (index > 0 && index % YIELD_EVERY === 0)
      await new Promise((resolve) => setImmediate(resolve));
    const seq = head.nextSeq + index;
    const fields = toFields(record, sealed[index] as SealedPersonalFields, {
      logId,
      seq,
      timestamp,
      previousHash,
    });
    const digests = digestEntry(fields);
    frontier.append(digests.leafHash);
    const json = (value: unknown) => (value === null ? null : JSON.stringify(value));
    const values = [
      logId,
      seq,
      timestamp,
      fields.actorType,
      fields.actorId,
      fields.actorEmail,
      fields.actorIp,
      fields.actorUserAgent,
      fields.orgId,
      fields.projectId,
      fields.requestId,
      fields.sessionId,
      fields.action,
      fields.resourceType,
      fields.resourceId,
      json(fields.oldValues),
      json(fields.newValues),
      json(fields.metadata),
      fields.sensitivity,
      fields.complianceRelevant,
      previousHash,
      digests.entryHash,
      Buffer.from(digests.leafHash),
    ];
    rows.push(`(${values.map((value) => `$${params.push(value)}`).join(', ')})`);
    previousHash = digests.entryHash;
  }

  await tx.query(
    `INSERT INTO audit_logs (${AUDIT_COLUMNS.join(', ')}) VALUES ${rows.join(', ')}`,
    params,
  );
  await tx.query(
    `UPDATE audit_log_heads SET next_seq = $2, last_hash = $3, last_timestamp = $4, frontier = $5
      WHERE log_id = $1`,
    [
      logId,
      head.nextSeq + records.length,
      previousHash,
      timestamp,
      frontier.nodes.map((node) => Buffer.from(node).toString('hex')),
    ],
  );
  auditAppended(logId, head.nextSeq + records.length - 1);
}
