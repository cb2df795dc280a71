import type { Queryable } from '../../data/database/database.js';
import { STORED_ENTRY_COLUMNS } from './audit-entry.reader.js';
import type { StoredAuditEntry } from './chain-verifier.js';

/** Filters of an audit search inside one organization. */
export interface AuditFilter {
  orgId: string;
  from?: Date;
  to?: Date;
  actorId?: string;
  action?: string;
  resourceType?: string;
  resourceId?: string;
  projectId?: string;
  /** Only entries with a lower seq: the cursor of the previous page. */
  beforeSeq?: number;
  /** Only entries with a higher seq, for exports in log order. */
  afterSeq?: number;
}

/** Builds the WHERE clause for `filter`, every value a bound parameter. */
function whereClause(filter: AuditFilter): { sql: string; params: unknown[] } {
  const params: unknown[] = [filter.orgId];
  const conditions = ['org_id = $1'];
  const add = (sql: string, value: unknown) => {
    params.push(value);
    conditions.push(sql.replace('?', `$${params.length}`));
  };
  if (filter.from) add('timestamp >= ?', filter.from);
  if (filter.to) add('timestamp < ?', filter.to);
  if (filter.actorId) add('actor_id = ?', filter.actorId);
  if (filter.action) add('action = ?', filter.action);
  if (filter.resourceType) add('resource_type = ?', filter.resourceType);
  if (filter.resourceId) add('resource_id = ?', filter.resourceId);
  if (filter.projectId) add('project_id = ?', filter.projectId);
  if (filter.beforeSeq !== undefined) add('seq < ?', filter.beforeSeq);
  if (filter.afterSeq !== undefined) add('seq > ?', filter.afterSeq);
  return { sql: conditions.join(' AND '), params };
}

/** Newest entries first, at most `limit`. */
export async function searchAuditEntries(
  db: Queryable,
  filter: AuditFilter,
  limit: number,
  order: 'newest' | 'oldest' = 'newest',
): Promise<StoredAuditEntry[]> {
  const where = whereClause(filter);
  const direction = order === 'newest' ? 'DESC' : 'ASC';
  const { rows } = await db.query<StoredAuditEntry>(
    `SELECT ${STORED_ENTRY_COLUMNS} FROM audit_logs WHERE ${where.sql}
      ORDER BY audit_logs.seq ${direction} LIMIT ${Math.trunc(limit)}`,
    where.params,
  );
  return rows;
}
