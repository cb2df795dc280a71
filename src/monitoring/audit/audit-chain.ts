import {
  asStoredCiphertext,
  type AuditEntryFields,
  type StoredCiphertext,
} from './canonical-encoding.js';
import { digestEntry } from './entry-hash.js';
import { MerkleFrontier } from './merkle.js';
import type { AuditRecord } from './audit-entry.js';
import {
  sealPersonalFieldsWithKeys,
  storableText,
  type SealedPersonalFields,
} from './audit-record-sealing.js';

/** The `audit_logs` columns an append writes, in the order of each row of {@link ChainedBatch}. */
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

/** Returns lowercase hex of `bytes` through a Buffer view, without copying them. */
function hexOf(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** Entries hashed between two turns of the event loop. */
const YIELD_EVERY = 32;

/**
 * Records to append after the head of a log, read under the head's row lock, with everything
 * needed to seal and hash them without the database.
 */
export interface ChainBatch {
  logId: string;
  /** Sequence number of the first record. */
  nextSeq: number;
  /** Entry hash of the entry before the first record, or null for an empty log. */
  previousHash: string | null;
  /** Merkle frontier of the log so far, as hex node hashes. */
  frontier: string[];
  /** Stored timestamp of every record of the batch. */
  timestamp: string;
  records: AuditRecord[];
  /**
   * Sealing key per data subject (see `subjectOf` and `valuesSubjectOf`) of the records that
   * have personal values; null for a subject whose key was destroyed.
   */
  keys: Map<string, Uint8Array | null>;
}

/** The rows to insert and the new head of the log. */
export interface ChainedBatch {
  /**
   * The rows as one JSON array of objects keyed by {@link AUDIT_COLUMNS}, for
   * `json_populate_recordset`. The reply from the worker thread then clones one string, not 23
   * values per row, and the main thread passes it to the database as one parameter.
   */
  rowsJson: string;
  /** Entry hash of the last record. */
  lastHash: string | null;
  /** Merkle frontier after the last record, as hex node hashes. */
  frontier: string[];
}

function optionalText(value: string | null): string | null {
  return value === null ? null : storableText(value);
}

function sealedText(value: string | null): StoredCiphertext | null {
  return value === null ? null : asStoredCiphertext(value);
}

function toFields(
  record: AuditRecord,
  sealed: SealedPersonalFields,
  position: { logId: string; seq: number; timestamp: string; previousHash: string | null },
): AuditEntryFields {
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
    resourceType: optionalText(record.resourceType),
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
 * Seals, encodes and hashes a batch of records into the rows that continue the log's hash chain
 * and Merkle tree. The result depends only on the batch, so it is the same in a worker thread.
 *
 * @throws AuditEncodingError when a record breaks the stored format.
 */
export async function chainRecords(batch: ChainBatch): Promise<ChainedBatch> {
  const frontier = MerkleFrontier.fromState(
    batch.nextSeq - 1,
    batch.frontier.map((hex) => Buffer.from(hex, 'hex')),
  );
  const rows: Array<Record<(typeof AUDIT_COLUMNS)[number], unknown>> = [];
  let previousHash = batch.previousHash;
  for (let index = 0; index < batch.records.length; index += 1) {
    const record = batch.records[index] as AuditRecord;
    // Large batches give the event loop a turn now and then, so requests are not held up.
    if (index > 0 && index % YIELD_EVERY === 0) {
      await new Promise((resolve) => setImmediate(resolve));
    }
    const sealed = sealPersonalFieldsWithKeys(record, batch.keys);
    const seq = batch.nextSeq + index;
    const fields = toFields(record, sealed, {
      logId: batch.logId,
      seq,
      timestamp: batch.timestamp,
      previousHash,
    });
    const digests = digestEntry(fields);
    frontier.append(digests.leafHash);
    // The JSON values of old_values, new_values and metadata go in as they are, so the jsonb
    // columns store the same values as a parameter of JSON text would. Postgres reads a bytea
    // from JSON text in its hex form.
    rows.push({
      log_id: batch.logId,
      seq,
      timestamp: batch.timestamp,
      actor_type: fields.actorType,
      actor_id: fields.actorId,
      actor_email: fields.actorEmail,
      actor_ip: fields.actorIp,
      actor_user_agent: fields.actorUserAgent,
      org_id: fields.orgId,
      project_id: fields.projectId,
      request_id: fields.requestId,
      session_id: fields.sessionId,
      action: fields.action,
      resource_type: fields.resourceType,
      resource_id: fields.resourceId,
      old_values: fields.oldValues,
      new_values: fields.newValues,
      metadata: fields.metadata,
      sensitivity: fields.sensitivity,
      compliance_relevant: fields.complianceRelevant,
      previous_hash: previousHash,
      entry_hash: digests.entryHash,
      leaf_hash: `\\x${hexOf(digests.leafHash)}`,
    } satisfies Record<(typeof AUDIT_COLUMNS)[number], unknown>);
    previousHash = digests.entryHash;
  }
  return {
    rowsJson: JSON.stringify(rows),
    lastHash: previousHash,
    frontier: frontier.nodes.map(hexOf),
  };
}

/** Seals and hashes a batch, in this thread or in a worker thread. */
export type AuditChainer = (batch: ChainBatch) => Promise<ChainedBatch>;
