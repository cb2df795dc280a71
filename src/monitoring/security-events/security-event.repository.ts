import type { Queryable } from '../../data/database/database.js';
import type { SecurityEvent, SecurityEventKind, SecurityEventSeverity } from './security-event.js';

/** An event ready to insert: every text field is already masked and within its column's limit. */
export interface SecurityEventRow {
  occurredAt: Date;
  kind: SecurityEventKind;
  severity: SecurityEventSeverity;
  source: string;
  clientIp: string | null;
  ruleIds: string[];
  location: string | null;
  sample: string | null;
  requestId: string | null;
  orgId: string | null;
  details: Record<string, unknown>;
}

/**
 * Inserts `rows` with one statement. The rows travel as one JSON parameter, so a batch of any
 * size stays within PostgreSQL's parameter limit.
 */
export async function insertSecurityEvents(db: Queryable, rows: SecurityEventRow[]): Promise<void> {
  if (rows.length === 0) return;
  const records = rows.map((row) => ({
    occurred_at: row.occurredAt.toISOString(),
    kind: row.kind,
    severity: row.severity,
    source: row.source,
    client_ip: row.clientIp,
    rule_ids: row.ruleIds,
    location: row.location,
    sample: row.sample,
    request_id: row.requestId,
    org_id: row.orgId,
    details: row.details,
  }));
  await db.query(
    `INSERT INTO security_events
       (occurred_at, kind, severity, source, client_ip, rule_ids, location, sample, request_id,
        org_id, details)
     SELECT occurred_at, kind, severity, source, client_ip, rule_ids, location, sample, request_id,
            org_id, details
       FROM jsonb_to_recordset($1::jsonb) AS x(
         occurred_at timestamptz, kind text, severity text, source text, client_ip inet,
         rule_ids text[], location text, sample text, request_id text, org_id uuid, details jsonb)`,
    [JSON.stringify(records)],
  );
}

/** Scope of a search: one organization, and whether events of no organization are included. */
export interface EventScope {
  orgId: string;
  /** Also return events that belong to no organization (perimeter blocks, unknown users). */
  includeUnscoped: boolean;
}

/** Search filters; every one that is set must match. */
export interface SecurityEventFilter {
  scope: EventScope;
  since?: Date;
  until?: Date;
  kind?: SecurityEventKind;
  clientIp?: string;
  ruleId?: string;
  /** Only events recorded before the event with this id (the page cursor). */
  beforeId?: string;
}

const COLUMNS = `id::text AS id, occurred_at AS "occurredAt", kind, severity, source,
  host(client_ip) AS "clientIp", rule_ids AS "ruleIds", location, sample,
  request_id AS "requestId", org_id AS "orgId", details`;

/** Returns up to `limit` events matching `filter`, the most recently recorded first. */
export async function searchSecurityEvents(
  db: Queryable,
  filter: SecurityEventFilter,
  limit: number,
): Promise<SecurityEvent[]> {
  const params: unknown[] = [filter.scope.orgId];
  const where = [filter.scope.includeUnscoped ? '(org_id = $1 OR org_id IS NULL)' : 'org_id = $1'];
  const add = (clause: (placeholder: string) => string, value: unknown) => {
    params.push(value);
    where.push(clause(`$${params.length}`));
  };
  if (filter.since) add((p) => `occurred_at >= ${p}`, filter.since);
  if (filter.until) add((p) => `occurred_at < ${p}`, filter.until);
  if (filter.kind) add((p) => `kind = ${p}`, filter.kind);
  if (filter.clientIp) add((p) => `client_ip = ${p}::inet`, filter.clientIp);
  if (filter.ruleId) add((p) => `rule_ids @> ARRAY[${p}::text]`, filter.ruleId);
  if (filter.beforeId) add((p) => `id < ${p}::bigint`, filter.beforeId);
  params.push(limit);
  const { rows } = await db.query<SecurityEvent>(
    `SELECT ${COLUMNS} FROM security_events
      WHERE ${where.join(' AND ')}
      ORDER BY id DESC LIMIT $${params.length}`,
    params,
  );
  return rows;
}

/** Deletes events older than `keepDays` days (at least 1) and returns how many it deleted. */
export async function purgeSecurityEvents(db: Queryable, keepDays: number): Promise<number> {
  const { rows } = await db.query<{ removed: string | number }>(
    'SELECT security_events_purge($1) AS removed',
    [keepDays],
  );
  return Number(rows[0]?.removed ?? 0);
}
