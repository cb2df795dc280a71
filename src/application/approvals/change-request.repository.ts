import type { Queryable } from '../../data/database/database.js';

export type ChangeResource = 'project' | 'organization';
export type ChangeStatus = 'pending' | 'applied' | 'rejected' | 'stale';

/** A change that loosens policy, waiting for (or decided by) a second admin. */
export interface ChangeRequest {
  id: string;
  orgId: string;
  resourceType: ChangeResource;
  resourceId: string;
  changes: Record<string, unknown>;
  loosening: string[];
  status: ChangeStatus;
  requestedBy: string;
  decidedBy: string | null;
  decidedAt: Date | null;
  decisionNote: string | null;
  createdAt: Date;
}

const COLUMNS = `id, org_id AS "orgId", resource_type AS "resourceType",
  resource_id AS "resourceId", changes, loosening, status, requested_by AS "requestedBy",
  decided_by AS "decidedBy", decided_at AS "decidedAt", decision_note AS "decisionNote",
  created_at AS "createdAt"`;

const RESOURCE_TABLES: Readonly<Record<ChangeResource, string>> = {
  project: 'projects',
  organization: 'organizations',
};

// Every function runs inside `inTenant`, and still names the organization in its query.

/**
 * Records a change request whose base is the resource's current `updated_at`, read in SQL so
 * that its microseconds survive for the comparison at approval. The caller has locked the
 * resource row in the same transaction.
 */
export async function insertChangeRequest(
  tx: Queryable,
  request: {
    orgId: string;
    resourceType: ChangeResource;
    resourceId: string;
    changes: Record<string, unknown>;
    loosening: string[];
    requestedBy: string;
  },
): Promise<ChangeRequest> {
  const table = RESOURCE_TABLES[request.resourceType];
  const orgColumn = request.resourceType === 'project' ? 'org_id' : 'id';
  const result = await tx.query<ChangeRequest>(
    `INSERT INTO change_requests
       (org_id, resource_type, resource_id, base_updated_at, changes, loosening, status,
        requested_by)
     SELECT $1, $2, $3, r.updated_at, $4, $5, 'pending', $6
       FROM ${table} r WHERE r.id = $3 AND r.${orgColumn} = $1
     RETURNING ${COLUMNS}`,
    [
      request.orgId,
      request.resourceType,
      request.resourceId,
      JSON.stringify(request.changes),
      request.loosening,
      request.requestedBy,
    ],
  );
  const inserted = result.rows[0];
  if (!inserted) throw new Error(`${request.resourceType} ${request.resourceId} vanished`);
  return inserted;
}

/**
 * Locks a change request and its resource row, and tells whether the resource is unchanged
 * since the request was made. Returns null when the request does not exist.
 */
export async function lockChangeRequest(
  tx: Queryable,
  orgId: string,
  id: string,
): Promise<{ request: ChangeRequest; unchanged: boolean } | null> {
  const found = await tx.query<ChangeRequest>(
    `SELECT ${COLUMNS} FROM change_requests WHERE org_id = $1 AND id = $2 FOR UPDATE`,
    [orgId, id],
  );
  const request = found.rows[0];
  if (!request) return null;
  const table = RESOURCE_TABLES[request.resourceType];
  const orgColumn = request.resourceType === 'project' ? 'org_id' : 'id';
  const resource = await tx.query<{ unchanged: boolean }>(
    `SELECT (r.updated_at = c.base_updated_at) AS unchanged
       FROM ${table} r JOIN change_requests c ON c.id = $2 AND c.org_id = $1
      WHERE r.id = c.resource_id AND r.${orgColumn} = $1
      FOR UPDATE OF r`,
    [orgId, id],
  );
  return { request, unchanged: resource.rows[0]?.unchanged === true };
}

/** Change requests of the organization, newest first, optionally of one status. */
export async function listChangeRequests(
  tx: Queryable,
  orgId: string,
  status: ChangeStatus | null,
): Promise<ChangeRequest[]> {
  const result = await tx.query<ChangeRequest>(
    `SELECT ${COLUMNS} FROM change_requests
      WHERE org_id = $1 AND ($2::text IS NULL OR status = $2)
      ORDER BY created_at DESC LIMIT 500`,
    [orgId, status],
  );
  return result.rows;
}

/** Moves a pending request to its final status. */
export async function closeChangeRequest(
  tx: Queryable,
  change: {
    orgId: string;
    id: string;
    status: Exclude<ChangeStatus, 'pending'>;
    decidedBy: string;
    note: string | null;
  },
): Promise<ChangeRequest> {
  const result = await tx.query<ChangeRequest>(
    `UPDATE change_requests
        SET status = $3, decided_by = $4, decided_at = now(), decision_note = $5
      WHERE org_id = $1 AND id = $2 AND status = 'pending'
      RETURNING ${COLUMNS}`,
    [change.orgId, change.id, change.status, change.decidedBy, change.note],
  );
  return result.rows[0] as ChangeRequest;
}
