import type { Queryable } from '../../data/database/database.js';
import type { ToolCall } from './tool-call.js';

export type ApprovalStatus = 'pending' | 'approved' | 'denied';

/** A tool call held for approval, and the decision on it once made. */
export interface ToolCallApproval {
  id: string;
  orgId: string;
  projectId: string;
  apiKeyId: string;
  provider: 'anthropic' | 'openai';
  toolCallId: string;
  toolName: string;
  argumentsDigest: string;
  status: ApprovalStatus;
  requestId: string | null;
  requestedAt: Date;
  decidedAt: Date | null;
  decidedBy: string | null;
  decisionReason: string | null;
}

const COLUMNS = `id, org_id AS "orgId", project_id AS "projectId", api_key_id AS "apiKeyId",
  provider, tool_call_id AS "toolCallId", tool_name AS "toolName",
  arguments_digest AS "argumentsDigest", status, request_id AS "requestId",
  requested_at AS "requestedAt", decided_at AS "decidedAt", decided_by AS "decidedBy",
  decision_reason AS "decisionReason"`;

export interface PendingCalls {
  orgId: string;
  projectId: string;
  apiKeyId: string;
  provider: 'anthropic' | 'openai';
  requestId: string;
  calls: ToolCall[];
}

/** Records calls as pending; a call id already recorded for the project keeps its row. */
export async function insertPendingCalls(db: Queryable, pending: PendingCalls): Promise<void> {
  if (pending.calls.length === 0) return;
  await db.query(
    `INSERT INTO tool_call_approvals
       (org_id, project_id, api_key_id, provider, request_id, tool_call_id, tool_name,
        arguments_digest)
     SELECT $1, $2, $3, $4, $5, call.id, call.name, call.digest
       FROM unnest($6::text[], $7::text[], $8::text[]) AS call (id, name, digest)
     ON CONFLICT (project_id, tool_call_id) DO NOTHING`,
    [
      pending.orgId,
      pending.projectId,
      pending.apiKeyId,
      pending.provider,
      pending.requestId,
      pending.calls.map((call) => call.id),
      pending.calls.map((call) => call.name),
      pending.calls.map((call) => call.argumentsDigest),
    ],
  );
}

/** Returns the recorded calls of a project among `toolCallIds`. */
export async function findCalls(
  db: Queryable,
  orgId: string,
  projectId: string,
  toolCallIds: string[],
): Promise<ToolCallApproval[]> {
  const result = await db.query<ToolCallApproval>(
    `SELECT ${COLUMNS} FROM tool_call_approvals
      WHERE org_id = $1 AND project_id = $2 AND tool_call_id = ANY($3::text[])`,
    [orgId, projectId, toolCallIds],
  );
  return result.rows;
}

export interface ApprovalPage {
  orgId: string;
  projectId: string;
  status: ApprovalStatus | undefined;
  limit: number;
  /** Only rows requested before this time, for the next page. */
  before: Date | undefined;
}

/** Lists a project's recorded calls, newest first. */
export async function listCalls(db: Queryable, page: ApprovalPage): Promise<ToolCallApproval[]> {
  const result = await db.query<ToolCallApproval>(
    `SELECT ${COLUMNS} FROM tool_call_approvals
      WHERE org_id = $1 AND project_id = $2
        AND ($3::text IS NULL OR status = $3)
        AND ($4::timestamptz IS NULL OR requested_at < $4)
      ORDER BY requested_at DESC, id DESC
      LIMIT $5`,
    [page.orgId, page.projectId, page.status ?? null, page.before ?? null, page.limit],
  );
  return result.rows;
}

export interface Decision {
  orgId: string;
  projectId: string;
  id: string;
  status: 'approved' | 'denied';
  decidedBy: string;
  reason: string | null;
}

/**
 * Decides a pending call. Returns the updated row, or null when no pending call has that id
 * (unknown, another project's, or already decided: a decision is final).
 */
export async function decideCall(
  db: Queryable,
  decision: Decision,
): Promise<ToolCallApproval | null> {
  const result = await db.query<ToolCallApproval>(
    `UPDATE tool_call_approvals
        SET status = $4, decided_at = now(), decided_by = $5, decision_reason = $6
      WHERE org_id = $1 AND project_id = $2 AND id = $3 AND status = 'pending'
      RETURNING ${COLUMNS}`,
    [
      decision.orgId,
      decision.projectId,
      decision.id,
      decision.status,
      decision.decidedBy,
      decision.reason,
    ],
  );
  return result.rows[0] ?? null;
}

/** Finds one call by its row id, within the project. */
export async function findCall(
  db: Queryable,
  orgId: string,
  projectId: string,
  id: string,
): Promise<ToolCallApproval | null> {
  const result = await db.query<ToolCallApproval>(
    `SELECT ${COLUMNS} FROM tool_call_approvals
      WHERE org_id = $1 AND project_id = $2 AND id = $3`,
    [orgId, projectId, id],
  );
  return result.rows[0] ?? null;
}
