import type { ChangeRequest } from './change-request.repository.js';

export function changeRequestView(request: ChangeRequest) {
  return {
    id: request.id,
    resourceType: request.resourceType,
    resourceId: request.resourceId,
    changes: request.changes,
    loosening: request.loosening,
    status: request.status,
    requestedBy: request.requestedBy,
    decidedBy: request.decidedBy,
    decidedAt: request.decidedAt?.toISOString() ?? null,
    decisionNote: request.decisionNote,
    createdAt: request.createdAt.toISOString(),
  };
}

/** The body of a change that waits for approval instead of applying (HTTP 202). */
export function pendingApprovalView(request: ChangeRequest) {
  return {
    status: 'pending_approval' as const,
    message:
      'This change loosens policy and the organization uses four-eyes approval: another ' +
      'admin must approve the change request before it applies',
    changeRequest: changeRequestView(request),
  };
}
