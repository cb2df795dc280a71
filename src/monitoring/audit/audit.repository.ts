import type { Queryable } from '../../data/database/database.js';
import type { AuditRecord } from './audit-entry.js';

const COLUMNS = [
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
] as const;

function values(record: AuditRecord): unknown[] {
  const json = (value: Record<string, unknown> | null) =>
    value === null ? null : JSON.stringify(value);
  return [
    record.actorType,
    record.actorId,
    record.actorEmail,
    record.actorIp,
    record.actorUserAgent,
    record.orgId,
    record.projectId,
    record.requestId,
    record.sessionId,
    record.action,
    record.resourceType,
    record.resourceId,
    json(record.oldValues),
    json(record.newValues),
    json(record.metadata),
    record.sensitivity,
    record.complianceRelevant,
  ];
}

/**
 * Appends audit records with one multi-row INSERT. Call it with the transaction of the
 * change being recorded, so that the change and its audit entry commit or fail together.
 */
export async function appendAuditRecords(tx: Queryable, records: AuditRecord[]): Promise<void> {
  if (records.length === 0) return;
  const params: unknown[] = [];
  const rows = records.map((record) => {
    const placeholders = values(record).map((value) => {
      params.push(value);
      return `$${params.length}`;
    });
    return `(${placeholders.join(', ')})`;
  });
  await tx.query(
    `INSERT INTO audit_logs (${COLUMNS.join(', ')}) VALUES ${rows.join(', ')}`,
    params,
  );
}
