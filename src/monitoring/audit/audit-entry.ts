import type { Actor, RequestContext } from '../../http/request-context.js';

export type Sensitivity = 'normal' | 'sensitive' | 'critical';

/** What happened, to which resource, as recorded in one audit entry. */
export interface AuditEvent {
  action: string;
  orgId?: string | null;
  projectId?: string | null;
  resourceType?: string | null;
  resourceId?: string | null;
  oldValues?: Record<string, unknown> | null;
  newValues?: Record<string, unknown> | null;
  metadata?: Record<string, unknown> | null;
  sensitivity?: Sensitivity;
  complianceRelevant?: boolean;
}

/** A complete audit entry before it is stored, with one field per `audit_logs` column. */
export interface AuditRecord {
  actorType: Actor['type'];
  actorId: string | null;
  actorEmail: string | null;
  actorIp: string | null;
  actorUserAgent: string | null;
  orgId: string | null;
  projectId: string | null;
  requestId: string | null;
  sessionId: string | null;
  action: string;
  resourceType: string | null;
  resourceId: string | null;
  oldValues: Record<string, unknown> | null;
  newValues: Record<string, unknown> | null;
  metadata: Record<string, unknown> | null;
  sensitivity: Sensitivity;
  complianceRelevant: boolean;
}

/** Combines the actor, the request context and the event into one audit record. */
export function buildAuditRecord(
  actor: Actor,
  context: RequestContext,
  event: AuditEvent,
): AuditRecord {
  return {
    actorType: actor.type,
    actorId: actor.id,
    actorEmail: actor.type === 'user' ? actor.email : null,
    actorIp: context.ip,
    actorUserAgent: context.userAgent,
    orgId: event.orgId ?? (actor.type === 'api_key' ? actor.orgId : null),
    projectId: event.projectId ?? (actor.type === 'api_key' ? actor.projectId : null),
    requestId: context.requestId,
    sessionId: actor.type === 'user' ? actor.sessionId : null,
    action: event.action,
    resourceType: event.resourceType ?? null,
    resourceId: event.resourceId ?? null,
    oldValues: event.oldValues ?? null,
    newValues: event.newValues ?? null,
    metadata: event.metadata ?? null,
    sensitivity: event.sensitivity ?? 'normal',
    complianceRelevant: event.complianceRelevant ?? false,
  };
}
